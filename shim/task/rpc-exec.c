/* SPDX-License-Identifier: Apache-2.0 */
/* Exec processes and stdio: Exec, ResizePty, CloseIO. */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "service.h"

/* Unlinks p from its container's execs if both are still there. */
static void exec_unlink(struct shim_task_service *s, struct shim_proc *p)
{
	struct shim_container *c = svc_container(s, p->container_id);

	for (struct shim_proc **pp = c ? &c->execs : NULL; pp && *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			p->next = NULL;
			svc_proc_unref(p);
			return;
		}
	}
}

SHIM_RPC(exec)
{
	struct shim_task_service *s = userdata;
	const Containerd__Task__V2__ExecProcessRequest *req = (const void *)request;
	Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
	struct shim_exec_request ereq = {
		.id = req->id,
		.exec_id = req->exec_id,
		.stdio = {
			.stdin_path = req->stdin,
			.stdout_path = req->stdout,
			.stderr_path = req->stderr,
			.terminal = req->terminal,
		},
	};
	struct shim_container *c;
	struct shim_proc *init, *p;
	int r;

	r = shim_id_validate(req->exec_id, err);
	if (r < 0)
		return error_wrap(err, "exec id");
	if (!req->spec || !req->spec->value.len)
		return error_set(err, -EINVAL, "exec %s in %s: no process spec", req->exec_id,
				 req->id);
	ereq.process_json = (const char *)req->spec->value.data;
	ereq.process_json_len = req->spec->value.len;

	pthread_mutex_lock(&s->lock);
	r = svc_proc_get(s, req->id, NULL, &init, err);
	if (r < 0)
		goto out;
	if (init->state == SHIM_PROC_STOPPED || init->state == SHIM_PROC_DELETING) {
		r = error_set(err, -EBUSY, "exec %s: task %s is stopped", req->exec_id, req->id);
		goto out;
	}
	c = svc_container(s, req->id);
	for (p = c->execs; p; p = p->next) {
		if (strcmp(p->exec_id, req->exec_id) == 0) {
			r = error_set(err, -EEXIST, "exec %s in task %s: already exists",
				      req->exec_id, req->id);
			goto out;
		}
	}
	p = svc_proc_new(req->id, req->exec_id, &ereq.stdio);
	if (!p) {
		r = error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	p->next = c->execs;
	c->execs = p;
	p->refs++; /* ours, over the runtime call */
	pthread_mutex_unlock(&s->lock);

	r = s->ops->exec(s->rt, &ereq, err);

	pthread_mutex_lock(&s->lock);
	if (r < 0) {
		exec_unlink(s, p);
		svc_proc_unref(p);
		r = svc_runtime_error(r, err, "exec %s in task %s", req->exec_id, req->id);
		goto out;
	}
	svc_proc_set_state(p, SHIM_PROC_CREATED);
	ev.container_id = req->id;
	ev.exec_id = req->exec_id;
	svc_publish(s, "/tasks/exec-added", &ev.base);
	svc_proc_unref(p);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

SHIM_RPC(resize_pty)
{
	struct shim_task_service *s = userdata;
	const Containerd__Task__V2__ResizePtyRequest *req = (const void *)request;
	struct shim_proc *p;
	int r;

	pthread_mutex_lock(&s->lock);
	r = svc_proc_get(s, req->id, req->exec_id, &p, err);
	pthread_mutex_unlock(&s->lock);
	if (r < 0)
		return r;
	r = s->ops->resize_pty(s->rt, req->id, exec_is_init(req->exec_id) ? NULL : req->exec_id,
			       req->width, req->height, err);
	return r < 0 ? svc_runtime_error(r, err, "resize pty of %s", req->id) : 0;
}

SHIM_RPC(close_io)
{
	struct shim_task_service *s = userdata;
	const Containerd__Task__V2__CloseIORequest *req = (const void *)request;
	struct shim_proc *p;
	int r;

	pthread_mutex_lock(&s->lock);
	r = svc_proc_get(s, req->id, req->exec_id, &p, err);
	pthread_mutex_unlock(&s->lock);
	if (r < 0 || !req->stdin)
		return r;
	r = s->ops->close_stdin(s->rt, req->id, exec_is_init(req->exec_id) ? NULL : req->exec_id,
				err);
	return r < 0 ? svc_runtime_error(r, err, "close stdin of %s", req->id) : 0;
}
