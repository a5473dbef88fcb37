/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helper processes: started with a log, a clean signal state, no leaked
 * fds and a process group of their own; exit statuses; SIGTERM then
 * SIGKILL; a program that cannot run; pid files and killing through them
 * only the process they name.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/test.h"
#include "child.h"
#include "util.h"

static char dir[] = "/tmp/nacelle-spawn-test.XXXXXX";
static char log_path[256], pid_path[256];

static char *slurp(const char *path)
{
	static char buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int spawn_sh(struct sandbox_child *c, const char *script, const char *pidfile)
{
	char *argv[] = { (char *)"/bin/sh", (char *)"-c", (char *)script, NULL };
	struct error err = { 0 };
	int r;

	child_init(c, "sh");
	r = child_spawn(c, argv, log_path, pidfile, &err);
	if (r < 0)
		fprintf(stderr, "spawn: %s\n", err.msg);
	return r;
}

static void test_run_and_exit(void)
{
	struct sandbox_child c;
	char buf[64];
	int leak = open("/dev/null", O_RDONLY); /* not O_CLOEXEC on purpose */

	unlink(log_path);
	CHECK_EQ(spawn_sh(&c, "echo hello; grep SigIgn /proc/self/status; grep SigBlk "
			      "/proc/self/status; ls /proc/self/fd | wc -l; exit 3",
			  NULL),
		 0);
	CHECK(c.pid > 0 && c.pidfd >= 0);
	CHECK_EQ(child_wait(&c, 5000), 0);
	CHECK(c.exited);
	CHECK_EQ(c.code, CLD_EXITED);
	CHECK_EQ(c.status, 3);
	CHECK(strcmp(child_describe(&c, buf, sizeof(buf)), "exited with status 3") == 0);
	{
		const char *out = slurp(log_path);

		CHECK(strstr(out, "hello\n") != NULL);
		/* SIGPIPE is ignored and signals blocked here; not in the child. */
		CHECK(strstr(out, "SigIgn:\t0000000000000000") != NULL);
		CHECK(strstr(out, "SigBlk:\t0000000000000000") != NULL);
		/* 0, 1, 2 and ls's own directory fd: nothing leaked. */
		CHECK(strstr(out, "\n4\n") != NULL);
	}
	child_stop(&c, 0);
	CHECK_EQ(c.pidfd, -1);
	close(leak);
}

static void test_stop(void)
{
	struct sandbox_child c;
	char buf[64];
	int64_t t0;

	/* SIGTERM is enough. */
	CHECK_EQ(spawn_sh(&c, "exec sleep 30", pid_path), 0);
	CHECK_EQ(getpgid(c.pid), c.pid);
	CHECK(!child_exited(&c));
	CHECK(access(pid_path, F_OK) == 0);
	CHECK(pidfile_alive(pid_path));
	{
		pid_t pid;
		uint64_t st, now;

		CHECK_EQ(pidfile_read(pid_path, &pid, &st), 0);
		CHECK_EQ(pid, c.pid);
		CHECK_EQ(proc_starttime(c.pid, &now), 0);
		CHECK_EQ(st, now);
	}
	child_stop(&c, 2000);
	CHECK(c.exited);
	CHECK(strcmp(child_describe(&c, buf, sizeof(buf)), "killed by SIGTERM") == 0);
	CHECK(access(pid_path, F_OK) != 0);
	CHECK(!pidfile_alive(pid_path));

	/* A process that ignores SIGTERM gets SIGKILL after the grace time. */
	CHECK_EQ(spawn_sh(&c, "trap '' TERM; exec sleep 30", NULL), 0);
	sleep_ms(100); /* let the trap be set */
	t0 = monotonic_ms();
	child_stop(&c, 300);
	CHECK(monotonic_ms() - t0 >= 290);
	CHECK(strcmp(child_describe(&c, buf, sizeof(buf)), "killed by SIGKILL") == 0);
	/* Stopping twice, or a child never started, is harmless. */
	child_stop(&c, 300);
	child_init(&c, "nothing");
	child_stop(&c, 300);
	CHECK(child_exited(&c));
	CHECK_EQ(child_signal(&c, SIGTERM), 0);
}

static void test_cannot_run(void)
{
	char *missing[] = { (char *)"/nonexistent/program", NULL };
	char *relative[] = { (char *)"sleep", (char *)"1", NULL };
	char *notexec[] = { log_path, NULL };
	struct sandbox_child c;
	struct error err = { 0 };

	child_init(&c, "thing");
	CHECK_EQ(child_spawn(&c, missing, log_path, pid_path, &err), -ENOENT);
	CHECK(strstr(err.msg, "cannot run thing (/nonexistent/program)") != NULL);
	CHECK_EQ(c.pid, 0);
	CHECK(access(pid_path, F_OK) != 0);
	CHECK_EQ(child_spawn(&c, relative, log_path, NULL, &err), -EINVAL);
	CHECK_EQ(child_spawn(&c, notexec, log_path, NULL, &err), -EACCES);
	/* An unwritable log. */
	{
		char *argv[] = { (char *)"/bin/true", NULL };

		CHECK_EQ(child_spawn(&c, argv, "/nonexistent/dir/log", NULL, &err), -ENOENT);
	}
}

static void test_pidfile_kill(void)
{
	struct sandbox_child c;
	char bad[300];
	int fd;

	/* Killing through the pid file (as the delete subcommand does). */
	CHECK_EQ(spawn_sh(&c, "trap '' TERM; exec sleep 30", pid_path), 0);
	sleep_ms(100);
	CHECK_EQ(pidfile_kill(pid_path, 200), 0);
	CHECK(child_exited(&c));
	CHECK(access(pid_path, F_OK) != 0);
	child_stop(&c, 0);

	/* A pid file naming a live process with another start time (the pid
	 * was reused): nothing is killed. */
	CHECK_EQ(spawn_sh(&c, "exec sleep 30", NULL), 0);
	snprintf(bad, sizeof(bad), "%s/bad.pid", dir);
	fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(dprintf(fd, "%d 1\n", (int)c.pid) > 0);
	close(fd);
	CHECK(!pidfile_alive(bad));
	CHECK_EQ(pidfile_kill(bad, 100), 0);
	CHECK(!child_exited(&c));
	CHECK(access(bad, F_OK) != 0);
	child_stop(&c, 1000);

	/* Absent or malformed files. */
	CHECK_EQ(pidfile_kill(bad, 100), 0);
	fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(dprintf(fd, "garbage\n") > 0);
	close(fd);
	{
		pid_t pid;
		uint64_t st;

		CHECK_EQ(pidfile_read(bad, &pid, &st), -EINVAL);
	}
	CHECK_EQ(pidfile_kill(bad, 100), 0);
}

int main(void)
{
	sigset_t all;

	/* What the shim's threads look like: SIGPIPE ignored, signals blocked. */
	signal(SIGPIPE, SIG_IGN);
	sigfillset(&all);
	sigdelset(&all, SIGCHLD);
	sigprocmask(SIG_BLOCK, &all, NULL);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(log_path, sizeof(log_path), "%s/child.log", dir);
	snprintf(pid_path, sizeof(pid_path), "%s/child.pid", dir);
	test_run_and_exit();
	test_stop();
	test_cannot_run();
	test_pidfile_kill();
	CHECK_EQ(rm_rf(dir), 0);
	fprintf(stderr, "%d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
