/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON <-> protobuf-c by descriptor walking (see agent-proto/pbjson.h for the
 * mapping). Parsing builds the message with malloc'd members only, exactly
 * as protobuf_c_message_unpack() would, so protobuf_c_message_free_unpacked()
 * frees it at every step, including half-built on an error.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "agent-proto/pbjson.h"

#define MEMBER(msg, off) ((void *)((char *)(msg) + (off)))
#define CMEMBER(msg, off) ((const void *)((const char *)(msg) + (off)))

/* ---- base64 ---- */

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64_encode(const uint8_t *in, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1), *p = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		*p++ = b64_alphabet[(v >> 18) & 63];
		*p++ = b64_alphabet[(v >> 12) & 63];
		*p++ = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		*p++ = i + 2 < len ? b64_alphabet[v & 63] : '=';
	}
	*p = '\0';
	return out;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

static int base64_decode(const char *in, uint8_t **ret, size_t *ret_len)
{
	size_t len = strlen(in), n = 0;
	uint32_t acc = 0;
	int bits = 0;
	uint8_t *out;

	while (len > 0 && in[len - 1] == '=')
		len--;
	out = malloc(len * 3 / 4 + 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(in[i]);

		if (v < 0) {
			free(out);
			return -EINVAL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	/* A single leftover symbol (6 bits) cannot be a whole byte. */
	if (bits >= 6) {
		free(out);
		return -EINVAL;
	}
	*ret = out;
	*ret_len = n;
	return 0;
}

/* ---- parsing ---- */

/*
 * Before yajl builds its tree: refuse deep nesting (yajl_tree_free()
 * recurses) and "\u0000" inside strings (a C string would silently end there).
 */
static int prescan(const char *s, size_t len, struct error *err)
{
	bool in_string = false;
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '\0')
			return error_set(err, -EINVAL, "NUL byte in the JSON text");
		if (in_string) {
			if (c == '\\') {
				if (i + 5 < len && s[i + 1] == 'u' && !strncmp(s + i + 2, "0000", 4))
					return error_set(err, -EINVAL, "\\u0000 in a JSON string");
				i++;
			} else if (c == '"') {
				in_string = false;
			}
		} else if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > AGENT_PBJSON_MAX_DEPTH)
				return error_set(err, -EINVAL, "JSON nested deeper than %d levels",
						 AGENT_PBJSON_MAX_DEPTH);
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return 0;
}

/* "container_id" -> "containerId" */
static bool camel_equal(const char *name, const char *key)
{
	bool up = false;

	for (; *name; name++) {
		if (*name == '_') {
			up = true;
			continue;
		}
		char want = up && *name >= 'a' && *name <= 'z' ? (char)(*name - 'a' + 'A') : *name;

		up = false;
		if (*key++ != want)
			return false;
	}
	return *key == '\0';
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc,
						  const char *key)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(desc, key);

	if (f)
		return f;
	for (unsigned int i = 0; i < desc->n_fields; i++)
		if (camel_equal(desc->fields[i].name, key))
			return &desc->fields[i];
	return NULL;
}

static size_t element_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

/* The decimal text of a JSON number, or of a string holding one. */
static const char *number_text(yajl_val v)
{
	if (YAJL_IS_NUMBER(v))
		return v->u.number.r;
	if (YAJL_IS_STRING(v))
		return v->u.string;
	return NULL;
}

static int parse_signed(yajl_val v, long long min, long long max, long long *ret)
{
	const char *t = number_text(v);
	char *end;
	long long x;

	if (!t || !*t)
		return -EINVAL;
	errno = 0;
	x = strtoll(t, &end, 10);
	if (*end || errno || x < min || x > max)
		return -EINVAL;
	*ret = x;
	return 0;
}

static int parse_unsigned(yajl_val v, unsigned long long max, unsigned long long *ret)
{
	const char *t = number_text(v);
	unsigned long long x;
	char *end;

	if (!t || *t < '0' || *t > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(t, &end, 10);
	if (*end || errno || x > max)
		return -EINVAL;
	*ret = x;
	return 0;
}

static int parse_message(const ProtobufCMessageDescriptor *desc, yajl_val v, int depth,
			 const char *path, ProtobufCMessage **ret, struct error *err);

/* A field's path for messages ("a.b[2].c"); cut short if very long. */
static void _printf_(3, 4) field_path(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(buf, size, fmt, ap) < 0)
		buf[0] = '\0';
	va_end(ap);
}

