/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nacelle-agent on the host, without a VM: the real binary listening on a
 * Unix socket (--listen unix:PATH, so not PID 1), every call made with
 * nacelle-agentctl --unix, containers from a busybox rootfs in a temporary
 * directory. The stdio "ports" are the agent's test-mode Unix sockets
 * DIR/stdio-<port>.sock, which this test connects to as the shim would to
 * vsock ports.
 *
 * Covers: Health, Version, SetupSandbox once; exit codes and separate
 * stdout/stderr; 10 MiB of output from a process that exits at once (every
 * byte must arrive before WaitProcess answers); exec into a running
 * container, stdin, CloseStdin; SIGTERM ignored then SIGKILL (137); pause,
 * resume, stats, processes; a terminal with ResizePty; a seccomp profile; the
 * capability sets; bad requests of every kind, after which the agent still
 * answers; RemoveContainer removing the cgroup; the agent cleaning up on exit.
 * OOM needs the memory controller in cgroup v2 (skipped without it).
 *
 * Needs root (namespaces, mounts, cgroups) and a writable cgroup2 mount at
 * /sys/fs/cgroup or /sys/fs/cgroup/unified (a hybrid host: the agent then
 * runs in a mount namespace of its own with the latter bound on the former).
 * Skips (77) with the reason otherwise. Env: NACELLE_AGENT, NACELLE_AGENTCTL.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUSYBOX "/bin/busybox"
#define BIG_OUTPUT (10u << 20)
#define KEEP_MAX (64u << 10)
#define STREAM_TIMEOUT_S 60
#define MIN_SZ(a, b) ((a) < (b) ? (a) : (b))

/* gRPC codes as nacelle-agentctl's exit status. */
enum {
	OK = 0,
	CANCELLED = 1,
	INVALID_ARGUMENT = 3,
	DEADLINE_EXCEEDED = 4,
	NOT_FOUND = 5,
	ALREADY_EXISTS = 6,
	RESOURCE_EXHAUSTED = 8,
	FAILED_PRECONDITION = 9,
	UNIMPLEMENTED = 12,
};

static const char *const applets[] = {
	"sh", "echo", "id", "cat", "sleep", "stty", "mkdir", "grep", "head", "tail", "true",
	"ls", "wc",
};

static const char *agent_bin, *ctl_bin;
static char tmpdir[64], rootfs[128], sock[128], agent_log[128];
static char cgroot[64];
static bool bind_cgroot; /* hybrid host: cgroot is bound on /sys/fs/cgroup for the agent */
static pid_t agent_pid;
static int n_tests, n_failed;
static atomic_uint req_seq;
static unsigned int next_port = 2000;

static void report(bool pass, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(bool pass, const char *fmt, ...)
{
	va_list ap;

	n_tests++;
	if (!pass)
		n_failed++;
	printf("%s %d - ", pass ? "ok" : "not ok", n_tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* ---- fixtures ---- */

static int copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0) {
		close(in);
		return -errno;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(in);
	close(out);
	return n < 0 ? -EIO : 0;
}

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
	if (copy_file(BUSYBOX, p, 0755) < 0)
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

static bool cgroup_exists(const char *id)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/nacelle/%s", cgroot, id);
	return access(p, F_OK) == 0;
}

/* ---- JSON text ---- */

/* s as a JSON string literal (malloc'd). */
static char *json_str(const char *s)
{
	size_t len = strlen(s), o = 0;
	char *r = malloc(len * 6 + 3);

	if (!r)
		abort();
	r[o++] = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			r[o++] = '\\';
			r[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)sprintf(r + o, "\\u%04x", c);
		} else {
			r[o++] = (char)c;
		}
	}
	r[o++] = '"';
	r[o] = '\0';
	return r;
}

/* The unsigned number after "key": in compact JSON, or -1. */
static long json_uint(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = json ? strstr(json, pat) : NULL;
	if (!p)
		return -1;
	return strtol(p + strlen(pat), NULL, 10);
}

/* ---- nacelle-agentctl ---- */

/*
 * Call rpc with the JSON request (printf format; written to a file, so any
 * size goes). Returns agentctl's exit status (the gRPC code); *out (if not
 * NULL) gets its stdout and stderr.
 */
