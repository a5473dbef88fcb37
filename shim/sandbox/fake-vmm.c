/* SPDX-License-Identifier: Apache-2.0 */
/*
 * For the runtime's tests on hosts without a VM: a stand-in for nacelle-vmm
 * with a guest agent inside, run as its own process (the test binary
 * re-executed with nacelle-vmm's command line). It serves the same REST API
 * (vmm/api's server), a hybrid vsock socket, and behind it an agent
 * (agent-proto's RPC server, every request checked by agent_proto_validate)
 * whose "containers" are threads acting out the command in args[0]:
 *   sleep        until signalled: exit 128 + signal
 *   echo WORDS   WORDS and a newline on stdout, exit 0
 *   big N        N bytes on stdout, exit 0
 *   cat          stdin to stdout until EOF, exit 0
 *   tty          terminal: each input chunk back as "tty:<chunk>", until CloseStdin
 *   exit N       exit N at once
 *   oom          an OOM event for its container, then exit 137
 * It refuses what a guest would trip over: a rootfs or volume path that does
 * not exist on the host's share, hooks, a network namespace, device rules.
 * Like a VM it powers off (exits 0) after the agent's Shutdown answer.
 * Environment: FAKE_LOG (a line per notable request is appended there),
 * FAKE_NO_AGENT (nothing listens on port 1024), FAKE_BOOT_FAIL (vm.boot
 * answers 500), FAKE_API_VERSION (what Version says).
 * Also a stand-in for virtiofsd: accepts one front-end, exits when it goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "agent-proto/agent-proto.h"
#include "agent-proto/rpc.h"
#include "fake-vmm.h"
#include "vmm/api.h"
#include "vmm/config.h"

#define GUEST_SHARED "/run/nacelle/shared"
#define MSG(T) Nacelle__Agent__V1__##T
#define NEW(ctx, t) ((void *)agent_rpc_ctx_new((ctx), &nacelle__agent__v1__##t##__descriptor))

struct fproc {
	char *cid, *eid;
	int pid;
	uint32_t ports[4]; /* stdin, stdout, stderr, terminal */
	int fds[4];
	bool terminal;
	char *args[8];
	bool started, exited, answered, stdin_closed;
	int status, signal;
	struct timespec exited_at;
	struct fproc *next;
};

struct fcontainer {
	char *id;
	bool removed;
	struct fproc *init;
	struct fcontainer *next;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct fcontainer *containers;
	struct fproc *procs; /* every process ever, never freed */
	int next_pid;
	char *oom[16];
	int n_oom;
	bool setup_done;
	char shared[PATH_MAX]; /* the host's side of GUEST_SHARED */
	struct agent_rpc_server *server;
	int vsock_fd, fs_fd, poweroff_fd;
	struct vmm_config *cfg;
	bool quit;
} A = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, .next_pid = 100, .vsock_fd = -1,
	.fs_fd = -1, .poweroff_fd = -1 };

static void flog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void flog(const char *fmt, ...)
{
	const char *path = getenv("FAKE_LOG");
	va_list ap;
	FILE *f;

	if (!path || !(f = fopen(path, "a")))
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fclose(f);
}

static void wake_all(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&A.lock);
	pthread_cond_broadcast(&A.cond);
	pthread_mutex_unlock(&A.lock);
}

/* Guest path on the share -> host path; NULL if not on the share. */
static bool host_path(const char *guest, char *out, size_t size)
{
	size_t n = strlen(GUEST_SHARED);

	if (strncmp(guest, GUEST_SHARED, n) != 0 || (guest[n] != '/' && guest[n] != '\0'))
		return false;
	snprintf(out, size, "%s%s", A.shared, guest + n);
	return true;
}

