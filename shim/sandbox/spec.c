/* SPDX-License-Identifier: Apache-2.0 */
#include "spec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "json-util.h"
#include "util.h"

/* The sandbox container's /dev/shm when it has none to share. */
static const char *const shm_tmpfs_options[] = { "nosuid", "noexec", "nodev", "mode=1777",
						 "size=65536k" };

int spec_load(const char *bundle, yajl_val *ret, struct error *err)
{
	_cleanup_free_ char *path = strprintf("%s/config.json", bundle);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	yajl_val v = NULL;
	int r;

	if (!path)
		return error_set(err, -ENOMEM, "out of memory");
	r = sjson_read_file(path, SPEC_MAX_BYTES, &text, &len);
	if (r < 0)
		return error_set(err, r, "%s: %s", path,
				 r == -E2BIG ? "larger than 4 MiB" : strerror(-r));
	r = sjson_parse(text, len, SPEC_MAX_BYTES, path, &v, err);
	if (r < 0)
		return r;
	if (!YAJL_IS_OBJECT(v)) {
		yajl_tree_free(v);
		return error_set(err, -EINVAL, "%s: not a JSON object", path);
	}
	*ret = v;
	return 0;
}

const char *spec_annotation(yajl_val spec, const char *key)
{
	return sjson_get_string(sjson_get(spec, "annotations"), key);
}

int spec_annotations(yajl_val spec, const char ***ret_keys, const char ***ret_values,
		     size_t *ret_n)
{
	yajl_val a = sjson_get(spec, "annotations");
	size_t n = 0, len = YAJL_IS_OBJECT(a) ? a->u.object.len : 0;
	const char **keys = calloc(len + 1, sizeof(char *));
	const char **values = calloc(len + 1, sizeof(char *));

	if (!keys || !values) {
		free(keys);
		free(values);
		return -ENOMEM;
	}
	for (size_t i = 0; i < len; i++) {
		if (!YAJL_IS_STRING(a->u.object.values[i]))
			continue;
		keys[n] = a->u.object.keys[i];
		values[n++] = a->u.object.values[i]->u.string;
	}
	*ret_keys = keys;
	*ret_values = values;
	*ret_n = n;
	return 0;
}

static char *resolve(const char *bundle, const char *path)
{
	return path[0] == '/' ? strdup(path) : strprintf("%s/%s", bundle, path);
}

int spec_host_root(yajl_val spec, const char *bundle, char **ret, struct error *err)
{
	const char *path = sjson_get_string(sjson_get(spec, "root"), "path");

	if (!path || !*path)
		return error_set(err, -EINVAL, "config.json: root.path is missing");
	*ret = resolve(bundle, path);
	return *ret ? 0 : error_set(err, -ENOMEM, "out of memory");
}

void spec_result_free(struct spec_result *r)
{
	if (!r)
		return;
	free(r->json);
	free(r->rootfs);
	for (size_t i = 0; i < r->n_shares; i++) {
		free(r->shares[i].source);
		free(r->shares[i].rel);
	}
	free(r->shares);
	memset(r, 0, sizeof(*r));
}

/* ---- mounts ---- */

static bool has_option(yajl_val options, const char *opt)
{
	if (!YAJL_IS_ARRAY(options))
		return false;
	for (size_t i = 0; i < options->u.array.len; i++)
		if (YAJL_IS_STRING(options->u.array.values[i]) &&
		    strcmp(options->u.array.values[i]->u.string, opt) == 0)
			return true;
	return false;
}

static bool is_bind(yajl_val m)
{
	const char *type = sjson_get_string(m, "type");
	yajl_val options = sjson_get(m, "options");

	return (type && strcmp(type, "bind") == 0) || has_option(options, "bind") ||
	       has_option(options, "rbind");
}

static int set_options(yajl_val m, const char *const *opts, size_t n)
{
	yajl_val arr = sjson_new_array();
	int r;

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = sjson_append_take(arr, sjson_new_string(opts[i]));
		if (r < 0) {
			yajl_tree_free(arr);
			return r;
		}
	}
	return sjson_set_take(m, "options", arr);
}

