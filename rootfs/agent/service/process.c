/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Processes: ExecProcess, SignalProcess, WaitProcess, CloseStdin, ResizePty.
 * The init process is exec_id "", the others are addressed by their exec_id.
 */
#include "service-internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"

static const char *process_name(const char *exec_id)
{
	return exec_id && *exec_id ? exec_id : "init";
}

/* ---- ExecProcess ---- */

AGENT_HANDLER(agent_h_exec_process)
{
	struct agent *a = userdata;
	const Nacelle__Agent__V1__ExecProcessRequest *r = (const void *)req;
	Nacelle__Agent__V1__ExecProcessResponse *resp;
	struct container_spawn_opts opts = { .stdio = { -1, -1, -1 } };
	struct oci_process *proc = NULL;
	struct agent_stdio *stdio = NULL;
	struct agent_process *p = NULL;
	struct agent_container *c;
	struct error e = { 0 };
	int child_fds[3] = { -1, -1, -1 };
	char tag[2 * AGENT_MAX_ID + 2];
	grpc_status_code code;
	pid_t init_pid = 0;
	int rr = -1;

	resp = (void *)agent_rpc_ctx_new(ctx, &nacelle__agent__v1__exec_process_response__descriptor);
	if (!resp)
		return agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	if (oci_process_parse(r->process, strlen(r->process), &proc, &e) < 0)
		return agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT, "process: %s", e.msg);
	if (proc->terminal != (r->stdio && r->stdio->terminal)) {
		oci_process_free(proc);
		return agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT,
					    "stdio.terminal does not match process.terminal");
	}
	code = agent_container_get(a, r->container_id, &c, st);
	if (code != GRPC_STATUS_OK) {
		oci_process_free(proc);
		return code;
	}
	pthread_mutex_lock(&c->op_lock);

	pthread_mutex_lock(&a->lock);
	if (c->state != CONTAINER_RUNNING || !c->init || c->init->exited) {
		code = agent_rpc_status_set(st, GRPC_STATUS_FAILED_PRECONDITION,
					    "container %s is %s, not running", c->id,
					    agent_container_state_to_string(c->state));
	} else if (agent_process_find_locked(c, r->exec_id)) {
		code = agent_rpc_status_set(st, GRPC_STATUS_ALREADY_EXISTS,
					    "container %s: process %s exists", c->id, r->exec_id);
	} else if (c->n_execs >= AGENT_MAX_EXECS) {
		code = agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED,
					    "container %s: too many processes not waited for (at "
					    "most %d)", c->id, AGENT_MAX_EXECS);
	} else {
		init_pid = c->init->proc.pid;
	}
	pthread_mutex_unlock(&a->lock);
	if (code != GRPC_STATUS_OK)
		goto out;

	snprintf(tag, sizeof(tag), "%s/%s", c->id, r->exec_id);
	if (agent_stdio_new(a, tag, r->stdio, proc->terminal, &stdio, child_fds, &e) < 0) {
		code = agent_status_error(st, &e);
		goto out;
	}
	p = agent_process_new(r->exec_id);
	if (!p) {
		code = agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	for (int i = 0; i < 3; i++)
		opts.stdio[i] = child_fds[i];
	/* Exec'd processes get the container's filter, as with runc. */
	opts.seccomp = c->spec->linux_.seccomp;

	agent_spawn_begin(a);
	rr = container_exec_spawn(init_pid, c->cgroup_path, proc, &opts, &p->proc, &e);
	pthread_mutex_lock(&a->lock);
	if (rr == 0) {
		p->stdio = stdio;
		p->output_done = !stdio;
		p->next = c->execs;
		c->execs = p;
		c->n_execs++;
		resp->pid = (int32_t)p->proc.pid;
	}
	pthread_mutex_unlock(&a->lock);
	agent_spawn_end(a);
	for (int i = 0; i < 3; i++)
		if (child_fds[i] >= 0)
			close(child_fds[i]);
	if (rr < 0) {
		code = agent_status_error(st, &e);
		log_warn("container %s: exec %s failed: %s", c->id, r->exec_id, e.msg);
		goto out;
	}
	stdio = NULL;
	if (p->stdio && agent_stdio_start(a, p->stdio, p, &e) < 0) {
		/* Runs but nobody relays: kill it; WaitProcess reports that. */
		pthread_mutex_lock(&a->lock);
		if (!p->exited)
			(void)(p->proc.pidfd >= 0 ? pidfd_send_signal(p->proc.pidfd, SIGKILL, NULL, 0) :
						    kill(p->proc.pid, SIGKILL));
		p->output_done = true;
		pthread_mutex_unlock(&a->lock);
		code = agent_status_error(st, &e);
		p = NULL;
		goto out;
	}
	log_info("container %s: exec %s: pid %d", c->id, r->exec_id, resp->pid);
	p = NULL;
	*ret_resp = &resp->base;
	code = GRPC_STATUS_OK;
out:
	if (p && rr != 0) {
		pthread_mutex_lock(&a->lock);
		agent_process_unref_locked(a, p);
		pthread_mutex_unlock(&a->lock);
	}
	agent_stdio_free(stdio);
	pthread_mutex_unlock(&c->op_lock);
	agent_container_put(a, c);
	oci_process_free(proc);
	return code;
}