/* lock held */
static struct fcontainer *find_c(const char *id)
{
	for (struct fcontainer *c = A.containers; c; c = c->next)
		if (!c->removed && strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

/* lock held */
static struct fproc *find_p(const char *cid, const char *eid)
{
	for (struct fproc *p = A.procs; p; p = p->next)
		if (strcmp(p->cid, cid) == 0 && strcmp(p->eid, eid ? eid : "") == 0 && !p->answered &&
		    (p->eid[0] || find_c(cid)))
			return p;
	return NULL;
}

static struct fproc *new_proc(const char *cid, const char *eid, const MSG(Stdio) *stdio)
{
	struct fproc *p = calloc(1, sizeof(*p));

	p->cid = strdup(cid);
	p->eid = strdup(eid);
	p->pid = A.next_pid++;
	for (int i = 0; i < 4; i++)
		p->fds[i] = -1;
	if (stdio) {
		p->ports[0] = stdio->stdin_port;
		p->ports[1] = stdio->stdout_port;
		p->ports[2] = stdio->stderr_port;
		p->ports[3] = stdio->terminal_port;
		p->terminal = stdio->terminal;
	}
	p->next = A.procs;
	A.procs = p;
	return p;
}

static void set_args(struct fproc *p, yajl_val args)
{
	for (size_t i = 0; YAJL_IS_ARRAY(args) && i < args->u.array.len && i < 7; i++)
		if (YAJL_IS_STRING(args->u.array.values[i]))
			p->args[i] = strdup(args->u.array.values[i]->u.string);
	if (!p->args[0])
		p->args[0] = strdup("exit");
}

static const char *get_str(yajl_val obj, const char *key)
{
	const char *path[] = { key, NULL };
	yajl_val v = yajl_tree_get(obj, path, yajl_t_string);

	return v ? v->u.string : NULL;
}

/* ---- processes ---- */

static void write_all(int fd, const void *buf, size_t len)
{
	const char *b = buf;

	while (fd >= 0 && len > 0) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		b += n;
		len -= (size_t)n;
	}
}

/* lock held: every stream it was given is connected (or 5 s passed). */
static void wait_streams(struct fproc *p)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	for (;;) {
		bool all = true;

		for (int i = 0; i < 4; i++)
			if (p->ports[i] && p->fds[i] < 0)
				all = false;
		if (all || pthread_cond_timedwait(&A.cond, &A.lock, &ts) != 0)
			return;
	}
}

static void finish(struct fproc *p, int status)
{
	pthread_mutex_lock(&A.lock);
	for (int i = 0; i < 4; i++)
		if (p->fds[i] >= 0) {
			shutdown(p->fds[i], SHUT_WR);
			close(p->fds[i]);
			p->fds[i] = -1;
		}
	p->exited = true;
	p->status = status;
	clock_gettime(CLOCK_REALTIME, &p->exited_at);
	pthread_cond_broadcast(&A.cond);
	pthread_mutex_unlock(&A.lock);
	flog("exit %s/%s %d", p->cid, p->eid, status);
}

