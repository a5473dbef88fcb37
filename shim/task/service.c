/* SPDX-License-Identifier: Apache-2.0 */
/* The task service: process state, the runtime's callbacks, the method table. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "service.h"

static const char *const proc_state_names[] = {
	[SHIM_PROC_CREATING] = "creating", [SHIM_PROC_CREATED] = "created",
	[SHIM_PROC_STARTING] = "starting", [SHIM_PROC_RUNNING] = "running",
	[SHIM_PROC_PAUSED] = "paused",	   [SHIM_PROC_STOPPED] = "stopped",
	[SHIM_PROC_DELETING] = "deleting",
};

const char *shim_proc_state_to_string(enum shim_proc_state state)
{
	if ((unsigned)state >= ARRAY_SIZE(proc_state_names))
		return "invalid";
	return proc_state_names[state];
}

void svc_proc_set_state(struct shim_proc *p, enum shim_proc_state state)
{
	if (p->state == state)
		return;
	log_debug("task %s%s%s: %s -> %s", p->container_id, p->exec_id ? " exec " : "",
		  p->exec_id ? p->exec_id : "", shim_proc_state_to_string(p->state),
		  shim_proc_state_to_string(state));
	p->state = state;
}

Containerd__V1__Types__Status svc_proc_status(const struct shim_proc *p)
{
	switch (p->state) {
	case SHIM_PROC_CREATED:
	case SHIM_PROC_STARTING:
		return CONTAINERD__V1__TYPES__STATUS__CREATED;
	case SHIM_PROC_RUNNING:
		return CONTAINERD__V1__TYPES__STATUS__RUNNING;
	case SHIM_PROC_PAUSED:
		return CONTAINERD__V1__TYPES__STATUS__PAUSED;
	case SHIM_PROC_STOPPED:
	case SHIM_PROC_DELETING:
		return CONTAINERD__V1__TYPES__STATUS__STOPPED;
	case SHIM_PROC_CREATING:
	default:
		return CONTAINERD__V1__TYPES__STATUS__UNKNOWN;
	}
}

struct shim_container *svc_container(struct shim_task_service *s, const char *id)
{
	for (struct shim_container *c = s->containers; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

struct shim_proc *svc_proc(struct shim_task_service *s, const char *id, const char *exec_id)
{
	struct shim_container *c = svc_container(s, id);
	struct shim_proc *p = NULL;

	if (!c)
		return NULL;
	if (exec_is_init(exec_id)) {
		p = c->init;
	} else {
		for (p = c->execs; p; p = p->next)
			if (strcmp(p->exec_id, exec_id) == 0)
				break;
	}
	if (p && p->state == SHIM_PROC_CREATING)
		return NULL;
	return p;
}

int svc_proc_get(struct shim_task_service *s, const char *id, const char *exec_id,
		 struct shim_proc **ret, struct error *err)
{
	struct shim_proc *p = svc_proc(s, id, exec_id);

	if (p) {
		*ret = p;
		return 0;
	}
	if (exec_is_init(exec_id) || !svc_container(s, id) || !svc_proc(s, id, NULL))
		return error_set(err, -ENOENT, "task %s: not found", id);
	return error_set(err, -ENOENT, "process %s of task %s: not found", exec_id, id);
}

void svc_timestamp(Google__Protobuf__Timestamp *ts, bool set, const struct timespec *at)
{
	google__protobuf__timestamp__init(ts);
	if (set) {
		ts->seconds = at->tv_sec;
		ts->nanos = (int32_t)at->tv_nsec;
	} else {
		ts->seconds = SHIM_GO_ZERO_TIME_SECONDS;
	}
}

void svc_publish(struct shim_task_service *s, const char *topic, const ProtobufCMessage *ev)
{
	log_debug("event %s", topic);
	shim_events_publish(s->events, topic, ev);
}

int svc_runtime_error(int r, struct error *err, const char *fmt, ...)
{
	char ctx[ERROR_MSG_MAX];
	va_list ap;

	if (r >= 0)
		r = -EIO;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	if (err->code == 0 || !err->msg[0])
		return error_set(err, r, "%s: %s", ctx, strerror(-r));
	/* Keep the runtime's errno: it decides the status code. */
	error_wrap(err, "%s", ctx);
	err->code = r;
	return r;
}

void svc_proc_exit(struct shim_task_service *s, struct shim_proc *p, uint32_t status,
		   const struct timespec *at)
{
	Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
	Google__Protobuf__Timestamp ts;

	if (p->state == SHIM_PROC_STOPPED || p->state == SHIM_PROC_DELETING)
		return;
	p->exited = true;
	p->exit_status = status;
	p->exited_at = *at;
	svc_proc_set_state(p, SHIM_PROC_STOPPED);
	svc_timestamp(&ts, true, at);
	ev.container_id = p->container_id;
	/* The process id: the exec id, or the container id for init. */
	ev.id = p->exec_id ? p->exec_id : p->container_id;
	ev.pid = p->pid;
	ev.exit_status = status;
	ev.exited_at = &ts;
	svc_publish(s, "/tasks/exit", &ev.base);
	pthread_cond_broadcast(&s->exited);
}

struct shim_proc *svc_proc_new(const char *container_id, const char *exec_id,
			       const struct shim_stdio *stdio)
{
	struct shim_proc *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->refs = 1;
	p->state = SHIM_PROC_CREATING;
	p->container_id = strdup(container_id);
	p->exec_id = exec_is_init(exec_id) ? NULL : strdup(exec_id);
	p->stdin_path = strdup(stdio->stdin_path ? stdio->stdin_path : "");
	p->stdout_path = strdup(stdio->stdout_path ? stdio->stdout_path : "");
	p->stderr_path = strdup(stdio->stderr_path ? stdio->stderr_path : "");
	p->terminal = stdio->terminal;
	if (!p->container_id || (!exec_is_init(exec_id) && !p->exec_id) || !p->stdin_path ||
	    !p->stdout_path || !p->stderr_path) {
		svc_proc_unref(p);
		return NULL;
	}
	return p;
}

