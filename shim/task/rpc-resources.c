/* SPDX-License-Identifier: Apache-2.0 */
/* The container as a whole: Pause, Resume, Checkpoint, Update, Stats. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "service.h"

#define CGROUPS_V2_METRICS_TYPE "io.containerd.cgroups.v2.Metrics"

/* Pause and Resume: from `from` to `to` around the runtime op. */
static int freeze(struct shim_task_service *s, const char *id, bool pause, struct error *err)
{
	enum shim_proc_state from = pause ? SHIM_PROC_RUNNING : SHIM_PROC_PAUSED;
	enum shim_proc_state to = pause ? SHIM_PROC_PAUSED : SHIM_PROC_RUNNING;
	struct shim_proc *p;
	int r;

	pthread_mutex_lock(&s->lock);
	r = svc_proc_get(s, id, NULL, &p, err);
	if (r < 0)
		goto out;
	if (p->state != from) {
		r = error_set(err, -EBUSY, "%s %s: task is %s", pause ? "pause" : "resume", id,
			      shim_proc_state_to_string(p->state));
		goto out;
	}
	p->refs++;
	pthread_mutex_unlock(&s->lock);

	r = pause ? s->ops->pause(s->rt, id, err) : s->ops->resume(s->rt, id, err);

	pthread_mutex_lock(&s->lock);
	if (r < 0) {
		r = svc_runtime_error(r, err, "%s %s", pause ? "pause" : "resume", id);
	} else if (p->state == from) {
		svc_proc_set_state(p, to);
		if (pause) {
			Containerd__Events__TaskPaused ev = CONTAINERD__EVENTS__TASK_PAUSED__INIT;

			ev.container_id = p->container_id;
			svc_publish(s, "/tasks/paused", &ev.base);
		} else {
			Containerd__Events__TaskResumed ev = CONTAINERD__EVENTS__TASK_RESUMED__INIT;

			ev.container_id = p->container_id;
			svc_publish(s, "/tasks/resumed", &ev.base);
		}
	}
	svc_proc_unref(p);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

SHIM_RPC(pause)
{
	const Containerd__Task__V2__PauseRequest *req = (const void *)request;

	return freeze(userdata, req->id, true, err);
}

SHIM_RPC(resume)
{
	const Containerd__Task__V2__ResumeRequest *req = (const void *)request;

	return freeze(userdata, req->id, false, err);
}

SHIM_RPC(checkpoint)
{
	const Containerd__Task__V2__CheckpointTaskRequest *req = (const void *)request;

	return error_set(err, -EOPNOTSUPP,
			 "checkpoint %s: not implemented: nacelle cannot checkpoint a task",
			 req->id);
}

SHIM_RPC(update)
{
	struct shim_task_service *s = userdata;
	const Containerd__Task__V2__UpdateTaskRequest *req = (const void *)request;
	struct shim_proc *p;
	int r;

	pthread_mutex_lock(&s->lock);
	r = svc_proc_get(s, req->id, NULL, &p, err);
	pthread_mutex_unlock(&s->lock);
	if (r < 0)
		return r;
	/* containerd 1.6 may send only annotations; nothing to do for those. */
	if (!req->resources || !req->resources->value.len)
		return 0;
	r = s->ops->update(s->rt, req->id, (const char *)req->resources->value.data,
			   req->resources->value.len, err);
	return r < 0 ? svc_runtime_error(r, err, "update %s", req->id) : 0;
}

SHIM_RPC(stats)
{
	struct shim_task_service *s = userdata;
	const Containerd__Task__V2__StatsRequest *req = (const void *)request;
	Containerd__Task__V2__StatsResponse resp = CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
	Io__Containerd__Cgroups__V2__Metrics m = IO__CONTAINERD__CGROUPS__V2__METRICS__INIT;
	Io__Containerd__Cgroups__V2__PidsStat pids = IO__CONTAINERD__CGROUPS__V2__PIDS_STAT__INIT;
	Io__Containerd__Cgroups__V2__CPUStat cpu = IO__CONTAINERD__CGROUPS__V2__CPUSTAT__INIT;
	Io__Containerd__Cgroups__V2__MemoryStat mem = IO__CONTAINERD__CGROUPS__V2__MEMORY_STAT__INIT;
	Io__Containerd__Cgroups__V2__MemoryEvents mev = IO__CONTAINERD__CGROUPS__V2__MEMORY_EVENTS__INIT;
	Io__Containerd__Cgroups__V2__IOStat io = IO__CONTAINERD__CGROUPS__V2__IOSTAT__INIT;
	Io__Containerd__Cgroups__V2__IOEntry ioe = IO__CONTAINERD__CGROUPS__V2__IOENTRY__INIT;
	Io__Containerd__Cgroups__V2__IOEntry *ioes[] = { &ioe };
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	struct shim_stats st = {};
	_cleanup_free_ uint8_t *packed = NULL;
	struct shim_proc *p;
	int r;

	pthread_mutex_lock(&s->lock);
	r = svc_proc_get(s, req->id, NULL, &p, err);
	pthread_mutex_unlock(&s->lock);
	if (r < 0)
		return r;
	r = s->ops->stats(s->rt, req->id, &st, err);
	if (r < 0)
		return svc_runtime_error(r, err, "stats %s", req->id);

	pids.current = st.pids_current;
	pids.limit = st.pids_limit;
	cpu.usage_usec = st.cpu_usage_usec;
	cpu.user_usec = st.cpu_user_usec;
	cpu.system_usec = st.cpu_system_usec;
	cpu.nr_periods = st.cpu_nr_periods;
	cpu.nr_throttled = st.cpu_nr_throttled;
	cpu.throttled_usec = st.cpu_throttled_usec;
	mem.usage = st.memory_usage;
	mem.usage_limit = st.memory_usage_limit;
	/* cgroup v2 has no max usage field; memory_max_usage is not sent. */
	mev.oom = st.memory_oom;
	mev.oom_kill = st.memory_oom_kill;
	/* One entry summing every device: the guest's devices mean nothing
	 * on the host (major/minor 0). */
	ioe.rbytes = st.io_rbytes;
	ioe.wbytes = st.io_wbytes;
	ioe.rios = st.io_rios;
	ioe.wios = st.io_wios;
	io.usage = ioes;
	io.n_usage = 1;
	m.pids = &pids;
	m.cpu = &cpu;
	m.memory = &mem;
	m.memory_events = &mev;
	m.io = &io;

	any.type_url = (char *)CGROUPS_V2_METRICS_TYPE;
	any.value.len = io__containerd__cgroups__v2__metrics__get_packed_size(&m);
	packed = malloc(any.value.len);
	if (!packed)
		return error_set(err, -ENOMEM, "out of memory");
	io__containerd__cgroups__v2__metrics__pack(&m, packed);
	any.value.data = packed;
	resp.stats = &any;
	return ttrpc_call_reply(call, &resp.base);
}
