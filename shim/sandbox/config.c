/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "json-util.h"

static const char *const fs_cache_names[] = {
	[SANDBOX_FS_CACHE_AUTO] = "auto",
	[SANDBOX_FS_CACHE_ALWAYS] = "always",
	[SANDBOX_FS_CACHE_NONE] = "none",
};

static const char *const fs_sandbox_names[] = {
	[SANDBOX_FS_SANDBOX_CHROOT] = "chroot",
	[SANDBOX_FS_SANDBOX_NAMESPACE] = "namespace",
};

const char *sandbox_fs_cache_to_string(enum sandbox_fs_cache c)
{
	return (size_t)c < ARRAY_SIZE(fs_cache_names) ? fs_cache_names[c] : NULL;
}

const char *sandbox_fs_sandbox_to_string(enum sandbox_fs_sandbox s)
{
	return (size_t)s < ARRAY_SIZE(fs_sandbox_names) ? fs_sandbox_names[s] : NULL;
}

void sandbox_config_free(struct sandbox_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->kernel);
	free(cfg->initramfs);
	free(cfg->kernel_params);
	free(cfg->vmm_path);
	free(cfg->virtiofsd_path);
	free(cfg->source);
	memset(cfg, 0, sizeof(*cfg));
}

static bool executable(const char *path)
{
	return access(path, X_OK) == 0;
}

/* nacelle-vmm next to this program (the shim's directory), else on $PATH,
 * else where `make install` puts it. */
static char *default_vmm_path(void)
{
	char self[PATH_MAX], cand[PATH_MAX];
	const char *path_env = getenv("PATH");
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(cand, sizeof(cand), "%s/%s", self, SANDBOX_VMM_NAME) <
				    (int)sizeof(cand) &&
			    executable(cand))
				return strdup(cand);
		}
	}
	while (path_env && *path_env) {
		const char *end = strchrnul(path_env, ':');
		int len = (int)(end - path_env);

		if (len > 0 && path_env[0] == '/' &&
		    snprintf(cand, sizeof(cand), "%.*s/%s", len, path_env, SANDBOX_VMM_NAME) <
			    (int)sizeof(cand) &&
		    executable(cand))
			return strdup(cand);
		path_env = *end ? end + 1 : end;
	}
	return strdup(NACELLE_PREFIX "/bin/" SANDBOX_VMM_NAME);
}

int sandbox_config_defaults(struct sandbox_config *ret)
{
	struct sandbox_config cfg = {
		.kernel = strdup(SANDBOX_DEFAULT_KERNEL),
		.initramfs = strdup(SANDBOX_DEFAULT_INITRAMFS),
		.kernel_params = strdup(""),
		.vmm_path = default_vmm_path(),
		.virtiofsd_path = strdup(SANDBOX_DEFAULT_VIRTIOFSD),
		.virtiofsd_cache = SANDBOX_FS_CACHE_AUTO,
		.virtiofsd_sandbox = SANDBOX_FS_SANDBOX_CHROOT,
		.vcpus = SANDBOX_DEFAULT_VCPUS,
		.memory_mib = SANDBOX_DEFAULT_MEMORY_MIB,
		.boot_timeout_seconds = SANDBOX_DEFAULT_BOOT_TIMEOUT,
		.debug = false,
	};

	if (!cfg.kernel || !cfg.initramfs || !cfg.kernel_params || !cfg.vmm_path ||
	    !cfg.virtiofsd_path) {
		sandbox_config_free(&cfg);
		return -ENOMEM;
	}
	*ret = cfg;
	return 0;
}

/* ---- keys ---- */

struct config_key {
	const char *name;
	int (*parse)(struct sandbox_config *cfg, const char *where, const char *key, yajl_val v,
		     struct error *err);
};

static int set_string(char **field, const char *s, const char *where, const char *key,
		      struct error *err)
{
	char *copy = strdup(s);

