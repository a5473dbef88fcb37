/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI linux.resources -> cgroup v2 files, as a pure conversion (runc's v1 ->
 * v2 rules) so it can be checked without a cgroup. Writing is cgroup.c's job.
 */
#include "container-internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

/* Files a resources map must not touch: they move or kill processes, or are
 * not resources. */
static const char *const unified_denied[] = {
	"cgroup.procs",	 "cgroup.threads",     "cgroup.kill", "cgroup.subtree_control",
	"cgroup.events", "cgroup.controllers", "cgroup.type", "cgroup.freeze",
};

bool cgroup_unified_key_ok(const char *key)
{
	const char *dot = key ? strchr(key, '.') : NULL;

	if (!key || !name_is_safe(key) || !dot || dot == key || !dot[1] || strstr(key, ".."))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(unified_denied); i++)
		if (strcmp(key, unified_denied[i]) == 0)
			return false;
	return true;
}

static bool cpuset_ok(const char *s)
{
	if (!*s || strlen(s) > 4096)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || *s == ',' || *s == '-'))
			return false;
	return true;
}

/* OCI memory.swap is memory+swap (v1); v2 wants swap alone (runc's conversion).
 * *ret: 0 = leave alone, -1 = "max". */
static int swap_v2(int64_t swap, int64_t limit, int64_t *ret, struct error *err)
{
	if (swap == OCI_UNSET)
		swap = 0;
	if (limit == OCI_UNSET)
		limit = 0;
	if (limit == -1 && swap == 0) {
		/* unlimited memory and no swap value: unlimited swap too (v1 semantics) */
		*ret = -1;
		return 0;
	}
	if (swap == -1 || swap == 0) {
		*ret = swap;
		return 0;
	}
	if (swap < -1)
		return error_set(err, -EINVAL, "resources.memory.swap: negative");
	if (limit == 0 || limit == -1)
		return error_set(err, -EINVAL, "resources.memory.swap: needs a memory limit");
	if (limit < 0 || swap < limit)
		return error_set(err, -EINVAL, "resources.memory.swap: must be >= memory.limit");
	*ret = swap - limit;
	return 0;
}

static struct cgroup_setting *add(struct cgroup_settings *s, const char *file)
{
	struct cgroup_setting *c = &s->v[s->n++];

	c->file = file;
	c->value = c->buf;
	c->buf[0] = '\0';
	return c;
}

/* "max" for -1, the number for > 0; 0 and unset are not written. */
static int limit_value(struct cgroup_settings *s, const char *file, int64_t v, const char *field,
		       struct error *err)
{
	struct cgroup_setting *c;

	if (v == OCI_UNSET || v == 0)
		return 0;
	if (v < -1)
		return error_set(err, -EINVAL, "resources.%s: negative", field);
	c = add(s, file);
	if (v == -1)
		snprintf(c->buf, sizeof(c->buf), "max");
	else
		snprintf(c->buf, sizeof(c->buf), "%" PRId64, v);
	return 0;
}

int cgroup_settings_from_resources(const struct oci_resources *res, struct cgroup_settings *ret,
				   struct error *err)
{
	struct cgroup_settings s = { 0 };
	struct cgroup_setting *c;
	int64_t swap = 0;
	int r;

	if (!res) {
		*ret = s;
		return 0;
	}
	s.v = calloc(CGROUP_FIXED_SETTINGS + res->n_unified, sizeof(*s.v));
	if (!s.v)
		return error_set(err, -ENOMEM, "out of memory");

	/* memory */
	if ((r = limit_value(&s, "memory.max", res->memory.limit, "memory.limit", err)) < 0 ||
	    (r = limit_value(&s, "memory.low", res->memory.reservation, "memory.reservation", err)) < 0 ||
	    (r = swap_v2(res->memory.swap, res->memory.limit, &swap, err)) < 0 ||
	    (r = limit_value(&s, "memory.swap.max", swap, "memory.swap", err)) < 0)
		goto fail;
	if (res->memory.swappiness != OCI_UNSET)
		log_debug("resources.memory.swappiness has no cgroup v2 file, ignored");
	if (res->memory.disable_oom_killer)
		log_debug("resources.memory.disableOOMKiller has no cgroup v2 file, ignored");

