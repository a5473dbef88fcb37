/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's OCI parsers on arbitrary bytes: config.json, a bare process
 * (exec) and bare LinuxResources (update). Whatever is refused must say why
 * and return nothing; whatever is accepted must free cleanly, and an
 * accepted seccomp profile must build (not load) a libseccomp filter. Short
 * inputs also go through the id, path and signal helpers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/oci-spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(int r, const struct error *err)
{
	if (r >= 0)
		return;
	if (!err->msg[0] || err->code != r)
		__builtin_trap();
}

static void helpers(const uint8_t *data, size_t size)
{
	char s[512], *out = NULL;
	int r;

	if (size >= sizeof(s))
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)oci_id_valid(s);
	r = oci_signal_parse(s);
	if (r == 0 || r > 64)
		__builtin_trap();
	if (oci_path_normalize(s, &out) == 0) {
		/* normalized: absolute, no "." or ".." component, no "//" */
		if (out[0] != '/' || strstr(out, "//") || strstr(out, "/./") || strstr(out, "/../"))
			__builtin_trap();
		free(out);
	}
	if (oci_path_in_root("/run/c/rootfs", s, &out) == 0) {
		if (strncmp(out, "/run/c/rootfs", 13) != 0 || (out[13] && out[13] != '/') ||
		    strstr(out, "/../"))
			__builtin_trap();
		free(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *json = (const char *)data;
	struct oci_resources *res = NULL;
	struct oci_process *proc = NULL;
	struct oci_spec *spec = NULL;
	struct error err = { 0 };
	int r;

	r = oci_spec_parse(json, size, &spec, &err);
	check_error(r, &err);
	if (r >= 0) {
		if (!spec || !spec->oci_version)
			__builtin_trap();
		if (spec->linux_.seccomp) {
			scmp_filter_ctx ctx;

			error_clear(&err);
			r = oci_seccomp_build(spec->linux_.seccomp, &ctx, &err);
			check_error(r, &err);
			if (r >= 0)
				seccomp_release(ctx);
		}
		oci_spec_free(spec);
	} else if (spec) {
		__builtin_trap();
	}

	error_clear(&err);
	r = oci_process_parse(json, size, &proc, &err);
	check_error(r, &err);
	if (r >= 0) {
		if (!proc || proc->n_args == 0 || !proc->args[0] || proc->args[proc->n_args] ||
		    !proc->env || !proc->cwd)
			__builtin_trap();
		oci_process_free(proc);
	}

	error_clear(&err);
	r = oci_resources_parse(json, size, &res, &err);
	check_error(r, &err);
	if (r >= 0)
		oci_resources_free(res);

	helpers(data, size);
	return 0;
}
