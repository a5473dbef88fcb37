/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container's root file system, set up by the child in its new mount
 * namespace: propagation, OCI mounts, /dev, sysctls, read-only and masked
 * paths, then pivot_root. Every destination is resolved inside the rootfs
 * (openat2 RESOLVE_IN_ROOT) and mounted on through /proc/self/fd/N, so a
 * symlink in the image can never send a mount outside the root.
 */
#include "container-internal.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

/*
 * Runs in the child only: no logging here (the agent's log lock may have been
 * held by another thread at fork time); failures travel back as errors.
 */

#define MS_PROPAGATION (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)

struct default_device {
	const char *name;
	unsigned int major, minor;
};

/* The devices every container gets when its /dev is a fresh tmpfs (OCI runtime spec). */
static const struct default_device default_devices[] = {
	{ "null", 1, 3 },   { "zero", 1, 5 },	 { "full", 1, 7 },
	{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static const struct {
	const char *name, *target;
} default_symlinks[] = {
	{ "fd", "/proc/self/fd" },
	{ "stdin", "/proc/self/fd/0" },
	{ "stdout", "/proc/self/fd/1" },
	{ "stderr", "/proc/self/fd/2" },
	{ "core", "/proc/kcore" },
};

/* sysctls that are per IPC namespace (runc's list). */
static const char *const ipc_sysctls[] = {
	"kernel.msgmax", "kernel.msgmnb",  "kernel.msgmni",	     "kernel.sem",
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
};

struct rootfs_state {
	const struct rootfs_ctx *ctx;
	int rootfd;
	bool dev_is_tmpfs;
};

/*
 * Lexical normalization of a destination as if the rootfs were "/" (".."
 * stops at the root, the way RESOLVE_IN_ROOT resolves it), for comparisons
 * only; resolution itself is always done by open_in_root().
 */
static void dest_normalize(const char *dest, char *out, size_t size)
{
	size_t off = 0;

	out[0] = '\0';
	for (const char *p = dest; *p;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* skip */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (off > 0 && out[off - 1] != '/')
				off--;
			if (off > 0)
				off--;
			out[off] = '\0';
		} else if (off + n + 2 < size) {
			out[off++] = '/';
			memcpy(out + off, p, n);
			off += n;
			out[off] = '\0';
		}
		p = e ? e + 1 : p + n;
	}
	if (off == 0)
		snprintf(out, size, "/");
}

static bool spec_has_ns(const struct oci_spec *spec, enum oci_ns_type t)
{
	for (size_t i = 0; i < spec->linux_.n_namespaces; i++)
		if (spec->linux_.namespaces[i].type == t)
			return true;
	return false;
}

/* Mount flags of the mount under fd, as MS_* (for remounts that must keep them). */
static unsigned long mount_flags_of(int fd)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (fstatvfs(fd, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_RDONLY)
		f |= MS_RDONLY;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

/* The flags a user namespace cannot clear on a bind of a mount it does not own. */
#define MS_LOCKED_FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME)

static int remount_bind(int rootfd, const char *dest, unsigned long flags, bool userns,
			struct error *err)
{
	_cleanup_close_ int fd = open_in_root(rootfd, dest, O_PATH, 0);
	char p[32];

	if (fd < 0)
		return error_set(err, fd, "mount %s: reopening: %s", dest, strerror(-fd));
	if (userns)
		flags |= mount_flags_of(fd) & MS_LOCKED_FLAGS;
	if (mount(NULL, fd_path(fd, p, sizeof(p)), NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)
		return error_set(err, -errno, "mount %s: remount: %m", dest);
	return 0;
}

static int set_propagation(int rootfd, const char *dest, unsigned long prop, struct error *err)
{
	_cleanup_close_ int fd = -1;
	char p[32];

	if (!prop)
		return 0;
	fd = open_in_root(rootfd, dest, O_PATH, 0);
	if (fd < 0)
		return error_set(err, fd, "mount %s: reopening: %s", dest, strerror(-fd));
	if (mount(NULL, fd_path(fd, p, sizeof(p)), NULL, prop, NULL) < 0)
		return error_set(err, -errno, "mount %s: propagation: %m", dest);
	return 0;
}

static int set_rec_attr(int rootfd, const struct oci_mount *m, struct error *err)
{
	struct mount_attr attr = {
		.attr_set = m->rec_attr_set,
		.attr_clr = m->rec_attr_clr,
	};
	_cleanup_close_ int fd = -1;

	if (!m->rec_attr_set && !m->rec_attr_clr)
		return 0;
	fd = open_in_root(rootfd, m->destination, O_PATH, 0);
	if (fd < 0)
		return error_set(err, fd, "mount %s: reopening: %s", m->destination, strerror(-fd));
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		return error_set(err, -errno, "mount %s: recursive options: %m", m->destination);
	return 0;
}

/* Bind src over the object at target fd (an O_PATH fd inside the root). */
static int bind_on(const char *src, int target, bool rec, const char *dest, struct error *err)
{
	char p[32];

	if (mount(src, fd_path(target, p, sizeof(p)), NULL, MS_BIND | (rec ? MS_REC : 0), NULL) < 0)
		return error_set(err, -errno, "mount %s: bind %s: %m", dest, src);
	return 0;
}

/* "a,b,c" has option opt (exact, or as "opt=..." when opt ends with '='). */
static bool data_has(const char *data, const char *opt)
{
	size_t ol = strlen(opt);

	for (const char *p = data; p && *p;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);

		if (opt[ol - 1] == '=' ? (n >= ol && strncmp(p, opt, ol) == 0)
				       : (n == ol && strncmp(p, opt, ol) == 0))
			return true;
		p = c ? c + 1 : NULL;
	}
	return false;
}

/* data without options starting with prefix (e.g. "gid="). */
static void data_without(const char *data, const char *prefix, char *out, size_t size)
{
	size_t off = 0, pl = strlen(prefix);

	out[0] = '\0';
	for (const char *p = data; p && *p;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);

		if (!(n >= pl && strncmp(p, prefix, pl) == 0) && off + n + 2 < size) {
			if (off)
				out[off++] = ',';
			memcpy(out + off, p, n);
			off += n;
			out[off] = '\0';
		}
		p = c ? c + 1 : NULL;
	}
}

static int do_mount_fs(struct rootfs_state *st, const struct oci_mount *m, int target,
		       const char *type, struct error *err)
{
	const struct rootfs_ctx *ctx = st->ctx;
	unsigned long flags = m->flags & ~(MS_PROPAGATION | MS_REC | MS_BIND | MS_REMOUNT);
	const char *src = m->source ? m->source : type;
	char data[4096], p[32];
	const char *fallback = NULL;

	snprintf(data, sizeof(data), "%s", m->data ? m->data : "");
	if (m->data && strlen(m->data) >= sizeof(data))
		return error_set(err, -E2BIG, "mount %s: options too long", m->destination);

	if (strcmp(type, "devpts") == 0) {
		/* Each container gets its own pty namespace. */
		char extra[4096];

		snprintf(extra, sizeof(extra), "%s%s%s%s", data,
			 data_has(data, "newinstance") ? "" : (*data ? ",newinstance" : "newinstance"),
			 data_has(data, "ptmxmode=") ? "" : ",ptmxmode=0666", "");
		if (strlen(extra) >= sizeof(data))
			return error_set(err, -E2BIG, "mount %s: options too long", m->destination);
		memcpy(data, extra, strlen(extra) + 1);
	} else if (strcmp(type, "cgroup") == 0 || strcmp(type, "cgroup2") == 0) {
		/*
		 * With its own cgroup namespace the container sees its cgroup as the
		 * root of a fresh cgroup2 mount; without one, bind its directory.
		 */
		type = "cgroup2";
		src = "cgroup2";
		data[0] = '\0';
		if (!ctx->new_cgroupns)
			goto bind_fallback;
		fallback = ctx->cgroup_path ? ctx->cgroup_path : CONTAINER_CGROUP_ROOT;
	} else if (strcmp(type, "sysfs") == 0) {
		/* In a user namespace without its own network namespace the
		 * kernel refuses a new sysfs: bind the agent's (crun does too). */
		fallback = "/sys";
	} else if (strcmp(type, "mqueue") == 0) {
		fallback = "/dev/mqueue";
	}

	if (mount(src, fd_path(target, p, sizeof(p)), type, flags, *data ? data : NULL) == 0)
		return 0;
	if (errno == EINVAL && strcmp(type, "devpts") == 0 && data_has(data, "gid=")) {
		/* gid=5 is not mapped in this user namespace: drop it (crun). */
		char d2[4096];

		data_without(data, "gid=", d2, sizeof(d2));
		if (mount(src, p, type, flags, *d2 ? d2 : NULL) == 0)
			return 0;
	}
	if (!fallback || (errno != EPERM && errno != EBUSY && errno != EACCES))
		return error_set(err, -errno, "mount %s (%s): %m", m->destination, type);
	goto bind;

bind_fallback:
	fallback = ctx->cgroup_path ? ctx->cgroup_path : CONTAINER_CGROUP_ROOT;
bind:
	if (bind_on(fallback, target, true, m->destination, err) < 0)
		return err->code;
	flags |= MS_NOSUID | MS_NODEV | MS_NOEXEC;
	return remount_bind(st->rootfd, m->destination, flags, ctx->userns, err);
}

static int do_mount(struct rootfs_state *st, const struct oci_mount *m, struct error *err)
{
	const struct rootfs_ctx *ctx = st->ctx;
	const char *dest = m->destination, *type = m->type;
	bool is_bind = (m->flags & MS_BIND) || (type && strcmp(type, "bind") == 0);
	bool is_file = false;
	_cleanup_close_ int target = -1;
	char norm[PATH_MAX];
	struct stat sb;
	int r;

	if (!dest || !*dest)
		return error_set(err, -EINVAL, "mount: empty destination");
	dest_normalize(dest, norm, sizeof(norm));
	/* "/" in any spelling would cover the root we pivot into. */
	if (strcmp(norm, "/") == 0)
		return error_set(err, -EINVAL, "mount %s: cannot mount over the root", dest);
	if (m->extra & OCI_MOUNT_TMPCOPYUP)
		return error_set(err, -EOPNOTSUPP, "mount %s: tmpcopyup is not supported", dest);
	if (!is_bind && !type)
		return error_set(err, -EINVAL, "mount %s: no type", dest);

	if (is_bind) {
		if (!m->source || m->source[0] != '/')
			return error_set(err, -EINVAL, "mount %s: bind source must be absolute", dest);
		if (stat(m->source, &sb) < 0)
			return error_set(err, -errno, "mount %s: source %s: %m", dest, m->source);
		is_file = !S_ISDIR(sb.st_mode);
	}
	target = mkdir_p_in_root(st->rootfd, dest, is_file);
	if (target < 0)
		return error_set(err, target, "mount %s: creating the mount point: %s", dest,
				 strerror(-target));
	if (fstat(target, &sb) < 0)
		return error_set(err, -errno, "mount %s: %m", dest);
	if (!is_file && !S_ISDIR(sb.st_mode))
		return error_set(err, -ENOTDIR, "mount %s: not a directory in the rootfs", dest);
	if (is_file && S_ISDIR(sb.st_mode))
		return error_set(err, -EISDIR, "mount %s: a directory, but the source is not", dest);

	if (is_bind) {
		unsigned long extra = m->flags & ~(MS_BIND | MS_REC | MS_PROPAGATION | MS_REMOUNT);

		r = bind_on(m->source, target, m->flags & MS_REC, dest, err);
		if (r < 0)
			return r;
		if (extra) {
			r = remount_bind(st->rootfd, dest, extra, ctx->userns, err);
			if (r < 0)
				return r;
		}
	} else {
		r = do_mount_fs(st, m, target, type, err);
		if (r < 0)
			return r;
		if (strcmp(type, "tmpfs") == 0 && strcmp(norm, "/dev") == 0)
			st->dev_is_tmpfs = true;
	}
	r = set_rec_attr(st->rootfd, m, err);
	if (r < 0)
		return r;
	return set_propagation(st->rootfd, dest, m->propagation, err);
}

/* Create a device node, or in a user namespace (no mknod) bind the agent's. */
static int make_device(int rootfd, const char *path, mode_t type, dev_t dev, mode_t mode,
		       uid_t uid, gid_t gid, bool userns, struct error *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/'), *name;
	_cleanup_close_ int dfd = -1;
	struct stat sb;

	if (!slash || strlen(path) >= sizeof(dir))
		return error_set(err, -EINVAL, "device %s: bad path", path);
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	name = slash + 1;
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return error_set(err, -EINVAL, "device %s: bad path", path);
	dfd = mkdir_p_in_root(rootfd, *dir ? dir : "/", false);
	if (dfd < 0)
		return error_set(err, dfd, "device %s: %s", path, strerror(-dfd));

	if (userns) {
		_cleanup_close_ int target = -1;
		int fd = openat(dfd, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);

		if (fd < 0)
			return error_set(err, -errno, "device %s: %m", path);
		close(fd);
		target = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (target < 0)
			return error_set(err, -errno, "device %s: %m", path);
		return bind_on(path, target, false, path, err);
	}
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(sb.st_mode))
			return error_set(err, -EISDIR, "device %s: a directory exists there", path);
		if (unlinkat(dfd, name, 0) < 0)
			return error_set(err, -errno, "device %s: %m", path);
	}
	if (mknodat(dfd, name, type | (mode & 07777), dev) < 0)
		return error_set(err, -errno, "device %s: mknod: %m", path);
	/* mknod honours the umask; the spec's mode is exact. */
	if (fchmodat(dfd, name, mode & 07777, 0) < 0)
		return error_set(err, -errno, "device %s: chmod: %m", path);
	if (fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return error_set(err, -errno, "device %s: chown: %m", path);
	return 0;
}

