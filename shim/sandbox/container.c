/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Containers and their processes, and the runtime ops the task service
 * calls (shim/include/shim/runtime.h).
 *
 * create: read <bundle>/config.json; the first container of the pod boots
 * the VM (a CRI "container" joins the VM its sandbox booted); mount the
 * rootfs at <shared>/<id>/rootfs and the spec's bind mounts at
 * <shared>/<id>/mounts/<n>; turn the spec into the guest's (spec.c); open
 * containerd's FIFOs and pick the stdio ports; CreateContainer; connect the
 * stdio streams (before StartContainer, as the agent expects).
 * start: StartContainer (init) or ExecProcess (an exec, then its streams at
 * once), then a thread per process blocks in WaitProcess, waits for the
 * output to drain, and reports the exit once.
 * The other ops map to one agent RPC each. remove: RemoveContainer, then
 * the container's mounts and directory; the last container stops the VM.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "mount.h"
#include "sandbox-internal.h"
#include "spec.h"
#include "util.h"
#include "vm-config.h"

#define CRI_CONTAINER_TYPE "io.kubernetes.cri.container-type"
#define CRI_SANDBOX_ID "io.kubernetes.cri.sandbox-id"

static const char *const process_state_names[] = {
	[PROCESS_PREPARED] = "prepared", [PROCESS_CREATED] = "created",
	[PROCESS_STARTING] = "starting", [PROCESS_RUNNING] = "running",
	[PROCESS_EXITED] = "exited",
};

const char *process_state_to_string(enum process_state s)
{
	return (size_t)s < ARRAY_SIZE(process_state_names) ? process_state_names[s] : "?";
}

static bool is_init(const char *exec_id)
{
	return !exec_id || !*exec_id;
}

static const char *shown_exec(const char *exec_id)
{
	return is_init(exec_id) ? "init" : exec_id;
}

/* ---- processes ---- */

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static struct process *process_new(struct shim_runtime *rt, const char *container_id,
				   const char *exec_id, const struct shim_stdio *stdio)
{
	struct process *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	atomic_init(&p->refs, 1);
	p->rt = rt;
	p->container_id = strdup(container_id);
	p->exec_id = dup_or_empty(exec_id);
	p->stdin_path = dup_or_empty(stdio->stdin_path);
	p->stdout_path = dup_or_empty(stdio->stdout_path);
	p->stderr_path = dup_or_empty(stdio->stderr_path);
	p->terminal = stdio->terminal;
	p->report_exit = true;
	if (!p->container_id || !p->exec_id || !p->stdin_path || !p->stdout_path ||
	    !p->stderr_path) {
		process_unref(p);
		return NULL;
	}
	return p;
}

static struct process *process_ref(struct process *p)
{
	atomic_fetch_add(&p->refs, 1);
	return p;
}

void process_unref(struct process *p)
{
	if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	stdio_relay_free(p->relay);
	free(p->container_id);
	free(p->exec_id);
	free(p->process_json);
	free(p->stdin_path);
	free(p->stdout_path);
	free(p->stderr_path);
	free(p);
}

/* ---- containers (rt->lock held for the lookups) ---- */

static void container_free(struct container *c)
{
	if (!c)
		return;
	process_unref(c->init);
	while (c->execs) {
		struct process *p = c->execs;

		c->execs = p->next;
		process_unref(p);
	}
	free(c->id);
	free(c->bundle);
	free(c->host_dir);
	free(c);
}