	/* cpu: shares 2..262144 -> weight 1..10000 */
	if (res->cpu.shares != OCI_UNSET && res->cpu.shares != 0) {
		int64_t sh = res->cpu.shares;

		if (sh < 2 || sh > 262144) {
			r = error_set(err, -EINVAL, "resources.cpu.shares: %" PRId64 " out of 2..262144", sh);
			goto fail;
		}
		c = add(&s, "cpu.weight");
		snprintf(c->buf, sizeof(c->buf), "%" PRId64, 1 + ((sh - 2) * 9999) / 262142);
	}
	/* cpu.max "quota period": quota <= 0 means "max"; period alone keeps "max" */
	if ((res->cpu.quota != OCI_UNSET && res->cpu.quota != 0) ||
	    (res->cpu.period != OCI_UNSET && res->cpu.period != 0)) {
		int n;

		if (res->cpu.period != OCI_UNSET && res->cpu.period < 0) {
			r = error_set(err, -EINVAL, "resources.cpu.period: negative");
			goto fail;
		}
		c = add(&s, "cpu.max");
		if (res->cpu.quota > 0)
			n = snprintf(c->buf, sizeof(c->buf), "%" PRId64, res->cpu.quota);
		else
			n = snprintf(c->buf, sizeof(c->buf), "max");
		if (res->cpu.period != OCI_UNSET && res->cpu.period != 0)
			snprintf(c->buf + n, sizeof(c->buf) - (size_t)n, " %" PRId64, res->cpu.period);
	}
	if (res->cpu.cpus) {
		if (!cpuset_ok(res->cpu.cpus)) {
			r = error_set(err, -EINVAL, "resources.cpu.cpus: \"%s\" invalid", res->cpu.cpus);
			goto fail;
		}
		add(&s, "cpuset.cpus")->value = res->cpu.cpus;
	}
	if (res->cpu.mems) {
		if (!cpuset_ok(res->cpu.mems)) {
			r = error_set(err, -EINVAL, "resources.cpu.mems: \"%s\" invalid", res->cpu.mems);
			goto fail;
		}
		add(&s, "cpuset.mems")->value = res->cpu.mems;
	}

	/* pids: <= 0 is unlimited */
	if (res->pids.limit != OCI_UNSET) {
		c = add(&s, "pids.max");
		if (res->pids.limit > 0)
			snprintf(c->buf, sizeof(c->buf), "%" PRId64, res->pids.limit);
		else
			snprintf(c->buf, sizeof(c->buf), "max");
	}

	/* io: blkio weight 10..1000 -> io.weight 1..10000 */
	if (res->block_io.weight != OCI_UNSET && res->block_io.weight != 0) {
		int64_t w = res->block_io.weight;

		if (w < 10 || w > 1000) {
			r = error_set(err, -EINVAL, "resources.blockIO.weight: %" PRId64 " out of 10..1000", w);
			goto fail;
		}
		c = add(&s, "io.weight");
		snprintf(c->buf, sizeof(c->buf), "default %" PRId64, 1 + (w - 10) * 9999 / 990);
	}

	if (res->n_devices)
		log_debug("resources.devices: cgroup v2 device rules need an eBPF program; not "
			  "applied (the VM is the isolation boundary for devices)");

	/* unified, verbatim: written last so they override the converted values */
	for (size_t i = 0; i < res->n_unified; i++) {
		const struct oci_kv *kv = &res->unified[i];

		if (!cgroup_unified_key_ok(kv->key)) {
			r = error_set(err, -EINVAL, "resources.unified: key \"%s\" refused",
				      kv->key ? kv->key : "");
			goto fail;
		}
		c = add(&s, kv->key);
		c->value = kv->value ? kv->value : "";
	}
	*ret = s;
	return 0;
fail:
	free(s.v);
	return r;
}

void cgroup_settings_free(struct cgroup_settings *s)
{
	free(s->v);
	s->v = NULL;
	s->n = 0;
}
