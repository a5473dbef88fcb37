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

#define CGROUP_FILE_MAX (1024 * 1024) /* cgroup.procs, memory.stat, io.stat */
#define CGROUP_KILL_PASSES 50	      /* SIGKILL rounds without cgroup.kill */

/* Controllers we enable when available so stats work without limits. */
static const char *const default_controllers[] = { "cpu", "io", "memory", "pids" };

/* Files a resources map must not touch: they move or kill processes, or are
 * not resources. */
static const char *const unified_denied[] = {
	"cgroup.procs",	  "cgroup.threads", "cgroup.kill", "cgroup.subtree_control",
	"cgroup.events", "cgroup.controllers", "cgroup.type", "cgroup.freeze",
};

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
static int cgroup_path_check(const char *path, struct error *err)
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

static int cgroup_open(const char *path, struct error *err)
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

struct controllers {
	const char *names[16];
	size_t n;
};

static void controllers_add(struct controllers *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->names[i], name) == 0)
			return;
	if (c->n < ARRAY_SIZE(c->names))
		c->names[c->n++] = name;
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

static bool unified_key_ok(const char *key)
{
	const char *dot = strchr(key, '.');

	if (!name_is_safe(key) || !dot || dot == key || !dot[1] || strstr(key, ".."))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(unified_denied); i++)
		if (strcmp(key, unified_denied[i]) == 0)
			return false;
	return true;
}

/* Controllers res needs: the prefix of each file it writes. Names of unified
 * keys point into a static table or into res (valid while res lives). */
static int needed_controllers(const struct oci_resources *res, struct controllers *need,
			      char names[][NAME_MAX + 1], size_t max_names, struct error *err)
{
	size_t used = 0;

	if (!res)
		return 0;
	if ((res->memory.limit != OCI_UNSET && res->memory.limit != 0) ||
	    (res->memory.reservation != OCI_UNSET && res->memory.reservation != 0) ||
	    (res->memory.swap != OCI_UNSET && res->memory.swap != 0))
		controllers_add(need, "memory");
	if ((res->cpu.shares != OCI_UNSET && res->cpu.shares != 0) ||
	    (res->cpu.quota != OCI_UNSET && res->cpu.quota != 0) ||
	    (res->cpu.period != OCI_UNSET && res->cpu.period != 0))
		controllers_add(need, "cpu");
	if (res->cpu.cpus || res->cpu.mems)
		controllers_add(need, "cpuset");
	if (res->pids.limit != OCI_UNSET)
		controllers_add(need, "pids");
	if (res->block_io.weight != OCI_UNSET && res->block_io.weight != 0)
		controllers_add(need, "io");
	for (size_t i = 0; i < res->n_unified; i++) {
		const char *key = res->unified[i].key;
		const char *dot;

		if (!key || !unified_key_ok(key))
			return error_set(err, -EINVAL, "resources.unified: key \"%s\" refused",
					 key ? key : "");
		dot = strchr(key, '.');
		if ((size_t)(dot - key) > NAME_MAX || used >= max_names)
			return error_set(err, -EINVAL, "resources.unified: too many controllers");
		if ((size_t)(dot - key) == 6 && strncmp(key, "cgroup", 6) == 0)
			continue; /* core files, no controller */
		snprintf(names[used], NAME_MAX + 1, "%.*s", (int)(dot - key), key);
		controllers_add(need, names[used++]);
	}
	return 0;
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

/* OCI memory.swap is memory+swap (v1); v2 wants swap alone (runc's conversion). */
static int swap_v2(int64_t swap, int64_t limit, int64_t *ret, struct error *err)
{
	if (swap == OCI_UNSET)
		swap = 0;
	if (limit == OCI_UNSET)
		limit = 0;
	if (limit == -1 && swap == 0) {
		*ret = -1;
		return 0;
	}
	if (swap == -1 || swap == 0) {
		*ret = swap;
		return 0;
	}
	if (limit == 0 || limit == -1)
		return error_set(err, -EINVAL, "resources.memory.swap: needs a memory limit");
	if (limit < 0 || swap < limit)
		return error_set(err, -EINVAL, "resources.memory.swap: must be >= memory.limit");
	*ret = swap - limit;
	return 0;
}

static bool cpuset_ok(const char *s)
{
	if (strlen(s) > 4096)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || *s == ',' || *s == '-'))
			return false;
	return true;
}

