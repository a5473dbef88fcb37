/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON helpers for the OCI parsers: bounded document parsing and typed
 * accessors whose errors name the field.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/oci-spec.h"
#include "common/json-text.h"
#include "oci-json.h"

const char *oci_json_echo(const char *s, char buf[OCI_ECHO_MAX])
{
	size_t o = 0;

	for (const char *p = s; *p && o < OCI_ECHO_MAX - 4; p++) {
		unsigned char ch = (unsigned char)*p;

		buf[o++] = (ch < 0x20 || ch >= 0x7f) ? '?' : (char)ch;
	}
	if (strlen(s) > o)
		memcpy(buf + o, "...", 3), o += 3;
	buf[o] = '\0';
	return buf;
}

void oci_json_where_key(char buf[OCI_WHERE_MAX], const char *where, const char *key)
{
	char echo[OCI_ECHO_MAX];

	if (where && where[0])
		snprintf(buf, OCI_WHERE_MAX, "%s.%s", where, oci_json_echo(key, echo));
	else
		snprintf(buf, OCI_WHERE_MAX, "%s", oci_json_echo(key, echo));
}

void oci_json_where_index(char buf[OCI_WHERE_MAX], const char *where, size_t i)
{
	snprintf(buf, OCI_WHERE_MAX, "%s[%zu]", where, i);
}

/*
 * Before yajl sees it: size, no NUL byte, nesting within OCI_MAX_DEPTH (yajl
 * builds and frees the tree recursively), no "\u0000" escape (it would cut
 * a C string short unseen). Only needs to be right for input yajl accepts.
 */
static int json_prescan(const char *json, size_t len, const char *what, struct error *err)
{
	if (len == 0)
		return error_set(err, -EINVAL, "%s: empty document", what);
	if (len > OCI_SPEC_MAX_BYTES)
		return error_set(err, -E2BIG, "%s: %zu bytes, more than the limit of %d", what, len,
				 OCI_SPEC_MAX_BYTES);
	switch (json_text_prescan(json, len, OCI_MAX_DEPTH)) {
	case JSON_TEXT_NUL:
		return error_set(err, -EINVAL, "%s: invalid JSON: NUL byte", what);
	case JSON_TEXT_U0000:
		return error_set(err, -EINVAL, "%s: invalid JSON: \\u0000 in a string", what);
	case JSON_TEXT_TOO_DEEP:
		return error_set(err, -EINVAL, "%s: invalid JSON: nested deeper than %d levels",
				 what, OCI_MAX_DEPTH);
	case JSON_TEXT_OK:
		break;
	}
	return 0;
}


int oci_json_parse_doc(const char *json, size_t len, const char *what, yajl_val *ret,
		       struct error *err)
{
	char ebuf[256] = "";
	char *copy;
	yajl_val root;
	int r;

	r = json_prescan(json, len, what, err);
	if (r < 0)
		return r;
	copy = strndup(json, len);
	if (!copy)
		return error_set(err, -ENOMEM, "%s: out of memory", what);
	root = yajl_tree_parse(copy, ebuf, sizeof(ebuf));
	free(copy);
	if (!root) {
		json_text_one_line(ebuf);
		return error_set(err, -EINVAL, "%s: invalid JSON: %s", what,
				 ebuf[0] ? ebuf : "parse error");
	}
	*ret = root;
	return 0;
}

int oci_json_object(struct oci_json_ctx *c, const char *where, yajl_val v,
		    const struct oci_json_field *fields, size_t n_fields, void *obj)
{
	char sub[OCI_WHERE_MAX];
	uint64_t seen = 0;
	int r;

	if (!YAJL_IS_OBJECT(v))
		return error_set(c->err, -EINVAL, "%s: expected an object",
				 where[0] ? where : "top level");
	for (size_t i = 0; i < v->u.object.len; i++) {
		const char *key = v->u.object.keys[i];
		yajl_val val = v->u.object.values[i];
		size_t f;

		for (f = 0; f < n_fields; f++)
			if (strcmp(fields[f].name, key) == 0)
				break;
		if (f == n_fields)
			continue; /* extensions are allowed */
		/* Go's encoding/json would take the last; refusing hides nothing. */
		if (seen & (UINT64_C(1) << f))
			return error_set(c->err, -EINVAL, "%s%s%s: given more than once", where,
					 where[0] ? "." : "", fields[f].name);
		seen |= UINT64_C(1) << f;
		if (YAJL_IS_NULL(val) || !fields[f].parse)
			continue;
		oci_json_where_key(sub, where, key);
		r = fields[f].parse(c, sub, val, obj);
		if (r < 0)
			return r;
	}
	return 0;
}

int oci_json_array(struct oci_json_ctx *c, const char *where, yajl_val v, size_t max,
		   size_t *ret_n)
{
	if (!YAJL_IS_ARRAY(v))
		return error_set(c->err, -EINVAL, "%s: expected an array", where);
	if (v->u.array.len > max)
		return error_set(c->err, -E2BIG, "%s: %zu entries, more than the limit of %zu",
				 where, v->u.array.len, max);
	*ret_n = v->u.array.len;
	return 0;
}