	if (!copy)
		return error_set(err, -ENOMEM, "%s: %s: out of memory", where, key);
	free(*field);
	*field = copy;
	return 0;
}

static int parse_abs_path(char **field, const char *where, const char *key, yajl_val v,
			  struct error *err)
{
	if (!YAJL_IS_STRING(v))
		return error_set(err, -EINVAL, "%s: %s: expected a string (an absolute path)",
				 where, key);
	if (v->u.string[0] != '/')
		return error_set(err, -EINVAL, "%s: %s: \"%.200s\" is not an absolute path", where,
				 key, v->u.string);
	if (strlen(v->u.string) > SANDBOX_MAX_CONFIG_PATH)
		return error_set(err, -EINVAL, "%s: %s: path longer than %d bytes", where, key,
				 SANDBOX_MAX_CONFIG_PATH);
	return set_string(field, v->u.string, where, key, err);
}

static int parse_uint(unsigned int *field, unsigned int min, unsigned int max, const char *where,
		      const char *key, yajl_val v, struct error *err)
{
	if (!YAJL_IS_INTEGER(v))
		return error_set(err, -EINVAL, "%s: %s: expected an integer", where, key);
	if (YAJL_GET_INTEGER(v) < (long long)min || YAJL_GET_INTEGER(v) > (long long)max)
		return error_set(err, -EINVAL, "%s: %s: %lld is outside %u..%u", where, key,
				 YAJL_GET_INTEGER(v), min, max);
	*field = (unsigned int)YAJL_GET_INTEGER(v);
	return 0;
}

static int key_kernel(struct sandbox_config *cfg, const char *where, const char *key, yajl_val v,
		      struct error *err)
{
	return parse_abs_path(&cfg->kernel, where, key, v, err);
}

static int key_initramfs(struct sandbox_config *cfg, const char *where, const char *key,
			 yajl_val v, struct error *err)
{
	return parse_abs_path(&cfg->initramfs, where, key, v, err);
}

static int key_vmm_path(struct sandbox_config *cfg, const char *where, const char *key,
			yajl_val v, struct error *err)
{
	return parse_abs_path(&cfg->vmm_path, where, key, v, err);
}

static int key_virtiofsd_path(struct sandbox_config *cfg, const char *where, const char *key,
			      yajl_val v, struct error *err)
{
	return parse_abs_path(&cfg->virtiofsd_path, where, key, v, err);
}