/* /dev/shm: the sandbox's tmpfs, shared through /proc in the guest. */
static int rewrite_shm(yajl_val m, const struct spec_guest *g)
{
	int r;

	if (g->sandbox_pid) {
		char src[64];

		snprintf(src, sizeof(src), "/proc/%" PRIu32 "/root/dev/shm", g->sandbox_pid);
		r = sjson_set_string(m, "type", "bind");
		if (r >= 0)
			r = sjson_set_string(m, "source", src);
		if (r >= 0 && !has_option(sjson_get(m, "options"), "rbind") &&
		    !has_option(sjson_get(m, "options"), "bind")) {
			static const char *const opts[] = { "rbind", "rw" };

			r = set_options(m, opts, ARRAY_SIZE(opts));
		}
		return r;
	}
	r = sjson_set_string(m, "type", "tmpfs");
	if (r >= 0)
		r = sjson_set_string(m, "source", "shm");
	if (r >= 0)
		r = set_options(m, shm_tmpfs_options, ARRAY_SIZE(shm_tmpfs_options));
	return r;
}

static int add_share(struct spec_result *res, const char *source, const char *rel, bool recursive,
		     bool readonly)
{
	struct spec_share *v = realloc(res->shares, (res->n_shares + 1) * sizeof(*v));
	struct spec_share *s;

	if (!v)
		return -ENOMEM;
	res->shares = v;
	s = &v[res->n_shares];
	s->source = strdup(source);
	s->rel = strdup(rel);
	s->recursive = recursive;
	s->readonly = readonly;
	if (!s->source || !s->rel) {
		free(s->source);
		free(s->rel);
		return -ENOMEM;
	}
	res->n_shares++;
	return 0;
}

static int rewrite_mounts(yajl_val spec, const struct spec_guest *g, struct spec_result *res,
			  struct error *err)
{
	yajl_val mounts = sjson_get(spec, "mounts");
	size_t i = 0;
	int r;

	if (!mounts)
		return 0;
	if (!YAJL_IS_ARRAY(mounts))
		return error_set(err, -EINVAL, "config.json: mounts: expected an array");
	while (i < mounts->u.array.len) {
		yajl_val m = mounts->u.array.values[i];
		const char *dest = sjson_get_string(m, "destination");
		const char *source = sjson_get_string(m, "source");
		_cleanup_free_ char *host = NULL, *rel = NULL, *guest = NULL;
		struct stat st;

		if (!YAJL_IS_OBJECT(m) || !dest)
			return error_set(err, -EINVAL,
					 "config.json: mounts[%zu]: expected an object with a destination",
					 i);
		if (!is_bind(m)) {
			i++;
			continue;
		}
		if (strcmp(dest, "/dev/shm") == 0) {
			r = rewrite_shm(m, g);
			if (r < 0)
				return error_set(err, r, "out of memory");
			i++;
			continue;
		}
		if (!source || !*source)
			return error_set(err, -EINVAL, "config.json: mounts[%zu] (%.200s): bind without a source",
					 i, dest);
		host = resolve(g->bundle, source);
		if (!host)
			return error_set(err, -ENOMEM, "out of memory");
		if (stat(host, &st) < 0)
			return error_set(err, -errno, "mount %.200s: source %.200s: %s", dest, host,
					 strerror(errno));
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
			/* A host socket, FIFO or device node means nothing in the VM. */
			log_warn("sandbox: %s: not sharing mount %s from %s (not a file or directory)",
				 g->container_id, dest, host);
			sjson_array_remove(mounts, i);
			continue;
		}
		if (res->n_shares >= SPEC_MAX_SHARES)
			return error_set(err, -E2BIG, "config.json: more than %d bind mounts",
					 SPEC_MAX_SHARES);
		rel = strprintf("%s/mounts/%zu", g->container_id, res->n_shares);
		guest = rel ? strprintf("%s/%s", g->guest_shared, rel) : NULL;
		if (!guest)
			return error_set(err, -ENOMEM, "out of memory");
		r = add_share(res, host, rel, has_option(sjson_get(m, "options"), "rbind"),
			      has_option(sjson_get(m, "options"), "ro"));
		if (r >= 0)
			r = sjson_set_string(m, "source", guest);
		if (r < 0)
			return error_set(err, r, "out of memory");
		i++;
	}
	return 0;
}

/* ---- namespaces ---- */

