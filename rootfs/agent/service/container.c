/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Containers: CreateContainer, StartContainer, PauseContainer,
 * ResumeContainer, UpdateContainer, StatsContainer, ListProcesses,
 * RemoveContainer.
 *
 * A container goes creating -> created -> running <-> paused -> stopped
 * (init exited) and removing; container_set_state() is the one place that
 * changes it, apart from the reaper's "stopped".
 */
#include "service-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "common/log.h"

/* Largest cgroup.procs read (a pid per line). */
#define CGROUP_PROCS_MAX (1u << 20)

static void container_set_state_locked(struct agent_container *c, enum agent_container_state to)
{
	if (c->state == to)
		return;
	log_debug("container %s: %s -> %s", c->id, agent_container_state_to_string(c->state),
		  agent_container_state_to_string(to));
	c->state = to;
}

static enum agent_container_state container_state(struct agent *a, struct agent_container *c)
{
	enum agent_container_state s;

	pthread_mutex_lock(&a->lock);
	s = c->state;
	pthread_mutex_unlock(&a->lock);
	return s;
}

static grpc_status_code wrong_state(struct agent_rpc_status *st, const struct agent_container *c,
				    enum agent_container_state s, const char *want)
{
	return agent_rpc_status_set(st, GRPC_STATUS_FAILED_PRECONDITION,
				    "container %s is %s, not %s", c->id,
				    agent_container_state_to_string(s), want);
}

/* ---- killing and tearing down ---- */

static void signal_process_locked(struct agent_process *p, int sig)
{
	if (!p || p->exited || p->proc.pid <= 0)
		return;
	if (p->proc.pidfd >= 0)
		(void)pidfd_send_signal(p->proc.pidfd, sig, NULL, 0);
	else
		(void)kill(p->proc.pid, sig);
}

void agent_container_kill_all(struct agent *a, struct agent_container *c)
{
	struct error e = { 0 };
	bool paused;

	pthread_mutex_lock(&a->lock);
	paused = c->state == CONTAINER_PAUSED;
	signal_process_locked(c->init, SIGKILL);
	for (struct agent_process *p = c->execs; p; p = p->next)
		signal_process_locked(p, SIGKILL);
	pthread_mutex_unlock(&a->lock);
	if (!c->cgroup_path)
		return;
	/* Whatever else lives in the cgroup (daemons, exec'd children). */
	if (container_cgroup_kill_all(c->cgroup_path, SIGKILL, &e) < 0 && e.code != -ENOENT)
		log_warn("container %s: %s", c->id, e.msg);
	if (paused && container_cgroup_freeze(c->cgroup_path, false, &e) < 0 && e.code != -ENOENT)
		log_warn("container %s: %s", c->id, e.msg);
}

static bool all_exited_locked(const struct agent_container *c)
{
	if (c->init && c->init->proc.pid > 0 && !c->init->exited)
		return false;
	for (const struct agent_process *p = c->execs; p; p = p->next)
		if (p->proc.pid > 0 && !p->exited)
			return false;
	return true;
}

/*
 * SIGKILL everything, wait for the processes to be reaped (until
 * deadline_ms, or the call is cancelled; ctx may be NULL), stop the stdio
 * relays, stop watching for OOM, remove the cgroup.
 */
static int container_teardown(struct agent *a, struct agent_container *c,
			      struct agent_rpc_ctx *ctx, int64_t deadline_ms, struct error *err)
{
	agent_container_kill_all(a, c);
	if (ctx)
		agent_rpc_ctx_on_cancel(ctx, agent_wake, a);
	pthread_mutex_lock(&a->lock);
	while (!all_exited_locked(c)) {
		if (ctx && agent_rpc_ctx_cancelled(ctx)) {
			pthread_mutex_unlock(&a->lock);
			return error_set(err, -ECANCELED, "cancelled");
		}
		if (agent_now_ms() >= deadline_ms) {
			pthread_mutex_unlock(&a->lock);
			return error_set(err, -ETIMEDOUT,
					 "container %s: its processes did not exit in time after SIGKILL",
					 c->id);
		}
		agent_cond_wait_locked(a, deadline_ms);
	}
	/* Relays still waiting for the host or for EOF from a daemon: stop. */
	if (c->init && c->init->stdio)
		agent_stdio_cancel(c->init->stdio);
	for (struct agent_process *p = c->execs; p; p = p->next)
		if (p->stdio)
			agent_stdio_cancel(p->stdio);
	pthread_mutex_unlock(&a->lock);
	agent_oom_unwatch(a->oom, c->id);
	if (c->cgroup_path && container_cgroup_remove(c->cgroup_path, err) < 0)
		return error_wrap(err, "container %s", c->id);
	return 0;
}

