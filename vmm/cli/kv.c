/* SPDX-License-Identifier: Apache-2.0 */
#include "kv.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *kv_echo(const char *s, char buf[static KV_ECHO_MAX])
{
	size_t i;

	for (i = 0; s[i] && i < KV_ECHO_MAX - 1; i++)
		buf[i] = iscntrl((unsigned char)s[i]) ? '?' : s[i];
	buf[i] = '\0';
	if (s[i])
		memcpy(buf + KV_ECHO_MAX - 4, "...", 4);
	return buf;
}

/* "boot, max": what the user may write, for "unknown key" messages. */
static void kv_format_allowed(const struct kv_key *keys, size_t n_keys, char *out, size_t size)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n_keys && len < size; i++) {
		int n;

		if (keys[i].flags & KV_UNSUPPORTED)
			continue;
		n = snprintf(out + len, size - len, "%s%s", len ? ", " : "", keys[i].name);
		if (n < 0)
			break;
		len += (size_t)n;
	}
}

static ssize_t kv_find(const struct kv_key *keys, size_t n_keys, const char *name)
{
	for (size_t i = 0; i < n_keys; i++)
		if (strcmp(keys[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/*
 * Copy `input` into `out` without its double quotes, turning each comma that
 * separates items into NUL. Returns the number of items, or -EINVAL if
 * brackets or quotes do not balance. `out` holds strlen(input) + 1 bytes.
 */
static int kv_split(const char *input, char *out)
{
	int depth = 0, n_items = 1;
	bool quoted = false;

	for (const char *p = input; *p; p++) {
		switch (*p) {
		case '"':
			quoted = !quoted;
			continue;
		case '[':
			depth++;
			break;
		case ']':
			if (--depth < 0)
				return -EINVAL;
			break;
		case ',':
			if (depth == 0 && !quoted) {
				*out++ = '\0';
				n_items++;
				continue;
			}
			break;
		}
		*out++ = *p;
	}
	*out = '\0';
	if (depth != 0 || quoted)
		return -EINVAL;
	return n_items;
}

/* One "key=value" or bare-word item; records the value in kv->values. */
static int kv_parse_item(struct kv *kv, char *item, const char *input, struct error *err)
{
	char echo[KV_ECHO_MAX], allowed[ERROR_MSG_MAX / 2];
	char *eq = strchr(item, '=');
	const char *value = "";
	ssize_t i;

	if (item[0] == '\0')
		return error_set(err, -EINVAL, "%s: empty item in '%s' (stray comma?)", kv->option,
				 kv_echo(input, echo));
	if (eq) {
		*eq = '\0';
		value = eq + 1;
	}
	if (item[0] == '\0')
		return error_set(err, -EINVAL, "%s: missing key before '=' in '%s'", kv->option,
				 kv_echo(input, echo));

	i = kv_find(kv->keys, kv->n_keys, item);
	if (i < 0) {
		kv_format_allowed(kv->keys, kv->n_keys, allowed, sizeof(allowed));
		return error_set(err, -EINVAL, "%s: unknown key '%s' (allowed: %s)", kv->option,
				 kv_echo(item, echo), allowed);
	}
	if (kv->values[i])
		return error_set(err, -EINVAL, "%s: key '%s' given more than once", kv->option,
				 kv->keys[i].name);
	if ((kv->keys[i].flags & KV_VALUELESS) && eq)
		return error_set(err, -EINVAL, "%s: '%s' takes no value (write just '%s')",
				 kv->option, kv->keys[i].name, kv->keys[i].name);
	if (!(kv->keys[i].flags & KV_VALUELESS) && !eq)
		return error_set(err, -EINVAL, "%s: key '%s' needs a value (%s=...)", kv->option,
				 kv->keys[i].name, kv->keys[i].name);

	kv->values[i] = value;
	kv->n_given++;
	return 0;
}

int kv_parse(const char *option, const char *input, const struct kv_key *keys, size_t n_keys,
	     struct kv *ret, struct error *err)
{
	struct kv kv = { .option = option, .keys = keys, .n_keys = n_keys };
	char echo[KV_ECHO_MAX];
	char *p;
	int n_items, r;

	if (n_keys > KV_MAX_KEYS)
		return error_set(err, -EINVAL, "%s: internal error: too many keys", option);

	/* Nothing given: every key takes its default, as in cloud-hypervisor. */
	if (input[0] == '\0') {
		*ret = kv;
		return 0;
	}

	kv.buf = malloc(strlen(input) + 1);
	if (!kv.buf)
		return error_set(err, -ENOMEM, "%s: out of memory", option);
	n_items = kv_split(input, kv.buf);
	if (n_items < 0) {
		r = error_set(err, -EINVAL, "%s: unbalanced brackets or quotes in '%s'", option,
			      kv_echo(input, echo));
		goto free_kv;
	}

	p = kv.buf;
	for (int n = 0; n < n_items; n++) {
		/* kv_parse_item may cut the item at '=', so find the next one first. */
		char *item = p;

		p += strlen(p) + 1;
		r = kv_parse_item(&kv, item, input, err);
		if (r < 0)
			goto free_kv;
	}

	/* Syntax errors first: those are the user's to fix whatever we support. */
	for (size_t i = 0; i < n_keys; i++) {
		if (kv.values[i] && (keys[i].flags & KV_UNSUPPORTED)) {
			r = error_set(err, -ENOSYS, "%s: '%s' is not supported yet", option,
				      keys[i].name);
			goto free_kv;
		}
	}

	*ret = kv;
	return 0;

free_kv:
	kv_free(&kv);
	return r;
}

void kv_free(struct kv *kv)
{
	if (!kv)
		return;
	free(kv->buf);
	kv->buf = NULL;
	memset(kv->values, 0, sizeof(kv->values));
	kv->n_given = 0;
}

const char *kv_get(const struct kv *kv, const char *name)
{
	ssize_t i = kv_find(kv->keys, kv->n_keys, name);

	return i < 0 ? NULL : kv->values[i];
}

int kv_get_toggle(const struct kv *kv, const char *name, bool *ret, struct error *err)
{
	static const struct {
		const char *word;
		bool value;
	} words[] = {
		{ "on", true },
		{ "off", false },
		{ "true", true },
		{ "false", false },
	};
	const char *v = kv_get(kv, name);
	char echo[KV_ECHO_MAX];

	if (!v)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		if (strcasecmp(v, words[i].word) == 0) {
			*ret = words[i].value;
			return 0;
		}
	}
	return error_set(err, -EINVAL, "%s: %s must be on or off (got '%s')", kv->option, name,
			 kv_echo(v, echo));
}

int kv_check_toggle(const struct kv *kv, const char *name, bool supported, struct error *err)
{
	bool v = supported;
	int r;

	r = kv_get_toggle(kv, name, &v, err);
	if (r < 0)
		return r;
	if (v != supported)
		return error_set(err, -ENOSYS, "%s: %s=%s is not supported yet", kv->option, name,
				 v ? "on" : "off");
	return 0;
}

int kv_parse_uint(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned int d;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		d = (unsigned int)(*s - '0');
		if (d > max || v > (max - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}
