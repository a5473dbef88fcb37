/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's state and what the RPC families (one file each) share.
 *
 * Locking: one mutex, agent.lock, protects the containers table, every
 * process's exit state and every reference count; agent.cond (CLOCK_MONOTONIC)
 * is broadcast whenever a process exits, its output is drained or a
 * container goes away. Long operations on one container (create, start,
 * exec, pause, update, remove) are serialized by its op_lock, taken before
 * agent.lock and never while holding it. Nothing blocks under agent.lock.
 *
 * Lifetimes: containers and processes are reference counted (under
 * agent.lock). The table holds one reference to each container, a container
 * one to each of its processes; a handler holds one while it uses an object
 * without the lock (a blocked WaitProcess), a stdio relay thread one to its
 * process until it ends.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "agent-proto/agent-proto.h"
#include "agent-proto/rpc.h"
#include "agent/container.h"
#include "agent/oci-spec.h"
#include "agent/service.h"

/* Containers in the sandbox at once. */
#define AGENT_MAX_CONTAINERS 1024
/* Exec'd processes per container, running or exited and not yet waited for. */
#define AGENT_MAX_EXECS 1024

enum agent_container_state {
	CONTAINER_CREATING, /* in the table (id taken), being set up */
	CONTAINER_CREATED,  /* init waits before exec (OCI create) */
	CONTAINER_RUNNING,
	CONTAINER_PAUSED,
	CONTAINER_STOPPED, /* init exited */
	CONTAINER_REMOVING,
	CONTAINER_STATE__COUNT,
};

const char *agent_container_state_to_string(enum agent_container_state s);

struct agent;
struct agent_stdio;
struct agent_oom;

struct agent_process {
	struct agent_process *next; /* in the container's execs list */
	unsigned int refs;
	char *exec_id; /* "" for the init process */
	struct container_proc proc;
	/* set by the reaper */
	bool exited;
	int wait_status;
	struct timespec exited_at;
	/* everything the process wrote reached the host (or was discarded) */
	bool output_done;
	struct agent_stdio *stdio; /* NULL without streams */
};

struct agent_container {
	struct agent_container *next;
	unsigned int refs;
	char *id;
	enum agent_container_state state;
	struct oci_spec *spec;
	char *rootfs;
	char *cgroup_path; /* absolute */
	struct agent_process *init; /* NULL while CREATING */
	struct agent_process *execs;
	size_t n_execs;
	pthread_mutex_t op_lock;
};

struct agent {
	struct agent_service_config cfg;
	char *stdio_unix_dir;
	struct agent_rpc_server *server;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct agent_container *containers;
	size_t n_containers;
	/* container processes being created: their pids are not in the table
	 * yet, so the reaper must not waitpid(-1) meanwhile */
	unsigned int spawning;
	bool sandbox_ready;
	/* stdio relay threads running (agent_service_free waits for them) */
	unsigned int relays;

	int event_fd;
	atomic_bool shutdown;
	struct agent_oom *oom;
};

/* ---- service.c: the table, references, the reaper ---- */

/* Find a container and take a reference; NOT_FOUND in st otherwise. */
grpc_status_code agent_container_get(struct agent *a, const char *id,
				     struct agent_container **ret, struct agent_rpc_status *st);
void agent_container_put(struct agent *a, struct agent_container *c);
/* Drop a reference with agent.lock held (frees the container at zero). */
void agent_container_unref_locked(struct agent *a, struct agent_container *c);
void agent_process_unref_locked(struct agent *a, struct agent_process *p);
/* Under agent.lock: "" = the init process. NULL if none. */
struct agent_process *agent_process_find_locked(struct agent_container *c, const char *exec_id);
/* Remove a container from the table (agent.lock held); drops the table's reference. */
void agent_container_unlink_locked(struct agent *a, struct agent_container *c);
struct agent_process *agent_process_new(const char *exec_id);

/* Around container_process_spawn/container_exec_spawn: see agent.spawning. */
void agent_spawn_begin(struct agent *a);
/* Ends the spawn; p (may be NULL) is registered by the caller before. */
void agent_spawn_end(struct agent *a);
/* Wake the main loop (it reaps and looks at the shutdown flag). */
void agent_kick(struct agent *a);
/* Process exit status as containerd wants it: code, or 128 + signal. */
uint32_t agent_exit_status(int wait_status);
/* Wait on agent.cond (lock held) until deadline_ms (CLOCK_MONOTONIC ms, < 0 = none). */
void agent_cond_wait_locked(struct agent *a, int64_t deadline_ms);
int64_t agent_now_ms(void);
/* An on-cancel callback that broadcasts agent.cond (arg = struct agent *). */
void agent_wake(void *arg);

