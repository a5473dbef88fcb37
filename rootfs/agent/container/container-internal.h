/* SPDX-License-Identifier: Apache-2.0 */
/* Private helpers shared by the container library's files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/container.h"
#include "common/error.h"
#include "common/macros.h"

/* Close *fd if open and mark it closed (closep() leaves the number behind). */
static inline void close_reset(int *fd)
{
	closep(fd);
	*fd = -1;
}

/* ---- util.c ---- */

/* Write all of buf to fd (retrying EINTR and short writes). */
int write_all(int fd, const void *buf, size_t len) _wur_;
/* Open dirfd/name O_WRONLY (no O_CREAT, no symlinks) and write s. */
int write_file_at(int dirfd, const char *name, const char *s) _wur_;
/* Read up to size-1 bytes of dirfd/name into buf, NUL-terminated. Returns length. */
ssize_t read_file_at(int dirfd, const char *name, char *buf, size_t size) _wur_;
/* Read all of dirfd/name into a malloc'ed NUL-terminated buffer (at most max bytes). */
int read_file_alloc_at(int dirfd, const char *name, size_t max, char **ret) _wur_;
/* "max" -> CONTAINER_CGROUP_MAX, else a decimal number. */
int parse_u64_or_max(const char *s, uint64_t *ret) _wur_;
/* Milliseconds on CLOCK_MONOTONIC. */
int64_t now_ms(void);
/* openat2() with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS on root; -ENOSYS fallback refuses symlinks. */
int open_in_root(int rootfd, const char *path, int flags, mode_t mode) _wur_;
/*
 * Resolve path inside rootfd, creating missing directories (mode 0755) and,
 * when last_is_file, the last component as an empty regular file. Returns an
 * O_PATH fd of the result. Symlinks are resolved as if rootfd were "/".
 */
int mkdir_p_in_root(int rootfd, const char *path, bool last_is_file) _wur_;
/* "/proc/self/fd/N" for an fd (buf of at least 32 bytes). */
const char *fd_path(int fd, char *buf, size_t size);
/* true for a path component of only [A-Za-z0-9._-] that is not "." or "..". */
bool name_is_safe(const char *s);

/* ---- cgroup-resources.c, cgroup.c, cgroup-stats.c ---- */

#define CGROUP_FIXED_SETTINGS 10 /* files a resources object converts to, unified aside */
#define CGROUP_FILE_MAX (1024 * 1024) /* cgroup.procs, memory.stat, io.stat */

struct cgroup_setting {
	const char *file;  /* "memory.max"; its controller is the part before the '.' */
	const char *value; /* points into buf or into the resources object */
	char buf[64];
};

struct cgroup_settings {
	struct cgroup_setting *v;
	size_t n;
};

/* The files and values res asks for (valid while res lives). */
int cgroup_settings_from_resources(const struct oci_resources *res, struct cgroup_settings *ret,
				   struct error *err) _wur_;
void cgroup_settings_free(struct cgroup_settings *s);
/* A unified key we write verbatim: "<controller>.<file>", safe characters, not
 * one of the files that move or kill processes. */
bool cgroup_unified_key_ok(const char *key);
/* Absolute, no "."/".."/empty components, safe names. */
int cgroup_path_check(const char *path, struct error *err) _wur_;
/* Open a cgroup directory (O_RDONLY|O_DIRECTORY), checking it is cgroup2. */
int cgroup_open(const char *path, struct error *err) _wur_;
/* For each "key value" line of a flat-keyed file (cpu.stat, memory.events). */
void cgroup_parse_flat_keyed(char *buf, void (*fn)(const char *key, uint64_t v, void *d), void *d);

/* ---- sync.c: the parent/child sync socket (SOCK_SEQPACKET) ---- */

enum sync_type {
	SYNC_PID = 1,	/* intermediate -> parent: pid, pidfd attached */
	SYNC_GO,	/* parent -> child: maps written, cgroup joined */
	SYNC_PTY,	/* child -> parent: pty master attached */
	SYNC_READY,	/* child -> parent: waiting before exec (defer_exec) */
	SYNC_START,	/* parent -> child: exec now */
	SYNC_ERROR,	/* child -> parent: code + message */
	SYNC_EXEC,	/* child -> parent: setup done, exec'ing (EOF after it = success) */
};

struct sync_msg {
	uint32_t type;
	int32_t code;
	int32_t pid;
	char msg[ERROR_MSG_MAX];
};

/* Send msg with fd attached when fd >= 0. */
int sync_send(int sock, const struct sync_msg *msg, int fd) _wur_;
/* Receive one message (timeout_ms < 0: wait forever); *ret_fd gets an attached fd or -1.
 * Returns -EPIPE on EOF. */
int sync_recv(int sock, struct sync_msg *msg, int *ret_fd, int timeout_ms) _wur_;
/* Child side: report err and _exit(). */
_noreturn_ void sync_fail(int sock, const struct error *err);
int sync_send_type(int sock, enum sync_type type) _wur_;

/* ---- rootfs.c (child, before exec) ---- */

struct rootfs_ctx {
	const struct oci_spec *spec;
	const char *rootfs;
	const char *cgroup_path;
	bool userns;	 /* a new user namespace */
	bool new_cgroupns;
	bool no_pivot;
	bool terminal; /* create /dev/console for the pty (with a tmpfs /dev) */
};

int rootfs_setup(const struct rootfs_ctx *ctx, struct error *err) _wur_;
int sysctls_apply(const struct oci_spec *spec, int rootfd, struct error *err) _wur_;

/* ---- process.c (child, before exec) ---- */

struct process_ctx {
	const struct oci_process *proc;
	scmp_filter_ctx seccomp; /* or NULL */
	int sync_fd;
	const int *stdio; /* 3 fds, -1 = /dev/null; ignored with a terminal */
	bool defer_exec;
	bool userns;
};

/* Open /dev/null for missing stdio and dup the fds to 0, 1, 2 (before pivot_root). */
int process_stdio_setup(const int stdio[3], struct error *err) _wur_;
/*
 * Create the pty, send its master to the parent, make it the controlling
 * terminal; with bind_console, also bind it over an empty /dev/console.
 */
int process_terminal_setup(const struct oci_process *proc, int sync_fd, bool bind_console,
			   struct error *err) _wur_;
/* Everything from rlimits to execve(); returns only on failure. */
int process_finish_and_exec(const struct process_ctx *ctx, struct error *err) _wur_;
