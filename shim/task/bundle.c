/* SPDX-License-Identifier: Apache-2.0 */
/* Bundle reading, the shim socket address and the address file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <yajl/yajl_tree.h>

#include "cmd.h"
#include "common/log.h"
#include "shim/task.h"
#include "ttrpc/wire.h"

static int read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb;

			if (cap >= max)
				return -EFBIG;
			cap = cap ? MIN(cap * 2, max) : 64 * 1024;
			nb = realloc(buf, cap + 1);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static const char *annotation(yajl_val annotations, const char *key)
{
	const char *path[] = { key, NULL };
	yajl_val v = annotations ? yajl_tree_get(annotations, path, yajl_t_string) : NULL;

	return v ? YAJL_GET_STRING(v) : NULL;
}

int shim_bundle_group(const char *bundle, const char *id, char **ret_group, bool *ret_joins,
		      struct error *err)
{
	static const char *ann_path[] = { "annotations", NULL };
	_cleanup_free_ char *path = NULL, *json = NULL;
	const char *type, *sandbox = NULL;
	char errbuf[256];
	yajl_val tree, ann;
	size_t len;
	int r;

	if (asprintf(&path, "%s/config.json", bundle) < 0)
		return error_set(err, -ENOMEM, "out of memory");
	r = read_file(path, SHIM_CONFIG_JSON_MAX, &json, &len);
	if (r == -ENOENT) {
		*ret_joins = false;
		*ret_group = strdup(id);
		return *ret_group ? 0 : error_set(err, -ENOMEM, "out of memory");
	}
	if (r < 0)
		return error_set(err, r, "reading %s: %s", path, strerror(-r));
	tree = yajl_tree_parse(json, errbuf, sizeof(errbuf));
	if (!tree)
		return error_set(err, -EINVAL, "parsing %s: %s", path, errbuf);
	ann = yajl_tree_get(tree, ann_path, yajl_t_object);
	type = annotation(ann, ANNOTATION_CONTAINER_TYPE);
	if (type && strcmp(type, "container") == 0) {
		sandbox = annotation(ann, ANNOTATION_SANDBOX_ID);
	} else if (!type) {
		type = annotation(ann, ANNOTATION_DOCKER_TYPE);
		if (type && strcmp(type, "container") == 0)
			sandbox = annotation(ann, ANNOTATION_DOCKER_SANDBOX_ID);
	}
	if (type && strcmp(type, "container") == 0) {
		if (!sandbox) {
			yajl_tree_free(tree);
			return error_set(err, -EINVAL, "%s: a pod container without a sandbox id",
					 path);
		}
		r = shim_id_validate(sandbox, err);
		if (r < 0) {
			yajl_tree_free(tree);
			return error_wrap(err, "%s: sandbox id", path);
		}
		*ret_joins = strcmp(sandbox, id) != 0;
		*ret_group = strdup(sandbox);
	} else {
		*ret_joins = false;
		*ret_group = strdup(id);
	}
	yajl_tree_free(tree);
	return *ret_group ? 0 : error_set(err, -ENOMEM, "out of memory");
}

int shim_socket_address(const char *containerd_address, const char *ns, const char *group,
			char **ret, struct error *err)
{
	_cleanup_free_ char *input = NULL, *addr = NULL;
	const char *dir = getenv(SHIM_SOCKET_DIR_ENV);
	unsigned char md[EVP_MAX_MD_SIZE];
	char hex[2 * 32 + 1];
	unsigned int md_len = 0;
	size_t alen = strlen(containerd_address);

	/* Go's filepath.Join(address, ns, group): one separator between
	 * non-empty parts. */
	while (alen > 1 && containerd_address[alen - 1] == '/')
		alen--;
	if (asprintf(&input, "%.*s%s%s/%s", (int)alen, containerd_address, alen ? "/" : "", ns,
		     group) < 0)
		return error_set(err, -ENOMEM, "out of memory");
	if (!EVP_Digest(input, strlen(input), md, &md_len, EVP_sha256(), NULL) || md_len != 32)
		return error_set(err, -EIO, "sha256 failed");
	for (unsigned i = 0; i < md_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (asprintf(&addr, "unix://%s/%s", dir && dir[0] ? dir : SHIM_DEFAULT_STATE_DIR "/s",
		     hex) < 0)
		return error_set(err, -ENOMEM, "out of memory");
	/* sun_path holds 108 bytes; containerd checks the same limit. */
	if (strlen(addr) - strlen("unix://") >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return error_set(err, -ENAMETOOLONG, "socket path %s is too long", addr);
	*ret = TAKE_PTR(addr);
	return 0;
}

int shim_write_address(const char *bundle, const char *address, struct error *err)
{
	_cleanup_free_ char *tmp = NULL, *path = NULL;
	_cleanup_close_ int fd = -1;
	size_t len = strlen(address), off = 0;

	if (asprintf(&tmp, "%s/.%s", bundle, SHIM_ADDRESS_FILE) < 0 ||
	    asprintf(&path, "%s/%s", bundle, SHIM_ADDRESS_FILE) < 0)
		return error_set(err, -ENOMEM, "out of memory");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_set(err, -errno, "creating %s: %m", tmp);
	while (off < len) {
		ssize_t n = write(fd, address + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int r = n < 0 ? -errno : -EIO;

			unlink(tmp);
			return error_set(err, r, "writing %s: %s", tmp, strerror(-r));
		}
		off += n;
	}
	if (rename(tmp, path) < 0) {
		int r = -errno;

		unlink(tmp);
		return error_set(err, r, "renaming %s: %s", tmp, strerror(-r));
	}
	return 0;
}

bool shim_address_alive(const char *address)
{
	struct sockaddr_un sa;
	socklen_t len;
	_cleanup_close_ int fd = -1;

	if (ttrpc_address_parse(address, &sa, &len) < 0)
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return fd >= 0 && connect(fd, (struct sockaddr *)&sa, len) == 0;
}

int shim_getcwd(char **ret)
{
	char *cwd = getcwd(NULL, 0);

	if (!cwd)
		return -errno;
	*ret = cwd;
	return 0;
}

int shim_open_log_fifo(const char *bundle)
{
	_cleanup_free_ char *path = NULL;
	struct stat st;
	int fd;

	if (asprintf(&path, "%s/%s", bundle, SHIM_LOG_FIFO) < 0)
		return -ENOMEM;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISFIFO(st.st_mode))
		return -EINVAL;
	/* O_NONBLOCK: fail with ENXIO instead of waiting for a reader. */
	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}
