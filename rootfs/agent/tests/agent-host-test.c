/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nacelle-agent driven as the shim will drive it, in two places with the same
 * assertions:
 *
 *   agent-host-test
 *       on the host, without a VM: the real binary listening on a Unix socket
 *       (--listen unix:PATH, so not PID 1), containers from a busybox rootfs
 *       in a temporary directory. The stdio "ports" are the agent's test-mode
 *       Unix sockets DIR/stdio-<port>.sock. Needs root (namespaces, mounts,
 *       cgroups) and a writable cgroup2 mount at /sys/fs/cgroup or
 *       /sys/fs/cgroup/unified (a hybrid host: the agent then runs in a mount
 *       namespace of its own with the latter bound on the former). Skips (77)
 *       with the reason otherwise. Env: NACELLE_AGENT (the binary).
 *
 *   agent-host-test --vsock PATH --share TAG:MOUNTPOINT --rootfs GUESTPATH [--log FILE]
 *       the agent as PID 1 of a real VM (tests/integration/agent.sh): every
 *       call and every stdio stream goes through the VMM's hybrid vsock
 *       socket PATH ("CONNECT 1024", "CONNECT <port>"). SetupSandbox mounts
 *       the virtio-fs TAG on MOUNTPOINT; GUESTPATH (inside it) holds a busybox
 *       root filesystem with at least the applets of `applets` below. Cgroups
 *       are checked from inside the guest (a container with /sys/fs/cgroup
 *       bound in). Ends with Shutdown and waits for the VM to be gone; the
 *       caller checks that the VMM exited 0. FILE (the serial console) is
 *       shown when something failed.
 *
 * Calls are made in-process (agent-test-lib.c: gRPC client, JSON requests).
 *
 * Covers: Health, Version, SetupSandbox once; exit codes and separate
 * stdout/stderr; 10 MiB of output from a process that exits at once (every
 * byte must arrive before WaitProcess answers); exec into a running
 * container, stdin, CloseStdin; SIGTERM ignored then SIGKILL (137); pause,
 * resume, stats, processes; a terminal with ResizePty; a seccomp profile; the
 * capability sets; bad requests of every kind, after which the agent still
 * answers; RemoveContainer removing the cgroup; an OOM kill under a memory
 * limit reported by GetOOMEvent (needs the memory controller in cgroup v2:
 * skipped on a host without it); a container joining another's network
 * namespace by path; Shutdown with a container still running.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent-test-lib.h"
#include "common/test-files.h"

#define BUSYBOX "/bin/busybox"
#define BIG_OUTPUT (10u << 20)
#define AGENT_PORT 1024
/* How long the VM may take to go after Shutdown. */
#define VM_GONE_TIMEOUT_S 60

/* The busybox applets the containers use (host mode links them; in VM mode
 * the caller's rootfs must have them). */
static const char *const applets[] = {
	"sh", "echo", "id", "cat", "sleep", "stty", "mkdir", "grep", "head", "tail", "true",
	"ls", "wc", "readlink", "test",
};

static bool vm_mode;
static const char *agent_bin, *log_file;
static char share_tag[64], share_mount[256];
static char tmpdir[64], rootfs[128], sock[128], agent_log[128];
static char cgroot[64] = "/sys/fs/cgroup";
static bool bind_cgroot; /* hybrid host: cgroot is bound on /sys/fs/cgroup for the agent */
static pid_t agent_pid;
/* One GetOOMEvent always outstanding, as the shim keeps one. */
static struct atest_async oom_waiter;
/* The safety net of calls that block "forever". */
#define LONG_CALL_S 900

/* ---- fixtures ---- */

static int make_rootfs(void)
{
	static const char *const dirs[] = { "bin", "proc", "dev", "sys", "tmp", "etc" };
	char p[256];

	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmpdir);
	if (mkdir(rootfs, 0755) < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", rootfs, dirs[i]);
		if (mkdir(p, 0755) < 0)
			return -errno;
	}
	snprintf(p, sizeof(p), "%s/tmp", rootfs);
	(void)chmod(p, 01777);
	snprintf(p, sizeof(p), "%s/bin/busybox", rootfs);
	if (test_copy_file(BUSYBOX, p, 0755) < 0)
		return -EIO;
	for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++) {
		snprintf(p, sizeof(p), "%s/bin/%s", rootfs, applets[i]);
		if (symlink("busybox", p) < 0)
			return -errno;
	}
	return 0;
}

static bool is_cgroup2_writable(const char *path)
{
	struct statfs s;

	return statfs(path, &s) == 0 && s.f_type == CGROUP2_SUPER_MAGIC && access(path, W_OK) == 0;
}

static bool file_contains(const char *path, const char *word)
{
	char buf[4096] = "";
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strstr(buf, word) != NULL;
}

/*
 * Does the container's cgroup (<cgroot>/nacelle/<id>) exist? 1 yes, 0 no,
 * -1 cannot tell. On the host a look; in the VM a container with the guest's
 * /sys/fs/cgroup bound in tests for the directory.
 */
static int cgroup_exists(const char *id)
{
	static unsigned int seq;
	struct atest_run_result *res;
	char p[256], args[256], qid[32];
	char *spec;
	int ret = -1;

	if (!vm_mode) {
		snprintf(p, sizeof(p), "%s/nacelle/%s", cgroot, id);
		return access(p, F_OK) == 0;
	}
	snprintf(args, sizeof(args), "[ \"test\", \"-d\", \"/cg/nacelle/%s\" ]", id);
	spec = atest_make_spec_ns(false, args, NULL, NULL, NULL,
				  ", { \"destination\": \"/cg\", \"type\": \"bind\", "
				  "\"source\": \"/sys/fs/cgroup\", \"options\": [ \"rbind\", \"ro\" ] }");
	snprintf(qid, sizeof(qid), "cgq%u", seq++);
	res = calloc(1, sizeof(*res));
	if (atest_run(qid, spec, res) && (res->status == 0 || res->status == 1))
		ret = res->status == 0;
	else
		fprintf(stderr, "# cgroup probe %s: status %ld, %s\n", qid, res->status,
			res->err.keep);
	free(res);
	free(spec);
	return ret;
}

/* ---- the tests ---- */

