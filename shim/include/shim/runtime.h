/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The seam between the containerd-facing task service (shim/task/, which
 * speaks ttrpc, tracks task and exec state, makes Wait block and publishes
 * events) and the pod runtime behind it (shim/sandbox/, which owns the VM,
 * virtiofsd, the agent connection and the stdio relays).
 *
 * The task service calls the ops; the runtime reports exits and OOMs
 * through the callbacks it was given. All ids are already validated by the
 * task service (containerd identifiers); exec_id NULL or "" is the init
 * process. Every op returns 0 or -errno and fills err with a message that
 * the task service turns into a ttrpc status:
 *   -EINVAL    -> INVALID_ARGUMENT      -ENOENT  -> NOT_FOUND
 *   -EEXIST    -> ALREADY_EXISTS        -EBUSY / -EALREADY -> FAILED_PRECONDITION
 *   -ENOSYS / -EOPNOTSUPP -> UNIMPLEMENTED   -ETIMEDOUT -> DEADLINE_EXCEEDED
 *   anything else -> UNKNOWN (INTERNAL for -EIO)
 * Ops may block (they talk to a VM) but never for longer than the runtime's
 * configured timeouts; they are called from several threads at once.
 */
#ifndef SHIM_RUNTIME_H
#define SHIM_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/error.h"

/* containerd.types.Mount, as containerd sends it in CreateTaskRequest.rootfs. */
struct shim_mount {
	const char *type;
	const char *source;
	const char *target;
	const char *const *options; /* n_options entries */
	size_t n_options;
};

/* Paths of containerd's FIFOs or files; NULL or "" = not connected. */
struct shim_stdio {
	const char *stdin_path;
	const char *stdout_path;
	const char *stderr_path;
	bool terminal;
};

struct shim_create_request {
	const char *id;
	const char *bundle;		/* holds config.json; the runtime reads the spec itself */
	const struct shim_mount *rootfs; /* empty: the bundle's rootfs/ is already the root */
	size_t n_rootfs;
	struct shim_stdio stdio;
	const char *config_path;	/* runtimeoptions ConfigPath, or NULL */
};

struct shim_exec_request {
	const char *id;
	const char *exec_id;
	const char *process_json;	/* the OCI Process (ExecProcessRequest.spec's value) */
	size_t process_json_len;
	struct shim_stdio stdio;
};

/* cgroup v2 figures of one container (the task service encodes them as
 * io.containerd.cgroups.v2.Metrics). */
struct shim_stats {
	uint64_t cpu_usage_usec, cpu_user_usec, cpu_system_usec;
	uint64_t cpu_nr_periods, cpu_nr_throttled, cpu_throttled_usec;
	uint64_t memory_usage, memory_usage_limit, memory_max_usage;
	uint64_t memory_oom, memory_oom_kill;
	uint64_t pids_current, pids_limit;
	uint64_t io_rbytes, io_wbytes, io_rios, io_wios;
};

struct shim_runtime;

/* How the runtime reports to the task service; `task` is the opaque pointer
 * given to shim_runtime_ops.open. exited() is called exactly once per started
 * process, after its stdout/stderr were drained to containerd's FIFOs (so
 * /tasks/exit never overtakes the output), also when the VM, virtiofsd or the
 * agent died (status 255). */
struct shim_runtime_events {
	void (*exited)(void *task, const char *id, const char *exec_id, uint32_t pid,
		       uint32_t exit_status, const struct timespec *exited_at);
	void (*oom)(void *task, const char *id);
};

struct shim_runtime_ops {
	/* One runtime per shim process (= per pod); state under /run/nacelle/<sandbox_id>/. */
	int (*open)(const char *sandbox_id, const char *ns, const struct shim_runtime_events *ev,
		    void *task, struct shim_runtime **ret, struct error *err);
	/* Creates the container (the first create of a pod also boots the VM);
	 * the init process exists but has not exec'd; returns its pid as the
	 * guest sees it. */
	int (*create)(struct shim_runtime *rt, const struct shim_create_request *req,
		      uint32_t *ret_pid, struct error *err);
	int (*start)(struct shim_runtime *rt, const char *id, const char *exec_id,
		     uint32_t *ret_pid, struct error *err);
	/* Prepares an exec process; start(id, exec_id) runs it. */
	int (*exec)(struct shim_runtime *rt, const struct shim_exec_request *req, struct error *err);
	int (*kill)(struct shim_runtime *rt, const char *id, const char *exec_id, uint32_t signal,
		    bool all, struct error *err);
	int (*resize_pty)(struct shim_runtime *rt, const char *id, const char *exec_id,
			  uint32_t width, uint32_t height, struct error *err);
	int (*close_stdin)(struct shim_runtime *rt, const char *id, const char *exec_id,
			   struct error *err);
	int (*pause)(struct shim_runtime *rt, const char *id, struct error *err);
	int (*resume)(struct shim_runtime *rt, const char *id, struct error *err);
	/* resources_json: OCI LinuxResources (UpdateTaskRequest.resources' value). */
	int (*update)(struct shim_runtime *rt, const char *id, const char *resources_json,
		      size_t len, struct error *err);
	int (*stats)(struct shim_runtime *rt, const char *id, struct shim_stats *ret,
		     struct error *err);
	/* *ret_pids is malloc'ed; the caller frees it. */
	int (*pids)(struct shim_runtime *rt, const char *id, uint32_t **ret_pids, size_t *ret_n,
		    struct error *err);
	/* Removes an exited process (exec) or the container (init: also its
	 * rootfs mount in the shared directory; the last container of the pod
	 * shuts the VM down). Idempotent: deleting what is already gone is 0. */
	int (*remove)(struct shim_runtime *rt, const char *id, const char *exec_id,
		      struct error *err);
	/* Number of containers the runtime still holds (the shim exits at 0). */
	size_t (*containers)(struct shim_runtime *rt);
	/* Stops everything (VM, virtiofsd, relays), removes every file, mount and
	 * socket under /run/nacelle/<sandbox_id>/; safe on a half-built runtime. */
	void (*close)(struct shim_runtime *rt);
	/* `delete` subcommand: cleans up what a dead shim left for one container
	 * (mounts, state files; the VM too if nothing else uses it). */
	int (*cleanup_after_crash)(const char *sandbox_id, const char *id, const char *bundle,
				   struct error *err);
};

/* The real runtime: microVM per pod (shim/sandbox/). */
extern const struct shim_runtime_ops shim_sandbox_runtime_ops;

#endif