static struct container *find_container(struct shim_runtime *rt, const char *id)
{
	for (struct container *c = rt->containers; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

static struct process *find_process(struct container *c, const char *exec_id)
{
	if (is_init(exec_id))
		return c->init;
	for (struct process *p = c->execs; p; p = p->next)
		if (strcmp(p->exec_id, exec_id) == 0)
			return p;
	return NULL;
}

/* The process an op names, or NULL with err set. */
static struct process *lookup(struct shim_runtime *rt, const char *id, const char *exec_id,
			      struct error *err)
{
	struct container *c = id ? find_container(rt, id) : NULL;
	struct process *p;

	if (!c || c->creating || !c->init) {
		error_set(err, -ENOENT, "no container %s", id ? id : "(null)");
		return NULL;
	}
	p = find_process(c, exec_id);
	if (!p)
		error_set(err, -ENOENT, "container %s has no process %s", id, shown_exec(exec_id));
	return p;
}

static void unlink_container(struct shim_runtime *rt, struct container *c)
{
	for (struct container **pp = &rt->containers; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			return;
		}
}

static size_t count_containers(struct shim_runtime *rt)
{
	size_t n = 0;

	for (struct container *c = rt->containers; c; c = c->next)
		n++;
	return n;
}

void containers_free_all(struct shim_runtime *rt)
{
	struct container *list;

	pthread_mutex_lock(&rt->lock);
	list = rt->containers;
	rt->containers = NULL;
	pthread_mutex_unlock(&rt->lock);
	while (list) {
		struct container *c = list;

		list = c->next;
		container_free(c);
	}
}

/* ---- stdio ports (rt->lock held) ---- */

static bool port_in_use(struct shim_runtime *rt, uint32_t port)
{
	for (struct container *c = rt->containers; c; c = c->next) {
		for (struct process *p = c->init; p; p = NULL)
			for (int s = 0; s < STDIO__MAX; s++)
				if (p->ports[s] == port)
					return true;
		for (struct process *p = c->execs; p; p = p->next)
			for (int s = 0; s < STDIO__MAX; s++)
				if (p->ports[s] == port)
					return true;
	}
	return false;
}

/* A port no live process of the pod has: a counter over the range. */
static uint32_t port_alloc(struct shim_runtime *rt)
{
	for (;;) {
		uint32_t port = rt->next_port;

		rt->next_port = port >= AGENT_MAX_STDIO_PORT ? AGENT_MIN_STDIO_PORT : port + 1;
		if (!port_in_use(rt, port))
			return port;
	}
}

/* ---- agent calls ---- */

/* One call; a lost connection is the pod's death. */
static int agent_call(struct shim_runtime *rt, struct agent_conn *conn, const char *name,
		      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc,
		      int timeout_ms, ProtobufCMessage **ret_resp, struct error *err)
{
	ProtobufCMessage *resp = NULL;
	bool lost = false;
	int r = agent_conn_call(conn, name, req, desc, timeout_ms, &resp, &lost, err);

	if (r < 0) {
		if (lost)
			sandbox_mark_dead(rt, err->msg);
		return r;
	}
	if (ret_resp)
		*ret_resp = resp;
	else
		protobuf_c_message_free_unpacked(resp, NULL);
	return 0;
}

/* Get the connection, call, drop it. */
static int agent_call_simple(struct shim_runtime *rt, const char *name,
			     const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc,
			     int timeout_ms, ProtobufCMessage **ret_resp, struct error *err)
{
	struct agent_conn *conn = NULL;
	int r = sandbox_agent(rt, &conn, err);

	if (r < 0)
		return r;
	r = agent_call(rt, conn, name, req, desc, timeout_ms, ret_resp, err);
	agent_conn_unref(conn);
	return r;
}

/* ---- exits ---- */

/* Record the exit and report it once (not for a process whose start
 * failed, nor once close() began). */
static void process_exited(struct process *p, uint32_t status, const struct timespec *at)
{
	struct shim_runtime *rt = p->rt;
	bool report;

	pthread_mutex_lock(&rt->lock);
	report = !p->exit_reported && p->report_exit && !rt->closing;
	if (!p->exit_reported) {
		p->exit_status = status;
		p->exited_at = *at;
		p->exit_reported = true;
	}
	p->state = PROCESS_EXITED;
	pthread_mutex_unlock(&rt->lock);
	log_debug("sandbox: %s/%s (pid %" PRIu32 ") exited with %" PRIu32 "%s", p->container_id,
		  shown_exec(p->exec_id), p->pid, status, report ? "" : " (not reported)");
	if (report)
		rt->ev.exited(rt->task, p->container_id, p->exec_id, p->pid, status, at);
}

/* The last output reaches containerd before the exit does. */
static void process_drain(struct process *p)
{
	if (!p->relay)
		return;
	if (stdio_relay_wait_output(p->relay, SANDBOX_STDIO_DRAIN_TIMEOUT_MS) < 0)
		log_warn("sandbox: %s/%s: output still open %d ms after the exit (a child holds it?); closing it",
			 p->container_id, shown_exec(p->exec_id), SANDBOX_STDIO_DRAIN_TIMEOUT_MS);
	stdio_relay_stop(p->relay);
}

struct wait_arg {
	struct process *p;
	struct agent_conn *conn;
};

static void *wait_main(void *arg)
{
	struct wait_arg *w = arg;
	struct process *p = w->p;
	AGENT_MSG(WaitProcessRequest) req = NACELLE__AGENT__V1__WAIT_PROCESS_REQUEST__INIT;
	AGENT_MSG(WaitProcessResponse) *resp = NULL;
	struct timespec at = realtime_now();
	uint32_t status = SANDBOX_DEAD_EXIT_STATUS;
	struct error err = { 0 };
	int r;

	req.container_id = p->container_id;
	req.exec_id = p->exec_id;
	r = agent_call(p->rt, w->conn, "WaitProcess", &req.base, AGENT_DESC(wait_process_response), 0,
		       (ProtobufCMessage **)&resp, &err);
	if (r >= 0) {
		status = resp->exit_status;
		if (resp->exited_at) {
			at.tv_sec = resp->exited_at->seconds;
			at.tv_nsec = resp->exited_at->nanos;
		}
		protobuf_c_message_free_unpacked(&resp->base, NULL);
	} else {
		struct shim_runtime *rt = p->rt;
		bool stopping;

		pthread_mutex_lock(&rt->lock);
		stopping = rt->closing || rt->state == SANDBOX_STOPPING || rt->state == SANDBOX_NONE;
		pthread_mutex_unlock(&rt->lock);
		/* Expected when the VM is being stopped; news otherwise. */
		log_full(stopping ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN, 0,
			 "sandbox: %s/%s: %s; reporting exit status %d", p->container_id,
			 shown_exec(p->exec_id), err.msg, SANDBOX_DEAD_EXIT_STATUS);
	}
	process_drain(p);
	process_exited(p, status, &at);
	agent_conn_unref(w->conn);
	process_unref(p);
	free(w);
	return NULL;
}

/* rt->lock not held. */
static int wait_start(struct shim_runtime *rt, struct process *p, struct agent_conn *conn)
{
	struct wait_arg *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->p = process_ref(p);
	w->conn = agent_conn_ref(conn);
	r = rt_thread_spawn(rt, wait_main, w);
	if (r < 0) {
		agent_conn_unref(w->conn);
		process_unref(w->p);
		free(w);
		return r;
	}
	pthread_mutex_lock(&rt->lock);
	p->wait_started = true;
	pthread_mutex_unlock(&rt->lock);
	return 0;
}

struct dead_report {
	struct process **procs;
	size_t n;
};

static void *dead_report_main(void *arg)
{
	struct dead_report *d = arg;
	struct timespec now = realtime_now();

	for (size_t i = 0; i < d->n; i++) {
		process_drain(d->procs[i]);
		process_exited(d->procs[i], SANDBOX_DEAD_EXIT_STATUS, &now);
		process_unref(d->procs[i]);
	}
	free(d->procs);
	free(d);
	return NULL;
}

void containers_sandbox_died(struct shim_runtime *rt)
{
	struct dead_report *d = calloc(1, sizeof(*d));
	size_t cap = 0;

	if (!d)
		goto oom;
	/* Running processes have a wait thread whose call fails now; the
	 * created-not-started ones have nobody. */
	pthread_mutex_lock(&rt->lock);
	for (struct container *c = rt->containers; c; c = c->next)
		cap += c->init ? 1 : 0;
	d->procs = calloc(cap + 1, sizeof(*d->procs));
	for (struct container *c = rt->containers; d->procs && c; c = c->next) {
		struct process *p = c->init;

		if (p && p->state == PROCESS_CREATED && !p->wait_started && !p->exit_reported)
			d->procs[d->n++] = process_ref(p);
	}
	pthread_mutex_unlock(&rt->lock);
	if (!d->procs)
		goto oom;
	if (d->n == 0) {
		free(d->procs);
		free(d);
		return;
	}
	if (rt_thread_spawn(rt, dead_report_main, d) == 0)
		return;
	log_warn("sandbox %s: no thread for the exit reports; reporting inline", rt->sandbox_id);
	dead_report_main(d);
	return;
oom:
	free(d);
	log_error("sandbox %s: out of memory reporting the exits of created processes",
		  rt->sandbox_id);
}

/* ---- stdio ---- */

/* Open containerd's ends and pick a port per stream the process needs. */
static int stdio_prepare(struct shim_runtime *rt, struct process *p, struct error *err)
{
	struct shim_stdio paths = { p->stdin_path, p->stdout_path, p->stderr_path, p->terminal };
	struct stdio_relay *relay = NULL;
	int r = stdio_relay_open(&paths, &relay, err);

	if (r < 0)
		return error_wrap(err, "stdio of %s/%s", p->container_id, shown_exec(p->exec_id));
	pthread_mutex_lock(&rt->lock);
	p->relay = relay;
	for (int s = 0; s < STDIO__MAX; s++)
		p->ports[s] = stdio_relay_wants(relay, (enum stdio_stream)s) ? port_alloc(rt) : 0;
	pthread_mutex_unlock(&rt->lock);
	return 0;
}

static void stdio_fill(const struct process *p, AGENT_MSG(Stdio) *s)
{
	s->stdin_port = p->ports[STDIO_STDIN];
	s->stdout_port = p->ports[STDIO_STDOUT];
	s->stderr_port = p->ports[STDIO_STDERR];
	s->terminal = p->terminal;
	s->terminal_port = p->ports[STDIO_TERMINAL];
}

/* After the RPC that made the agent listen: connect every stream, start
 * moving bytes. */
static int stdio_connect(struct shim_runtime *rt, struct process *p, struct error *err)
{
	int fds[STDIO__MAX] = { -1, -1, -1, -1 };

	for (int s = 0; s < STDIO__MAX; s++) {
		if (!p->ports[s])
			continue;
		fds[s] = agent_rpc_dial_hybrid_vsock(rt->paths.vsock_sock, p->ports[s],
						     SANDBOX_STDIO_DIAL_TIMEOUT_MS, err);
		if (fds[s] < 0) {
			int r = fds[s];

			for (int k = 0; k < s; k++)
				if (fds[k] >= 0)
					close(fds[k]);
			return error_wrap(err, "%s stream of %s/%s", stdio_stream_to_string(s),
					  p->container_id, shown_exec(p->exec_id)),
			       r;
		}
	}
	return stdio_relay_start(p->relay, fds, err);
}

/* ---- create ---- */

static void remove_in_agent(struct shim_runtime *rt, struct agent_conn *conn, const char *id)
{
	AGENT_MSG(RemoveContainerRequest) req = NACELLE__AGENT__V1__REMOVE_CONTAINER_REQUEST__INIT;
	struct error err = { 0 };

	req.container_id = (char *)id;
	if (agent_call(rt, conn, "RemoveContainer", &req.base, AGENT_DESC(remove_container_response),
		       SANDBOX_REMOVE_TIMEOUT_MS, NULL, &err) < 0)
		log_warn("sandbox: undoing the creation of %s: %s", id, err.msg);
}

/* The VM: booted by the pod's first container, joined by the others. */
static int ensure_vm(struct shim_runtime *rt, yajl_val spec, const char *ctype,
		     const char *config_path, struct error *err)
{
	enum sandbox_state st;
	int r = 0;

	pthread_mutex_lock(&rt->boot_lock);
	pthread_mutex_lock(&rt->lock);
	st = rt->state;
	pthread_mutex_unlock(&rt->lock);
	if (st == SANDBOX_NONE) {
		if (ctype && strcmp(ctype, "container") == 0)
			r = error_set(err, -ENOENT,
				      "sandbox %s has no VM: its sandbox container must be created first",
				      rt->sandbox_id);
		else
			r = sandbox_boot(rt, spec, config_path, err);
	}
	pthread_mutex_unlock(&rt->boot_lock);
	return r;
}

/* Mount the rootfs and the shared volumes under <shared>/<id>/. */
static int mount_container(struct container *c, const struct shim_create_request *req,
			   const char *host_root, const struct spec_result *guest, const char *shared,
			   struct error *err)
{
	_cleanup_free_ char *rootfs = strprintf("%s/rootfs", c->host_dir);
	_cleanup_free_ char *mounts = strprintf("%s/mounts", c->host_dir);
	int r;

	if (!rootfs || !mounts)
		return error_set(err, -ENOMEM, "out of memory");
	if (mkdir(rootfs, 0755) < 0 || mkdir(mounts, 0711) < 0)
		return error_set(err, -errno, "%s: %s", c->host_dir, strerror(errno));
	if (req->n_rootfs > 0) {
		r = mount_rootfs(req->rootfs, req->n_rootfs, rootfs, err);
	} else {
		/* containerd (or ctr --rootfs) already prepared the bundle's root. */
		r = mount_bind(host_root, rootfs, true, false, err);
	}
	if (r < 0)
		return error_wrap(err, "rootfs");
	for (size_t i = 0; i < guest->n_shares; i++) {
		const struct spec_share *s = &guest->shares[i];
		_cleanup_free_ char *target = strprintf("%s/%s", shared, s->rel);

		if (!target)
			return error_set(err, -ENOMEM, "out of memory");
		r = mount_bind(s->source, target, s->recursive, s->readonly, err);
		if (r < 0)
			return error_wrap(err, "volume %s", s->source);
	}
	return 0;
}

static int op_create(struct shim_runtime *rt, const struct shim_create_request *req,
		     uint32_t *ret_pid, struct error *err)
{
	AGENT_MSG(CreateContainerRequest) creq = NACELLE__AGENT__V1__CREATE_CONTAINER_REQUEST__INIT;
	AGENT_MSG(Stdio) stdio = NACELLE__AGENT__V1__STDIO__INIT;
	AGENT_MSG(CreateContainerResponse) *cresp = NULL;
	struct spec_result guest = { 0 };
	struct spec_guest g = { 0 };
	struct container *c = NULL;
	struct process *p = NULL;
	struct agent_conn *conn = NULL;
	yajl_val spec = NULL;
	const char *ctype, *sbid;
	uint32_t *pids = NULL, pid;
	char *host_root = NULL;
	size_t n_pids = 0;
	bool in_agent = false, died;
	int r;

	error_clear(err);
	if (!req || !req->id || agent_proto_check_id("id", req->id, 0, err) < 0)
		return err->code ? err->code : error_set(err, -EINVAL, "no container id");
	if (!req->bundle || req->bundle[0] != '/')
		return error_set(err, -EINVAL, "bundle: not an absolute path");
	r = spec_load(req->bundle, &spec, err);
	if (r < 0)
		return r;
	ctype = spec_annotation(spec, CRI_CONTAINER_TYPE);
	sbid = spec_annotation(spec, CRI_SANDBOX_ID);
	if (ctype && strcmp(ctype, "container") == 0 && sbid && strcmp(sbid, rt->sandbox_id) != 0) {
		r = error_set(err, -EINVAL,
			      "container %s belongs to sandbox %.80s; this runtime serves %s", req->id,
			      sbid, rt->sandbox_id);
		yajl_tree_free(spec);
		return r;
	}

	c = calloc(1, sizeof(*c));
	if (c) {
		c->id = strdup(req->id);
		c->bundle = strdup(req->bundle);
		c->host_dir = strprintf("%s/%s", rt->paths.shared, req->id);
	}
	if (!c || !c->id || !c->bundle || !c->host_dir) {
		container_free(c);
		yajl_tree_free(spec);
		return error_set(err, -ENOMEM, "out of memory");
	}
	/* A placeholder: the id is taken, containers() counts it. */
	pthread_mutex_lock(&rt->lock);
	if (rt->closing || find_container(rt, req->id)) {
		r = rt->closing ? error_set(err, -EBUSY, "the runtime is closing")
				: error_set(err, -EEXIST, "container %s exists", req->id);
		pthread_mutex_unlock(&rt->lock);
		container_free(c);
		yajl_tree_free(spec);
		return r;
	}
	c->is_sandbox = ctype ? strcmp(ctype, "sandbox") == 0
			      : (rt->containers == NULL && rt->sandbox_pid == 0);
	c->creating = true;
	c->next = rt->containers;
	rt->containers = c;
	pthread_mutex_unlock(&rt->lock);

	r = ensure_vm(rt, spec, ctype, req->config_path, err);
	if (r < 0)
		goto fail;
	r = sandbox_agent(rt, &conn, err);
	if (r < 0)
		goto fail;
	if (mkdir(c->host_dir, 0711) < 0) {
		r = error_set(err, -errno, "%s: %s", c->host_dir, strerror(errno));
		goto fail;
	}

	/* The guest's spec: namespaces of the pod's containers may be joined. */
	pthread_mutex_lock(&rt->lock);
	pids = calloc(count_containers(rt) + 1, sizeof(*pids));
	for (struct container *x = rt->containers; pids && x; x = x->next)
		if (x->init && x->init->pid)
			pids[n_pids++] = x->init->pid;
	g.sandbox_pid = c->is_sandbox ? 0 : rt->sandbox_pid;
	pthread_mutex_unlock(&rt->lock);
	if (!pids) {
		r = error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	/* root.path on the host, before the spec becomes the guest's. */
	r = spec_host_root(spec, req->bundle, &host_root, err);
	if (r < 0)
		goto fail;
	g.container_id = req->id;
	g.bundle = req->bundle;
	g.guest_shared = SANDBOX_GUEST_SHARED;
	g.ns_pids = pids;
	g.n_ns_pids = n_pids;
	r = spec_for_guest(spec, &g, &guest, err);
	if (r < 0)
		goto fail;
	if (guest.json_len > AGENT_MAX_SPEC) {
		r = error_set(err, -E2BIG, "the guest's spec is %zu bytes, more than the agent takes (%u)",
			      guest.json_len, AGENT_MAX_SPEC);
		goto fail;
	}
	r = mount_container(c, req, host_root, &guest, rt->paths.shared, err);
	if (r < 0)
		goto fail;

	p = process_new(rt, req->id, "", &req->stdio);
	if (!p) {
		r = error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	r = stdio_prepare(rt, p, err);
	if (r < 0)
		goto fail;
	creq.container_id = (char *)req->id;
	creq.spec = guest.json;
	creq.rootfs = guest.rootfs;
	stdio_fill(p, &stdio);
	creq.stdio = &stdio;
	r = agent_call(rt, conn, "CreateContainer", &creq.base, AGENT_DESC(create_container_response),
		       SANDBOX_CREATE_TIMEOUT_MS, (ProtobufCMessage **)&cresp, err);
	if (r < 0)
		goto fail;
	in_agent = true;
	pid = (uint32_t)cresp->pid;
	protobuf_c_message_free_unpacked(&cresp->base, NULL);
	/* The agent listens on the ports now; the init's streams connect
	 * before it starts. */
	r = stdio_connect(rt, p, err);
	if (r < 0)
		goto fail;

	pthread_mutex_lock(&rt->lock);
	p->pid = pid;
	p->state = PROCESS_CREATED;
	c->init = p;
	c->creating = false;
	if (c->is_sandbox)
		rt->sandbox_pid = pid;
	died = rt->state == SANDBOX_DEAD;
	pthread_mutex_unlock(&rt->lock);
	/* The VM died while we were at it: the new process is reported too. */
	if (died)
		containers_sandbox_died(rt);
	log_info("sandbox %s: created container %s (pid %" PRIu32 " in the guest)", rt->sandbox_id,
		 req->id, pid);
	agent_conn_unref(conn);
	spec_result_free(&guest);
	free(pids);
	free(host_root);
	yajl_tree_free(spec);
	*ret_pid = pid;
	return 0;

fail:
	error_wrap(err, "create %s", req->id);
	if (in_agent)
		remove_in_agent(rt, conn, req->id);
	process_unref(p);
	{
		struct error uerr = { 0 };

		if (mount_unmount_all(c->host_dir, &uerr) < 0)
			log_error("sandbox: %s", uerr.msg);
		else if (rm_rf(c->host_dir) < 0)
			log_error("sandbox: cannot remove %s", c->host_dir);
	}
	pthread_mutex_lock(&rt->lock);
	unlink_container(rt, c);
	pthread_mutex_unlock(&rt->lock);
	container_free(c);
	agent_conn_unref(conn);
	spec_result_free(&guest);
	free(pids);
	free(host_root);
	yajl_tree_free(spec);
	return r;
}

/* ---- start ---- */

static int start_init(struct shim_runtime *rt, const char *id, uint32_t *ret_pid,
		      struct error *err)
{
	AGENT_MSG(StartContainerRequest) req = NACELLE__AGENT__V1__START_CONTAINER_REQUEST__INIT;
	struct agent_conn *conn = NULL;
	struct process *p;
	bool died;
	int r;

	pthread_mutex_lock(&rt->lock);
	p = lookup(rt, id, NULL, err);
	if (p && p->state != PROCESS_CREATED) {
		error_set(err, -EBUSY, "container %s is %s", id, process_state_to_string(p->state));
		p = NULL;
	}
	if (p && sandbox_agent_locked(rt, &conn, err) < 0)
		p = NULL;
	if (!p) {
		pthread_mutex_unlock(&rt->lock);
		return err->code;
	}
	p->state = PROCESS_STARTING;
	process_ref(p);
	pthread_mutex_unlock(&rt->lock);

	req.container_id = (char *)id;
	r = agent_call(rt, conn, "StartContainer", &req.base, AGENT_DESC(start_container_response),
		       SANDBOX_RPC_TIMEOUT_MS, NULL, err);
	pthread_mutex_lock(&rt->lock);
	if (p->state == PROCESS_STARTING)
		p->state = r < 0 ? PROCESS_CREATED : PROCESS_RUNNING;
	died = rt->state == SANDBOX_DEAD;
	pthread_mutex_unlock(&rt->lock);
	if (r >= 0) {
		r = wait_start(rt, p, conn);
		if (r < 0)
			error_set(err, r, "no thread to wait for %s: %s", id, strerror(-r));
	} else if (died) {
		/* Not started, and nobody else will report it. */
		containers_sandbox_died(rt);
	}
	if (r >= 0)
		*ret_pid = p->pid;
	process_unref(p);
	agent_conn_unref(conn);
	return r;
}

static int start_exec(struct shim_runtime *rt, const char *id, const char *exec_id,
		      uint32_t *ret_pid, struct error *err)
{
	AGENT_MSG(ExecProcessRequest) req = NACELLE__AGENT__V1__EXEC_PROCESS_REQUEST__INIT;
	AGENT_MSG(Stdio) stdio = NACELLE__AGENT__V1__STDIO__INIT;
	AGENT_MSG(ExecProcessResponse) *resp = NULL;
	AGENT_MSG(SignalProcessRequest) kill_req = NACELLE__AGENT__V1__SIGNAL_PROCESS_REQUEST__INIT;
	struct agent_conn *conn = NULL;
	struct process *p;
	struct error kerr = { 0 };
	uint32_t pid;
	int r;

	pthread_mutex_lock(&rt->lock);
	p = lookup(rt, id, exec_id, err);
	if (p && p->state != PROCESS_PREPARED) {
		error_set(err, -EBUSY, "process %s of %s is %s", exec_id, id,
			  process_state_to_string(p->state));
		p = NULL;
	} else if (p && p->relay) {
		error_set(err, -EBUSY, "process %s of %s failed to start before; exec it anew",
			  exec_id, id);
		p = NULL;
	}
	if (p && sandbox_agent_locked(rt, &conn, err) < 0)
		p = NULL;
	if (!p) {
		pthread_mutex_unlock(&rt->lock);
		return err->code;
	}
	p->state = PROCESS_STARTING;
	process_ref(p);
	pthread_mutex_unlock(&rt->lock);

	r = stdio_prepare(rt, p, err);
	if (r < 0)
		goto not_started;
	req.container_id = p->container_id;
	req.exec_id = p->exec_id;
	req.process = p->process_json;
	stdio_fill(p, &stdio);
	req.stdio = &stdio;
	r = agent_call(rt, conn, "ExecProcess", &req.base, AGENT_DESC(exec_process_response),
		       SANDBOX_RPC_TIMEOUT_MS, (ProtobufCMessage **)&resp, err);
	if (r < 0)
		goto not_started;
	pid = (uint32_t)resp->pid;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	pthread_mutex_lock(&rt->lock);
	p->pid = pid;
	p->state = PROCESS_RUNNING;
	pthread_mutex_unlock(&rt->lock);

	/* It runs already; its output waits in its pipe until we connect. */
	r = stdio_connect(rt, p, err);
	if (r < 0) {
		/* Without its streams it must not run on: kill it, and let the
		 * wait thread collect it without reporting (the start failed). */
		pthread_mutex_lock(&rt->lock);
		p->report_exit = false;
		pthread_mutex_unlock(&rt->lock);
		kill_req.container_id = p->container_id;
		kill_req.exec_id = p->exec_id;
		kill_req.signal = SIGKILL;
		if (agent_call(rt, conn, "SignalProcess", &kill_req.base,
			       AGENT_DESC(signal_process_response), SANDBOX_RPC_TIMEOUT_MS, NULL,
			       &kerr) < 0)
			log_warn("sandbox: %s", kerr.msg);
	}
	if (wait_start(rt, p, conn) < 0) {
		log_error("sandbox: no thread to wait for %s/%s", id, exec_id);
		if (r >= 0)
			r = error_set(err, -ENOMEM, "no thread to wait for %s/%s", id, exec_id);
	}
	if (r >= 0)
		*ret_pid = pid;
	process_unref(p);
	agent_conn_unref(conn);
	return r;

not_started:
	/* Nothing runs. The relay stays (stopped) with the process: another
	 * thread may hold it; containerd removes the exec after a failed start. */
	stdio_relay_stop(p->relay);
	pthread_mutex_lock(&rt->lock);
	p->state = PROCESS_PREPARED;
	for (int s = 0; s < STDIO__MAX; s++)
		p->ports[s] = 0;
	pthread_mutex_unlock(&rt->lock);
	process_unref(p);
	agent_conn_unref(conn);
	return r;
}

static int op_start(struct shim_runtime *rt, const char *id, const char *exec_id,
		    uint32_t *ret_pid, struct error *err)
{
	error_clear(err);
	if (!id)
		return error_set(err, -EINVAL, "no container id");
	return is_init(exec_id) ? start_init(rt, id, ret_pid, err)
				: start_exec(rt, id, exec_id, ret_pid, err);
}

/* ---- exec ---- */

static int op_exec(struct shim_runtime *rt, const struct shim_exec_request *req,
		   struct error *err)
{
	struct container *c;
	struct process *p;
	int r = 0;

	error_clear(err);
	if (!req || !req->id || is_init(req->exec_id))
		return error_set(err, -EINVAL, "exec needs a container id and an exec id");
	if (agent_proto_check_id("exec id", req->exec_id, 0, err) < 0)
		return err->code;
	if (!req->process_json || req->process_json_len == 0)
		return error_set(err, -EINVAL, "exec %s: no process", req->exec_id);
	if (req->process_json_len > AGENT_MAX_PROCESS)
		return error_set(err, -E2BIG, "exec %s: process larger than %u bytes", req->exec_id,
				 AGENT_MAX_PROCESS);
	p = process_new(rt, req->id, req->exec_id, &req->stdio);
	if (p)
		p->process_json = strndup(req->process_json, req->process_json_len);
	if (!p || !p->process_json) {
		process_unref(p);
		return error_set(err, -ENOMEM, "out of memory");
	}
	p->process_json_len = strlen(p->process_json);
	p->state = PROCESS_PREPARED;

	pthread_mutex_lock(&rt->lock);
	c = find_container(rt, req->id);
	if (!c || c->creating || !c->init || c->removing)
		r = error_set(err, -ENOENT, "no container %s", req->id);
	else if (find_process(c, req->exec_id))
		r = error_set(err, -EEXIST, "container %s has a process %s", req->id, req->exec_id);
	if (r >= 0) {
		p->next = c->execs;
		c->execs = p;
		p = NULL;
	}
	pthread_mutex_unlock(&rt->lock);
	process_unref(p);
	return r;
}

/* ---- signals, terminal, stdin ---- */

static int op_kill(struct shim_runtime *rt, const char *id, const char *exec_id,
		   uint32_t signal, bool all, struct error *err)
{
	AGENT_MSG(SignalProcessRequest) req = NACELLE__AGENT__V1__SIGNAL_PROCESS_REQUEST__INIT;
	struct agent_conn *conn = NULL;
	struct process *p;
	int r;

	error_clear(err);
	if (signal < 1 || signal > AGENT_MAX_SIGNAL)
		return error_set(err, -EINVAL, "signal %" PRIu32 " is outside 1..%d", signal,
				 AGENT_MAX_SIGNAL);
	if (all && !is_init(exec_id))
		return error_set(err, -EINVAL, "all: only for the init process");
	pthread_mutex_lock(&rt->lock);
	p = lookup(rt, id, exec_id, err);
	if (p && (p->exit_reported || p->state == PROCESS_EXITED ||
		  p->state == PROCESS_PREPARED)) {
		error_set(err, -ENOENT, "process %s of %s %s", shown_exec(exec_id), id,
			  p->state == PROCESS_PREPARED ? "was not started" : "already finished");
		p = NULL;
	}
	if (p && rt->state == SANDBOX_DEAD) {
		error_set(err, -ENOENT, "process %s of %s is gone with the pod's VM", shown_exec(exec_id),
			  id);
		p = NULL;
	}
	if (p && sandbox_agent_locked(rt, &conn, err) < 0)
		p = NULL;
	pthread_mutex_unlock(&rt->lock);
	if (!p)
		return err->code;
	req.container_id = (char *)id;
	req.exec_id = (char *)(exec_id ? exec_id : "");
	req.signal = signal;
	req.all = all;
	r = agent_call(rt, conn, "SignalProcess", &req.base, AGENT_DESC(signal_process_response),
		       SANDBOX_RPC_TIMEOUT_MS, NULL, err);
	agent_conn_unref(conn);
	return r;
}

static int op_resize_pty(struct shim_runtime *rt, const char *id, const char *exec_id,
			 uint32_t width, uint32_t height, struct error *err)
{
	AGENT_MSG(ResizePtyRequest) req = NACELLE__AGENT__V1__RESIZE_PTY_REQUEST__INIT;
	struct process *p;

	error_clear(err);
	/* containerd may send 0x0 before it knows the size: nothing to do. */
	if (width == 0 || height == 0)
		return 0;
	if (width > AGENT_MAX_PTY_SIZE || height > AGENT_MAX_PTY_SIZE)
		return error_set(err, -EINVAL, "terminal size %" PRIu32 "x%" PRIu32 " too large",
				 width, height);
	pthread_mutex_lock(&rt->lock);
	p = lookup(rt, id, exec_id, err);
	if (p && !p->terminal) {
		error_set(err, -EBUSY, "process %s of %s has no terminal", shown_exec(exec_id), id);
		p = NULL;
	}
	pthread_mutex_unlock(&rt->lock);
	if (!p)
		return err->code;
	req.container_id = (char *)id;
	req.exec_id = (char *)(exec_id ? exec_id : "");
	req.width = width;
	req.height = height;
	return agent_call_simple(rt, "ResizePty", &req.base, AGENT_DESC(resize_pty_response),
				 SANDBOX_RPC_TIMEOUT_MS, NULL, err);
}

static int op_close_stdin(struct shim_runtime *rt, const char *id, const char *exec_id,
			  struct error *err)
{
	AGENT_MSG(CloseStdinRequest) req = NACELLE__AGENT__V1__CLOSE_STDIN_REQUEST__INIT;
	struct stdio_relay *relay = NULL;
	struct process *p;
	bool terminal = false;
	int r = 0;

	error_clear(err);
	pthread_mutex_lock(&rt->lock);
	p = lookup(rt, id, exec_id, err);
	if (p) {
		process_ref(p);
		relay = p->relay;
		terminal = p->terminal;
	}
	pthread_mutex_unlock(&rt->lock);
	if (!p)
		return err->code;
	if (!relay) {
		process_unref(p); /* not started: no stdin yet */
		return 0;
	}
	/* What containerd wrote goes first; without a terminal, the end of the
	 * stream is the process's EOF. */
	if (stdio_relay_close_stdin(relay, SANDBOX_CLOSE_STDIN_TIMEOUT_MS) < 0 || terminal) {
		req.container_id = (char *)id;
		req.exec_id = (char *)(exec_id ? exec_id : "");
		r = agent_call_simple(rt, "CloseStdin", &req.base, AGENT_DESC(close_stdin_response),
				      SANDBOX_RPC_TIMEOUT_MS, NULL, err);
		if (r == -ENOENT) /* it exited meanwhile */
			r = 0;
	}
	process_unref(p);
	return r;
}

/* ---- container-wide calls ---- */

/* The container must exist (created); err otherwise. */
static int container_exists(struct shim_runtime *rt, const char *id, struct error *err)
{
	struct process *p;

	pthread_mutex_lock(&rt->lock);
	p = lookup(rt, id, NULL, err);
	pthread_mutex_unlock(&rt->lock);
	return p ? 0 : err->code;
}

static int op_pause(struct shim_runtime *rt, const char *id, struct error *err)
{
	AGENT_MSG(PauseContainerRequest) req = NACELLE__AGENT__V1__PAUSE_CONTAINER_REQUEST__INIT;

	error_clear(err);
	if (container_exists(rt, id, err) < 0)
		return err->code;
	req.container_id = (char *)id;
	return agent_call_simple(rt, "PauseContainer", &req.base,
				 AGENT_DESC(pause_container_response), SANDBOX_RPC_TIMEOUT_MS, NULL,
				 err);
}

static int op_resume(struct shim_runtime *rt, const char *id, struct error *err)
{
	AGENT_MSG(ResumeContainerRequest) req = NACELLE__AGENT__V1__RESUME_CONTAINER_REQUEST__INIT;

	error_clear(err);
	if (container_exists(rt, id, err) < 0)
		return err->code;
	req.container_id = (char *)id;
	return agent_call_simple(rt, "ResumeContainer", &req.base,
				 AGENT_DESC(resume_container_response), SANDBOX_RPC_TIMEOUT_MS, NULL,
				 err);
}

static int op_update(struct shim_runtime *rt, const char *id, const char *resources_json,
		     size_t len, struct error *err)
{
	AGENT_MSG(UpdateContainerRequest) req = NACELLE__AGENT__V1__UPDATE_CONTAINER_REQUEST__INIT;
	_cleanup_free_ char *json = NULL;
	size_t json_len = 0;
	int r;

	error_clear(err);
	if (!resources_json)
		return error_set(err, -EINVAL, "update %s: no resources", id);
	if (container_exists(rt, id, err) < 0)
		return err->code;
	/* Device rules name host devices. */
	r = spec_resources_for_guest(resources_json, len, &json, &json_len, err);
	if (r < 0)
		return r;
	if (json_len > AGENT_MAX_RESOURCES)
		return error_set(err, -E2BIG, "update %s: resources larger than %u bytes", id,
				 AGENT_MAX_RESOURCES);
	req.container_id = (char *)id;
	req.resources = json;
	return agent_call_simple(rt, "UpdateContainer", &req.base,
				 AGENT_DESC(update_container_response), SANDBOX_RPC_TIMEOUT_MS, NULL,
				 err);
}

static int op_stats(struct shim_runtime *rt, const char *id, struct shim_stats *ret,
		    struct error *err)
{
	AGENT_MSG(StatsContainerRequest) req = NACELLE__AGENT__V1__STATS_CONTAINER_REQUEST__INIT;
	AGENT_MSG(StatsContainerResponse) *resp = NULL;
	struct shim_stats s = { 0 };
	int r;

	error_clear(err);
	if (container_exists(rt, id, err) < 0)
		return err->code;
	req.container_id = (char *)id;
	r = agent_call_simple(rt, "StatsContainer", &req.base, AGENT_DESC(stats_container_response),
			      SANDBOX_RPC_TIMEOUT_MS, (ProtobufCMessage **)&resp, err);
	if (r < 0)
		return r;
	if (resp->cpu) {
		s.cpu_usage_usec = resp->cpu->usage_usec;
		s.cpu_user_usec = resp->cpu->user_usec;
		s.cpu_system_usec = resp->cpu->system_usec;
		s.cpu_nr_periods = resp->cpu->nr_periods;
		s.cpu_nr_throttled = resp->cpu->nr_throttled;
		s.cpu_throttled_usec = resp->cpu->throttled_usec;
	}
	if (resp->memory) {
		s.memory_usage = resp->memory->usage;
		s.memory_usage_limit = resp->memory->limit;
		s.memory_max_usage = resp->memory->max_usage;
		s.memory_oom = resp->memory->oom_events;
		s.memory_oom_kill = resp->memory->oom_kill_events;
	}
	if (resp->pids) {
		s.pids_current = resp->pids->current;
		s.pids_limit = resp->pids->limit;
	}
	if (resp->io) {
		s.io_rbytes = resp->io->read_bytes;
		s.io_wbytes = resp->io->write_bytes;
		s.io_rios = resp->io->read_ops;
		s.io_wios = resp->io->write_ops;
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	*ret = s;
	return 0;
}

static int op_pids(struct shim_runtime *rt, const char *id, uint32_t **ret_pids, size_t *ret_n,
		   struct error *err)
{
	AGENT_MSG(ListProcessesRequest) req = NACELLE__AGENT__V1__LIST_PROCESSES_REQUEST__INIT;
	AGENT_MSG(ListProcessesResponse) *resp = NULL;
	uint32_t *pids;
	int r;

	error_clear(err);
	if (container_exists(rt, id, err) < 0)
		return err->code;
	req.container_id = (char *)id;
	r = agent_call_simple(rt, "ListProcesses", &req.base, AGENT_DESC(list_processes_response),
			      SANDBOX_RPC_TIMEOUT_MS, (ProtobufCMessage **)&resp, err);
	if (r < 0)
		return r;
	pids = malloc((resp->n_pids + 1) * sizeof(*pids));
	if (!pids) {
		protobuf_c_message_free_unpacked(&resp->base, NULL);
		return error_set(err, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < resp->n_pids; i++)
		pids[i] = (uint32_t)resp->pids[i];
	*ret_n = resp->n_pids;
	*ret_pids = pids;
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return 0;
}

/* ---- remove ---- */

static int remove_exec(struct shim_runtime *rt, const char *id, const char *exec_id,
		       struct error *err)
{
	struct container *c;
	struct process *p = NULL;

	pthread_mutex_lock(&rt->lock);
	c = find_container(rt, id);
	if (c && !c->creating)
		p = find_process(c, exec_id);
	/* A process whose start failed is being killed and goes unreported. */
	if (p && rt->state == SANDBOX_RUNNING && p->report_exit &&
	    (p->state == PROCESS_STARTING ||
	     (p->state == PROCESS_RUNNING && !p->exit_reported))) {
		pthread_mutex_unlock(&rt->lock);
		return error_set(err, -EBUSY, "process %s of %s is running", exec_id, id);
	}
	if (p) {
		for (struct process **pp = &c->execs; *pp; pp = &(*pp)->next)
			if (*pp == p) {
				*pp = p->next;
				break;
			}
	}
	pthread_mutex_unlock(&rt->lock);
	/* Its wait thread, if any, holds a reference of its own. */
	process_unref(p);
	return 0;
}

static int remove_container(struct shim_runtime *rt, const char *id, struct error *err)
{
	AGENT_MSG(RemoveContainerRequest) req = NACELLE__AGENT__V1__REMOVE_CONTAINER_REQUEST__INIT;
	struct agent_conn *conn = NULL;
	struct container *c;
	struct error uerr = { 0 };
	size_t left;
	bool closing, waited;
	int r;

	pthread_mutex_lock(&rt->lock);
	c = find_container(rt, id);
	if (!c) {
		pthread_mutex_unlock(&rt->lock);
		return 0;
	}
	if (c->creating || c->removing) {
		pthread_mutex_unlock(&rt->lock);
		return error_set(err, -EBUSY, "container %s is being %s", id,
				 c->creating ? "created" : "removed");
	}
	if (rt->state == SANDBOX_RUNNING &&
	    (c->init->state == PROCESS_STARTING ||
	     (c->init->state == PROCESS_RUNNING && !c->init->exit_reported))) {
		pthread_mutex_unlock(&rt->lock);
		return error_set(err, -EBUSY, "container %s is running", id);
	}
	c->removing = true;
	if (rt->state == SANDBOX_RUNNING)
		conn = agent_conn_ref(rt->agent);
	pthread_mutex_unlock(&rt->lock);

	if (conn) {
		/* Kills what is left (execs, a created init), answers the
		 * pending waits, unmounts in the guest. */
		req.container_id = (char *)id;
		r = agent_call(rt, conn, "RemoveContainer", &req.base,
			       AGENT_DESC(remove_container_response), SANDBOX_REMOVE_TIMEOUT_MS, NULL,
			       err);
		agent_conn_unref(conn);
		pthread_mutex_lock(&rt->lock);
		if (r < 0 && r != -ENOENT && rt->state == SANDBOX_RUNNING) {
			c->removing = false;
			pthread_mutex_unlock(&rt->lock);
			return error_wrap(err, "remove %s", id);
		}
		pthread_mutex_unlock(&rt->lock);
		error_clear(err);
	}
	/* A created init has no wait thread to close its streams. */
	pthread_mutex_lock(&rt->lock);
	waited = c->init->wait_started;
	pthread_mutex_unlock(&rt->lock);
	if (!waited)
		stdio_relay_stop(c->init->relay);
	if (mount_unmount_all(c->host_dir, &uerr) < 0 || rm_rf(c->host_dir) < 0)
		log_error("sandbox %s: cleaning %s: %s", rt->sandbox_id, c->host_dir,
			  uerr.msg[0] ? uerr.msg : "cannot remove it");

	pthread_mutex_lock(&rt->lock);
	unlink_container(rt, c);
	if (c->is_sandbox)
		rt->sandbox_pid = 0;
	left = count_containers(rt);
	closing = rt->closing;
	pthread_mutex_unlock(&rt->lock);
	log_info("sandbox %s: removed container %s", rt->sandbox_id, id);
	container_free(c);

	/* The pod's last container: its VM goes too (close() does it if closing). */
	if (left == 0 && !closing) {
		pthread_mutex_lock(&rt->boot_lock);
		pthread_mutex_lock(&rt->lock);
		left = count_containers(rt);
		pthread_mutex_unlock(&rt->lock);
		if (left == 0)
			sandbox_teardown(rt);
		pthread_mutex_unlock(&rt->boot_lock);
	}
	return 0;
}

static int op_remove(struct shim_runtime *rt, const char *id, const char *exec_id,
		     struct error *err)
{
	error_clear(err);
	if (!id)
		return error_set(err, -EINVAL, "no container id");
	return is_init(exec_id) ? remove_container(rt, id, err)
				: remove_exec(rt, id, exec_id, err);
}

static size_t op_containers(struct shim_runtime *rt)
{
	size_t n;

	pthread_mutex_lock(&rt->lock);
	n = count_containers(rt);
	pthread_mutex_unlock(&rt->lock);
	return n;
}

const struct shim_runtime_ops shim_sandbox_runtime_ops = {
	.open = sandbox_open,
	.create = op_create,
	.start = op_start,
	.exec = op_exec,
	.kill = op_kill,
	.resize_pty = op_resize_pty,
	.close_stdin = op_close_stdin,
	.pause = op_pause,
	.resume = op_resume,
	.update = op_update,
	.stats = op_stats,
	.pids = op_pids,
	.remove = op_remove,
	.containers = op_containers,
	.close = sandbox_close,
	.cleanup_after_crash = sandbox_cleanup_after_crash,
};