/* ---- CreateContainer ---- */

/* Two cgroup paths that are the same or one inside the other. */
static bool cgroup_overlaps(const char *x, const char *y)
{
	size_t lx = strlen(x), ly = strlen(y), l = MIN(lx, ly);

	return strncmp(x, y, l) == 0 && (lx == ly || (lx > ly ? x[l] : y[l]) == '/');
}

/* Reserve the id (state CREATING); the table holds a reference, so do we. */
static grpc_status_code container_insert(struct agent *a, struct agent_container *c,
					 struct agent_rpc_status *st)
{
	grpc_status_code code = GRPC_STATUS_OK;

	pthread_mutex_lock(&a->lock);
	if (a->n_containers >= AGENT_MAX_CONTAINERS) {
		code = agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED,
					    "too many containers (at most %d)", AGENT_MAX_CONTAINERS);
		goto out;
	}
	for (struct agent_container *o = a->containers; o; o = o->next) {
		if (!strcmp(o->id, c->id)) {
			code = agent_rpc_status_set(st, GRPC_STATUS_ALREADY_EXISTS,
						    "container %s exists", c->id);
			goto out;
		}
		if (cgroup_overlaps(o->cgroup_path, c->cgroup_path)) {
			code = agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT,
						    "linux.cgroupsPath: %s overlaps container %s's %s",
						    c->cgroup_path, o->id, o->cgroup_path);
			goto out;
		}
	}
	c->refs = 2;
	c->next = a->containers;
	a->containers = c;
	a->n_containers++;
out:
	pthread_mutex_unlock(&a->lock);
	return code;
}

static void container_abort(struct agent *a, struct agent_container *c)
{
	struct error e = { 0 };

	if (container_teardown(a, c, NULL, agent_now_ms() + AGENT_REMOVE_TIMEOUT_MS, &e) < 0)
		log_warn("container %s: cleaning up after a failed create: %s", c->id, e.msg);
	pthread_mutex_lock(&a->lock);
	agent_container_unlink_locked(a, c);
	pthread_mutex_unlock(&a->lock);
}

static struct agent_container *container_alloc(const char *id, const char *rootfs)
{
	struct agent_container *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->op_lock, NULL);
	c->state = CONTAINER_CREATING;
	c->refs = 1;
	c->id = strdup(id);
	c->rootfs = strdup(rootfs);
	if (!c->id || !c->rootfs) {
		free(c->id);
		free(c->rootfs);
		pthread_mutex_destroy(&c->op_lock);
		free(c);
		return NULL;
	}
	return c;
}

