/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The service as a whole: the method table, request validation, the
 * containers table and its references, and the reaper that gives processes
 * their exit status.
 *
 * Reaping: the container library makes every container process the agent's
 * own child (CLONE_PARENT) and reaps its short-lived intermediate itself.
 * So the reaper first reaps the processes it knows, each by pid, and calls
 * waitpid(-1) (orphans) only while no process is being created: between
 * clone and our table entry, a process's exit status would otherwise go to
 * "orphan", and the library's waitpid on its intermediate could lose to us.
 */
#include "service-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"

/* How long agent_service_free() waits for the killed processes and relays. */
#define AGENT_STOP_TIMEOUT_MS 10000
#define AGENT_STOP_POLL_MS 10

static const char *const container_state_names[CONTAINER_STATE__COUNT] = {
	[CONTAINER_CREATING] = "creating", [CONTAINER_CREATED] = "created",
	[CONTAINER_RUNNING] = "running",   [CONTAINER_PAUSED] = "paused",
	[CONTAINER_STOPPED] = "stopped",   [CONTAINER_REMOVING] = "removing",
};

const char *agent_container_state_to_string(enum agent_container_state s)
{
	return (unsigned int)s < CONTAINER_STATE__COUNT ? container_state_names[s] : "?";
}

/* ---- validation and the method table ---- */

/*
 * agent_proto_validate() checks every limit of the .proto files; ids must
 * also be valid OCI ids (oci_id_valid()): they name cgroups and appear in
 * paths.
 */
static int agent_validate(const ProtobufCMessage *req, struct error *err)
{
	static const char *const id_fields[] = { "container_id", "exec_id" };
	int r = agent_proto_validate(req, err);

	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(id_fields); i++) {
		const ProtobufCFieldDescriptor *f =
			protobuf_c_message_descriptor_get_field_by_name(req->descriptor, id_fields[i]);
		const char *s;

		if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
			continue;
		s = *(const char *const *)(const void *)((const char *)req + f->offset);
		if (s && *s && !oci_id_valid(s))
			return error_set(err, -EINVAL,
					 "%s: \"%.80s\" is not a valid id (1..%d characters of "
					 "[A-Za-z0-9_.-], starting with a letter or digit)",
					 id_fields[i], s, OCI_ID_MAX);
	}
	return 0;
}

#define METHOD(name, lower, fn)                                                              \
	{                                                                                    \
		.path = AGENT_METHOD(name),                                                  \
		.in = &nacelle__agent__v1__##lower##_request__descriptor,                    \
		.out = &nacelle__agent__v1__##lower##_response__descriptor,                  \
		.handler = fn,                                                               \
		.validate = agent_validate,                                                  \
	}

static const struct agent_rpc_method agent_methods[] = {
	/* sandbox.c */
	METHOD("Health", health, agent_h_health),
	METHOD("Version", version, agent_h_version),
	METHOD("SetupSandbox", setup_sandbox, agent_h_setup_sandbox),
	METHOD("Shutdown", shutdown, agent_h_shutdown),
	/* container.c */
	METHOD("CreateContainer", create_container, agent_h_create_container),
	METHOD("StartContainer", start_container, agent_h_start_container),
	METHOD("PauseContainer", pause_container, agent_h_pause_container),
	METHOD("ResumeContainer", resume_container, agent_h_resume_container),
	METHOD("UpdateContainer", update_container, agent_h_update_container),
	METHOD("StatsContainer", stats_container, agent_h_stats_container),
	METHOD("ListProcesses", list_processes, agent_h_list_processes),
	METHOD("RemoveContainer", remove_container, agent_h_remove_container),
	/* process.c */
	METHOD("ExecProcess", exec_process, agent_h_exec_process),
	METHOD("SignalProcess", signal_process, agent_h_signal_process),
	METHOD("WaitProcess", wait_process, agent_h_wait_process),
	METHOD("CloseStdin", close_stdin, agent_h_close_stdin),
	METHOD("ResizePty", resize_pty, agent_h_resize_pty),
	/* oom.c */
	METHOD("GetOOMEvent", get_oomevent, agent_h_get_oom_event),
	/* network.c */
	METHOD("UpdateInterface", update_interface, agent_h_update_interface),
	METHOD("UpdateRoutes", update_routes, agent_h_update_routes),
	METHOD("AddARPNeighbors", add_arpneighbors, agent_h_add_arp_neighbors),
};