static int write_resources(int dirfd, const char *path, const struct oci_resources *res,
			   struct error *err)
{
	char v[64];
	int64_t swap = 0;
	int r;

	if (!res)
		return 0;
	/* memory */
	if (res->memory.limit != OCI_UNSET && res->memory.limit != 0) {
		if (res->memory.limit == -1)
			snprintf(v, sizeof(v), "max");
		else if (res->memory.limit > 0)
			snprintf(v, sizeof(v), "%" PRId64, res->memory.limit);
		else
			return error_set(err, -EINVAL, "resources.memory.limit: negative");
		r = write_res(dirfd, path, "memory.max", v, err);
		if (r < 0)
			return r;
	}
	if (res->memory.reservation != OCI_UNSET && res->memory.reservation != 0) {
		if (res->memory.reservation == -1)
			snprintf(v, sizeof(v), "max");
		else if (res->memory.reservation > 0)
			snprintf(v, sizeof(v), "%" PRId64, res->memory.reservation);
		else
			return error_set(err, -EINVAL, "resources.memory.reservation: negative");
		r = write_res(dirfd, path, "memory.low", v, err);
		if (r < 0)
			return r;
	}
	if ((r = swap_v2(res->memory.swap, res->memory.limit, &swap, err)) < 0)
		return r;
	if (swap != 0) {
		if (swap == -1)
			snprintf(v, sizeof(v), "max");
		else
			snprintf(v, sizeof(v), "%" PRId64, swap);
		r = write_res(dirfd, path, "memory.swap.max", v, err);
		if (r < 0)
			return r;
	}
	if (res->memory.swappiness != OCI_UNSET)
		log_debug("cgroup %s: memory.swappiness has no cgroup v2 file, ignored", path);
	if (res->memory.disable_oom_killer)
		log_debug("cgroup %s: disableOOMKiller has no cgroup v2 file, ignored", path);

	/* cpu */
	if (res->cpu.shares != OCI_UNSET && res->cpu.shares != 0) {
		int64_t s = res->cpu.shares, w;

		if (s < 2 || s > 262144)
			return error_set(err, -EINVAL, "resources.cpu.shares: %" PRId64
					 " out of 2..262144", s);
		w = 1 + ((s - 2) * 9999) / 262142;
		snprintf(v, sizeof(v), "%" PRId64, w);
		r = write_res(dirfd, path, "cpu.weight", v, err);
		if (r < 0)
			return r;
	}
	if ((res->cpu.quota != OCI_UNSET && res->cpu.quota != 0) ||
	    (res->cpu.period != OCI_UNSET && res->cpu.period != 0)) {
		int n;

		if (res->cpu.quota > 0)
			n = snprintf(v, sizeof(v), "%" PRId64, res->cpu.quota);
		else
			n = snprintf(v, sizeof(v), "max");
		if (res->cpu.period != OCI_UNSET && res->cpu.period != 0) {
			if (res->cpu.period < 0)
				return error_set(err, -EINVAL, "resources.cpu.period: negative");
			snprintf(v + n, sizeof(v) - (size_t)n, " %" PRId64, res->cpu.period);
		}
		r = write_res(dirfd, path, "cpu.max", v, err);
		if (r < 0)
			return r;
	}
	if (res->cpu.cpus) {
		if (!cpuset_ok(res->cpu.cpus))
			return error_set(err, -EINVAL, "resources.cpu.cpus: \"%s\" invalid",
					 res->cpu.cpus);
		r = write_res(dirfd, path, "cpuset.cpus", res->cpu.cpus, err);
		if (r < 0)
			return r;
	}
	if (res->cpu.mems) {
		if (!cpuset_ok(res->cpu.mems))
			return error_set(err, -EINVAL, "resources.cpu.mems: \"%s\" invalid",
					 res->cpu.mems);
		r = write_res(dirfd, path, "cpuset.mems", res->cpu.mems, err);
		if (r < 0)
			return r;
	}

