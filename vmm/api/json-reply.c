/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Response bodies, in cloud-hypervisor's shapes: VmmPingResponse, VmInfo,
 * VmCounters, and {"error": "..."} for failures (cloud-hypervisor answers
 * errors with a plain-text body; a JSON object is what our clients parse,
 * and it still reads as text).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api-internal.h"
#include "vmm/api.h"

#ifndef NACELLE_BUILD_VERSION
#define NACELLE_BUILD_VERSION "nacelle-" NACELLE_VERSION
#endif

static const char *const vm_state_names[] = {
	[VMM_VM_NOT_CREATED] = "NotCreated", [VMM_VM_CREATED] = "Created",
	[VMM_VM_RUNNING] = "Running",	     [VMM_VM_SHUTDOWN] = "Shutdown",
	[VMM_VM_PAUSED] = "Paused",	     [VMM_VM_BREAKPOINT] = "BreakPoint",
};

const char *vmm_vm_state_to_string(enum vmm_vm_state s)
{
	if ((unsigned int)s >= ARRAY_SIZE(vm_state_names))
		return NULL;
	return vm_state_names[s];
}

/* Length of the valid UTF-8 sequence at s (up to n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

yajl_gen_status json_gen_cstring(yajl_gen g, const char *s)
{
	static const char replacement[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)s;
	size_t n, len, out = 0;
	yajl_gen_status st;
	char *buf;

	if (!s)
		return yajl_gen_null(g);
	n = strlen(s);
	/* The common case: valid already. */
	for (len = 0; len < n;) {
		size_t l = utf8_len(p + len, n - len);

		if (!l)
			break;
		len += l;
	}
	if (len == n)
		return yajl_gen_string(g, p, n);

	buf = malloc(n * 3 + 1);
	if (!buf)
		return yajl_gen_invalid_string; /* the caller only tests for ok */
	for (size_t i = 0; i < n;) {
		size_t l = utf8_len(p + i, n - i);

		if (l) {
			memcpy(buf + out, p + i, l);
			out += l;
			i += l;
		} else {
			memcpy(buf + out, replacement, 3);
			out += 3;
			i++;
		}
	}
	st = yajl_gen_string(g, (const unsigned char *)buf, out);
	free(buf);
	return st;
}

yajl_gen_status json_gen_u64(yajl_gen g, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);

	return yajl_gen_number(g, num, (size_t)n);
}

char *json_gen_take(yajl_gen g)
{
	const unsigned char *buf;
	size_t len;
	char *out = NULL;

	if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
		out = strndup((const char *)buf, len);
	yajl_gen_free(g);
	return out;
}

#define GEN(call)                                                              \
	do {                                                                   \
		if ((call) != yajl_gen_status_ok)                              \
			goto fail;                                             \
	} while (0)

static yajl_gen_status gen_key(yajl_gen g, const char *key)
{
	return yajl_gen_string(g, (const unsigned char *)key, strlen(key));
}

char *vmm_api_json_error(const char *message)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (!g)
		return NULL;
	GEN(yajl_gen_map_open(g));
	GEN(gen_key(g, "error"));
	GEN(json_gen_cstring(g, message ? message : "unknown error"));
	GEN(yajl_gen_map_close(g));
	return json_gen_take(g);
fail:
	yajl_gen_free(g);
	return NULL;
}

char *vmm_api_json_ping(void)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (!g)
		return NULL;
	GEN(yajl_gen_map_open(g));
	GEN(gen_key(g, "build_version"));
	GEN(json_gen_cstring(g, NACELLE_BUILD_VERSION));
	GEN(gen_key(g, "version"));
	GEN(json_gen_cstring(g, NACELLE_VERSION));
	GEN(gen_key(g, "pid"));
	GEN(yajl_gen_integer(g, getpid()));
	/* cloud-hypervisor lists its cargo features (kvm, io_uring...); nacelle has none. */
	GEN(gen_key(g, "features"));
	GEN(yajl_gen_array_open(g));
	GEN(yajl_gen_array_close(g));
	GEN(yajl_gen_map_close(g));
	return json_gen_take(g);
fail:
	yajl_gen_free(g);
	return NULL;
}

char *vmm_api_json_info(enum vmm_vm_state state, const struct vmm_config *cfg,
			uint64_t memory_actual_size)
{
	const char *name = vmm_vm_state_to_string(state);
	yajl_gen g;

	if (!cfg || !name)
		return NULL;
	g = yajl_gen_alloc(NULL);
	if (!g)
		return NULL;
	GEN(yajl_gen_map_open(g));
	GEN(gen_key(g, "config"));
	GEN(json_gen_config(g, cfg));
	GEN(gen_key(g, "state"));
	GEN(json_gen_cstring(g, name));
	GEN(gen_key(g, "memory_actual_size"));
	GEN(json_gen_u64(g, memory_actual_size));
	GEN(yajl_gen_map_close(g));
	return json_gen_take(g);
fail:
	yajl_gen_free(g);
	return NULL;
}

static bool same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

char *vmm_api_json_counters(const struct vmm_counter *c, unsigned int n)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (!g)
		return NULL;
	GEN(yajl_gen_map_open(g));
	/* Grouped by device in order of first appearance; a repeated name keeps its first value. */
	for (unsigned int i = 0; i < n; i++) {
		bool seen = false;

		for (unsigned int j = 0; j < i && !seen; j++)
			seen = same(c[j].device, c[i].device);
		if (seen)
			continue;
		GEN(json_gen_cstring(g, c[i].device ? c[i].device : ""));
		GEN(yajl_gen_map_open(g));
		for (unsigned int k = i; k < n; k++) {
			bool dup = false;

			if (!same(c[k].device, c[i].device))
				continue;
			for (unsigned int j = i; j < k && !dup; j++)
				dup = same(c[j].device, c[i].device) && same(c[j].name, c[k].name);
			if (dup)
				continue;
			GEN(json_gen_cstring(g, c[k].name ? c[k].name : ""));
			GEN(json_gen_u64(g, c[k].value));
		}
		GEN(yajl_gen_map_close(g));
	}
	GEN(yajl_gen_map_close(g));
	return json_gen_take(g);
fail:
	yajl_gen_free(g);
	return NULL;
}
