/* SPDX-License-Identifier: Apache-2.0 */
/* cgroup v2 statistics (cpu, memory, pids, io) and OOM notifications. */
#include "container-internal.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>

void cgroup_parse_flat_keyed(char *buf, void (*fn)(const char *key, uint64_t v, void *d), void *d)
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
		cgroup_parse_flat_keyed(buf, cpu_stat_cb, &s);
		free(TAKE_PTR(buf));
	}
	if (read_u64_at(fd, "memory.current", &s.memory.current) == 0) {
		s.has_memory = true;
		(void)!read_u64_at(fd, "memory.max", &s.memory.max);
		(void)!read_u64_at(fd, "memory.swap.current", &s.memory.swap_current);
		(void)!read_u64_at(fd, "memory.swap.max", &s.memory.swap_max);
		if (read_file_alloc_at(fd, "memory.stat", CGROUP_FILE_MAX, &buf) == 0) {
			cgroup_parse_flat_keyed(buf, memory_stat_cb, &s);
			free(TAKE_PTR(buf));
		}
		if (read_file_alloc_at(fd, "memory.events", CGROUP_FILE_MAX, &buf) == 0) {
			cgroup_parse_flat_keyed(buf, memory_events_cb, &s);
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
	cgroup_parse_flat_keyed(buf, memory_events_cb, &s);
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