static int key_kernel_params(struct sandbox_config *cfg, const char *where, const char *key,
			     yajl_val v, struct error *err)
{
	if (!YAJL_IS_STRING(v))
		return error_set(err, -EINVAL, "%s: %s: expected a string", where, key);
	if (strlen(v->u.string) > SANDBOX_MAX_KERNEL_PARAMS)
		return error_set(err, -EINVAL, "%s: %s: longer than %d bytes", where, key,
				 SANDBOX_MAX_KERNEL_PARAMS);
	for (const char *p = v->u.string; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return error_set(err, -EINVAL, "%s: %s: control character in the parameters",
					 where, key);
	return set_string(&cfg->kernel_params, v->u.string, where, key, err);
}

static int parse_enum(unsigned int *field, const char *const *names, size_t n, const char *where,
		      const char *key, yajl_val v, struct error *err)
{
	char expected[128] = "";
	size_t off = 0;

	if (YAJL_IS_STRING(v))
		for (size_t i = 0; i < n; i++)
			if (strcmp(names[i], v->u.string) == 0) {
				*field = (unsigned int)i;
				return 0;
			}
	for (size_t i = 0; i < n && off < sizeof(expected); i++)
		off += (size_t)snprintf(expected + off, sizeof(expected) - off, "%s\"%s\"",
					i ? ", " : "", names[i]);
	if (!YAJL_IS_STRING(v))
		return error_set(err, -EINVAL, "%s: %s: expected a string (one of %s)", where, key,
				 expected);
	return error_set(err, -EINVAL, "%s: %s: \"%.64s\" is not one of %s", where, key,
			 v->u.string, expected);
}

static int key_virtiofsd_cache(struct sandbox_config *cfg, const char *where, const char *key,
			       yajl_val v, struct error *err)
{
	unsigned int c;
	int r = parse_enum(&c, fs_cache_names, ARRAY_SIZE(fs_cache_names), where, key, v, err);

	if (r >= 0)
		cfg->virtiofsd_cache = (enum sandbox_fs_cache)c;
	return r;
}

static int key_virtiofsd_sandbox(struct sandbox_config *cfg, const char *where, const char *key,
				 yajl_val v, struct error *err)
{
	unsigned int s;
	int r = parse_enum(&s, fs_sandbox_names, ARRAY_SIZE(fs_sandbox_names), where, key, v, err);

	if (r >= 0)
		cfg->virtiofsd_sandbox = (enum sandbox_fs_sandbox)s;
	return r;
}

static int key_vcpus(struct sandbox_config *cfg, const char *where, const char *key, yajl_val v,
		     struct error *err)
{
	return parse_uint(&cfg->vcpus, SANDBOX_MIN_VCPUS, SANDBOX_MAX_VCPUS, where, key, v, err);
}

static int key_memory_mib(struct sandbox_config *cfg, const char *where, const char *key,
			  yajl_val v, struct error *err)
{
	return parse_uint(&cfg->memory_mib, SANDBOX_MIN_MEMORY_MIB, SANDBOX_MAX_MEMORY_MIB, where,
			  key, v, err);
}

static int key_boot_timeout(struct sandbox_config *cfg, const char *where, const char *key,
			    yajl_val v, struct error *err)
{
	return parse_uint(&cfg->boot_timeout_seconds, SANDBOX_MIN_BOOT_TIMEOUT,
			  SANDBOX_MAX_BOOT_TIMEOUT, where, key, v, err);
}

static int key_debug(struct sandbox_config *cfg, const char *where, const char *key, yajl_val v,
		     struct error *err)
{
	if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
		return error_set(err, -EINVAL, "%s: %s: expected true or false", where, key);
	cfg->debug = YAJL_IS_TRUE(v);
	return 0;
}

static const struct config_key config_keys[] = {
	{ "kernel", key_kernel },
	{ "initramfs", key_initramfs },
	{ "kernel_params", key_kernel_params },
	{ "vmm_path", key_vmm_path },
	{ "virtiofsd_path", key_virtiofsd_path },
	{ "virtiofsd_cache", key_virtiofsd_cache },
	{ "virtiofsd_sandbox", key_virtiofsd_sandbox },
	{ "vcpus", key_vcpus },
	{ "memory_mib", key_memory_mib },
	{ "boot_timeout_seconds", key_boot_timeout },
	{ "debug", key_debug },
};

int sandbox_config_parse(struct sandbox_config *cfg, const char *json, size_t len,
			 const char *where, struct error *err)
{
	yajl_val root = NULL;
	uint64_t seen = 0;
	int r;

	r = sjson_parse(json, len, SANDBOX_CONFIG_MAX_BYTES, where, &root, err);
	if (r < 0)
		return r;
	if (!YAJL_IS_OBJECT(root)) {
		yajl_tree_free(root);
		return error_set(err, -EINVAL, "%s: expected a JSON object", where);
	}
	for (size_t i = 0; i < root->u.object.len; i++) {
		const char *key = root->u.object.keys[i];
		size_t k;

		for (k = 0; k < ARRAY_SIZE(config_keys); k++)
			if (strcmp(config_keys[k].name, key) == 0)
				break;
		if (k == ARRAY_SIZE(config_keys)) {
			r = error_set(err, -EINVAL, "%s: unknown key \"%.64s\"", where, key);
			break;
		}
		if (seen & (UINT64_C(1) << k)) {
			r = error_set(err, -EINVAL, "%s: key \"%s\" given more than once", where,
				      key);
			break;
		}
		seen |= UINT64_C(1) << k;
		r = config_keys[k].parse(cfg, where, key, root->u.object.values[i], err);
		if (r < 0)
			break;
	}
	yajl_tree_free(root);
	return r < 0 ? r : 0;
}

int sandbox_config_load(const char *config_path, struct sandbox_config *ret, struct error *err)
{
	struct sandbox_config cfg;
	const char *path = config_path;
	bool named = true;
	char *text = NULL;
	size_t len = 0;
	int r;

	if (!path || !*path)
		path = getenv(SANDBOX_CONFIG_ENV);
	if (!path || !*path) {
		path = SANDBOX_CONFIG_DEFAULT_PATH;
		named = false;
	}
	r = sandbox_config_defaults(&cfg);
	if (r < 0)
		return error_set(err, r, "configuration: out of memory");
	r = sjson_read_file(path, SANDBOX_CONFIG_MAX_BYTES, &text, &len);
	if (r == -ENOENT && !named) {
		log_debug("sandbox: no %s, using the built-in defaults", path);
		*ret = cfg;
		return 0;
	}
	if (r < 0) {
		sandbox_config_free(&cfg);
		if (r == -E2BIG)
			return error_set(err, r, "%s: larger than %u bytes", path,
					 SANDBOX_CONFIG_MAX_BYTES);
		if (r == -EINVAL)
			return error_set(err, r, "%s: not a regular file", path);
		return error_set(err, r, "%s: %s", path, strerror(-r));
	}
	r = sandbox_config_parse(&cfg, text, len, path, err);
	free(text);
	if (r >= 0) {
		cfg.source = strdup(path);
		if (!cfg.source)
			r = error_set(err, -ENOMEM, "configuration: out of memory");
	}
	if (r < 0) {
		sandbox_config_free(&cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}

#define ANNOTATION_PREFIX "io.nacelle."

static int annotation_uint(const char *key, const char *value, unsigned int min, unsigned int max,
			   unsigned int *field, struct error *err)
{
	char *end;
	unsigned long long n;

	if (!value[0] || value[0] < '0' || value[0] > '9')
		return error_set(err, -EINVAL, "annotation %s: \"%.32s\" is not a number", key,
				 value);
	errno = 0;
	n = strtoull(value, &end, 10);
	if (errno || *end)
		return error_set(err, -EINVAL, "annotation %s: \"%.32s\" is not a number", key,
				 value);
	if (n < min || n > max)
		return error_set(err, -EINVAL, "annotation %s: %llu is outside %u..%u", key, n, min,
				 max);
	*field = (unsigned int)n;
	return 0;
}

int sandbox_config_apply_annotations(struct sandbox_config *cfg, const char *const *keys,
				     const char *const *values, size_t n, struct error *err)
{
	for (size_t i = 0; i < n; i++) {
		const char *key = keys[i];
		int r;

		if (strncmp(key, ANNOTATION_PREFIX, strlen(ANNOTATION_PREFIX)) != 0)
			continue;
		if (strcmp(key, ANNOTATION_PREFIX "vcpus") == 0)
			r = annotation_uint(key, values[i], SANDBOX_MIN_VCPUS, SANDBOX_MAX_VCPUS,
					    &cfg->vcpus, err);
		else if (strcmp(key, ANNOTATION_PREFIX "memory_mib") == 0)
			r = annotation_uint(key, values[i], SANDBOX_MIN_MEMORY_MIB,
					    SANDBOX_MAX_MEMORY_MIB, &cfg->memory_mib, err);
		else
			r = error_set(err, -EINVAL,
				      "annotation %.100s: not a key pods may set (allowed: "
				      ANNOTATION_PREFIX "vcpus, " ANNOTATION_PREFIX "memory_mib)",
				      key);
		if (r < 0)
			return r;
	}
	return 0;
}
