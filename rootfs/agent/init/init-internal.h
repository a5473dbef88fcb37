/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the init library and its tests: the pieces behind the public
 * calls, with the paths and choices the public calls fix made explicit.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "agent/init.h"

/* Largest file the init code reads whole (modules.dep of a full kernel is ~0.5 MB). */
#define AGENT_INIT_FILE_MAX (16 * 1024 * 1024)

/* Read a whole file, NUL-terminated; fails with -EFBIG past `max` bytes. */
int agent_init_read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len) _wur_;

/* ---- mounts ---- */

/* One bit per early mount, in the order they are made; tests skip some. */
enum agent_mount_id {
	AGENT_MOUNT_PROC,
	AGENT_MOUNT_SYS,
	AGENT_MOUNT_DEV,
	AGENT_MOUNT_DEVPTS,
	AGENT_MOUNT_DEVSHM,
	AGENT_MOUNT_RUN,
	AGENT_MOUNT_CGROUP,
	AGENT_MOUNT_TMP,
	_AGENT_MOUNT_MAX,
};

/*
 * agent_init_mounts() under `root` ("" or "/" for the real one), skipping the
 * mounts whose bit (1u << AGENT_MOUNT_x) is set in `skip`. Tests run this in a
 * private mount namespace and skip devtmpfs and cgroup2: both are one
 * superblock shared with the host, and cgroup2 mount options change the
 * host's hierarchy.
 */
int agent_init_mounts_at(const char *root, unsigned int skip, struct error *err) _wur_;
/* Write "+c" for every controller in cgroup.controllers to cgroup.subtree_control of `cgroup_dir`. */
int agent_init_cgroup_enable_controllers(const char *cgroup_dir, struct error *err) _wur_;

/* ---- modules.dep ---- */

/* Limits on what modules.dep may hold: it is parsed by PID 1, so nothing is unbounded. */
#define AGENT_MODDEP_MAX_MODULES 65536 /* a full distribution kernel has ~6000 */
#define AGENT_MODDEP_MAX_DEPS 1024     /* dependencies of one module */
#define AGENT_MODULE_NAME_MAX 64       /* the kernel's MODULE_NAME_LEN is 56 with the NUL */
#define AGENT_MODULES_PLAN_MAX 4096    /* modules one request may load */
#define AGENT_MODULES_DEPTH_MAX 64     /* dependency chain length */

struct agent_moddep_entry {
	char name[AGENT_MODULE_NAME_MAX]; /* normalised: '-' -> '_', no directory or suffix */
	const char *path;                  /* as written in modules.dep: relative to its directory */
	size_t first_dep;                  /* index into agent_moddep.deps */
	size_t nr_deps;
};

struct agent_moddep {
	char *text; /* modules.dep, cut into NUL-terminated paths in place */
	struct agent_moddep_entry *entries; /* sorted by name */
	size_t nr_entries;
	const char **deps; /* dependency paths of all entries, back to back */
	size_t nr_deps;
	char *builtin_text;
	const char **builtin; /* names of built-in modules (modules.builtin), sorted */
	size_t nr_builtin;
};

/* Normalise a module name or path ("kernel/fs/fuse/virtio-fs.ko.xz" -> "virtio_fs"). */
int agent_module_name(const char *name_or_path, char ret_name[AGENT_MODULE_NAME_MAX]) _wur_;
/* Parse modules.dep text (taken over: freed by agent_moddep_free()). */
int agent_moddep_parse_take(struct agent_moddep *dep, char *text, size_t len, struct error *err) _wur_;
/* Parse a modules.builtin list into dep (text taken over). */
int agent_moddep_parse_builtin_take(struct agent_moddep *dep, char *text, size_t len,
				    struct error *err) _wur_;
/* Read DIR/modules.dep (required) and DIR/modules.builtin (optional). */
int agent_moddep_load(const char *moddir, struct agent_moddep *ret_dep, struct error *err) _wur_;
void agent_moddep_free(struct agent_moddep *dep);
const struct agent_moddep_entry *agent_moddep_find(const struct agent_moddep *dep, const char *name);
bool agent_moddep_is_builtin(const struct agent_moddep *dep, const char *name);

/*
 * The modules to load for `names`, dependencies first, each once; built-in
 * ones are left out. *ret_plan holds entry pointers (free() it). A name or a
 * dependency that is neither in modules.dep nor built in is -ENOENT, a
 * dependency cycle -ELOOP, a chain deeper than AGENT_MODULES_DEPTH_MAX -E2BIG.
 */
int agent_moddep_plan(const struct agent_moddep *dep, const char *const *names,
		      const struct agent_moddep_entry ***ret_plan, size_t *ret_n,
		      struct error *err) _wur_;
