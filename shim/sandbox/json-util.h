/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small helpers over yajl's tree for the JSON the runtime reads and rewrites
 * (its config file, OCI specs, LinuxResources): a bounded parse, lookups,
 * in-place edits and re-generation. Nodes made here are malloc'd exactly as
 * yajl_tree_parse() makes them, so yajl_tree_free() frees edited trees too.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <yajl/yajl_tree.h>

#include "common/error.h"
#include "common/macros.h"

/* Deepest nesting accepted (yajl_tree_free recurses). An OCI spec nests
 * about six deep (linux.seccomp.syscalls[].args[]). */
#define SJSON_MAX_DEPTH 64

/*
 * Parse len bytes of JSON text (need not be NUL-terminated) of at most
 * max_len bytes. Refuses NUL bytes and "\u0000" (either would cut a C string
 * short and change the document when it is written back) and nesting deeper
 * than SJSON_MAX_DEPTH. `what` names the document in messages.
 */
int sjson_parse(const char *text, size_t len, size_t max_len, const char *what, yajl_val *ret,
		struct error *err) _wur_;

/* The value of key in object obj; NULL if obj is not an object or lacks it. */
yajl_val sjson_get(yajl_val obj, const char *key);
/* The string value of key, or NULL (absent or not a string). */
const char *sjson_get_string(yajl_val obj, const char *key);
/* Remove every occurrence of key from obj (freeing the values); returns how many. */
size_t sjson_remove(yajl_val obj, const char *key);
/* Remove element i of array arr (freeing it). */
void sjson_array_remove(yajl_val arr, size_t i);

/* New nodes; NULL when out of memory. */
yajl_val sjson_new_string(const char *s);
yajl_val sjson_new_object(void);
yajl_val sjson_new_array(void);
yajl_val sjson_new_bool(bool b);

/* Set key in obj to v, replacing an existing value (the first; others are
 * removed). Takes v in every case (freed on failure). -ENOMEM or -EINVAL. */
int sjson_set_take(yajl_val obj, const char *key, yajl_val v) _wur_;
int sjson_set_string(yajl_val obj, const char *key, const char *s) _wur_;
/* Append v to array arr; takes v in every case. */
int sjson_append_take(yajl_val arr, yajl_val v) _wur_;

/* Write the tree as compact JSON; *ret is malloc'd and NUL-terminated. */
int sjson_generate(yajl_val v, char **ret, size_t *ret_len) _wur_;

/* Read a whole file of at most max_len bytes (NUL-terminated copy). */
int sjson_read_file(const char *path, size_t max_len, char **ret, size_t *ret_len) _wur_;
