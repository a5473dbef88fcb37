/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The measuring side of bench/agent/run.sh (the agent as PID 1 of a VM):
 *
 *   agent-bench vm --vsock PATH --share TAG:MOUNTPOINT --rootfs GUESTPATH
 *                  [--iterations N] [--sleepers N] -- VMM [ARGS...]
 *       starts the VMM (which boots the agent's image with PATH as its hybrid
 *       vsock socket) and prints RESULT lines:
 *         RESULT ready S            VMM started -> first Health answered (polled
 *                                   every POLL_MS: dial "CONNECT 1024", Health)
 *         RESULT cycle S1 S2        N times: CreateContainer + StartContainer +
 *                                   WaitProcess of `true` (S1), then
 *                                   RemoveContainer (S2); no stdio streams
 *         RESULT rss STAGE VmRSS RssAnon RssShmem Threads Fds   (kB, kB, kB, counts)
 *                                   the agent's /proc/1/status at: "boot"
 *                                   (after SetupSandbox), "idle" (after the
 *                                   cycles), "busy" (N sleepers running)
 *         RESULT vmm-exit CODE      after Shutdown
 *   agent-bench cmd N -- CMD [ARGS...]
 *       runs CMD N times (fork, exec, wait): RESULT cmd S per run (for a peer
 *       such as `runc run`).
 *
 * How the agent's RSS is read from inside the guest: a container whose spec
 * has no PID namespace (only a mount namespace, /proc mounted fresh) sees
 * the guest's PID namespace, where PID 1 is the agent, and prints the lines
 * of /proc/1/status. That probe is itself a container with stdout and
 * stderr streams, so the "idle" figure is the agent with one container.
 * The agent's binary and libraries live in the initramfs (a tmpfs): their
 * pages count as RssShmem, not RssFile.
 * The sleepers also have stdout and stderr streams connected, as the shim
 * connects them.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent-test-lib.h"

#define AGENT_PORT 1024
/* Readiness polling: one attempt every POLL_MS, for at most READY_TIMEOUT_S. */
#define POLL_MS 10
#define READY_TIMEOUT_S 300
#define MAX_SLEEPERS 64
#define VMM_EXIT_TIMEOUT_S 60

static pid_t vmm_pid;

static void usage(FILE *f)
{
	fprintf(f, "usage: agent-bench vm --vsock PATH --share TAG:MOUNTPOINT --rootfs GUESTPATH\n"
		   "                     [--iterations N] [--sleepers N] -- VMM [ARGS...]\n"
		   "       agent-bench cmd N -- CMD [ARGS...]\n");
}