/* ---- small shared helpers ---- */

int64_t agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void agent_cond_wait_locked(struct agent *a, int64_t deadline_ms)
{
	struct timespec ts;

	if (deadline_ms < 0) {
		pthread_cond_wait(&a->cond, &a->lock);
		return;
	}
	ts.tv_sec = deadline_ms / 1000;
	ts.tv_nsec = (deadline_ms % 1000) * 1000000;
	pthread_cond_timedwait(&a->cond, &a->lock, &ts);
}

void agent_wake(void *arg)
{
	struct agent *a = arg;

	pthread_mutex_lock(&a->lock);
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

void agent_kick(struct agent *a)
{
	if (eventfd_write(a->event_fd, 1) < 0)
		log_warn("cannot wake the main loop: %m");
}

uint32_t agent_exit_status(int wait_status)
{
	if (WIFEXITED(wait_status))
		return (uint32_t)WEXITSTATUS(wait_status);
	if (WIFSIGNALED(wait_status))
		return 128u + (uint32_t)WTERMSIG(wait_status);
	return 255;
}

grpc_status_code agent_status_error(struct agent_rpc_status *st, const struct error *err)
{
	return agent_rpc_status_from_error(st, err);
}

grpc_status_code agent_respond(struct agent_rpc_ctx *ctx, const ProtobufCMessageDescriptor *desc,
			       ProtobufCMessage **ret_resp, struct agent_rpc_status *st)
{
	ProtobufCMessage *m = agent_rpc_ctx_new(ctx, desc);

	if (!m)
		return agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	*ret_resp = m;
	return GRPC_STATUS_OK;
}

/* ---- containers and processes ---- */

struct agent_process *agent_process_new(const char *exec_id)
{
	struct agent_process *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->exec_id = strdup(exec_id);
	if (!p->exec_id) {
		free(p);
		return NULL;
	}
	p->refs = 1;
	container_proc_init(&p->proc);
	return p;
}

static void process_free(struct agent_process *p)
{
	agent_stdio_free(p->stdio);
	container_proc_release(&p->proc);
	free(p->exec_id);
	free(p);
}

void agent_process_unref_locked(struct agent *a, struct agent_process *p)
{
	if (p && --p->refs == 0)
		process_free(p);
}

static void container_free(struct agent *a, struct agent_container *c)
{
	while (c->execs) {
		struct agent_process *p = c->execs;

		c->execs = p->next;
		agent_process_unref_locked(a, p);
	}
	if (c->init)
		agent_process_unref_locked(a, c->init);
	oci_spec_free(c->spec);
	free(c->rootfs);
	free(c->cgroup_path);
	free(c->id);
	pthread_mutex_destroy(&c->op_lock);
	free(c);
}

void agent_container_unref_locked(struct agent *a, struct agent_container *c)
{
	if (c && --c->refs == 0)
		container_free(a, c);
}

grpc_status_code agent_container_get(struct agent *a, const char *id,
				     struct agent_container **ret, struct agent_rpc_status *st)
{
	struct agent_container *c;

	pthread_mutex_lock(&a->lock);
	for (c = a->containers; c; c = c->next)
		if (!strcmp(c->id, id))
			break;
	if (c)
		c->refs++;
	pthread_mutex_unlock(&a->lock);
	if (!c)
		return agent_rpc_status_set(st, GRPC_STATUS_NOT_FOUND, "no container %s", id);
	*ret = c;
	return GRPC_STATUS_OK;
}

void agent_container_put(struct agent *a, struct agent_container *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&a->lock);
	agent_container_unref_locked(a, c);
	pthread_mutex_unlock(&a->lock);
}

void agent_container_unlink_locked(struct agent *a, struct agent_container *c)
{
	for (struct agent_container **pp = &a->containers; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			c->next = NULL;
			a->n_containers--;
			agent_container_unref_locked(a, c);
			pthread_cond_broadcast(&a->cond);
			return;
		}
}

