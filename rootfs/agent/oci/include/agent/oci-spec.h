/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OCI runtime spec (config.json) as nacelle-agent uses it: parsing and
 * validation into plain C structs, and the parts of process setup that only
 * depend on the spec (seccomp, capabilities, rlimits). Creating the container
 * (namespaces, mounts, cgroups) lives in rootfs/agent/container/.
 *
 * Conventions for every struct below:
 *   - strings are NUL-terminated, owned by the struct, NULL when absent;
 *   - arrays are `T *x; size_t n_x;`, string arrays are also NULL-terminated
 *     (args and env go straight to execve());
 *   - optional numbers are int64_t holding OCI_UNSET when absent (OCI uses -1
 *     for "unlimited" in several places, so -1 cannot be the sentinel), or
 *     carry a `has_*` flag when they are unsigned 32-bit ids;
 *   - unknown JSON fields are ignored (the spec allows extensions); a known
 *     field with the wrong JSON type, out of range or over a limit below is
 *     an error whose message names the field ("process.args[3]: ...").
 *   - ignored on purpose: hooks (run by the shim side, not in the guest),
 *     process.apparmorProfile/selinuxLabel, linux.mountLabel,
 *     linux.personality, linux.intelRdt, resources.hugepageLimits/network.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <seccomp.h>

#include "common/error.h"
#include "common/macros.h"

/* ---- Limits (all enforced by the parsers) ---- */
#define OCI_SPEC_MAX_BYTES (1024 * 1024) /* whole config.json / process / resources document */
#define OCI_MAX_DEPTH 32		 /* JSON nesting */
#define OCI_MAX_STRING 65536		 /* one string (an arg, an env entry, a value) */
#define OCI_MAX_PATH 4096		 /* one path (PATH_MAX) */
#define OCI_MAX_ARGS 4096
#define OCI_MAX_ENV 4096
#define OCI_MAX_MOUNTS 1024
#define OCI_MAX_MOUNT_OPTIONS 64
#define OCI_MAX_NAMESPACES 16 /* duplicates are refused anyway, so at most OCI_NS__COUNT */
#define OCI_MAX_ID_MAPPINGS 340 /* the kernel's limit for /proc/PID/uid_map lines */
#define OCI_MAX_DEVICES 1024
#define OCI_MAX_DEVICE_RULES 1024
#define OCI_MAX_ANNOTATIONS 1024
#define OCI_MAX_SYSCTL 1024
#define OCI_MAX_UNIFIED 1024
#define OCI_MAX_PATH_LIST 1024 /* maskedPaths, readonlyPaths */
#define OCI_MAX_GIDS 65536     /* process.user.additionalGids (NGROUPS_MAX) */
#define OCI_MAX_RLIMITS 64
#define OCI_MAX_CAPS 64 /* names per capability set */
#define OCI_MAX_SYSCALL_RULES 4096
#define OCI_MAX_SYSCALL_NAMES 1024 /* names per rule */
#define OCI_MAX_SYSCALL_ARGS 6
#define OCI_MAX_ARCHES 16
#define OCI_ID_MAX 76 /* container and exec ids: containerd's identifier limit, as AGENT_MAX_ID */

/* An optional int64 that is absent. */
#define OCI_UNSET INT64_MIN

struct oci_kv {
	char *key;
	char *value;
};

/* ---- process ---- */

struct oci_user {
	uint32_t uid;
	uint32_t gid;
	bool has_umask;
	uint32_t umask;
	gid_t *additional_gids;
	size_t n_additional_gids;
};

/*
 * Capability sets as bit masks (bit N = capability number N, as in
 * /proc/PID/status). Names the running libcap-ng does not know are skipped
 * with a debug log, as runc does: a newer engine may list capabilities an
 * older guest kernel lacks. Names not starting with "CAP_" are errors.
 */