/* Parse one value of field f's type into dst (an element or the member). */
static int parse_value(const ProtobufCFieldDescriptor *f, yajl_val v, int depth,
		       const char *path, void *dst, struct error *err)
{
	long long s;
	unsigned long long u;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (parse_signed(v, INT32_MIN, INT32_MAX, &s) < 0)
			goto bad_number;
		*(int32_t *)dst = (int32_t)s;
		return 0;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (parse_unsigned(v, UINT32_MAX, &u) < 0)
			goto bad_number;
		*(uint32_t *)dst = (uint32_t)u;
		return 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (parse_signed(v, INT64_MIN, INT64_MAX, &s) < 0)
			goto bad_number;
		*(int64_t *)dst = s;
		return 0;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (parse_unsigned(v, UINT64_MAX, &u) < 0)
			goto bad_number;
		*(uint64_t *)dst = u;
		return 0;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE: {
		const char *t = number_text(v);
		char *end;
		double d;

		if (!t || !*t)
			goto bad_number;
		errno = 0;
		d = strtod(t, &end);
		if (*end || (errno == ERANGE && isinf(d)))
			goto bad_number;
		if (f->type == PROTOBUF_C_TYPE_FLOAT)
			*(float *)dst = (float)d;
		else
			*(double *)dst = d;
		return 0;
	}
	case PROTOBUF_C_TYPE_BOOL:
		if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
			return error_set(err, -EINVAL, "%s: expected true or false", path);
		*(protobuf_c_boolean *)dst = YAJL_IS_TRUE(v);
		return 0;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *ed = f->descriptor;
		const ProtobufCEnumValue *ev;

		if (YAJL_IS_STRING(v)) {
			ev = protobuf_c_enum_descriptor_get_value_by_name(ed, v->u.string);
			if (!ev)
				return error_set(err, -EINVAL, "%s: \"%.64s\" is not a %s value", path,
						 v->u.string, ed->name);
			*(int *)dst = ev->value;
			return 0;
		}
		if (parse_signed(v, INT32_MIN, INT32_MAX, &s) < 0)
			return error_set(err, -EINVAL, "%s: expected a %s name or number", path,
					 ed->name);
		*(int *)dst = (int)s;
		return 0;
	}
	case PROTOBUF_C_TYPE_STRING: {
		char *copy;

		if (!YAJL_IS_STRING(v))
			return error_set(err, -EINVAL, "%s: expected a string", path);
		copy = strdup(v->u.string);
		if (!copy)
			return error_set(err, -ENOMEM, "%s: out of memory", path);
		*(char **)dst = copy;
		return 0;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData *b = dst;
		uint8_t *data;
		size_t n;
		int r;

		if (!YAJL_IS_STRING(v))
			return error_set(err, -EINVAL, "%s: expected a base64 string", path);
		r = base64_decode(v->u.string, &data, &n);
		if (r < 0)
			return error_set(err, r, "%s: %s", path,
					 r == -ENOMEM ? "out of memory" : "invalid base64");
		b->data = data;
		b->len = n;
		return 0;
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		return parse_message(f->descriptor, v, depth + 1, path, (ProtobufCMessage **)dst,
				     err);
	}
	return error_set(err, -EINVAL, "%s: unsupported field type %d", path, (int)f->type);
bad_number:
	return error_set(err, -EINVAL, "%s: expected a number of type %s in range", path,
			 f->type == PROTOBUF_C_TYPE_FLOAT || f->type == PROTOBUF_C_TYPE_DOUBLE
				 ? "float"
				 : "integer");
}

