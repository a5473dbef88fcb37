/* SPDX-License-Identifier: Apache-2.0 */
#include "json-util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "common/json-text.h"

/* Before yajl sees it: no NUL byte, no "\u0000", nesting bounded. Only needs
 * to be right for input yajl accepts; yajl refuses the rest on its own. */
static int sjson_prescan(const char *text, size_t len, const char *what, struct error *err)
{
	switch (json_text_prescan(text, len, SJSON_MAX_DEPTH)) {
	case JSON_TEXT_NUL:
		return error_set(err, -EINVAL, "%s: NUL byte in the JSON text", what);
	case JSON_TEXT_U0000:
		return error_set(err, -EINVAL, "%s: \\u0000 in a string", what);
	case JSON_TEXT_TOO_DEEP:
		return error_set(err, -EINVAL, "%s: nested deeper than %d levels", what,
				 SJSON_MAX_DEPTH);
	case JSON_TEXT_OK:
		break;
	}
	return 0;
}


int sjson_parse(const char *text, size_t len, size_t max_len, const char *what, yajl_val *ret,
		struct error *err)
{
	char msg[256] = "";
	char *copy;
	yajl_val v;
	int r;

	if (len > max_len)
		return error_set(err, -E2BIG, "%s: %zu bytes, more than the %zu allowed", what, len,
				 max_len);
	r = sjson_prescan(text, len, what, err);
	if (r < 0)
		return r;
	copy = malloc(len + 1);
	if (!copy)
		return error_set(err, -ENOMEM, "%s: out of memory", what);
	memcpy(copy, text, len);
	copy[len] = '\0';
	v = yajl_tree_parse(copy, msg, sizeof(msg));
	free(copy);
	if (!v) {
		json_text_one_line(msg);
		return error_set(err, -EINVAL, "%s: invalid JSON: %s", what,
				 msg[0] ? msg : "out of memory or empty");
	}
	*ret = v;
	return 0;
}

yajl_val sjson_get(yajl_val obj, const char *key)
{
	if (!YAJL_IS_OBJECT(obj))
		return NULL;
	for (size_t i = 0; i < obj->u.object.len; i++)
		if (strcmp(obj->u.object.keys[i], key) == 0)
			return obj->u.object.values[i];
	return NULL;
}

const char *sjson_get_string(yajl_val obj, const char *key)
{
	return YAJL_GET_STRING(sjson_get(obj, key));
}

size_t sjson_remove(yajl_val obj, const char *key)
{
	size_t n = 0, out = 0;

	if (!YAJL_IS_OBJECT(obj))
		return 0;
	for (size_t i = 0; i < obj->u.object.len; i++) {
		if (strcmp(obj->u.object.keys[i], key) == 0) {
			free((char *)obj->u.object.keys[i]);
			yajl_tree_free(obj->u.object.values[i]);
			n++;
			continue;
		}
		obj->u.object.keys[out] = obj->u.object.keys[i];
		obj->u.object.values[out] = obj->u.object.values[i];
		out++;
	}
	obj->u.object.len = out;
	return n;
}

void sjson_array_remove(yajl_val arr, size_t i)
{
	if (!YAJL_IS_ARRAY(arr) || i >= arr->u.array.len)
		return;
	yajl_tree_free(arr->u.array.values[i]);
	memmove(&arr->u.array.values[i], &arr->u.array.values[i + 1],
		(arr->u.array.len - i - 1) * sizeof(yajl_val));
	arr->u.array.len--;
}

static yajl_val sjson_new(yajl_type type)
{
	yajl_val v = calloc(1, sizeof(*v));

	if (v)
		v->type = type;
	return v;
}

yajl_val sjson_new_string(const char *s)
{
	yajl_val v = sjson_new(yajl_t_string);

	if (!v)
		return NULL;
	v->u.string = strdup(s);
	if (!v->u.string) {
		free(v);
		return NULL;
	}
	return v;
}

yajl_val sjson_new_object(void)
{
	return sjson_new(yajl_t_object);
}

yajl_val sjson_new_array(void)
{
	return sjson_new(yajl_t_array);
}

yajl_val sjson_new_bool(bool b)
{
	return sjson_new(b ? yajl_t_true : yajl_t_false);
}

