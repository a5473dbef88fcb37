/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The early mounts of PID 1. The initramfs holds only the agent, so every
 * API filesystem is mounted here, once: a target that already holds a
 * filesystem of the expected type is left alone, because mounting most of
 * them again would not fail with EBUSY but stack a second instance on top.
 */
#include "init-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "common/log.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define MS_API (MS_NOSUID | MS_NODEV | MS_NOEXEC)

struct early_mount {
	const char *source;
	const char *target; /* absolute; its parent is mounted (or exists) before it */
	const char *fstype;
	unsigned long flags;
	const char *data;
	long magic; /* statfs f_type once mounted */
	mode_t mode; /* of the mount point when it has to be created */
};

/* Order matters: parents before children (/dev before /dev/pts, /sys before /sys/fs/cgroup). */
static const struct early_mount early_mounts[_AGENT_MOUNT_MAX] = {
	[AGENT_MOUNT_PROC] = { "proc", "/proc", "proc", MS_API, NULL, PROC_SUPER_MAGIC, 0555 },
	[AGENT_MOUNT_SYS] = { "sysfs", "/sys", "sysfs", MS_API, NULL, SYSFS_MAGIC, 0555 },
	/* devtmpfs's f_type is tmpfs's (it is shmem inside) */
	[AGENT_MOUNT_DEV] = { "devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", TMPFS_MAGIC, 0755 },
	/* gid 5 is Debian's "tty"; newinstance: the guest's own pty namespace */
	[AGENT_MOUNT_DEVPTS] = { "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
				 "newinstance,ptmxmode=0666,gid=5,mode=620", DEVPTS_SUPER_MAGIC, 0755 },
	[AGENT_MOUNT_DEVSHM] = { "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777",
				 TMPFS_MAGIC, 01777 },
	[AGENT_MOUNT_RUN] = { "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", TMPFS_MAGIC,
			      0755 },
	/* nsdelegate: containers in their own cgroup namespace cannot escape their subtree */
	[AGENT_MOUNT_CGROUP] = { "cgroup2", "/sys/fs/cgroup", "cgroup2", MS_API, "nsdelegate",
				 CGROUP2_SUPER_MAGIC, 0755 },
	[AGENT_MOUNT_TMP] = { "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", TMPFS_MAGIC,
			      01777 },
};

/* Convenience links every Linux userspace expects in /dev (systemd's list). */
static const struct {
	const char *target;
	const char *link;
} dev_links[] = {
	{ "/proc/self/fd", "/dev/fd" },
	{ "/proc/self/fd/0", "/dev/stdin" },
	{ "/proc/self/fd/1", "/dev/stdout" },
	{ "/proc/self/fd/2", "/dev/stderr" },
};

