/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup v2 for containers: creation with resources (runc's v1 -> v2
 * conversions), freeze, kill, stats, removal and OOM notifications.
 */
#include "container-internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "common/log.h"

#define CGROUP_KILL_PASSES 50	      /* SIGKILL rounds without cgroup.kill */

/* Controllers we enable when available so stats work without limits. */
static const char *const default_controllers[] = { "cpu", "io", "memory", "pids" };

static bool is_cgroup2_fd(int fd)
{
	struct statfs sfs;

	return fstatfs(fd, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

static bool is_cgroup2_path(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

/* Absolute, no "." / ".." / empty components, only safe names. */
int cgroup_path_check(const char *path, struct error *err)
{
	const char *p;

	if (!path || path[0] != '/')
		return error_set(err, -EINVAL, "cgroup path %s: not absolute", path ? path : "(null)");
	if (strlen(path) >= PATH_MAX)
		return error_set(err, -ENAMETOOLONG, "cgroup path: too long");
	p = path + 1;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		char comp[NAME_MAX + 1];

		if (n == 0 || n > NAME_MAX)
			return error_set(err, -EINVAL, "cgroup path %s: bad component", path);
		memcpy(comp, p, n);
		comp[n] = '\0';
		for (size_t i = 0; i < n; i++)
			if (comp[i] == ':' || comp[i] == '@')
				comp[i] = '_'; /* allowed in cgroup names (systemd units) */
		if (!name_is_safe(comp))
			return error_set(err, -EINVAL, "cgroup path %s: bad component", path);
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
}

int cgroup_open(const char *path, struct error *err)
{
	int fd, r;

	if ((r = cgroup_path_check(path, err)) < 0)
		return r;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, -errno, "cgroup %s: %m", path);
	if (!is_cgroup2_fd(fd)) {
		close(fd);
		return error_set(err, -EINVAL, "cgroup %s: not on a cgroup2 file system", path);
	}
	return fd;
}

/* ---- systemd-style and plain cgroupsPath ---- */

/* "a-b-c.slice" -> "a.slice/a-b.slice/a-b-c.slice" (systemd's slice nesting). */
static int expand_slice(const char *slice, char *out, size_t size)
{
	size_t len = strlen(slice), off = 0;

	if (len < 7 || strcmp(slice + len - 6, ".slice") != 0 || strchr(slice, '/'))
		return -EINVAL;
	if (strcmp(slice, "-.slice") == 0) {
		out[0] = '\0';
		return 0;
	}
	for (size_t i = 0; i + 6 <= len; i++) {
		if (slice[i] == '-' || i + 6 == len) {
			int n;

			if (i == 0 || slice[i - 1] == '-')
				return -EINVAL;
			n = snprintf(out + off, size - off, "/%.*s.slice", (int)i, slice);
			if (n < 0 || (size_t)n >= size - off)
				return -ENAMETOOLONG;
			off += (size_t)n;
		}
	}
	return 0;
}

int container_cgroup_path(const char *cgroups_path, const char *id, char **ret)
{
	char buf[PATH_MAX];
	int n;

	if (!cgroups_path || !*cgroups_path) {
		if (!id || !oci_id_valid(id))
			return -EINVAL;
		n = snprintf(buf, sizeof(buf), "%s/nacelle/%s", CONTAINER_CGROUP_ROOT, id);
	} else if (cgroups_path[0] != '/' && strchr(cgroups_path, ':')) {
		/* systemd driver: "slice:prefix:name" */
		char slice[NAME_MAX + 1], prefix[NAME_MAX + 1], name[NAME_MAX + 1];
		char sp[PATH_MAX];
		const char *a = cgroups_path, *b = strchr(a, ':'), *c = b ? strchr(b + 1, ':') : NULL;

		if (!b || !c || strchr(c + 1, ':') || (size_t)(b - a) > NAME_MAX ||
		    (size_t)(c - b - 1) > NAME_MAX || strlen(c + 1) > NAME_MAX || !c[1])
			return -EINVAL;
		snprintf(slice, sizeof(slice), "%.*s", (int)(b - a), a);
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(c - b - 1), b + 1);
		snprintf(name, sizeof(name), "%s", c + 1);
		if (expand_slice(*slice ? slice : "system.slice", sp, sizeof(sp)) < 0)
			return -EINVAL;
		if (strlen(name) > 6 && strcmp(name + strlen(name) - 6, ".slice") == 0)
			n = snprintf(buf, sizeof(buf), "%s%s/%s", CONTAINER_CGROUP_ROOT, sp, name);
		else if (*prefix)
			n = snprintf(buf, sizeof(buf), "%s%s/%s-%s.scope", CONTAINER_CGROUP_ROOT, sp,
				     prefix, name);
		else
			n = snprintf(buf, sizeof(buf), "%s%s/%s.scope", CONTAINER_CGROUP_ROOT, sp, name);
	} else {
		n = snprintf(buf, sizeof(buf), "%s%s%s", CONTAINER_CGROUP_ROOT,
			     cgroups_path[0] == '/' ? "" : "/", cgroups_path);
	}
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	/* Strip trailing slashes, then check every component. */
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	if (cgroup_path_check(buf, NULL) < 0)
		return -EINVAL;
	*ret = strdup(buf);
	return *ret ? 0 : -ENOMEM;
}

/* ---- creation ---- */

#define CONTROLLER_NAME_MAX 32

struct controllers {
	char names[16][CONTROLLER_NAME_MAX];
	size_t n;
};

/* The controllers the settings need: each file's prefix ("memory" for "memory.max"). */
static int controllers_from_settings(const struct cgroup_settings *s, struct controllers *need,
				     struct error *err)
{
	need->n = 0;
	for (size_t i = 0; i < s->n; i++) {
		const char *file = s->v[i].file, *dot = strchr(file, '.');
		size_t len = dot ? (size_t)(dot - file) : 0;
		bool dup = false;

		if (!len || len >= CONTROLLER_NAME_MAX)
			return error_set(err, -EINVAL, "cgroup file %s: no controller", file);
		if (len == 6 && strncmp(file, "cgroup", 6) == 0)
			continue; /* core files */
		for (size_t j = 0; j < need->n; j++)
			if (strlen(need->names[j]) == len && strncmp(need->names[j], file, len) == 0)
				dup = true;
		if (dup)
			continue;
		if (need->n >= ARRAY_SIZE(need->names))
			return error_set(err, -E2BIG, "resources: too many controllers");
		memcpy(need->names[need->n], file, len);
		need->names[need->n++][len] = '\0';
	}
	return 0;
}

static bool word_in(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += wl)
		if ((p == list || p[-1] == ' ' || p[-1] == '\n') &&
		    (p[wl] == '\0' || p[wl] == ' ' || p[wl] == '\n'))
			return true;
	return false;
}