static void *proc_main(void *arg)
{
	struct fproc *p = arg;
	const char *cmd = p->args[0];
	int out, in, status = 0;

	pthread_mutex_lock(&A.lock);
	wait_streams(p);
	out = p->terminal ? p->fds[3] : p->fds[1];
	in = p->terminal ? p->fds[3] : p->fds[0];
	pthread_mutex_unlock(&A.lock);

	if (strcmp(cmd, "echo") == 0) {
		for (int i = 1; p->args[i]; i++) {
			write_all(out, p->args[i], strlen(p->args[i]));
			write_all(out, p->args[i + 1] ? " " : "\n", 1);
		}
		write_all(p->fds[2], "to stderr\n", 10);
	} else if (strcmp(cmd, "big") == 0) {
		long n = p->args[1] ? atol(p->args[1]) : 0;
		char buf[4096];

		for (long i = 0; i < n; i += (long)sizeof(buf)) {
			size_t k = (size_t)(n - i < (long)sizeof(buf) ? n - i : (long)sizeof(buf));

			for (size_t j = 0; j < k; j++)
				buf[j] = (char)('a' + (i + (long)j) % 23);
			write_all(out, buf, k);
		}
	} else if (strcmp(cmd, "cat") == 0) {
		char buf[4096];
		ssize_t n;

		while (in >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
			write_all(out, buf, (size_t)n);
	} else if (strcmp(cmd, "tty") == 0) {
		for (;;) {
			struct pollfd pf = { .fd = in, .events = POLLIN };
			char buf[4096];
			bool closed;

			pthread_mutex_lock(&A.lock);
			closed = p->stdin_closed;
			pthread_mutex_unlock(&A.lock);
			if (closed || in < 0)
				break;
			if (poll(&pf, 1, 50) > 0) {
				ssize_t n = read(in, buf, sizeof(buf));

				if (n <= 0)
					break;
				write_all(out, "tty:", 4);
				write_all(out, buf, (size_t)n);
			}
		}
	} else if (strcmp(cmd, "exit") == 0) {
		status = p->args[1] ? atoi(p->args[1]) : 0;
	} else if (strcmp(cmd, "oom") == 0) {
		pthread_mutex_lock(&A.lock);
		if (A.n_oom < 16)
			A.oom[A.n_oom++] = strdup(p->cid);
		pthread_cond_broadcast(&A.cond);
		pthread_mutex_unlock(&A.lock);
		status = 137;
	} else { /* sleep */
		pthread_mutex_lock(&A.lock);
		while (!p->signal)
			pthread_cond_wait(&A.cond, &A.lock);
		status = 128 + p->signal;
		pthread_mutex_unlock(&A.lock);
	}
	finish(p, status);
	return NULL;
}

static void proc_start(struct fproc *p)
{
	pthread_t t;

	p->started = true;
	pthread_create(&t, NULL, proc_main, p);
	pthread_detach(t);
}

/* ---- handlers ---- */

#define HANDLER(name)                                                                    \
	static grpc_status_code name(void *userdata, struct agent_rpc_ctx *ctx,          \
				     const ProtobufCMessage *in, ProtobufCMessage **ret_resp, \
				     struct agent_rpc_status *st)

HANDLER(h_health)
{
	MSG(HealthResponse) *r = NEW(ctx, health_response);

	r->status = NACELLE__AGENT__V1__HEALTH_RESPONSE__SERVING_STATUS__SERVING_STATUS_SERVING;
	*ret_resp = &r->base;
	return GRPC_STATUS_OK;
}

HANDLER(h_version)
{
	MSG(VersionResponse) *r = NEW(ctx, version_response);
	const char *v = getenv("FAKE_API_VERSION");

	r->agent_version = (char *)"fake";
	r->api_version = v ? (uint32_t)atoi(v) : AGENT_API_VERSION;
	r->kernel_release = (char *)"0.0.0-fake";
	r->grpc_version = (char *)"fake";
	*ret_resp = &r->base;
	return GRPC_STATUS_OK;
}

HANDLER(h_setup)
{
	const MSG(SetupSandboxRequest) *q = (const void *)in;

	pthread_mutex_lock(&A.lock);
	if (A.setup_done) {
		pthread_mutex_unlock(&A.lock);
		return agent_rpc_status_set(st, GRPC_STATUS_FAILED_PRECONDITION, "set up already");
	}
	A.setup_done = true;
	pthread_mutex_unlock(&A.lock);
	flog("setup sandbox=%s hostname=%s mounts=%zu tag=%s at=%s time=%s", q->sandbox_id,
	     q->hostname, q->n_shared_mounts, q->n_shared_mounts ? q->shared_mounts[0]->tag : "",
	     q->n_shared_mounts ? q->shared_mounts[0]->mount_point : "",
	     q->time && q->time->seconds > 1600000000 ? "set" : "unset");
	*ret_resp = NEW(ctx, setup_sandbox_response);
	return GRPC_STATUS_OK;
}

/* What a guest would trip over in the spec. */
static grpc_status_code check_spec(yajl_val spec, const char *rootfs, struct agent_rpc_status *st)
{
	const char *root[] = { "root", "path", NULL }, *mounts[] = { "mounts", NULL };
	const char *ns[] = { "linux", "namespaces", NULL };
	const char *devs[] = { "linux", "resources", "devices", NULL };
	yajl_val v = yajl_tree_get(spec, root, yajl_t_string);
	char host[PATH_MAX];

	if (!v || strcmp(v->u.string, rootfs) != 0)
		return agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT, "root.path is not %s", rootfs);
	if (yajl_tree_get(spec, (const char *[]){ "hooks", NULL }, yajl_t_any))
		return agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT, "hooks in the guest");
	if (yajl_tree_get(spec, devs, yajl_t_any))
		return agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT, "host device rules");
	v = yajl_tree_get(spec, ns, yajl_t_array);
	for (size_t i = 0; v && i < v->u.array.len; i++) {
		const char *t = get_str(v->u.array.values[i], "type");

		if (t && strcmp(t, "network") == 0)
			return agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT, "network namespace");
	}
	v = yajl_tree_get(spec, mounts, yajl_t_array);
	for (size_t i = 0; v && i < v->u.array.len; i++) {
		const char *src = get_str(v->u.array.values[i], "source");

		if (src && host_path(src, host, sizeof(host)) && access(host, F_OK) != 0)
			return agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT,
						    "mount source %s missing on the share (%s)", src, host);
		if (src && src[0] == '/' && !host_path(src, host, sizeof(host)) &&
		    strncmp(src, "/proc/", 6) != 0)
			return agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT,
						    "mount source %s is a host path", src);
	}
	return GRPC_STATUS_OK;
}

