/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The task service's state, shared by the RPC files (rpc-task.c,
 * rpc-exec.c, rpc-resources.c). One lock guards every container and
 * process; runtime ops are called without it (they may block), with the
 * process in a transitional state (creating, starting, deleting) so
 * concurrent RPCs on it see a consistent answer.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "shim/task.h"

/* Go's zero time.Time as a Timestamp: what containerd (gogo stdtime) sends
 * for "not exited", and what runc's shim reports before an exit. */
#define SHIM_GO_ZERO_TIME_SECONDS INT64_C(-62135596800)

enum shim_proc_state {
	SHIM_PROC_CREATING, /* runtime create/exec in progress; invisible */
	SHIM_PROC_CREATED,
	SHIM_PROC_STARTING, /* runtime start in progress; reported as created */
	SHIM_PROC_RUNNING,
	SHIM_PROC_PAUSED, /* init only: the container is frozen */
	SHIM_PROC_STOPPED,
	SHIM_PROC_DELETING, /* runtime remove in progress; reported as stopped */
};

struct shim_proc {
	char *container_id;
	char *exec_id; /* NULL for init */
	enum shim_proc_state state;
	unsigned refs; /* the container's + one per Wait in progress */
	uint32_t pid;
	char *stdin_path, *stdout_path, *stderr_path;
	bool terminal;
	bool exited;
	uint32_t exit_status;
	struct timespec exited_at;
	/* An exit reported while starting: applied after TaskStart is queued. */
	bool exit_pending;
	uint32_t pending_status;
	struct timespec pending_at;
	struct shim_proc *next; /* in container->execs */
};

struct shim_container {
	char *id;
	char *bundle;
	struct shim_proc *init;
	struct shim_proc *execs;
	struct shim_container *next;
};

struct shim_task_service {
	pthread_mutex_t lock;
	pthread_cond_t exited; /* broadcast on every exit, and on cancel */
	struct shim_container *containers;
	size_t n_containers; /* not counting one still being created */
	bool cancelled;
	const struct shim_runtime_ops *ops;
	struct shim_runtime *rt;
	struct shim_events *events;
	char *ns;
	char *sandbox_id;
};

/* Under s->lock. */
struct shim_container *svc_container(struct shim_task_service *s, const char *id);
/* Visible process (not creating) or NULL; exec_id NULL or "" = init. */
struct shim_proc *svc_proc(struct shim_task_service *s, const char *id, const char *exec_id);
/* The same, with containerd's NOT_FOUND message in err. */
int svc_proc_get(struct shim_task_service *s, const char *id, const char *exec_id,
		 struct shim_proc **ret, struct error *err) _wur_;
/* The one function that changes a process's state (logs it). */
void svc_proc_set_state(struct shim_proc *p, enum shim_proc_state state);
const char *shim_proc_state_to_string(enum shim_proc_state state);
/* containerd.v1.types.Status as containerd sees a state. */
Containerd__V1__Types__Status svc_proc_status(const struct shim_proc *p);
/* Marks p stopped with status/time, publishes /tasks/exit and wakes
 * Waits. Under s->lock; no-op if already stopped. */
void svc_proc_exit(struct shim_task_service *s, struct shim_proc *p, uint32_t status,
		   const struct timespec *at);
struct shim_proc *svc_proc_new(const char *container_id, const char *exec_id,
			       const struct shim_stdio *stdio);
void svc_proc_unref(struct shim_proc *p);
void svc_container_free(struct shim_container *c);
/* Unlinks c from the service (under s->lock). */
void svc_container_unlink(struct shim_task_service *s, struct shim_container *c);

static inline bool exec_is_init(const char *exec_id)
{
	return !exec_id || !exec_id[0];
}

/* exited_at as a Timestamp: the time, or Go's zero time if not exited. */
void svc_timestamp(Google__Protobuf__Timestamp *ts, bool set, const struct timespec *at);
void svc_publish(struct shim_task_service *s, const char *topic, const ProtobufCMessage *ev);
/* A runtime op failed: add context to its message. */
int svc_runtime_error(int r, struct error *err, const char *fmt, ...) _printf_(3, 4);

/* RPC handlers (ttrpc_method_fn). */
#define SHIM_RPC(name)                                                                       \
	int rpc_##name(void *userdata, struct ttrpc_call *call, const ProtobufCMessage *request, \
		       struct error *err)
SHIM_RPC(state);
SHIM_RPC(create);
SHIM_RPC(start);
SHIM_RPC(delete);
SHIM_RPC(pids);
SHIM_RPC(kill);
SHIM_RPC(wait);
SHIM_RPC(connect);
SHIM_RPC(shutdown);
SHIM_RPC(exec);
SHIM_RPC(resize_pty);
SHIM_RPC(close_io);
SHIM_RPC(pause);
SHIM_RPC(resume);
SHIM_RPC(checkpoint);
SHIM_RPC(update);
SHIM_RPC(stats);