static void test_sandbox(void)
{
	char *out = NULL;
	int r;

	r = atest_ctl(&out, 10, "Health", "{}");
	atest_report(r == OK && strstr(out, "SERVING_STATUS_SERVING"), "Health: %s", out);
	free(out);
	r = atest_ctl(&out, 10, "Version", "{}");
	atest_report(r == OK && atest_json_uint(out, "api_version") == 1, "Version: %s", out);
	free(out);
	if (vm_mode) {
		atest_expect(OK, "SetupSandbox mounts the virtio-fs share", "SetupSandbox",
			     "{ \"sandbox_id\": \"pod1\", \"hostname\": \"pod1\", "
			     "\"dns\": [ \"nameserver 10.0.0.1\" ], "
			     "\"time\": { \"seconds\": %lld }, "
			     "\"shared_mounts\": [ { \"tag\": \"%s\", \"mount_point\": \"%s\" } ] }",
			     (long long)time(NULL), share_tag, share_mount);
	} else {
		atest_expect(OK, "SetupSandbox (host mode leaves the host alone)", "SetupSandbox",
			     "{ \"sandbox_id\": \"pod1\", \"hostname\": \"pod1\", "
			     "\"dns\": [ \"nameserver 10.0.0.1\" ] }");
	}
	atest_expect(FAILED_PRECONDITION, "SetupSandbox twice", "SetupSandbox",
	       "{ \"sandbox_id\": \"pod1\" }");
	atest_expect(UNIMPLEMENTED, "UpdateRoutes not there yet", "UpdateRoutes", "{}");
}

static void test_exit_and_streams(void)
{
	char *spec = atest_make_spec(false, "[ \"sh\", \"-c\", \"echo out; echo err >&2; exit 3\" ]",
			       NULL, NULL);
	struct atest_run_result *res = calloc(1, sizeof(*res));
	bool ok = atest_run("c1", spec, res);

	atest_report(ok && res->status == 3, "exit 3 -> WaitProcess 3 (got %ld)", res->status);
	atest_report(!strcmp(res->out.keep, "out\n"), "stdout \"out\" (got \"%s\")", res->out.keep);
	atest_report(!strcmp(res->err.keep, "err\n"), "stderr \"err\" (got \"%s\")", res->err.keep);
	atest_report(cgroup_exists("c1") == 0, "RemoveContainer removed the cgroup");
	free(spec);
	free(res);
}

static void test_big_output(void)
{
	char args[128];
	char *spec;
	struct atest_run_result *res = calloc(1, sizeof(*res));
	bool ok;

	snprintf(args, sizeof(args), "[ \"head\", \"-c\", \"%u\", \"/dev/zero\" ]", BIG_OUTPUT);
	spec = atest_make_spec(false, args, NULL, NULL);
	ok = atest_run("big", spec, res);
	atest_report(ok && res->status == 0, "10 MiB writer exits 0 (got %ld)", res->status);
	atest_report(res->out.total == BIG_OUTPUT, "10 MiB arrive, nothing lost (%llu bytes)",
	       (unsigned long long)res->out.total);
	free(spec);
	free(res);
}