HANDLER(h_create)
{
	const MSG(CreateContainerRequest) *q = (const void *)in;
	MSG(CreateContainerResponse) *r;
	char host[PATH_MAX], marker[PATH_MAX + 16], err[256];
	yajl_val spec;
	struct fcontainer *c;
	struct fproc *p;
	grpc_status_code code;

	if (!host_path(q->rootfs, host, sizeof(host)))
		return agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT, "rootfs %s not on the share",
					    q->rootfs);
	snprintf(marker, sizeof(marker), "%s/marker", host);
	if (access(marker, F_OK) != 0)
		return agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT, "no %s", marker);
	spec = yajl_tree_parse(q->spec, err, sizeof(err));
	if (!spec)
		return agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT, "spec: %s", err);
	code = check_spec(spec, q->rootfs, st);
	if (code != GRPC_STATUS_OK) {
		yajl_tree_free(spec);
		return code;
	}
	pthread_mutex_lock(&A.lock);
	if (find_c(q->container_id)) {
		pthread_mutex_unlock(&A.lock);
		yajl_tree_free(spec);
		return agent_rpc_status_set(st, GRPC_STATUS_ALREADY_EXISTS, "exists");
	}
	c = calloc(1, sizeof(*c));
	c->id = strdup(q->container_id);
	p = new_proc(q->container_id, "", q->stdio);
	set_args(p, yajl_tree_get(spec, (const char *[]){ "process", "args", NULL }, yajl_t_array));
	c->init = p;
	c->next = A.containers;
	A.containers = c;
	pthread_mutex_unlock(&A.lock);
	flog("create %s pid=%d cmd=%s hostname=%s", q->container_id, p->pid, p->args[0],
	     get_str(spec, "hostname") ? get_str(spec, "hostname") : "");
	yajl_tree_free(spec);
	r = NEW(ctx, create_container_response);
	r->pid = p->pid;
	*ret_resp = &r->base;
	return GRPC_STATUS_OK;
}

HANDLER(h_start)
{
	const MSG(StartContainerRequest) *q = (const void *)in;
	struct fcontainer *c;

	pthread_mutex_lock(&A.lock);
	c = find_c(q->container_id);
	if (!c || c->init->started || c->init->exited) {
		pthread_mutex_unlock(&A.lock);
		return agent_rpc_status_set(st, c ? GRPC_STATUS_FAILED_PRECONDITION : GRPC_STATUS_NOT_FOUND,
					    "cannot start %s", q->container_id);
	}
	proc_start(c->init);
	pthread_mutex_unlock(&A.lock);
	*ret_resp = NEW(ctx, start_container_response);
	return GRPC_STATUS_OK;
}

HANDLER(h_exec)
{
	const MSG(ExecProcessRequest) *q = (const void *)in;
	MSG(ExecProcessResponse) *r;
	char err[256];
	yajl_val proc = yajl_tree_parse(q->process, err, sizeof(err));
	struct fproc *p;

	if (!proc)
		return agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT, "process: %s", err);
	pthread_mutex_lock(&A.lock);
	if (!find_c(q->container_id) || find_p(q->container_id, q->exec_id)) {
		pthread_mutex_unlock(&A.lock);
		yajl_tree_free(proc);
		return agent_rpc_status_set(st, GRPC_STATUS_NOT_FOUND, "cannot exec in %s", q->container_id);
	}
	p = new_proc(q->container_id, q->exec_id, q->stdio);
	set_args(p, yajl_tree_get(proc, (const char *[]){ "args", NULL }, yajl_t_array));
	proc_start(p);
	pthread_mutex_unlock(&A.lock);
	yajl_tree_free(proc);
	flog("exec %s/%s pid=%d cmd=%s", q->container_id, q->exec_id, p->pid, p->args[0]);
	r = NEW(ctx, exec_process_response);
	r->pid = p->pid;
	*ret_resp = &r->base;
	return GRPC_STATUS_OK;
}

