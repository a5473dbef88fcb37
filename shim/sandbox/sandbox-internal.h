/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pod runtime's state, shared by sandbox.c (the VM, virtiofsd, the
 * agent connection, the watch on all three, teardown) and container.c
 * (containers and processes, the runtime ops).
 *
 * Ownership: the runtime owns its containers; a container owns its init and
 * exec processes; a process is reference-counted because its wait thread
 * may outlive the container's removal (a remove never waits for a thread
 * that may be calling back into the task service). Every thread the runtime
 * starts is in rt->threads and joined by close(). The agent connection is
 * reference-counted (agent.h). Host state lives under paths.dir and is
 * removed by sandbox_teardown() on every path.
 *
 * Locking: rt->lock guards everything below marked so, never held across an
 * RPC, a wait, or a callback into the task service. rt->boot_lock
 * serializes booting and tearing down the VM (which take seconds).
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <yajl/yajl_tree.h>

#include "agent.h"
#include "config.h"
#include "pod-paths.h"
#include "shim/runtime.h"
#include "child.h"
#include "stdio-relay.h"

/* Timeouts of the agent calls (the blocking ones have none). */
#define SANDBOX_RPC_TIMEOUT_MS 30000
#define SANDBOX_CREATE_TIMEOUT_MS 60000
/* RemoveContainer: the agent's own wait plus a margin. */
#define SANDBOX_REMOVE_TIMEOUT_MS (AGENT_REMOVE_TIMEOUT_MS + 5000)
/* Connecting one stdio stream after the RPC that opened it returned. */
#define SANDBOX_STDIO_DIAL_TIMEOUT_MS 10000
/* How long an exit report waits for the last output (a daemonized child
 * may hold the pipe open for ever). */
#define SANDBOX_STDIO_DRAIN_TIMEOUT_MS 5000
/* CloseIO: forwarding what stdin holds. */
#define SANDBOX_CLOSE_STDIN_TIMEOUT_MS 5000
/* Start-up of the helpers. */
#define SANDBOX_VIRTIOFSD_START_MS 5000
#define SANDBOX_VMM_START_MS 5000
#define SANDBOX_VMM_API_TIMEOUT_MS 10000
/* Teardown: the agent's Shutdown, the guest powering off, then the API,
 * then signals. */
#define SANDBOX_SHUTDOWN_RPC_MS 3000
#define SANDBOX_POWEROFF_WAIT_MS 5000
#define SANDBOX_VMM_STOP_GRACE_MS 2000
#define SANDBOX_VIRTIOFSD_EXIT_WAIT_MS 2000
/* The exit status of every process when the pod's VM dies. */
#define SANDBOX_DEAD_EXIT_STATUS 255
/* Log lines of the helpers shown when the VM fails to start. */
#define SANDBOX_LOG_TAIL_BYTES 2048

enum sandbox_state {
	SANDBOX_NONE,	  /* no VM (yet, or after teardown) */
	SANDBOX_BOOTING,
	SANDBOX_RUNNING,
	SANDBOX_DEAD,	  /* the VMM, virtiofsd or the agent connection died */
	SANDBOX_STOPPING, /* teardown in progress */
};
const char *sandbox_state_to_string(enum sandbox_state s);

enum process_state {
	PROCESS_PREPARED, /* exec: recorded, not started */
	PROCESS_CREATED,  /* init: created in the guest, not started */
	PROCESS_STARTING,
	PROCESS_RUNNING,
	PROCESS_EXITED,
};
const char *process_state_to_string(enum process_state s);

struct process {
	atomic_uint refs;
	struct shim_runtime *rt;
	char *container_id;
	char *exec_id;			/* "" for the init process */
	char *process_json;		/* exec: the OCI process */
	size_t process_json_len;
	char *stdin_path, *stdout_path, *stderr_path;
	bool terminal;
	struct stdio_relay *relay;	/* once its stdio is open */
	/* under rt->lock */
	enum process_state state;
	uint32_t pid;
	uint32_t ports[STDIO__MAX];
	bool wait_started;
	bool report_exit;		/* false: its start failed, nobody waits */
	bool exit_reported;
	uint32_t exit_status;
	struct timespec exited_at;
	struct process *next;		/* in the container's exec list */
};

struct container {
	char *id;
	char *bundle;
	char *host_dir;			/* <shared>/<id> */
	bool is_sandbox;		/* the pod's sandbox (first) container */
	/* under rt->lock */
	bool creating;			/* create() in progress */
	bool removing;
	struct process *init;		/* NULL while creating */
	struct process *execs;
	struct container *next;
};

struct rt_thread {
	pthread_t tid;
	struct shim_runtime *rt;
	void *(*fn)(void *);
	void *arg;
	bool done;			/* under rt->lock */
	struct rt_thread *next;
};

struct shim_runtime {
	char *sandbox_id;
	char *ns;
	struct shim_runtime_events ev;
	void *task;
	struct sandbox_paths paths;
	struct sandbox_config cfg;	/* loaded at boot (the first create) */
	bool cfg_loaded;

	pthread_mutex_t boot_lock;
	pthread_mutex_t lock;
	/* under lock */
	enum sandbox_state state;
	char dead_reason[256];
	bool closing;
	struct sandbox_child vmm;	/* its fields: under lock once the monitor runs */
	struct sandbox_child fs;
	struct agent_conn *agent;	/* RUNNING only */
	struct container *containers;
	uint32_t next_port;
	uint32_t sandbox_pid;		/* guest pid of the sandbox container's init */
	struct rt_thread *threads;

	/* the monitor thread (sandbox.c), started and stopped under boot_lock */
	int monitor_wake;
	pthread_t monitor;
	bool monitor_started;
};

/* ---- sandbox.c ---- */

/* Boot the pod's VM (state NONE -> RUNNING), with boot_lock held. The
 * configuration: config_path, then the sandbox container's annotations. */
int sandbox_boot(struct shim_runtime *rt, yajl_val spec, const char *config_path,
		 struct error *err) _wur_;
/* Stop everything and remove the pod's directory (-> NONE), with boot_lock
 * held. Safe in every state and on a half-built sandbox. */
void sandbox_teardown(struct shim_runtime *rt);
/* A reference to the agent connection when the VM runs, else an error
 * saying why. Takes rt->lock. */
int sandbox_agent(struct shim_runtime *rt, struct agent_conn **ret, struct error *err) _wur_;
/* The same with rt->lock held. */
int sandbox_agent_locked(struct shim_runtime *rt, struct agent_conn **ret, struct error *err) _wur_;
/* The VM, virtiofsd or the agent connection died: mark the pod dead once,
 * kill what is left of the VM, report every process exited (255). */
void sandbox_mark_dead(struct shim_runtime *rt, const char *why);
/* Start a thread the runtime joins at close(); all signals blocked in it. */
int rt_thread_spawn(struct shim_runtime *rt, void *(*fn)(void *), void *arg) _wur_;

/* ---- container.c ---- */

/* After sandbox_mark_dead(): report processes nobody waits for (created,
 * not started) as exited, on a thread of their own. */
void containers_sandbox_died(struct shim_runtime *rt);
/* Free every container (close()): their processes lose their reference. */
void containers_free_all(struct shim_runtime *rt);
void process_unref(struct process *p);

/* ops implemented in sandbox.c */
int sandbox_open(const char *sandbox_id, const char *ns, const struct shim_runtime_events *ev,
		 void *task, struct shim_runtime **ret, struct error *err);
void sandbox_close(struct shim_runtime *rt);
int sandbox_cleanup_after_crash(const char *sandbox_id, const char *id, const char *bundle,
				struct error *err);