/* exec, stdin, CloseStdin, pause/resume, stats, processes, signals. */
static void test_running(void)
{
	char *spec = atest_make_spec(false, "[ \"sh\", \"-c\", \"trap '' TERM; echo ready; sleep 1000\" ]",
			       NULL, NULL);
	unsigned int po = atest_port(), p1 = atest_port(), pin = atest_port(), pout = atest_port();
	struct atest_stream *s_init = calloc(1, sizeof(*s_init)), *s1 = calloc(1, sizeof(*s1));
	struct atest_stream *s_in = calloc(1, sizeof(*s_in)), *s_out = calloc(1, sizeof(*s_out));
	char stdio[128], *out = NULL, pidstr[32];
	struct atest_async waiter;
	long init_pid, st;
	int r;

	snprintf(stdio, sizeof(stdio), "{ \"stdout_port\": %u }", po);
	r = atest_create("c3", spec, stdio, &out);
	init_pid = atest_json_uint(out, "pid");
	atest_report(r == OK && init_pid > 0, "create c3 (pid %ld) %s", init_pid, r == OK ? "" : out);
	free(out);
	r = atest_create("c3", spec, "{}", &out);
	atest_report(r == ALREADY_EXISTS, "create c3 again -> %d (want %d) %s", r, ALREADY_EXISTS, out);
	free(out);
	free(spec);
	atest_report(cgroup_exists("c3") == 1, "c3's cgroup exists under %s/nacelle", cgroot);
	atest_expect(FAILED_PRECONDITION, "exec before start", "ExecProcess",
	       "{ \"container_id\": \"c3\", \"exec_id\": \"e0\", \"process\": "
	       "\"{ \\\"args\\\": [ \\\"true\\\" ], \\\"cwd\\\": \\\"/\\\" }\" }");
	atest_expect(FAILED_PRECONDITION, "pause a created container", "PauseContainer",
	       "{ \"container_id\": \"c3\" }");
	atest_stream_open(s_init, po, NULL, true);
	atest_expect(OK, "start c3", "StartContainer", "{ \"container_id\": \"c3\" }");
	/* the shim's waiter: blocked on its own thread while every call below runs */
	atest_ctl_async(&waiter, LONG_CALL_S, "WaitProcess", "{ \"container_id\": \"c3\" }");
	atest_expect(FAILED_PRECONDITION, "start c3 twice", "StartContainer", "{ \"container_id\": \"c3\" }");

	/* exec id: output and exit status */
	snprintf(stdio, sizeof(stdio), "{ \"stdout_port\": %u }", p1);
	r = atest_ctl(&out, 30, "ExecProcess",
		"{ \"container_id\": \"c3\", \"exec_id\": \"e1\", \"stdio\": %s, \"process\": "
		"\"{ \\\"args\\\": [ \\\"id\\\" ], \\\"cwd\\\": \\\"/\\\", "
		"\\\"env\\\": [ \\\"PATH=/bin\\\" ] }\" }", stdio);
	atest_report(r == OK, "exec id %s", r == OK ? "" : out);
	free(out);
	atest_stream_open(s1, p1, NULL, true);
	st = atest_wait("c3", "e1", 30);
	atest_stream_join(s1);
	atest_report(st == 0 && strstr(s1->keep, "uid=0"), "exec id: status %ld, \"%s\"", st, s1->keep);
	atest_expect(NOT_FOUND, "WaitProcess for an exec already waited for", "WaitProcess",
	       "{ \"container_id\": \"c3\", \"exec_id\": \"e1\" }");

	/* stdin: cat echoes what the host sends, EOF when the host half-closes */
	snprintf(stdio, sizeof(stdio), "{ \"stdin_port\": %u, \"stdout_port\": %u }", pin, pout);
	r = atest_ctl(&out, 30, "ExecProcess",
		"{ \"container_id\": \"c3\", \"exec_id\": \"cat1\", \"stdio\": %s, \"process\": "
		"\"{ \\\"args\\\": [ \\\"cat\\\" ], \\\"cwd\\\": \\\"/\\\" }\" }", stdio);
	atest_report(r == OK, "exec cat %s", r == OK ? "" : out);
	free(out);
	atest_stream_open(s_out, pout, NULL, true);
	atest_stream_open(s_in, pin, "hello stdin\n", true);
	st = atest_wait("c3", "cat1", 30);
	atest_stream_join(s_in);
	atest_stream_join(s_out);
	atest_report(st == 0 && !strcmp(s_out->keep, "hello stdin\n"), "stdin -> cat -> stdout: %ld \"%s\"",
	       st, s_out->keep);

	/* CloseStdin: the host keeps its stream open, the agent ends the input */
	pin = atest_port();
	snprintf(stdio, sizeof(stdio), "{ \"stdin_port\": %u }", pin);
	r = atest_ctl(&out, 30, "ExecProcess",
		"{ \"container_id\": \"c3\", \"exec_id\": \"cat2\", \"stdio\": %s, \"process\": "
		"\"{ \\\"args\\\": [ \\\"cat\\\" ], \\\"cwd\\\": \\\"/\\\" }\" }", stdio);
	free(out);
	atest_stream_open(s_in, pin, "x", false);
	atest_report(atest_wait("c3", "cat2", 1) == -DEADLINE_EXCEEDED,
	       "cat waits for input (WaitProcess times out)");
	atest_expect(OK, "CloseStdin", "CloseStdin", "{ \"container_id\": \"c3\", \"exec_id\": \"cat2\" }");
	st = atest_wait("c3", "cat2", 30);
	atest_stream_join(s_in);
	atest_report(st == 0, "cat ends after CloseStdin (status %ld)", st);

	/* A daemon keeps the pipe: WaitProcess does not wait for it, its output still flows. */
	pout = atest_port();
	snprintf(stdio, sizeof(stdio), "{ \"stdout_port\": %u }", pout);
	r = atest_ctl(&out, 30, "ExecProcess",
		"{ \"container_id\": \"c3\", \"exec_id\": \"d1\", \"stdio\": %s, \"process\": "
		"\"{ \\\"args\\\": [ \\\"sh\\\", \\\"-c\\\", "
		"\\\"(sleep 2; echo late) & echo early\\\" ], \\\"cwd\\\": \\\"/\\\" }\" }",
		stdio);
	atest_report(r == OK, "exec a shell leaving a daemon %s", r == OK ? "" : out);
	free(out);
	atest_stream_open(s_out, pout, NULL, true);
	{
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		st = atest_wait("c3", "d1", 30);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		atest_report(st == 0 && t1.tv_sec - t0.tv_sec < 2,
		       "WaitProcess does not wait for the daemon holding the pipe (%lds)",
		       (long)(t1.tv_sec - t0.tv_sec));
	}
	atest_stream_join(s_out);
	atest_report(!strcmp(s_out->keep, "early\nlate\n"), "the daemon's output follows (\"%s\")",
	       s_out->keep);

	/* No streams at all; a terminal nobody reads (its output is discarded). */
	r = atest_ctl(&out, 30, "ExecProcess",
		"{ \"container_id\": \"c3\", \"exec_id\": \"n1\", \"process\": "
		"\"{ \\\"args\\\": [ \\\"echo\\\", \\\"lost\\\" ], \\\"cwd\\\": \\\"/\\\" }\" }");
	free(out);
	atest_report(r == OK && atest_wait("c3", "n1", 10) == 0, "exec without streams");
	r = atest_ctl(&out, 30, "ExecProcess",
		"{ \"container_id\": \"c3\", \"exec_id\": \"n2\", \"stdio\": { \"terminal\": true }, "
		"\"process\": \"{ \\\"terminal\\\": true, \\\"args\\\": [ \\\"sh\\\", "
		"\\\"-c\\\", \\\"stty size; exit 4\\\" ], \\\"cwd\\\": \\\"/\\\" }\" }");
	atest_report(r == OK && atest_wait("c3", "n2", 10) == 4,
	       "exec with a terminal and no stream: exit 4 %s", r == OK ? "" : out);
	free(out);

	atest_expect(FAILED_PRECONDITION, "ResizePty without a terminal", "ResizePty",
	       "{ \"container_id\": \"c3\", \"width\": 80, \"height\": 24 }");
	r = atest_ctl(&out, 30, "ListProcesses", "{ \"container_id\": \"c3\" }");
	snprintf(pidstr, sizeof(pidstr), "%ld", init_pid);
	atest_report(r == OK && strstr(out, pidstr), "ListProcesses has the init pid: %s", out);
	free(out);
	atest_expect(OK, "pause", "PauseContainer", "{ \"container_id\": \"c3\" }");
	atest_expect(FAILED_PRECONDITION, "pause twice", "PauseContainer", "{ \"container_id\": \"c3\" }");
	atest_expect(FAILED_PRECONDITION, "exec into a paused container", "ExecProcess",
	       "{ \"container_id\": \"c3\", \"exec_id\": \"e2\", \"process\": "
	       "\"{ \\\"args\\\": [ \\\"true\\\" ], \\\"cwd\\\": \\\"/\\\" }\" }");
	atest_expect(OK, "resume", "ResumeContainer", "{ \"container_id\": \"c3\" }");
	r = atest_ctl(&out, 30, "StatsContainer", "{ \"container_id\": \"c3\" }");
	atest_report(r == OK && strstr(out, "timestamp"), "StatsContainer: %.200s", out);
	free(out);
	atest_expect(OK, "UpdateContainer (unified, nothing to change)", "UpdateContainer",
	       "{ \"container_id\": \"c3\", \"resources\": \"{}\" }");

	/* SIGTERM is trapped: still running; SIGKILL: 137 */
	atest_expect(OK, "SIGTERM", "SignalProcess", "{ \"container_id\": \"c3\", \"signal\": 15 }");
	atest_report(atest_wait("c3", "", 1) == -DEADLINE_EXCEEDED, "still running after SIGTERM");
	atest_expect(OK, "SIGKILL", "SignalProcess", "{ \"container_id\": \"c3\", \"signal\": 9 }");
	st = atest_wait("c3", "", 30);
	atest_report(st == 137, "killed: WaitProcess 137 (got %ld)", st);
	r = atest_ctl_join(&waiter, &out);
	atest_report(r == OK && atest_json_uint(out, "exit_status") == 137,
		     "the WaitProcess blocked since the start answered 137 (%d %s)", r, out);
	free(out);
	atest_stream_join(s_init);
	atest_report(!strcmp(s_init->keep, "ready\n"), "init's output \"ready\" (got \"%s\")", s_init->keep);
	atest_expect(NOT_FOUND, "signal an exited process", "SignalProcess",
	       "{ \"container_id\": \"c3\", \"signal\": 9 }");
	atest_report(atest_wait("c3", "", 10) == 137, "init's status stays until RemoveContainer");
	atest_report(atest_remove("c3"), "remove c3");
	atest_report(cgroup_exists("c3") == 0, "c3's cgroup is gone");
	atest_expect(NOT_FOUND, "wait after remove", "WaitProcess", "{ \"container_id\": \"c3\" }");
	free(s_init);
	free(s1);
	free(s_in);
	free(s_out);
}