struct oci_caps {
	bool present; /* process.capabilities was given; when false leave caps alone */
	uint64_t bounding;
	uint64_t effective;
	uint64_t permitted;
	uint64_t inheritable;
	uint64_t ambient;
};

struct oci_rlimit {
	int resource; /* RLIMIT_*; each at most once */
	uint64_t hard;
	uint64_t soft;
};

struct oci_process {
	bool terminal;
	bool has_console_size;
	uint32_t console_height;
	uint32_t console_width;
	struct oci_user user;
	char **args; /* NULL-terminated; n_args >= 1 */
	size_t n_args;
	char **env; /* NULL-terminated, each "KEY=value" with a non-empty KEY */
	size_t n_env;
	char *cwd; /* absolute; "/" when absent */
	struct oci_caps caps;
	struct oci_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	int64_t oom_score_adj; /* OCI_UNSET or -1000..1000 */
};

/* ---- mounts ---- */

/* Options that are neither MS_* flags nor filesystem data. */
enum {
	OCI_MOUNT_TMPCOPYUP = 1u << 0, /* crun's "tmpcopyup": copy the image's dir into the tmpfs */
};

struct oci_mount {
	char *destination; /* absolute, normalized ("/a/./b/../c" -> "/a/c") */
	char *type;	   /* NULL when absent (bind mounts) */
	char *source;	   /* NULL when absent */
	char **options;	   /* as given, NULL-terminated */
	size_t n_options;
	/*
	 * The options translated as crun/runc do. For a bind mount (MS_BIND in
	 * flags) the kernel ignores the other flags on the first mount(2): do
	 * mount(source, dest, NULL, MS_BIND | (flags & MS_REC)) and then, when
	 * flags has more than MS_BIND|MS_REC, a remount with
	 * MS_REMOUNT | MS_BIND | (flags & ~MS_REC).
	 */
	unsigned long flags;	   /* MS_RDONLY, MS_NOSUID, MS_BIND, MS_REC, MS_REMOUNT, ... */
	unsigned long propagation; /* 0 or MS_{SHARED,PRIVATE,SLAVE,UNBINDABLE} [| MS_REC] */
	char *data;		   /* the other options joined by ',' ("mode=755,size=65536k"), or NULL */
	/* recursive options ("rro", "rnosuid", ...) for mount_setattr(AT_RECURSIVE): MOUNT_ATTR_* */
	uint64_t rec_attr_set;
	uint64_t rec_attr_clr;
	unsigned int extra; /* OCI_MOUNT_* */
};

/* ---- linux ---- */

enum oci_ns_type {
	OCI_NS_PID,
	OCI_NS_NETWORK,
	OCI_NS_MOUNT,
	OCI_NS_IPC,
	OCI_NS_UTS,
	OCI_NS_USER,
	OCI_NS_CGROUP,
	OCI_NS_TIME,
	OCI_NS__COUNT,
};

struct oci_namespace {
	enum oci_ns_type type; /* each type at most once */
	char *path;	       /* join this one (setns); NULL: create a new one */
};

struct oci_id_mapping {
	uint32_t container_id;
	uint32_t host_id;
	uint32_t size; /* > 0 */
};

struct oci_device {
	char *path; /* absolute, normalized */
	char type;  /* 'c', 'b', 'u' (unbuffered char) or 'p' (fifo) */
	int64_t major; /* required for c/b/u; OCI_UNSET for p */
	int64_t minor;
	bool has_file_mode;
	uint32_t file_mode; /* permission bits only */
	bool has_uid;
	uint32_t uid;
	bool has_gid;
	uint32_t gid;
};

/* linux.resources.devices: cgroup device access rules. */
struct oci_device_rule {
	bool allow;
	char type;     /* 'a', 'c' or 'b'; 'a' when absent */
	int64_t major; /* OCI_UNSET = wildcard */
	int64_t minor;
	char access[4]; /* subset of "rwm", "rwm" when absent */
};

