/* SPDX-License-Identifier: Apache-2.0 */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sched.h> /* struct clone_args, CLONE_PIDFD */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "util.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

void child_init(struct sandbox_child *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->pidfd = -1;
}

/*
 * In the child, between clone and exec: only async-signal-safe calls (the
 * parent has other threads, whose locks were copied mid-use). On failure
 * the errno goes up the error pipe.
 */
_noreturn_ static void child_exec(char *const argv[], int null_fd, int log_fd, int err_fd)
{
	sigset_t none;
	int e;

	/* A process group of its own: signals for the shim's group (a
	 * terminal's ^C in a debug session) do not reach it. */
	if (setpgid(0, 0) < 0)
		goto fail;
	/* Ignored or blocked signals survive exec; start clean. */
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa = { .sa_handler = SIG_DFL };

		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
	}
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		goto fail;
	if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
	    dup2(log_fd, STDERR_FILENO) < 0)
		goto fail;
	/* Nothing of the shim's leaks in, whether or not it was O_CLOEXEC. */
	(void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	execve(argv[0], argv, environ);
fail:
	e = errno;
	(void)!write(err_fd, &e, sizeof(e));
	_exit(127);
}

static pid_t clone_pidfd(int *ret_pidfd)
{
	struct clone_args args = {
		.flags = CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)ret_pidfd,
		.exit_signal = SIGCHLD,
	};

	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

int child_spawn(struct sandbox_child *c, char *const argv[], const char *log_path,
		const char *pidfile, struct error *err)
{
	int null_fd = -1, log_fd = -1, pipefd[2] = { -1, -1 }, pidfd = -1, e = 0, r;
	pid_t pid;
	ssize_t n;

	if (!argv[0] || argv[0][0] != '/')
		return error_set(err, -EINVAL, "%s: not an absolute path: %s", c->name,
				 argv[0] ? argv[0] : "(none)");
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0) {
		r = error_set(err, -errno, "/dev/null: %s", strerror(errno));
		goto out;
	}
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
	if (log_fd < 0) {
		r = error_set(err, -errno, "%s: %s", log_path, strerror(errno));
		goto out;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		r = error_set(err, -errno, "pipe: %s", strerror(errno));
		goto out;
	}

	pid = clone_pidfd(&pidfd);
	if (pid < 0 && (errno == ENOSYS || errno == EPERM)) {
		/* clone3 filtered (an old seccomp profile): fork, then a pidfd.
		 * Nobody else reaps our children before we open it, unless the
		 * program's SIGCHLD handler reaps everything, which it must not. */
		pid = fork();
		if (pid > 0) {
			pidfd = pidfd_open(pid, 0);
			if (pidfd < 0) {
				e = errno;
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
				r = error_set(err, -e, "pidfd_open: %s", strerror(e));
				goto out;
			}
		}
	}
	if (pid < 0) {
		r = error_set(err, -errno, "starting %s: %s", c->name, strerror(errno));
		goto out;
	}
	if (pid == 0)
		child_exec(argv, null_fd, log_fd, pipefd[1]);

	close(pipefd[1]);
	pipefd[1] = -1;
	/* EOF: the exec happened (the pipe was O_CLOEXEC). */
	do
		n = read(pipefd[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n == sizeof(e)) {
		siginfo_t si;

		(void)waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
		close(pidfd);
		r = error_set(err, -e, "cannot run %s (%s): %s", c->name, argv[0], strerror(e));
		goto out;
	}
	c->pid = pid;
	c->pidfd = pidfd;
	c->exited = false;
	c->code = 0;
	c->status = 0;
	log_debug("sandbox: started %s, pid %d", c->name, (int)pid);
	if (pidfile) {
		c->pidfile = strdup(pidfile);
		r = c->pidfile ? pidfile_write(pidfile, pid) : -ENOMEM;
		if (r < 0) {
			error_set(err, r, "%s: %s", pidfile, strerror(-r));
			child_stop(c, 0);
			goto out;
		}
	}
	r = 0;
out:
	if (null_fd >= 0)
		close(null_fd);
	if (log_fd >= 0)
		close(log_fd);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return r;
}

/* Reap without blocking; the process is known (or assumed) to be dead. */
static void child_reap(struct sandbox_child *c)
{
	siginfo_t si = { 0 };

	if (waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid != 0) {
		c->code = si.si_code;
		c->status = si.si_status;
	}
	/* ECHILD: someone else reaped it; the status is lost, the death is not. */
	c->exited = true;
}

bool child_exited(struct sandbox_child *c)
{
	struct pollfd p = { .fd = c->pidfd, .events = POLLIN };

	if (c->pid == 0 || c->exited)
		return true;
	if (poll(&p, 1, 0) > 0) {
		child_reap(c);
		return true;
	}
	return false;
}