HANDLER(h_signal)
{
	const MSG(SignalProcessRequest) *q = (const void *)in;
	struct fproc *p;

	pthread_mutex_lock(&A.lock);
	p = find_p(q->container_id, q->exec_id);
	if (!p || p->exited) {
		pthread_mutex_unlock(&A.lock);
		return agent_rpc_status_set(st, GRPC_STATUS_NOT_FOUND, "no such process");
	}
	p->signal = (int)q->signal;
	pthread_cond_broadcast(&A.cond);
	pthread_mutex_unlock(&A.lock);
	flog("signal %s/%s %u", q->container_id, q->exec_id, q->signal);
	*ret_resp = NEW(ctx, signal_process_response);
	return GRPC_STATUS_OK;
}

HANDLER(h_wait)
{
	const MSG(WaitProcessRequest) *q = (const void *)in;
	MSG(WaitProcessResponse) *r;
	MSG(Timestamp) *ts;
	struct fproc *p;

	agent_rpc_ctx_on_cancel(ctx, wake_all, NULL);
	pthread_mutex_lock(&A.lock);
	p = find_p(q->container_id, q->exec_id);
	if (!p) {
		pthread_mutex_unlock(&A.lock);
		return agent_rpc_status_set(st, GRPC_STATUS_NOT_FOUND, "no such process");
	}
	while (!p->exited && !agent_rpc_ctx_cancelled(ctx))
		pthread_cond_wait(&A.cond, &A.lock);
	if (!p->exited) {
		pthread_mutex_unlock(&A.lock);
		return agent_rpc_status_set(st, GRPC_STATUS_CANCELLED, "cancelled");
	}
	if (p->eid[0])
		p->answered = true;
	r = NEW(ctx, wait_process_response);
	ts = NEW(ctx, timestamp);
	r->exit_status = (uint32_t)p->status;
	ts->seconds = p->exited_at.tv_sec;
	ts->nanos = (int32_t)p->exited_at.tv_nsec;
	r->exited_at = ts;
	pthread_mutex_unlock(&A.lock);
	*ret_resp = &r->base;
	return GRPC_STATUS_OK;
}

HANDLER(h_close_stdin)
{
	const MSG(CloseStdinRequest) *q = (const void *)in;
	struct fproc *p;

	pthread_mutex_lock(&A.lock);
	p = find_p(q->container_id, q->exec_id);
	if (p) {
		p->stdin_closed = true;
		pthread_cond_broadcast(&A.cond);
	}
	pthread_mutex_unlock(&A.lock);
	flog("closestdin %s/%s", q->container_id, q->exec_id);
	if (!p)
		return agent_rpc_status_set(st, GRPC_STATUS_NOT_FOUND, "no such process");
	*ret_resp = NEW(ctx, close_stdin_response);
	return GRPC_STATUS_OK;
}

HANDLER(h_resize)
{
	const MSG(ResizePtyRequest) *q = (const void *)in;
	struct fproc *p;
	bool tty;

	pthread_mutex_lock(&A.lock);
	p = find_p(q->container_id, q->exec_id);
	tty = p && p->terminal;
	pthread_mutex_unlock(&A.lock);
	if (!tty)
		return agent_rpc_status_set(st, GRPC_STATUS_FAILED_PRECONDITION, "no terminal");
	flog("resize %s/%s %ux%u", q->container_id, q->exec_id, q->width, q->height);
	*ret_resp = NEW(ctx, resize_pty_response);
	return GRPC_STATUS_OK;
}

HANDLER(h_pause)
{
	flog("pause %s", ((const MSG(PauseContainerRequest) *)(const void *)in)->container_id);
	*ret_resp = NEW(ctx, pause_container_response);
	return GRPC_STATUS_OK;
}