/*
 * Enable controllers in dirfd's cgroup.subtree_control: each needed one must
 * be available, the default ones only when available.
 */
static int enable_in(int dirfd, const char *where, const struct controllers *need,
		     struct error *err)
{
	char avail[1024], enabled[1024], buf[NAME_MAX + 2];
	ssize_t n;

	n = read_file_at(dirfd, "cgroup.controllers", avail, sizeof(avail));
	if (n < 0)
		return error_set(err, (int)n, "cgroup %s: cgroup.controllers: %s", where,
				 strerror((int)-n));
	n = read_file_at(dirfd, "cgroup.subtree_control", enabled, sizeof(enabled));
	if (n < 0)
		return error_set(err, (int)n, "cgroup %s: cgroup.subtree_control: %s", where,
				 strerror((int)-n));
	for (size_t i = 0; i < need->n + ARRAY_SIZE(default_controllers); i++) {
		bool required = i < need->n;
		const char *c = required ? need->names[i] : default_controllers[i - need->n];
		int r;

		if (word_in(enabled, c))
			continue;
		if (!word_in(avail, c)) {
			if (required)
				return error_set(err, -EOPNOTSUPP,
						 "cgroup %s: controller %s not available", where, c);
			continue;
		}
		snprintf(buf, sizeof(buf), "+%s", c);
		r = write_file_at(dirfd, "cgroup.subtree_control", buf);
		if (r < 0 && required)
			return error_set(err, r, "cgroup %s: enabling %s: %s", where, c,
					 strerror(-r));
		if (r < 0)
			log_debug("cgroup %s: enabling %s: %s", where, c, strerror(-r));
	}
	return 0;
}

/* mkdir -p inside the cgroup2 mount: a directory is only created in a cgroup2 parent. */
static int cgroup_mkdir_p(const char *path, struct error *err)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		struct stat st;
		char *slash;

		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (stat(buf, &st) < 0) {
			slash = strrchr(buf, '/');
			*slash = '\0';
			if (!is_cgroup2_path(slash == buf ? "/" : buf)) {
				*slash = '/';
				return error_set(err, -EINVAL, "cgroup %s: %s is not inside a cgroup2 mount",
						 path, buf);
			}
			*slash = '/';
			if (mkdir(buf, 0755) < 0 && errno != EEXIST) {
				int e = -errno;
				return error_set(err, e, "cgroup %s: mkdir %s: %s", path, buf, strerror(-e));
			}
		}
		buf[i] = path[i];
	}
	if (!is_cgroup2_path(path))
		return error_set(err, -EINVAL, "cgroup %s: not on a cgroup2 file system", path);
	return 0;
}

