/* SPDX-License-Identifier: Apache-2.0 */
#include "vm-config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "util.h"

void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

int sandbox_kernel_cmdline(const struct sandbox_config *cfg, char **ret)
{
	const char *extra = cfg->kernel_params ? cfg->kernel_params : "";
	char *s = strprintf("%s%s%s%s", SANDBOX_BASE_CMDLINE, cfg->debug ? "" : " quiet",
			    extra[0] ? " " : "", extra);

	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

#define GEN(x)                                                                 \
	do {                                                                   \
		if ((x) != yajl_gen_status_ok)                                 \
			goto fail;                                             \
	} while (0)

static yajl_gen_status gen_str(yajl_gen g, const char *s)
{
	return yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static yajl_gen_status gen_kv_str(yajl_gen g, const char *k, const char *v)
{
	yajl_gen_status s = gen_str(g, k);

	return s == yajl_gen_status_ok ? gen_str(g, v) : s;
}

static yajl_gen_status gen_kv_int(yajl_gen g, const char *k, long long v)
{
	yajl_gen_status s = gen_str(g, k);

	return s == yajl_gen_status_ok ? yajl_gen_integer(g, v) : s;
}

int sandbox_vm_config_json(const struct sandbox_config *cfg, const struct sandbox_paths *paths,
			   char **ret_json, struct error *err)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	char *cmdline = NULL, *out;
	const unsigned char *buf;
	size_t len;

	if (!g || sandbox_kernel_cmdline(cfg, &cmdline) < 0)
		goto fail;
	GEN(yajl_gen_map_open(g));

	GEN(gen_str(g, "payload"));
	GEN(yajl_gen_map_open(g));
	GEN(gen_kv_str(g, "kernel", cfg->kernel));
	GEN(gen_kv_str(g, "initramfs", cfg->initramfs));
	GEN(gen_kv_str(g, "cmdline", cmdline));
	GEN(yajl_gen_map_close(g));

	GEN(gen_str(g, "cpus"));
	GEN(yajl_gen_map_open(g));
	GEN(gen_kv_int(g, "boot_vcpus", cfg->vcpus));
	GEN(gen_kv_int(g, "max_vcpus", cfg->vcpus));
	GEN(yajl_gen_map_close(g));

	/* Shared: virtiofsd maps guest RAM (vhost-user). */
	GEN(gen_str(g, "memory"));
	GEN(yajl_gen_map_open(g));
	GEN(gen_kv_int(g, "size", (long long)cfg->memory_mib * (long long)MiB));
	GEN(gen_str(g, "shared"));
	GEN(yajl_gen_bool(g, 1));
	GEN(yajl_gen_map_close(g));

	GEN(gen_str(g, "fs"));
	GEN(yajl_gen_array_open(g));
	GEN(yajl_gen_map_open(g));
	GEN(gen_kv_str(g, "tag", SANDBOX_FS_TAG));
	GEN(gen_kv_str(g, "socket", paths->fs_sock));
	GEN(gen_kv_int(g, "num_queues", 1));
	GEN(gen_kv_int(g, "queue_size", SANDBOX_FS_QUEUE_SIZE));
	GEN(yajl_gen_map_close(g));
	GEN(yajl_gen_array_close(g));

	GEN(gen_str(g, "vsock"));
	GEN(yajl_gen_map_open(g));
	GEN(gen_kv_int(g, "cid", SANDBOX_GUEST_CID));
	GEN(gen_kv_str(g, "socket", paths->vsock_sock));
	GEN(yajl_gen_map_close(g));

	/* Entropy for the guest (gRPC and the containers want some early). */
	GEN(gen_str(g, "rng"));
	GEN(yajl_gen_map_open(g));
	GEN(gen_kv_str(g, "src", "/dev/urandom"));
	GEN(yajl_gen_map_close(g));

	GEN(gen_str(g, "serial"));
	GEN(yajl_gen_map_open(g));
	GEN(gen_kv_str(g, "mode", "File"));
	GEN(gen_kv_str(g, "file", paths->console_log));
	GEN(yajl_gen_map_close(g));

	GEN(gen_str(g, "console"));
	GEN(yajl_gen_map_open(g));
	GEN(gen_kv_str(g, "mode", "Off"));
	GEN(yajl_gen_map_close(g));

	GEN(yajl_gen_map_close(g));
	GEN(yajl_gen_get_buf(g, &buf, &len));
	out = strndup((const char *)buf, len);
	if (!out)
		goto fail;
	yajl_gen_free(g);
	free(cmdline);
	*ret_json = out;
	return 0;
fail:
	if (g)
		yajl_gen_free(g);
	free(cmdline);
	return error_set(err, -ENOMEM, "building the VmConfig: out of memory");
}

/* A NULL-terminated vector from printf-style items, NULL ending the list. */
static int strv_build(char ***ret, size_t max, ...)
{
	char **v = calloc(max + 1, sizeof(char *));
	size_t n = 0;
	va_list ap;
	const char *item;

	if (!v)
		return -ENOMEM;
	va_start(ap, max);
	while ((item = va_arg(ap, const char *)) && n < max) {
		v[n] = strdup(item);
		if (!v[n]) {
			va_end(ap);
			strv_free(v);
			return -ENOMEM;
		}
		n++;
	}
	va_end(ap);
	*ret = v;
	return 0;
}

int sandbox_vmm_argv(const struct sandbox_config *cfg, const struct sandbox_paths *paths,
		     char ***ret_argv)
{
	_cleanup_free_ char *api = strprintf("path=%s", paths->api_sock);

	if (!api)
		return -ENOMEM;
	/* No VM on the command line: it comes from vm.create. */
	if (cfg->debug)
		return strv_build(ret_argv, 8, cfg->vmm_path, "--api-socket", api, "-v", "-v",
				  (const char *)NULL);
	return strv_build(ret_argv, 8, cfg->vmm_path, "--api-socket", api, (const char *)NULL);
}

int sandbox_virtiofsd_argv(const struct sandbox_config *cfg, const struct sandbox_paths *paths,
			   char ***ret_argv)
{
	_cleanup_free_ char *sock = strprintf("--socket-path=%s", paths->fs_sock);
	_cleanup_free_ char *source = strprintf("source=%s", paths->shared);
	_cleanup_free_ char *cache =
		strprintf("cache=%s", sandbox_fs_cache_to_string(cfg->virtiofsd_cache));
	_cleanup_free_ char *sandbox =
		strprintf("sandbox=%s", sandbox_fs_sandbox_to_string(cfg->virtiofsd_sandbox));

	if (!sock || !source || !cache || !sandbox)
		return -ENOMEM;
	/* Foreground (its default): the runtime watches the process itself. */
	return strv_build(ret_argv, 16, cfg->virtiofsd_path, sock, "-o", source, "-o", cache, "-o",
			  sandbox, "-o", cfg->debug ? "log_level=debug" : "log_level=info",
			  (const char *)NULL);
}
