/* SPDX-License-Identifier: Apache-2.0 */
#include "mount.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "util.h"

/* ---- options ---- */

struct mount_flag {
	const char *name;
	bool clear;
	unsigned long flag;
};

/* containerd's table (mount/mount_linux.go). */
static const struct mount_flag mount_flags[] = {
	{ "async", true, MS_SYNCHRONOUS },   { "atime", true, MS_NOATIME },
	{ "bind", false, MS_BIND },	     { "defaults", false, 0 },
	{ "dev", true, MS_NODEV },	     { "diratime", true, MS_NODIRATIME },
	{ "dirsync", false, MS_DIRSYNC },    { "exec", true, MS_NOEXEC },
	{ "mand", false, MS_MANDLOCK },	     { "noatime", false, MS_NOATIME },
	{ "nodev", false, MS_NODEV },	     { "nodiratime", false, MS_NODIRATIME },
	{ "noexec", false, MS_NOEXEC },	     { "nomand", true, MS_MANDLOCK },
	{ "norelatime", true, MS_RELATIME }, { "nostrictatime", true, MS_STRICTATIME },
	{ "nosuid", false, MS_NOSUID },	     { "rbind", false, MS_BIND | MS_REC },
	{ "relatime", false, MS_RELATIME },  { "remount", false, MS_REMOUNT },
	{ "ro", false, MS_RDONLY },	     { "rw", true, MS_RDONLY },
	{ "strictatime", false, MS_STRICTATIME }, { "suid", true, MS_NOSUID },
	{ "sync", false, MS_SYNCHRONOUS },
};

static const struct mount_flag propagation_flags[] = {
	{ "private", false, MS_PRIVATE },     { "rprivate", false, MS_PRIVATE | MS_REC },
	{ "shared", false, MS_SHARED },	      { "rshared", false, MS_SHARED | MS_REC },
	{ "slave", false, MS_SLAVE },	      { "rslave", false, MS_SLAVE | MS_REC },
	{ "unbindable", false, MS_UNBINDABLE }, { "runbindable", false, MS_UNBINDABLE | MS_REC },
};

int mount_parse_options(const char *const *options, size_t n, unsigned long *ret_flags,
			unsigned long *ret_propagation, char **ret_data, struct error *err)
{
	unsigned long flags = 0, prop = 0;
	size_t len = 0, off = 0;
	char *data;

	for (size_t i = 0; i < n; i++)
		len += strlen(options[i]) + 1;
	data = malloc(len + 1);
	if (!data)
		return error_set(err, -ENOMEM, "out of memory");
	data[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *o = options[i];
		bool done = false;

		if (!*o)
			continue;
		if (strcmp(o, "loop") == 0) {
			free(data);
			return error_set(err, -EOPNOTSUPP, "mount option \"loop\" is not supported");
		}
		for (size_t f = 0; f < ARRAY_SIZE(mount_flags) && !done; f++)
			if (strcmp(o, mount_flags[f].name) == 0) {
				if (mount_flags[f].clear)
					flags &= ~mount_flags[f].flag;
				else
					flags |= mount_flags[f].flag;
				done = true;
			}
		for (size_t f = 0; f < ARRAY_SIZE(propagation_flags) && !done; f++)
			if (strcmp(o, propagation_flags[f].name) == 0) {
				prop = propagation_flags[f].flag;
				done = true;
			}
		if (done)
			continue;
		off += (size_t)sprintf(data + off, "%s%s", off ? "," : "", o);
	}
	*ret_flags = flags;
	*ret_propagation = prop;
	*ret_data = data;
	return 0;
}

/* ---- overlay's long lowerdir lists ---- */

/*
 * mount(2) takes one page of options; an image with many layers has a
 * longer lowerdir list. As containerd does, name the layers relative to
 * their common parent directory and mount from there. The working
 * directory is per process, so the mount runs on a thread that first
 * unshares its fs struct (CLONE_FS), as virtiofsd does.
 */
struct mount_at {
	const char *dir, *source, *target, *type, *data;
	unsigned long flags;
	int result;
};