HANDLER(h_resume)
{
	flog("resume %s", ((const MSG(ResumeContainerRequest) *)(const void *)in)->container_id);
	*ret_resp = NEW(ctx, resume_container_response);
	return GRPC_STATUS_OK;
}

HANDLER(h_update)
{
	const MSG(UpdateContainerRequest) *q = (const void *)in;

	if (strstr(q->resources, "\"devices\""))
		return agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT, "host device rules");
	flog("update %s %s", q->container_id, q->resources);
	*ret_resp = NEW(ctx, update_container_response);
	return GRPC_STATUS_OK;
}

HANDLER(h_stats)
{
	MSG(StatsContainerResponse) *r = NEW(ctx, stats_container_response);
	MSG(CpuStats) *cpu = NEW(ctx, cpu_stats);
	MSG(MemoryStats) *mem = NEW(ctx, memory_stats);
	MSG(PidsStats) *pids = NEW(ctx, pids_stats);

	cpu->usage_usec = 1234;
	mem->usage = 5678;
	mem->limit = 1 << 30;
	mem->oom_kill_events = 2;
	pids->current = 3;
	r->cpu = cpu;
	r->memory = mem;
	r->pids = pids;
	*ret_resp = &r->base;
	return GRPC_STATUS_OK;
}

HANDLER(h_list)
{
	const MSG(ListProcessesRequest) *q = (const void *)in;
	MSG(ListProcessesResponse) *r = NEW(ctx, list_processes_response);
	int32_t *pids = agent_rpc_ctx_alloc(ctx, 64 * sizeof(int32_t));

	pthread_mutex_lock(&A.lock);
	for (struct fproc *p = A.procs; p && r->n_pids < 64; p = p->next)
		if (strcmp(p->cid, q->container_id) == 0 && p->started && !p->exited)
			pids[r->n_pids++] = p->pid;
	pthread_mutex_unlock(&A.lock);
	r->pids = pids;
	*ret_resp = &r->base;
	return GRPC_STATUS_OK;
}

HANDLER(h_remove)
{
	const MSG(RemoveContainerRequest) *q = (const void *)in;
	struct fcontainer *c;

	pthread_mutex_lock(&A.lock);
	c = find_c(q->container_id);
	if (!c) {
		pthread_mutex_unlock(&A.lock);
		return agent_rpc_status_set(st, GRPC_STATUS_NOT_FOUND, "no container");
	}
	for (struct fproc *p = A.procs; p; p = p->next) {
		if (strcmp(p->cid, q->container_id) != 0 || p->exited)
			continue;
		if (!p->started) {
			p->exited = true;
			p->status = 137;
			clock_gettime(CLOCK_REALTIME, &p->exited_at);
		} else {
			p->signal = 9;
		}
	}
	pthread_cond_broadcast(&A.cond);
	for (struct fproc *p = A.procs; p; p = p->next)
		while (strcmp(p->cid, q->container_id) == 0 && !p->exited)
			pthread_cond_wait(&A.cond, &A.lock);
	c->removed = true;
	pthread_mutex_unlock(&A.lock);
	flog("remove %s", q->container_id);
	*ret_resp = NEW(ctx, remove_container_response);
	return GRPC_STATUS_OK;
}

HANDLER(h_oom)
{
	MSG(GetOOMEventResponse) *r;
	char *id;

	agent_rpc_ctx_on_cancel(ctx, wake_all, NULL);
	pthread_mutex_lock(&A.lock);
	while (A.n_oom == 0 && !agent_rpc_ctx_cancelled(ctx))
		pthread_cond_wait(&A.cond, &A.lock);
	if (A.n_oom == 0) {
		pthread_mutex_unlock(&A.lock);
		return agent_rpc_status_set(st, GRPC_STATUS_CANCELLED, "cancelled");
	}
	id = A.oom[0];
	memmove(A.oom, A.oom + 1, (size_t)--A.n_oom * sizeof(char *));
	pthread_mutex_unlock(&A.lock);
	r = NEW(ctx, get_oomevent_response);
	r->container_id = agent_rpc_ctx_strdup(ctx, id);
	free(id);
	*ret_resp = &r->base;
	return GRPC_STATUS_OK;
}

static void poweroff(void *arg, bool delivered)
{
	uint64_t one = 1;

	(void)arg;
	(void)delivered;
	(void)!write(A.poweroff_fd, &one, sizeof(one));
}