/* "/proc/<pid>/ns/<type>" with pid one of ours. */
static bool own_ns_path(const char *path, const struct spec_guest *g)
{
	unsigned long pid;
	char *end;

	if (strncmp(path, "/proc/", 6) != 0)
		return false;
	errno = 0;
	pid = strtoul(path + 6, &end, 10);
	if (errno || end == path + 6 || strncmp(end, "/ns/", 4) != 0 || !end[4] ||
	    strchr(end + 4, '/'))
		return false;
	for (size_t i = 0; i < g->n_ns_pids; i++)
		if (g->ns_pids[i] != 0 && g->ns_pids[i] == pid)
			return true;
	return false;
}

static int rewrite_namespaces(yajl_val linux_obj, const struct spec_guest *g, struct error *err)
{
	yajl_val ns = sjson_get(linux_obj, "namespaces");
	size_t i = 0;

	if (!ns)
		return 0;
	if (!YAJL_IS_ARRAY(ns))
		return error_set(err, -EINVAL, "config.json: linux.namespaces: expected an array");
	while (i < ns->u.array.len) {
		yajl_val n = ns->u.array.values[i];
		const char *type = sjson_get_string(n, "type");
		const char *path = sjson_get_string(n, "path");

		if (type && strcmp(type, "network") == 0) {
			sjson_array_remove(ns, i);
			continue;
		}
		if (path && *path && !own_ns_path(path, g)) {
			log_debug("sandbox: %s: %s namespace: dropping host path %s",
				  g->container_id, type ? type : "?", path);
			sjson_remove(n, "path");
		}
		i++;
	}
	return 0;
}

int spec_for_guest(yajl_val spec, const struct spec_guest *g, struct spec_result *ret,
		   struct error *err)
{
	struct spec_result res = { 0 };
	yajl_val root = sjson_get(spec, "root"), linux_obj = sjson_get(spec, "linux");
	yajl_val process = sjson_get(spec, "process");
	char *cgroup = NULL;
	int r;

	if (!YAJL_IS_OBJECT(spec))
		return error_set(err, -EINVAL, "config.json: not a JSON object");
	if (!YAJL_IS_OBJECT(root))
		return error_set(err, -EINVAL, "config.json: root: expected an object");
	if (linux_obj && !YAJL_IS_OBJECT(linux_obj))
		return error_set(err, -EINVAL, "config.json: linux: expected an object");
	res.rootfs = strprintf("%s/%s/rootfs", g->guest_shared, g->container_id);
	cgroup = strprintf("/nacelle/%s", g->container_id);
	if (!res.rootfs || !cgroup) {
		r = error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	r = sjson_set_string(root, "path", res.rootfs);
	if (r < 0)
		goto oom;
	sjson_remove(spec, "hooks");
	if (YAJL_IS_OBJECT(process)) {
		sjson_remove(process, "apparmorProfile");
		sjson_remove(process, "selinuxLabel");
	}
	r = rewrite_mounts(spec, g, &res, err);
	if (r < 0)
		goto fail;
	if (linux_obj) {
		r = rewrite_namespaces(linux_obj, g, err);
		if (r < 0)
			goto fail;
		sjson_remove(sjson_get(linux_obj, "resources"), "devices");
		sjson_remove(linux_obj, "mountLabel");
		sjson_remove(linux_obj, "intelRdt");
		r = sjson_set_string(linux_obj, "cgroupsPath", cgroup);
		if (r < 0)
			goto oom;
	}
	r = sjson_generate(spec, &res.json, &res.json_len);
	if (r < 0)
		goto oom;
	free(cgroup);
	*ret = res;
	return 0;
oom:
	r = error_set(err, -ENOMEM, "out of memory");
fail:
	free(cgroup);
	spec_result_free(&res);
	return r;
}

int spec_resources_for_guest(const char *json, size_t len, char **ret, size_t *ret_len,
			     struct error *err)
{
	yajl_val v = NULL;
	int r = sjson_parse(json, len, SPEC_MAX_BYTES, "resources", &v, err);

	if (r < 0)
		return r;
	if (!YAJL_IS_OBJECT(v)) {
		yajl_tree_free(v);
		return error_set(err, -EINVAL, "resources: expected a JSON object");
	}
	sjson_remove(v, "devices");
	r = sjson_generate(v, ret, ret_len);
	yajl_tree_free(v);
	return r < 0 ? error_set(err, r, "out of memory") : 0;
}