/* Every number is OCI_UNSET when absent. */
struct oci_resources {
	struct {
		int64_t limit; /* bytes, -1 = unlimited */
		int64_t reservation;
		int64_t swap; /* memory+swap as in cgroup v1 (runc converts for v2) */
		int64_t swappiness;
		bool disable_oom_killer;
	} memory;
	struct {
		int64_t shares; /* cgroup v1 units (2..262144); convert to cpu.weight for v2 */
		int64_t quota;	/* us, -1 = unlimited */
		int64_t period; /* us */
		char *cpus;	/* "0-3,5" or NULL */
		char *mems;
	} cpu;
	struct {
		int64_t limit; /* <= 0 = unlimited */
	} pids;
	struct {
		int64_t weight; /* 10..1000 */
	} block_io;
	struct oci_device_rule *devices;
	size_t n_devices;
	struct oci_kv *unified; /* cgroup v2 file -> value, keys without '/' */
	size_t n_unified;
};

enum oci_seccomp_action {
	OCI_SECCOMP_ACT_KILL, /* SCMP_ACT_KILL = KILL_THREAD */
	OCI_SECCOMP_ACT_KILL_PROCESS,
	OCI_SECCOMP_ACT_KILL_THREAD,
	OCI_SECCOMP_ACT_TRAP,
	OCI_SECCOMP_ACT_ERRNO,
	OCI_SECCOMP_ACT_TRACE,
	OCI_SECCOMP_ACT_ALLOW,
	OCI_SECCOMP_ACT_LOG,
	OCI_SECCOMP_ACT__COUNT,
};

enum oci_seccomp_op {
	OCI_SECCOMP_OP_NE,
	OCI_SECCOMP_OP_LT,
	OCI_SECCOMP_OP_LE,
	OCI_SECCOMP_OP_EQ,
	OCI_SECCOMP_OP_GE,
	OCI_SECCOMP_OP_GT,
	OCI_SECCOMP_OP_MASKED_EQ,
	OCI_SECCOMP_OP__COUNT,
};

struct oci_seccomp_arg {
	uint32_t index; /* 0..5 */
	uint64_t value;
	uint64_t value_two;
	enum oci_seccomp_op op;
};

struct oci_seccomp_syscall {
	char **names; /* NULL-terminated */
	size_t n_names;
	enum oci_seccomp_action action;
	int64_t errno_ret; /* OCI_UNSET: EPERM for ACT_ERRNO, 0 for ACT_TRACE */
	struct oci_seccomp_arg *args;
	size_t n_args;
};

struct oci_seccomp {
	enum oci_seccomp_action default_action;
	int64_t default_errno_ret; /* OCI_UNSET: EPERM */
	char **architectures;	   /* "SCMP_ARCH_X86_64", ... (validated), NULL-terminated */
	size_t n_architectures;
	char **flags; /* "SECCOMP_FILTER_FLAG_*": parsed, ignored (debug log) */
	size_t n_flags;
	struct oci_seccomp_syscall *syscalls;
	size_t n_syscalls;
};

struct oci_linux {
	struct oci_namespace *namespaces;
	size_t n_namespaces;
	struct oci_id_mapping *uid_mappings;
	size_t n_uid_mappings;
	struct oci_id_mapping *gid_mappings;
	size_t n_gid_mappings;
	struct oci_device *devices;
	size_t n_devices;
	char *cgroups_path; /* NULL when absent */
	struct oci_resources *resources; /* NULL when absent */
	struct oci_kv *sysctl;
	size_t n_sysctl;
	struct oci_seccomp *seccomp; /* NULL when absent */
	char **masked_paths;	     /* NULL-terminated */
	size_t n_masked_paths;
	char **readonly_paths; /* NULL-terminated */
	size_t n_readonly_paths;
	/* rootfsPropagation as MS_* (e.g. MS_SLAVE | MS_REC); 0 when absent */
	unsigned long rootfs_propagation;
};

