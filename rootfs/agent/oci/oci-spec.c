/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json -> struct oci_spec (runtime-spec 1.x, the Linux parts).
 *
 * Every object is walked with a field table (oci-json.c): unknown fields are
 * ignored, as the spec allows extensions; a known field of the wrong type,
 * out of range, or over a named limit is an error naming the field. Values
 * are checked here when the check needs nothing but the spec (paths
 * absolute and not escaping the root, names known, no duplicates), so the
 * code creating the container can trust the struct.
 *
 * Objects are filled in place and owned by the struct as soon as they are
 * allocated, so a failure at any point leaves a half-built struct that the
 * matching _free() releases.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cap-ng.h>

#include "agent/oci-spec.h"
#include "common/log.h"
#include "oci-internal.h"
#include "oci-json.h"

#define OCI_HOST_NAME_MAX 64 /* HOST_NAME_MAX, also the UTS domainname limit */
#define OCI_SYSCALL_NAME_MAX 64
#define OCI_ERRNO_MAX 4095 /* MAX_ERRNO: larger values are not errnos */

/* ---------------------------------------------------------------- free */

static void resources_clear(struct oci_resources *r)
{
	free(r->cpu.cpus);
	free(r->cpu.mems);
	free(r->devices);
	oci_kv_free(r->unified, r->n_unified);
}

void oci_resources_free(struct oci_resources *r)
{
	if (!r)
		return;
	resources_clear(r);
	free(r);
}

static void process_clear(struct oci_process *p)
{
	free(p->user.additional_gids);
	oci_strv_free(p->args, p->n_args);
	oci_strv_free(p->env, p->n_env);
	free(p->cwd);
	free(p->rlimits);
}

void oci_process_free(struct oci_process *p)
{
	if (!p)
		return;
	process_clear(p);
	free(p);
}

static void seccomp_free(struct oci_seccomp *s)
{
	if (!s)
		return;
	oci_strv_free(s->architectures, s->n_architectures);
	oci_strv_free(s->flags, s->n_flags);
	if (s->syscalls)
		for (size_t i = 0; i < s->n_syscalls; i++) {
			oci_strv_free(s->syscalls[i].names, s->syscalls[i].n_names);
			free(s->syscalls[i].args);
		}
	free(s->syscalls);
	free(s);
}

static void linux_clear(struct oci_linux *l)
{
	if (l->namespaces)
		for (size_t i = 0; i < l->n_namespaces; i++)
			free(l->namespaces[i].path);
	free(l->namespaces);
	free(l->uid_mappings);
	free(l->gid_mappings);
	if (l->devices)
		for (size_t i = 0; i < l->n_devices; i++)
			free(l->devices[i].path);
	free(l->devices);
	free(l->cgroups_path);
	oci_resources_free(l->resources);
	oci_kv_free(l->sysctl, l->n_sysctl);
	seccomp_free(l->seccomp);
	oci_strv_free(l->masked_paths, l->n_masked_paths);
	oci_strv_free(l->readonly_paths, l->n_readonly_paths);
}

void oci_spec_free(struct oci_spec *s)
{
	if (!s)
		return;
	free(s->oci_version);
	oci_process_free(s->process);
	free(s->root.path);
	free(s->hostname);
	free(s->domainname);
	if (s->mounts)
		for (size_t i = 0; i < s->n_mounts; i++) {
			free(s->mounts[i].destination);
			free(s->mounts[i].type);
			free(s->mounts[i].source);
			oci_strv_free(s->mounts[i].options, s->mounts[i].n_options);
			free(s->mounts[i].data);
		}
	free(s->mounts);
	oci_kv_free(s->annotations, s->n_annotations);
	linux_clear(&s->linux_);
	free(s);
}

/* ---------------------------------------------------------------- shared */

/* Allocate n zeroed elements of size, owned by *field from now on. */
static int alloc_array(struct oci_json_ctx *c, const char *where, size_t n, size_t size,
		       void **field)
{
	void *p = calloc(n + 1, size);

	if (!p)
		return error_set(c->err, -ENOMEM, "%s: out of memory", where);
	*field = p;
	return 0;
}

static int missing(struct oci_json_ctx *c, const char *where, const char *field)
{
	return error_set(c->err, -EINVAL, "%s.%s: required", where, field);
}

/* An absolute path, stored normalized; ".." may not climb above "/". */
static int abs_path(struct oci_json_ctx *c, const char *where, yajl_val v, char **field)
{
	_cleanup_free_ char *raw = NULL;
	char *norm;
	int r;

	r = oci_json_string(c, where, v, OCI_MAX_PATH, false, &raw);
	if (r < 0)
		return r;
	if (raw[0] != '/')
		return error_set(c->err, -EINVAL, "%s: must be an absolute path", where);
	r = oci_path_normalize(raw, &norm);
	if (r == -EINVAL)
		return error_set(c->err, r, "%s: \"..\" climbs above the root", where);
	if (r < 0)
		return error_set(c->err, r, "%s: %s", where, strerror(-r));
	free(*field);
	*field = norm;
	return 0;
}

