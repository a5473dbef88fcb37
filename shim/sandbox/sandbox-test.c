/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The whole runtime (shim_sandbox_runtime_ops) on a host without a VM:
 * nacelle-vmm is replaced by a fake with an agent inside (fake-vmm.c, this
 * binary re-executed), virtiofsd is Debian's when installed (else a fake).
 * Root only (real mounts, in a private mount namespace of the test).
 *   - a pod: sandbox + containers + execs; rootfs and volume mounts on the
 *     share; exit reports after the output reached the FIFOs; terminal
 *     execs, resize, CloseIO; kill, pids, stats, update, pause, resume; OOM
 *     events; refusals (running, duplicate, foreign pod); the last remove
 *     stops the VM and nothing is left (directory, mounts, processes);
 *   - death of nacelle-vmm or virtiofsd: every process reported 255 once,
 *     ops fail, remove and close still clean up;
 *   - boot failures (no agent, boot refused, no VMM binary, API version,
 *     bad config): an error that says why, and nothing left behind;
 *   - close() with everything running: no callbacks, nothing left;
 *   - the delete subcommand's cleanup after a dead shim.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "child.h"
#include "common/log.h"
#include "common/test.h"
#include "config.h"
#include "fake-vmm.h"
#include "mount.h"
#include "pod-paths.h"
#include "shim/runtime.h"
#include "util.h"

static const struct shim_runtime_ops *ops = &shim_sandbox_runtime_ops;
static char dir[] = "/tmp/nacelle-sandbox-test.XXXXXX";
static char self_exe[512], virtiofsd[512], config_path[600], fake_log[600];

/* ---- events ---- */

struct exit_rec {
	char id[80], exec[80];
	uint32_t pid, status;
	int count;
	char out[256];	/* what the stdout FIFO held when the exit came */
	bool out_eof;	/* and whether its writer was already gone */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct exit_rec recs[64];
	int n;
	char oom[8][80];
	int n_oom;
	/* FIFOs read at exit time: "<id>/<exec>" -> read end */
	char drain_key[16][160];
	int drain_fd[16];
	int n_drain;
	int bad_calls; /* callbacks with a wrong task pointer or time */
} EV = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void key_of(char *buf, size_t size, const char *id, const char *exec)
{
	snprintf(buf, size, "%s/%s", id, exec ? exec : "");
}

static void on_exited(void *task, const char *id, const char *exec_id, uint32_t pid,
		      uint32_t status, const struct timespec *at)
{
	char key[160];
	struct exit_rec *r = NULL;

	key_of(key, sizeof(key), id, exec_id);
	pthread_mutex_lock(&EV.lock);
	/* Checked by the main thread (the check counters are not thread-safe). */
	if (task != (void *)&EV || !at || at->tv_sec <= 0)
		EV.bad_calls++;
	for (int i = 0; i < EV.n; i++)
		if (strcmp(EV.recs[i].id, id) == 0 && strcmp(EV.recs[i].exec, exec_id) == 0)
			r = &EV.recs[i];
	if (!r && EV.n < 64) {
		r = &EV.recs[EV.n++];
		snprintf(r->id, sizeof(r->id), "%s", id);
		snprintf(r->exec, sizeof(r->exec), "%s", exec_id);
		/* The output must be in the FIFO, its writer closed, by now. */
		for (int i = 0; i < EV.n_drain; i++) {
			size_t len = 0;

			if (strcmp(EV.drain_key[i], key) != 0)
				continue;
			for (;;) {
				ssize_t n = read(EV.drain_fd[i], r->out + len, sizeof(r->out) - 1 - len);

				if (n > 0) {
					len += (size_t)n;
					continue;
				}
				r->out_eof = n == 0;
				break;
			}
			r->out[len] = '\0';
		}
	}
	if (r) {
		r->pid = pid;
		r->status = status;
		r->count++;
	}
	pthread_cond_broadcast(&EV.cond);
	pthread_mutex_unlock(&EV.lock);
}

static void on_oom(void *task, const char *id)
{
	pthread_mutex_lock(&EV.lock);
	if (task != (void *)&EV)
		EV.bad_calls++;
	if (EV.n_oom < 8)
		snprintf(EV.oom[EV.n_oom++], sizeof(EV.oom[0]), "%s", id);
	pthread_cond_broadcast(&EV.cond);
	pthread_mutex_unlock(&EV.lock);
}

static const struct shim_runtime_events events = { on_exited, on_oom };

/* The exit of id/exec within 10 s; a copy (count 0 if none came). */
static struct exit_rec wait_exit(const char *id, const char *exec)
{
	struct exit_rec out = { 0 };
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&EV.lock);
	for (;;) {
		bool found = false;

		for (int i = 0; i < EV.n; i++)
			if (strcmp(EV.recs[i].id, id) == 0 && strcmp(EV.recs[i].exec, exec) == 0) {
				out = EV.recs[i];
				found = true;
			}
		if (found || pthread_cond_timedwait(&EV.cond, &EV.lock, &ts) != 0)
			break;
	}
	pthread_mutex_unlock(&EV.lock);
	if (!out.count)
		fprintf(stderr, "no exit for %s/%s\n", id, exec);
	return out;
}