HANDLER(h_shutdown)
{
	flog("shutdown");
	agent_rpc_ctx_on_sent(ctx, poweroff, NULL);
	*ret_resp = NEW(ctx, shutdown_response);
	return GRPC_STATUS_OK;
}

#define M(name, req, resp, h)                                                                    \
	{ AGENT_METHOD(name), &nacelle__agent__v1__##req##__descriptor,                          \
	  &nacelle__agent__v1__##resp##__descriptor, h, agent_proto_validate, 0 }

static const struct agent_rpc_method methods[] = {
	M("Health", health_request, health_response, h_health),
	M("Version", version_request, version_response, h_version),
	M("SetupSandbox", setup_sandbox_request, setup_sandbox_response, h_setup),
	M("CreateContainer", create_container_request, create_container_response, h_create),
	M("StartContainer", start_container_request, start_container_response, h_start),
	M("ExecProcess", exec_process_request, exec_process_response, h_exec),
	M("SignalProcess", signal_process_request, signal_process_response, h_signal),
	M("WaitProcess", wait_process_request, wait_process_response, h_wait),
	M("CloseStdin", close_stdin_request, close_stdin_response, h_close_stdin),
	M("ResizePty", resize_pty_request, resize_pty_response, h_resize),
	M("PauseContainer", pause_container_request, pause_container_response, h_pause),
	M("ResumeContainer", resume_container_request, resume_container_response, h_resume),
	M("UpdateContainer", update_container_request, update_container_response, h_update),
	M("StatsContainer", stats_container_request, stats_container_response, h_stats),
	M("ListProcesses", list_processes_request, list_processes_response, h_list),
	M("RemoveContainer", remove_container_request, remove_container_response, h_remove),
	M("GetOOMEvent", get_oomevent_request, get_oomevent_response, h_oom),
	M("Shutdown", shutdown_request, shutdown_response, h_shutdown),
};

/* ---- the hybrid vsock socket ---- */

static void *vsock_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept4(A.vsock_fd, NULL, NULL, SOCK_CLOEXEC);
		char line[64];
		size_t len = 0;
		unsigned long port;
		bool ok = false;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		while (len < sizeof(line) - 1 && read(fd, line + len, 1) == 1 && line[len] != '\n')
			len++;
		line[len] = '\0';
		if (sscanf(line, "CONNECT %lu", &port) != 1) {
			close(fd);
			continue;
		}
		if (port == AGENT_VSOCK_PORT) {
			if (getenv("FAKE_NO_AGENT")) {
				close(fd);
				continue;
			}
			write_all(fd, "OK 1073741824\n", 14);
			if (agent_rpc_server_add_fd_take(A.server, fd) < 0)
				return NULL;
			continue;
		}
		pthread_mutex_lock(&A.lock);
		for (struct fproc *p = A.procs; p && !ok; p = p->next)
			for (int i = 0; i < 4; i++)
				if (p->ports[i] == port && p->fds[i] < 0 && !p->exited) {
					write_all(fd, "OK 1073741825\n", 14);
					p->fds[i] = fd;
					ok = true;
					break;
				}
		pthread_cond_broadcast(&A.cond);
		pthread_mutex_unlock(&A.lock);
		if (!ok)
			close(fd);
	}
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0)
		return -1;
	return fd;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* ---- the REST API ---- */

static char *error_body(const char *msg)
{
	return vmm_api_json_error(msg);
}

static void api_handler(void *opaque, const struct vmm_api_request *req,
			struct vmm_api_reply *reply)
{
	pthread_t t;