static int path_join(char *buf, size_t size, const char *root, const char *path)
{
	int n = snprintf(buf, size, "%s%s", root, path);

	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* 1 if `path` is a mount point holding a filesystem with f_type `magic`, else 0. */
static int is_mounted(const char *path, long magic)
{
	char parent[PATH_MAX];
	struct statfs sfs;
	struct stat st, pst;
	char *slash;

	if (statfs(path, &sfs) < 0 || (long)sfs.f_type != magic)
		return 0;
	if (stat(path, &st) < 0)
		return 0;
	if (strlen(path) >= sizeof(parent))
		return 0;
	strcpy(parent, path);
	slash = strrchr(parent, '/');
	if (!slash)
		return 0;
	if (slash == parent)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (stat(parent, &pst) < 0)
		return 0;
	/* A different device than the parent's: something is mounted here (or it is /). */
	return st.st_dev != pst.st_dev || st.st_ino == pst.st_ino;
}

static int mount_one(const char *root, const struct early_mount *m, struct error *err)
{
	char target[PATH_MAX];
	int r;

	r = path_join(target, sizeof(target), root, m->target);
	if (r < 0)
		return error_set(err, r, "mount %s%s: path too long", root, m->target);
	if (mkdir(target, m->mode) < 0 && errno != EEXIST) {
		r = -errno;
		log_warn_errno(r, "mkdir %s", target);
		return error_set(err, r, "mkdir %s: %s", target, strerror(-r));
	}
	if (is_mounted(target, m->magic)) {
		log_debug("%s: %s already mounted", target, m->fstype);
		return 0;
	}
	if (mount(m->source, target, m->fstype, m->flags, m->data) < 0) {
		r = -errno;
		if (r == -EBUSY) /* the same superblock is already there */
			return 0;
		log_warn_errno(r, "mount %s on %s (%s)", m->fstype, target, m->data ? m->data : "");
		return error_set(err, r, "mount %s on %s: %s", m->fstype, target, strerror(-r));
	}
	log_debug("mounted %s on %s", m->fstype, target);
	return 0;
}

int agent_init_cgroup_enable_controllers(const char *cgroup_dir, struct error *err)
{
	char path[PATH_MAX], ctl[PATH_MAX];
	_cleanup_free_ char *controllers = NULL;
	_cleanup_close_ int fd = -1;
	char *save = NULL, *c;
	int r, first = 0;

	if (path_join(path, sizeof(path), cgroup_dir, "/cgroup.controllers") < 0 ||
	    path_join(ctl, sizeof(ctl), cgroup_dir, "/cgroup.subtree_control") < 0)
		return error_set(err, -ENAMETOOLONG, "%s: path too long", cgroup_dir);
	r = agent_init_read_file(path, 64 * 1024, &controllers, NULL);
	if (r < 0) {
		log_warn_errno(r, "reading %s", path);
		return error_set(err, r, "reading %s: %s", path, strerror(-r));
	}
	fd = open(ctl, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		log_warn_errno(r, "opening %s", ctl);
		return error_set(err, r, "opening %s: %s", ctl, strerror(-r));
	}
	/* One write per controller: one the kernel refuses must not keep the others off. */
	for (c = strtok_r(controllers, " \t\n", &save); c; c = strtok_r(NULL, " \t\n", &save)) {
		char word[128];
		int n = snprintf(word, sizeof(word), "+%s", c);

		if (n < 0 || (size_t)n >= sizeof(word))
			continue;
		if (write(fd, word, (size_t)n) != n) {
			r = -errno;
			log_warn_errno(r, "enabling controller %s in %s", c, ctl);
			if (!first)
				first = error_set(err, r, "enabling controller %s in %s: %s", c, ctl,
						  strerror(-r));
			continue;
		}
		log_debug("cgroup controller %s enabled", c);
	}
	return first;
}

int agent_init_mounts_at(const char *root, unsigned int skip, struct error *err)
{
	char path[PATH_MAX];
	int first = 0, r;
	size_t i;

	if (!root || strcmp(root, "/") == 0)
		root = "";
	for (i = 0; i < _AGENT_MOUNT_MAX; i++) {
		if (skip & (1u << i))
			continue;
		r = mount_one(root, &early_mounts[i], first ? NULL : err);
		if (r < 0 && !first)
			first = r;
		if (r < 0 || i != AGENT_MOUNT_CGROUP)
			continue;
		if (path_join(path, sizeof(path), root, early_mounts[i].target) < 0)
			continue;
		r = agent_init_cgroup_enable_controllers(path, first ? NULL : err);
		if (r < 0 && !first)
			first = r;
	}
	if (!(skip & (1u << AGENT_MOUNT_DEV))) {
		for (i = 0; i < ARRAY_SIZE(dev_links); i++) {
			if (path_join(path, sizeof(path), root, dev_links[i].link) < 0)
				continue;
			if (symlink(dev_links[i].target, path) < 0 && errno != EEXIST)
				log_debug_errno(-errno, "symlink %s", path);
		}
	}
	return first;
}

int agent_init_mounts(struct error *err)
{
	return agent_init_mounts_at("", 0, err);
}