/*
 * A created container waits before its exec for as long as the shim likes;
 * it must not hold copies of the agent's other fds meanwhile: another
 * process's stdin pipe would never reach EOF.
 */
static void test_fd_isolation(void)
{
	char *spec_a = atest_make_spec(false, "[ \"cat\" ]", NULL, NULL);
	char *spec_b = atest_make_spec(false, "[ \"true\" ]", NULL, NULL);
	struct atest_stream *so = calloc(1, sizeof(*so)), *si = calloc(1, sizeof(*si));
	unsigned int pin = atest_port(), pout = atest_port();
	char stdio[96], *out = NULL;
	long st;
	int r;

	snprintf(stdio, sizeof(stdio), "{ \"stdin_port\": %u, \"stdout_port\": %u }", pin, pout);
	r = atest_create("fa", spec_a, stdio, &out);
	free(out);
	atest_stream_open(so, pout, NULL, true);
	r |= atest_ctl(NULL, 30, "StartContainer", "{ \"container_id\": \"fa\" }");
	/* fb is created (forked) while fa's pipes exist, and not started */
	r |= atest_create("fb", spec_b, "{}", &out);
	free(out);
	atest_report(r == OK, "fa running, fb created");
	atest_stream_open(si, pin, "a\n", true);
	st = atest_wait("fa", "", 5);
	atest_stream_join(si);
	atest_stream_join(so);
	atest_report(st == 0 && !strcmp(so->keep, "a\n"),
	       "fa's stdin reaches EOF although fb waits to start (status %ld, \"%s\")", st,
	       so->keep);
	atest_report(atest_remove("fa") && atest_remove("fb"), "remove fa, fb");
	free(spec_a);
	free(spec_b);
	free(so);
	free(si);
}

static void test_terminal(void)
{
	char *spec = atest_make_spec(true, "[ \"sh\", \"-c\", \"stty size; test -t 0 && echo tty\" ]",
			       NULL, NULL);
	unsigned int pt = atest_port();
	struct atest_stream *s = calloc(1, sizeof(*s));
	char stdio[128], *out = NULL, *js;
	long st;
	int r;

	snprintf(stdio, sizeof(stdio), "{ \"stdout_port\": %u }", pt);
	js = atest_json_str(spec);
	atest_expect(INVALID_ARGUMENT, "terminal spec without a terminal stream", "CreateContainer",
	       "{ \"container_id\": \"t1\", \"spec\": %s, \"rootfs\": \"%s\", \"stdio\": %s }",
	       js, atest_rootfs(), stdio);
	free(js);
	snprintf(stdio, sizeof(stdio), "{ \"terminal\": true, \"terminal_port\": %u }", pt);
	r = atest_create("t1", spec, stdio, &out);
	atest_report(r == OK, "create with a terminal %s", r == OK ? "" : out);
	free(out);
	atest_stream_open(s, pt, NULL, false);
	atest_expect(OK, "ResizePty 100x40", "ResizePty",
	       "{ \"container_id\": \"t1\", \"width\": 100, \"height\": 40 }");
	atest_expect(OK, "start t1", "StartContainer", "{ \"container_id\": \"t1\" }");
	st = atest_wait("t1", "", 30);
	atest_stream_join(s);
	atest_report(st == 0 && strstr(s->keep, "40 100") && strstr(s->keep, "tty"),
	       "stty size through the terminal: %ld \"%s\"", st, s->keep);
	atest_report(atest_remove("t1"), "remove t1");
	free(spec);
	free(s);
}

static void test_seccomp(void)
{
	char *spec = atest_make_spec(
		false, "[ \"sh\", \"-c\", \"echo hi; mkdir /tmp/x; echo rc=$?\" ]", NULL,
		", \"seccomp\": { \"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [ "
		"{ \"names\": [ \"mkdir\", \"mkdirat\" ], \"action\": \"SCMP_ACT_ERRNO\" } ] }");
	struct atest_run_result *res = calloc(1, sizeof(*res));
	bool ok = atest_run("sc1", spec, res);

	atest_report(ok && res->status == 0 && !strcmp(res->out.keep, "hi\nrc=1\n"),
	       "seccomp: echo works, mkdir fails (status %ld, \"%s\")", res->status, res->out.keep);
	atest_report(strstr(res->err.keep, "Operation not permitted") != NULL, "mkdir: EPERM (\"%s\")",
	       res->err.keep);
	free(spec);
	free(res);
}

static void test_caps(void)
{
	char *spec = atest_make_spec(
		false, "[ \"grep\", \"^Cap\", \"/proc/self/status\" ]",
		", \"capabilities\": { \"bounding\": [ \"CAP_CHOWN\", \"CAP_KILL\" ],"
		" \"effective\": [ \"CAP_CHOWN\", \"CAP_KILL\" ],"
		" \"permitted\": [ \"CAP_CHOWN\", \"CAP_KILL\" ], \"inheritable\": [], \"ambient\": [] }",
		NULL);
	struct atest_run_result *res = calloc(1, sizeof(*res));
	bool ok = atest_run("cap1", spec, res);
	const char *o = res->out.keep;

	atest_report(ok && res->status == 0 && strstr(o, "CapEff:\t0000000000000021") &&
		       strstr(o, "CapPrm:\t0000000000000021") &&
		       strstr(o, "CapBnd:\t0000000000000021") &&
		       strstr(o, "CapInh:\t0000000000000000"),
	       "capabilities as in the spec (CHOWN|KILL = 0x21): %s", o);
	free(spec);
	free(res);
}