static void *mount_at_thread(void *arg)
{
	struct mount_at *m = arg;

	if (unshare(CLONE_FS) < 0 || chdir(m->dir) < 0 ||
	    mount(m->source, m->target, m->type, m->flags, m->data) < 0)
		m->result = -errno;
	return NULL;
}

static int mount_in_dir(const char *dir, const char *source, const char *target, const char *type,
			unsigned long flags, const char *data)
{
	struct mount_at m = { dir, source, target, type, data, flags, 0 };
	pthread_t t;
	int r = pthread_create(&t, NULL, mount_at_thread, &m);

	if (r)
		return -r;
	pthread_join(t, NULL);
	return m.result;
}

/* The longest directory prefix (ending in '/') of every ':'-separated path. */
static size_t common_dir(const char *list)
{
	const char *first = list, *first_end = strchrnul(list, ':');
	size_t common = (size_t)(first_end - first);

	for (const char *p = list; *p;) {
		const char *end = strchrnul(p, ':');
		size_t i = 0;

		while (i < common && p + i < end && p[i] == first[i])
			i++;
		common = i;
		p = *end ? end + 1 : end;
	}
	while (common > 0 && first[common - 1] != '/')
		common--;
	return common;
}

/* data with lowerdir's entries relative to *ret_dir; -E2BIG if that does not help. */
static int compact_lowerdir(const char *data, char **ret_data, char **ret_dir)
{
	const char *lower = strstr(data, "lowerdir=");
	const char *list, *list_end;
	size_t common;
	char *out, *dir, *o;

	if (!lower || (lower != data && lower[-1] != ','))
		return -E2BIG;
	list = lower + strlen("lowerdir=");
	list_end = strchrnul(list, ',');
	{
		_cleanup_free_ char *l = strndup(list, (size_t)(list_end - list));

		if (!l)
			return -ENOMEM;
		common = common_dir(l);
	}
	if (common <= 1 || list[0] != '/')
		return -E2BIG;
	dir = strndup(list, common);
	out = malloc(strlen(data) + 1);
	if (!dir || !out) {
		free(dir);
		free(out);
		return -ENOMEM;
	}
	o = out;
	memcpy(o, data, (size_t)(list - data));
	o += list - data;
	for (const char *p = list; p < list_end;) {
		const char *end = memchr(p, ':', (size_t)(list_end - p));

		if (!end)
			end = list_end;
		memcpy(o, p + common, (size_t)(end - p) - common);
		o += (end - p) - (ptrdiff_t)common;
		if (end < list_end)
			*o++ = ':';
		p = end < list_end ? end + 1 : end;
	}
	strcpy(o, list_end);
	if (strlen(out) > MOUNT_MAX_DATA) {
		free(dir);
		free(out);
		return -E2BIG;
	}
	*ret_data = out;
	*ret_dir = dir;
	return 0;
}

/* ---- mounting ---- */