	/* pids */
	if (res->pids.limit != OCI_UNSET) {
		if (res->pids.limit > 0)
			snprintf(v, sizeof(v), "%" PRId64, res->pids.limit);
		else
			snprintf(v, sizeof(v), "max");
		r = write_res(dirfd, path, "pids.max", v, err);
		if (r < 0)
			return r;
	}

	/* io: blkio weight 10..1000 -> io.weight 1..10000 (runc) */
	if (res->block_io.weight != OCI_UNSET && res->block_io.weight != 0) {
		int64_t w = res->block_io.weight;

		if (w < 10 || w > 1000)
			return error_set(err, -EINVAL, "resources.blockIO.weight: %" PRId64
					 " out of 10..1000", w);
		snprintf(v, sizeof(v), "default %" PRId64, 1 + (w - 10) * 9999 / 990);
		r = write_res(dirfd, path, "io.weight", v, err);
		if (r < 0)
			return r;
	}

	if (res->n_devices)
		log_debug("cgroup %s: device rules need an eBPF program on cgroup v2; not applied "
			  "(the VM is the isolation boundary for devices)", path);

	/* unified, verbatim (keys checked in needed_controllers and here) */
	for (size_t i = 0; i < res->n_unified; i++) {
		const struct oci_kv *kv = &res->unified[i];

		if (!kv->key || !unified_key_ok(kv->key))
			return error_set(err, -EINVAL, "resources.unified: key \"%s\" refused",
					 kv->key ? kv->key : "");
		r = write_res(dirfd, path, kv->key, kv->value ? kv->value : "", err);
		if (r < 0)
			return r;
	}
	return 0;
}

int container_cgroup_create(const char *path, const struct oci_resources *res,
			    struct error *err)
{
	struct controllers need = { .n = 0 };
	char names[16][NAME_MAX + 1];
	_cleanup_close_ int fd = -1;
	bool existed;
	int r;

	if ((r = cgroup_path_check(path, err)) < 0)
		return r;
	if ((r = needed_controllers(res, &need, names, ARRAY_SIZE(names), err)) < 0)
		return r;
	existed = access(path, F_OK) == 0;
	if ((r = cgroup_mkdir_p(path, err)) < 0)
		return r;
	r = enable_controllers(path, &need, err);
	if (r < 0)
		goto fail;
	fd = r = cgroup_open(path, err);
	if (r < 0)
		goto fail;
	r = write_resources(fd, path, res, err);
	if (r < 0)
		goto fail;
	return 0;
fail:
	if (!existed && rmdir(path) < 0)
		log_debug("cgroup %s: rmdir after failure: %m", path);
	return r;
}

int container_cgroup_update(const char *path, const struct oci_resources *res,
			    struct error *err)
{
	struct controllers need = { .n = 0 };
	char names[16][NAME_MAX + 1];
	_cleanup_close_ int fd = -1;
	int r;

	if ((r = cgroup_path_check(path, err)) < 0)
		return r;
	if ((r = needed_controllers(res, &need, names, ARRAY_SIZE(names), err)) < 0)
		return r;
	if ((r = enable_controllers(path, &need, err)) < 0)
		return r;
	fd = cgroup_open(path, err);
	if (fd < 0)
		return fd;
	return write_resources(fd, path, res, err);
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

/* ---- stats ---- */

/* For each "key value" line of a flat-keyed file, call back. */
static void parse_flat_keyed(char *buf, void (*fn)(const char *key, uint64_t v, void *d), void *d)
{
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n'), *sp;
		uint64_t v;

		if (nl)
			*nl = '\0';
		sp = strchr(line, ' ');
		if (sp) {
			*sp = '\0';
			if (parse_u64_or_max(sp + 1, &v) == 0)
				fn(line, v, d);
		}
		line = nl ? nl + 1 : NULL;
	}
}

