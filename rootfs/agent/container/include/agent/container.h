/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Creating and managing container processes from a parsed OCI spec:
 * namespaces, the root filesystem (mounts, devices, pivot_root, masked and
 * read-only paths), process setup (user, capabilities, rlimits, seccomp),
 * terminals, and cgroup v2.
 *
 * How a process is created (crun's design, adapted to a multi-threaded
 * agent): the caller fork()s an intermediate process (glibc's fork keeps
 * malloc usable in the child even when other threads hold its locks); the
 * intermediate joins the namespaces that have a path and clone3()s the
 * container process with CLONE_PARENT (so it is the caller's child, not an
 * orphan), CLONE_NEW* for the new namespaces, CLONE_INTO_CGROUP and
 * CLONE_PIDFD, hands the pid and pidfd back over a SOCK_SEQPACKET sync
 * socket and exits. The caller writes the uid/gid maps and oom_score_adj
 * and releases the child, which sets up the rootfs and the process and
 * execs. Any failure in the child travels back over the sync socket as an
 * errno and a message ("exec: /bin/foo: No such file or directory"); the
 * child says when its setup is done, and the exec then closes the socket
 * (O_CLOEXEC), so a child that dies during setup is told apart from one
 * that exec'd. A terminal is created by the child inside the container's
 * devpts (its /dev/ptmx after pivot_root) and its master sent back with
 * SCM_RIGHTS.
 *
 * The caller owns and reaps the process (it is the caller's child). opts may
 * be NULL (stdio on /dev/null, no cgroup). err must not be NULL.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/oci-spec.h"
#include "common/error.h"
#include "common/macros.h"

/* ---- Limits and timeouts ---- */
#define CONTAINER_SYNC_TIMEOUT_MS 30000	   /* one step of the child's setup */
#define CONTAINER_FREEZE_TIMEOUT_MS 5000   /* cgroup.events "frozen 1" after cgroup.freeze */
#define CONTAINER_CGROUP_RMDIR_TIMEOUT_MS 5000 /* rmdir retries while the last tasks exit */
#define CONTAINER_CGROUP_MAX_DEPTH 16	   /* nested cgroups removed by container_cgroup_remove */
#define CONTAINER_STATS_MAX_IO_DEVICES 16  /* io.stat lines kept per device */
#define CONTAINER_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CONTAINER_CGROUP_ROOT "/sys/fs/cgroup"

struct container_spawn_opts {
	/*
	 * stdin, stdout, stderr of the new process; -1 means /dev/null. Ignored
	 * when the process asks for a terminal. The caller keeps ownership.
	 */
	int stdio[3];
	/*
	 * Absolute path of the (already created) cgroup v2 directory the process
	 * starts in, or NULL to stay in the caller's cgroup.
	 */
	const char *cgroup_path;
	/*
	 * Stop just before execve() (after every other step) until
	 * container_process_start(): OCI create/start. Init process only.
	 */
	bool defer_exec;
	/*
	 * container_exec_spawn() only: the container's linux.seccomp (exec'd
	 * processes get the same filter), or NULL.
	 */
	const struct oci_seccomp *seccomp;
	/*
	 * container_exec_spawn() only: namespaces the container was created
	 * with; joined from /proc/<pid>/ns (those equal to ours are skipped).
	 * Pass 0 to join every namespace type that differs from the caller's.
	 */
	int ns_flags;
	/* Force MS_MOVE + chroot instead of pivot_root (used automatically when
	 * the agent's root is the initramfs, where pivot_root fails). */
	bool no_pivot;
};

struct container_proc {
	pid_t pid;	/* in the caller's pid namespace; the caller reaps it */
	int pidfd;	/* -1 if the kernel has none */
	int pty_master; /* -1 unless process.terminal */
	int sync_fd;	/* -1 unless waiting for container_process_start() */
};

/* Sets every fd to -1 and pid to 0. */
void container_proc_init(struct container_proc *p);
/* Closes the fds (does not kill or reap the process). Accepts NULL. */
void container_proc_release(struct container_proc *p);

/*
 * Create the container's init process for spec (rootfs: the host path of the
 * root filesystem; spec->root.path is not used so the caller can resolve it
 * against the bundle). On success *ret holds the running (or, with
 * opts->defer_exec, waiting) process; on failure nothing is left behind.
 */
int container_process_spawn(const struct oci_spec *spec, const char *rootfs,
			    const struct container_spawn_opts *opts, struct container_proc *ret,
			    struct error *err) _wur_;

/* Release a process created with opts->defer_exec; returns once it exec'd. */
int container_process_start(struct container_proc *p, struct error *err) _wur_;

/*
 * Run proc inside the running container whose init is init_pid: join its
 * namespaces (pidfd setns where possible), its cgroup (cgroup_path, may be
 * NULL), then set up proc as for the init process (user, capabilities,
 * rlimits, no_new_privs, opts->seccomp) and exec.
 */
int container_exec_spawn(pid_t init_pid, const char *cgroup_path,
			 const struct oci_process *proc, const struct container_spawn_opts *opts,
			 struct container_proc *ret, struct error *err) _wur_;

/* Terminal size of a pty (master or slave side). */
int container_pty_resize(int fd, unsigned int width, unsigned int height) _wur_;

/* ---- cgroup v2 ---- */

/*
 * The absolute cgroup directory for linux.cgroupsPath: "/a/b" ->
 * CONTAINER_CGROUP_ROOT "/a/b"; systemd style "slice:prefix:name" ->
 * ".../<slice path>/prefix-name.scope"; NULL -> ".../nacelle/<id>".
 * Refuses "..", empty components and odd characters.
 */
int container_cgroup_path(const char *cgroups_path, const char *id, char **ret) _wur_;

/*
 * mkdir -p path (inside a cgroup2 mount), enable the controllers res needs in
 * each ancestor's cgroup.subtree_control, and write res (may be NULL).
 */
int container_cgroup_create(const char *path, const struct oci_resources *res,
			    struct error *err) _wur_;
/* Write res into an existing cgroup (UpdateContainer). */
int container_cgroup_update(const char *path, const struct oci_resources *res,
			    struct error *err) _wur_;
/* Move pid into the cgroup (cgroup.procs). */
int container_cgroup_enter(const char *path, pid_t pid, struct error *err) _wur_;
/* Freeze or thaw, waiting for cgroup.events to agree. */
int container_cgroup_freeze(const char *path, bool frozen, struct error *err) _wur_;
/* Send sig to every process in the cgroup and its descendants. */
int container_cgroup_kill_all(const char *path, int sig, struct error *err) _wur_;
/* rmdir the cgroup and its descendants, retrying while tasks exit. ENOENT is success. */
int container_cgroup_remove(const char *path, struct error *err) _wur_;

#define CONTAINER_CGROUP_MAX UINT64_MAX /* "max" in a limit file */

struct container_io_stat {
	unsigned int major, minor;
	uint64_t rbytes, wbytes, rios, wios, dbytes, dios;
};

/* Each group's has_* is false when its files are absent (controller not enabled). */
struct container_stats {
	bool has_cpu;
	struct {
		uint64_t usage_usec, user_usec, system_usec;
		uint64_t nr_periods, nr_throttled, throttled_usec;
	} cpu;
	bool has_memory;
	struct {
		uint64_t current, max, swap_current, swap_max;
		uint64_t anon, file, kernel_stack, slab, sock, shmem, file_mapped;
		uint64_t pgfault, pgmajfault, inactive_file, active_file;
		/* memory.events */
		uint64_t low, high, max_events, oom, oom_kill;
	} memory;
	bool has_pids;
	struct {
		uint64_t current, max;
	} pids;
	bool has_io;
	struct container_io_stat io[CONTAINER_STATS_MAX_IO_DEVICES];
	size_t n_io;
};

int container_cgroup_stats(const char *path, struct container_stats *ret, struct error *err) _wur_;

/*
 * OOM notification: an inotify fd on memory.events for the agent's poll loop
 * (readable when the file changes). container_oom_watch_check() drains it
 * and tells whether oom_kill grew since the last check.
 */
struct container_oom_watch {
	int fd;
	char *events_path;
	uint64_t oom_kill;
	bool gone; /* the cgroup was removed */
};

int container_cgroup_oom_watch_open(const char *path, struct container_oom_watch **ret,
				    struct error *err) _wur_;
/* *ret_oom: oom_kill increased; returns -ENOENT once the cgroup is gone. */
int container_oom_watch_check(struct container_oom_watch *w, bool *ret_oom) _wur_;
void container_oom_watch_free(struct container_oom_watch *w);
