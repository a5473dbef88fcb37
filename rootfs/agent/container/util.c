/* SPDX-License-Identifier: Apache-2.0 */
/* File and path helpers: safe resolution inside a root, small file I/O. */
#include "container-internal.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "common/log.h"

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int write_file_at(int dirfd, const char *name, const char *s)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	/* One write(): cgroup and proc files take the whole value at once. */
	do
		n = write(fd, s, strlen(s));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != strlen(s))
		return -EIO;
	return 0;
}

ssize_t read_file_at(int dirfd, const char *name, char *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off + 1 < size) {
		ssize_t n = read(fd, buf + off, size - 1 - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	return (ssize_t)off;
}

int read_file_alloc_at(int dirfd, const char *name, size_t max, char **ret)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t cap = 4096, off = 0;

	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (off + 1 >= cap) {
			char *nb;

			if (cap >= max)
				return -EFBIG;
			cap = MIN(cap * 2, max);
			nb = realloc(buf, cap);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		n = read(fd, buf + off, cap - 1 - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

int parse_u64_or_max(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	while (*s == ' ' || *s == '\t')
		s++;
	if (strncmp(s, "max", 3) == 0 && (s[3] == '\0' || s[3] == '\n' || s[3] == ' ')) {
		*ret = CONTAINER_CGROUP_MAX;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -errno;
	if (*end != '\0' && *end != '\n' && *end != ' ')
		return -EINVAL;
	*ret = v;
	return 0;
}

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *fd_path(int fd, char *buf, size_t size)
{
	snprintf(buf, size, "/proc/self/fd/%d", fd);
	return buf;
}

bool name_is_safe(const char *s)
{
	if (!s || !*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

/*
 * Without openat2 (kernels before 5.6) walk the path one component at a
 * time with O_NOFOLLOW and refuse any symlink: safe, if less permissive.
 */
static int open_in_root_fallback(int rootfd, const char *path, int flags, mode_t mode)
{
	_cleanup_free_ char *copy = strdup(path);
	_cleanup_close_ int cur = -1;
	char *save = NULL, *comp, *next;

	if (!copy)
		return -ENOMEM;
	cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return -errno;
	comp = strtok_r(copy, "/", &save);
	while (comp) {
		int fd;

		next = strtok_r(NULL, "/", &save);
		if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
			/* Paths given to us are normalized; ".." here means trouble. */
			if (strcmp(comp, "..") == 0)
				return -ELOOP;
			comp = next;
			continue;
		}
		if (next)
			fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
		else
			fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0)
			return errno == ENOTDIR ? -ELOOP : -errno;
		closep(&cur);
		cur = fd;
		comp = next;
	}
	if (!(flags & O_PATH) && (flags & O_ACCMODE) != O_RDONLY)
		return -EISDIR; /* the root itself opened for writing */
	return TAKE_FD(cur);
}

int open_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		return open_in_root_fallback(rootfd, path, flags, mode);
	if (fd < 0 && errno == EAGAIN) /* a concurrent rename; try once more */
		fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

int mkdir_p_in_root(int rootfd, const char *path, bool last_is_file)
{
	char prefix[PATH_MAX];
	_cleanup_close_ int parent = -1;
	size_t len = strlen(path), i = 0;

	if (len >= sizeof(prefix))
		return -ENAMETOOLONG;
	parent = open_in_root(rootfd, "/", O_PATH | O_DIRECTORY, 0);
	if (parent < 0)
		return parent;
	while (i < len) {
		char name[NAME_MAX + 1];
		size_t start, clen;
		bool last;
		int fd;

		while (i < len && path[i] == '/')
			i++;
		if (i >= len)
			break;
		start = i;
		while (i < len && path[i] != '/')
			i++;
		clen = i - start;
		if (clen > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, path + start, clen);
		name[clen] = '\0';
		memcpy(prefix, path, i);
		prefix[i] = '\0';
		last = true;
		for (size_t j = i; j < len; j++)
			if (path[j] != '/') {
				last = false;
				break;
			}
		if (strcmp(name, ".") == 0)
			continue;

		/* Resolve the whole prefix from the root each time: a symlink met
		 * on the way is followed inside the root, never out of it. */
		fd = open_in_root(rootfd, prefix, O_PATH, 0);
		if (fd == -ENOENT && strcmp(name, "..") != 0) {
			int r;

			if (last && last_is_file) {
				int ffd = openat(parent, name,
						 O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
						 0644);
				r = ffd < 0 ? -errno : 0;
				if (ffd >= 0)
					close(ffd);
			} else {
				r = mkdirat(parent, name, 0755) < 0 ? -errno : 0;
			}
			/* EEXIST: a dangling symlink (not followed by mkdir) or a race;
			 * the re-resolution below decides. */
			if (r < 0 && r != -EEXIST)
				return r;
			fd = open_in_root(rootfd, prefix, O_PATH, 0);
		}
		if (fd < 0)
			return fd;
		closep(&parent);
		parent = fd;
	}
	return TAKE_FD(parent);
}