static int enable_controllers(const char *path, const struct controllers *need,
			      struct error *err)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	/* Ancestors from the top of the cgroup2 mount down to the parent. */
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i < len; i++) {
		_cleanup_close_ int fd = -1;
		int r;

		if (buf[i] != '/')
			continue;
		buf[i] = '\0';
		if (is_cgroup2_path(buf)) {
			fd = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd < 0) {
				int e = -errno;
				return error_set(err, e, "cgroup %s: %s", buf, strerror(-e));
			}
			r = enable_in(fd, buf, need, err);
			if (r < 0)
				return r;
		}
		buf[i] = '/';
	}
	return 0;
}

static int write_res(int dirfd, const char *path, const char *file, const char *value,
		     struct error *err)
{
	int r = write_file_at(dirfd, file, value);

	if (r == -ENOENT)
		return error_set(err, r, "cgroup %s: %s: controller not enabled", path, file);
	if (r < 0)
		return error_set(err, r, "cgroup %s: writing \"%s\" to %s: %s", path, value, file,
				 strerror(-r));
	log_debug("cgroup %s: %s = %s", path, file, value);
	return 0;
}

/* Enable what the settings need (and the defaults), then write them. */
static int cgroup_apply(const char *path, const struct oci_resources *res, bool create,
			struct error *err)
{
	struct cgroup_settings set = { 0 };
	struct controllers need;
	_cleanup_close_ int fd = -1;
	bool existed = true;
	int r;

	if ((r = cgroup_path_check(path, err)) < 0)
		return r;
	if ((r = cgroup_settings_from_resources(res, &set, err)) < 0)
		return r;
	if ((r = controllers_from_settings(&set, &need, err)) < 0)
		goto out;
	if (create) {
		existed = access(path, F_OK) == 0;
		if ((r = cgroup_mkdir_p(path, err)) < 0)
			goto out;
	}
	if ((r = enable_controllers(path, &need, err)) < 0)
		goto fail;
	fd = r = cgroup_open(path, err);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < set.n; i++)
		if ((r = write_res(fd, path, set.v[i].file, set.v[i].value, err)) < 0)
			goto fail;
	r = 0;
	goto out;
fail:
	if (!existed && rmdir(path) < 0)
		log_debug("cgroup %s: rmdir after failure: %m", path);
out:
	cgroup_settings_free(&set);
	return r;
}

int container_cgroup_create(const char *path, const struct oci_resources *res,
			    struct error *err)
{
	return cgroup_apply(path, res, true, err);
}

int container_cgroup_update(const char *path, const struct oci_resources *res,
			    struct error *err)
{
	return cgroup_apply(path, res, false, err);
}

int container_cgroup_enter(const char *path, pid_t pid, struct error *err)
{
	_cleanup_close_ int fd = cgroup_open(path, err);
	char v[32];
	int r;

	if (fd < 0)
		return fd;
	snprintf(v, sizeof(v), "%d", (int)pid);
	r = write_file_at(fd, "cgroup.procs", v);
	if (r < 0)
		return error_set(err, r, "cgroup %s: moving pid %d: %s", path, (int)pid,
				 strerror(-r));
	return 0;
}

/* ---- freeze ---- */

