/* SPDX-License-Identifier: Apache-2.0 */
/* The binary's entry point: containerd's flags, then one action. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "common/log.h"
#include "shim/task.h"

enum flag_kind { FLAG_BOOL, FLAG_STRING };

struct flag_def {
	const char *name;
	enum flag_kind kind;
	size_t offset;
};

#define FLAG(name, kind, field) { name, kind, offsetof(struct shim_flags, field) }

/* What containerd 1.6's shim library defines (runtime/v2/shim/shim.go). */
static const struct flag_def flag_defs[] = {
	FLAG("debug", FLAG_BOOL, debug),
	FLAG("v", FLAG_BOOL, version),
	FLAG("namespace", FLAG_STRING, ns),
	FLAG("id", FLAG_STRING, id),
	FLAG("address", FLAG_STRING, address),
	FLAG("publish-binary", FLAG_STRING, publish_binary),
	FLAG("socket", FLAG_STRING, socket),
	FLAG("bundle", FLAG_STRING, bundle),
};

static int parse_bool(const char *v, bool *ret)
{
	static const char *const yes[] = { "1", "t", "T", "true", "TRUE", "True" };
	static const char *const no[] = { "0", "f", "F", "false", "FALSE", "False" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcmp(v, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

int shim_flags_parse(int argc, char **argv, struct shim_flags *ret, struct error *err)
{
	struct shim_flags f = { .publish_binary = "containerd", .argv0 = argv[0] };
	int i;

	/* Go's flag package: -x, --x, -x=v, -x v; the first non-flag word
	 * (or "--") ends the flags. */
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *value;
		const struct flag_def *def = NULL;
		size_t name_len;

		if (arg[0] != '-' || arg[1] == '\0')
			break;
		if (strcmp(arg, "--") == 0) {
			i++;
			break;
		}
		name = arg + (arg[1] == '-' ? 2 : 1);
		value = strchr(name, '=');
		name_len = value ? (size_t)(value - name) : strlen(name);
		if (value)
			value++;
		for (size_t k = 0; k < ARRAY_SIZE(flag_defs); k++)
			if (strlen(flag_defs[k].name) == name_len &&
			    strncmp(flag_defs[k].name, name, name_len) == 0)
				def = &flag_defs[k];
		if (!def)
			return error_set(err, -EINVAL, "flag provided but not defined: -%.*s",
					 (int)name_len, name);
		if (def->kind == FLAG_BOOL) {
			bool *b = (bool *)((char *)&f + def->offset);

			if (!value)
				*b = true;
			else if (parse_bool(value, b) < 0)
				return error_set(err, -EINVAL,
						 "invalid boolean value \"%s\" for -%s", value,
						 def->name);
		} else {
			const char **s = (const char **)((char *)&f + def->offset);

			if (!value) {
				if (i + 1 >= argc)
					return error_set(err, -EINVAL, "flag needs an argument: -%s",
							 def->name);
				value = argv[++i];
			}
			*s = value;
		}
	}
	f.action = i < argc ? argv[i] : NULL;
	*ret = f;
	return 0;
}

typedef int (*cmd_fn)(const struct shim_flags *f, const struct shim_runtime_ops *ops);

static const struct {
	const char *name;
	cmd_fn fn;
} commands[] = {
	{ "start", cmd_start },
	{ "delete", cmd_delete },
};

int shim_main(int argc, char **argv, const struct shim_runtime_ops *ops)
{
	struct shim_flags f;
	struct error err = {};
	cmd_fn fn = cmd_serve;

	log_set_ident("containerd-shim-nacelle-v2");
	if (shim_flags_parse(argc, argv, &f, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 2;
	}
	if (f.version) {
		printf("containerd-shim-nacelle-v2:\n  Version: %s\n", NACELLE_VERSION);
		return 0;
	}
	if (f.action) {
		fn = NULL;
		for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
			if (strcmp(commands[i].name, f.action) == 0)
				fn = commands[i].fn;
		if (!fn) {
			fprintf(stderr, "unknown action \"%s\" (start, delete, or none to serve)\n",
				f.action);
			return 2;
		}
	}
	if (!f.ns || !f.ns[0]) {
		fprintf(stderr, "shim namespace cannot be empty\n");
		return 1;
	}
	if (shim_id_validate(f.ns, &err) < 0 || (f.id && shim_id_validate(f.id, &err) < 0)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	return fn(&f, ops);
}