static int exit_count(const char *id, const char *exec)
{
	int n = 0;

	pthread_mutex_lock(&EV.lock);
	for (int i = 0; i < EV.n; i++)
		if (strcmp(EV.recs[i].id, id) == 0 && strcmp(EV.recs[i].exec, exec) == 0)
			n = EV.recs[i].count;
	pthread_mutex_unlock(&EV.lock);
	return n;
}

static bool wait_oom(const char *id)
{
	struct timespec ts;
	bool found = false;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&EV.lock);
	while (!found) {
		for (int i = 0; i < EV.n_oom; i++)
			found |= strcmp(EV.oom[i], id) == 0;
		if (!found && pthread_cond_timedwait(&EV.cond, &EV.lock, &ts) != 0)
			break;
	}
	pthread_mutex_unlock(&EV.lock);
	return found;
}

/* ---- bundles, FIFOs ---- */

static char *tmp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* <dir>/<formatted>, in one of a ring of buffers. */
static char *tmp(const char *fmt, ...)
{
	static char bufs[16][600];
	static int next;
	char *b = bufs[next++ % 16];
	char rel[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(b, 600, "%s/%s", dir, rel);
	return b;
}

static void write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
		close(fd);
	}
}

/* <dir>/bundles/<name>/{config.json, rootfs/marker} */
static const char *make_bundle(const char *name, const char *type, const char *sandbox,
			       const char *args, const char *extra_mounts)
{
	static char bundle[600];
	char *json, annotations[300] = "";

	snprintf(bundle, sizeof(bundle), "%s/bundles/%s", dir, name);
	mkdir(tmp("bundles"), 0755);
	mkdir(bundle, 0755);
	mkdir(tmp("bundles/%s/rootfs", name), 0755);
	write_text(tmp("bundles/%s/rootfs/marker", name), name);
	if (type)
		snprintf(annotations, sizeof(annotations),
			 "\"io.kubernetes.cri.container-type\": \"%s\", "
			 "\"io.kubernetes.cri.sandbox-id\": \"%s\"",
			 type, sandbox);
	json = strprintf(
		"{\"ociVersion\": \"1.0.2\", \"hostname\": \"%s-host\",\n"
		" \"process\": {\"args\": %s, \"cwd\": \"/\", \"user\": {\"uid\": 0, \"gid\": 0}},\n"
		" \"root\": {\"path\": \"rootfs\"},\n"
		" \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"}%s],\n"
		" \"hooks\": {\"prestart\": [{\"path\": \"/bin/false\"}]},\n"
		" \"annotations\": {%s},\n"
		" \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\", \"path\": \"/var/run/netns/x\"}],\n"
		"   \"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]},\n"
		"   \"cgroupsPath\": \"/kubepods/%s\"}}\n",
		name, args, extra_mounts ? extra_mounts : "", annotations, name);
	write_text(tmp("bundles/%s/config.json", name), json);
	free(json);
	return bundle;
}

/* A FIFO whose read end the "containerd" side holds, read at exit time. */
static void drain_fifo(const char *path, const char *id, const char *exec)
{
	int fd;

	unlink(path);
	CHECK_EQ(mkfifo(path, 0600), 0);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(fd >= 0);
	pthread_mutex_lock(&EV.lock);
	key_of(EV.drain_key[EV.n_drain], sizeof(EV.drain_key[0]), id, exec);
	EV.drain_fd[EV.n_drain++] = fd;
	pthread_mutex_unlock(&EV.lock);
}

static void drain_close_all(void)
{
	pthread_mutex_lock(&EV.lock);
	for (int i = 0; i < EV.n_drain; i++)
		close(EV.drain_fd[i]);
	EV.n_drain = 0;
	pthread_mutex_unlock(&EV.lock);
}