static int events_value(int dirfd, const char *key, uint64_t *ret)
{
	char buf[512];
	ssize_t n = read_file_at(dirfd, "cgroup.events", buf, sizeof(buf));
	size_t kl = strlen(key);

	if (n < 0)
		return (int)n;
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
			return parse_u64_or_max(line + kl + 1, ret);
		line = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

int container_cgroup_freeze(const char *path, bool frozen, struct error *err)
{
	_cleanup_close_ int fd = cgroup_open(path, err);
	_cleanup_close_ int efd = -1;
	int64_t deadline = now_ms() + CONTAINER_FREEZE_TIMEOUT_MS;
	int r;

	if (fd < 0)
		return fd;
	r = write_file_at(fd, "cgroup.freeze", frozen ? "1" : "0");
	if (r < 0)
		return error_set(err, r, "cgroup %s: cgroup.freeze: %s", path, strerror(-r));
	/* cgroup.events notifies pollers with POLLPRI on change. */
	efd = openat(fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	for (;;) {
		uint64_t v = 0;
		struct pollfd pfd = { .fd = efd, .events = POLLPRI };
		char c;

		r = events_value(fd, "frozen", &v);
		if (r < 0)
			return error_set(err, r, "cgroup %s: cgroup.events: %s", path, strerror(-r));
		if ((v != 0) == frozen)
			return 0;
		if (now_ms() >= deadline)
			break;
		if (efd >= 0) {
			(void)!pread(efd, &c, 1, 0); /* arm the notification */
			(void)poll(&pfd, 1, 10);
		} else {
			usleep(10000);
		}
	}
	if (frozen)
		(void)!write_file_at(fd, "cgroup.freeze", "0");
	return error_set(err, -ETIMEDOUT, "cgroup %s: not %s after %d ms", path,
			 frozen ? "frozen" : "thawed", CONTAINER_FREEZE_TIMEOUT_MS);
}

/* ---- walking descendants ---- */

typedef int (*cgroup_visit_fn)(int dirfd, const char *path, void *data);

/* Post-order walk: children first. */
static int cgroup_walk(int dirfd, const char *path, unsigned int depth, cgroup_visit_fn fn,
		       void *data)
{
	DIR *d;
	struct dirent *de;
	int r = 0, dfd;

	if (depth > CONTAINER_CGROUP_MAX_DEPTH)
		return -ELOOP;
	dfd = dup(dirfd);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	while ((de = readdir(d))) {
		_cleanup_close_ int cfd = -1;
		char sub[PATH_MAX];

		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		cfd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			continue; /* removed meanwhile */
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		r = cgroup_walk(cfd, sub, depth + 1, fn, data);
		if (r < 0)
			break;
	}
	closedir(d);
	if (r < 0)
		return r;
	return fn(dirfd, path, data);
}

struct kill_data {
	int sig;
	size_t signalled;
};

static int kill_procs(int dirfd, const char *path, void *data)
{
	struct kill_data *k = data;
	_cleanup_free_ char *procs = NULL;
	int r = read_file_alloc_at(dirfd, "cgroup.procs", CGROUP_FILE_MAX, &procs);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (char *p = procs; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (pid > 0 && kill((pid_t)pid, k->sig) == 0)
			k->signalled++;
		p = end;
		while (*p == '\n')
			p++;
	}
	return 0;
}

int container_cgroup_kill_all(const char *path, int sig, struct error *err)
{
	_cleanup_close_ int fd = cgroup_open(path, err);
	int r;

	if (fd < 0)
		return fd;
	if (sig == SIGKILL) {
		r = write_file_at(fd, "cgroup.kill", "1");
		if (r == 0)
			return 0;
		if (r != -ENOENT)
			return error_set(err, r, "cgroup %s: cgroup.kill: %s", path, strerror(-r));
	}
	/* Without cgroup.kill (before 5.14) or for other signals: signal every
	 * listed process; for SIGKILL repeat until a pass finds nobody (forks). */
	for (int pass = 0; pass < (sig == SIGKILL ? CGROUP_KILL_PASSES : 1); pass++) {
		struct kill_data k = { .sig = sig };

		r = cgroup_walk(fd, path, 0, kill_procs, &k);
		if (r < 0)
			return error_set(err, r, "cgroup %s: signalling: %s", path, strerror(-r));
		if (k.signalled == 0)
			return 0;
		if (sig == SIGKILL)
			usleep(1000);
	}
	return 0;
}

/* ---- removal ---- */

static int rmdir_one(int dirfd, const char *path, void *data)
{
	int64_t deadline = *(int64_t *)data;

	for (;;) {
		if (rmdir(path) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY || now_ms() >= deadline)
			return -errno;
		usleep(5000);
	}
}

int container_cgroup_remove(const char *path, struct error *err)
{
	_cleanup_close_ int fd = -1;
	int64_t deadline = now_ms() + CONTAINER_CGROUP_RMDIR_TIMEOUT_MS;
	int r;

	if ((r = cgroup_path_check(path, err)) < 0)
		return r;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return error_set(err, -errno, "cgroup %s: %m", path);
	if (!is_cgroup2_fd(fd))
		return error_set(err, -EINVAL, "cgroup %s: not on a cgroup2 file system", path);
	r = cgroup_walk(fd, path, 0, rmdir_one, &deadline);
	if (r < 0)
		return error_set(err, r, "cgroup %s: rmdir: %s", path, strerror(-r));
	return 0;
}