#define MATCH(k, name, dst)                                                                \
	do {                                                                               \
		if (strcmp((k), (name)) == 0)                                              \
			(dst) = v;                                                         \
	} while (0)

static void cpu_stat_cb(const char *k, uint64_t v, void *d)
{
	struct container_stats *s = d;

	MATCH(k, "usage_usec", s->cpu.usage_usec);
	MATCH(k, "user_usec", s->cpu.user_usec);
	MATCH(k, "system_usec", s->cpu.system_usec);
	MATCH(k, "nr_periods", s->cpu.nr_periods);
	MATCH(k, "nr_throttled", s->cpu.nr_throttled);
	MATCH(k, "throttled_usec", s->cpu.throttled_usec);
}

static void memory_stat_cb(const char *k, uint64_t v, void *d)
{
	struct container_stats *s = d;

	MATCH(k, "anon", s->memory.anon);
	MATCH(k, "file", s->memory.file);
	MATCH(k, "kernel_stack", s->memory.kernel_stack);
	MATCH(k, "slab", s->memory.slab);
	MATCH(k, "sock", s->memory.sock);
	MATCH(k, "shmem", s->memory.shmem);
	MATCH(k, "file_mapped", s->memory.file_mapped);
	MATCH(k, "pgfault", s->memory.pgfault);
	MATCH(k, "pgmajfault", s->memory.pgmajfault);
	MATCH(k, "inactive_file", s->memory.inactive_file);
	MATCH(k, "active_file", s->memory.active_file);
}

static void memory_events_cb(const char *k, uint64_t v, void *d)
{
	struct container_stats *s = d;

	MATCH(k, "low", s->memory.low);
	MATCH(k, "high", s->memory.high);
	MATCH(k, "max", s->memory.max_events);
	MATCH(k, "oom", s->memory.oom);
	MATCH(k, "oom_kill", s->memory.oom_kill);
}