int child_wait(struct sandbox_child *c, int timeout_ms)
{
	int64_t deadline = monotonic_ms() + timeout_ms;

	if (c->pid == 0 || c->exited)
		return 0;
	for (;;) {
		struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
		int64_t left = deadline - monotonic_ms();
		int n;

		if (left < 0)
			left = 0;
		n = poll(&p, 1, (int)left);
		if (n > 0) {
			child_reap(c);
			return 0;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (left == 0 || n < 0)
			return -ETIMEDOUT;
	}
}

int child_signal(struct sandbox_child *c, int sig)
{
	if (c->pid == 0 || c->exited)
		return 0;
	if (pidfd_send_signal(c->pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
		return -errno;
	return 0;
}

void child_stop(struct sandbox_child *c, int grace_ms)
{
	char buf[64];

	if (c->pid != 0 && !child_exited(c)) {
		if (grace_ms > 0) {
			(void)!child_signal(c, SIGTERM);
			(void)!child_wait(c, grace_ms);
		}
		if (!child_exited(c)) {
			log_debug("sandbox: %s (pid %d) did not stop, killing it", c->name,
				  (int)c->pid);
			(void)!child_signal(c, SIGKILL);
			if (child_wait(c, CHILD_KILL_WAIT_MS) < 0)
				log_warn("sandbox: %s (pid %d) survived SIGKILL for %d ms", c->name,
					 (int)c->pid, CHILD_KILL_WAIT_MS);
		}
	}
	if (c->pid != 0)
		log_debug("sandbox: %s (pid %d) %s", c->name, (int)c->pid,
			  child_describe(c, buf, sizeof(buf)));
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
	if (c->pidfile)
		(void)unlink(c->pidfile);
	free(c->pidfile);
	c->pidfile = NULL;
	c->pid = 0;
}

const char *child_describe(const struct sandbox_child *c, char *buf, size_t size)
{
	if (c->pid == 0 && !c->exited)
		snprintf(buf, size, "not started");
	else if (!c->exited)
		snprintf(buf, size, "running");
	else if (c->code == CLD_EXITED)
		snprintf(buf, size, "exited with status %d", c->status);
	else if (c->code == CLD_KILLED || c->code == CLD_DUMPED)
		snprintf(buf, size, "killed by SIG%s", sigabbrev_np(c->status) ?
							     sigabbrev_np(c->status) : "?");
	else
		snprintf(buf, size, "exited");
	return buf;
}

/* ---- pid files ---- */

int proc_starttime(pid_t pid, uint64_t *ret)
{
	char path[64], buf[1024], *p;
	int fd, spaces = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EINVAL;
	buf[n] = '\0';
	/* "pid (comm) state ..." - comm may hold spaces and parentheses. */
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	/* After ") ", field 3 starts; field 22 is 19 spaces further. */
	for (p += 2; *p && spaces < 19; p++)
		if (*p == ' ')
			spaces++;
	if (spaces < 19 || !*p)
		return -EINVAL;
	*ret = strtoull(p, NULL, 10);
	return 0;
}

int pidfile_write(const char *path, pid_t pid)
{
	_cleanup_free_ char *tmp = strprintf("%s.tmp", path);
	uint64_t st = 0;
	char line[64];
	int fd, n, r;

	if (!tmp)
		return -ENOMEM;
	r = proc_starttime(pid, &st);
	if (r < 0)
		return r;
	n = snprintf(line, sizeof(line), "%d %" PRIu64 "\n", (int)pid, st);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, line, (size_t)n) != n) {
		r = -errno;
		close(fd);
		unlink(tmp);
		return r ? r : -EIO;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	return 0;
}

int pidfile_read(const char *path, pid_t *ret_pid, uint64_t *ret_starttime)
{
	char buf[64], *end;
	long pid;
	uint64_t st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno || end == buf || *end != ' ' || pid <= 1 || pid > INT32_MAX)
		return -EINVAL;
	st = strtoull(end + 1, &end, 10);
	if (errno || (*end != '\n' && *end != '\0'))
		return -EINVAL;
	*ret_pid = (pid_t)pid;
	*ret_starttime = st;
	return 0;
}

/* A pidfd for the process the file names, if it is still that process. */
static int pidfile_open(const char *path, pid_t *ret_pid)
{
	uint64_t want, now;
	pid_t pid;
	int fd, r;

	r = pidfile_read(path, &pid, &want);
	if (r < 0)
		return r;
	fd = pidfd_open(pid, 0);
	if (fd < 0)
		return -errno;
	/* Checked after the pidfd is held: the pid cannot be reused from here on. */
	if (proc_starttime(pid, &now) < 0 || now != want) {
		close(fd);
		return -ESRCH;
	}
	*ret_pid = pid;
	return fd;
}

bool pidfile_alive(const char *path)
{
	pid_t pid;
	int fd = pidfile_open(path, &pid);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static bool pidfd_gone(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) > 0;
}

int pidfile_kill(const char *path, int grace_ms)
{
	pid_t pid = 0;
	int fd = pidfile_open(path, &pid), r = 0;

	if (fd == -ENOENT || fd == -ESRCH || fd == -EINVAL) {
		(void)unlink(path);
		return 0;
	}
	if (fd < 0)
		return fd;
	if (grace_ms > 0 && pidfd_send_signal(fd, SIGTERM, NULL, 0) == 0 &&
	    pidfd_gone(fd, grace_ms))
		goto gone;
	if (pidfd_send_signal(fd, SIGKILL, NULL, 0) < 0 && errno != ESRCH) {
		r = -errno;
		goto out;
	}
	/* Not our child: it is gone when the pidfd says so (a zombie of a
	 * dead shim is reaped by its new parent). */
	if (!pidfd_gone(fd, CHILD_KILL_WAIT_MS)) {
		r = -ETIMEDOUT;
		goto out;
	}
gone:
	log_debug("sandbox: stopped leftover pid %d from %s", (int)pid, path);
	(void)unlink(path);
out:
	close(fd);
	return r;
}
