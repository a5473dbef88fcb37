/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `start`: containerd runs it in the bundle directory with combined
 * stdout+stderr captured; whatever it prints is the shim's address. So it
 * prints the address and nothing else on success, and only an error message
 * on failure; debug logs go to the bundle's `log` FIFO when containerd holds
 * it open.
 *
 * A task joins the shim of its pod (CRI container: sandbox-id annotation)
 * or gets a new one. The socket address is computed like containerd's own
 * shims, so the sandbox's `start` and its containers' agree without reading
 * each other's files. A new shim is this binary re-executed with no action
 * (serve) in a new session, stdio on /dev/null (containerd waits for EOF on
 * the captured pipe), the listening socket as fd 3 like containerd's shims,
 * and a readiness pipe: `start` returns only once the shim serves.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"
#include "common/log.h"
#include "ttrpc/wire.h"

#define START_STDIN_MAX (1u << 20)
#define OOM_SCORE_ADJ_MAX 1000

/* containerd writes the runtime options (an Any) on stdin; CreateTaskRequest
 * carries the same, so it is read to EOF and dropped. */
static void drain_stdin(void)
{
	char buf[4096];
	size_t total = 0;

	if (isatty(STDIN_FILENO))
		return;
	while (total < START_STDIN_MAX) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
}