static int parse_repeated(const ProtobufCFieldDescriptor *f, ProtobufCMessage *msg, yajl_val v,
			  int depth, const char *path, struct error *err)
{
	size_t *count = MEMBER(msg, f->quantifier_offset);
	void **array = MEMBER(msg, f->offset);
	size_t esize = element_size(f->type), n;
	char sub[256];

	if (!YAJL_IS_ARRAY(v))
		return error_set(err, -EINVAL, "%s: expected an array", path);
	n = v->u.array.len;
	if (n == 0)
		return 0;
	if (n > AGENT_PBJSON_MAX_INPUT / 2)
		return error_set(err, -E2BIG, "%s: too many elements", path);
	*array = calloc(n, esize);
	if (!*array)
		return error_set(err, -ENOMEM, "%s: out of memory", path);
	for (size_t i = 0; i < n; i++) {
		int r;

		field_path(sub, sizeof(sub), "%s[%zu]", path, i);
		if (YAJL_IS_NULL(v->u.array.values[i]))
			return error_set(err, -EINVAL, "%s: null in an array", sub);
		r = parse_value(f, v->u.array.values[i], depth + 1, sub,
				(char *)*array + i * esize, err);
		/* Count the element even half-parsed: its pointers are NULL or
		 * owned, which free_unpacked handles. */
		*count = i + 1;
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_message(const ProtobufCMessageDescriptor *desc, yajl_val v, int depth,
			 const char *path, ProtobufCMessage **ret, struct error *err)
{
	ProtobufCMessage *msg;
	bool *seen;
	char sub[256];
	int r = 0;

	if (depth > AGENT_PBJSON_MAX_DEPTH)
		return error_set(err, -EINVAL, "%s: nested too deep", path);
	if (!YAJL_IS_OBJECT(v) && !YAJL_IS_NULL(v))
		return error_set(err, -EINVAL, "%s%sexpected an object for %s", path,
				 *path ? ": " : "", desc->name);
	msg = malloc(desc->sizeof_message);
	seen = calloc(desc->n_fields + 1, sizeof(*seen));
	if (!msg || !seen) {
		free(msg);
		free(seen);
		return error_set(err, -ENOMEM, "out of memory");
	}
	desc->message_init(msg);

	for (size_t i = 0; YAJL_IS_OBJECT(v) && i < v->u.object.len; i++) {
		const char *key = v->u.object.keys[i];
		yajl_val val = v->u.object.values[i];
		const ProtobufCFieldDescriptor *f = find_field(desc, key);
		void *member;

		field_path(sub, sizeof(sub), "%s%s%.64s", path, *path ? "." : "", key);
		if (!f) {
			r = error_set(err, -EINVAL, "%s: no such field in %s", sub, desc->name);
			break;
		}
		if (seen[f - desc->fields]) {
			r = error_set(err, -EINVAL, "%s: given twice", sub);
			break;
		}
		seen[f - desc->fields] = true;
		if (YAJL_IS_NULL(val))
			continue;
		member = MEMBER(msg, f->offset);
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			r = parse_repeated(f, msg, val, depth, sub, err);
			if (r < 0)
				break;
			continue;
		}
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t *which = MEMBER(msg, f->quantifier_offset);

			if (*which != 0) {
				r = error_set(err, -EINVAL, "%s: another field of its oneof is set",
					      sub);
				break;
			}
			/* The union member holds nothing yet (init zeroes it). */
			*(void **)member = NULL;
			r = parse_value(f, val, depth, sub, member, err);
			if (r < 0)
				break;
			*which = f->id;
			continue;
		}
		if (f->type == PROTOBUF_C_TYPE_STRING) {
			/* Replace the default, which free_unpacked never frees. */
			char *s = NULL;

			r = parse_value(f, val, depth, sub, &s, err);
			if (r < 0)
				break;
			*(char **)member = s;
		} else if (f->type == PROTOBUF_C_TYPE_BYTES) {
			ProtobufCBinaryData b = { 0, NULL };

			r = parse_value(f, val, depth, sub, &b, err);
			if (r < 0)
				break;
			*(ProtobufCBinaryData *)member = b;
		} else {
			r = parse_value(f, val, depth, sub, member, err);
			if (r < 0)
				break;
		}
		if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
		    f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
			*(protobuf_c_boolean *)MEMBER(msg, f->quantifier_offset) = 1;
	}
	free(seen);
	if (r == 0 && !protobuf_c_message_check(msg))
		r = error_set(err, -EINVAL, "%s%sa required field of %s is missing", path,
			      *path ? ": " : "", desc->name);
	if (r < 0) {
		protobuf_c_message_free_unpacked(msg, NULL);
		return r;
	}
	*ret = msg;
	return 0;
}

int agent_pbjson_parse(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
		       ProtobufCMessage **ret_msg, struct error *err)
{
	char errbuf[256] = "";
	yajl_val tree;
	char *text;
	int r;

	if (len > AGENT_PBJSON_MAX_INPUT)
		return error_set(err, -E2BIG, "JSON text of %zu bytes exceeds %u", len,
				 AGENT_PBJSON_MAX_INPUT);
	r = prescan(json, len, err);
	if (r < 0)
		return r;
	text = malloc(len + 1);
	if (!text)
		return error_set(err, -ENOMEM, "out of memory");
	memcpy(text, json, len);
	text[len] = '\0';
	tree = yajl_tree_parse(text, errbuf, sizeof(errbuf));
	free(text);
	if (!tree) {
		errbuf[strcspn(errbuf, "\n")] = '\0';
		return error_set(err, -EINVAL, "invalid JSON: %s", errbuf[0] ? errbuf : "?");
	}
	r = parse_message(desc, tree, 0, "", ret_msg, err);
	yajl_tree_free(tree);
	return r;
}

/* ---- printing ---- */