static void test_bad_requests(void)
{
	char long_id[201], *huge, *spec, *js, *out = NULL;
	const char *ok_process = "\"{ \\\"args\\\": [ \\\"true\\\" ], \\\"cwd\\\": \\\"/\\\" }\"";
	int r;

	memset(long_id, 'a', 200);
	long_id[200] = '\0';
	spec = atest_make_spec(false, "[ \"sleep\", \"1000\" ]", NULL, NULL);
	js = atest_json_str(spec);

#define CREATE(want, what, id, specjson, root, stdio)                                          \
	atest_expect(want, what, "CreateContainer",                                                 \
	       "{ \"container_id\": \"%s\", \"spec\": %s, \"rootfs\": \"%s\", \"stdio\": %s }", \
	       id, specjson, root, stdio)

	CREATE(INVALID_ARGUMENT, "empty id", "", js, atest_rootfs(), "{}");
	CREATE(INVALID_ARGUMENT, "id ../x", "../x", js, atest_rootfs(), "{}");
	CREATE(INVALID_ARGUMENT, "id a/b", "a/b", js, atest_rootfs(), "{}");
	CREATE(INVALID_ARGUMENT, "id of 200 characters", long_id, js, atest_rootfs(), "{}");
	CREATE(INVALID_ARGUMENT, "spec is not JSON", "bad1", "\"nonsense {\"", atest_rootfs(), "{}");
	CREATE(INVALID_ARGUMENT, "spec without ociVersion", "bad2", "\"{}\"", atest_rootfs(), "{}");
	CREATE(INVALID_ARGUMENT, "spec with args of the wrong type", "bad3",
	       "\"{ \\\"ociVersion\\\": \\\"1.1.0\\\", \\\"process\\\": { \\\"args\\\": 5, "
	       "\\\"cwd\\\": \\\"/\\\" } }\"", atest_rootfs(), "{}");
	CREATE(INVALID_ARGUMENT, "spec without a process", "bad4",
	       "\"{ \\\"ociVersion\\\": \\\"1.1.0\\\" }\"", atest_rootfs(), "{}");
	CREATE(INVALID_ARGUMENT, "relative rootfs", "bad5", js, "rootfs", "{}");
	CREATE(NOT_FOUND, "missing rootfs", "bad6", js, "/nonexistent/rootfs", "{}");
	CREATE(INVALID_ARGUMENT, "stdio port below 1025", "bad7", js, atest_rootfs(),
	       "{ \"stdout_port\": 5 }");
	CREATE(INVALID_ARGUMENT, "stdio port twice", "bad8", js, atest_rootfs(),
	       "{ \"stdout_port\": 3000, \"stderr_port\": 3000 }");
	CREATE(INVALID_ARGUMENT, "cgroupsPath escaping", "bad9",
	       "\"{ \\\"ociVersion\\\": \\\"1.1.0\\\", \\\"process\\\": { \\\"args\\\": "
	       "[ \\\"true\\\" ], \\\"cwd\\\": \\\"/\\\" }, \\\"linux\\\": { \\\"cgroupsPath\\\": "
	       "\\\"/../../x\\\", \\\"namespaces\\\": [ { \\\"type\\\": \\\"mount\\\" } ] } }\"",
	       atest_rootfs(), "{}");
	/* wrong JSON types in the request itself never reach the agent (the JSON
	 * mapping refuses them, as nacelle-agentctl does with exit status 65) */
	r = atest_ctl(&out, 10, "CreateContainer", "{ \"container_id\": 5 }");
	atest_report(r == ATEST_BAD_REQUEST, "request field of the wrong type refused (%d)", r);
	free(out);

	atest_expect(NOT_FOUND, "start an unknown container", "StartContainer",
	       "{ \"container_id\": \"nope\" }");
	atest_expect(NOT_FOUND, "wait for an unknown container", "WaitProcess",
	       "{ \"container_id\": \"nope\" }");
	atest_expect(NOT_FOUND, "signal an unknown container", "SignalProcess",
	       "{ \"container_id\": \"nope\", \"signal\": 9 }");
	atest_expect(INVALID_ARGUMENT, "signal 0", "SignalProcess",
	       "{ \"container_id\": \"nope\", \"signal\": 0 }");
	atest_expect(INVALID_ARGUMENT, "signal 65", "SignalProcess",
	       "{ \"container_id\": \"nope\", \"signal\": 65 }");
	atest_expect(NOT_FOUND, "exec into an unknown container", "ExecProcess",
	       "{ \"container_id\": \"nope\", \"exec_id\": \"e\", \"process\": %s }", ok_process);
	atest_expect(INVALID_ARGUMENT, "exec without an exec id", "ExecProcess",
	       "{ \"container_id\": \"nope\", \"exec_id\": \"\", \"process\": %s }", ok_process);
	atest_expect(INVALID_ARGUMENT, "exec with a process of the wrong type", "ExecProcess",
	       "{ \"container_id\": \"nope\", \"exec_id\": \"e\", \"process\": \"[ 1, 2 ]\" }");
	atest_expect(INVALID_ARGUMENT, "resize to 0 columns", "ResizePty",
	       "{ \"container_id\": \"nope\", \"width\": 0, \"height\": 10 }");
	atest_expect(INVALID_ARGUMENT, "update with bad resources", "UpdateContainer",
	       "{ \"container_id\": \"nope\", \"resources\": \"{ \\\"memory\\\": 7 }\" }");
	atest_expect(NOT_FOUND, "remove an unknown container", "RemoveContainer",
	       "{ \"container_id\": \"nope\" }");
	atest_expect(NOT_FOUND, "pause an unknown container", "PauseContainer",
	       "{ \"container_id\": \"nope\" }");

	/* 2 MiB of spec: over the 1 MiB limit. 5 MiB: over the message limit. */
	huge = malloc(5u << 20);
	memset(huge, 'x', (5u << 20) - 1);
	huge[(5u << 20) - 1] = '\0';
	huge[2u << 20] = '\0';
	{
		char *q = NULL;

		if (asprintf(&q, "\"%s\"", huge) < 0)
			abort();
		CREATE(INVALID_ARGUMENT, "2 MiB spec", "huge1", q, atest_rootfs(), "{}");
		free(q);
	}
	huge[2u << 20] = 'x';
	r = atest_ctl(&out, 30, "CreateContainer",
		"{ \"container_id\": \"huge2\", \"spec\": \"%s\", \"rootfs\": \"/\" }", huge);
	atest_report(r == RESOURCE_EXHAUSTED || r == INVALID_ARGUMENT,
	       "5 MiB request refused (%d: %.200s)", r, out);
	free(out);
	free(huge);

	r = atest_ctl(&out, 10, "Health", "{}");
	atest_report(r == OK && strstr(out, "SERVING_STATUS_SERVING"), "still healthy after bad requests");
	free(out);
	free(js);
	free(spec);
#undef CREATE
}

