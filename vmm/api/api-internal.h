/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between the REST API's files: JSON output helpers. */
#pragma once

#include <yajl/yajl_gen.h>

#include "vmm/config.h"

/*
 * A C string as a JSON string. Invalid UTF-8 (a path from the command line
 * can hold any bytes) becomes U+FFFD rather than making the document
 * invalid or the call fail. NULL is written as null.
 */
yajl_gen_status json_gen_cstring(yajl_gen g, const char *s);
/* An unsigned 64-bit number (yajl_gen_integer stops at INT64_MAX). */
yajl_gen_status json_gen_u64(yajl_gen g, uint64_t v);
/* The VmConfig object of cfg, with cloud-hypervisor's field names. */
yajl_gen_status json_gen_config(yajl_gen g, const struct vmm_config *cfg);
/* The generator's document as a malloc'd NUL-terminated string (NULL on failure). */
char *json_gen_take(yajl_gen g);