static int setup_default_dev(struct rootfs_state *st, struct error *err)
{
	_cleanup_close_ int devfd = open_in_root(st->rootfd, "/dev", O_PATH | O_DIRECTORY, 0);
	int r;

	if (devfd < 0)
		return error_set(err, devfd, "/dev: %s", strerror(-devfd));
	for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++) {
		const struct default_device *d = &default_devices[i];
		char path[64];

		snprintf(path, sizeof(path), "/dev/%s", d->name);
		r = make_device(st->rootfd, path, S_IFCHR, makedev(d->major, d->minor), 0666, 0, 0,
				st->ctx->userns, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ARRAY_SIZE(default_symlinks); i++)
		if (symlinkat(default_symlinks[i].target, devfd, default_symlinks[i].name) < 0 &&
		    errno != EEXIST)
			return error_set(err, -errno, "/dev/%s: symlink: %m", default_symlinks[i].name);
	if (mkdirat(devfd, "pts", 0755) < 0 && errno != EEXIST)
		return error_set(err, -errno, "/dev/pts: %m");
	if (mkdirat(devfd, "shm", 01777) < 0 && errno != EEXIST)
		return error_set(err, -errno, "/dev/shm: %m");
	/* A mount point for the pty, bound there once it exists (process.c). */
	if (st->ctx->terminal) {
		int fd = openat(devfd, "console", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);

		if (fd < 0 && errno != EEXIST)
			return error_set(err, -errno, "/dev/console: %m");
		if (fd >= 0)
			close(fd);
	}
	/* /dev/ptmx -> the container's devpts instance, if it has one. */
	if (faccessat(devfd, "ptmx", F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
	    symlinkat("pts/ptmx", devfd, "ptmx") < 0)
		return error_set(err, -errno, "/dev/ptmx: symlink: %m");
	return 0;
}

static int setup_spec_devices(struct rootfs_state *st, struct error *err)
{
	const struct oci_linux *l = &st->ctx->spec->linux_;

	for (size_t i = 0; i < l->n_devices; i++) {
		const struct oci_device *d = &l->devices[i];
		mode_t type;
		dev_t dev = 0;
		int r;

		switch (d->type) {
		case 'c':
		case 'u':
			type = S_IFCHR;
			break;
		case 'b':
			type = S_IFBLK;
			break;
		case 'p':
			type = S_IFIFO;
			break;
		default:
			return error_set(err, -EINVAL, "device %s: type '%c'", d->path, d->type);
		}
		if (type != S_IFIFO) {
			if (d->major < 0 || d->minor < 0 || d->major > 0xfffff || d->minor > 0xfffff)
				return error_set(err, -EINVAL, "device %s: bad major/minor", d->path);
			dev = makedev((unsigned int)d->major, (unsigned int)d->minor);
		}
		r = make_device(st->rootfd, d->path, type, dev,
				d->has_file_mode ? d->file_mode : 0666, d->has_uid ? d->uid : 0,
				d->has_gid ? d->gid : 0, st->ctx->userns, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool sysctl_key_ok(const char *key)
{
	if (!key || !*key || key[0] == '.' || strstr(key, "..") || strlen(key) > 255)
		return false;
	for (const char *c = key; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-' || *c == '/'))
			return false;
	return true;
}

/* Only namespaced sysctls: the others would change the whole guest (runc's rules). */
static int sysctl_allowed(const struct oci_spec *spec, const char *key, struct error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(ipc_sysctls); i++)
		if (strcmp(key, ipc_sysctls[i]) == 0)
			goto ipc;
	if (strncmp(key, "fs.mqueue.", 10) == 0)
		goto ipc;
	if (strncmp(key, "net.", 4) == 0) {
		if (!spec_has_ns(spec, OCI_NS_NETWORK))
			return error_set(err, -EPERM, "sysctl %s: needs a network namespace", key);
		return 0;
	}
	if (strcmp(key, "kernel.hostname") == 0 || strcmp(key, "kernel.domainname") == 0) {
		if (!spec_has_ns(spec, OCI_NS_UTS))
			return error_set(err, -EPERM, "sysctl %s: needs a UTS namespace", key);
		return 0;
	}
	return error_set(err, -EPERM, "sysctl %s: not namespaced, refused", key);
ipc:
	if (!spec_has_ns(spec, OCI_NS_IPC))
		return error_set(err, -EPERM, "sysctl %s: needs an IPC namespace", key);
	return 0;
}

int sysctls_apply(const struct oci_spec *spec, int rootfd, struct error *err)
{
	_cleanup_close_ int sysfd = -1;
	struct statfs sfs;

	if (!spec->linux_.n_sysctl)
		return 0;
	sysfd = open_in_root(rootfd, "/proc/sys", O_PATH | O_DIRECTORY, 0);
	if (sysfd < 0)
		return error_set(err, sysfd, "sysctl: /proc/sys: %s", strerror(-sysfd));
	/* Refuse an image's fake /proc: only the real procfs takes the values. */
	if (fstatfs(sysfd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
		return error_set(err, -EINVAL, "sysctl: /proc is not a procfs (mount proc first)");
	for (size_t i = 0; i < spec->linux_.n_sysctl; i++) {
		const struct oci_kv *kv = &spec->linux_.sysctl[i];
		char rel[256];
		_cleanup_close_ int fd = -1;
		int r;

		if (!sysctl_key_ok(kv->key))
			return error_set(err, -EINVAL, "sysctl \"%s\": bad name", kv->key ? kv->key : "");
		r = sysctl_allowed(spec, kv->key, err);
		if (r < 0)
			return r;
		snprintf(rel, sizeof(rel), "%s", kv->key);
		for (char *c = rel; *c; c++)
			if (*c == '.')
				*c = '/';
		fd = open_in_root(sysfd, rel, O_WRONLY, 0);
		if (fd < 0)
			return error_set(err, fd, "sysctl %s: %s", kv->key, strerror(-fd));
		r = write_all(fd, kv->value ? kv->value : "", kv->value ? strlen(kv->value) : 0);
		if (r < 0)
			return error_set(err, r, "sysctl %s=%s: %s", kv->key, kv->value, strerror(-r));
	}
	return 0;
}

static int readonly_paths(struct rootfs_state *st, struct error *err)
{
	const struct oci_linux *l = &st->ctx->spec->linux_;

	for (size_t i = 0; i < l->n_readonly_paths; i++) {
		const char *path = l->readonly_paths[i];
		_cleanup_close_ int fd = open_in_root(st->rootfd, path, O_PATH, 0);
		char p[32];
		int r;

		if (fd == -ENOENT)
			continue;
		if (fd < 0)
			return error_set(err, fd, "readonly path %s: %s", path, strerror(-fd));
		if (mount(fd_path(fd, p, sizeof(p)), p, NULL, MS_BIND | MS_REC, NULL) < 0)
			return error_set(err, -errno, "readonly path %s: bind: %m", path);
		/* Keep the mount's nosuid/nodev/noexec: only add ro. */
		closep(&fd);
		fd = open_in_root(st->rootfd, path, O_PATH, 0);
		if (fd < 0)
			return error_set(err, fd, "readonly path %s: %s", path, strerror(-fd));
		r = mount(NULL, fd_path(fd, p, sizeof(p)), NULL,
			  MS_REMOUNT | MS_BIND | MS_RDONLY | (mount_flags_of(fd) & MS_LOCKED_FLAGS), NULL);
		if (r < 0)
			return error_set(err, -errno, "readonly path %s: remount: %m", path);
	}
	return 0;
}

static int masked_paths(struct rootfs_state *st, struct error *err)
{
	const struct oci_linux *l = &st->ctx->spec->linux_;

	for (size_t i = 0; i < l->n_masked_paths; i++) {
		const char *path = l->masked_paths[i];
		_cleanup_close_ int fd = open_in_root(st->rootfd, path, O_PATH | O_NOFOLLOW, 0);
		struct stat sb;
		char p[32];

		if (fd == -ENOENT || fd == -ENOTDIR)
			continue;
		if (fd < 0)
			return error_set(err, fd, "masked path %s: %s", path, strerror(-fd));
		if (fstat(fd, &sb) < 0)
			return error_set(err, -errno, "masked path %s: %m", path);
		if (S_ISLNK(sb.st_mode))
			continue; /* nothing can be mounted on a symlink itself */
		if (S_ISDIR(sb.st_mode)) {
			if (mount("tmpfs", fd_path(fd, p, sizeof(p)), "tmpfs", MS_RDONLY, "size=0k") < 0)
				return error_set(err, -errno, "masked path %s: tmpfs: %m", path);
		} else if (bind_on("/dev/null", fd, false, path, err) < 0) {
			return err->code;
		}
	}
	return 0;
}

/* Unescape mountinfo's octal escapes (\040) in place. */
static void mountinfo_unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static int cmp_len_desc(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

	return la < lb ? 1 : la > lb ? -1 : 0;
}

/*
 * Without pivot_root (the agent's root is the initramfs, which cannot be
 * pivoted away): detach every mount that is neither an ancestor of the
 * rootfs nor inside it, move the rootfs onto "/" and chroot (runc's
 * msMoveRoot).
 */
static int move_root(const char *rootfs, struct error *err)
{
	_cleanup_free_ char *info = NULL;
	_cleanup_free_ char **points = NULL;
	size_t n = 0, cap = 0, rl = strlen(rootfs);
	int r;

	r = read_file_alloc_at(AT_FDCWD, "/proc/self/mountinfo", 4 * MiB, &info);
	if (r < 0)
		return error_set(err, r, "reading mountinfo: %s", strerror(-r));
	for (char *line = info; line && *line;) {
		char *nl = strchr(line, '\n'), *f = line, *mp = NULL;

		if (nl)
			*nl = '\0';
		for (int i = 0; i < 4 && f; i++) {
			f = strchr(f, ' ');
			if (f)
				f++;
		}
		if (f) {
			mp = f;
			f = strchr(mp, ' ');
			if (f)
				*f = '\0';
			mountinfo_unescape(mp);
		}
		line = nl ? nl + 1 : NULL;
		if (!mp || strcmp(mp, "/") == 0)
			continue;
		/* inside the rootfs, or an ancestor of it: keep */
		if (strncmp(mp, rootfs, rl) == 0 && (mp[rl] == '\0' || mp[rl] == '/'))
			continue;
		if (strncmp(rootfs, mp, strlen(mp)) == 0 && rootfs[strlen(mp)] == '/')
			continue;
		if (n == cap) {
			char **np;

			cap = cap ? cap * 2 : 32;
			np = realloc(points, cap * sizeof(*np));
			if (!np)
				return error_set(err, -ENOMEM, "out of memory");
			points = np;
		}
		points[n++] = mp;
	}
	qsort(points, n, sizeof(*points), cmp_len_desc);
	/* Best effort: a mount that cannot go (busy, locked) stays hidden by the chroot. */
	for (size_t i = 0; i < n; i++)
		(void)umount2(points[i], MNT_DETACH);
	if (chdir(rootfs) < 0)
		return error_set(err, -errno, "chdir %s: %m", rootfs);
	if (mount(rootfs, "/", NULL, MS_MOVE, NULL) < 0)
		return error_set(err, -errno, "moving the rootfs to /: %m");
	if (chroot(".") < 0)
		return error_set(err, -errno, "chroot: %m");
	if (chdir("/") < 0)
		return error_set(err, -errno, "chdir /: %m");
	return 0;
}

static bool root_is_initramfs(void)
{
	struct statfs sfs;

	return statfs("/", &sfs) == 0 &&
	       (sfs.f_type == RAMFS_MAGIC || sfs.f_type == TMPFS_MAGIC);
}

static int enter_root(struct rootfs_state *st, struct error *err)
{
	const struct rootfs_ctx *ctx = st->ctx;

	if (!ctx->no_pivot) {
		if (fchdir(st->rootfd) < 0)
			return error_set(err, -errno, "chdir to the rootfs: %m");
		/*
		 * pivot_root(".", "."): the old root ends up mounted on top of the
		 * new one; make it a slave so the unmount does not propagate to the
		 * agent, then detach it.
		 */
		if (syscall(SYS_pivot_root, ".", ".") == 0) {
			if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
				return error_set(err, -errno, "old root: rslave: %m");
			if (umount2(".", MNT_DETACH) < 0)
				return error_set(err, -errno, "old root: umount: %m");
			if (chdir("/") < 0)
				return error_set(err, -errno, "chdir /: %m");
			return 0;
		}
		if (errno != EINVAL || !root_is_initramfs())
			return error_set(err, -errno, "pivot_root: %m");
	}
	return move_root(ctx->rootfs, err);
}

int rootfs_setup(const struct rootfs_ctx *ctx, struct error *err)
{
	const struct oci_spec *spec = ctx->spec;
	unsigned long prop = spec->linux_.rootfs_propagation;
	unsigned long first = MS_REC | MS_SLAVE;
	struct rootfs_state st = { .ctx = ctx, .rootfd = -1 };
	int r;

	/*
	 * Nothing we mount may leak back to the agent: "/" becomes a slave
	 * (or private) first; shared and unbindable are applied after
	 * pivot_root, which refuses a shared parent.
	 */
	if (prop & MS_PRIVATE)
		first = MS_REC | MS_PRIVATE;
	if (mount(NULL, "/", NULL, first, NULL) < 0)
		return error_set(err, -errno, "making / %s: %m", first & MS_PRIVATE ? "rprivate" : "rslave");
	/* pivot_root needs the new root to be a mount point. */
	if (mount(ctx->rootfs, ctx->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return error_set(err, -errno, "rootfs %s: bind: %m", ctx->rootfs);
	st.rootfd = open(ctx->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (st.rootfd < 0)
		return error_set(err, -errno, "rootfs %s: %m", ctx->rootfs);

	for (size_t i = 0; i < spec->n_mounts; i++) {
		r = do_mount(&st, &spec->mounts[i], err);
		if (r < 0)
			goto out;
	}
	if (st.dev_is_tmpfs) {
		r = setup_default_dev(&st, err);
		if (r < 0)
			goto out;
	}
	r = setup_spec_devices(&st, err);
	if (r < 0)
		goto out;
	/* sysctls before the read-only paths (usually /proc/sys). */
	r = sysctls_apply(spec, st.rootfd, err);
	if (r < 0)
		goto out;
	r = readonly_paths(&st, err);
	if (r < 0)
		goto out;
	r = masked_paths(&st, err);
	if (r < 0)
		goto out;
	r = enter_root(&st, err);
	if (r < 0)
		goto out;

	if (spec->root.readonly) {
		_cleanup_close_ int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		unsigned long keep = fd >= 0 ? mount_flags_of(fd) & MS_LOCKED_FLAGS : 0;

		if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL) < 0) {
			r = error_set(err, -errno, "remounting / read-only: %m");
			goto out;
		}
	}
	if (prop & (MS_SHARED | MS_UNBINDABLE)) {
		if (mount(NULL, "/", NULL, prop, NULL) < 0) {
			r = error_set(err, -errno, "rootfsPropagation: %m");
			goto out;
		}
	}
	r = 0;
out:
	closep(&st.rootfd);
	return r;
}