AGENT_HANDLER(agent_h_create_container)
{
	struct agent *a = userdata;
	const Nacelle__Agent__V1__CreateContainerRequest *r = (const void *)req;
	Nacelle__Agent__V1__CreateContainerResponse *resp;
	struct agent_container *c = NULL;
	struct agent_process *p = NULL;
	struct agent_stdio *stdio = NULL;
	struct oci_spec *spec = NULL;
	struct error e = { 0 };
	int child_fds[3] = { -1, -1, -1 };
	grpc_status_code code;
	char *cg = NULL, *root = NULL, tag[AGENT_MAX_ID + 8];
	bool terminal;
	int rr;

	resp = (void *)agent_rpc_ctx_new(ctx, &nacelle__agent__v1__create_container_response__descriptor);
	if (!resp)
		return agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	if (oci_spec_parse(r->spec, strlen(r->spec), &spec, &e) < 0)
		return agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT, "spec: %s", e.msg);
	if (!spec->process) {
		code = agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT,
					    "spec: process: missing");
		goto out;
	}
	terminal = spec->process->terminal;
	if (terminal != (r->stdio && r->stdio->terminal)) {
		code = agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT,
					    "stdio.terminal (%s) does not match the spec's "
					    "process.terminal (%s)",
					    terminal ? "false" : "true", terminal ? "true" : "false");
		goto out;
	}
	/* root.path is the shim's bundle path; the guest's is rootfs. */
	root = strdup(r->rootfs);
	if (!root) {
		code = agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	free(spec->root.path);
	spec->root.path = root;
	rr = container_cgroup_path(spec->linux_.cgroups_path, r->container_id, &cg);
	if (rr < 0 || !strcmp(cg, CONTAINER_CGROUP_ROOT)) {
		code = agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT,
					    "spec: linux.cgroupsPath: \"%.256s\" is not a usable cgroup "
					    "path", spec->linux_.cgroups_path ? spec->linux_.cgroups_path : "");
		goto out;
	}

	c = container_alloc(r->container_id, r->rootfs);
	if (!c) {
		code = agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	c->cgroup_path = cg;
	cg = NULL;
	code = container_insert(a, c, st);
	if (code != GRPC_STATUS_OK)
		goto out;
	/* From here the id is taken: other calls on it wait for op_lock. */
	pthread_mutex_lock(&c->op_lock);
	c->spec = spec;
	spec = NULL;

	snprintf(tag, sizeof(tag), "%s/init", c->id);
	if (agent_stdio_new(a, tag, r->stdio, terminal, &stdio, child_fds, &e) < 0) {
		code = agent_status_error(st, &e);
		goto fail;
	}
	if (container_cgroup_create(c->cgroup_path, c->spec->linux_.resources, &e) < 0) {
		code = agent_status_error(st, &e);
		goto fail;
	}
	p = agent_process_new("");
	if (!p) {
		code = agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
		goto fail;
	}

	{
		struct container_spawn_opts opts = {
			.stdio = { child_fds[0], child_fds[1], child_fds[2] },
			.cgroup_path = c->cgroup_path,
			.defer_exec = true,
		};

		agent_spawn_begin(a);
		rr = container_process_spawn(c->spec, c->rootfs, &opts, &p->proc, &e);
		pthread_mutex_lock(&a->lock);
		if (rr == 0) {
			c->init = p;
			p->stdio = stdio;
			p->output_done = !stdio;
		}
		pthread_mutex_unlock(&a->lock);
		agent_spawn_end(a);
	}
	for (int i = 0; i < 3; i++)
		if (child_fds[i] >= 0)
			close(child_fds[i]);
	if (rr < 0) {
		code = agent_status_error(st, &e);
		goto fail;
	}
	/* The container owns p and its stdio now. */
	p = NULL;
	stdio = NULL;
	if (c->init->stdio && agent_stdio_start(a, c->init->stdio, c->init, &e) < 0) {
		code = agent_status_error(st, &e);
		goto fail;
	}
	agent_oom_watch(a->oom, c->id, c->cgroup_path);
	pthread_mutex_lock(&a->lock);
	container_set_state_locked(c, c->init->exited ? CONTAINER_STOPPED : CONTAINER_CREATED);
	resp->pid = (int32_t)c->init->proc.pid;
	pthread_mutex_unlock(&a->lock);
	log_info("container %s: created (init pid %d, rootfs %s, cgroup %s)", c->id, resp->pid,
		 c->rootfs, c->cgroup_path);
	pthread_mutex_unlock(&c->op_lock);
	*ret_resp = &resp->base;
	code = GRPC_STATUS_OK;
	goto out;

fail:
	for (int i = 0; i < 3; i++)
		if (child_fds[i] >= 0)
			close(child_fds[i]);
	agent_stdio_free(stdio);
	if (p) {
		pthread_mutex_lock(&a->lock);
		agent_process_unref_locked(a, p);
		pthread_mutex_unlock(&a->lock);
	}
	log_warn("container %s: create failed: %s", c->id, st->message);
	container_abort(a, c);
	pthread_mutex_unlock(&c->op_lock);
out:
	agent_container_put(a, c);
	free(cg);
	oci_spec_free(spec);
	return code;
}

/* ---- StartContainer, Pause, Resume, Update ---- */