/* Unmount target until nothing is mounted on it (it may be stacked). */
static void unmount_stack(const char *target)
{
	for (int i = 0; i < 64; i++)
		if (umount2(target, UMOUNT_NOFOLLOW) < 0 &&
		    umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
			break;
}

static int mount_one(const struct shim_mount *m, const char *target, struct error *err)
{
	unsigned long flags, prop;
	_cleanup_free_ char *data = NULL;
	const char *type = m->type && *m->type ? m->type : NULL;
	const char *source = m->source && *m->source ? m->source : "none";
	int r;

	r = mount_parse_options(m->options, m->n_options, &flags, &prop, &data, err);
	if (r < 0)
		return r;
	if (flags & MS_BIND) {
		/* A bind ignores every flag but MS_REC; the rest is a remount. */
		if (mount(source, target, NULL, flags & (MS_BIND | MS_REC), NULL) < 0)
			return error_set(err, -errno, "bind mount %s: %s", source, strerror(errno));
		flags &= ~(MS_BIND | MS_REC);
		if (flags &&
		    mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0) {
			r = error_set(err, -errno, "remounting the bind of %s: %s", source,
				      strerror(errno));
			unmount_stack(target);
			return r;
		}
	} else if (strlen(data) > MOUNT_MAX_DATA) {
		_cleanup_free_ char *short_data = NULL, *dir = NULL;

		r = type && strcmp(type, "overlay") == 0 ?
			    compact_lowerdir(data, &short_data, &dir) : -E2BIG;
		if (r < 0)
			return error_set(err, r, "%s mount: options longer than %d bytes",
					 type ? type : "a", MOUNT_MAX_DATA);
		r = mount_in_dir(dir, source, target, type, flags, short_data);
		if (r < 0)
			return error_set(err, r, "%s mount (layers relative to %s): %s", type, dir,
					 strerror(-r));
	} else if (mount(source, target, type, flags, data[0] ? data : NULL) < 0) {
		return error_set(err, -errno, "%s mount of %s: %s", type ? type : "(no type)",
				 source, strerror(errno));
	}
	if (prop && mount(NULL, target, NULL, prop, NULL) < 0) {
		r = error_set(err, -errno, "setting propagation on %s: %s", target,
			      strerror(errno));
		unmount_stack(target);
		return r;
	}
	return 0;
}

int mount_rootfs(const struct shim_mount *mounts, size_t n, const char *target,
		 struct error *err)
{
	for (size_t i = 0; i < n; i++) {
		int r = mount_one(&mounts[i], target, err);

		if (r < 0) {
			unmount_stack(target);
			return error_wrap(err, "rootfs mount %zu of %zu", i + 1, n);
		}
	}
	return 0;
}

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

static int make_readonly(const char *target, bool recursive)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };

	if (syscall(SYS_mount_setattr, AT_FDCWD, target,
		    AT_SYMLINK_NOFOLLOW | (recursive ? AT_RECURSIVE : 0), &attr, sizeof(attr)) == 0)
		return 0;
	if (errno != ENOSYS)
		return -errno;
	/* Before Linux 5.12: the top mount only. */
	if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		return -errno;
	return 0;
}

int mount_bind(const char *source, const char *target, bool recursive, bool readonly,
	       struct error *err)
{
	struct stat st;
	int r;

	if (stat(source, &st) < 0)
		return error_set(err, -errno, "%s: %s", source, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		r = mkdir_ok(target, 0755);
	} else {
		int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

		r = fd < 0 ? -errno : 0;
		if (fd >= 0)
			close(fd);
	}
	if (r < 0)
		return error_set(err, r, "creating the mount point %s: %s", target, strerror(-r));
	if (mount(source, target, NULL, MS_BIND | (recursive ? MS_REC : 0), NULL) < 0)
		return error_set(err, -errno, "bind mount of %s: %s", source, strerror(errno));
	if (readonly) {
		r = make_readonly(target, recursive);
		if (r < 0) {
			unmount_stack(target);
			return error_set(err, r, "making the bind of %s read-only: %s", source,
					 strerror(-r));
		}
	}
	return 0;
}

int mount_make_shared_dir(const char *dir, struct error *err)
{
	if (mount(dir, dir, NULL, MS_BIND, NULL) < 0)
		return error_set(err, -errno, "bind mount of %s on itself: %s", dir,
				 strerror(errno));
	if (mount(NULL, dir, NULL, MS_PRIVATE, NULL) < 0 ||
	    mount(NULL, dir, NULL, MS_SHARED, NULL) < 0) {
		int r = error_set(err, -errno, "making %s a shared mount: %s", dir,
				  strerror(errno));

		unmount_stack(dir);
		return r;
	}
	return 0;
}

/* ---- /proc/self/mountinfo ---- */