	(void)opaque;
	switch (req->action) {
	case VMM_API_PING:
		reply->http_status = 200;
		reply->body = vmm_api_json_ping();
		return;
	case VMM_API_VM_CREATE:
		if (A.cfg) {
			vmm_config_free(req->config);
			free(req->config);
			reply->http_status = 409;
			reply->body = error_body("a VM is already created");
			return;
		}
		A.cfg = req->config;
		flog("vm.create cmdline=%s vcpus=%u memory=%llu shared=%d fs=%s vsock=%s cid=%llu",
		     A.cfg->cmdline, A.cfg->boot_vcpus, (unsigned long long)A.cfg->memory_size,
		     A.cfg->memory_shared, A.cfg->nr_fs ? A.cfg->fs[0].tag : "",
		     A.cfg->vsock.socket, (unsigned long long)A.cfg->vsock.cid);
		reply->http_status = 204;
		return;
	case VMM_API_VM_BOOT:
		if (!A.cfg || getenv("FAKE_BOOT_FAIL")) {
			reply->http_status = 500;
			reply->body = error_body("fake boot failure");
			return;
		}
		/* Like the real one: the vhost-user back-end is connected at boot. */
		for (int i = 0; i < 100 && A.fs_fd < 0; i++) {
			A.fs_fd = connect_unix(A.cfg->fs[0].socket);
			if (A.fs_fd < 0)
				usleep(10000);
		}
		A.vsock_fd = listen_unix(A.cfg->vsock.socket);
		if (A.fs_fd < 0 || A.vsock_fd < 0 ||
		    agent_rpc_server_new(methods, sizeof(methods) / sizeof(methods[0]), NULL,
					 &A.server) < 0) {
			reply->http_status = 500;
			reply->body = error_body("fake: cannot reach virtiofsd or listen on vsock");
			return;
		}
		if (A.cfg->serial.file) {
			FILE *f = fopen(A.cfg->serial.file, "a");

			if (f) {
				fputs("[    0.000000] fake guest booting\n", f);
				fclose(f);
			}
		}
		pthread_create(&t, NULL, vsock_main, NULL);
		pthread_detach(t);
		reply->http_status = 204;
		return;
	case VMM_API_VM_INFO:
		reply->http_status = 200;
		reply->body = strdup("{\"state\":\"Running\"}");
		return;
	case VMM_API_VM_SHUTDOWN:
		flog("vm.shutdown");
		/* The VM's end; the process follows (the guest's connections go). */
		reply->http_status = 204;
		A.quit = true;
		return;
	case VMM_API_SHUTDOWN_VMM:
		flog("vmm.shutdown");
		reply->http_status = 204;
		A.quit = true;
		return;
	default:
		reply->http_status = 409;
		reply->body = error_body("not in the fake");
		return;
	}
}

int fake_vmm_main(int argc, char **argv)
{
	struct vmm_api_server *srv = NULL;
	struct error err = { 0 };
	const char *api = NULL;
	char *slash;

	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--api-socket") == 0 && i + 1 < argc)
			api = argv[i + 1];
	if (!api || strncmp(api, "path=", 5) != 0) {
		fprintf(stderr, "fake-vmm: usage: --api-socket path=P\n");
		return 1;
	}
	api += 5;
	/* <pod dir>/api.sock -> <pod dir>/shared */
	snprintf(A.shared, sizeof(A.shared), "%s", api);
	slash = strrchr(A.shared, '/');
	if (slash)
		snprintf(slash, sizeof(A.shared) - (size_t)(slash - A.shared), "/shared");
	A.poweroff_fd = eventfd(0, EFD_CLOEXEC);
	if (vmm_api_server_start(api, &srv, &err) < 0) {
		fprintf(stderr, "fake-vmm: %s\n", err.msg);
		return 1;
	}
	fprintf(stderr, "fake-vmm: serving %s\n", api);
	while (!A.quit) {
		struct pollfd p[2] = { { .fd = vmm_api_server_fd(srv), .events = POLLIN },
				       { .fd = A.poweroff_fd, .events = POLLIN } };

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents) {
			flog("poweroff");
			_exit(0);
		}
		if (p[0].revents)
			vmm_api_server_dispatch(srv, api_handler, NULL);
	}
	usleep(50000); /* the 204 of vmm.shutdown goes out */
	_exit(0);
}

int fake_virtiofsd_main(int argc, char **argv)
{
	const char *sock = NULL;
	char c;
	int lfd, fd;

	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "--socket-path=", 14) == 0)
			sock = argv[i] + 14;
	if (!sock)
		return 1;
	lfd = listen_unix(sock);
	if (lfd < 0)
		return 1;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	unlink(sock);
	while (fd >= 0 && read(fd, &c, 1) > 0)
		;
	fprintf(stderr, "fake-virtiofsd: front-end gone\n");
	return 0;
}