static int ctl(char **out, int timeout_s, const char *rpc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int ctl(char **out, int timeout_s, const char *rpc, const char *fmt, ...)
{
	char req[256], arg[260], tmo[16];
	char *json = NULL, *buf = NULL;
	size_t len = 0, cap = 0;
	int pfd[2], status, fd, n;
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	n = vasprintf(&json, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	snprintf(req, sizeof(req), "%s/req-%u.json", tmpdir, atomic_fetch_add(&req_seq, 1));
	fd = open(req, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, json, (size_t)n) != n)
		abort();
	close(fd);
	free(json);
	snprintf(arg, sizeof(arg), "@%s", req);
	snprintf(tmo, sizeof(tmo), "%d", timeout_s);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		abort();
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execl(ctl_bin, ctl_bin, "--unix", sock, "--compact", "--timeout", tmo, rpc, arg,
		      (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t r;

		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		r = read(pfd[0], buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(pfd[0]);
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	buf[len] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	unlink(req);
	if (out)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* ctl() expecting a code; reports it. */
static bool expect(int want, const char *what, const char *rpc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static bool expect(int want, const char *what, const char *rpc, const char *fmt, ...)
{
	char *json = NULL, *out = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	if (vasprintf(&json, fmt, ap) < 0)
		abort();
	va_end(ap);
	r = ctl(&out, 30, rpc, "%s", json);
	report(r == want, "%s: %s -> %d (want %d)%s%.300s", what, rpc, r, want,
	       r == want ? "" : ": ", r == want ? "" : out);
	free(json);
	free(out);
	return r == want;
}

/* ---- specs and containers ---- */

/* A config.json running args (JSON array) in new namespaces; extras go inside
 * "process" and "linux". */
static char *make_spec(bool terminal, const char *args, const char *process_extra,
		       const char *linux_extra)
{
	char *s = NULL;

	if (asprintf(&s,
		     "{ \"ociVersion\": \"1.1.0\","
		     "  \"process\": { \"terminal\": %s, \"args\": %s,"
		     "    \"env\": [ \"PATH=/bin\", \"TERM=xterm\" ], \"cwd\": \"/\" %s },"
		     "  \"root\": { \"path\": \"replaced-by-the-agent\" },"
		     "  \"hostname\": \"nacelle-test\","
		     "  \"mounts\": ["
		     "    { \"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\" },"
		     "    { \"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
		     "      \"options\": [ \"nosuid\", \"mode=755\", \"size=1024k\" ] },"
		     "    { \"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\","
		     "      \"options\": [ \"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\","
		     "                   \"mode=0620\" ] } ],"
		     "  \"linux\": {"
		     "    \"namespaces\": [ { \"type\": \"pid\" }, { \"type\": \"mount\" },"
		     "      { \"type\": \"ipc\" }, { \"type\": \"uts\" }, { \"type\": \"network\" } ],"
		     "    \"maskedPaths\": [ \"/proc/kcore\" ],"
		     "    \"readonlyPaths\": [ \"/proc/sys\" ] %s } }",
		     terminal ? "true" : "false", args, process_extra ? process_extra : "",
		     linux_extra ? linux_extra : "") < 0)
		abort();
	return s;
}

/* CreateContainer with a spec and a stdio object; returns the code. */
static int create(const char *id, const char *spec, const char *stdio, char **out)
{
	char *js = json_str(spec);
	int r = ctl(out, 30, "CreateContainer",
		    "{ \"container_id\": \"%s\", \"spec\": %s, \"rootfs\": \"%s\", \"stdio\": %s }",
		    id, js, rootfs, stdio ? stdio : "{}");

	free(js);
	return r;
}

/* One host side of a stdio stream: connect, send input, read to EOF. */
struct stream {
	unsigned int port;
	int fd;
	pthread_t th;
	bool started;
	const char *input; /* sent first (NULL: nothing) */
	bool shut_wr;	   /* then half-close */
	char keep[KEEP_MAX + 1];
	size_t kept;
	uint64_t total;
	int error;
};

static void *stream_main(void *arg)
{
	struct stream *s = arg;
	char buf[65536];

	if (s->input) {
		size_t len = strlen(s->input), off = 0;

		while (off < len) {
			ssize_t w = write(s->fd, s->input + off, len - off);

			if (w <= 0) {
				s->error = errno;
				break;
			}
			off += (size_t)w;
		}
	}
	if (s->shut_wr)
		shutdown(s->fd, SHUT_WR);
	for (;;) {
		ssize_t n = read(s->fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			s->error = errno;
		if (n <= 0)
			break;
		if (s->kept < KEEP_MAX) {
			size_t k = MIN_SZ((size_t)n, KEEP_MAX - s->kept);

			memcpy(s->keep + s->kept, buf, k);
			s->kept += k;
		}
		s->total += (uint64_t)n;
	}
	s->keep[s->kept] = '\0';
	return NULL;
}

/* Connect to the agent's test-mode socket for port (it exists once the RPC returned). */
static bool stream_open(struct stream *s, unsigned int port, const char *input, bool shut_wr)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = STREAM_TIMEOUT_S };

	memset(s, 0, sizeof(*s));
	s->port = port;
	s->input = input;
	s->shut_wr = shut_wr;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/stdio-%u.sock", tmpdir, port);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "# connect %s: %s\n", sun.sun_path, strerror(errno));
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		return false;
	}
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (pthread_create(&s->th, NULL, stream_main, s) != 0)
		abort();
	s->started = true;
	return true;
}

static void stream_join(struct stream *s)
{
	if (s->started)
		pthread_join(s->th, NULL);
	s->started = false;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* WaitProcess: the exit status, or -code. */
static long wait_process(const char *id, const char *exec_id, int timeout_s)
{
	char *out = NULL;
	int r = ctl(&out, timeout_s, "WaitProcess",
		    "{ \"container_id\": \"%s\", \"exec_id\": \"%s\" }", id, exec_id);
	long v = r == OK ? json_uint(out, "exit_status") : -r;

	if (r != OK && r != DEADLINE_EXCEEDED)
		fprintf(stderr, "# WaitProcess %s/%s: %d %s\n", id, exec_id, r, out);
	free(out);
	return v;
}

static bool remove_container(const char *id)
{
	char *out = NULL;
	int r = ctl(&out, 30, "RemoveContainer", "{ \"container_id\": \"%s\" }", id);

	if (r != OK)
		fprintf(stderr, "# RemoveContainer %s: %d %s\n", id, r, out);
	free(out);
	return r == OK;
}

struct run_result {
	long status;
	struct stream out, err;
};

/* Create, connect stdout and stderr, start, wait, read both to EOF, remove. */
static bool run(const char *id, const char *spec, struct run_result *res)
{
	unsigned int po = next_port++, pe = next_port++;
	char stdio[128], *out = NULL;
	int r;

	memset(res, 0, sizeof(*res));
	res->status = -1;
	snprintf(stdio, sizeof(stdio), "{ \"stdout_port\": %u, \"stderr_port\": %u }", po, pe);
	r = create(id, spec, stdio, &out);
	if (r != OK) {
		fprintf(stderr, "# CreateContainer %s: %d %s\n", id, r, out);
		free(out);
		return false;
	}
	free(out);
	if (!stream_open(&res->out, po, NULL, true) || !stream_open(&res->err, pe, NULL, true))
		return false;
	r = ctl(&out, 30, "StartContainer", "{ \"container_id\": \"%s\" }", id);
	if (r != OK)
		fprintf(stderr, "# StartContainer %s: %d %s\n", id, r, out);
	free(out);
	res->status = wait_process(id, "", 60);
	stream_join(&res->out);
	stream_join(&res->err);
	return remove_container(id) && r == OK;
}

/* ---- the tests ---- */

static void test_sandbox(void)
{
	char *out = NULL;
	int r;

	r = ctl(&out, 10, "Health", "{}");
	report(r == OK && strstr(out, "SERVING_STATUS_SERVING"), "Health: %s", out);
	free(out);
	r = ctl(&out, 10, "Version", "{}");
	report(r == OK && json_uint(out, "api_version") == 1, "Version: %s", out);
	free(out);
	expect(OK, "SetupSandbox (host mode leaves the host alone)", "SetupSandbox",
	       "{ \"sandbox_id\": \"pod1\", \"hostname\": \"pod1\", "
	       "\"dns\": [ \"nameserver 10.0.0.1\" ] }");
	expect(FAILED_PRECONDITION, "SetupSandbox twice", "SetupSandbox",
	       "{ \"sandbox_id\": \"pod1\" }");
	expect(UNIMPLEMENTED, "UpdateRoutes not there yet", "UpdateRoutes", "{}");
}

static void test_exit_and_streams(void)
{
	char *spec = make_spec(false, "[ \"sh\", \"-c\", \"echo out; echo err >&2; exit 3\" ]",
			       NULL, NULL);
	struct run_result *res = calloc(1, sizeof(*res));
	bool ok = run("c1", spec, res);

	report(ok && res->status == 3, "exit 3 -> WaitProcess 3 (got %ld)", res->status);
	report(!strcmp(res->out.keep, "out\n"), "stdout \"out\" (got \"%s\")", res->out.keep);
	report(!strcmp(res->err.keep, "err\n"), "stderr \"err\" (got \"%s\")", res->err.keep);
	report(!cgroup_exists("c1"), "RemoveContainer removed the cgroup");
	free(spec);
	free(res);
}

static void test_big_output(void)
{
	char args[128];
	char *spec;
	struct run_result *res = calloc(1, sizeof(*res));
	bool ok;

	snprintf(args, sizeof(args), "[ \"head\", \"-c\", \"%u\", \"/dev/zero\" ]", BIG_OUTPUT);
	spec = make_spec(false, args, NULL, NULL);
	ok = run("big", spec, res);
	report(ok && res->status == 0, "10 MiB writer exits 0 (got %ld)", res->status);
	report(res->out.total == BIG_OUTPUT, "10 MiB arrive, nothing lost (%llu bytes)",
	       (unsigned long long)res->out.total);
	free(spec);
	free(res);
}

/* exec, stdin, CloseStdin, pause/resume, stats, processes, signals. */
static void test_running(void)
{
	char *spec = make_spec(false, "[ \"sh\", \"-c\", \"trap '' TERM; echo ready; sleep 1000\" ]",
			       NULL, NULL);
	unsigned int po = next_port++, p1 = next_port++, pin = next_port++, pout = next_port++;
	struct stream *s_init = calloc(1, sizeof(*s_init)), *s1 = calloc(1, sizeof(*s1));
	struct stream *s_in = calloc(1, sizeof(*s_in)), *s_out = calloc(1, sizeof(*s_out));
	char stdio[128], *out = NULL, pidstr[32];
	long init_pid, st;
	int r;

	snprintf(stdio, sizeof(stdio), "{ \"stdout_port\": %u }", po);
	r = create("c3", spec, stdio, &out);
	init_pid = json_uint(out, "pid");
	report(r == OK && init_pid > 0, "create c3 (pid %ld) %s", init_pid, r == OK ? "" : out);
	free(out);
	r = create("c3", spec, "{}", &out);
	report(r == ALREADY_EXISTS, "create c3 again -> %d (want %d) %s", r, ALREADY_EXISTS, out);
	free(out);
	free(spec);
	report(cgroup_exists("c3"), "c3's cgroup exists under %s/nacelle", cgroot);
	expect(FAILED_PRECONDITION, "exec before start", "ExecProcess",
	       "{ \"container_id\": \"c3\", \"exec_id\": \"e0\", \"process\": "
	       "\"{ \\\"args\\\": [ \\\"true\\\" ], \\\"cwd\\\": \\\"/\\\" }\" }");
	expect(FAILED_PRECONDITION, "pause a created container", "PauseContainer",
	       "{ \"container_id\": \"c3\" }");
	stream_open(s_init, po, NULL, true);
	expect(OK, "start c3", "StartContainer", "{ \"container_id\": \"c3\" }");
	expect(FAILED_PRECONDITION, "start c3 twice", "StartContainer", "{ \"container_id\": \"c3\" }");

	/* exec id: output and exit status */
	snprintf(stdio, sizeof(stdio), "{ \"stdout_port\": %u }", p1);
	r = ctl(&out, 30, "ExecProcess",
		"{ \"container_id\": \"c3\", \"exec_id\": \"e1\", \"stdio\": %s, \"process\": "
		"\"{ \\\"args\\\": [ \\\"id\\\" ], \\\"cwd\\\": \\\"/\\\", "
		"\\\"env\\\": [ \\\"PATH=/bin\\\" ] }\" }", stdio);
	report(r == OK, "exec id %s", r == OK ? "" : out);
	free(out);
	stream_open(s1, p1, NULL, true);
	st = wait_process("c3", "e1", 30);
	stream_join(s1);
	report(st == 0 && strstr(s1->keep, "uid=0"), "exec id: status %ld, \"%s\"", st, s1->keep);
	expect(NOT_FOUND, "WaitProcess for an exec already waited for", "WaitProcess",
	       "{ \"container_id\": \"c3\", \"exec_id\": \"e1\" }");

	/* stdin: cat echoes what the host sends, EOF when the host half-closes */
	snprintf(stdio, sizeof(stdio), "{ \"stdin_port\": %u, \"stdout_port\": %u }", pin, pout);
	r = ctl(&out, 30, "ExecProcess",
		"{ \"container_id\": \"c3\", \"exec_id\": \"cat1\", \"stdio\": %s, \"process\": "
		"\"{ \\\"args\\\": [ \\\"cat\\\" ], \\\"cwd\\\": \\\"/\\\" }\" }", stdio);
	report(r == OK, "exec cat %s", r == OK ? "" : out);
	free(out);
	stream_open(s_out, pout, NULL, true);
	stream_open(s_in, pin, "hello stdin\n", true);
	st = wait_process("c3", "cat1", 30);
	stream_join(s_in);
	stream_join(s_out);
	report(st == 0 && !strcmp(s_out->keep, "hello stdin\n"), "stdin -> cat -> stdout: %ld \"%s\"",
	       st, s_out->keep);

	/* CloseStdin: the host keeps its stream open, the agent ends the input */
	pin = next_port++;
	snprintf(stdio, sizeof(stdio), "{ \"stdin_port\": %u }", pin);
	r = ctl(&out, 30, "ExecProcess",
		"{ \"container_id\": \"c3\", \"exec_id\": \"cat2\", \"stdio\": %s, \"process\": "
		"\"{ \\\"args\\\": [ \\\"cat\\\" ], \\\"cwd\\\": \\\"/\\\" }\" }", stdio);
	free(out);
	stream_open(s_in, pin, "x", false);
	report(wait_process("c3", "cat2", 1) == -DEADLINE_EXCEEDED,
	       "cat waits for input (WaitProcess times out)");
	expect(OK, "CloseStdin", "CloseStdin", "{ \"container_id\": \"c3\", \"exec_id\": \"cat2\" }");
	st = wait_process("c3", "cat2", 30);
	stream_join(s_in);
	report(st == 0, "cat ends after CloseStdin (status %ld)", st);

	/* A daemon keeps the pipe: WaitProcess does not wait for it, its output still flows. */
	pout = next_port++;
	snprintf(stdio, sizeof(stdio), "{ \"stdout_port\": %u }", pout);
	r = ctl(&out, 30, "ExecProcess",
		"{ \"container_id\": \"c3\", \"exec_id\": \"d1\", \"stdio\": %s, \"process\": "
		"\"{ \\\"args\\\": [ \\\"sh\\\", \\\"-c\\\", "
		"\\\"(sleep 2; echo late) & echo early\\\" ], \\\"cwd\\\": \\\"/\\\" }\" }",
		stdio);
	report(r == OK, "exec a shell leaving a daemon %s", r == OK ? "" : out);
	free(out);
	stream_open(s_out, pout, NULL, true);
	{
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		st = wait_process("c3", "d1", 30);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		report(st == 0 && t1.tv_sec - t0.tv_sec < 2,
		       "WaitProcess does not wait for the daemon holding the pipe (%lds)",
		       (long)(t1.tv_sec - t0.tv_sec));
	}
	stream_join(s_out);
	report(!strcmp(s_out->keep, "early\nlate\n"), "the daemon's output follows (\"%s\")",
	       s_out->keep);

	/* No streams at all; a terminal nobody reads (its output is discarded). */
	r = ctl(&out, 30, "ExecProcess",
		"{ \"container_id\": \"c3\", \"exec_id\": \"n1\", \"process\": "
		"\"{ \\\"args\\\": [ \\\"echo\\\", \\\"lost\\\" ], \\\"cwd\\\": \\\"/\\\" }\" }");
	free(out);
	report(r == OK && wait_process("c3", "n1", 10) == 0, "exec without streams");
	r = ctl(&out, 30, "ExecProcess",
		"{ \"container_id\": \"c3\", \"exec_id\": \"n2\", \"stdio\": { \"terminal\": true }, "
		"\"process\": \"{ \\\"terminal\\\": true, \\\"args\\\": [ \\\"sh\\\", "
		"\\\"-c\\\", \\\"stty size; exit 4\\\" ], \\\"cwd\\\": \\\"/\\\" }\" }");
	report(r == OK && wait_process("c3", "n2", 10) == 4,
	       "exec with a terminal and no stream: exit 4 %s", r == OK ? "" : out);
	free(out);

	expect(FAILED_PRECONDITION, "ResizePty without a terminal", "ResizePty",
	       "{ \"container_id\": \"c3\", \"width\": 80, \"height\": 24 }");
	r = ctl(&out, 30, "ListProcesses", "{ \"container_id\": \"c3\" }");
	snprintf(pidstr, sizeof(pidstr), "%ld", init_pid);
	report(r == OK && strstr(out, pidstr), "ListProcesses has the init pid: %s", out);
	free(out);
	expect(OK, "pause", "PauseContainer", "{ \"container_id\": \"c3\" }");
	expect(FAILED_PRECONDITION, "pause twice", "PauseContainer", "{ \"container_id\": \"c3\" }");
	expect(FAILED_PRECONDITION, "exec into a paused container", "ExecProcess",
	       "{ \"container_id\": \"c3\", \"exec_id\": \"e2\", \"process\": "
	       "\"{ \\\"args\\\": [ \\\"true\\\" ], \\\"cwd\\\": \\\"/\\\" }\" }");
	expect(OK, "resume", "ResumeContainer", "{ \"container_id\": \"c3\" }");
	r = ctl(&out, 30, "StatsContainer", "{ \"container_id\": \"c3\" }");
	report(r == OK && strstr(out, "timestamp"), "StatsContainer: %.200s", out);
	free(out);
	expect(OK, "UpdateContainer (unified, nothing to change)", "UpdateContainer",
	       "{ \"container_id\": \"c3\", \"resources\": \"{}\" }");

	/* SIGTERM is trapped: still running; SIGKILL: 137 */
	expect(OK, "SIGTERM", "SignalProcess", "{ \"container_id\": \"c3\", \"signal\": 15 }");
	report(wait_process("c3", "", 1) == -DEADLINE_EXCEEDED, "still running after SIGTERM");
	expect(OK, "SIGKILL", "SignalProcess", "{ \"container_id\": \"c3\", \"signal\": 9 }");
	st = wait_process("c3", "", 30);
	report(st == 137, "killed: WaitProcess 137 (got %ld)", st);
	stream_join(s_init);
	report(!strcmp(s_init->keep, "ready\n"), "init's output \"ready\" (got \"%s\")", s_init->keep);
	expect(NOT_FOUND, "signal an exited process", "SignalProcess",
	       "{ \"container_id\": \"c3\", \"signal\": 9 }");
	report(wait_process("c3", "", 10) == 137, "init's status stays until RemoveContainer");
	report(remove_container("c3"), "remove c3");
	report(!cgroup_exists("c3"), "c3's cgroup is gone");
	expect(NOT_FOUND, "wait after remove", "WaitProcess", "{ \"container_id\": \"c3\" }");
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
	char *spec_a = make_spec(false, "[ \"cat\" ]", NULL, NULL);
	char *spec_b = make_spec(false, "[ \"true\" ]", NULL, NULL);
	struct stream *so = calloc(1, sizeof(*so)), *si = calloc(1, sizeof(*si));
	unsigned int pin = next_port++, pout = next_port++;
	char stdio[96], *out = NULL;
	long st;
	int r;

	snprintf(stdio, sizeof(stdio), "{ \"stdin_port\": %u, \"stdout_port\": %u }", pin, pout);
	r = create("fa", spec_a, stdio, &out);
	free(out);
	stream_open(so, pout, NULL, true);
	r |= ctl(NULL, 30, "StartContainer", "{ \"container_id\": \"fa\" }");
	/* fb is created (forked) while fa's pipes exist, and not started */
	r |= create("fb", spec_b, "{}", &out);
	free(out);
	report(r == OK, "fa running, fb created");
	stream_open(si, pin, "a\n", true);
	st = wait_process("fa", "", 5);
	stream_join(si);
	stream_join(so);
	report(st == 0 && !strcmp(so->keep, "a\n"),
	       "fa's stdin reaches EOF although fb waits to start (status %ld, \"%s\")", st,
	       so->keep);
	report(remove_container("fa") && remove_container("fb"), "remove fa, fb");
	free(spec_a);
	free(spec_b);
	free(so);
	free(si);
}

static void test_terminal(void)
{
	char *spec = make_spec(true, "[ \"sh\", \"-c\", \"stty size; test -t 0 && echo tty\" ]",
			       NULL, NULL);
	unsigned int pt = next_port++;
	struct stream *s = calloc(1, sizeof(*s));
	char stdio[128], *out = NULL, *js;
	long st;
	int r;

	snprintf(stdio, sizeof(stdio), "{ \"stdout_port\": %u }", pt);
	js = json_str(spec);
	expect(INVALID_ARGUMENT, "terminal spec without a terminal stream", "CreateContainer",
	       "{ \"container_id\": \"t1\", \"spec\": %s, \"rootfs\": \"%s\", \"stdio\": %s }",
	       js, rootfs, stdio);
	free(js);
	snprintf(stdio, sizeof(stdio), "{ \"terminal\": true, \"terminal_port\": %u }", pt);
	r = create("t1", spec, stdio, &out);
	report(r == OK, "create with a terminal %s", r == OK ? "" : out);
	free(out);
	stream_open(s, pt, NULL, false);
	expect(OK, "ResizePty 100x40", "ResizePty",
	       "{ \"container_id\": \"t1\", \"width\": 100, \"height\": 40 }");
	expect(OK, "start t1", "StartContainer", "{ \"container_id\": \"t1\" }");
	st = wait_process("t1", "", 30);
	stream_join(s);
	report(st == 0 && strstr(s->keep, "40 100") && strstr(s->keep, "tty"),
	       "stty size through the terminal: %ld \"%s\"", st, s->keep);
	report(remove_container("t1"), "remove t1");
	free(spec);
	free(s);
}

static void test_seccomp(void)
{
	char *spec = make_spec(
		false, "[ \"sh\", \"-c\", \"echo hi; mkdir /tmp/x; echo rc=$?\" ]", NULL,
		", \"seccomp\": { \"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [ "
		"{ \"names\": [ \"mkdir\", \"mkdirat\" ], \"action\": \"SCMP_ACT_ERRNO\" } ] }");
	struct run_result *res = calloc(1, sizeof(*res));
	bool ok = run("sc1", spec, res);

	report(ok && res->status == 0 && !strcmp(res->out.keep, "hi\nrc=1\n"),
	       "seccomp: echo works, mkdir fails (status %ld, \"%s\")", res->status, res->out.keep);
	report(strstr(res->err.keep, "Operation not permitted") != NULL, "mkdir: EPERM (\"%s\")",
	       res->err.keep);
	free(spec);
	free(res);
}

static void test_caps(void)
{
	char *spec = make_spec(
		false, "[ \"grep\", \"^Cap\", \"/proc/self/status\" ]",
		", \"capabilities\": { \"bounding\": [ \"CAP_CHOWN\", \"CAP_KILL\" ],"
		" \"effective\": [ \"CAP_CHOWN\", \"CAP_KILL\" ],"
		" \"permitted\": [ \"CAP_CHOWN\", \"CAP_KILL\" ], \"inheritable\": [], \"ambient\": [] }",
		NULL);
	struct run_result *res = calloc(1, sizeof(*res));
	bool ok = run("cap1", spec, res);
	const char *o = res->out.keep;

	report(ok && res->status == 0 && strstr(o, "CapEff:\t0000000000000021") &&
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
	spec = make_spec(false, "[ \"sleep\", \"1000\" ]", NULL, NULL);
	js = json_str(spec);

#define CREATE(want, what, id, specjson, root, stdio)                                          \
	expect(want, what, "CreateContainer",                                                 \
	       "{ \"container_id\": \"%s\", \"spec\": %s, \"rootfs\": \"%s\", \"stdio\": %s }", \
	       id, specjson, root, stdio)

	CREATE(INVALID_ARGUMENT, "empty id", "", js, rootfs, "{}");
	CREATE(INVALID_ARGUMENT, "id ../x", "../x", js, rootfs, "{}");
	CREATE(INVALID_ARGUMENT, "id a/b", "a/b", js, rootfs, "{}");
	CREATE(INVALID_ARGUMENT, "id of 200 characters", long_id, js, rootfs, "{}");
	CREATE(INVALID_ARGUMENT, "spec is not JSON", "bad1", "\"nonsense {\"", rootfs, "{}");
	CREATE(INVALID_ARGUMENT, "spec without ociVersion", "bad2", "\"{}\"", rootfs, "{}");
	CREATE(INVALID_ARGUMENT, "spec with args of the wrong type", "bad3",
	       "\"{ \\\"ociVersion\\\": \\\"1.1.0\\\", \\\"process\\\": { \\\"args\\\": 5, "
	       "\\\"cwd\\\": \\\"/\\\" } }\"", rootfs, "{}");
	CREATE(INVALID_ARGUMENT, "spec without a process", "bad4",
	       "\"{ \\\"ociVersion\\\": \\\"1.1.0\\\" }\"", rootfs, "{}");
	CREATE(INVALID_ARGUMENT, "relative rootfs", "bad5", js, "rootfs", "{}");
	CREATE(NOT_FOUND, "missing rootfs", "bad6", js, "/nonexistent/rootfs", "{}");
	CREATE(INVALID_ARGUMENT, "stdio port below 1025", "bad7", js, rootfs,
	       "{ \"stdout_port\": 5 }");
	CREATE(INVALID_ARGUMENT, "stdio port twice", "bad8", js, rootfs,
	       "{ \"stdout_port\": 3000, \"stderr_port\": 3000 }");
	CREATE(INVALID_ARGUMENT, "cgroupsPath escaping", "bad9",
	       "\"{ \\\"ociVersion\\\": \\\"1.1.0\\\", \\\"process\\\": { \\\"args\\\": "
	       "[ \\\"true\\\" ], \\\"cwd\\\": \\\"/\\\" }, \\\"linux\\\": { \\\"cgroupsPath\\\": "
	       "\\\"/../../x\\\", \\\"namespaces\\\": [ { \\\"type\\\": \\\"mount\\\" } ] } }\"",
	       rootfs, "{}");
	/* wrong JSON types in the request itself never reach the agent (agentctl: 65) */
	r = ctl(&out, 10, "CreateContainer", "{ \"container_id\": 5 }");
	report(r == 65, "request field of the wrong type refused by agentctl (%d)", r);
	free(out);

	expect(NOT_FOUND, "start an unknown container", "StartContainer",
	       "{ \"container_id\": \"nope\" }");
	expect(NOT_FOUND, "wait for an unknown container", "WaitProcess",
	       "{ \"container_id\": \"nope\" }");
	expect(NOT_FOUND, "signal an unknown container", "SignalProcess",
	       "{ \"container_id\": \"nope\", \"signal\": 9 }");
	expect(INVALID_ARGUMENT, "signal 0", "SignalProcess",
	       "{ \"container_id\": \"nope\", \"signal\": 0 }");
	expect(INVALID_ARGUMENT, "signal 65", "SignalProcess",
	       "{ \"container_id\": \"nope\", \"signal\": 65 }");
	expect(NOT_FOUND, "exec into an unknown container", "ExecProcess",
	       "{ \"container_id\": \"nope\", \"exec_id\": \"e\", \"process\": %s }", ok_process);
	expect(INVALID_ARGUMENT, "exec without an exec id", "ExecProcess",
	       "{ \"container_id\": \"nope\", \"exec_id\": \"\", \"process\": %s }", ok_process);
	expect(INVALID_ARGUMENT, "exec with a process of the wrong type", "ExecProcess",
	       "{ \"container_id\": \"nope\", \"exec_id\": \"e\", \"process\": \"[ 1, 2 ]\" }");
	expect(INVALID_ARGUMENT, "resize to 0 columns", "ResizePty",
	       "{ \"container_id\": \"nope\", \"width\": 0, \"height\": 10 }");
	expect(INVALID_ARGUMENT, "update with bad resources", "UpdateContainer",
	       "{ \"container_id\": \"nope\", \"resources\": \"{ \\\"memory\\\": 7 }\" }");
	expect(NOT_FOUND, "remove an unknown container", "RemoveContainer",
	       "{ \"container_id\": \"nope\" }");
	expect(NOT_FOUND, "pause an unknown container", "PauseContainer",
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
		CREATE(INVALID_ARGUMENT, "2 MiB spec", "huge1", q, rootfs, "{}");
		free(q);
	}
	huge[2u << 20] = 'x';
	r = ctl(&out, 30, "CreateContainer",
		"{ \"container_id\": \"huge2\", \"spec\": \"%s\", \"rootfs\": \"/\" }", huge);
	report(r == RESOURCE_EXHAUSTED || r == INVALID_ARGUMENT,
	       "5 MiB request refused (%d: %.200s)", r, out);
	free(out);
	free(huge);

	r = ctl(&out, 10, "Health", "{}");
	report(r == OK && strstr(out, "SERVING_STATUS_SERVING"), "still healthy after bad requests");
	free(out);
	free(js);
	free(spec);
#undef CREATE
}

/* GetOOMEvent blocks, and the client's deadline cancels it. */
static void test_oom(void)
{
	char p[256];

	report(ctl(NULL, 1, "GetOOMEvent", "{}") == DEADLINE_EXCEEDED,
	       "GetOOMEvent blocks until its deadline");
	snprintf(p, sizeof(p), "%s/cgroup.controllers", cgroot);
	if (!file_contains(p, "memory")) {
		printf("# SKIP OOM kill: no memory controller in %s (the memory cgroup is on "
		       "cgroup v1 here); tested in the VM\n", cgroot);
		return;
	}
	{
		char *spec = make_spec(false, "[ \"sh\", \"-c\", \"head -c 200000000 /dev/zero | tail\" ]",
				       NULL, ", \"resources\": { \"memory\": { \"limit\": 16777216, "
				       "\"swap\": 16777216 } }");
		char *out = NULL;
		int r = create("oom1", spec, "{}", &out);

		free(out);
		report(r == OK, "create oom1 with a 16 MiB limit");
		expect(OK, "start oom1", "StartContainer", "{ \"container_id\": \"oom1\" }");
		r = ctl(&out, 30, "GetOOMEvent", "{}");
		report(r == OK && strstr(out, "oom1"), "GetOOMEvent names oom1: %s", out);
		free(out);
		wait_process("oom1", "", 30);
		remove_container("oom1");
		free(spec);
	}
}

/* ---- the agent ---- */

static void dump_log(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "tail -n 80 '%s' | sed 's/^/# agent: /' >&2", agent_log);
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
		if (access(sock, F_OK) == 0 && ctl(NULL, 2, "Health", "{}") == OK)
			return true;
		if (waitpid(agent_pid, NULL, WNOHANG) == agent_pid) {
			agent_pid = 0;
			return false;
		}
		usleep(50000);
	}
	return false;
}

/* Shutdown leaves a running container behind on purpose: the agent must kill it. */
static void stop_agent(void)
{
	char *spec = make_spec(false, "[ \"sleep\", \"1000\" ]", NULL, NULL);
	char *out = NULL;
	int status = -1;
	bool exited = false;

	if (create("left", spec, "{}", &out) == OK)
		(void)ctl(NULL, 10, "StartContainer", "{ \"container_id\": \"left\" }");
	free(out);
	free(spec);
	report(cgroup_exists("left"), "a container left running for the shutdown");
	report(ctl(NULL, 10, "Shutdown", "{}") == OK, "Shutdown answered");
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
	report(exited && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "the agent exits 0 after Shutdown (host mode)");
	report(!cgroup_exists("left"), "the agent removed the running container's cgroup on exit");
	agent_pid = 0;
}

static void cleanup(void)
{
	char p[256], cmd[320];

	if (agent_pid > 0) {
		kill(agent_pid, SIGKILL);
		waitpid(agent_pid, NULL, 0);
	}
	if (cgroot[0]) {
		snprintf(p, sizeof(p), "%s/nacelle", cgroot);
		(void)rmdir(p); /* only if empty: another agent may use it */
	}
	if (!strncmp(tmpdir, "/tmp/nacelle-agent-test-", 24)) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "# could not remove %s\n", tmpdir);
	}
}

int main(void)
{
	if (geteuid() != 0) {
		printf("# SKIP: needs root (namespaces, mounts, cgroups)\n");
		return 77;
	}
	agent_bin = getenv("NACELLE_AGENT");
	ctl_bin = getenv("NACELLE_AGENTCTL");
	if (!agent_bin || !ctl_bin) {
		fprintf(stderr, "NACELLE_AGENT and NACELLE_AGENTCTL must name the binaries\n");
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
		return 77;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/nacelle-agent-test-XXXXXX");
	if (!mkdtemp(tmpdir) || chmod(tmpdir, 0755) < 0 || make_rootfs() < 0) {
		fprintf(stderr, "cannot make the rootfs in %s: %s\n", tmpdir, strerror(errno));
		cleanup();
		return 1;
	}
	snprintf(sock, sizeof(sock), "%s/agent.sock", tmpdir);
	snprintf(agent_log, sizeof(agent_log), "%s/agent.log", tmpdir);
	printf("# agent %s, cgroup2 at %s%s, rootfs %s\n", agent_bin, cgroot,
	       bind_cgroot ? " (bound on /sys/fs/cgroup for the agent)" : "", rootfs);
	if (!start_agent()) {
		fprintf(stderr, "the agent did not answer Health\n");
		dump_log();
		cleanup();
		return 1;
	}

	test_sandbox();
	test_exit_and_streams();
	test_big_output();
	test_running();
	test_fd_isolation();
	test_terminal();
	test_seccomp();
	test_caps();
	test_bad_requests();
	test_oom();
	stop_agent();

	printf("# %d tests, %d failed\n", n_tests, n_failed);
	if (n_failed)
		dump_log();
	cleanup();
	return n_failed ? 1 : 0;
}