void svc_proc_unref(struct shim_proc *p)
{
	if (!p || --p->refs > 0)
		return;
	free(p->container_id);
	free(p->exec_id);
	free(p->stdin_path);
	free(p->stdout_path);
	free(p->stderr_path);
	free(p);
}

void svc_container_free(struct shim_container *c)
{
	struct shim_proc *p;

	if (!c)
		return;
	while ((p = c->execs)) {
		c->execs = p->next;
		p->next = NULL;
		svc_proc_unref(p);
	}
	svc_proc_unref(c->init);
	free(c->id);
	free(c->bundle);
	free(c);
}

void svc_container_unlink(struct shim_task_service *s, struct shim_container *c)
{
	for (struct shim_container **pp = &s->containers; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			c->next = NULL;
			if (c->init->state != SHIM_PROC_CREATING)
				s->n_containers--;
			return;
		}
	}
}

/* Runtime callbacks: any thread. */
static void on_exited(void *task, const char *id, const char *exec_id, uint32_t pid,
		      uint32_t exit_status, const struct timespec *exited_at)
{
	struct shim_task_service *s = task;
	struct timespec now;
	struct shim_proc *p;

	if (!exited_at) {
		clock_gettime(CLOCK_REALTIME, &now);
		exited_at = &now;
	}
	pthread_mutex_lock(&s->lock);
	p = svc_proc(s, id, exec_id);
	if (!p) {
		log_debug("exit of unknown process %s/%s ignored", id, exec_id ? exec_id : "");
	} else if (p->state == SHIM_PROC_STARTING) {
		/* Start has not published /tasks/start yet: it applies the
		 * exit after that (containerd needs start before exit). */
		p->exit_pending = true;
		p->pending_status = exit_status;
		p->pending_at = *exited_at;
	} else {
		if (pid && !p->pid)
			p->pid = pid;
		svc_proc_exit(s, p, exit_status, exited_at);
	}
	pthread_mutex_unlock(&s->lock);
}

static void on_oom(void *task, const char *id)
{
	struct shim_task_service *s = task;
	Containerd__Events__TaskOOM ev = CONTAINERD__EVENTS__TASK_OOM__INIT;

	pthread_mutex_lock(&s->lock);
	if (svc_proc(s, id, NULL)) {
		ev.container_id = (char *)id;
		svc_publish(s, "/tasks/oom", &ev.base);
	}
	pthread_mutex_unlock(&s->lock);
}

static const struct shim_runtime_events runtime_events = {
	.exited = on_exited,
	.oom = on_oom,
};

int shim_task_service_new(const struct shim_runtime_ops *ops, const char *sandbox_id,
			  const char *ns, struct shim_events *events,
			  struct shim_task_service **ret, struct error *err)
{
	struct shim_task_service *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return error_set(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->exited, NULL);
	s->ops = ops;
	s->events = events;
	s->ns = strdup(ns);
	s->sandbox_id = strdup(sandbox_id);
	if (!s->ns || !s->sandbox_id) {
		shim_task_service_free(s);
		return error_set(err, -ENOMEM, "out of memory");
	}
	r = ops->open(sandbox_id, ns, &runtime_events, s, &s->rt, err);
	if (r < 0) {
		shim_task_service_free(s);
		return svc_runtime_error(r, err, "opening the runtime for %s", sandbox_id);
	}
	*ret = s;
	return 0;
}

void shim_task_service_cancel_waits(struct shim_task_service *s)
{
	pthread_mutex_lock(&s->lock);
	s->cancelled = true;
	pthread_cond_broadcast(&s->exited);
	pthread_mutex_unlock(&s->lock);
}

size_t shim_task_service_tasks(struct shim_task_service *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->n_containers;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void shim_task_service_free(struct shim_task_service *s)
{
	struct shim_container *c;

	if (!s)
		return;
	/* The runtime goes first: its threads call back into s. */
	if (s->rt)
		s->ops->close(s->rt);
	while ((c = s->containers)) {
		s->containers = c->next;
		svc_container_free(c);
	}
	pthread_cond_destroy(&s->exited);
	pthread_mutex_destroy(&s->lock);
	free(s->ns);
	free(s->sandbox_id);
	free(s);
}

#define METHOD(name, fn, req)                                                                \
	{ SHIM_TASK_SERVICE, name, &containerd__task__v2__##req##__descriptor, rpc_##fn }

static const struct ttrpc_method task_methods[] = {
	METHOD("State", state, state_request),
	METHOD("Create", create, create_task_request),
	METHOD("Start", start, start_request),
	METHOD("Delete", delete, delete_request),
	METHOD("Pids", pids, pids_request),
	METHOD("Pause", pause, pause_request),
	METHOD("Resume", resume, resume_request),
	METHOD("Checkpoint", checkpoint, checkpoint_task_request),
	METHOD("Kill", kill, kill_request),
	METHOD("Exec", exec, exec_process_request),
	METHOD("ResizePty", resize_pty, resize_pty_request),
	METHOD("CloseIO", close_io, close_iorequest),
	METHOD("Update", update, update_task_request),
	METHOD("Wait", wait, wait_request),
	METHOD("Stats", stats, stats_request),
	METHOD("Connect", connect, connect_request),
	METHOD("Shutdown", shutdown, shutdown_request),
};

const struct ttrpc_method *shim_task_methods(size_t *ret_n)
{
	*ret_n = ARRAY_SIZE(task_methods);
	return task_methods;
}
