/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The debug console of debug images (rootfs/build-image.sh --debug, which
 * adds busybox and writes NACELLE_IMAGE_DEBUG=1 into /etc/nacelle-release):
 * a shell on vsock port AGENT_DEBUG_CONSOLE_PORT for each connection from
 * the host, e.g.
 *   socat - UNIX-CONNECT:/run/nacelle/<pod>/vsock.sock   then "CONNECT 1026"
 * Normal images have no shell, and the agent does not listen then.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "common/log.h"
#include "debug-console.h"

#define DEBUG_RELEASE_FILE "/etc/nacelle-release"
#define DEBUG_SHELL "/usr/bin/sh"

bool debug_console_wanted(void)
{
	char line[128];
	bool debug = false;
	FILE *f = fopen(DEBUG_RELEASE_FILE, "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strcmp(line, "NACELLE_IMAGE_DEBUG=1\n"))
			debug = true;
	fclose(f);
	return debug && access(DEBUG_SHELL, X_OK) == 0;
}

int debug_console_listen(void)
{
	struct sockaddr_vm svm = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = AGENT_DEBUG_CONSOLE_PORT,
	};
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&svm, sizeof(svm)) < 0 || listen(fd, 4) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* The shell is the agent's child; the agent's reaper collects it as it
 * collects any orphan. */
static void debug_console_spawn(int fd)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_warn("debug console: fork: %m");
		return;
	}
	if (pid == 0) {
		char *const argv[] = { (char *)"sh", (char *)"-i", NULL };
		char *const envp[] = { (char *)"PATH=/usr/bin:/bin:/usr/sbin:/sbin",
				       (char *)"HOME=/root", (char *)"TERM=dumb", NULL };
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		fcntl(0, F_SETFL, fcntl(0, F_GETFL) & ~O_NONBLOCK);
		execve(DEBUG_SHELL, argv, envp);
		_exit(127);
	}
	log_info("debug console: shell %d for the host", (int)pid);
}

void debug_console_accept(int lfd)
{
	for (;;) {
		struct sockaddr_vm svm;
		socklen_t len = sizeof(svm);
		int fd = accept4(lfd, (struct sockaddr *)&svm, &len, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_warn("debug console: accept: %m");
			return;
		}
		if (svm.svm_cid == VMADDR_CID_HOST)
			debug_console_spawn(fd);
		else
			log_warn("debug console: refused CID %u", svm.svm_cid);
		close(fd);
	}
}