AGENT_HANDLER(agent_h_start_container)
{
	struct agent *a = userdata;
	const Nacelle__Agent__V1__StartContainerRequest *r = (const void *)req;
	struct agent_container *c;
	enum agent_container_state s;
	struct error e = { 0 };
	grpc_status_code code;

	code = agent_container_get(a, r->container_id, &c, st);
	if (code != GRPC_STATUS_OK)
		return code;
	pthread_mutex_lock(&c->op_lock);
	s = container_state(a, c);
	if (s != CONTAINER_CREATED) {
		code = wrong_state(st, c, s, "created");
		goto out;
	}
	if (container_process_start(&c->init->proc, &e) < 0) {
		code = agent_status_error(st, &e);
		log_warn("container %s: start failed: %s", c->id, e.msg);
		goto out;
	}
	pthread_mutex_lock(&a->lock);
	/* It may have run and exited already (the reaper said "stopped"). */
	if (c->state == CONTAINER_CREATED)
		container_set_state_locked(c, CONTAINER_RUNNING);
	pthread_mutex_unlock(&a->lock);
	log_info("container %s: started", c->id);
	code = agent_respond(ctx, &nacelle__agent__v1__start_container_response__descriptor,
			     ret_resp, st);
out:
	pthread_mutex_unlock(&c->op_lock);
	agent_container_put(a, c);
	return code;
}

static grpc_status_code pause_resume(struct agent *a, struct agent_rpc_ctx *ctx, const char *id,
				     bool pause, ProtobufCMessage **ret_resp,
				     struct agent_rpc_status *st)
{
	enum agent_container_state want = pause ? CONTAINER_RUNNING : CONTAINER_PAUSED;
	struct agent_container *c;
	enum agent_container_state s;
	struct error e = { 0 };
	grpc_status_code code;

	code = agent_container_get(a, id, &c, st);
	if (code != GRPC_STATUS_OK)
		return code;
	pthread_mutex_lock(&c->op_lock);
	s = container_state(a, c);
	if (s != want) {
		code = wrong_state(st, c, s, agent_container_state_to_string(want));
		goto out;
	}
	if (container_cgroup_freeze(c->cgroup_path, pause, &e) < 0) {
		code = agent_status_error(st, &e);
		goto out;
	}
	pthread_mutex_lock(&a->lock);
	if (c->state == want)
		container_set_state_locked(c, pause ? CONTAINER_PAUSED : CONTAINER_RUNNING);
	pthread_mutex_unlock(&a->lock);
	code = agent_respond(ctx,
			     pause ? &nacelle__agent__v1__pause_container_response__descriptor :
				     &nacelle__agent__v1__resume_container_response__descriptor,
			     ret_resp, st);
out:
	pthread_mutex_unlock(&c->op_lock);
	agent_container_put(a, c);
	return code;
}

AGENT_HANDLER(agent_h_pause_container)
{
	const Nacelle__Agent__V1__PauseContainerRequest *r = (const void *)req;

	return pause_resume(userdata, ctx, r->container_id, true, ret_resp, st);
}

AGENT_HANDLER(agent_h_resume_container)
{
	const Nacelle__Agent__V1__ResumeContainerRequest *r = (const void *)req;

	return pause_resume(userdata, ctx, r->container_id, false, ret_resp, st);
}

AGENT_HANDLER(agent_h_update_container)
{
	struct agent *a = userdata;
	const Nacelle__Agent__V1__UpdateContainerRequest *r = (const void *)req;
	struct oci_resources *res = NULL;
	struct agent_container *c;
	enum agent_container_state s;
	struct error e = { 0 };
	grpc_status_code code;

	if (oci_resources_parse(r->resources, strlen(r->resources), &res, &e) < 0)
		return agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT, "resources: %s", e.msg);
	code = agent_container_get(a, r->container_id, &c, st);
	if (code != GRPC_STATUS_OK)
		goto out_res;
	pthread_mutex_lock(&c->op_lock);
	s = container_state(a, c);
	if (s == CONTAINER_REMOVING || s == CONTAINER_CREATING) {
		code = wrong_state(st, c, s, "created, running, paused or stopped");
		goto out;
	}
	if (container_cgroup_update(c->cgroup_path, res, &e) < 0) {
		code = agent_status_error(st, &e);
		goto out;
	}
	code = agent_respond(ctx, &nacelle__agent__v1__update_container_response__descriptor,
			     ret_resp, st);