static int read_u64_at(int dirfd, const char *name, uint64_t *ret)
{
	char buf[64];
	ssize_t n = read_file_at(dirfd, name, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	return parse_u64_or_max(buf, ret);
}

static void parse_io_stat(char *buf, struct container_stats *s)
{
	for (char *line = buf; line && *line && s->n_io < CONTAINER_STATS_MAX_IO_DEVICES;) {
		char *nl = strchr(line, '\n'), *tok, *save = NULL;
		struct container_io_stat *io = &s->io[s->n_io];

		if (nl)
			*nl = '\0';
		memset(io, 0, sizeof(*io));
		if (sscanf(line, "%u:%u", &io->major, &io->minor) == 2) {
			tok = strtok_r(line, " ", &save); /* the device */
			while ((tok = strtok_r(NULL, " ", &save))) {
				char *eq = strchr(tok, '=');
				uint64_t v;

				if (!eq)
					continue;
				*eq = '\0';
				if (parse_u64_or_max(eq + 1, &v) < 0)
					continue;
				MATCH(tok, "rbytes", io->rbytes);
				MATCH(tok, "wbytes", io->wbytes);
				MATCH(tok, "rios", io->rios);
				MATCH(tok, "wios", io->wios);
				MATCH(tok, "dbytes", io->dbytes);
				MATCH(tok, "dios", io->dios);
			}
			s->n_io++;
		}
		line = nl ? nl + 1 : NULL;
	}
}

int container_cgroup_stats(const char *path, struct container_stats *ret, struct error *err)
{
	_cleanup_close_ int fd = cgroup_open(path, err);
	struct container_stats s;
	_cleanup_free_ char *buf = NULL;
	int r;

	if (fd < 0)
		return fd;
	memset(&s, 0, sizeof(s));
	r = read_file_alloc_at(fd, "cpu.stat", CGROUP_FILE_MAX, &buf);
	if (r == 0) {
		s.has_cpu = true;
		parse_flat_keyed(buf, cpu_stat_cb, &s);
		free(TAKE_PTR(buf));
	}
	if (read_u64_at(fd, "memory.current", &s.memory.current) == 0) {
		s.has_memory = true;
		(void)!read_u64_at(fd, "memory.max", &s.memory.max);
		(void)!read_u64_at(fd, "memory.swap.current", &s.memory.swap_current);
		(void)!read_u64_at(fd, "memory.swap.max", &s.memory.swap_max);
		if (read_file_alloc_at(fd, "memory.stat", CGROUP_FILE_MAX, &buf) == 0) {
			parse_flat_keyed(buf, memory_stat_cb, &s);
			free(TAKE_PTR(buf));
		}
		if (read_file_alloc_at(fd, "memory.events", CGROUP_FILE_MAX, &buf) == 0) {
			parse_flat_keyed(buf, memory_events_cb, &s);
			free(TAKE_PTR(buf));
		}
	}
	if (read_u64_at(fd, "pids.current", &s.pids.current) == 0) {
		s.has_pids = true;
		(void)!read_u64_at(fd, "pids.max", &s.pids.max);
	}
	if (read_file_alloc_at(fd, "io.stat", CGROUP_FILE_MAX, &buf) == 0) {
		s.has_io = true;
		parse_io_stat(buf, &s);
	}
	*ret = s;
	return 0;
}

/* ---- OOM watch ---- */

static int oom_kill_count(const char *events_path, uint64_t *ret)
{
	char buf[1024];
	ssize_t n = read_file_at(AT_FDCWD, events_path, buf, sizeof(buf));
	struct container_stats s;

	if (n < 0)
		return (int)n;
	memset(&s, 0, sizeof(s));
	parse_flat_keyed(buf, memory_events_cb, &s);
	*ret = s.memory.oom_kill;
	return 0;
}

int container_cgroup_oom_watch_open(const char *path, struct container_oom_watch **ret,
				    struct error *err)
{
	struct container_oom_watch *w;
	char p[PATH_MAX];
	int r;

	if ((r = cgroup_path_check(path, err)) < 0)
		return r;
	if ((size_t)snprintf(p, sizeof(p), "%s/memory.events", path) >= sizeof(p))
		return error_set(err, -ENAMETOOLONG, "cgroup %s: path too long", path);
	w = calloc(1, sizeof(*w));
	if (!w)
		return error_set(err, -ENOMEM, "out of memory");
	w->fd = -1;
	w->events_path = strdup(p);
	if (!w->events_path) {
		r = error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		r = error_set(err, -errno, "inotify: %m");
		goto fail;
	}
	if (inotify_add_watch(w->fd, p, IN_MODIFY) < 0) {
		r = error_set(err, -errno, "cgroup %s: watching memory.events: %m", path);
		goto fail;
	}
	r = oom_kill_count(p, &w->oom_kill);
	if (r < 0) {
		error_set(err, r, "cgroup %s: memory.events: %s", path, strerror(-r));
		goto fail;
	}
	*ret = w;
	return 0;
fail:
	container_oom_watch_free(w);
	return r;
}

int container_oom_watch_check(struct container_oom_watch *w, bool *ret_oom)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	uint64_t now = 0;
	int r;

	*ret_oom = false;
	if (w->gone)
		return -ENOENT;
	for (;;) {
		ssize_t n = read(w->fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->mask & IN_IGNORED)
				w->gone = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	r = oom_kill_count(w->events_path, &now);
	if (r == 0 && now > w->oom_kill) {
		*ret_oom = true;
		w->oom_kill = now;
	}
	if (r == -ENOENT || r == -ENODEV)
		w->gone = true;
	if (*ret_oom)
		return 0;
	return w->gone ? -ENOENT : (r < 0 ? r : 0);
}

void container_oom_watch_free(struct container_oom_watch *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w->events_path);
	free(w);
}