struct agent_process *agent_process_find_locked(struct agent_container *c, const char *exec_id)
{
	if (!exec_id || !*exec_id)
		return c->init;
	for (struct agent_process *p = c->execs; p; p = p->next)
		if (!strcmp(p->exec_id, exec_id))
			return p;
	return NULL;
}

void agent_spawn_begin(struct agent *a)
{
	pthread_mutex_lock(&a->lock);
	a->spawning++;
	pthread_mutex_unlock(&a->lock);
}

void agent_spawn_end(struct agent *a)
{
	pthread_mutex_lock(&a->lock);
	a->spawning--;
	pthread_mutex_unlock(&a->lock);
	/* The process may have exited before it was in the table: reap now. */
	agent_kick(a);
}

/* ---- reaping ---- */

static void process_reaped_locked(struct agent *a, struct agent_container *c,
				  struct agent_process *p, int status)
{
	p->exited = true;
	p->wait_status = status;
	clock_gettime(CLOCK_REALTIME, &p->exited_at);
	if (p->stdio)
		agent_stdio_notify_exit(p->stdio);
	else
		p->output_done = true;
	if (p == c->init && c->state != CONTAINER_REMOVING && c->state != CONTAINER_CREATING)
		c->state = CONTAINER_STOPPED;
	log_info("container %s: %s%s (pid %d) exited with status %u", c->id,
		 *p->exec_id ? "process " : "init process", p->exec_id, (int)p->proc.pid,
		 agent_exit_status(status));
}

/* Reap one known process if it exited. */
static void reap_one_locked(struct agent *a, struct agent_container *c, struct agent_process *p)
{
	int status = 0;
	pid_t r;

	if (!p || p->exited || p->proc.pid <= 0)
		return;
	do
		r = waitpid(p->proc.pid, &status, WNOHANG | __WALL);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return;
	if (r < 0) {
		/* Not our child any more: nothing else may reap it, but never
		 * leave its waiters hanging. */
		log_warn("container %s: process %d: waitpid: %m; reported as exit status 255",
			 c->id, (int)p->proc.pid);
		status = 255 << 8;
	}
	process_reaped_locked(a, c, p, status);
}

static bool owner_of_locked(struct agent *a, pid_t pid, struct agent_container **ret_c,
			    struct agent_process **ret_p)
{
	for (struct agent_container *c = a->containers; c; c = c->next) {
		if (c->init && c->init->proc.pid == pid && !c->init->exited) {
			*ret_c = c;
			*ret_p = c->init;
			return true;
		}
		for (struct agent_process *p = c->execs; p; p = p->next)
			if (p->proc.pid == pid && !p->exited) {
				*ret_c = c;
				*ret_p = p;
				return true;
			}
	}
	return false;
}

void agent_service_reap(struct agent_service *svc)
{
	struct agent *a = (struct agent *)svc;
	eventfd_t v;

	(void)eventfd_read(a->event_fd, &v);
	pthread_mutex_lock(&a->lock);
	for (struct agent_container *c = a->containers; c; c = c->next) {
		reap_one_locked(a, c, c->init);
		for (struct agent_process *p = c->execs; p; p = p->next)
			reap_one_locked(a, c, p);
	}
	/* Orphans, only while nobody is between clone and the table. */
	while (a->spawning == 0) {
		struct agent_container *c;
		struct agent_process *p;
		int status = 0;
		pid_t pid = waitpid(-1, &status, WNOHANG | __WALL);

		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		if (owner_of_locked(a, pid, &c, &p))
			process_reaped_locked(a, c, p, status);
		else
			log_debug("reaped orphan %d (status %#x)", (int)pid, status);
	}
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

/* ---- the service ---- */

int agent_service_event_fd(const struct agent_service *svc)
{
	return ((const struct agent *)svc)->event_fd;
}

bool agent_service_shutdown_requested(const struct agent_service *svc)
{
	return atomic_load(&((const struct agent *)svc)->shutdown);
}

int agent_service_add_connection_take(struct agent_service *svc, int fd)
{
	return agent_rpc_server_add_fd_take(((struct agent *)svc)->server, fd);
}

int agent_service_new(const struct agent_service_config *config, struct agent_service **ret,
		      struct error *err)
{
	struct agent *a = calloc(1, sizeof(*a));
	pthread_condattr_t ca;
	int r;

	if (!a)
		return error_set(err, -ENOMEM, "out of memory");
	a->cfg = *config;
	a->event_fd = -1;
	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&a->shutdown, false);
	if (config->stdio_unix_dir) {
		a->stdio_unix_dir = strdup(config->stdio_unix_dir);
		if (!a->stdio_unix_dir) {
			r = error_set(err, -ENOMEM, "out of memory");
			goto fail;
		}
		a->cfg.stdio_unix_dir = a->stdio_unix_dir;
	}
	a->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->event_fd < 0) {
		r = error_set(err, -errno, "eventfd: %m");
		goto fail;
	}
	r = agent_oom_new(&a->oom, err);
	if (r < 0)
		goto fail;
	r = agent_rpc_server_new(agent_methods, ARRAY_SIZE(agent_methods), a, &a->server);
	if (r < 0) {
		error_set(err, r, "starting the RPC server: %s", strerror(-r));
		goto fail;
	}
	*ret = (struct agent_service *)a;
	return 0;