/*
 * GetOOMEvent blocks, and the client's deadline cancels it. A hog under a
 * 32 MiB memory limit (busybox tail keeps its whole input when it has no
 * newline) is killed by the OOM killer and GetOOMEvent names its container.
 */
static void test_oom(void)
{
	char p[256], *spec, *out = NULL;
	long st;
	int r;

	atest_report(atest_ctl(NULL, 1, "GetOOMEvent", "{}") == DEADLINE_EXCEEDED,
		     "a second GetOOMEvent blocks until its deadline");
	snprintf(p, sizeof(p), "%s/cgroup.controllers", cgroot);
	if (!vm_mode && !file_contains(p, "memory")) {
		printf("# SKIP OOM kill: no memory controller in %s (the memory cgroup is on "
		       "cgroup v1 here); tested in the VM\n", cgroot);
		return;
	}
	spec = atest_make_spec(false, "[ \"sh\", \"-c\", \"head -c 200000000 /dev/zero | tail\" ]",
			       NULL, ", \"resources\": { \"memory\": { \"limit\": 33554432, "
			       "\"swap\": 33554432 } }");
	r = atest_create("oom1", spec, "{}", &out);
	atest_report(r == OK, "create oom1 with a 32 MiB memory limit %s", r == OK ? "" : out);
	free(out);
	atest_expect(OK, "start oom1", "StartContainer", "{ \"container_id\": \"oom1\" }");
	/* the GetOOMEvent outstanding since the sandbox was set up answers */
	r = atest_ctl_join(&oom_waiter, &out);
	atest_report(r == OK && strstr(out, "\"oom1\""), "GetOOMEvent names oom1: %d %s", r, out);
	free(out);
	atest_ctl_async(&oom_waiter, LONG_CALL_S, "GetOOMEvent", "{}");
	st = atest_wait("oom1", "", 60);
	atest_report(st == 137, "the hog was killed: WaitProcess 137 (got %ld)", st);
	atest_report(atest_remove("oom1"), "remove oom1");
	free(spec);
}

/* "State:" of a process in the agent's PID namespace, "gone" if there is
 * none, NULL if that cannot be told. On the host a look; in the VM a
 * container without a PID namespace of its own looks. malloc'd. */
static char *process_state(long pid)
{
	static unsigned int seq;
	struct atest_run_result *res;
	char args[256], id[32], *spec, *st = NULL;

	if (!vm_mode) {
		char p[64], line[256];
		FILE *f;

		snprintf(p, sizeof(p), "/proc/%ld/status", pid);
		f = fopen(p, "re");
		if (!f)
			return strdup("gone");
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "State:", 6)) {
				line[strcspn(line, "\n")] = '\0';
				st = strdup(line);
			}
		fclose(f);
		return st;
	}
	snprintf(args, sizeof(args),
		 "[ \"sh\", \"-c\", \"grep ^State: /proc/%ld/status 2>/dev/null || echo gone\" ]",
		 pid);
	spec = atest_make_spec_ns(false, args, NULL, NULL,
				  "[ { \"type\": \"mount\" }, { \"type\": \"uts\" } ]", NULL);
	snprintf(id, sizeof(id), "ps%u", seq++);
	res = calloc(1, sizeof(*res));
	if (atest_run(id, spec, res) && res->status == 0) {
		res->out.keep[strcspn(res->out.keep, "\n")] = '\0';
		st = strdup(res->out.keep);
	}
	free(res);
	free(spec);
	return st;
}

/*
 * A container without a PID namespace of its own leaves an orphan behind
 * (not holding its stdout, or the stream would wait for it): it is
 * reparented to the agent (PID 1 in the VM, a child subreaper on the host),
 * which must reap it when it exits — no zombie stays. The container is
 * removed only afterwards: RemoveContainer kills what is left in its cgroup.
 */
static void test_orphans(void)
{
	char *spec = atest_make_spec_ns(false, "[ \"sh\", \"-c\", "
					"\"sleep 5 </dev/null >/dev/null 2>&1 & echo $!\" ]",
					NULL, NULL,
					"[ { \"type\": \"mount\" }, { \"type\": \"uts\" } ]", NULL);
	struct atest_stream *so = calloc(1, sizeof(*so));
	unsigned int po = atest_port();
	char stdio[64], *before = NULL, *after = NULL, *out = NULL;
	long pid = -1, st;
	int r;

	snprintf(stdio, sizeof(stdio), "{ \"stdout_port\": %u }", po);
	r = atest_create("orph", spec, stdio, &out);
	free(out);
	atest_stream_open(so, po, NULL, true);
	r |= atest_ctl(NULL, 30, "StartContainer", "{ \"container_id\": \"orph\" }");
	st = atest_wait("orph", "", 60);
	atest_stream_join(so);
	if (r == OK && st == 0)
		pid = strtol(so->keep, NULL, 10);
	before = pid > 1 ? process_state(pid) : NULL;
	/* Alive: asleep, or still on its way into sleep(1) on a loaded machine. */
	atest_report(pid > 1 && before &&
			     (strstr(before, "S (sleeping)") || strstr(before, "R (running)")),
		     "a container's init exited leaving an orphan alive (pid %ld, %s)", pid,
		     before ? before : "?");
	for (int i = 0; pid > 1 && i < 30; i++) {
		free(after);
		after = process_state(pid);
		if (!after || !strcmp(after, "gone") || strstr(after, "Z (zombie)"))
			break;
		sleep(1);
	}
	if (after && strstr(after, "Z (zombie)")) {
		sleep(2); /* the reaper may be a moment late */
		free(after);
		after = process_state(pid);
	}
	atest_report(after && !strcmp(after, "gone"), "the agent reaped the orphan (%s)", after ? after : "?");
	atest_report(atest_remove("orph"), "remove orph");
	free(before);
	free(after);
	free(so);
	free(spec);
}

