/* SPDX-License-Identifier: Apache-2.0 */
/*
 * "key=value,key=value" option strings (--cpus, --memory, --serial, --disk,
 * --net, --rng, and later --fs, --vsock), read as cloud-hypervisor's
 * option_parser reads them so that command lines written for it keep working:
 *   - commas inside [...] or "..." do not split ("affinity=[0@[0,2]]",
 *     cmdline="console=ttyS0,115200"); double quotes are removed;
 *   - an item is "key=value" (the value may be empty) or, for keys declared
 *     KV_VALUELESS, a bare word ("tty").
 * Stricter than cloud-hypervisor where it silently guesses: a key given twice,
 * an empty item (stray comma) and "word=value" for a bare word are errors.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/macros.h"

/* Keys one option may declare; a table larger than this is a programming error. */
#define KV_MAX_KEYS 32
/* Longest piece of user input quoted back in an error message. */
#define KV_ECHO_MAX 64

enum kv_key_flags {
	KV_VALUELESS = 1 << 0, /* a bare word ("tty"), never "key=value" */
	/* cloud-hypervisor has it and nacelle does not yet: -ENOSYS, not "unknown key" */
	KV_UNSUPPORTED = 1 << 1,
};

struct kv_key {
	const char *name;
	unsigned int flags; /* enum kv_key_flags */
};

struct kv {
	const char *option; /* "--memory", for messages */
	const struct kv_key *keys;
	size_t n_keys;
	size_t n_given; /* keys present in the input */
	char *buf;      /* the unquoted input, split in place; values point into it */
	const char *values[KV_MAX_KEYS]; /* per key: NULL if absent, "" for a bare word */
};

/*
 * Split `input` against `keys`. On success fills *ret (release with kv_free).
 * -EINVAL: syntax, unknown key (the message lists the supported keys),
 * duplicate key; -ENOSYS: a KV_UNSUPPORTED key, reported only when the string
 * is otherwise valid. `option` must outlive *ret.
 */
int kv_parse(const char *option, const char *input, const struct kv_key *keys, size_t n_keys,
	     struct kv *ret, struct error *err) _wur_;
void kv_free(struct kv *kv);

/* The value of `name` (which must be one of the declared keys), NULL if absent. */
const char *kv_get(const struct kv *kv, const char *name);

/*
 * on|off|true|false, any case, as cloud-hypervisor's Toggle. Leaves *ret
 * alone if the key is absent. An empty value is an error: "shared=" is more
 * likely a mistake than a request for the default.
 */
int kv_get_toggle(const struct kv *kv, const char *name, bool *ret, struct error *err) _wur_;

/*
 * A toggle nacelle supports in one position only (iommu=off): absent or equal
 * to `supported` is fine, the other position is -ENOSYS. Command lines written
 * for cloud-hypervisor often spell out its defaults, and those must not fail.
 */
int kv_check_toggle(const struct kv *kv, const char *name, bool supported,
		    struct error *err) _wur_;

/* Plain decimal digits (no sign, space or suffix), <= max. -EINVAL otherwise. */
int kv_parse_uint(const char *s, uint64_t max, uint64_t *ret) _wur_;

/*
 * User input made safe to quote in a one-line message: control characters
 * become '?', and long input is cut to KV_ECHO_MAX - 1 bytes ending in "...".
 */
const char *kv_echo(const char *s, char buf[static KV_ECHO_MAX]);