int oci_json_string(struct oci_json_ctx *c, const char *where, yajl_val v, size_t max,
		    bool allow_empty, char **field)
{
	size_t len;
	char *copy;

	if (!YAJL_IS_STRING(v))
		return error_set(c->err, -EINVAL, "%s: expected a string", where);
	len = strlen(v->u.string);
	if (!allow_empty && len == 0)
		return error_set(c->err, -EINVAL, "%s: must not be empty", where);
	if (len > max)
		return error_set(c->err, -E2BIG, "%s: %zu bytes, longer than the limit of %zu",
				 where, len, max);
	copy = strdup(v->u.string);
	if (!copy)
		return error_set(c->err, -ENOMEM, "%s: out of memory", where);
	free(*field);
	*field = copy;
	return 0;
}

int oci_json_bool(struct oci_json_ctx *c, const char *where, yajl_val v, bool *field)
{
	if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
		return error_set(c->err, -EINVAL, "%s: expected true or false", where);
	*field = YAJL_IS_TRUE(v);
	return 0;
}

/* yajl keeps the number's text; check it is an integer ("-"? digits) ourselves. */
static bool number_is_integer(yajl_val v, bool *negative)
{
	const char *p;

	if (!YAJL_IS_NUMBER(v) || !v->u.number.r)
		return false;
	p = v->u.number.r;
	*negative = *p == '-';
	if (*negative)
		p++;
	if (!*p)
		return false;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

int oci_json_int64(struct oci_json_ctx *c, const char *where, yajl_val v, int64_t min,
		   int64_t max, int64_t *field)
{
	bool negative;
	long long n;
	char *end;

	if (!number_is_integer(v, &negative))
		return error_set(c->err, -EINVAL, "%s: expected an integer", where);
	errno = 0;
	n = strtoll(v->u.number.r, &end, 10);
	if (errno || *end || n < min || n > max)
		return error_set(c->err, -ERANGE, "%s: %.32s is out of range [%" PRId64 ", %" PRId64 "]",
				 where, v->u.number.r, min, max);
	*field = n;
	return 0;
}

int oci_json_uint64(struct oci_json_ctx *c, const char *where, yajl_val v, uint64_t max,
		    uint64_t *field)
{
	unsigned long long n;
	bool negative;
	char *end;

	if (!number_is_integer(v, &negative) || negative)
		return error_set(c->err, -EINVAL, "%s: expected a non-negative integer", where);
	errno = 0;
	n = strtoull(v->u.number.r, &end, 10);
	if (errno || *end || n > max)
		return error_set(c->err, -ERANGE, "%s: %.32s is out of range [0, %" PRIu64 "]", where,
				 v->u.number.r, max);
	*field = n;
	return 0;
}

int oci_json_uint32(struct oci_json_ctx *c, const char *where, yajl_val v, uint32_t *field)
{
	uint64_t n;
	int r = oci_json_uint64(c, where, v, UINT32_MAX, &n);

	if (r < 0)
		return r;
	*field = (uint32_t)n;
	return 0;
}

void oci_strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void oci_kv_free(struct oci_kv *kv, size_t n)
{
	if (!kv)
		return;
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

int oci_json_strv(struct oci_json_ctx *c, const char *where, yajl_val v, size_t max_n,
		  size_t max_len, bool allow_empty, char ***field, size_t *n_field)
{
	char sub[OCI_WHERE_MAX];
	size_t n;
	char **vec;
	int r;

	r = oci_json_array(c, where, v, max_n, &n);
	if (r < 0)
		return r;
	vec = calloc(n + 1, sizeof(*vec));
	if (!vec)
		return error_set(c->err, -ENOMEM, "%s: out of memory", where);
	/* Hand it over first: the caller's destructor frees a half-filled vector. */
	oci_strv_free(*field, *n_field);
	*field = vec;
	*n_field = n;
	for (size_t i = 0; i < n; i++) {
		oci_json_where_index(sub, where, i);
		r = oci_json_string(c, sub, v->u.array.values[i], max_len, allow_empty, &vec[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

int oci_json_kv(struct oci_json_ctx *c, const char *where, yajl_val v, size_t max_n,
		size_t max_len, struct oci_kv **field, size_t *n_field)
{
	char sub[OCI_WHERE_MAX];
	struct oci_kv *kv;
	size_t n;
	int r;

	if (!YAJL_IS_OBJECT(v))
		return error_set(c->err, -EINVAL, "%s: expected an object", where);
	n = v->u.object.len;
	if (n > max_n)
		return error_set(c->err, -E2BIG, "%s: %zu entries, more than the limit of %zu",
				 where, n, max_n);
	kv = calloc(n + 1, sizeof(*kv));
	if (!kv)
		return error_set(c->err, -ENOMEM, "%s: out of memory", where);
	oci_kv_free(*field, *n_field);
	*field = kv;
	*n_field = n;
	for (size_t i = 0; i < n; i++) {
		const char *key = v->u.object.keys[i];
		size_t klen = strlen(key);

		oci_json_where_key(sub, where, key);
		if (klen == 0)
			return error_set(c->err, -EINVAL, "%s: empty key", where);
		if (klen > max_len)
			return error_set(c->err, -E2BIG, "%s: key of %zu bytes, longer than the limit of %zu",
					 sub, klen, max_len);
		for (size_t j = 0; j < i; j++)
			if (strcmp(kv[j].key, key) == 0)
				return error_set(c->err, -EINVAL, "%s: key given more than once", sub);
		r = oci_json_string(c, sub, v->u.object.values[i], max_len, true, &kv[i].value);
		if (r < 0)
			return r;
		kv[i].key = strdup(key);
		if (!kv[i].key)
			return error_set(c->err, -ENOMEM, "%s: out of memory", sub);
	}
	return 0;
}
