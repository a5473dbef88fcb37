/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private: the JSON side of the OCI parsers. A document is read whole with
 * yajl_tree (after a pre-scan that bounds size and nesting), then walked with
 * per-object field tables. Every error message starts with the location of
 * the value ("linux.namespaces[2].type: ..."), so a user can find it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#include "common/error.h"

/* Longest location shown in a message ("linux.seccomp.syscalls[12].args[3].op"). */
#define OCI_WHERE_MAX 160

struct oci_json_ctx {
	struct error *err;
};

typedef int (*oci_json_fn)(struct oci_json_ctx *c, const char *where, yajl_val v, void *obj);

struct oci_json_field {
	const char *name;
	oci_json_fn parse;
};

/* Parse a whole document; *ret is freed with yajl_tree_free(). */
int oci_json_parse_doc(const char *json, size_t len, const char *what, yajl_val *ret,
		       struct error *err);

/* where + "." + key, and where + "[i]". */
void oci_json_where_key(char buf[OCI_WHERE_MAX], const char *where, const char *key);
void oci_json_where_index(char buf[OCI_WHERE_MAX], const char *where, size_t i);

/*
 * Each key of object v whose name is in `fields` goes to its parse function
 * (null values are skipped: absent). Unknown keys are ignored; a known key
 * given twice is an error. At most 64 fields.
 */
int oci_json_object(struct oci_json_ctx *c, const char *where, yajl_val v,
		    const struct oci_json_field *fields, size_t n_fields, void *obj);

/* Checks that v is an array of at most max entries; *ret_n = its length. */
int oci_json_array(struct oci_json_ctx *c, const char *where, yajl_val v, size_t max,
		   size_t *ret_n);

/* A string of at most max bytes; replaces *field. */
int oci_json_string(struct oci_json_ctx *c, const char *where, yajl_val v, size_t max,
		    bool allow_empty, char **field);
int oci_json_bool(struct oci_json_ctx *c, const char *where, yajl_val v, bool *field);
/* Integers only (no fraction or exponent), within [min, max]. */
int oci_json_int64(struct oci_json_ctx *c, const char *where, yajl_val v, int64_t min,
		   int64_t max, int64_t *field);
int oci_json_uint64(struct oci_json_ctx *c, const char *where, yajl_val v, uint64_t max,
		    uint64_t *field);
int oci_json_uint32(struct oci_json_ctx *c, const char *where, yajl_val v, uint32_t *field);

/* Array of strings (each <= max_len, non-empty unless allow_empty) into a NULL-terminated vector. */
int oci_json_strv(struct oci_json_ctx *c, const char *where, yajl_val v, size_t max_n,
		  size_t max_len, bool allow_empty, char ***field, size_t *n_field);

/* An object of string values into key/value pairs (keys non-empty, <= max_len). */
struct oci_kv;
int oci_json_kv(struct oci_json_ctx *c, const char *where, yajl_val v, size_t max_n,
		size_t max_len, struct oci_kv **field, size_t *n_field);

/* A short, printable echo of untrusted text for messages. */
#define OCI_ECHO_MAX 48
const char *oci_json_echo(const char *s, char buf[OCI_ECHO_MAX]);

void oci_strv_free(char **v, size_t n);
void oci_kv_free(struct oci_kv *kv, size_t n);