static int abs_path_list(struct oci_json_ctx *c, const char *where, yajl_val v, char ***field,
			 size_t *n_field)
{
	char sub[OCI_WHERE_MAX];
	size_t n;
	int r;

	r = oci_json_array(c, where, v, OCI_MAX_PATH_LIST, &n);
	if (r < 0)
		return r;
	r = alloc_array(c, where, n, sizeof(char *), (void **)field);
	if (r < 0)
		return r;
	*n_field = n;
	for (size_t i = 0; i < n; i++) {
		oci_json_where_index(sub, where, i);
		r = abs_path(c, sub, v->u.array.values[i], &(*field)[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int errno_ret(struct oci_json_ctx *c, const char *w, yajl_val v, int64_t *field)
{
	return oci_json_int64(c, w, v, 0, OCI_ERRNO_MAX, field);
}

/* ---------------------------------------------------------------- process */

static int user_uid(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_uint32(c, w, v, &((struct oci_user *)o)->uid);
}

static int user_gid(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_uint32(c, w, v, &((struct oci_user *)o)->gid);
}

static int user_umask(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_user *u = o;
	uint64_t n;
	int r = oci_json_uint64(c, w, v, 0777, &n);

	if (r < 0)
		return r;
	u->umask = (uint32_t)n;
	u->has_umask = true;
	return 0;
}

static int user_gids(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_user *u = o;
	char sub[OCI_WHERE_MAX];
	size_t n;
	int r;

	r = oci_json_array(c, w, v, OCI_MAX_GIDS, &n);
	if (r < 0)
		return r;
	r = alloc_array(c, w, n, sizeof(gid_t), (void **)&u->additional_gids);
	if (r < 0)
		return r;
	u->n_additional_gids = n;
	for (size_t i = 0; i < n; i++) {
		uint32_t gid;

		oci_json_where_index(sub, w, i);
		r = oci_json_uint32(c, sub, v->u.array.values[i], &gid);
		if (r < 0)
			return r;
		u->additional_gids[i] = gid;
	}
	return 0;
}

static const struct oci_json_field user_fields[] = {
	{ "uid", user_uid },
	{ "gid", user_gid },
	{ "umask", user_umask },
	{ "additionalGids", user_gids },
};

static int process_user(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_object(c, w, v, user_fields, ARRAY_SIZE(user_fields),
			       &((struct oci_process *)o)->user);
}

static int console_height(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_uint32(c, w, v, &((struct oci_process *)o)->console_height);
}

static int console_width(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_uint32(c, w, v, &((struct oci_process *)o)->console_width);
}

static const struct oci_json_field console_fields[] = {
	{ "height", console_height },
	{ "width", console_width },
};

static int process_console_size(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_process *p = o;

	p->has_console_size = true;
	return oci_json_object(c, w, v, console_fields, ARRAY_SIZE(console_fields), p);
}

static int process_terminal(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_bool(c, w, v, &((struct oci_process *)o)->terminal);
}

static int process_args(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_process *p = o;

	return oci_json_strv(c, w, v, OCI_MAX_ARGS, OCI_MAX_STRING, true, &p->args, &p->n_args);
}

static int process_env(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_process *p = o;
	char sub[OCI_WHERE_MAX];
	int r;

	r = oci_json_strv(c, w, v, OCI_MAX_ENV, OCI_MAX_STRING, false, &p->env, &p->n_env);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n_env; i++) {
		const char *eq = strchr(p->env[i], '=');

		oci_json_where_index(sub, w, i);
		if (!eq)
			return error_set(c->err, -EINVAL, "%s: expected KEY=value", sub);
		if (eq == p->env[i])
			return error_set(c->err, -EINVAL, "%s: empty variable name", sub);
	}
	return 0;
}

static int process_cwd(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_process *p = o;
	int r = oci_json_string(c, w, v, OCI_MAX_PATH, false, &p->cwd);

	if (r < 0)
		return r;
	if (p->cwd[0] != '/')
		return error_set(c->err, -EINVAL, "%s: must be an absolute path", w);
	return 0;
}

/* One capability set: names -> mask. */
static int cap_set(struct oci_json_ctx *c, const char *w, yajl_val v, uint64_t *mask)
{
	char sub[OCI_WHERE_MAX], echo[OCI_ECHO_MAX];
	size_t n;
	int r;

	r = oci_json_array(c, w, v, OCI_MAX_CAPS, &n);
	if (r < 0)
		return r;
	*mask = 0;
	for (size_t i = 0; i < n; i++) {
		yajl_val e = v->u.array.values[i];
		char lower[64];
		const char *name;
		size_t len;
		int cap;

		oci_json_where_index(sub, w, i);
		if (!YAJL_IS_STRING(e))
			return error_set(c->err, -EINVAL, "%s: expected a string", sub);
		name = e->u.string;
		if (strncmp(name, "CAP_", 4) != 0)
			return error_set(c->err, -EINVAL, "%s: \"%s\" is not a capability name (CAP_*)",
					 sub, oci_json_echo(name, echo));
		len = strlen(name + 4);
		if (len == 0 || len >= sizeof(lower))
			return error_set(c->err, -EINVAL, "%s: \"%s\" is not a capability name",
					 sub, oci_json_echo(name, echo));
		for (size_t j = 0; j <= len; j++)
			lower[j] = (char)tolower((unsigned char)name[4 + j]);
		cap = capng_name_to_capability(lower);
		if (cap < 0 || cap >= 64) {
			/* runc too: a newer engine may name capabilities this guest lacks */
			log_debug("%s: ignoring unknown capability %s", sub, oci_json_echo(name, echo));
			continue;
		}
		*mask |= UINT64_C(1) << cap;
	}
	return 0;
}

#define CAP_FIELD(set)                                                                 \
	static int caps_##set(struct oci_json_ctx *c, const char *w, yajl_val v, void *o) \
	{                                                                              \
		return cap_set(c, w, v, &((struct oci_caps *)o)->set);                 \
	}
CAP_FIELD(bounding)
CAP_FIELD(effective)
CAP_FIELD(permitted)
CAP_FIELD(inheritable)
CAP_FIELD(ambient)

static const struct oci_json_field caps_fields[] = {
	{ "bounding", caps_bounding },	     { "effective", caps_effective },
	{ "permitted", caps_permitted },     { "inheritable", caps_inheritable },
	{ "ambient", caps_ambient },
};

static int process_caps(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_process *p = o;

	p->caps.present = true;
	return oci_json_object(c, w, v, caps_fields, ARRAY_SIZE(caps_fields), &p->caps);
}

struct rlimit_tmp {
	struct oci_rlimit *rl;
	bool has_type, has_hard, has_soft;
};

static int rlimit_type(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct rlimit_tmp *t = o;
	char echo[OCI_ECHO_MAX];
	int res;

	if (!YAJL_IS_STRING(v))
		return error_set(c->err, -EINVAL, "%s: expected a string", w);
	res = oci_rlimit_from_string(v->u.string);
	if (res < 0)
		return error_set(c->err, -EINVAL, "%s: unknown rlimit \"%s\"", w,
				 oci_json_echo(v->u.string, echo));
	t->rl->resource = res;
	t->has_type = true;
	return 0;
}

static int rlimit_hard(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct rlimit_tmp *t = o;

	t->has_hard = true;
	return oci_json_uint64(c, w, v, UINT64_MAX, &t->rl->hard);
}

static int rlimit_soft(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct rlimit_tmp *t = o;

	t->has_soft = true;
	return oci_json_uint64(c, w, v, UINT64_MAX, &t->rl->soft);
}

static const struct oci_json_field rlimit_fields[] = {
	{ "type", rlimit_type },
	{ "hard", rlimit_hard },
	{ "soft", rlimit_soft },
};

static int process_rlimits(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_process *p = o;
	char sub[OCI_WHERE_MAX];
	size_t n;
	int r;

	r = oci_json_array(c, w, v, OCI_MAX_RLIMITS, &n);
	if (r < 0)
		return r;
	r = alloc_array(c, w, n, sizeof(*p->rlimits), (void **)&p->rlimits);
	if (r < 0)
		return r;
	p->n_rlimits = n;
	for (size_t i = 0; i < n; i++) {
		struct rlimit_tmp t = { .rl = &p->rlimits[i] };

		oci_json_where_index(sub, w, i);
		r = oci_json_object(c, sub, v->u.array.values[i], rlimit_fields,
				    ARRAY_SIZE(rlimit_fields), &t);
		if (r < 0)
			return r;
		if (!t.has_type)
			return missing(c, sub, "type");
		if (!t.has_hard)
			return missing(c, sub, "hard");
		if (!t.has_soft)
			return missing(c, sub, "soft");
		if (t.rl->soft > t.rl->hard)
			return error_set(c->err, -EINVAL, "%s: soft limit above the hard limit", sub);
		for (size_t j = 0; j < i; j++)
			if (p->rlimits[j].resource == t.rl->resource)
				return error_set(c->err, -EINVAL, "%s: %s given more than once", sub,
						 oci_rlimit_to_string(t.rl->resource));
	}
	return 0;
}

static int process_nnp(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_bool(c, w, v, &((struct oci_process *)o)->no_new_privileges);
}

static int process_oom(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_int64(c, w, v, -1000, 1000, &((struct oci_process *)o)->oom_score_adj);
}

static const struct oci_json_field process_fields[] = {
	{ "terminal", process_terminal },
	{ "consoleSize", process_console_size },
	{ "user", process_user },
	{ "args", process_args },
	{ "env", process_env },
	{ "cwd", process_cwd },
	{ "capabilities", process_caps },
	{ "rlimits", process_rlimits },
	{ "noNewPrivileges", process_nnp },
	{ "oomScoreAdj", process_oom },
	/* commandLine (Windows), apparmorProfile, selinuxLabel, ioPriority,
	 * scheduler, execCPUAffinity: not for nacelle's guest, ignored */
};

static int process_parse(struct oci_json_ctx *c, const char *w, yajl_val v,
			 struct oci_process **field)
{
	struct oci_process *p;
	int r;

	p = calloc(1, sizeof(*p));
	if (!p)
		return error_set(c->err, -ENOMEM, "%s: out of memory", w);
	p->oom_score_adj = OCI_UNSET;
	*field = p;
	r = oci_json_object(c, w, v, process_fields, ARRAY_SIZE(process_fields), p);
	if (r < 0)
		return r;
	if (p->n_args == 0)
		return error_set(c->err, -EINVAL, "%s.args: at least one entry is required", w);
	if (!p->env) {
		p->env = calloc(1, sizeof(char *));
		if (!p->env)
			return error_set(c->err, -ENOMEM, "%s.env: out of memory", w);
	}
	if (!p->cwd) {
		p->cwd = strdup("/");
		if (!p->cwd)
			return error_set(c->err, -ENOMEM, "%s.cwd: out of memory", w);
	}
	return 0;
}

/* ---------------------------------------------------------------- root, mounts */

static int root_path(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_string(c, w, v, OCI_MAX_PATH, false, &((struct oci_spec *)o)->root.path);
}

static int root_readonly(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_bool(c, w, v, &((struct oci_spec *)o)->root.readonly);
}

static const struct oci_json_field root_fields[] = {
	{ "path", root_path },
	{ "readonly", root_readonly },
};

static int mount_destination(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return abs_path(c, w, v, &((struct oci_mount *)o)->destination);
}

static int mount_type(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_string(c, w, v, OCI_MAX_PATH, false, &((struct oci_mount *)o)->type);
}

static int mount_source(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_string(c, w, v, OCI_MAX_PATH, true, &((struct oci_mount *)o)->source);
}

static int mount_options(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_mount *m = o;

	return oci_json_strv(c, w, v, OCI_MAX_MOUNT_OPTIONS, OCI_MAX_STRING, false, &m->options,
			     &m->n_options);
}

static const struct oci_json_field mount_fields[] = {
	{ "destination", mount_destination },
	{ "type", mount_type },
	{ "source", mount_source },
	{ "options", mount_options },
	/* uidMappings/gidMappings (idmapped mounts): ignored */
};

static int spec_mounts(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_spec *s = o;
	char sub[OCI_WHERE_MAX];
	size_t n;
	int r;

	r = oci_json_array(c, w, v, OCI_MAX_MOUNTS, &n);
	if (r < 0)
		return r;
	r = alloc_array(c, w, n, sizeof(*s->mounts), (void **)&s->mounts);
	if (r < 0)
		return r;
	s->n_mounts = n;
	for (size_t i = 0; i < n; i++) {
		struct oci_mount *m = &s->mounts[i];
		char opts_where[OCI_WHERE_MAX];

		oci_json_where_index(sub, w, i);
		r = oci_json_object(c, sub, v->u.array.values[i], mount_fields,
				    ARRAY_SIZE(mount_fields), m);
		if (r < 0)
			return r;
		if (!m->destination)
			return missing(c, sub, "destination");
		if (!m->options) {
			m->options = calloc(1, sizeof(char *));
			if (!m->options)
				return error_set(c->err, -ENOMEM, "%s: out of memory", sub);
		}
		oci_json_where_key(opts_where, sub, "options");
		r = oci_mount_options_translate(m, opts_where, c->err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---------------------------------------------------------------- resources */

static int int64_min1(struct oci_json_ctx *c, const char *w, yajl_val v, int64_t *field)
{
	return oci_json_int64(c, w, v, -1, INT64_MAX, field);
}

static int mem_limit(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return int64_min1(c, w, v, &((struct oci_resources *)o)->memory.limit);
}

static int mem_reservation(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return int64_min1(c, w, v, &((struct oci_resources *)o)->memory.reservation);
}

static int mem_swap(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return int64_min1(c, w, v, &((struct oci_resources *)o)->memory.swap);
}

static int mem_swappiness(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	uint64_t n;
	int r = oci_json_uint64(c, w, v, 100, &n);

	if (r >= 0)
		((struct oci_resources *)o)->memory.swappiness = (int64_t)n;
	return r;
}

static int mem_disable_oom(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_bool(c, w, v, &((struct oci_resources *)o)->memory.disable_oom_killer);
}

static const struct oci_json_field memory_fields[] = {
	{ "limit", mem_limit },
	{ "reservation", mem_reservation },
	{ "swap", mem_swap },
	{ "swappiness", mem_swappiness },
	{ "disableOOMKiller", mem_disable_oom },
	/* kernel, kernelTCP (deprecated), useHierarchy, checkBeforeUpdate: ignored */
};

static int cpu_shares(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	uint64_t n;
	int r = oci_json_uint64(c, w, v, INT64_MAX, &n);

	if (r >= 0)
		((struct oci_resources *)o)->cpu.shares = (int64_t)n;
	return r;
}

static int cpu_quota(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return int64_min1(c, w, v, &((struct oci_resources *)o)->cpu.quota);
}

static int cpu_period(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	uint64_t n;
	int r = oci_json_uint64(c, w, v, INT64_MAX, &n);

	if (r >= 0)
		((struct oci_resources *)o)->cpu.period = (int64_t)n;
	return r;
}

/* "0-3,7": what cpuset.cpus / cpuset.mems accept. */
static int cpu_list(struct oci_json_ctx *c, const char *w, yajl_val v, char **field)
{
	int r = oci_json_string(c, w, v, OCI_MAX_PATH, true, field);

	if (r < 0)
		return r;
	for (const char *p = *field; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == ',' || *p == '-'))
			return error_set(c->err, -EINVAL, "%s: expected a list like \"0-3,7\"", w);
	return 0;
}

static int cpu_cpus(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return cpu_list(c, w, v, &((struct oci_resources *)o)->cpu.cpus);
}

static int cpu_mems(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return cpu_list(c, w, v, &((struct oci_resources *)o)->cpu.mems);
}

static const struct oci_json_field cpu_fields[] = {
	{ "shares", cpu_shares },
	{ "quota", cpu_quota },
	{ "period", cpu_period },
	{ "cpus", cpu_cpus },
	{ "mems", cpu_mems },
	/* realtimeRuntime, realtimePeriod, burst, idle: ignored */
};

static int pids_limit(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_int64(c, w, v, INT64_MIN + 1, INT64_MAX,
			      &((struct oci_resources *)o)->pids.limit);
}

static const struct oci_json_field pids_fields[] = {
	{ "limit", pids_limit },
};

static int blkio_weight(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_resources *res = o;
	uint64_t n;
	int r = oci_json_uint64(c, w, v, 1000, &n);

	if (r < 0)
		return r;
	if (n == 0)
		return 0; /* runc: 0 means "leave it" */
	if (n < 10)
		return error_set(c->err, -ERANGE, "%s: %" PRIu64 " is out of range [10, 1000]", w, n);
	res->block_io.weight = (int64_t)n;
	return 0;
}

static const struct oci_json_field blkio_fields[] = {
	{ "weight", blkio_weight },
	/* leafWeight, weightDevice, throttle*Device: ignored */
};

struct dev_rule_tmp {
	struct oci_device_rule *d;
	bool has_allow;
};

static int rule_allow(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct dev_rule_tmp *t = o;

	t->has_allow = true;
	return oci_json_bool(c, w, v, &t->d->allow);
}

static int rule_type(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct dev_rule_tmp *t = o;

	if (!YAJL_IS_STRING(v))
		return error_set(c->err, -EINVAL, "%s: expected a string", w);
	if (strcmp(v->u.string, "a") && strcmp(v->u.string, "c") && strcmp(v->u.string, "b"))
		return error_set(c->err, -EINVAL, "%s: expected \"a\", \"c\" or \"b\"", w);
	t->d->type = v->u.string[0];
	return 0;
}

/* -1 is the usual spelling of "any" for rules; keep it as OCI_UNSET */
static int rule_number(struct oci_json_ctx *c, const char *w, yajl_val v, int64_t *field)
{
	int r = oci_json_int64(c, w, v, -1, UINT32_MAX, field);

	if (r >= 0 && *field == -1)
		*field = OCI_UNSET;
	return r;
}

static int rule_major(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return rule_number(c, w, v, &((struct dev_rule_tmp *)o)->d->major);
}

static int rule_minor(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return rule_number(c, w, v, &((struct dev_rule_tmp *)o)->d->minor);
}

static int rule_access(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct dev_rule_tmp *t = o;
	const char *s;
	char out[4] = "";
	size_t n = 0;

	if (!YAJL_IS_STRING(v))
		return error_set(c->err, -EINVAL, "%s: expected a string", w);
	s = v->u.string;
	if (!*s || strlen(s) > 3)
		return error_set(c->err, -EINVAL, "%s: expected letters of \"rwm\"", w);
	for (; *s; s++) {
		if (!strchr("rwm", *s))
			return error_set(c->err, -EINVAL, "%s: expected letters of \"rwm\"", w);
		if (!memchr(out, *s, n))
			out[n++] = *s;
	}
	memcpy(t->d->access, out, sizeof(out));
	return 0;
}

static const struct oci_json_field rule_fields[] = {
	{ "allow", rule_allow }, { "type", rule_type },	    { "major", rule_major },
	{ "minor", rule_minor }, { "access", rule_access },
};

static int res_devices(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_resources *res = o;
	char sub[OCI_WHERE_MAX];
	size_t n;
	int r;

	r = oci_json_array(c, w, v, OCI_MAX_DEVICE_RULES, &n);
	if (r < 0)
		return r;
	r = alloc_array(c, w, n, sizeof(*res->devices), (void **)&res->devices);
	if (r < 0)
		return r;
	res->n_devices = n;
	for (size_t i = 0; i < n; i++) {
		struct dev_rule_tmp t = { .d = &res->devices[i] };

		t.d->type = 'a';
		t.d->major = t.d->minor = OCI_UNSET;
		memcpy(t.d->access, "rwm", 4);
		oci_json_where_index(sub, w, i);
		r = oci_json_object(c, sub, v->u.array.values[i], rule_fields,
				    ARRAY_SIZE(rule_fields), &t);
		if (r < 0)
			return r;
		if (!t.has_allow)
			return missing(c, sub, "allow");
	}
	return 0;
}

static int res_memory(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_object(c, w, v, memory_fields, ARRAY_SIZE(memory_fields), o);
}

static int res_cpu(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_object(c, w, v, cpu_fields, ARRAY_SIZE(cpu_fields), o);
}

static int res_pids(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_object(c, w, v, pids_fields, ARRAY_SIZE(pids_fields), o);
}

static int res_blkio(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_object(c, w, v, blkio_fields, ARRAY_SIZE(blkio_fields), o);
}

static int res_unified(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_resources *res = o;
	char echo[OCI_ECHO_MAX];
	int r;

	r = oci_json_kv(c, w, v, OCI_MAX_UNIFIED, OCI_MAX_STRING, &res->unified, &res->n_unified);
	if (r < 0)
		return r;
	/* keys are file names in the container's cgroup directory */
	for (size_t i = 0; i < res->n_unified; i++) {
		const char *k = res->unified[i].key;

		if (strchr(k, '/') || strcmp(k, ".") == 0 || strcmp(k, "..") == 0)
			return error_set(c->err, -EINVAL, "%s: \"%s\" is not a cgroup file name", w,
					 oci_json_echo(k, echo));
	}
	return 0;
}

static const struct oci_json_field resources_fields[] = {
	{ "memory", res_memory }, { "cpu", res_cpu },	    { "pids", res_pids },
	{ "blockIO", res_blkio }, { "devices", res_devices }, { "unified", res_unified },
	/* hugepageLimits, network, rdma: ignored */
};

static int resources_parse(struct oci_json_ctx *c, const char *w, yajl_val v,
			   struct oci_resources **field)
{
	struct oci_resources *res;

	res = calloc(1, sizeof(*res));
	if (!res)
		return error_set(c->err, -ENOMEM, "%s: out of memory", w);
	res->memory.limit = res->memory.reservation = res->memory.swap = OCI_UNSET;
	res->memory.swappiness = OCI_UNSET;
	res->cpu.shares = res->cpu.quota = res->cpu.period = OCI_UNSET;
	res->pids.limit = OCI_UNSET;
	res->block_io.weight = OCI_UNSET;
	*field = res;
	return oci_json_object(c, w, v, resources_fields, ARRAY_SIZE(resources_fields), res);
}

/* ---------------------------------------------------------------- seccomp */

static int seccomp_action(struct oci_json_ctx *c, const char *w, yajl_val v,
			  enum oci_seccomp_action *field)
{
	char echo[OCI_ECHO_MAX];
	int a;

	if (!YAJL_IS_STRING(v))
		return error_set(c->err, -EINVAL, "%s: expected a string", w);
	a = oci_seccomp_action_from_string(v->u.string);
	if (a < 0) {
		if (strcmp(v->u.string, "SCMP_ACT_NOTIFY") == 0)
			return error_set(c->err, -EOPNOTSUPP, "%s: SCMP_ACT_NOTIFY is not supported",
					 w);
		return error_set(c->err, -EINVAL, "%s: unknown action \"%s\"", w,
				 oci_json_echo(v->u.string, echo));
	}
	*field = a;
	return 0;
}

struct seccomp_arg_tmp {
	struct oci_seccomp_arg *a;
	bool has_index, has_value, has_op;
};

static int arg_index(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct seccomp_arg_tmp *t = o;
	uint64_t n;
	int r = oci_json_uint64(c, w, v, OCI_MAX_SYSCALL_ARGS - 1, &n);

	t->a->index = (uint32_t)n;
	t->has_index = true;
	return r;
}

static int arg_value(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct seccomp_arg_tmp *t = o;

	t->has_value = true;
	return oci_json_uint64(c, w, v, UINT64_MAX, &t->a->value);
}

static int arg_value_two(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_uint64(c, w, v, UINT64_MAX, &((struct seccomp_arg_tmp *)o)->a->value_two);
}

static int arg_op(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct seccomp_arg_tmp *t = o;
	char echo[OCI_ECHO_MAX];
	int op;

	if (!YAJL_IS_STRING(v))
		return error_set(c->err, -EINVAL, "%s: expected a string", w);
	op = oci_seccomp_op_from_string(v->u.string);
	if (op < 0)
		return error_set(c->err, -EINVAL, "%s: unknown operator \"%s\"", w,
				 oci_json_echo(v->u.string, echo));
	t->a->op = op;
	t->has_op = true;
	return 0;
}

static const struct oci_json_field arg_fields[] = {
	{ "index", arg_index },
	{ "value", arg_value },
	{ "valueTwo", arg_value_two },
	{ "op", arg_op },
};

struct syscall_tmp {
	struct oci_seccomp_syscall *s;
	bool has_action;
};

static int syscall_names(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_seccomp_syscall *s = ((struct syscall_tmp *)o)->s;

	return oci_json_strv(c, w, v, OCI_MAX_SYSCALL_NAMES, OCI_SYSCALL_NAME_MAX, false,
			     &s->names, &s->n_names);
}

static int syscall_action(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct syscall_tmp *t = o;

	t->has_action = true;
	return seccomp_action(c, w, v, &t->s->action);
}

static int syscall_errno(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return errno_ret(c, w, v, &((struct syscall_tmp *)o)->s->errno_ret);
}

static int syscall_args(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_seccomp_syscall *s = ((struct syscall_tmp *)o)->s;
	char sub[OCI_WHERE_MAX];
	size_t n;
	int r;

	r = oci_json_array(c, w, v, OCI_MAX_SYSCALL_ARGS, &n);
	if (r < 0)
		return r;
	r = alloc_array(c, w, n, sizeof(*s->args), (void **)&s->args);
	if (r < 0)
		return r;
	s->n_args = n;
	for (size_t i = 0; i < n; i++) {
		struct seccomp_arg_tmp t = { .a = &s->args[i] };

		oci_json_where_index(sub, w, i);
		r = oci_json_object(c, sub, v->u.array.values[i], arg_fields,
				    ARRAY_SIZE(arg_fields), &t);
		if (r < 0)
			return r;
		if (!t.has_index)
			return missing(c, sub, "index");
		if (!t.has_value)
			return missing(c, sub, "value");
		if (!t.has_op)
			return missing(c, sub, "op");
	}
	return 0;
}

static const struct oci_json_field syscall_fields[] = {
	{ "names", syscall_names },
	{ "action", syscall_action },
	{ "errnoRet", syscall_errno },
	{ "args", syscall_args },
};

struct seccomp_tmp {
	struct oci_seccomp *s;
	bool has_default;
};

static int seccomp_default(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct seccomp_tmp *t = o;

	t->has_default = true;
	return seccomp_action(c, w, v, &t->s->default_action);
}

static int seccomp_default_errno(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return errno_ret(c, w, v, &((struct seccomp_tmp *)o)->s->default_errno_ret);
}

static int seccomp_arches(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_seccomp *s = ((struct seccomp_tmp *)o)->s;
	char sub[OCI_WHERE_MAX], echo[OCI_ECHO_MAX];
	int r;

	r = oci_json_strv(c, w, v, OCI_MAX_ARCHES, 64, false, &s->architectures,
			  &s->n_architectures);
	if (r < 0)
		return r;
	for (size_t i = 0; i < s->n_architectures; i++) {
		oci_json_where_index(sub, w, i);
		if (!oci_seccomp_arch_from_string(s->architectures[i]))
			return error_set(c->err, -EINVAL, "%s: unknown architecture \"%s\"", sub,
					 oci_json_echo(s->architectures[i], echo));
	}
	return 0;
}

static int seccomp_flags(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_seccomp *s = ((struct seccomp_tmp *)o)->s;

	return oci_json_strv(c, w, v, 16, 64, false, &s->flags, &s->n_flags);
}

static int seccomp_syscalls(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_seccomp *s = ((struct seccomp_tmp *)o)->s;
	char sub[OCI_WHERE_MAX];
	size_t n;
	int r;

	r = oci_json_array(c, w, v, OCI_MAX_SYSCALL_RULES, &n);
	if (r < 0)
		return r;
	r = alloc_array(c, w, n, sizeof(*s->syscalls), (void **)&s->syscalls);
	if (r < 0)
		return r;
	s->n_syscalls = n;
	for (size_t i = 0; i < n; i++) {
		struct syscall_tmp t = { .s = &s->syscalls[i] };

		t.s->errno_ret = OCI_UNSET;
		oci_json_where_index(sub, w, i);
		r = oci_json_object(c, sub, v->u.array.values[i], syscall_fields,
				    ARRAY_SIZE(syscall_fields), &t);
		if (r < 0)
			return r;
		if (t.s->n_names == 0)
			return missing(c, sub, "names");
		if (!t.has_action)
			return missing(c, sub, "action");
	}
	return 0;
}

static const struct oci_json_field seccomp_fields[] = {
	{ "defaultAction", seccomp_default },
	{ "defaultErrnoRet", seccomp_default_errno },
	{ "architectures", seccomp_arches },
	{ "flags", seccomp_flags },
	{ "syscalls", seccomp_syscalls },
	/* listenerPath, listenerMetadata: only with SCMP_ACT_NOTIFY, refused above */
};

/* ---------------------------------------------------------------- linux */

struct ns_tmp {
	struct oci_namespace *ns;
	bool has_type;
};

static int ns_type(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct ns_tmp *t = o;
	char echo[OCI_ECHO_MAX];
	int type;

	if (!YAJL_IS_STRING(v))
		return error_set(c->err, -EINVAL, "%s: expected a string", w);
	type = oci_ns_type_from_string(v->u.string);
	if (type < 0)
		return error_set(c->err, -EINVAL, "%s: unknown namespace type \"%s\"", w,
				 oci_json_echo(v->u.string, echo));
	t->ns->type = type;
	t->has_type = true;
	return 0;
}

static int ns_path(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct ns_tmp *t = o;
	int r = oci_json_string(c, w, v, OCI_MAX_PATH, true, &t->ns->path);

	if (r < 0)
		return r;
	if (!t->ns->path[0]) { /* "" = none, as runc */
		free(t->ns->path);
		t->ns->path = NULL;
		return 0;
	}
	if (t->ns->path[0] != '/')
		return error_set(c->err, -EINVAL, "%s: must be an absolute path", w);
	return 0;
}

static const struct oci_json_field ns_fields[] = {
	{ "type", ns_type },
	{ "path", ns_path },
};

static int linux_namespaces(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_linux *l = o;
	char sub[OCI_WHERE_MAX];
	unsigned seen = 0;
	size_t n;
	int r;

	r = oci_json_array(c, w, v, OCI_MAX_NAMESPACES, &n);
	if (r < 0)
		return r;
	r = alloc_array(c, w, n, sizeof(*l->namespaces), (void **)&l->namespaces);
	if (r < 0)
		return r;
	l->n_namespaces = n;
	for (size_t i = 0; i < n; i++) {
		struct ns_tmp t = { .ns = &l->namespaces[i] };

		oci_json_where_index(sub, w, i);
		r = oci_json_object(c, sub, v->u.array.values[i], ns_fields, ARRAY_SIZE(ns_fields),
				    &t);
		if (r < 0)
			return r;
		if (!t.has_type)
			return missing(c, sub, "type");
		if (seen & (1u << t.ns->type))
			return error_set(c->err, -EINVAL, "%s: namespace \"%s\" given more than once",
					 sub, oci_ns_type_to_string(t.ns->type));
		seen |= 1u << t.ns->type;
	}
	return 0;
}

struct idmap_tmp {
	struct oci_id_mapping *m;
	bool has_container, has_host, has_size;
};

static int idmap_container(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct idmap_tmp *t = o;

	t->has_container = true;
	return oci_json_uint32(c, w, v, &t->m->container_id);
}

static int idmap_host(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct idmap_tmp *t = o;

	t->has_host = true;
	return oci_json_uint32(c, w, v, &t->m->host_id);
}

static int idmap_size(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct idmap_tmp *t = o;

	t->has_size = true;
	return oci_json_uint32(c, w, v, &t->m->size);
}

static const struct oci_json_field idmap_fields[] = {
	{ "containerID", idmap_container },
	{ "hostID", idmap_host },
	{ "size", idmap_size },
};

static int id_mappings(struct oci_json_ctx *c, const char *w, yajl_val v,
		       struct oci_id_mapping **field, size_t *n_field)
{
	char sub[OCI_WHERE_MAX];
	size_t n;
	int r;

	r = oci_json_array(c, w, v, OCI_MAX_ID_MAPPINGS, &n);
	if (r < 0)
		return r;
	r = alloc_array(c, w, n, sizeof(**field), (void **)field);
	if (r < 0)
		return r;
	*n_field = n;
	for (size_t i = 0; i < n; i++) {
		struct idmap_tmp t = { .m = &(*field)[i] };

		oci_json_where_index(sub, w, i);
		r = oci_json_object(c, sub, v->u.array.values[i], idmap_fields,
				    ARRAY_SIZE(idmap_fields), &t);
		if (r < 0)
			return r;
		if (!t.has_container)
			return missing(c, sub, "containerID");
		if (!t.has_host)
			return missing(c, sub, "hostID");
		if (!t.has_size)
			return missing(c, sub, "size");
		if (t.m->size == 0)
			return error_set(c->err, -EINVAL, "%s.size: must be at least 1", sub);
		if ((uint64_t)t.m->container_id + t.m->size > (UINT64_C(1) << 32) ||
		    (uint64_t)t.m->host_id + t.m->size > (UINT64_C(1) << 32))
			return error_set(c->err, -ERANGE, "%s: range runs past 2^32", sub);
	}
	return 0;
}

static int linux_uid_mappings(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_linux *l = o;

	return id_mappings(c, w, v, &l->uid_mappings, &l->n_uid_mappings);
}

static int linux_gid_mappings(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_linux *l = o;

	return id_mappings(c, w, v, &l->gid_mappings, &l->n_gid_mappings);
}

struct device_tmp {
	struct oci_device *d;
};

static int dev_path(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return abs_path(c, w, v, &((struct device_tmp *)o)->d->path);
}

static int dev_type(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct device_tmp *t = o;
	const char *s;

	if (!YAJL_IS_STRING(v))
		return error_set(c->err, -EINVAL, "%s: expected a string", w);
	s = v->u.string;
	if (strlen(s) != 1 || !strchr("cbup", s[0]))
		return error_set(c->err, -EINVAL, "%s: expected \"c\", \"b\", \"u\" or \"p\"", w);
	t->d->type = s[0];
	return 0;
}

static int dev_major(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_int64(c, w, v, 0, UINT32_MAX, &((struct device_tmp *)o)->d->major);
}

static int dev_minor(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_int64(c, w, v, 0, UINT32_MAX, &((struct device_tmp *)o)->d->minor);
}

static int dev_mode(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_device *d = ((struct device_tmp *)o)->d;
	uint32_t mode;
	int r = oci_json_uint32(c, w, v, &mode);

	if (r < 0)
		return r;
	d->file_mode = mode & 07777; /* engines may include the S_IFCHR bits */
	d->has_file_mode = true;
	return 0;
}

static int dev_uid(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_device *d = ((struct device_tmp *)o)->d;

	d->has_uid = true;
	return oci_json_uint32(c, w, v, &d->uid);
}

static int dev_gid(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_device *d = ((struct device_tmp *)o)->d;

	d->has_gid = true;
	return oci_json_uint32(c, w, v, &d->gid);
}

static const struct oci_json_field device_fields[] = {
	{ "path", dev_path },	{ "type", dev_type },	  { "major", dev_major }, { "minor", dev_minor },
	{ "fileMode", dev_mode }, { "uid", dev_uid },	  { "gid", dev_gid },
};

static int linux_devices(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_linux *l = o;
	char sub[OCI_WHERE_MAX];
	size_t n;
	int r;

	r = oci_json_array(c, w, v, OCI_MAX_DEVICES, &n);
	if (r < 0)
		return r;
	r = alloc_array(c, w, n, sizeof(*l->devices), (void **)&l->devices);
	if (r < 0)
		return r;
	l->n_devices = n;
	for (size_t i = 0; i < n; i++) {
		struct device_tmp t = { .d = &l->devices[i] };

		t.d->major = t.d->minor = OCI_UNSET;
		oci_json_where_index(sub, w, i);
		r = oci_json_object(c, sub, v->u.array.values[i], device_fields,
				    ARRAY_SIZE(device_fields), &t);
		if (r < 0)
			return r;
		if (!t.d->path)
			return missing(c, sub, "path");
		if (!t.d->type)
			return missing(c, sub, "type");
		if (t.d->type != 'p' && t.d->major == OCI_UNSET)
			return missing(c, sub, "major");
		if (t.d->type != 'p' && t.d->minor == OCI_UNSET)
			return missing(c, sub, "minor");
	}
	return 0;
}

static int linux_cgroups_path(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_linux *l = o;
	const char *p;
	int r;

	r = oci_json_string(c, w, v, OCI_MAX_PATH, true, &l->cgroups_path);
	if (r < 0)
		return r;
	/* a path below the cgroup root: no ".." component may climb out of it */
	for (p = l->cgroups_path; p; p = strchr(p, '/')) {
		while (*p == '/')
			p++;
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
			return error_set(c->err, -EINVAL, "%s: must not contain \"..\"", w);
	}
	return 0;
}

static int linux_resources(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return resources_parse(c, w, v, &((struct oci_linux *)o)->resources);
}

static int linux_sysctl(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_linux *l = o;
	char echo[OCI_ECHO_MAX];
	int r;

	r = oci_json_kv(c, w, v, OCI_MAX_SYSCTL, OCI_MAX_PATH, &l->sysctl, &l->n_sysctl);
	if (r < 0)
		return r;
	/* "net.ipv4.ip_forward" or "net/ipv4/ip_forward", always below /proc/sys */
	for (size_t i = 0; i < l->n_sysctl; i++) {
		const char *k = l->sysctl[i].key;

		if (k[0] == '/' || k[0] == '.' || strstr(k, "..") || strstr(k, "/."))
			return error_set(c->err, -EINVAL, "%s: \"%s\" is not a sysctl name", w,
					 oci_json_echo(k, echo));
	}
	return 0;
}

static int linux_seccomp(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_linux *l = o;
	struct seccomp_tmp t;
	int r;

	l->seccomp = calloc(1, sizeof(*l->seccomp));
	if (!l->seccomp)
		return error_set(c->err, -ENOMEM, "%s: out of memory", w);
	l->seccomp->default_errno_ret = OCI_UNSET;
	t = (struct seccomp_tmp){ .s = l->seccomp };
	r = oci_json_object(c, w, v, seccomp_fields, ARRAY_SIZE(seccomp_fields), &t);
	if (r < 0)
		return r;
	if (!t.has_default)
		return missing(c, w, "defaultAction");
	return 0;
}

static int linux_masked(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_linux *l = o;

	return abs_path_list(c, w, v, &l->masked_paths, &l->n_masked_paths);
}

static int linux_readonly(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_linux *l = o;

	return abs_path_list(c, w, v, &l->readonly_paths, &l->n_readonly_paths);
}

static int linux_rootfs_propagation(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_linux *l = o;
	char echo[OCI_ECHO_MAX];

	if (!YAJL_IS_STRING(v))
		return error_set(c->err, -EINVAL, "%s: expected a string", w);
	if (!v->u.string[0])
		return 0;
	if (oci_propagation_from_string(v->u.string, &l->rootfs_propagation) < 0)
		return error_set(c->err, -EINVAL, "%s: unknown propagation \"%s\"", w,
				 oci_json_echo(v->u.string, echo));
	return 0;
}

static const struct oci_json_field linux_fields[] = {
	{ "namespaces", linux_namespaces },
	{ "uidMappings", linux_uid_mappings },
	{ "gidMappings", linux_gid_mappings },
	{ "devices", linux_devices },
	{ "cgroupsPath", linux_cgroups_path },
	{ "resources", linux_resources },
	{ "sysctl", linux_sysctl },
	{ "seccomp", linux_seccomp },
	{ "maskedPaths", linux_masked },
	{ "readonlyPaths", linux_readonly },
	{ "rootfsPropagation", linux_rootfs_propagation },
	/* mountLabel, personality, intelRdt, timeOffsets, memoryPolicy: ignored */
};

/* ---------------------------------------------------------------- spec */

static int spec_version(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_spec *s = o;
	char echo[OCI_ECHO_MAX];
	int r = oci_json_string(c, w, v, 64, false, &s->oci_version);

	if (r < 0)
		return r;
	if (strncmp(s->oci_version, "1.", 2) != 0)
		return error_set(c->err, -EINVAL, "%s: unsupported version \"%s\" (expected 1.x)", w,
				 oci_json_echo(s->oci_version, echo));
	return 0;
}

static int spec_process(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return process_parse(c, w, v, &((struct oci_spec *)o)->process);
}

static int spec_root(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return oci_json_object(c, w, v, root_fields, ARRAY_SIZE(root_fields), o);
}

static int host_name(struct oci_json_ctx *c, const char *w, yajl_val v, char **field)
{
	return oci_json_string(c, w, v, OCI_HOST_NAME_MAX, true, field);
}

static int spec_hostname(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return host_name(c, w, v, &((struct oci_spec *)o)->hostname);
}

static int spec_domainname(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	return host_name(c, w, v, &((struct oci_spec *)o)->domainname);
}

static int spec_annotations(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_spec *s = o;

	return oci_json_kv(c, w, v, OCI_MAX_ANNOTATIONS, OCI_MAX_STRING, &s->annotations,
			   &s->n_annotations);
}

static int spec_linux(struct oci_json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct oci_spec *s = o;

	s->has_linux = true;
	return oci_json_object(c, w, v, linux_fields, ARRAY_SIZE(linux_fields), &s->linux_);
}

static const struct oci_json_field spec_fields[] = {
	{ "ociVersion", spec_version },
	{ "process", spec_process },
	{ "root", spec_root },
	{ "hostname", spec_hostname },
	{ "domainname", spec_domainname },
	{ "mounts", spec_mounts },
	{ "hooks", NULL }, /* run outside the guest, never here */
	{ "annotations", spec_annotations },
	{ "linux", spec_linux },
};

int oci_spec_parse(const char *json, size_t len, struct oci_spec **ret, struct error *err)
{
	struct oci_json_ctx c = { .err = err };
	struct oci_spec *s;
	yajl_val root;
	int r;

	r = oci_json_parse_doc(json, len, "config.json", &root, err);
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s) {
		yajl_tree_free(root);
		return error_set(err, -ENOMEM, "config.json: out of memory");
	}
	r = oci_json_object(&c, "", root, spec_fields, ARRAY_SIZE(spec_fields), s);
	if (r >= 0 && !s->oci_version)
		r = error_set(err, -EINVAL, "ociVersion: required");
	yajl_tree_free(root);
	if (r < 0) {
		oci_spec_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int oci_process_parse(const char *json, size_t len, struct oci_process **ret,
		      struct error *err)
{
	struct oci_json_ctx c = { .err = err };
	struct oci_process *p = NULL;
	yajl_val root;
	int r;

	r = oci_json_parse_doc(json, len, "process", &root, err);
	if (r < 0)
		return r;
	r = process_parse(&c, "process", root, &p);
	yajl_tree_free(root);
	if (r < 0) {
		oci_process_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

int oci_resources_parse(const char *json, size_t len, struct oci_resources **ret,
			struct error *err)
{
	struct oci_json_ctx c = { .err = err };
	struct oci_resources *res = NULL;
	yajl_val root;
	int r;

	r = oci_json_parse_doc(json, len, "resources", &root, err);
	if (r < 0)
		return r;
	r = resources_parse(&c, "resources", root, &res);
	yajl_tree_free(root);
	if (r < 0) {
		oci_resources_free(res);
		return r;
	}
	*ret = res;
	return 0;
}