/* ---- SignalProcess ---- */

AGENT_HANDLER(agent_h_signal_process)
{
	struct agent *a = userdata;
	const Nacelle__Agent__V1__SignalProcessRequest *r = (const void *)req;
	int sig = (int)r->signal;
	struct agent_container *c;
	struct agent_process *p;
	struct error e = { 0 };
	grpc_status_code code;

	if (sig > SIGRTMAX)
		return agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT,
					    "signal: %d is not a signal here (max %d)", sig, SIGRTMAX);
	code = agent_container_get(a, r->container_id, &c, st);
	if (code != GRPC_STATUS_OK)
		return code;
	if (r->all) {
		if (container_cgroup_kill_all(c->cgroup_path, sig, &e) < 0)
			code = agent_status_error(st, &e);
		goto out;
	}
	pthread_mutex_lock(&a->lock);
	p = agent_process_find_locked(c, r->exec_id);
	if (!p) {
		code = agent_rpc_status_set(st, GRPC_STATUS_NOT_FOUND, "container %s: no process %s",
					    c->id, process_name(r->exec_id));
	} else if (p->exited) {
		code = agent_rpc_status_set(st, GRPC_STATUS_NOT_FOUND,
					    "container %s: process %s has exited", c->id,
					    process_name(r->exec_id));
	} else {
		/* Not reaped yet (we hold the lock), so the pid is still this process. */
		int rr = p->proc.pidfd >= 0 ? pidfd_send_signal(p->proc.pidfd, sig, NULL, 0) :
					      kill(p->proc.pid, sig);

		if (rr < 0)
			code = agent_rpc_status_set(st, agent_rpc_status_from_errno(errno),
						    "container %s: signalling process %s: %m",
						    c->id, process_name(r->exec_id));
		else
			log_debug("container %s: signal %d to %s (pid %d)", c->id, sig,
				  process_name(r->exec_id), (int)p->proc.pid);
	}
	pthread_mutex_unlock(&a->lock);
out:
	agent_container_put(a, c);
	if (code != GRPC_STATUS_OK)
		return code;
	return agent_respond(ctx, &nacelle__agent__v1__signal_process_response__descriptor,
			     ret_resp, st);
}

/* ---- WaitProcess ---- */