out:
	pthread_mutex_unlock(&c->op_lock);
	agent_container_put(a, c);
out_res:
	oci_resources_free(res);
	return code;
}

/* ---- StatsContainer, ListProcesses ---- */

static void *ctx_new(struct agent_rpc_ctx *ctx, const ProtobufCMessageDescriptor *d)
{
	return agent_rpc_ctx_new(ctx, d);
}

AGENT_HANDLER(agent_h_stats_container)
{
	struct agent *a = userdata;
	const Nacelle__Agent__V1__StatsContainerRequest *r = (const void *)req;
	Nacelle__Agent__V1__StatsContainerResponse *resp;
	struct container_stats *s;
	struct agent_container *c;
	struct error e = { 0 };
	struct timespec now;
	grpc_status_code code;

	resp = ctx_new(ctx, &nacelle__agent__v1__stats_container_response__descriptor);
	s = agent_rpc_ctx_alloc(ctx, sizeof(*s));
	if (!resp || !s)
		return agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	code = agent_container_get(a, r->container_id, &c, st);
	if (code != GRPC_STATUS_OK)
		return code;
	if (container_cgroup_stats(c->cgroup_path, s, &e) < 0) {
		code = agent_status_error(st, &e);
		agent_container_put(a, c);
		return code;
	}
	agent_container_put(a, c);

	clock_gettime(CLOCK_REALTIME, &now);
	resp->timestamp = ctx_new(ctx, &nacelle__agent__v1__timestamp__descriptor);
	if (s->has_cpu)
		resp->cpu = ctx_new(ctx, &nacelle__agent__v1__cpu_stats__descriptor);
	if (s->has_memory)
		resp->memory = ctx_new(ctx, &nacelle__agent__v1__memory_stats__descriptor);
	if (s->has_pids)
		resp->pids = ctx_new(ctx, &nacelle__agent__v1__pids_stats__descriptor);
	if (s->has_io)
		resp->io = ctx_new(ctx, &nacelle__agent__v1__io_stats__descriptor);
	if (!resp->timestamp || (s->has_cpu && !resp->cpu) || (s->has_memory && !resp->memory) ||
	    (s->has_pids && !resp->pids) || (s->has_io && !resp->io))
		return agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	resp->timestamp->seconds = now.tv_sec;
	resp->timestamp->nanos = (int32_t)now.tv_nsec;
	if (resp->cpu) {
		resp->cpu->usage_usec = s->cpu.usage_usec;
		resp->cpu->user_usec = s->cpu.user_usec;
		resp->cpu->system_usec = s->cpu.system_usec;
		resp->cpu->nr_periods = s->cpu.nr_periods;
		resp->cpu->nr_throttled = s->cpu.nr_throttled;
		resp->cpu->throttled_usec = s->cpu.throttled_usec;
	}
	if (resp->memory) {
		resp->memory->usage = s->memory.current;
		resp->memory->limit = s->memory.max;
		resp->memory->swap_usage = s->memory.swap_current;
		resp->memory->swap_limit = s->memory.swap_max;
		resp->memory->oom_events = s->memory.oom;
		resp->memory->oom_kill_events = s->memory.oom_kill;
		resp->memory->anon = s->memory.anon;
		resp->memory->file = s->memory.file;
		resp->memory->inactive_file = s->memory.inactive_file;
	}
	if (resp->pids) {
		resp->pids->current = s->pids.current;
		resp->pids->limit = s->pids.max;
	}
	for (size_t i = 0; resp->io && i < s->n_io; i++) {
		resp->io->read_bytes += s->io[i].rbytes;
		resp->io->write_bytes += s->io[i].wbytes;
		resp->io->read_ops += s->io[i].rios;
		resp->io->write_ops += s->io[i].wios;
	}
	*ret_resp = &resp->base;
	return GRPC_STATUS_OK;
}

struct pid_list {
	int32_t *pids;
	size_t n, cap;
};