int sjson_set_take(yajl_val obj, const char *key, yajl_val v)
{
	const char **keys;
	yajl_val *values;
	char *k;
	size_t n;

	if (!v)
		return -ENOMEM;
	if (!YAJL_IS_OBJECT(obj)) {
		yajl_tree_free(v);
		return -EINVAL;
	}
	for (size_t i = 0; i < obj->u.object.len; i++) {
		if (strcmp(obj->u.object.keys[i], key) != 0)
			continue;
		yajl_tree_free(obj->u.object.values[i]);
		obj->u.object.values[i] = v;
		/* Later duplicates would override this one for some readers. */
		for (size_t j = i + 1; j < obj->u.object.len;) {
			if (strcmp(obj->u.object.keys[j], key) == 0) {
				free((char *)obj->u.object.keys[j]);
				yajl_tree_free(obj->u.object.values[j]);
				memmove(&obj->u.object.keys[j], &obj->u.object.keys[j + 1],
					(obj->u.object.len - j - 1) * sizeof(char *));
				memmove(&obj->u.object.values[j], &obj->u.object.values[j + 1],
					(obj->u.object.len - j - 1) * sizeof(yajl_val));
				obj->u.object.len--;
			} else {
				j++;
			}
		}
		return 0;
	}
	n = obj->u.object.len + 1;
	k = strdup(key);
	keys = realloc((void *)obj->u.object.keys, n * sizeof(*keys));
	if (keys)
		obj->u.object.keys = keys;
	values = keys ? realloc(obj->u.object.values, n * sizeof(*values)) : NULL;
	if (values)
		obj->u.object.values = values;
	if (!k || !keys || !values) {
		free(k);
		yajl_tree_free(v);
		return -ENOMEM;
	}
	keys[n - 1] = k;
	values[n - 1] = v;
	obj->u.object.len = n;
	return 0;
}

int sjson_set_string(yajl_val obj, const char *key, const char *s)
{
	return sjson_set_take(obj, key, sjson_new_string(s));
}

int sjson_append_take(yajl_val arr, yajl_val v)
{
	yajl_val *values;

	if (!v)
		return -ENOMEM;
	if (!YAJL_IS_ARRAY(arr)) {
		yajl_tree_free(v);
		return -EINVAL;
	}
	values = realloc(arr->u.array.values, (arr->u.array.len + 1) * sizeof(*values));
	if (!values) {
		yajl_tree_free(v);
		return -ENOMEM;
	}
	arr->u.array.values = values;
	values[arr->u.array.len++] = v;
	return 0;
}

static int gen_value(yajl_gen g, yajl_val v)
{
	yajl_gen_status s = yajl_gen_status_ok;

	switch (v->type) {
	case yajl_t_string:
		s = yajl_gen_string(g, (const unsigned char *)v->u.string, strlen(v->u.string));
		break;
	case yajl_t_number:
		/* The text as it came: no precision lost on the way through. */
		s = yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
		break;
	case yajl_t_object:
		s = yajl_gen_map_open(g);
		for (size_t i = 0; s == yajl_gen_status_ok && i < v->u.object.len; i++) {
			const char *k = v->u.object.keys[i];

			s = yajl_gen_string(g, (const unsigned char *)k, strlen(k));
			if (s == yajl_gen_status_ok && gen_value(g, v->u.object.values[i]) < 0)
				return -EINVAL;
		}
		if (s == yajl_gen_status_ok)
			s = yajl_gen_map_close(g);
		break;
	case yajl_t_array:
		s = yajl_gen_array_open(g);
		for (size_t i = 0; s == yajl_gen_status_ok && i < v->u.array.len; i++)
			if (gen_value(g, v->u.array.values[i]) < 0)
				return -EINVAL;
		if (s == yajl_gen_status_ok)
			s = yajl_gen_array_close(g);
		break;
	case yajl_t_true:
		s = yajl_gen_bool(g, 1);
		break;
	case yajl_t_false:
		s = yajl_gen_bool(g, 0);
		break;
	case yajl_t_null:
	default:
		s = yajl_gen_null(g);
		break;
	}
	return s == yajl_gen_status_ok ? 0 : -EINVAL;
}

int sjson_generate(yajl_val v, char **ret, size_t *ret_len)
{
	const unsigned char *buf;
	size_t len;
	yajl_gen g;
	char *out;
	int r;

	if (!v)
		return -EINVAL;
	g = yajl_gen_alloc(NULL);
	if (!g)
		return -ENOMEM;
	r = gen_value(g, v);
	if (r >= 0 && yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		r = -ENOMEM;
	if (r < 0) {
		yajl_gen_free(g);
		return r;
	}
	out = malloc(len + 1);
	if (!out) {
		yajl_gen_free(g);
		return -ENOMEM;
	}
	memcpy(out, buf, len);
	out[len] = '\0';
	yajl_gen_free(g);
	*ret = out;
	if (ret_len)
		*ret_len = len;
	return 0;
}

int sjson_read_file(const char *path, size_t max_len, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	struct stat st;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > max_len)
		return -E2BIG;
	buf = malloc(max_len + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf + len, max_len + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max_len)
			return -E2BIG; /* it grew while we read */
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}