/* Map an error to a status with context: "<what>: <message>". */
grpc_status_code agent_status_error(struct agent_rpc_status *st, const struct error *err);
/* An empty (or any) response of type desc in the call's memory. */
grpc_status_code agent_respond(struct agent_rpc_ctx *ctx, const ProtobufCMessageDescriptor *desc,
			       ProtobufCMessage **ret_resp, struct agent_rpc_status *st);

/* ---- stdio.c: the vsock stdio streams (agent-proto/README.md, "Stdio") ---- */

/*
 * Bind and listen on the ports of req (may be NULL: no streams) and make the
 * pipes; tag names the process in logs ("c1/init"). ret_child_fds gets the process's ends (stdin, stdout, stderr; -1 =
 * /dev/null; all -1 with a terminal), closed by the caller once the process
 * was created. *ret is NULL when there is nothing to relay.
 */
int agent_stdio_new(struct agent *a, const char *tag, const Nacelle__Agent__V1__Stdio *req,
		    bool terminal, struct agent_stdio **ret, int ret_child_fds[3],
		    struct error *err) _wur_;
/* Start relaying for p (its pty master, if any, is used). Takes a reference to p. */
int agent_stdio_start(struct agent *a, struct agent_stdio *s, struct agent_process *p,
		      struct error *err) _wur_;
/* The process was reaped: drain its output. Any thread, any lock. */
void agent_stdio_notify_exit(struct agent_stdio *s);
/* CloseStdin. */
void agent_stdio_close_stdin(struct agent_stdio *s);
/* Stop relaying at once (RemoveContainer, shutdown); the thread then ends. */
void agent_stdio_cancel(struct agent_stdio *s);
/* Free (the relay thread must have ended or never started). Accepts NULL. */
void agent_stdio_free(struct agent_stdio *s);

/* ---- oom.c ---- */

int agent_oom_new(struct agent_oom **ret, struct error *err) _wur_;
void agent_oom_free(struct agent_oom *o);
/* Watch a container's memory.events (best effort: no memory controller, no events). */
void agent_oom_watch(struct agent_oom *o, const char *id, const char *cgroup_path);
void agent_oom_unwatch(struct agent_oom *o, const char *id);
/* Wake blocked GetOOMEvent calls (shutdown). */
void agent_oom_stop(struct agent_oom *o);

/* ---- handlers, one file per family ---- */

#define AGENT_HANDLER(name)                                                                  \
	grpc_status_code name(void *userdata, struct agent_rpc_ctx *ctx,                      \
			      const ProtobufCMessage *req, ProtobufCMessage **ret_resp,       \
			      struct agent_rpc_status *st)

/* sandbox.c */
AGENT_HANDLER(agent_h_health);
AGENT_HANDLER(agent_h_version);
AGENT_HANDLER(agent_h_setup_sandbox);
AGENT_HANDLER(agent_h_shutdown);
/* container.c */
AGENT_HANDLER(agent_h_create_container);
AGENT_HANDLER(agent_h_start_container);
AGENT_HANDLER(agent_h_remove_container);
AGENT_HANDLER(agent_h_pause_container);
AGENT_HANDLER(agent_h_resume_container);
AGENT_HANDLER(agent_h_update_container);
AGENT_HANDLER(agent_h_stats_container);
AGENT_HANDLER(agent_h_list_processes);
/* process.c */
AGENT_HANDLER(agent_h_exec_process);
AGENT_HANDLER(agent_h_signal_process);
AGENT_HANDLER(agent_h_wait_process);
AGENT_HANDLER(agent_h_close_stdin);
AGENT_HANDLER(agent_h_resize_pty);
/* oom.c */
AGENT_HANDLER(agent_h_get_oom_event);
/* network.c */
AGENT_HANDLER(agent_h_update_interface);
AGENT_HANDLER(agent_h_update_routes);
AGENT_HANDLER(agent_h_add_arp_neighbors);

/* container.c, for service.c's shutdown: kill every process of c (SIGKILL). */
void agent_container_kill_all(struct agent *a, struct agent_container *c);
