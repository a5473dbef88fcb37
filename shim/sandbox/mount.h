/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host mounts of a pod: the shared directory virtiofsd exports, container
 * root filesystems (containerd's mounts: overlay, bind, anything mount(2)
 * takes) and bind-mounted volumes inside it, and tearing all of it down.
 *
 * Propagation: virtiofsd is started before any container exists, and with
 * -o sandbox=namespace it unshares its mount namespace (making every mount
 * a slave) and pivots into the shared directory. A mount made later under
 * the shared directory in the runtime's namespace reaches virtiofsd's copy
 * only if the shared directory is a *shared* mount (a peer group its copy
 * is a slave of). mount_make_shared_dir() makes it one: a bind mount of
 * itself, first private (cut from the host's peer groups, so container
 * mounts do not propagate into every namespace of the host) then shared.
 * With -o sandbox=chroot virtiofsd stays in our namespace and sees every
 * mount anyway.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/macros.h"
#include "shim/runtime.h"

/* Largest option string mount(2) takes (one page, NUL included). */
#define MOUNT_MAX_DATA 4095
/* Passes over /proc/self/mountinfo when unmounting (stacked mounts). */
#define MOUNT_MAX_UNMOUNT_PASSES 8

/* dir (existing) becomes a mount point of its own with shared propagation. */
int mount_make_shared_dir(const char *dir, struct error *err) _wur_;

/*
 * containerd's mount options split into mount(2) flags, propagation flags
 * and the rest as a comma-separated data string (*ret_data malloc'd, ""
 * if none). -EOPNOTSUPP for options the runtime cannot honour ("loop").
 */
int mount_parse_options(const char *const *options, size_t n, unsigned long *ret_flags,
			unsigned long *ret_propagation, char **ret_data, struct error *err) _wur_;

/* Mount containerd's rootfs mounts at target (an existing directory), in
 * order, as containerd's mount.All does. On failure nothing stays mounted. */
int mount_rootfs(const struct shim_mount *mounts, size_t n, const char *target,
		 struct error *err) _wur_;

/* Bind source (a directory or any other file) at target, creating target
 * (a directory, or an empty file) first; recursive for rbind; read-only
 * (recursively where the kernel can) if asked. */
int mount_bind(const char *source, const char *target, bool recursive, bool readonly,
	       struct error *err) _wur_;

/* Unmount everything at or below path, deepest first (lazily as a last
 * resort). 0 when nothing is left mounted there. */
int mount_unmount_all(const char *path, struct error *err) _wur_;
/* How many mounts are at or below path (-errno if mountinfo is unreadable). */
int mount_count_under(const char *path);
/* Is path itself a mount point, and is it shared (in a peer group)? */
int mount_info(const char *path, bool *ret_is_mount, bool *ret_shared) _wur_;