static int mkdir_p(const char *dir, mode_t mode)
{
	_cleanup_free_ char *copy = strdup(dir);

	if (!copy)
		return -ENOMEM;
	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(copy, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int bind_socket(const char *address, int *ret_fd)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd, r;

	r = ttrpc_address_parse(address, &sa, &len);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (chmod(sa.sun_path, 0600) < 0 || listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		unlink(sa.sun_path);
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* The serve process's oom_score_adj: one more than containerd's (runc's
 * shim does the same), so the OOM killer picks the shim before containerd. */
static void adjust_oom_score(pid_t child)
{
	char path[64], buf[32];
	int fd, n, score;

	fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	score = MIN(atoi(buf) + 1, OOM_SCORE_ADJ_MAX);
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", child);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%d", score);
	if (write(fd, buf, n) < 0)
		log_debug_errno(-errno, "setting the shim's oom_score_adj");
	close(fd);
}

static _noreturn_ void exec_serve(const struct shim_flags *f, const char *address, int sock,
				  int ready)
{
	char ready_env[16];
	const char *argv[16];
	int n = 0, devnull;

	setsid();
	devnull = open("/dev/null", O_RDWR);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(devnull, 2) < 0)
		_exit(127);
	/* fd 3: the listener (containerd's convention), fd 4: readiness.
	 * Through copies above both: dup2 onto itself would keep CLOEXEC,
	 * and one target may be the other's current number. */
	sock = fcntl(sock, F_DUPFD, 10);
	ready = fcntl(ready, F_DUPFD, 10);
	if (sock < 0 || ready < 0 || dup2(sock, 3) < 0 || dup2(ready, 4) < 0)
		_exit(127);
	syscall(SYS_close_range, 5, ~0U, 0);
	snprintf(ready_env, sizeof(ready_env), "%d", 4);
	setenv(SHIM_READY_FD_ENV, ready_env, 1);
	signal(SIGPIPE, SIG_DFL);

	argv[n++] = f->argv0;
	argv[n++] = "-namespace";
	argv[n++] = f->ns;
	argv[n++] = "-id";
	argv[n++] = f->id;
	argv[n++] = "-address";
	argv[n++] = f->address ? f->address : "";
	argv[n++] = "-publish-binary";
	argv[n++] = f->publish_binary;
	if (f->debug)
		argv[n++] = "-debug";
	argv[n] = NULL;
	(void)address;
	execv("/proc/self/exe", (char **)argv);
	_exit(127);
}

/* Waits for the serve process's byte on the readiness pipe. */
static int wait_ready(pid_t child, int ready_r, struct error *err)
{
	struct pollfd pfd = { .fd = ready_r, .events = POLLIN };
	char c;
	int n, status;

	n = poll(&pfd, 1, SHIM_START_TIMEOUT_MS);
	if (n == 0) {
		kill(child, SIGKILL);
		return error_set(err, -ETIMEDOUT, "the shim did not start within %d ms",
				 SHIM_START_TIMEOUT_MS);
	}
	n = read(ready_r, &c, 1);
	if (n == 1)
		return 0;
	/* EOF: it exited (or closed the pipe) before serving. */
	if (waitpid(child, &status, 0) == child)
		return error_set(err, -EIO,
				 "the shim exited before serving (%s %d); see the bundle's log",
				 WIFEXITED(status) ? "status" : "signal",
				 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return error_set(err, -EIO, "the shim exited before serving");
}

static int do_start(const struct shim_flags *f, struct error *err)
{
	_cleanup_free_ char *bundle = NULL, *group = NULL, *address = NULL, *dir = NULL;
	_cleanup_close_ int sock = -1;
	int ready[2], r;
	bool joins;
	pid_t child;

	if (!f->id)
		return error_set(err, -EINVAL, "start: -id is required");
	r = shim_getcwd(&bundle);
	if (r < 0)
		return error_set(err, r, "getcwd: %s", strerror(-r));
	drain_stdin();
	r = shim_bundle_group(bundle, f->id, &group, &joins, err);
	if (r < 0)
		return r;
	r = shim_socket_address(f->address ? f->address : "", f->ns, group, &address, err);
	if (r < 0)
		return r;
	log_debug("start %s: pod %s, shim address %s", f->id, group, address);

	dir = strdup(address + strlen("unix://"));
	if (!dir)
		return error_set(err, -ENOMEM, "out of memory");
	/* 0700, not containerd's 0600: a directory needs x to reach the
	 * socket for a non-root owner; for root they are the same. */
	r = mkdir_p(dirname(dir), 0700);
	if (r < 0)
		return error_set(err, r, "creating the socket directory of %s: %s", address,
				 strerror(-r));

	r = bind_socket(address, &sock);
	if (r == -EADDRINUSE) {
		if (shim_address_alive(address)) {
			/* The pod's shim already serves: join it. */
			r = shim_write_address(bundle, address, err);
			if (r < 0)
				return r;
			printf("%s", address);
			return 0;
		}
		if (joins)
			return error_set(err, -ENOENT,
					 "no shim serves pod %s at %s (stale socket)", group,
					 address);
		log_debug("removing the stale socket %s", address);
		unlink(address + strlen("unix://"));
		r = bind_socket(address, &sock);
	}
	if (r < 0)
		return error_set(err, r, "listening on %s: %s", address, strerror(-r));
	if (joins) {
		/* A pod container cannot run without its pod's VM. */
		unlink(address + strlen("unix://"));
		return error_set(err, -ENOENT, "no shim serves pod %s (its sandbox must start first)",
				 group);
	}

	if (pipe2(ready, O_CLOEXEC) < 0) {
		r = -errno;
		unlink(address + strlen("unix://"));
		return error_set(err, r, "pipe: %s", strerror(-r));
	}
	fflush(NULL);
	child = fork();
	if (child < 0) {
		r = -errno;
		close(ready[0]);
		close(ready[1]);
		unlink(address + strlen("unix://"));
		return error_set(err, r, "fork: %s", strerror(-r));
	}
	if (child == 0)
		exec_serve(f, address, sock, ready[1]);
	close(ready[1]);
	r = wait_ready(child, ready[0], err);
	close(ready[0]);
	if (r < 0) {
		unlink(address + strlen("unix://"));
		return r;
	}
	adjust_oom_score(child);
	r = shim_write_address(bundle, address, err);
	if (r < 0) {
		kill(child, SIGKILL);
		unlink(address + strlen("unix://"));
		return r;
	}
	log_debug("start %s: shim pid %d serves %s", f->id, child, address);
	printf("%s", address);
	return 0;
}

int cmd_start(const struct shim_flags *f, const struct shim_runtime_ops *ops)
{
	struct error err = {};
	int log_fd = -1;

	/* stderr is part of what containerd reads as the address. */
	log_set_level(LOG_LEVEL_ERROR);
	if (f->debug) {
		_cleanup_free_ char *cwd = NULL;

		if (shim_getcwd(&cwd) >= 0)
			log_fd = shim_open_log_fifo(cwd);
		if (log_fd >= 0) {
			char path[64];

			snprintf(path, sizeof(path), "/proc/self/fd/%d", log_fd);
			if (log_set_file(path) >= 0)
				log_set_level(LOG_LEVEL_DEBUG);
		}
	}
	if (do_start(f, &err) < 0) {
		log_debug("start %s: %s", f->id ? f->id : "", err.msg);
		fprintf(stderr, "%s", err.msg);
		return 1;
	}
	fflush(stdout);
	return 0;
}