static bool log_has(const char *text)
{
	char buf[65536];
	int fd = open(fake_log, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (!strstr(buf, text)) {
		fprintf(stderr, "fake log lacks \"%s\"\n", text);
		return false;
	}
	return true;
}

/* Processes whose parent is this test. */
static int count_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		char path[300], buf[512], *p;
		int fd;
		ssize_t len;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		fd = open(path, O_RDONLY);
		len = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		p = strrchr(buf, ')');
		if (p && atoi(p + 4) == (int)getpid())
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

static bool pod_gone(const char *sandbox_id)
{
	char *pod = tmp("run/%s", sandbox_id);
	bool ok = access(pod, F_OK) != 0 && mount_count_under(pod) == 0 && count_children() == 0;

	if (!ok)
		fprintf(stderr, "pod %s left: dir %s, %d mounts, %d children\n", sandbox_id,
			access(pod, F_OK) == 0 ? "present" : "gone", mount_count_under(pod),
			count_children());
	return ok;
}

static pid_t pid_of(const char *sandbox_id, const char *file)
{
	pid_t pid = 0;
	uint64_t st;

	if (pidfile_read(tmp("run/%s/%s", sandbox_id, file), &pid, &st) < 0)
		pid = 0;
	return pid;
}

/* The test's config; extra (", \"key\": value...") overrides. */
static void write_config(const char *path, const char *extra)
{
	struct {
		const char *key;
		char value[600];
	} keys[] = { { "kernel", "" }, { "initramfs", "" }, { "vmm_path", "" },
		     { "virtiofsd_path", "" }, { "boot_timeout_seconds", "10" } };
	char json[4096];
	size_t off = 0;

	snprintf(keys[0].value, sizeof(keys[0].value), "\"%s/kernel\"", dir);
	snprintf(keys[1].value, sizeof(keys[1].value), "\"%s/initrd\"", dir);
	snprintf(keys[2].value, sizeof(keys[2].value), "\"%s\"", self_exe);
	snprintf(keys[3].value, sizeof(keys[3].value), "\"%s\"", virtiofsd);
	off += (size_t)snprintf(json + off, sizeof(json) - off, "{\"debug\": false");
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		char quoted[80];

		snprintf(quoted, sizeof(quoted), "\"%s\"", keys[i].key);
		if (extra && strstr(extra, quoted))
			continue;
		off += (size_t)snprintf(json + off, sizeof(json) - off, ", %s: %s", quoted,
					keys[i].value);
	}
	snprintf(json + off, sizeof(json) - off, "%s}\n", extra ? extra : "");
	write_text(path, json);
}

/* ---- a pod's life ---- */

static const char *process_json(const char *args, bool terminal)
{
	static char buf[256];

	snprintf(buf, sizeof(buf),
		 "{\"args\": %s, \"cwd\": \"/\", \"terminal\": %s, \"user\": {\"uid\": 0, \"gid\": 0}}",
		 args, terminal ? "true" : "false");
	return buf;
}