/* Length of the valid UTF-8 sequence at s (at most len bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates, beyond U+10FFFF. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

static yajl_gen_status gen_text(yajl_gen g, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, o = 0;
	yajl_gen_status st;
	unsigned char *fixed;

	while (i < len && utf8_seq(p + i, len - i))
		i += utf8_seq(p + i, len - i);
	if (i == len)
		return yajl_gen_string(g, p, len);
	/* Invalid UTF-8: each bad byte becomes U+FFFD (3 bytes). */
	fixed = malloc(len * 3 + 1);
	if (!fixed)
		return yajl_gen_generation_complete; /* any error code */
	for (i = 0; i < len;) {
		size_t n = utf8_seq(p + i, len - i);

		if (n) {
			memcpy(fixed + o, p + i, n);
			o += n;
			i += n;
		} else {
			memcpy(fixed + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	st = yajl_gen_string(g, fixed, o);
	free(fixed);
	return st;
}

static int gen_message(yajl_gen g, const ProtobufCMessage *msg);

static int gen_value(yajl_gen g, const ProtobufCFieldDescriptor *f, const void *p)
{
	yajl_gen_status st = yajl_gen_status_ok;
	char num[32];

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		st = yajl_gen_integer(g, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		st = yajl_gen_integer(g, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		st = yajl_gen_integer(g, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(num, sizeof(num), "%" PRIu64, *(const uint64_t *)p);
		st = yajl_gen_number(g, num, strlen(num));
		break;
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE: {
		double d = f->type == PROTOBUF_C_TYPE_FLOAT ? *(const float *)p : *(const double *)p;

		/* JSON has no NaN or infinities; proto3 JSON spells them as strings. */
		if (isnan(d))
			st = gen_text(g, "NaN");
		else if (isinf(d))
			st = gen_text(g, d > 0 ? "Infinity" : "-Infinity");
		else
			st = yajl_gen_double(g, d);
		break;
	}
	case PROTOBUF_C_TYPE_BOOL:
		st = yajl_gen_bool(g, *(const protobuf_c_boolean *)p);
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);

		st = ev ? gen_text(g, ev->name) : yajl_gen_integer(g, *(const int *)p);
		break;
	}
	case PROTOBUF_C_TYPE_STRING:
		st = gen_text(g, *(const char *const *)p ? *(const char *const *)p : "");
		break;
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		char *s = base64_encode(b->data, b->len);

		if (!s)
			return -ENOMEM;
		st = gen_text(g, s);
		free(s);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(const ProtobufCMessage *const *)p;

		if (!m)
			st = yajl_gen_null(g);
		else
			return gen_message(g, m);
		break;
	}
	}
	return st == yajl_gen_status_ok ? 0 : -EINVAL;
}

static int gen_message(yajl_gen g, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *desc = msg->descriptor;
	int r;

	if (yajl_gen_map_open(g) != yajl_gen_status_ok)
		return -EINVAL;
	for (unsigned int i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		const void *member = CMEMBER(msg, f->offset);

		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(const uint32_t *)CMEMBER(msg, f->quantifier_offset) != f->id)
				continue;
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
			   f->type != PROTOBUF_C_TYPE_STRING &&
			   f->type != PROTOBUF_C_TYPE_MESSAGE) {
			if (!*(const protobuf_c_boolean *)CMEMBER(msg, f->quantifier_offset))
				continue;
		}
		if (f->label != PROTOBUF_C_LABEL_REPEATED &&
		    (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING) &&
		    !*(const void *const *)member)
			continue;
		if (gen_text(g, f->name) != yajl_gen_status_ok)
			return -EINVAL;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)CMEMBER(msg, f->quantifier_offset);
			const char *array = *(const char *const *)member;
			size_t esize = element_size(f->type);

			if (yajl_gen_array_open(g) != yajl_gen_status_ok)
				return -EINVAL;
			for (size_t j = 0; j < n; j++) {
				r = gen_value(g, f, array + j * esize);
				if (r < 0)
					return r;
			}
			if (yajl_gen_array_close(g) != yajl_gen_status_ok)
				return -EINVAL;
		} else {
			r = gen_value(g, f, member);
			if (r < 0)
				return r;
		}
	}
	return yajl_gen_map_close(g) == yajl_gen_status_ok ? 0 : -EINVAL;
}

int agent_pbjson_format(const ProtobufCMessage *msg, unsigned int flags, char **ret_json,
			struct error *err)
{
	const unsigned char *buf;
	size_t len;
	char *out;
	yajl_gen g;
	int r;

	if (!msg)
		return error_set(err, -EINVAL, "no message");
	g = yajl_gen_alloc(NULL);
	if (!g)
		return error_set(err, -ENOMEM, "out of memory");
	if (flags & AGENT_PBJSON_PRETTY) {
		yajl_gen_config(g, yajl_gen_beautify, 1);
		yajl_gen_config(g, yajl_gen_indent_string, "  ");
	}
	r = gen_message(g, msg);
	if (r < 0) {
		yajl_gen_free(g);
		return error_set(err, r, "cannot print a %s as JSON", msg->descriptor->name);
	}
	yajl_gen_get_buf(g, &buf, &len);
	out = malloc(len + 1);
	if (out) {
		memcpy(out, buf, len);
		out[len] = '\0';
	}
	yajl_gen_free(g);
	if (!out)
		return error_set(err, -ENOMEM, "out of memory");
	*ret_json = out;
	return 0;
}