/*
 * Pod networking: a container whose spec names another's network namespace
 * by path (/proc/<pid>/ns/net, as the shim passes the sandbox's) is in it;
 * one with a namespace of its own is not.
 */
static void test_netns(void)
{
	char *spec_a = atest_make_spec(false, "[ \"sleep\", \"1000\" ]", NULL, NULL);
	char *spec_b, *spec_c, *out = NULL, ns[256];
	struct atest_run_result *res_b = calloc(1, sizeof(*res_b));
	struct atest_run_result *res_c = calloc(1, sizeof(*res_c));
	struct atest_stream *s = calloc(1, sizeof(*s));
	unsigned int pe = atest_port();
	const char *args = "[ \"readlink\", \"/proc/self/ns/net\" ]";
	char stdio[64];
	long pid;
	int r;

	r = atest_create("na", spec_a, "{}", &out);
	pid = atest_json_uint(out, "pid");
	atest_report(r == OK && pid > 0, "create na, the sandbox-like container (pid %ld) %s", pid,
		     r == OK ? "" : out);
	free(out);
	atest_expect(OK, "start na", "StartContainer", "{ \"container_id\": \"na\" }");

	/* na's own view of its namespace, through an exec */
	snprintf(stdio, sizeof(stdio), "{ \"stdout_port\": %u }", pe);
	r = atest_ctl(&out, 30, "ExecProcess",
		      "{ \"container_id\": \"na\", \"exec_id\": \"ns\", \"stdio\": %s, "
		      "\"process\": \"{ \\\"args\\\": [ \\\"readlink\\\", "
		      "\\\"/proc/self/ns/net\\\" ], \\\"cwd\\\": \\\"/\\\" }\" }",
		      stdio);
	free(out);
	atest_stream_open(s, pe, NULL, true);
	atest_report(r == OK && atest_wait("na", "ns", 30) == 0, "exec readlink in na");
	atest_stream_join(s);

	snprintf(ns, sizeof(ns),
		 "[ { \"type\": \"pid\" }, { \"type\": \"mount\" }, { \"type\": \"ipc\" }, "
		 "{ \"type\": \"uts\" }, { \"type\": \"network\", \"path\": \"/proc/%ld/ns/net\" } ]",
		 pid);
	spec_b = atest_make_spec_ns(false, args, NULL, NULL, ns, NULL);
	spec_c = atest_make_spec(false, args, NULL, NULL);
	atest_run("nb", spec_b, res_b);
	atest_run("nc", spec_c, res_c);
	atest_report(!strncmp(s->keep, "net:[", 5) && !strcmp(s->keep, res_b->out.keep),
		     "nb joined na's network namespace by path (na: \"%.40s\", nb: \"%.40s\")",
		     s->keep, res_b->out.keep);
	atest_report(!strncmp(res_c->out.keep, "net:[", 5) && strcmp(s->keep, res_c->out.keep),
		     "nc, with a namespace of its own, is elsewhere (\"%.40s\")", res_c->out.keep);
	atest_expect(OK, "SIGKILL na", "SignalProcess", "{ \"container_id\": \"na\", \"signal\": 9 }");
	atest_report(atest_wait("na", "", 30) == 137 && atest_remove("na"), "na killed and removed");
	free(spec_a);
	free(spec_b);
	free(spec_c);
	free(res_b);
	free(res_c);
	free(s);
}

/* ---- the agent ---- */

static void dump_log(void)
{
	const char *f = vm_mode ? log_file : agent_log;
	char cmd[512];

	if (!f)
		return;
	snprintf(cmd, sizeof(cmd), "tail -n 80 '%s' | tr -d '\\r' | sed 's/^/# agent: /' >&2", f);
	if (system(cmd) != 0)
		fprintf(stderr, "# (no agent log)\n");
}

static bool start_agent(void)
{
	char listen[160];

	snprintf(listen, sizeof(listen), "unix:%s", sock);
	agent_pid = fork();
	if (agent_pid < 0)
		return false;
	if (agent_pid == 0) {
		int fd = open(agent_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (bind_cgroot &&
		    (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		     mount(cgroot, "/sys/fs/cgroup", NULL, MS_BIND | MS_REC, NULL) < 0)) {
			fprintf(stderr, "cgroup2 on /sys/fs/cgroup: %s\n", strerror(errno));
			_exit(1);
		}
		execl(agent_bin, agent_bin, "--debug", "--listen", listen, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		if (access(sock, F_OK) == 0 && atest_ctl(NULL, 2, "Health", "{}") == OK)
			return true;
		if (waitpid(agent_pid, NULL, WNOHANG) == agent_pid) {
			agent_pid = 0;
			return false;
		}
		usleep(50000);
	}
	return false;
}

/* The first Health that answers, polling for up to timeout_s (the VM boots). */
static bool wait_healthy(int timeout_s)
{
	double end = atest_now() + timeout_s;

	do {
		if (atest_ctl(NULL, 5, "Health", "{}") == OK)
			return true;
		atest_disconnect();
		usleep(100000);
	} while (atest_now() < end);
	return false;
}

/* Shutdown leaves a running container behind on purpose: the agent must kill it. */
static void stop_agent(void)
{
	char *spec = atest_make_spec(false, "[ \"sleep\", \"1000\" ]", NULL, NULL);
	char *out = NULL;
	int status = -1, r;
	bool exited = false;

	r = atest_create("left", spec, "{}", &out);
	free(out);
	free(spec);
	r |= atest_ctl(NULL, 10, "StartContainer", "{ \"container_id\": \"left\" }");
	atest_report(r == OK && cgroup_exists("left") == 1, "a container left running for the shutdown");
	r = atest_ctl(&out, 10, "Shutdown", "{}");
	/* The answer is sent before the power-off starts; a connection lost right
	 * after it counts as success (README). */
	atest_report(r == OK || r == UNAVAILABLE, "Shutdown answered (%d %s)", r, out);
	free(out);
	if (vm_mode) {
		double t0 = atest_now();
		bool gone = false;

		atest_disconnect();
		while (!gone && atest_now() - t0 < VM_GONE_TIMEOUT_S) {
			gone = atest_connect(NULL, 0) < 0;
			atest_disconnect();
			if (!gone)
				usleep(200000);
		}
		atest_report(gone, "the agent is unreachable %.1f s after Shutdown (the VM powers off)",
			     atest_now() - t0);
		return;
	}
	for (int i = 0; i < 300 && !exited; i++) {
		if (waitpid(agent_pid, &status, WNOHANG) == agent_pid)
			exited = true;
		else
			usleep(50000);
	}
	if (!exited) {
		kill(agent_pid, SIGKILL);
		waitpid(agent_pid, &status, 0);
	}
	atest_report(exited && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		     "the agent exits 0 after Shutdown (host mode)");
	atest_report(cgroup_exists("left") == 0,
		     "the agent removed the running container's cgroup on exit");
	agent_pid = 0;
}

static void cleanup(void)
{
	char p[256], cmd[320];

	atest_disconnect();
	if (agent_pid > 0) {
		kill(agent_pid, SIGKILL);
		waitpid(agent_pid, NULL, 0);
	}
	if (!vm_mode && cgroot[0]) {
		snprintf(p, sizeof(p), "%s/nacelle", cgroot);
		(void)rmdir(p); /* only if empty: another agent may use it */
	}
	if (!strncmp(tmpdir, "/tmp/nacelle-agent-test-", 24)) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "# could not remove %s\n", tmpdir);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: agent-host-test                      (host mode; env NACELLE_AGENT)\n"
		   "       agent-host-test --vsock PATH --share TAG:MOUNTPOINT --rootfs GUESTPATH\n"
		   "                       [--log FILE]         (the agent in a VM)\n");
}

