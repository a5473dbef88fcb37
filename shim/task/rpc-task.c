/* SPDX-License-Identifier: Apache-2.0 */
/* Task lifecycle RPCs: State, Create, Start, Delete, Pids, Kill, Wait,
 * Connect, Shutdown. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "service.h"

#define RUNTIME_OPTIONS_TYPE "runtimeoptions.v1.Options"
#define NEVER_STARTED_EXIT_STATUS (128 + SIGKILL) /* as runc reports a killed init */

SHIM_RPC(state)
{
	struct shim_task_service *s = userdata;
	const Containerd__Task__V2__StateRequest *req = (const void *)request;
	Containerd__Task__V2__StateResponse resp = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts;
	struct shim_container *c;
	struct shim_proc *p;
	int r;

	pthread_mutex_lock(&s->lock);
	r = svc_proc_get(s, req->id, req->exec_id, &p, err);
	if (r < 0)
		goto out;
	c = svc_container(s, req->id);
	svc_timestamp(&ts, p->exited, &p->exited_at);
	resp.id = req->id;
	resp.bundle = c->bundle;
	resp.pid = p->pid;
	resp.status = svc_proc_status(p);
	resp.stdin = p->stdin_path;
	resp.stdout = p->stdout_path;
	resp.stderr = p->stderr_path;
	resp.terminal = p->terminal;
	resp.exit_status = p->exit_status;
	resp.exited_at = &ts;
	resp.exec_id = p->exec_id ? p->exec_id : (char *)"";
	r = ttrpc_call_reply(call, &resp.base);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* CreateTaskRequest.options: CRI sends runtimeoptions.v1.Options for
 * non-runc runtimes with an `options` table; anything else is ignored. */
static int config_path_from_options(const Google__Protobuf__Any *opts, char **ret,
				    struct error *err)
{
	const char *slash;
	Runtimeoptions__V1__Options *o;

	*ret = NULL;
	if (!opts || !opts->type_url || !opts->type_url[0])
		return 0;
	slash = strrchr(opts->type_url, '/');
	if (strcmp(slash ? slash + 1 : opts->type_url, RUNTIME_OPTIONS_TYPE) != 0) {
		log_debug("create: ignoring options of type %s", opts->type_url);
		return 0;
	}
	o = runtimeoptions__v1__options__unpack(NULL, opts->value.len, opts->value.data);
	if (!o)
		return error_set(err, -EINVAL, "create: undecodable %s", RUNTIME_OPTIONS_TYPE);
	if (o->config_path && o->config_path[0])
		*ret = strdup(o->config_path);
	runtimeoptions__v1__options__free_unpacked(o, NULL);
	return 0;
}

SHIM_RPC(create)
{
	struct shim_task_service *s = userdata;
	const Containerd__Task__V2__CreateTaskRequest *req = (const void *)request;
	Containerd__Task__V2__CreateTaskResponse resp = CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
	Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
	Containerd__Events__TaskIO io = CONTAINERD__EVENTS__TASK_IO__INIT;
	struct shim_create_request creq = {
		.id = req->id,
		.bundle = req->bundle,
		.stdio = {
			.stdin_path = req->stdin,
			.stdout_path = req->stdout,
			.stderr_path = req->stderr,
			.terminal = req->terminal,
		},
	};
	_cleanup_free_ struct shim_mount *mounts = NULL;
	_cleanup_free_ char *config_path = NULL;
	struct shim_container *c;
	uint32_t pid = 0;
	int r;

	r = shim_id_validate(req->id, err);
	if (r < 0)
		return r;
	if (!req->bundle || req->bundle[0] != '/')
		return error_set(err, -EINVAL, "create %s: bundle must be an absolute path", req->id);
	if ((req->checkpoint && req->checkpoint[0]) ||
	    (req->parent_checkpoint && req->parent_checkpoint[0]))
		return error_set(err, -EOPNOTSUPP,
				 "create %s: restoring from a checkpoint is not supported", req->id);
	r = config_path_from_options(req->options, &config_path, err);
	if (r < 0)
		return r;
	creq.config_path = config_path;
	if (req->n_rootfs) {
		mounts = calloc(req->n_rootfs, sizeof(*mounts));
		if (!mounts)
			return error_set(err, -ENOMEM, "out of memory");
		for (size_t i = 0; i < req->n_rootfs; i++) {
			const Containerd__Types__Mount *m = req->rootfs[i];

			mounts[i] = (struct shim_mount){
				.type = m->type,
				.source = m->source,
				.target = m->target,
				.options = (const char *const *)m->options,
				.n_options = m->n_options,
			};
		}
		creq.rootfs = mounts;
		creq.n_rootfs = req->n_rootfs;
	}

	pthread_mutex_lock(&s->lock);
	if (svc_container(s, req->id)) {
		pthread_mutex_unlock(&s->lock);
		return error_set(err, -EEXIST, "task %s: already exists", req->id);
	}
	c = calloc(1, sizeof(*c));
	if (c) {
		c->id = strdup(req->id);
		c->bundle = strdup(req->bundle);
		c->init = svc_proc_new(req->id, NULL, &creq.stdio);
	}
	if (!c || !c->id || !c->bundle || !c->init) {
		svc_container_free(c);
		pthread_mutex_unlock(&s->lock);
		return error_set(err, -ENOMEM, "out of memory");
	}
	/* Reserved (creating, invisible) while the runtime works. */
	c->next = s->containers;
	s->containers = c;
	pthread_mutex_unlock(&s->lock);

	r = s->ops->create(s->rt, &creq, &pid, err);

	pthread_mutex_lock(&s->lock);
	if (r < 0) {
		svc_container_unlink(s, c);
		svc_container_free(c);
		pthread_mutex_unlock(&s->lock);
		return svc_runtime_error(r, err, "create task %s", req->id);
	}
	c->init->pid = pid;
	svc_proc_set_state(c->init, SHIM_PROC_CREATED);
	s->n_containers++;

	io.stdin = req->stdin;
	io.stdout = req->stdout;
	io.stderr = req->stderr;
	io.terminal = req->terminal;
	ev.container_id = req->id;
	ev.bundle = req->bundle;
	ev.rootfs = req->rootfs;
	ev.n_rootfs = req->n_rootfs;
	ev.io = &io;
	ev.checkpoint = req->checkpoint;
	ev.pid = pid;
	svc_publish(s, "/tasks/create", &ev.base);
	resp.pid = pid;
	r = ttrpc_call_reply(call, &resp.base);
	pthread_mutex_unlock(&s->lock);
	log_info("task %s created (pid %u)", req->id, pid);
	return r;
}

SHIM_RPC(start)
{
	struct shim_task_service *s = userdata;
	const Containerd__Task__V2__StartRequest *req = (const void *)request;
	Containerd__Task__V2__StartResponse resp = CONTAINERD__TASK__V2__START_RESPONSE__INIT;
	struct shim_proc *p, *init;
	uint32_t pid = 0;
	int r;

	pthread_mutex_lock(&s->lock);
	r = svc_proc_get(s, req->id, req->exec_id, &p, err);
	if (r < 0)
		goto out;
	if (p->state != SHIM_PROC_CREATED) {
		r = error_set(err, -EBUSY, "start %s%s%s: process is %s, not created", req->id,
			      p->exec_id ? " exec " : "", p->exec_id ? p->exec_id : "",
			      shim_proc_state_to_string(p->state));
		goto out;
	}
	init = svc_proc(s, req->id, NULL);
	if (p != init && (init->state == SHIM_PROC_STOPPED || init->state == SHIM_PROC_DELETING)) {
		r = error_set(err, -EBUSY, "start exec %s: task %s is stopped", p->exec_id, req->id);
		goto out;
	}
	svc_proc_set_state(p, SHIM_PROC_STARTING);
	p->refs++;
	pthread_mutex_unlock(&s->lock);

	r = s->ops->start(s->rt, req->id, p->exec_id, &pid, err);

	pthread_mutex_lock(&s->lock);
	if (r < 0) {
		if (p->state == SHIM_PROC_STARTING)
			svc_proc_set_state(p, SHIM_PROC_CREATED);
		r = svc_runtime_error(r, err, "start %s%s%s", req->id, p->exec_id ? " exec " : "",
				      p->exec_id ? p->exec_id : "");
		svc_proc_unref(p);
		goto out;
	}
	p->pid = pid;
	if (p->state == SHIM_PROC_STARTING)
		svc_proc_set_state(p, SHIM_PROC_RUNNING);
	/* /tasks/start (or exec-started) goes out before any /tasks/exit of
	 * this process: an exit that raced with us was held back. */
	if (!p->exec_id) {
		Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;

		ev.container_id = p->container_id;
		ev.pid = pid;
		svc_publish(s, "/tasks/start", &ev.base);
	} else {
		Containerd__Events__TaskExecStarted ev = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;

		ev.container_id = p->container_id;
		ev.exec_id = p->exec_id;
		ev.pid = pid;
		svc_publish(s, "/tasks/exec-started", &ev.base);
	}
	if (p->exit_pending) {
		p->exit_pending = false;
		svc_proc_exit(s, p, p->pending_status, &p->pending_at);
	}
	resp.pid = pid;
	r = ttrpc_call_reply(call, &resp.base);
	svc_proc_unref(p);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* A process deleted before it ever exited (created, never started). */
static void mark_never_exited(struct shim_task_service *s, struct shim_proc *p)
{
	if (p->exited)
		return;
	p->exited = true;
	p->exit_status = NEVER_STARTED_EXIT_STATUS;
	clock_gettime(CLOCK_REALTIME, &p->exited_at);
	pthread_cond_broadcast(&s->exited);
}

SHIM_RPC(delete)
{
	struct shim_task_service *s = userdata;
	const Containerd__Task__V2__DeleteRequest *req = (const void *)request;
	Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts;
	enum shim_proc_state prev;
	struct shim_container *c;
	struct shim_proc *p;
	bool init = exec_is_init(req->exec_id);
	int r;

	pthread_mutex_lock(&s->lock);
	r = svc_proc_get(s, req->id, req->exec_id, &p, err);
	if (r < 0)
		goto out;
	switch (p->state) {
	case SHIM_PROC_CREATED:
	case SHIM_PROC_STOPPED:
		break;
	case SHIM_PROC_DELETING:
		r = error_set(err, -ENOENT, "delete %s: already being deleted", req->id);
		goto out;
	default:
		r = error_set(err, -EBUSY, "delete %s%s%s: process is %s; it must be stopped first",
			      req->id, init ? "" : " exec ", init ? "" : req->exec_id,
			      shim_proc_state_to_string(p->state));
		goto out;
	}
	prev = p->state;
	svc_proc_set_state(p, SHIM_PROC_DELETING);
	p->refs++;
	pthread_mutex_unlock(&s->lock);

	r = s->ops->remove(s->rt, req->id, init ? NULL : req->exec_id, err);

	pthread_mutex_lock(&s->lock);
	if (r < 0) {
		if (p->state == SHIM_PROC_DELETING)
			svc_proc_set_state(p, prev);
		svc_proc_unref(p);
		r = svc_runtime_error(r, err, "delete %s%s%s", req->id, init ? "" : " exec ",
				      init ? "" : req->exec_id);
		goto out;
	}
	mark_never_exited(s, p);
	svc_timestamp(&ts, true, &p->exited_at);
	resp.pid = p->pid;
	resp.exit_status = p->exit_status;
	resp.exited_at = &ts;
	c = svc_container(s, req->id);
	if (!init) {
		for (struct shim_proc **pp = c ? &c->execs : NULL; pp && *pp; pp = &(*pp)->next) {
			if (*pp == p) {
				*pp = p->next;
				p->next = NULL;
				svc_proc_unref(p); /* the container's reference */
				break;
			}
		}
	} else {
		Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;

		ev.container_id = req->id;
		ev.pid = p->pid;
		ev.exit_status = p->exit_status;
		ev.exited_at = &ts;
		svc_publish(s, "/tasks/delete", &ev.base);
		if (c) {
			for (struct shim_proc *e = c->execs; e; e = e->next)
				mark_never_exited(s, e);
			svc_container_unlink(s, c);
			svc_container_free(c);
		}
		log_info("task %s deleted", req->id);
	}
	r = ttrpc_call_reply(call, &resp.base);
	svc_proc_unref(p);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

SHIM_RPC(pids)
{
	struct shim_task_service *s = userdata;
	const Containerd__Task__V2__PidsRequest *req = (const void *)request;
	Containerd__Task__V2__PidsResponse resp = CONTAINERD__TASK__V2__PIDS_RESPONSE__INIT;
	_cleanup_free_ Containerd__V1__Types__ProcessInfo *infos = NULL;
	_cleanup_free_ Containerd__V1__Types__ProcessInfo **ptrs = NULL;
	_cleanup_free_ uint32_t *pids = NULL;
	struct shim_proc *p;
	size_t n = 0;
	int r;

	pthread_mutex_lock(&s->lock);
	r = svc_proc_get(s, req->id, NULL, &p, err);
	pthread_mutex_unlock(&s->lock);
	if (r < 0)
		return r;
	r = s->ops->pids(s->rt, req->id, &pids, &n, err);
	if (r < 0)
		return svc_runtime_error(r, err, "pids %s", req->id);
	if (n) {
		infos = calloc(n, sizeof(*infos));
		ptrs = calloc(n, sizeof(*ptrs));
		if (!infos || !ptrs)
			return error_set(err, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		containerd__v1__types__process_info__init(&infos[i]);
		infos[i].pid = pids[i];
		ptrs[i] = &infos[i];
	}
	resp.processes = ptrs;
	resp.n_processes = n;
	return ttrpc_call_reply(call, &resp.base);
}

SHIM_RPC(kill)
{
	struct shim_task_service *s = userdata;
	const Containerd__Task__V2__KillRequest *req = (const void *)request;
	struct shim_proc *p;
	bool never_started;
	int r;

	pthread_mutex_lock(&s->lock);
	r = svc_proc_get(s, req->id, req->exec_id, &p, err);
	if (r < 0)
		goto out;
	if (p->state == SHIM_PROC_STOPPED || p->state == SHIM_PROC_DELETING) {
		/* containerd treats NOT_FOUND from Kill as "already gone". */
		r = error_set(err, -ENOENT, "kill %s: process already finished", req->id);
		goto out;
	}
	never_started = p->state == SHIM_PROC_CREATED;
	p->refs++;
	pthread_mutex_unlock(&s->lock);

	r = s->ops->kill(s->rt, req->id, p->exec_id, req->signal, req->all, err);

	pthread_mutex_lock(&s->lock);
	if (never_started && req->signal == SIGKILL && p->state == SHIM_PROC_CREATED) {
		/* The runtime reports exits only for started processes, yet
		 * containerd (WithProcessKill) waits for this one to exit. */
		struct timespec now;

		if (r < 0)
			log_debug("kill %s before start: %s (ignored)", req->id, err->msg);
		error_clear(err);
		clock_gettime(CLOCK_REALTIME, &now);
		svc_proc_exit(s, p, NEVER_STARTED_EXIT_STATUS, &now);
		r = 0;
	}
	svc_proc_unref(p);
	if (r < 0)
		r = svc_runtime_error(r, err, "kill %s signal %u", req->id, req->signal);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

SHIM_RPC(wait)
{
	struct shim_task_service *s = userdata;
	const Containerd__Task__V2__WaitRequest *req = (const void *)request;
	Containerd__Task__V2__WaitResponse resp = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
	Google__Protobuf__Timestamp ts;
	struct shim_proc *p;
	int r;

	pthread_mutex_lock(&s->lock);
	r = svc_proc_get(s, req->id, req->exec_id, &p, err);
	if (r < 0)
		goto out;
	p->refs++;
	while (!p->exited && !s->cancelled)
		pthread_cond_wait(&s->exited, &s->lock);
	if (p->exited) {
		svc_timestamp(&ts, true, &p->exited_at);
		resp.exit_status = p->exit_status;
		resp.exited_at = &ts;
		r = ttrpc_call_reply(call, &resp.base);
	} else {
		r = error_set(err, -ENOTCONN, "wait %s: the shim is shutting down", req->id);
	}
	svc_proc_unref(p);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

SHIM_RPC(connect)
{
	struct shim_task_service *s = userdata;
	const Containerd__Task__V2__ConnectRequest *req = (const void *)request;
	Containerd__Task__V2__ConnectResponse resp = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
	struct shim_proc *p;

	pthread_mutex_lock(&s->lock);
	p = svc_proc(s, req->id, NULL);
	resp.task_pid = p ? p->pid : 0;
	pthread_mutex_unlock(&s->lock);
	resp.shim_pid = (uint32_t)getpid();
	resp.version = (char *)"nacelle " NACELLE_VERSION;
	return ttrpc_call_reply(call, &resp.base);
}

SHIM_RPC(shutdown)
{
	struct shim_task_service *s = userdata;
	bool busy;

	pthread_mutex_lock(&s->lock);
	busy = s->containers != NULL; /* counting one still being created */
	pthread_mutex_unlock(&s->lock);
	if (busy)
		return 0; /* like runc: keep serving the other tasks */
	if (s->ops->containers(s->rt) > 0)
		log_warn("shutdown: no task left but the runtime still holds %zu container(s); "
			 "closing it removes them", s->ops->containers(s->rt));
	log_info("shutdown: no task left, exiting");
	ttrpc_call_stop_server_after_reply(call);
	return 0;
}