static pid_t spawn(char **argv)
{
	pid_t pid = fork();

	if (pid == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "agent-bench: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

static int wait_exit(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int cmd_main(int argc, char **argv)
{
	long n;

	if (argc < 4 || strcmp(argv[2], "--") || (n = strtol(argv[1], NULL, 10)) < 1) {
		usage(stderr);
		return 2;
	}
	for (long i = 0; i < n; i++) {
		double t0 = atest_now();
		int rc = wait_exit(spawn(argv + 3));

		if (rc != 0) {
			printf("RESULT cmd-fail %d\n", rc);
			return 1;
		}
		printf("RESULT cmd %.6f\n", atest_now() - t0);
		fflush(stdout);
	}
	return 0;
}

/* The agent's /proc/1/status, through a container without a PID namespace. */
static bool rss(const char *stage)
{
	static unsigned int seq;
	/* no PID namespace; UTS for the spec's hostname */
	const char *ns = "[ { \"type\": \"mount\" }, { \"type\": \"uts\" } ]";
	struct atest_run_result *res = calloc(1, sizeof(*res));
	char id[32], *spec;
	long v[5] = { -1, -1, -1, -1, -1 };
	bool ok;

	if (!res)
		abort();
	spec = atest_make_spec_ns(false,
				  "[ \"sh\", \"-c\", \"grep -E '^(VmRSS|RssAnon|RssShmem|Threads):' "
				  "/proc/1/status; echo Fds: $(ls /proc/1/fd | wc -l)\" ]",
				  NULL, NULL, ns, NULL);
	snprintf(id, sizeof(id), "rss%u", seq++);
	ok = atest_run(id, spec, res) && res->status == 0;
	if (ok) {
		static const char *const keys[] = { "VmRSS:", "RssAnon:", "RssShmem:", "Threads:",
						    "Fds:" };

		for (size_t i = 0; i < 5; i++) {
			const char *p = strstr(res->out.keep, keys[i]);

			v[i] = p ? strtol(p + strlen(keys[i]), NULL, 10) : -1;
		}
		printf("RESULT rss %s %ld %ld %ld %ld %ld\n", stage, v[0], v[1], v[2], v[3], v[4]);
	} else {
		fprintf(stderr, "agent-bench: rss probe: status %ld: %s %s\n", res->status,
			res->out.keep, res->err.keep);
	}
	fflush(stdout);
	free(spec);
	free(res);
	return ok;
}

static bool cycles(int n)
{
	char *spec = atest_make_spec(false, "[ \"true\" ]", NULL, NULL);
	char id[32], *out = NULL;
	bool ok = true;

	for (int i = 0; i < n && ok; i++) {
		double t0, t1, t2;
		long st;
		int r;

		snprintf(id, sizeof(id), "t%d", i);
		t0 = atest_now();
		r = atest_create(id, spec, "{}", &out);
		if (r == OK)
			r = atest_ctl(&out, 30, "StartContainer", "{ \"container_id\": \"%s\" }", id);
		if (r != OK) {
			fprintf(stderr, "agent-bench: %s: %d %s\n", id, r, out);
			ok = false;
		}
		free(out);
		out = NULL;
		st = atest_wait(id, "", 60);
		t1 = atest_now();
		ok = atest_remove(id) && ok && st == 0;
		t2 = atest_now();
		if (ok)
			printf("RESULT cycle %.6f %.6f\n", t1 - t0, t2 - t1);
		fflush(stdout);
	}
	free(spec);
	return ok;
}

/* n containers running `sleep 1000` with stdout and stderr connected. */
static bool sleepers_start(int n, struct atest_stream *streams)
{
	char *spec = atest_make_spec(false, "[ \"sleep\", \"1000\" ]", NULL, NULL);
	char id[32], stdio[96], *out = NULL;
	bool ok = true;

	for (int i = 0; i < n && ok; i++) {
		unsigned int po = atest_port(), pe = atest_port();

		snprintf(id, sizeof(id), "s%d", i);
		snprintf(stdio, sizeof(stdio), "{ \"stdout_port\": %u, \"stderr_port\": %u }", po,
			 pe);
		ok = atest_create(id, spec, stdio, &out) == OK &&
		     atest_stream_open(&streams[2 * i], po, NULL, true) &&
		     atest_stream_open(&streams[2 * i + 1], pe, NULL, true) &&
		     atest_ctl(NULL, 30, "StartContainer", "{ \"container_id\": \"%s\" }", id) == OK;
		if (!ok)
			fprintf(stderr, "agent-bench: sleeper %s: %s\n", id, out ? out : "");
		free(out);
		out = NULL;
	}
	free(spec);
	return ok;
}

static void sleepers_stop(int n, struct atest_stream *streams)
{
	char id[32];

	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "s%d", i);
		(void)atest_ctl(NULL, 10, "SignalProcess", "{ \"container_id\": \"%s\", \"signal\": 9 }",
				id);
		(void)atest_wait(id, "", 30);
		atest_stream_join(&streams[2 * i]);
		atest_stream_join(&streams[2 * i + 1]);
		(void)atest_remove(id);
	}
}

/* First Health answered after the VMM started; -1 if the VMM died or never. */
static double wait_ready(double t0)
{
	while (atest_now() - t0 < READY_TIMEOUT_S) {
		if (atest_connect(NULL, 0) == 0 && atest_ctl(NULL, 5, "Health", "{}") == OK)
			return atest_now() - t0;
		atest_disconnect();
		if (waitpid(vmm_pid, NULL, WNOHANG) == vmm_pid) {
			vmm_pid = 0;
			return -1;
		}
		usleep(POLL_MS * 1000);
	}
	return -1;
}

static int vm_main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "vsock", required_argument, NULL, 'v' },
		{ "share", required_argument, NULL, 's' },
		{ "rootfs", required_argument, NULL, 'r' },
		{ "iterations", required_argument, NULL, 'i' },
		{ "sleepers", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *vsock = NULL, *share = NULL, *rootfs = NULL, *colon;
	int c, iterations = 20, sleepers = 10, rc = 1;
	struct atest_stream *streams;
	char tag[64];
	double t0, ready;
	bool ok;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'v':
			vsock = optarg;
			break;
		case 's':
			share = optarg;
			break;
		case 'r':
			rootfs = optarg;
			break;
		case 'i':
			iterations = atoi(optarg);
			break;
		case 'n':
			sleepers = atoi(optarg);
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	colon = share ? strchr(share, ':') : NULL;
	if (!vsock || !rootfs || !colon || (size_t)(colon - share) >= sizeof(tag) ||
	    optind >= argc || iterations < 1 || sleepers < 0 || sleepers > MAX_SLEEPERS) {
		usage(stderr);
		return 2;
	}
	snprintf(tag, sizeof(tag), "%.*s", (int)(colon - share), share);
	streams = calloc((size_t)(2 * sleepers + 1), sizeof(*streams));
	if (!streams)
		abort();
	atest_use_vsock(vsock, AGENT_PORT);
	atest_set_rootfs(rootfs);
	(void)unlink(vsock);

	t0 = atest_now();
	vmm_pid = spawn(argv + optind);
	if (vmm_pid < 0)
		return 1;
	ready = wait_ready(t0);
	if (ready < 0) {
		fprintf(stderr, "agent-bench: the agent never answered Health\n");
		goto out;
	}
	printf("RESULT ready %.6f\n", ready);
	fflush(stdout);
	ok = atest_ctl(NULL, 30, "SetupSandbox",
		       "{ \"sandbox_id\": \"bench\", \"shared_mounts\": [ { \"tag\": \"%s\", "
		       "\"mount_point\": \"%s\" } ] }",
		       tag, colon + 1) == OK;
	ok = ok && rss("boot") && cycles(iterations) && rss("idle");
	if (ok && sleepers > 0) {
		ok = sleepers_start(sleepers, streams) && rss("busy");
		sleepers_stop(sleepers, streams);
	}
	if (atest_ctl(NULL, 10, "Shutdown", "{}") != OK)
		fprintf(stderr, "agent-bench: Shutdown failed\n");
	rc = ok ? 0 : 1;
out:
	atest_disconnect();
	if (vmm_pid > 0) {
		int code = -1;

		for (int i = 0; i < VMM_EXIT_TIMEOUT_S * 10 && code < 0; i++) {
			int status;

			if (waitpid(vmm_pid, &status, WNOHANG) == vmm_pid)
				code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			else
				usleep(100000);
		}
		if (code < 0) {
			kill(vmm_pid, SIGKILL);
			code = wait_exit(vmm_pid);
			rc = 1;
		}
		printf("RESULT vmm-exit %d\n", code);
	}
	free(streams);
	return rc;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && !strcmp(argv[1], "vm"))
		return vm_main(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "cmd"))
		return cmd_main(argc - 1, argv + 1);
	usage(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
	return 2;
}