/* cgroup.procs of dir and of the cgroups below it (nested cgroups of the container). */
static int collect_pids(int dirfd, unsigned int depth, struct pid_list *l)
{
	_cleanup_free_ char *buf = NULL;
	DIR *d;
	struct dirent *de;
	int fd, r = 0;
	size_t len = 0;

	if (depth > CONTAINER_CGROUP_MAX_DEPTH)
		return 0;
	fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		buf = malloc(CGROUP_PROCS_MAX + 1);
		if (!buf) {
			close(fd);
			return -ENOMEM;
		}
		for (;;) {
			ssize_t n = read(fd, buf + len, CGROUP_PROCS_MAX - len);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += (size_t)n;
			if (len == CGROUP_PROCS_MAX)
				break;
		}
		close(fd);
		buf[len] = '\0';
		for (char *s = buf, *end; *s; s = end) {
			long v = strtol(s, &end, 10);

			if (end == s)
				break;
			while (*end == '\n')
				end++;
			if (v <= 0 || v > INT32_MAX)
				continue;
			if (l->n >= AGENT_MAX_PIDS)
				return 0;
			if (l->n == l->cap) {
				size_t cap = l->cap ? l->cap * 2 : 64;
				int32_t *np = realloc(l->pids, cap * sizeof(*np));

				if (!np)
					return -ENOMEM;
				l->pids = np;
				l->cap = cap;
			}
			l->pids[l->n++] = (int32_t)v;
		}
	}
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d)) && r == 0) {
		int sub;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sub < 0)
			continue;
		r = collect_pids(sub, depth + 1, l);
		close(sub);
	}
	closedir(d);
	return r;
}

AGENT_HANDLER(agent_h_list_processes)
{
	struct agent *a = userdata;
	const Nacelle__Agent__V1__ListProcessesRequest *r = (const void *)req;
	Nacelle__Agent__V1__ListProcessesResponse *resp;
	struct pid_list l = { 0 };
	struct agent_container *c;
	grpc_status_code code;
	int fd, rr = 0;

	resp = ctx_new(ctx, &nacelle__agent__v1__list_processes_response__descriptor);
	if (!resp)
		return agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	code = agent_container_get(a, r->container_id, &c, st);
	if (code != GRPC_STATUS_OK)
		return code;
	fd = open(c->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rr = collect_pids(fd, 0, &l);
		close(fd);
	}
	agent_container_put(a, c);
	if (rr < 0) {
		free(l.pids);
		return agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	}
	if (l.n) {
		resp->pids = agent_rpc_ctx_alloc(ctx, l.n * sizeof(*resp->pids));
		if (!resp->pids) {
			free(l.pids);
			return agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED,
						    "out of memory");
		}
		memcpy(resp->pids, l.pids, l.n * sizeof(*resp->pids));
		resp->n_pids = l.n;
	}
	free(l.pids);
	*ret_resp = &resp->base;
	return GRPC_STATUS_OK;
}

/* ---- RemoveContainer ---- */

AGENT_HANDLER(agent_h_remove_container)
{
	struct agent *a = userdata;
	const Nacelle__Agent__V1__RemoveContainerRequest *r = (const void *)req;
	uint32_t timeout = r->timeout_ms ? r->timeout_ms : AGENT_REMOVE_TIMEOUT_MS;
	struct agent_container *c;
	struct error e = { 0 };
	grpc_status_code code;

	code = agent_container_get(a, r->container_id, &c, st);
	if (code != GRPC_STATUS_OK)
		return code;
	pthread_mutex_lock(&c->op_lock);
	pthread_mutex_lock(&a->lock);
	if (c->state == CONTAINER_CREATING) {
		code = wrong_state(st, c, c->state, "created");
		pthread_mutex_unlock(&a->lock);
		goto out;
	}
	/* A repeated Remove (after DEADLINE_EXCEEDED) starts over. */
	container_set_state_locked(c, CONTAINER_REMOVING);
	pthread_mutex_unlock(&a->lock);

	if (container_teardown(a, c, ctx, agent_now_ms() + timeout, &e) < 0) {
		code = agent_status_error(st, &e);
		log_warn("container %s: remove: %s", c->id, e.msg);
		goto out;
	}
	pthread_mutex_lock(&a->lock);
	agent_container_unlink_locked(a, c);
	pthread_mutex_unlock(&a->lock);
	log_info("container %s: removed", c->id);
	code = agent_respond(ctx, &nacelle__agent__v1__remove_container_response__descriptor,
			     ret_resp, st);
out:
	pthread_mutex_unlock(&c->op_lock);
	agent_container_put(a, c);
	return code;
}