fail:
	agent_service_free((struct agent_service *)a);
	return r;
}

/* Every process exited (and, with relays, every relay ended)? */
static bool all_stopped(struct agent *a, bool relays)
{
	bool done;

	pthread_mutex_lock(&a->lock);
	done = !relays || a->relays == 0;
	for (struct agent_container *c = a->containers; c && done; c = c->next) {
		if (c->init && c->init->proc.pid > 0 && !c->init->exited)
			done = false;
		for (struct agent_process *p = c->execs; p && done; p = p->next)
			if (p->proc.pid > 0 && !p->exited)
				done = false;
	}
	pthread_mutex_unlock(&a->lock);
	return done;
}

void agent_service_free(struct agent_service *svc)
{
	struct agent *a = (struct agent *)svc;
	int64_t deadline;
	bool stopped;

	if (!a)
		return;
	atomic_store(&a->shutdown, true);
	if (a->oom)
		agent_oom_stop(a->oom);
	/* No call runs after this (blocked ones were cancelled). */
	agent_rpc_server_free(a->server);
	a->server = NULL;

	for (struct agent_container *c = a->containers; c; c = c->next)
		agent_container_kill_all(a, c);
	/* First the processes (their last output still goes out), then the
	 * relays, some of which may wait for a host that will not come. */
	deadline = agent_now_ms() + AGENT_STOP_TIMEOUT_MS;
	for (int pass = 0; pass < 2; pass++) {
		while (!(stopped = all_stopped(a, pass == 1)) && agent_now_ms() < deadline) {
			if (a->event_fd >= 0)
				agent_service_reap(svc);
			(void)poll(NULL, 0, AGENT_STOP_POLL_MS);
		}
		if (pass == 1)
			break;
		pthread_mutex_lock(&a->lock);
		for (struct agent_container *c = a->containers; c; c = c->next) {
			if (c->init && c->init->stdio)
				agent_stdio_cancel(c->init->stdio);
			for (struct agent_process *p = c->execs; p; p = p->next)
				if (p->stdio)
					agent_stdio_cancel(p->stdio);
		}
		pthread_mutex_unlock(&a->lock);
	}
	if (!stopped) {
		/* A relay or process we cannot account for: leak rather than free
		 * what a thread may still use. */
		log_error("processes or stdio relays still running after %d ms; not freeing them",
			  AGENT_STOP_TIMEOUT_MS);
		return;
	}
	pthread_mutex_lock(&a->lock);
	while (a->containers) {
		struct agent_container *c = a->containers;
		struct error e = { 0 };

		if (a->oom)
			agent_oom_unwatch(a->oom, c->id);
		if (c->cgroup_path && container_cgroup_remove(c->cgroup_path, &e) < 0)
			log_warn("container %s: %s", c->id, e.msg);
		agent_container_unlink_locked(a, c);
	}
	pthread_mutex_unlock(&a->lock);
	agent_oom_free(a->oom);
	if (a->event_fd >= 0)
		close(a->event_fd);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	free(a->stdio_unix_dir);
	free(a);
}