struct oci_spec {
	char *oci_version; /* required, "1.x.y" */
	struct oci_process *process; /* NULL when absent (required only to start) */
	struct {
		char *path; /* NULL when absent */
		bool readonly;
	} root;
	char *hostname;
	char *domainname;
	struct oci_mount *mounts;
	size_t n_mounts;
	struct oci_kv *annotations;
	size_t n_annotations;
	/* the "linux" object; `linux` itself is a GNU C predefined macro */
	bool has_linux;
	struct oci_linux linux_;
};

/* ---- parsing (json need not be NUL-terminated; len <= OCI_SPEC_MAX_BYTES) ---- */

int oci_spec_parse(const char *json, size_t len, struct oci_spec **ret, struct error *err) _wur_;
void oci_spec_free(struct oci_spec *s);

/* A bare OCI "process" object (agent ExecProcess). */
int oci_process_parse(const char *json, size_t len, struct oci_process **ret,
		      struct error *err) _wur_;
void oci_process_free(struct oci_process *p);

/* A bare LinuxResources object (agent UpdateContainer). */
int oci_resources_parse(const char *json, size_t len, struct oci_resources **ret,
			struct error *err) _wur_;
void oci_resources_free(struct oci_resources *r);

/* ---- helpers ---- */

/* Container and exec ids: 1..64 chars of [A-Za-z0-9][A-Za-z0-9_.-]*, no "..". */
bool oci_id_valid(const char *id);

/*
 * Lexically normalize an absolute path: collapse "//", drop ".", resolve
 * "..". -EINVAL if relative or if ".." would climb above "/".
 */
int oci_path_normalize(const char *path, char **ret) _wur_;

/*
 * root + path with path normalized as if root were "/" (".." stops at root,
 * a relative path is taken from root). Lexical only: it does not resolve
 * symlinks, so the caller that opens the result must still refuse to follow
 * symlinks out of root (openat2 RESOLVE_IN_ROOT, or chdir+chroot first).
 */
int oci_path_in_root(const char *root, const char *path, char **ret) _wur_;

/* "SIGTERM", "TERM", "15", "RTMIN+2" -> signal number, or -EINVAL. */
int oci_signal_parse(const char *s) _wur_;

const char *oci_ns_type_to_string(enum oci_ns_type t);
/* CLONE_NEWPID, ... for t */
int oci_ns_type_clone_flag(enum oci_ns_type t);
/* "RLIMIT_NOFILE" for RLIMIT_NOFILE, NULL if unknown */
const char *oci_rlimit_to_string(int resource);
const char *oci_seccomp_action_to_string(enum oci_seccomp_action a);
const char *oci_seccomp_op_to_string(enum oci_seccomp_op op);

/* ---- process setup (call in the container's child, see oci-caps.c for the order) ---- */

/*
 * Build a libseccomp filter from s. Unknown syscall names are skipped (they
 * may not exist on this architecture, as runc does); the caller owns *ret
 * (seccomp_release()).
 */
int oci_seccomp_build(const struct oci_seccomp *s, scmp_filter_ctx *ret, struct error *err) _wur_;
/* Load it into the calling thread. Needs no_new_privs or CAP_SYS_ADMIN. */
int oci_seccomp_load(scmp_filter_ctx ctx, struct error *err) _wur_;

/*
 * Set the calling process's capabilities to exactly c (bounding, then
 * effective/permitted/inheritable, then ambient). Call after setuid(): a
 * uid change clears the permitted set unless PR_SET_KEEPCAPS was set before
 * it (see oci-caps.c). A no-op when !c->present.
 */
int oci_caps_apply(const struct oci_caps *c, struct error *err) _wur_;

/* setrlimit() each; the message names the RLIMIT_*. */
int oci_rlimits_apply(const struct oci_rlimit *r, size_t n, struct error *err) _wur_;