AGENT_HANDLER(agent_h_wait_process)
{
	struct agent *a = userdata;
	const Nacelle__Agent__V1__WaitProcessRequest *r = (const void *)req;
	Nacelle__Agent__V1__WaitProcessResponse *resp;
	struct agent_container *c;
	struct agent_process *p;
	grpc_status_code code;

	resp = (void *)agent_rpc_ctx_new(ctx, &nacelle__agent__v1__wait_process_response__descriptor);
	if (resp)
		resp->exited_at = (void *)agent_rpc_ctx_new(ctx,
							    &nacelle__agent__v1__timestamp__descriptor);
	if (!resp || !resp->exited_at)
		return agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	code = agent_container_get(a, r->container_id, &c, st);
	if (code != GRPC_STATUS_OK)
		return code;
	/* Before taking agent.lock: the callback takes it. */
	agent_rpc_ctx_on_cancel(ctx, agent_wake, a);

	pthread_mutex_lock(&a->lock);
	p = agent_process_find_locked(c, r->exec_id);
	if (!p) {
		code = agent_rpc_status_set(st, GRPC_STATUS_NOT_FOUND, "container %s: no process %s",
					    c->id, process_name(r->exec_id));
		goto out;
	}
	p->refs++;
	/* Exited and everything it wrote handed to the host (stdio.c). */
	while (!(p->exited && p->output_done) && !agent_rpc_ctx_cancelled(ctx))
		agent_cond_wait_locked(a, -1);
	if (!(p->exited && p->output_done)) {
		code = agent_rpc_status_set(st, GRPC_STATUS_CANCELLED, "cancelled");
	} else {
		resp->exit_status = agent_exit_status(p->wait_status);
		resp->signal = WIFSIGNALED(p->wait_status) ? (uint32_t)WTERMSIG(p->wait_status) : 0;
		resp->exited_at->seconds = p->exited_at.tv_sec;
		resp->exited_at->nanos = (int32_t)p->exited_at.tv_nsec;
		/* An exec's record goes once one wait was answered; init's stays
		 * until RemoveContainer. */
		if (*p->exec_id) {
			for (struct agent_process **pp = &c->execs; *pp; pp = &(*pp)->next)
				if (*pp == p) {
					*pp = p->next;
					p->next = NULL;
					c->n_execs--;
					agent_process_unref_locked(a, p);
					break;
				}
		}
		*ret_resp = &resp->base;
	}
	agent_process_unref_locked(a, p);
out:
	pthread_mutex_unlock(&a->lock);
	agent_container_put(a, c);
	return code;
}

/* ---- CloseStdin, ResizePty ---- */

AGENT_HANDLER(agent_h_close_stdin)
{
	struct agent *a = userdata;
	const Nacelle__Agent__V1__CloseStdinRequest *r = (const void *)req;
	struct agent_container *c;
	struct agent_process *p;
	grpc_status_code code;

	code = agent_container_get(a, r->container_id, &c, st);
	if (code != GRPC_STATUS_OK)
		return code;
	pthread_mutex_lock(&a->lock);
	p = agent_process_find_locked(c, r->exec_id);
	if (!p)
		code = agent_rpc_status_set(st, GRPC_STATUS_NOT_FOUND, "container %s: no process %s",
					    c->id, process_name(r->exec_id));
	else if (p->stdio)
		agent_stdio_close_stdin(p->stdio);
	pthread_mutex_unlock(&a->lock);
	agent_container_put(a, c);
	if (code != GRPC_STATUS_OK)
		return code;
	return agent_respond(ctx, &nacelle__agent__v1__close_stdin_response__descriptor, ret_resp,
			     st);
}

AGENT_HANDLER(agent_h_resize_pty)
{
	struct agent *a = userdata;
	const Nacelle__Agent__V1__ResizePtyRequest *r = (const void *)req;
	struct agent_container *c;
	struct agent_process *p;
	grpc_status_code code;

	code = agent_container_get(a, r->container_id, &c, st);
	if (code != GRPC_STATUS_OK)
		return code;
	pthread_mutex_lock(&a->lock);
	p = agent_process_find_locked(c, r->exec_id);
	if (!p) {
		code = agent_rpc_status_set(st, GRPC_STATUS_NOT_FOUND, "container %s: no process %s",
					    c->id, process_name(r->exec_id));
	} else if (p->proc.pty_master < 0) {
		code = agent_rpc_status_set(st, GRPC_STATUS_FAILED_PRECONDITION,
					    "container %s: process %s has no terminal", c->id,
					    process_name(r->exec_id));
	} else {
		int rr = container_pty_resize(p->proc.pty_master, r->width, r->height);

		if (rr < 0)
			code = agent_rpc_status_set(st, agent_rpc_status_from_errno(rr),
						    "container %s: resizing the terminal of %s: %s",
						    c->id, process_name(r->exec_id), strerror(-rr));
	}
	pthread_mutex_unlock(&a->lock);
	agent_container_put(a, c);
	if (code != GRPC_STATUS_OK)
		return code;
	return agent_respond(ctx, &nacelle__agent__v1__resize_pty_response__descriptor, ret_resp,
			     st);
}