/* Undo mountinfo's octal escapes (\040 for a space...) in place. */
static void unescape(char *s)
{
	char *o = s;

	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)(((p[1] - '0') << 6) | ((p[2] - '0') << 3) | (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

struct mount_entry {
	char *point;
	bool shared;
};

/* Every mount at or below path, in mountinfo order. */
static int mounts_under(const char *path, struct mount_entry **ret, size_t *ret_n)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	size_t plen = strlen(path), n = 0, cap = 0;
	struct mount_entry *v = NULL;
	char *line = NULL;
	size_t lsize = 0;

	if (!f)
		return -errno;
	while (plen > 1 && path[plen - 1] == '/')
		plen--;
	while (getline(&line, &lsize, f) > 0) {
		char *save = NULL, *fields[64], *tok;
		int nf = 0;
		bool shared = false;

		/* id parent major:minor root mountpoint options [optional...] - type source super */
		for (tok = strtok_r(line, " \n", &save); tok && nf < (int)ARRAY_SIZE(fields);
		     tok = strtok_r(NULL, " \n", &save))
			fields[nf++] = tok;
		if (nf < 7)
			continue;
		for (int k = 6; k < nf && strcmp(fields[k], "-") != 0; k++)
			if (strncmp(fields[k], "shared:", 7) == 0)
				shared = true;
		unescape(fields[4]);
		if (strncmp(fields[4], path, plen) != 0 ||
		    (fields[4][plen] != '\0' && fields[4][plen] != '/'))
			continue;
		if (n == cap) {
			struct mount_entry *nv = realloc(v, (cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv)
				goto oom;
			v = nv;
			cap = cap ? cap * 2 : 16;
		}
		v[n].point = strdup(fields[4]);
		if (!v[n].point)
			goto oom;
		v[n++].shared = shared;
	}
	free(line);
	fclose(f);
	*ret = v;
	*ret_n = n;
	return 0;
oom:
	for (size_t i = 0; i < n; i++)
		free(v[i].point);
	free(v);
	free(line);
	fclose(f);
	return -ENOMEM;
}

static void entries_free(struct mount_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].point);
	free(v);
}

int mount_count_under(const char *path)
{
	struct mount_entry *v;
	size_t n;
	int r = mounts_under(path, &v, &n);

	if (r < 0)
		return r;
	entries_free(v, n);
	return (int)MIN(n, (size_t)INT32_MAX);
}

int mount_info(const char *path, bool *ret_is_mount, bool *ret_shared)
{
	struct mount_entry *v;
	size_t n;
	int r = mounts_under(path, &v, &n);

	if (r < 0)
		return r;
	*ret_is_mount = false;
	*ret_shared = false;
	/* The last entry for the path is the one on top. */
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].point, path) == 0) {
			*ret_is_mount = true;
			*ret_shared = v[i].shared;
		}
	entries_free(v, n);
	return 0;
}

static size_t depth(const char *p)
{
	size_t d = 0;

	for (; *p; p++)
		d += *p == '/';
	return d;
}

int mount_unmount_all(const char *path, struct error *err)
{
	for (int pass = 0; pass < MOUNT_MAX_UNMOUNT_PASSES; pass++) {
		struct mount_entry *v;
		size_t n;
		int r = mounts_under(path, &v, &n);

		if (r < 0)
			return error_set(err, r, "/proc/self/mountinfo: %s", strerror(-r));
		if (n == 0)
			return 0;
		/* Deepest first; among equals, the latest mounted (on top) first. */
		for (size_t d = 0; d < n; d++) {
			size_t best = SIZE_MAX;

			for (size_t i = n; i-- > 0;)
				if (v[i].point && (best == SIZE_MAX || depth(v[i].point) > depth(v[best].point)))
					best = i;
			if (best == SIZE_MAX)
				break;
			if (umount2(v[best].point, UMOUNT_NOFOLLOW) < 0 && errno != EINVAL &&
			    errno != ENOENT) {
				log_debug("sandbox: unmounting %s: %s; detaching it", v[best].point,
					  strerror(errno));
				(void)umount2(v[best].point, MNT_DETACH | UMOUNT_NOFOLLOW);
			}
			free(v[best].point);
			v[best].point = NULL;
		}
		entries_free(v, n);
	}
	{
		int left = mount_count_under(path);

		if (left > 0)
			return error_set(err, -EBUSY, "%d mounts under %s would not go", left, path);
	}
	return 0;
}