/* 0, or 2 for bad arguments. */
static int parse_args(int argc, char **argv, const char **ret_vsock, const char **ret_rootfs)
{
	static const struct option options[] = {
		{ "vsock", required_argument, NULL, 'v' },
		{ "share", required_argument, NULL, 's' },
		{ "rootfs", required_argument, NULL, 'r' },
		{ "log", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *share = NULL, *colon;
	int c;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'v':
			*ret_vsock = optarg;
			break;
		case 's':
			share = optarg;
			break;
		case 'r':
			*ret_rootfs = optarg;
			break;
		case 'l':
			log_file = optarg;
			break;
		default:
			usage(c == 'h' ? stdout : stderr);
			return 2;
		}
	}
	if (optind < argc || !*ret_vsock != !share || !*ret_vsock != !*ret_rootfs) {
		usage(stderr);
		return 2;
	}
	if (share) {
		colon = strchr(share, ':');
		if (!colon || colon == share || (size_t)(colon - share) >= sizeof(share_tag) ||
		    colon[1] != '/' || strlen(colon + 1) >= sizeof(share_mount)) {
			fprintf(stderr, "--share %s: want TAG:/MOUNT/POINT\n", share);
			return 2;
		}
		memcpy(share_tag, share, (size_t)(colon - share));
		strcpy(share_mount, colon + 1);
	}
	return 0;
}

/* Host mode: root, busybox, cgroup2, the rootfs, the agent. 0, 77 or 1. */
static int setup_host(void)
{
	if (geteuid() != 0) {
		printf("# SKIP: needs root (namespaces, mounts, cgroups)\n");
		return 77;
	}
	agent_bin = getenv("NACELLE_AGENT");
	if (!agent_bin) {
		fprintf(stderr, "NACELLE_AGENT must name the binary\n");
		return 1;
	}
	if (access(BUSYBOX, X_OK) < 0) {
		printf("# SKIP: no %s (busybox-static)\n", BUSYBOX);
		return 77;
	}
	if (is_cgroup2_writable("/sys/fs/cgroup")) {
		snprintf(cgroot, sizeof(cgroot), "/sys/fs/cgroup");
	} else if (is_cgroup2_writable("/sys/fs/cgroup/unified")) {
		snprintf(cgroot, sizeof(cgroot), "/sys/fs/cgroup/unified");
		bind_cgroot = true;
	} else {
		printf("# SKIP: no writable cgroup2 mount at /sys/fs/cgroup or "
		       "/sys/fs/cgroup/unified (the agent puts containers in cgroup v2)\n");
		cgroot[0] = '\0';
		return 77;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/nacelle-agent-test-XXXXXX");
	if (!mkdtemp(tmpdir) || chmod(tmpdir, 0755) < 0 || make_rootfs() < 0) {
		fprintf(stderr, "cannot make the rootfs in %s: %s\n", tmpdir, strerror(errno));
		return 1;
	}
	atest_set_rootfs(rootfs);
	snprintf(sock, sizeof(sock), "%s/agent.sock", tmpdir);
	snprintf(agent_log, sizeof(agent_log), "%s/agent.log", tmpdir);
	atest_use_unix(sock, tmpdir);
	printf("# agent %s, cgroup2 at %s%s, rootfs %s\n", agent_bin, cgroot,
	       bind_cgroot ? " (bound on /sys/fs/cgroup for the agent)" : "", rootfs);
	if (!start_agent()) {
		fprintf(stderr, "the agent did not answer Health\n");
		dump_log();
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *vsock = NULL, *guest_rootfs = NULL;
	int r;

	r = parse_args(argc, argv, &vsock, &guest_rootfs);
	if (r)
		return r;
	vm_mode = vsock != NULL;
	if (vm_mode) {
		atest_use_vsock(vsock, AGENT_PORT);
		atest_set_rootfs(guest_rootfs);
		printf("# agent in a VM through %s, share %s on %s, rootfs %s\n", vsock, share_tag,
		       share_mount, guest_rootfs);
		if (!wait_healthy(120)) {
			fprintf(stderr, "the agent did not answer Health through %s\n", vsock);
			dump_log();
			return 1;
		}
	} else {
		r = setup_host();
		if (r) {
			cleanup();
			return r;
		}
	}

	test_sandbox();
	atest_ctl_async(&oom_waiter, LONG_CALL_S, "GetOOMEvent", "{}");
	test_exit_and_streams();
	test_big_output();
	test_running();
	test_fd_isolation();
	test_terminal();
	test_seccomp();
	test_caps();
	test_netns();
	test_orphans();
	test_bad_requests();
	test_oom();
	stop_agent();
	r = atest_ctl_join(&oom_waiter, NULL);
	atest_report(r == CANCELLED || r == UNAVAILABLE,
		     "the GetOOMEvent outstanding at Shutdown ended (%d)", r);

	printf("# %d tests, %d failed (%s)\n", atest_tests, atest_failed,
	       vm_mode ? "the agent as PID 1 of a VM" : "the agent on the host");
	if (atest_failed)
		dump_log();
	cleanup();
	return atest_failed ? 1 : 0;
}