static void test_pod(void)
{
	struct shim_runtime *rt = NULL;
	struct error err = { 0 };
	uint32_t pid = 0, pod_pid = 0, *pids = NULL;
	size_t n_pids = 0;
	struct exit_rec x;
	bool is_mount, shared;
	char mounts[600];

	CHECK_EQ(ops->open("pod1", "k8s.io", &events, &EV, &rt, &err), 0);
	if (!rt)
		return;
	CHECK_EQ(ops->containers(rt), 0);

	/* The sandbox container boots the VM. */
	{
		struct shim_create_request req = { .id = "pod1",
						   .bundle = make_bundle("pod1", "sandbox", "pod1",
									 "[\"sleep\"]", NULL) };

		CHECK_EQ(ops->create(rt, &req, &pod_pid, &err), 0);
		if (err.code) {
			fprintf(stderr, "create pod1: %s\n", err.msg);
			ops->close(rt);
			return;
		}
	}
	CHECK(pod_pid >= 100);
	CHECK_EQ(ops->containers(rt), 1);
	CHECK(access(tmp("run/pod1/api.sock"), F_OK) == 0);
	CHECK(access(tmp("run/pod1/vsock.sock"), F_OK) == 0);
	CHECK(access(tmp("run/pod1/shared/pod1/rootfs/marker"), F_OK) == 0);
	CHECK_EQ(mount_info(tmp("run/pod1/shared"), &is_mount, &shared), 0);
	CHECK(is_mount && shared);
	CHECK(pid_of("pod1", "vmm.pid") > 0 && pid_of("pod1", "virtiofsd.pid") > 0);
	{
		struct stat st;

		CHECK_EQ(stat(tmp("run/pod1"), &st), 0);
		CHECK_EQ(st.st_mode & 0777, 0700);
	}
	CHECK(log_has("setup sandbox=pod1 hostname=pod1-host mounts=1 tag=nacelle "
		      "at=/run/nacelle/shared time=set"));
	CHECK(log_has("shared=1 fs=nacelle vsock="));
	CHECK(log_has("cid=3"));
	CHECK(log_has("cmdline=console=ttyS0 panic=1 quiet"));
	CHECK_EQ(ops->start(rt, "pod1", NULL, &pid, &err), 0);
	CHECK_EQ(pid, pod_pid);
	CHECK_EQ(ops->start(rt, "pod1", "", &pid, &err), -EBUSY);

	/* An app container: output on FIFOs, a read-only volume, /dev/shm. */
	write_text(tmp("hosts"), "127.0.0.1 localhost\n");
	snprintf(mounts, sizeof(mounts),
		 ",{\"destination\": \"/etc/hosts\", \"type\": \"bind\", \"source\": \"%s/hosts\", "
		 "\"options\": [\"rbind\", \"ro\"]},"
		 "{\"destination\": \"/dev/shm\", \"type\": \"bind\", \"source\": \"/run/x/shm\", "
		 "\"options\": [\"rbind\"]}",
		 dir);
	drain_fifo(tmp("c1.out"), "c1", "");
	drain_fifo(tmp("c1.err"), "c1-stderr", "");
	{
		const char *bundle = make_bundle("c1", "container", "pod1",
						 "[\"echo\", \"hello\", \"world\"]", mounts);
		struct shim_create_request req = { .id = "c1", .bundle = bundle,
						   .stdio = { NULL, tmp("c1.out"),
							      tmp("c1.err"), false } };

		CHECK_EQ(ops->create(rt, &req, &pid, &err), 0);
		if (err.code)
			fprintf(stderr, "create c1: %s\n", err.msg);
	}
	CHECK(access(tmp("run/pod1/shared/c1/mounts/0"), F_OK) == 0);
	CHECK_EQ(ops->containers(rt), 2);
	CHECK_EQ(ops->start(rt, "c1", NULL, &pid, &err), 0);
	x = wait_exit("c1", "");
	CHECK_EQ(x.count, 1);
	CHECK_EQ(x.status, 0);
	CHECK_EQ(x.pid, pid);
	/* Everything was written, and the FIFO closed, before the exit came. */
	CHECK(strcmp(x.out, "hello world\n") == 0);
	CHECK(x.out_eof);
	/* Killing what has exited: containerd's "not found". */
	CHECK_EQ(ops->kill(rt, "c1", NULL, SIGTERM, false, &err), -ENOENT);
	CHECK_EQ(ops->remove(rt, "c1", NULL, &err), 0);
	CHECK(access(tmp("run/pod1/shared/c1"), F_OK) != 0);
	/* The share itself and the sandbox's rootfs. */
	CHECK_EQ(mount_count_under(tmp("run/pod1/shared")), 2);
	CHECK_EQ(ops->remove(rt, "c1", NULL, &err), 0);
	CHECK_EQ(ops->containers(rt), 1);

	/* An exec with stdin. */
	{
		char in_path[600];
		struct shim_exec_request req = { .id = "pod1", .exec_id = "e1",
						 .stdio = { NULL, NULL, NULL, false } };
		const char *pj = process_json("[\"cat\"]", false);
		int w;

		snprintf(in_path, sizeof(in_path), "%s", tmp("e1.in"));
		unlink(in_path);
		CHECK_EQ(mkfifo(in_path, 0600), 0);
		drain_fifo(tmp("e1.out"), "pod1", "e1");
		req.stdio.stdin_path = in_path;
		req.stdio.stdout_path = tmp("e1.out");
		req.process_json = pj;
		req.process_json_len = strlen(pj);
		CHECK_EQ(ops->exec(rt, &req, &err), 0);
		CHECK_EQ(ops->exec(rt, &req, &err), -EEXIST);
		CHECK_EQ(ops->start(rt, "pod1", "e1", &pid, &err), 0);
		CHECK(pid > pod_pid);
		w = open(in_path, O_WRONLY | O_CLOEXEC);
		CHECK(w >= 0);
		CHECK_EQ(write(w, "ping\n", 5), 5);
		close(w);
		x = wait_exit("pod1", "e1");
		CHECK_EQ(x.status, 0);
		CHECK(strcmp(x.out, "ping\n") == 0 && x.out_eof);
		CHECK_EQ(ops->remove(rt, "pod1", "e1", &err), 0);
		CHECK_EQ(ops->remove(rt, "pod1", "e1", &err), 0);
	}

	/* A terminal exec: one stream both ways, resize, CloseIO. */
	{
		char in_path[600], out_path[600], buf[64];
		struct shim_exec_request req = { .id = "pod1", .exec_id = "e2" };
		const char *pj = process_json("[\"tty\"]", true);
		struct pollfd p;
		int w, r, len = 0;

		snprintf(in_path, sizeof(in_path), "%s", tmp("e2.in"));
		snprintf(out_path, sizeof(out_path), "%s", tmp("e2.out"));
		unlink(in_path);
		unlink(out_path);
		CHECK_EQ(mkfifo(in_path, 0600), 0);
		CHECK_EQ(mkfifo(out_path, 0600), 0);
		r = open(out_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		req.stdio = (struct shim_stdio){ in_path, out_path, NULL, true };
		req.process_json = pj;
		req.process_json_len = strlen(pj);
		CHECK_EQ(ops->exec(rt, &req, &err), 0);
		CHECK_EQ(ops->start(rt, "pod1", "e2", &pid, &err), 0);
		w = open(in_path, O_WRONLY | O_CLOEXEC);
		CHECK_EQ(write(w, "ls\n", 3), 3);
		p = (struct pollfd){ .fd = r, .events = POLLIN };
		while (len < 7 && poll(&p, 1, 5000) > 0) {
			ssize_t n = read(r, buf + len, sizeof(buf) - 1 - (size_t)len);

			if (n <= 0)
				break;
			len += (int)n;
		}
		buf[len] = '\0';
		CHECK(strcmp(buf, "tty:ls\n") == 0);
		CHECK_EQ(ops->resize_pty(rt, "pod1", "e2", 80, 24, &err), 0);
		CHECK_EQ(ops->resize_pty(rt, "pod1", "e2", 0, 0, &err), 0);
		CHECK_EQ(ops->resize_pty(rt, "pod1", NULL, 80, 24, &err), -EBUSY);
		CHECK_EQ(ops->close_stdin(rt, "pod1", "e2", &err), 0);
		x = wait_exit("pod1", "e2");
		CHECK_EQ(x.status, 0);
		close(w);
		close(r);
		CHECK(log_has("resize pod1/e2 80x24"));
		CHECK(log_has("closestdin pod1/e2"));
		CHECK_EQ(ops->remove(rt, "pod1", "e2", &err), 0);
	}

	/* Signals and names that do not exist. */
	CHECK_EQ(ops->kill(rt, "pod1", NULL, 0, false, &err), -EINVAL);
	CHECK_EQ(ops->kill(rt, "nope", NULL, SIGTERM, false, &err), -ENOENT);
	CHECK_EQ(ops->kill(rt, "pod1", "nope", SIGTERM, false, &err), -ENOENT);
	CHECK_EQ(ops->start(rt, "nope", NULL, &pid, &err), -ENOENT);
	CHECK_EQ(ops->close_stdin(rt, "pod1", "nope", &err), -ENOENT);

	/* Container-wide calls. */
	CHECK_EQ(ops->pids(rt, "pod1", &pids, &n_pids, &err), 0);
	CHECK_EQ(n_pids, 1);
	CHECK(n_pids == 1 && pids[0] == pod_pid);
	free(pids);
	{
		struct shim_stats st = { 0 };

		CHECK_EQ(ops->stats(rt, "pod1", &st, &err), 0);
		CHECK_EQ(st.cpu_usage_usec, 1234);
		CHECK_EQ(st.memory_usage, 5678);
		CHECK_EQ(st.memory_usage_limit, 1 << 30);
		CHECK_EQ(st.memory_oom_kill, 2);
		CHECK_EQ(st.pids_current, 3);
		CHECK_EQ(ops->stats(rt, "nope", &st, &err), -ENOENT);
	}
	{
		static const char res[] = "{\"devices\": [{\"allow\": true, \"access\": \"rwm\"}], "
					  "\"memory\": {\"limit\": 1000000}}";

		CHECK_EQ(ops->update(rt, "pod1", res, strlen(res), &err), 0);
		CHECK(log_has("update pod1 {\"memory\":{\"limit\":1000000}}"));
		CHECK_EQ(ops->update(rt, "pod1", "{", 1, &err), -EINVAL);
	}
	CHECK_EQ(ops->pause(rt, "pod1", &err), 0);
	CHECK_EQ(ops->resume(rt, "pod1", &err), 0);
	CHECK(log_has("pause pod1") && log_has("resume pod1"));

	/* OOM events. */
	{
		struct shim_create_request req = { .id = "c2",
						   .bundle = make_bundle("c2", "container", "pod1",
									 "[\"oom\"]", NULL) };

		CHECK_EQ(ops->create(rt, &req, &pid, &err), 0);
		CHECK_EQ(ops->start(rt, "c2", NULL, &pid, &err), 0);
		CHECK(wait_oom("c2"));
		x = wait_exit("c2", "");
		CHECK_EQ(x.status, 137);
		CHECK_EQ(ops->remove(rt, "c2", NULL, &err), 0);
	}

	/* Refusals. */
	{
		struct shim_create_request req = { .id = "x1",
						   .bundle = make_bundle("x1", "container", "other-pod",
									 "[\"sleep\"]", NULL) };

		CHECK_EQ(ops->create(rt, &req, &pid, &err), -EINVAL);
		if (!strstr(err.msg, "other-pod")) {
			fprintf(stderr, "foreign: %s\n", err.msg);
			CHECK(0);
		}
		req.bundle = make_bundle("x1", "sandbox", "pod1", "[\"sleep\"]", NULL);
		req.id = "pod1";
		CHECK_EQ(ops->create(rt, &req, &pid, &err), -EEXIST);
		req.id = "bad/id";
		CHECK_EQ(ops->create(rt, &req, &pid, &err), -EINVAL);
		req.id = "x2";
		req.bundle = tmp("bundles/missing");
		CHECK_EQ(ops->create(rt, &req, &pid, &err), -ENOENT);
		CHECK_EQ(ops->containers(rt), 1);
	}

	/* A created container that never starts, then is removed. */
	{
		struct shim_create_request req = { .id = "c3",
						   .bundle = make_bundle("c3", "container", "pod1",
									 "[\"sleep\"]", NULL) };

		CHECK_EQ(ops->create(rt, &req, &pid, &err), 0);
		CHECK_EQ(ops->remove(rt, "c3", NULL, &err), 0);
		CHECK(log_has("remove c3"));
		CHECK_EQ(exit_count("c3", ""), 0); /* never started: no exit */
	}

	/* The last container: the VM goes with it. */
	CHECK_EQ(ops->remove(rt, "pod1", NULL, &err), -EBUSY);
	CHECK_EQ(ops->kill(rt, "pod1", NULL, SIGTERM, false, &err), 0);
	x = wait_exit("pod1", "");
	CHECK_EQ(x.status, 128 + SIGTERM);
	CHECK_EQ(ops->remove(rt, "pod1", NULL, &err), 0);
	CHECK_EQ(ops->containers(rt), 0);
	CHECK(log_has("shutdown"));
	CHECK(log_has("poweroff"));
	CHECK(pod_gone("pod1"));
	ops->close(rt);
	CHECK(pod_gone("pod1"));
	CHECK_EQ(exit_count("pod1", ""), 1);
	CHECK_EQ(exit_count("c1", ""), 1);
	CHECK_EQ(exit_count("pod1", "e1"), 1);
	CHECK_EQ(exit_count("pod1", "e2"), 1);
	CHECK_EQ(exit_count("c2", ""), 1);
	drain_close_all();
}

/* ---- death ---- */

static void test_death(const char *sandbox_id, bool kill_vmm)
{
	struct shim_runtime *rt = NULL;
	struct error err = { 0 };
	uint32_t pid;
	struct exit_rec x;
	struct shim_stats st;
	char c1[100];
	pid_t victim;

	snprintf(c1, sizeof(c1), "%s-c1", sandbox_id);
	CHECK_EQ(ops->open(sandbox_id, "k8s.io", &events, &EV, &rt, &err), 0);
	if (!rt)
		return;
	{
		struct shim_create_request req = { .id = sandbox_id,
						   .bundle = make_bundle(sandbox_id, "sandbox",
									 sandbox_id, "[\"sleep\"]",
									 NULL) };

		CHECK_EQ(ops->create(rt, &req, &pid, &err), 0);
		CHECK_EQ(ops->start(rt, sandbox_id, NULL, &pid, &err), 0);
		req.id = c1;
		req.bundle = make_bundle(c1, "container", sandbox_id, "[\"sleep\"]", NULL);
		CHECK_EQ(ops->create(rt, &req, &pid, &err), 0);
	}
	{
		const char *pj = process_json("[\"sleep\"]", false);
		struct shim_exec_request req = { .id = sandbox_id, .exec_id = "e1",
						 .process_json = pj, .process_json_len = strlen(pj) };

		CHECK_EQ(ops->exec(rt, &req, &err), 0);
		CHECK_EQ(ops->start(rt, sandbox_id, "e1", &pid, &err), 0);
	}
	victim = pid_of(sandbox_id, kill_vmm ? "vmm.pid" : "virtiofsd.pid");
	CHECK(victim > 0);
	if (victim > 0)
		kill(victim, SIGKILL);

	/* Every process: started, created-only, exec. */
	x = wait_exit(sandbox_id, "");
	CHECK_EQ(x.status, 255);
	x = wait_exit(c1, "");
	CHECK_EQ(x.status, 255);
	x = wait_exit(sandbox_id, "e1");
	CHECK_EQ(x.status, 255);

	CHECK_EQ(ops->stats(rt, sandbox_id, &st, &err), -EIO);
	CHECK(strstr(err.msg, "the pod's VM is gone") != NULL);
	CHECK_EQ(ops->kill(rt, sandbox_id, NULL, SIGKILL, false, &err), -ENOENT);
	CHECK(ops->start(rt, c1, NULL, &pid, &err) < 0);
	{
		struct shim_create_request req = { .id = "late",
						   .bundle = make_bundle("late", "container",
									 sandbox_id, "[\"sleep\"]",
									 NULL) };

		CHECK(ops->create(rt, &req, &pid, &err) < 0);
	}

	if (kill_vmm) {
		/* remove still cleans, and the last one takes the pod down. */
		CHECK_EQ(ops->remove(rt, sandbox_id, "e1", &err), 0);
		CHECK_EQ(ops->remove(rt, c1, NULL, &err), 0);
		CHECK_EQ(ops->remove(rt, sandbox_id, NULL, &err), 0);
		CHECK_EQ(ops->containers(rt), 0);
		CHECK(pod_gone(sandbox_id));
	}
	ops->close(rt);
	CHECK(pod_gone(sandbox_id));
	CHECK_EQ(exit_count(sandbox_id, ""), 1);
	CHECK_EQ(exit_count(c1, ""), 1);
	CHECK_EQ(exit_count(sandbox_id, "e1"), 1);
}

/* ---- boot failures ---- */

static void expect_boot_failure(const char *sandbox_id, const char *env, const char *value,
				const char *config_extra, int expect, const char *in_message)
{
	struct shim_runtime *rt = NULL;
	struct error err = { 0 };
	char cfg[600];
	uint32_t pid;
	struct shim_create_request req = { .id = sandbox_id };

	snprintf(cfg, sizeof(cfg), "%s/config-%s.json", dir, sandbox_id);
	write_config(cfg, config_extra);
	if (env)
		setenv(env, value, 1);
	CHECK_EQ(ops->open(sandbox_id, "k8s.io", &events, &EV, &rt, &err), 0);
	req.bundle = make_bundle(sandbox_id, "sandbox", sandbox_id, "[\"sleep\"]", NULL);
	req.config_path = cfg;
	CHECK_EQ(ops->create(rt, &req, &pid, &err), expect);
	if (!strstr(err.msg, in_message)) {
		fprintf(stderr, "%s: \"%s\" lacks \"%s\"\n", sandbox_id, err.msg, in_message);
		CHECK(0);
	}
	CHECK_EQ(ops->containers(rt), 0);
	CHECK(pod_gone(sandbox_id));
	ops->close(rt);
	if (env)
		unsetenv(env);
}

static void test_boot_failures(void)
{
	struct shim_runtime *rt = NULL;
	struct error err = { 0 };
	uint32_t pid;

	expect_boot_failure("nb1", "FAKE_NO_AGENT", "1", ", \"boot_timeout_seconds\": 2",
			    -ETIMEDOUT, "did not answer within the boot timeout");
	expect_boot_failure("nb2", "FAKE_BOOT_FAIL", "1", NULL, -EIO, "HTTP 500: fake boot failure");
	expect_boot_failure("nb3", "FAKE_API_VERSION", "2", NULL, -EPROTO,
			    "the agent speaks API version 2, the shim 1");
	expect_boot_failure("nb4", NULL, NULL, ", \"vmm_path\": \"/nonexistent/nacelle-vmm\"",
			    -ENOENT, "cannot run nacelle-vmm (/nonexistent/nacelle-vmm)");
	expect_boot_failure("nb5", NULL, NULL, ", \"vcpu\": 2", -EINVAL, "unknown key \"vcpu\"");
	expect_boot_failure("nb6", NULL, NULL, ", \"virtiofsd_path\": \"/bin/false\"", -ECHILD,
			    "virtiofsd exited with status 1");

	/* A CRI container cannot come first. */
	CHECK_EQ(ops->open("nb7", "k8s.io", &events, &EV, &rt, &err), 0);
	{
		struct shim_create_request req = { .id = "nb7-c",
						   .bundle = make_bundle("nb7-c", "container", "nb7",
									 "[\"sleep\"]", NULL) };

		CHECK_EQ(ops->create(rt, &req, &pid, &err), -ENOENT);
		CHECK(strstr(err.msg, "sandbox container must be created first") != NULL);
	}
	ops->close(rt);
	CHECK(pod_gone("nb7"));
}

/* ---- close with everything running ---- */

static void test_close_running(void)
{
	struct shim_runtime *rt = NULL;
	struct error err = { 0 };
	uint32_t pid;
	const char *pj = process_json("[\"sleep\"]", false);
	struct shim_exec_request ereq = { .id = "pod5", .exec_id = "e1", .process_json = pj,
					  .process_json_len = strlen(pj) };

	CHECK_EQ(ops->open("pod5", "k8s.io", &events, &EV, &rt, &err), 0);
	{
		/* No annotations at all (ctr run): the first container is the pod's. */
		struct shim_create_request req = { .id = "pod5",
						   .bundle = make_bundle("pod5", NULL, NULL,
									 "[\"sleep\"]", NULL) };

		CHECK_EQ(ops->create(rt, &req, &pid, &err), 0);
		CHECK_EQ(ops->start(rt, "pod5", NULL, &pid, &err), 0);
		req.id = "pod5-b";
		req.bundle = make_bundle("pod5-b", NULL, NULL, "[\"sleep\"]", NULL);
		CHECK_EQ(ops->create(rt, &req, &pid, &err), 0);
		CHECK_EQ(ops->start(rt, "pod5-b", NULL, &pid, &err), 0);
	}
	CHECK_EQ(ops->exec(rt, &ereq, &err), 0);
	CHECK_EQ(ops->start(rt, "pod5", "e1", &pid, &err), 0);
	CHECK_EQ(ops->containers(rt), 2);
	ops->close(rt);
	CHECK(pod_gone("pod5"));
	/* The task service is gone: nobody is told. */
	CHECK_EQ(exit_count("pod5", ""), 0);
	CHECK_EQ(exit_count("pod5", "e1"), 0);
	CHECK_EQ(exit_count("pod5-b", ""), 0);
	ops->close(NULL);
}

/* ---- the delete subcommand ---- */

static void test_cleanup_after_crash(void)
{
	struct sandbox_child vmm;
	struct error err = { 0 };
	char *argv[] = { (char *)"/bin/sleep", (char *)"1000", NULL };
	char pod[600];

	snprintf(pod, sizeof(pod), "%s", tmp("run/dead"));
	/* What a dead shim leaves: a running "VMM", two containers' mounts. */
	mkdir(tmp("run"), 0711);
	mkdir(pod, 0700);
	mkdir(tmp("run/dead/shared"), 0711);
	CHECK_EQ(mount_make_shared_dir(tmp("run/dead/shared"), &err), 0);
	mkdir(tmp("run/dead/shared/a"), 0711);
	mkdir(tmp("run/dead/shared/a/rootfs"), 0755);
	mkdir(tmp("run/dead/shared/b"), 0711);
	mkdir(tmp("run/dead/shared/b/rootfs"), 0755);
	make_bundle("dead-a", NULL, NULL, "[\"sleep\"]", NULL);
	CHECK_EQ(mount_bind(tmp("bundles/dead-a/rootfs"), tmp("run/dead/shared/a/rootfs"),
			    true, false, &err),
		 0);
	CHECK_EQ(mount_bind(tmp("bundles/dead-a/rootfs"), tmp("run/dead/shared/b/rootfs"),
			    true, false, &err),
		 0);
	child_init(&vmm, "sleep");
	CHECK_EQ(child_spawn(&vmm, argv, tmp("run/dead/vmm.log"), tmp("run/dead/vmm.pid"),
			     &err),
		 0);

	/* a goes; b still uses the VM: it stays. */
	CHECK_EQ(ops->cleanup_after_crash("dead", "a", "/b", &err), 0);
	CHECK(access(tmp("run/dead/shared/a"), F_OK) != 0);
	CHECK(access(tmp("run/dead/shared/b/rootfs/marker"), F_OK) == 0);
	CHECK(!child_exited(&vmm));
	/* Again: idempotent. */
	CHECK_EQ(ops->cleanup_after_crash("dead", "a", "/b", &err), 0);
	CHECK(!child_exited(&vmm));
	/* b was the last: the VM and the pod directory go. */
	CHECK_EQ(ops->cleanup_after_crash("dead", "b", "/b", &err), 0);
	CHECK_EQ(child_wait(&vmm, 5000), 0);
	child_stop(&vmm, 0);
	CHECK(pod_gone("dead"));
	CHECK_EQ(ops->cleanup_after_crash("dead", "b", "/b", &err), 0);
	CHECK_EQ(ops->cleanup_after_crash("bad/id", "b", "/b", &err), -EINVAL);

	/* A pod whose VM died: cleaned at once though another container remains. */
	mkdir(pod, 0700);
	mkdir(tmp("run/dead/shared"), 0711);
	mkdir(tmp("run/dead/shared/a"), 0711);
	mkdir(tmp("run/dead/shared/b"), 0711);
	write_text(tmp("run/dead/vmm.pid"), "999999 12345\n");
	CHECK_EQ(ops->cleanup_after_crash("dead", "a", "/b", &err), 0);
	CHECK(pod_gone("dead"));
}

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 4096; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

int main(int argc, char **argv)
{
	ssize_t n;
	int fds_before;

	if (argc > 1 && strcmp(argv[1], "--api-socket") == 0)
		return fake_vmm_main(argc, argv);
	if (argc > 1 && strncmp(argv[1], "--socket-path=", 14) == 0)
		return fake_virtiofsd_main(argc, argv);

	if (geteuid() != 0) {
		fprintf(stderr, "skip: the runtime mounts (root only)\n");
		return 77;
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fprintf(stderr, "skip: no private mount namespace: %s\n", strerror(errno));
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getenv("NACELLE_TEST_DEBUG"))
		log_set_level(LOG_LEVEL_DEBUG);
	if (chdir("/") < 0 || !mkdtemp(dir) || mount("tmpfs", dir, "tmpfs", 0, "mode=0700") < 0) {
		perror("setup");
		return 1;
	}
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = '\0';
	/* Debian's virtiofsd when there is one: its real command line is checked. */
	if (access(SANDBOX_DEFAULT_VIRTIOFSD, X_OK) == 0)
		snprintf(virtiofsd, sizeof(virtiofsd), "%s", SANDBOX_DEFAULT_VIRTIOFSD);
	else
		snprintf(virtiofsd, sizeof(virtiofsd), "%s", self_exe);
	fprintf(stderr, "virtiofsd: %s\n", virtiofsd);
	write_text(tmp("kernel"), "not a kernel");
	write_text(tmp("initrd"), "not an initramfs");
	snprintf(config_path, sizeof(config_path), "%s/config.json", dir);
	write_config(config_path, NULL);
	snprintf(fake_log, sizeof(fake_log), "%s/fake.log", dir);
	setenv("NACELLE_CONFIG", config_path, 1);
	setenv("NACELLE_RUN_DIR", tmp("run"), 1);
	setenv("FAKE_LOG", fake_log, 1);

	/* gRPC keeps an epoll set and an eventfd for the process's life after
	 * its first use: count from there. */
	grpc_init();
	grpc_shutdown_blocking();
	fds_before = count_fds();
	test_pod();
	test_death("pod2", true);
	test_death("pod3", false);
	test_boot_failures();
	test_close_running();
	test_cleanup_after_crash();
	if (count_fds() != fds_before) {
		for (int fd = 0; fd < 4096; fd++) {
			char p[64], target[256] = "";

			snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
			if (readlink(p, target, sizeof(target) - 1) > 0)
				fprintf(stderr, "fd %d: %s\n", fd, target);
		}
	}
	CHECK_EQ(count_fds(), fds_before);
	CHECK_EQ(count_children(), 0);
	CHECK_EQ(EV.bad_calls, 0);

	CHECK_EQ(mount_unmount_all(dir, &(struct error){ 0 }), 0);
	CHECK_EQ(rmdir(dir), 0);
	fprintf(stderr, "%d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
