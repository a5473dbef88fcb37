/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reaping. As PID 1 the agent inherits every orphan in the guest, and the
 * exit status of a container's process is only known once it is reaped. So
 * one place reaps every child, with waitpid(-1), and hands each (pid, status)
 * to the agent, which matches its container processes and drops the rest.
 * Nothing else in the agent may wait for a child: it would steal statuses.
 * SIGCHLD arrives through a signalfd so the event loop polls it with the rest.
 */
#include "init-internal.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"

int agent_init_reaper_fd(void)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t mask;
	int r, fd;

	/* SIG_IGN for SIGCHLD would make the kernel reap children itself: no statuses. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGCHLD, &sa, NULL) < 0)
		return -errno;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	r = pthread_sigmask(SIG_BLOCK, &mask, NULL);
	if (r)
		return -r;
	/* PID 1 inherits orphans anyway; elsewhere (tests, a host) ask for them. */
	if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return -errno;
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fd;
}

int agent_init_reap(int fd, agent_init_reap_fn cb, void *userdata)
{
	struct signalfd_siginfo si[8];
	int reaped = 0;

	/* SIGCHLDs coalesce: the signalfd only says "some child changed", never how many. */
	while (fd >= 0) {
		ssize_t n = read(fd, si, sizeof(si));

		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		break;
	}
	for (;;) {
		int status = 0;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0) {
			reaped++;
			log_debug("reaped %d (status %#x)", (int)pid, status);
			if (cb)
				cb(pid, status, userdata);
			continue;
		}
		if (pid == 0 || errno == ECHILD)
			break;
		if (errno != EINTR)
			return -errno;
	}
	return reaped;
}
