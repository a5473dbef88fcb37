/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cloud-hypervisor's VmConfig JSON <-> struct vmm_config.
 *
 * Reading follows serde's behaviour for cloud-hypervisor's structs where
 * that is safe, and is stricter where it is not:
 *   - a field nobody defines is refused by name (-EINVAL), as a typo
 *     ("boot_vcpu") must not silently boot a different VM;
 *   - a field cloud-hypervisor has and nacelle lacks is accepted when it
 *     holds cloud-hypervisor's default (null, false, [], "Acpi"...), since
 *     clients and `vm.info` round trips spell those out, and refused by name
 *     with -ENOSYS otherwise;
 *   - null means absent, as for serde's Option;
 *   - every value goes through the command line's checks (config-check.c).
 * yajl_tree builds the whole document first; a pre-scan bounds its nesting
 * (yajl_tree_free recurses) and refuses "\u0000", which would otherwise cut
 * a C string short without anyone noticing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "api-internal.h"
#include "common/json-text.h"
#include "config-check.h"
#include "kv.h"
#include "vmm/api.h"

/* VmConfig nests five deep (disks[].rate_limiter_config.bandwidth.size); anything far deeper is not one. */
#define JSON_MAX_DEPTH 16
/* Longest "disks[15].rate_limiter_config" style location in messages. */
#define JSON_WHERE_MAX 96

enum json_default {
	JD_NULL,   /* only null (absent) */
	JD_FALSE,  /* null or false */
	JD_TRUE,   /* null or true */
	JD_EMPTY,  /* null, [] or {} */
	JD_STRING, /* null or def_str */
	JD_INT,	   /* null or def_int */
};

struct json_ctx {
	struct vmm_config *cfg; /* being built */
	struct error *err;
};

typedef int (*json_parse_fn)(struct json_ctx *c, const char *where, yajl_val v, void *obj);

struct json_field {
	const char *name;
	json_parse_fn parse; /* NULL: cloud-hypervisor has it, nacelle does not */
	enum json_default def;
	const char *def_str;
	long long def_int;
};

#define FIELD(n, fn) { .name = (n), .parse = (fn) }
#define LACKS(n, d) { .name = (n), .def = (d) }
#define LACKS_STR(n, s) { .name = (n), .def = JD_STRING, .def_str = (s) }
#define LACKS_INT(n, i) { .name = (n), .def = JD_INT, .def_int = (i) }

static void where_join(char *buf, const char *where, const char *key)
{
	char echo[KV_ECHO_MAX];

	if (where[0])
		snprintf(buf, JSON_WHERE_MAX, "%s.%s", where, kv_echo(key, echo));
	else
		snprintf(buf, JSON_WHERE_MAX, "%s", kv_echo(key, echo));
}

static bool json_is_default(yajl_val v, const struct json_field *f)
{
	if (YAJL_IS_NULL(v))
		return true;
	switch (f->def) {
	case JD_NULL:
		return false;
	case JD_FALSE:
		return YAJL_IS_FALSE(v);
	case JD_TRUE:
		return YAJL_IS_TRUE(v);
	case JD_EMPTY:
		return (YAJL_IS_ARRAY(v) && v->u.array.len == 0) ||
		       (YAJL_IS_OBJECT(v) && v->u.object.len == 0);
	case JD_STRING:
		return YAJL_IS_STRING(v) && strcmp(v->u.string, f->def_str) == 0;
	case JD_INT:
		return YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) == f->def_int;
	}
	return false;
}

static int json_lacks(struct json_ctx *c, const char *where, yajl_val v,
		      const struct json_field *f)
{
	static const char *const shown[] = {
		[JD_NULL] = "null", [JD_FALSE] = "false", [JD_TRUE] = "true", [JD_EMPTY] = "empty",
	};
	char def[32];

	if (json_is_default(v, f))
		return 0;
	if (f->def == JD_STRING)
		snprintf(def, sizeof(def), "\"%s\"", f->def_str);
	else if (f->def == JD_INT)
		snprintf(def, sizeof(def), "%lld", f->def_int);
	else
		snprintf(def, sizeof(def), "%s", shown[f->def]);
	return error_set(c->err, -ENOSYS,
			 "%s is not supported by nacelle yet (only the default, %s, is accepted)",
			 where, def);
}

/* Each key of object v through `fields`; unknown and repeated keys are refused. */
static int json_object(struct json_ctx *c, const char *where, yajl_val v,
		       const struct json_field *fields, size_t n_fields, void *obj)
{
	char sub[JSON_WHERE_MAX], echo[KV_ECHO_MAX];
	uint64_t seen = 0;
	int r;

	if (!YAJL_IS_OBJECT(v))
		return error_set(c->err, -EINVAL, "%s: expected an object", where[0] ? where : "VmConfig");
	for (size_t i = 0; i < v->u.object.len; i++) {
		const char *key = v->u.object.keys[i];
		size_t f;

		for (f = 0; f < n_fields; f++)
			if (strcmp(fields[f].name, key) == 0)
				break;
		if (f == n_fields)
			return error_set(c->err, -EINVAL, "%s: unknown field '%s'",
					 where[0] ? where : "VmConfig", kv_echo(key, echo));
		/* serde refuses a duplicate field; taking the last would hide the first. */
		if (seen & (UINT64_C(1) << f))
			return error_set(c->err, -EINVAL, "%s: field '%s' given more than once",
					 where[0] ? where : "VmConfig", fields[f].name);
		seen |= UINT64_C(1) << f;
		where_join(sub, where, key);
		if (fields[f].parse)
			r = fields[f].parse(c, sub, v->u.object.values[i], obj);
		else
			r = json_lacks(c, sub, v->u.object.values[i], &fields[f]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- scalars --- */

static int json_string(struct json_ctx *c, const char *where, yajl_val v, bool allow_empty,
		       char **field)
{
	char *copy;

	if (YAJL_IS_NULL(v))
		return 0;
	if (!YAJL_IS_STRING(v))
		return error_set(c->err, -EINVAL, "%s: expected a string", where);
	if (!allow_empty && v->u.string[0] == '\0')
		return error_set(c->err, -EINVAL, "%s: must not be empty", where);
	copy = strdup(v->u.string);
	if (!copy)
		return error_set(c->err, -ENOMEM, "%s: out of memory", where);
	free(*field);
	*field = copy;
	return 0;
}

static int json_bool(struct json_ctx *c, const char *where, yajl_val v, bool *field)
{
	if (YAJL_IS_NULL(v))
		return 0;
	if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
		return error_set(c->err, -EINVAL, "%s: expected true or false", where);
	*field = YAJL_IS_TRUE(v);
	return 0;
}

/* A non-negative integer; *ret untouched for null (returns 0, *set false). */
static int json_uint(struct json_ctx *c, const char *where, yajl_val v, uint64_t *ret,
		     bool *set)
{
	if (YAJL_IS_NULL(v))
		return 0;
	if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0)
		return error_set(c->err, -EINVAL, "%s: expected a non-negative integer", where);
	*ret = (uint64_t)YAJL_GET_INTEGER(v);
	if (set)
		*set = true;
	return 0;
}

static void shown_u64(char *buf, size_t size, uint64_t n)
{
	snprintf(buf, size, "%" PRIu64, n);
}

/* --- payload --- */

static int payload_kernel(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, false, &c->cfg->kernel);
}

static int payload_initramfs(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, false, &c->cfg->initramfs);
}

static int payload_cmdline(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	int r = json_string(c, w, v, true, &c->cfg->cmdline);

	if (r >= 0 && c->cfg->cmdline)
		r = vmm_check_cmdline(w, c->cfg->cmdline, c->err);
	return r;
}

static const struct json_field payload_fields[] = {
	FIELD("kernel", payload_kernel),
	FIELD("initramfs", payload_initramfs),
	FIELD("cmdline", payload_cmdline),
	LACKS("firmware", JD_NULL),
	LACKS("igvm", JD_NULL),
	LACKS("host_data", JD_NULL),
};

static int vm_payload(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	if (YAJL_IS_NULL(v))
		return 0;
	return json_object(c, w, v, payload_fields, ARRAY_SIZE(payload_fields), NULL);
}

/* --- cpus --- */

struct cpus_tmp {
	uint64_t boot, max;
	bool has_boot, has_max;
};

static int cpus_boot(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct cpus_tmp *t = o;

	return json_uint(c, w, v, &t->boot, &t->has_boot);
}

static int cpus_max(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct cpus_tmp *t = o;

	return json_uint(c, w, v, &t->max, &t->has_max);
}

static const struct json_field cpu_features_fields[] = {
	LACKS("amx", JD_FALSE),
};

static int cpus_features(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	if (YAJL_IS_NULL(v))
		return 0;
	return json_object(c, w, v, cpu_features_fields, ARRAY_SIZE(cpu_features_fields), NULL);
}

static const struct json_field cpus_fields[] = {
	FIELD("boot_vcpus", cpus_boot),
	FIELD("max_vcpus", cpus_max),
	LACKS("topology", JD_NULL),
	LACKS("kvm_hyperv", JD_FALSE),
	LACKS_INT("max_phys_bits", 46), /* cloud-hypervisor's DEFAULT_MAX_PHYS_BITS */
	LACKS("nested", JD_TRUE),
	LACKS("affinity", JD_EMPTY),
	FIELD("features", cpus_features),
	LACKS_STR("core_scheduling", "Vm"),
};

static int vm_cpus(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct cpus_tmp t = { 0 };
	char shown[24];
	int r;

	if (YAJL_IS_NULL(v))
		return 0;
	r = json_object(c, w, v, cpus_fields, ARRAY_SIZE(cpus_fields), &t);
	if (r < 0)
		return r;
	if (!t.has_boot)
		t.boot = c->cfg->boot_vcpus;
	shown_u64(shown, sizeof(shown), t.boot);
	r = vmm_check_vcpu_count(w, "boot_vcpus", t.boot, shown, c->err);
	if (r < 0)
		return r;
	if (!t.has_max)
		t.max = t.boot;
	shown_u64(shown, sizeof(shown), t.max);
	r = vmm_check_vcpu_count(w, "max_vcpus", t.max, shown, c->err);
	if (r >= 0)
		r = vmm_check_vcpus(w, (uint32_t)t.boot, (uint32_t)t.max, c->err);
	if (r < 0)
		return r;
	c->cfg->boot_vcpus = (uint32_t)t.boot;
	c->cfg->max_vcpus = (uint32_t)t.max;
	return 0;
}

/* --- memory --- */

static int memory_size(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	uint64_t size = 0;
	bool set = false;
	char shown[24];
	int r;

	r = json_uint(c, w, v, &size, &set);
	if (r < 0 || !set)
		return r;
	shown_u64(shown, sizeof(shown), size);
	/* The check names the key itself ("memory: size '...'"): drop ".size". */
	r = vmm_check_memory_size("memory", size, shown, c->err);
	if (r < 0)
		return r;
	c->cfg->memory_size = size;
	return 0;
}

static int memory_shared(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_bool(c, w, v, &c->cfg->memory_shared);
}

static const struct json_field memory_fields[] = {
	FIELD("size", memory_size),
	FIELD("shared", memory_shared),
	LACKS("hotplug_size", JD_NULL),
	LACKS("hotplugged_size", JD_NULL),
	LACKS("mergeable", JD_FALSE),
	LACKS_STR("hotplug_method", "Acpi"),
	LACKS("hugepages", JD_FALSE),
	LACKS("hugepage_size", JD_NULL),
	LACKS("prefault", JD_FALSE),
	LACKS("reserve", JD_FALSE),
	LACKS("thp", JD_TRUE),
	LACKS("zones", JD_EMPTY),
};

static int vm_memory(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	if (YAJL_IS_NULL(v))
		return 0;
	return json_object(c, w, v, memory_fields, ARRAY_SIZE(memory_fields), NULL);
}

/* --- device arrays --- */

typedef int (*json_item_fn)(struct json_ctx *c, const char *where, yajl_val v);

static int json_array(struct json_ctx *c, const char *w, yajl_val v, unsigned int max,
		      const char *what, json_item_fn item)
{
	char sub[JSON_WHERE_MAX];
	int r;

	if (YAJL_IS_NULL(v))
		return 0;
	if (!YAJL_IS_ARRAY(v))
		return error_set(c->err, -EINVAL, "%s: expected an array", w);
	if (v->u.array.len > max)
		return error_set(c->err, -EINVAL, "%s: too many %s (%zu; at most %u)", w, what,
				 v->u.array.len, max);
	for (size_t i = 0; i < v->u.array.len; i++) {
		snprintf(sub, sizeof(sub), "%s[%zu]", w, i);
		r = item(c, sub, v->u.array.values[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* A queue count or size: checked by the caller, but it must fit in 16 bits first. */
static int json_u16(struct json_ctx *c, const char *w, yajl_val v, uint64_t *ret)
{
	return json_uint(c, w, v, ret, NULL);
}

struct disk_tmp {
	struct vmm_disk_config d;
	uint64_t num_queues, queue_size;
};

static int disk_path(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, false, &((struct disk_tmp *)o)->d.path);
}

static int disk_readonly(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_bool(c, w, v, &((struct disk_tmp *)o)->d.readonly);
}

static int disk_direct(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_bool(c, w, v, &((struct disk_tmp *)o)->d.direct);
}

static int disk_num_queues(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_u16(c, w, v, &((struct disk_tmp *)o)->num_queues);
}

static int disk_queue_size(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_u16(c, w, v, &((struct disk_tmp *)o)->queue_size);
}

static int disk_id(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, true, &((struct disk_tmp *)o)->d.id);
}

static int disk_serial(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, true, &((struct disk_tmp *)o)->d.serial);
}

static const struct json_field disk_fields[] = {
	FIELD("path", disk_path),
	FIELD("readonly", disk_readonly),
	FIELD("direct", disk_direct),
	FIELD("num_queues", disk_num_queues),
	FIELD("queue_size", disk_queue_size),
	FIELD("id", disk_id),
	FIELD("serial", disk_serial),
	LACKS("iommu", JD_FALSE),
	LACKS("vhost_user", JD_FALSE),
	LACKS("vhost_socket", JD_NULL),
	LACKS("rate_limiter_config", JD_NULL),
	LACKS_INT("pci_segment", 0),
	LACKS("pci_device_id", JD_NULL),
	LACKS("rate_limit_group", JD_NULL),
	LACKS("queue_affinity", JD_EMPTY),
	LACKS("backing_files", JD_FALSE),
	LACKS("sparse", JD_TRUE),
	LACKS_STR("image_type", "Raw"), /* nacelle reads raw images only */
	LACKS_STR("lock_granularity", "ByteRange"),
	LACKS("disable_io_uring", JD_FALSE),
	LACKS("disable_aio", JD_FALSE),
};

static void disk_free(struct vmm_disk_config *d)
{
	free(d->path);
	free(d->id);
	free(d->serial);
}

static int disk_item(struct json_ctx *c, const char *w, yajl_val v)
{
	struct disk_tmp t = {
		.num_queues = VMM_DEFAULT_DISK_QUEUES,
		.queue_size = VMM_DEFAULT_DISK_QUEUE_SIZE,
	};
	struct vmm_config *cfg = c->cfg;
	struct vmm_disk_config *disks;
	char shown[24];
	int r;

	r = json_object(c, w, v, disk_fields, ARRAY_SIZE(disk_fields), &t);
	if (r < 0)
		goto fail;
	if (!t.d.path) {
		r = error_set(c->err, -EINVAL, "%s: path is required", w);
		goto fail;
	}
	shown_u64(shown, sizeof(shown), t.num_queues);
	r = vmm_check_disk_queues(w, t.num_queues, shown, c->err);
	if (r < 0)
		goto fail;
	shown_u64(shown, sizeof(shown), t.queue_size);
	r = vmm_check_queue_size(w, t.queue_size, shown, c->err);
	if (r >= 0 && t.d.serial)
		r = vmm_check_disk_serial(w, t.d.serial, c->err);
	if (r >= 0 && t.d.id)
		r = vmm_check_id(cfg, VMM_SOURCE_JSON, w, t.d.id, c->err);
	if (r < 0)
		goto fail;
	t.d.num_queues = (uint16_t)t.num_queues;
	t.d.queue_size = (uint16_t)t.queue_size;

	disks = reallocarray(cfg->disks, cfg->nr_disks + 1, sizeof(*disks));
	if (!disks) {
		r = error_set(c->err, -ENOMEM, "%s: out of memory", w);
		goto fail;
	}
	cfg->disks = disks;
	cfg->disks[cfg->nr_disks++] = t.d;
	return 0;
fail:
	disk_free(&t.d);
	return r;
}

static int vm_disks(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_array(c, w, v, VMM_MAX_DISKS, "disks", disk_item);
}

struct net_tmp {
	struct vmm_net_config n;
	char *ip, *mask, *mac;
	uint64_t num_queues, queue_size;
};

static int net_tap(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, true, &((struct net_tmp *)o)->n.tap);
}

static int net_ip(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, true, &((struct net_tmp *)o)->ip);
}

static int net_mask(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, true, &((struct net_tmp *)o)->mask);
}

static int net_mac(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, true, &((struct net_tmp *)o)->mac);
}

static int net_num_queues(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_u16(c, w, v, &((struct net_tmp *)o)->num_queues);
}

static int net_queue_size(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_u16(c, w, v, &((struct net_tmp *)o)->queue_size);
}

static int net_id(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, true, &((struct net_tmp *)o)->n.id);
}

static const struct json_field net_fields[] = {
	FIELD("tap", net_tap),
	FIELD("ip", net_ip),
	FIELD("mask", net_mask),
	FIELD("mac", net_mac),
	FIELD("num_queues", net_num_queues),
	FIELD("queue_size", net_queue_size),
	FIELD("id", net_id),
	LACKS("host_mac", JD_NULL),
	LACKS("mtu", JD_NULL),
	LACKS("iommu", JD_FALSE),
	LACKS("vhost_user", JD_FALSE),
	LACKS("vhost_socket", JD_NULL),
	LACKS_STR("vhost_mode", "Client"),
	LACKS_INT("pci_segment", 0),
	LACKS("pci_device_id", JD_NULL),
	LACKS("rate_limiter_config", JD_NULL),
	LACKS("offload_tso", JD_TRUE),
	LACKS("offload_ufo", JD_TRUE),
	LACKS("offload_csum", JD_TRUE),
	LACKS("fds", JD_NULL),
};

static void net_tmp_free(struct net_tmp *t)
{
	free(t->n.tap);
	free(t->n.ip);
	free(t->n.mask);
	free(t->n.id);
	free(t->ip);
	free(t->mask);
	free(t->mac);
}

static int net_item(struct json_ctx *c, const char *w, yajl_val v)
{
	struct net_tmp t = {
		.num_queues = VMM_DEFAULT_NET_QUEUES,
		.queue_size = VMM_DEFAULT_NET_QUEUE_SIZE,
	};
	char ip[INET_ADDRSTRLEN], mask[INET_ADDRSTRLEN], shown[24];
	struct vmm_config *cfg = c->cfg;
	struct vmm_net_config *nets;
	int r;

	r = json_object(c, w, v, net_fields, ARRAY_SIZE(net_fields), &t);
	if (r < 0)
		goto fail;
	/* An empty tap name, as an absent one, lets the kernel pick. */
	if (t.n.tap && t.n.tap[0] == '\0') {
		free(t.n.tap);
		t.n.tap = NULL;
	}
	r = vmm_check_tap(cfg, VMM_SOURCE_JSON, w, t.n.tap, c->err);
	if (r >= 0 && t.mac) {
		r = vmm_check_mac(w, t.mac, t.n.mac, c->err);
		t.n.mac_set = r >= 0;
	}
	if (r >= 0)
		r = vmm_check_net_ip(w, t.ip, t.mask, ip, mask, c->err);
	if (r < 0)
		goto fail;
	shown_u64(shown, sizeof(shown), t.num_queues);
	r = vmm_check_net_queues(w, t.num_queues, shown, c->err);
	if (r < 0)
		goto fail;
	shown_u64(shown, sizeof(shown), t.queue_size);
	r = vmm_check_queue_size(w, t.queue_size, shown, c->err);
	if (r >= 0 && t.n.id)
		r = vmm_check_id(cfg, VMM_SOURCE_JSON, w, t.n.id, c->err);
	if (r < 0)
		goto fail;
	t.n.num_queues = (uint16_t)t.num_queues;
	t.n.queue_size = (uint16_t)t.queue_size;
	if (ip[0] && (!(t.n.ip = strdup(ip)) || !(t.n.mask = strdup(mask)))) {
		r = error_set(c->err, -ENOMEM, "%s: out of memory", w);
		goto fail;
	}

	nets = reallocarray(cfg->nets, cfg->nr_nets + 1, sizeof(*nets));
	if (!nets) {
		r = error_set(c->err, -ENOMEM, "%s: out of memory", w);
		goto fail;
	}
	cfg->nets = nets;
	cfg->nets[cfg->nr_nets++] = t.n;
	free(t.ip);
	free(t.mask);
	free(t.mac);
	return 0;
fail:
	net_tmp_free(&t);
	return r;
}

static int vm_net(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_array(c, w, v, VMM_MAX_NETS, "network devices", net_item);
}

struct fs_tmp {
	struct vmm_fs_config f;
	uint64_t num_queues, queue_size;
};

static int fs_tag(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, true, &((struct fs_tmp *)o)->f.tag);
}

static int fs_socket(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, true, &((struct fs_tmp *)o)->f.socket);
}

static int fs_num_queues(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_u16(c, w, v, &((struct fs_tmp *)o)->num_queues);
}

static int fs_queue_size(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_u16(c, w, v, &((struct fs_tmp *)o)->queue_size);
}

static int fs_id(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, true, &((struct fs_tmp *)o)->f.id);
}

static const struct json_field fs_fields[] = {
	FIELD("tag", fs_tag),
	FIELD("socket", fs_socket),
	FIELD("num_queues", fs_num_queues),
	FIELD("queue_size", fs_queue_size),
	FIELD("id", fs_id),
	LACKS_INT("pci_segment", 0),
	LACKS("pci_device_id", JD_NULL),
};

static int fs_item(struct json_ctx *c, const char *w, yajl_val v)
{
	struct fs_tmp t = { .num_queues = 1, .queue_size = VMM_DEFAULT_FS_QUEUE_SIZE };
	struct vmm_config *cfg = c->cfg;
	struct vmm_fs_config *all;
	char shown[24];
	int r;

	r = json_object(c, w, v, fs_fields, ARRAY_SIZE(fs_fields), &t);
	if (r < 0)
		goto fail;
	/* Out of 16 bits is never a queue count or size; say so before truncating. */
	if (t.num_queues == 0 || t.num_queues > UINT16_MAX) {
		shown_u64(shown, sizeof(shown), t.num_queues);
		r = error_set(c->err, -EINVAL, "%s: num_queues must be 1 (got '%s')", w, shown);
		goto fail;
	}
	if (t.queue_size > UINT16_MAX) {
		shown_u64(shown, sizeof(shown), t.queue_size);
		r = vmm_check_queue_size(w, t.queue_size, shown, c->err);
		goto fail;
	}
	t.f.num_queues = (uint16_t)t.num_queues;
	t.f.queue_size = (uint16_t)t.queue_size;
	r = vmm_check_fs(cfg, VMM_SOURCE_JSON, w, &t.f, c->err);
	if (r >= 0 && t.f.id)
		r = vmm_check_id(cfg, VMM_SOURCE_JSON, w, t.f.id, c->err);
	if (r < 0)
		goto fail;

	all = reallocarray(cfg->fs, cfg->nr_fs + 1, sizeof(*all));
	if (!all) {
		r = error_set(c->err, -ENOMEM, "%s: out of memory", w);
		goto fail;
	}
	cfg->fs = all;
	cfg->fs[cfg->nr_fs++] = t.f;
	return 0;
fail:
	free(t.f.tag);
	free(t.f.socket);
	free(t.f.id);
	return r;
}

static int vm_fs(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_array(c, w, v, VMM_MAX_FS, "file systems", fs_item);
}

/* --- rng, vsock --- */

static int rng_src(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, false, &c->cfg->rng.src);
}

static const struct json_field rng_fields[] = {
	FIELD("src", rng_src),
	LACKS("iommu", JD_FALSE),
	LACKS("id", JD_NULL),
	LACKS_INT("pci_segment", 0),
	LACKS("pci_device_id", JD_NULL),
};

static int vm_rng(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	int r;

	if (YAJL_IS_NULL(v))
		return 0;
	r = json_object(c, w, v, rng_fields, ARRAY_SIZE(rng_fields), NULL);
	if (r < 0)
		return r;
	if (!c->cfg->rng.src) {
		c->cfg->rng.src = strdup(VMM_DEFAULT_RNG_SRC);
		if (!c->cfg->rng.src)
			return error_set(c->err, -ENOMEM, "%s: out of memory", w);
	}
	c->cfg->rng.enabled = true;
	return 0;
}

struct vsock_tmp {
	struct vmm_vsock_config v;
	bool has_cid;
};

static int vsock_cid(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct vsock_tmp *t = o;

	return json_uint(c, w, v, &t->v.cid, &t->has_cid);
}

static int vsock_socket(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, true, &((struct vsock_tmp *)o)->v.socket);
}

static int vsock_id(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, true, &((struct vsock_tmp *)o)->v.id);
}

static const struct json_field vsock_fields[] = {
	FIELD("cid", vsock_cid),
	FIELD("socket", vsock_socket),
	FIELD("id", vsock_id),
	LACKS("iommu", JD_FALSE),
	LACKS_INT("pci_segment", 0),
	LACKS("pci_device_id", JD_NULL),
};

static int vm_vsock(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	struct vsock_tmp t = { .v = { .enabled = true } };
	int r;

	if (YAJL_IS_NULL(v))
		return 0;
	r = json_object(c, w, v, vsock_fields, ARRAY_SIZE(vsock_fields), &t);
	if (r >= 0 && !t.has_cid)
		r = error_set(c->err, -EINVAL, "%s: cid is required", w);
	if (r >= 0)
		r = vmm_check_vsock(w, &t.v, c->err);
	if (r >= 0 && t.v.id)
		r = vmm_check_id(c->cfg, VMM_SOURCE_JSON, w, t.v.id, c->err);
	if (r < 0) {
		free(t.v.socket);
		free(t.v.id);
		return r;
	}
	c->cfg->vsock = t.v;
	return 0;
}

/* --- serial, console --- */

struct output_tmp {
	char *mode, *file, *socket;
};

static int output_mode(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, true, &((struct output_tmp *)o)->mode);
}

static int output_file(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, false, &((struct output_tmp *)o)->file);
}

static int output_socket(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_string(c, w, v, false, &((struct output_tmp *)o)->socket);
}

static const struct json_field serial_fields[] = {
	FIELD("mode", output_mode),
	FIELD("file", output_file),
	FIELD("socket", output_socket),
};

static const struct json_field console_fields[] = {
	FIELD("mode", output_mode),
	FIELD("file", output_file),
	FIELD("socket", output_socket),
	LACKS("iommu", JD_FALSE),
	LACKS("id", JD_NULL),
	LACKS_INT("pci_segment", 0),
	LACKS("pci_device_id", JD_NULL),
};

static int json_output(struct json_ctx *c, const char *w, yajl_val v, bool console,
		       struct vmm_output *field)
{
	struct output_tmp t = { 0 };
	struct vmm_output out = { .mode = VMM_OUTPUT_OFF };
	char echo[KV_ECHO_MAX];
	unsigned int m;
	int r;

	if (YAJL_IS_NULL(v))
		return 0;
	r = console ? json_object(c, w, v, console_fields, ARRAY_SIZE(console_fields), &t) :
		      json_object(c, w, v, serial_fields, ARRAY_SIZE(serial_fields), &t);
	if (r < 0)
		goto out;
	if (!t.mode) {
		r = error_set(c->err, -EINVAL, "%s: mode is required", w);
		goto out;
	}
	/* serde's enum spelling: exactly "Off", "Null", "Tty", "File", "Pty", "Socket". */
	for (m = 0; vmm_output_mode_to_string((enum vmm_output_mode)m); m++)
		if (strcmp(vmm_output_mode_to_string((enum vmm_output_mode)m), t.mode) == 0)
			break;
	if (!vmm_output_mode_to_string((enum vmm_output_mode)m)) {
		r = error_set(c->err, -EINVAL,
			      "%s: invalid mode '%s' (expected Off, Null, Tty, File, Pty or Socket)",
			      w, kv_echo(t.mode, echo));
		goto out;
	}
	out.mode = (enum vmm_output_mode)m;
	/* A path the mode does not use is a mistake worth naming, not a default. */
	if ((t.file != NULL) != (out.mode == VMM_OUTPUT_FILE)) {
		r = error_set(c->err, -EINVAL, "%s: %s", w,
			      t.file ? "file is only used with mode File" :
				       "mode File needs a file");
		goto out;
	}
	if ((t.socket != NULL) != (out.mode == VMM_OUTPUT_SOCKET)) {
		r = error_set(c->err, -EINVAL, "%s: %s", w,
			      t.socket ? "socket is only used with mode Socket" :
					 "mode Socket needs a socket");
		goto out;
	}
	r = console ? vmm_check_console_mode(w, out.mode, c->err) :
		      vmm_check_serial_mode(w, out.mode, c->err);
	if (r < 0)
		goto out;
	out.file = out.mode == VMM_OUTPUT_FILE ? t.file : t.socket;
	if (out.mode == VMM_OUTPUT_FILE)
		t.file = NULL;
	else
		t.socket = NULL;
	free(field->file);
	*field = out;
out:
	free(t.mode);
	free(t.file);
	free(t.socket);
	return r;
}

static int vm_serial(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_output(c, w, v, false, &c->cfg->serial);
}

static int vm_console(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	return json_output(c, w, v, true, &c->cfg->console);
}

/* cloud-hypervisor's debug console (port 0xe9) is off by default. */
static const struct json_field debug_console_fields[] = {
	LACKS_STR("mode", "Off"),
	LACKS("file", JD_NULL),
	LACKS_INT("iobase", 0xe9),
};

static int vm_debug_console(struct json_ctx *c, const char *w, yajl_val v, void *o)
{
	if (YAJL_IS_NULL(v))
		return 0;
	return json_object(c, w, v, debug_console_fields, ARRAY_SIZE(debug_console_fields), NULL);
}

static const struct json_field vm_fields[] = {
	FIELD("payload", vm_payload),
	FIELD("cpus", vm_cpus),
	FIELD("memory", vm_memory),
	FIELD("disks", vm_disks),
	FIELD("net", vm_net),
	FIELD("rng", vm_rng),
	FIELD("fs", vm_fs),
	FIELD("serial", vm_serial),
	FIELD("console", vm_console),
	FIELD("vsock", vm_vsock),
	FIELD("debug_console", vm_debug_console),
	LACKS("rate_limit_groups", JD_EMPTY),
	LACKS("balloon", JD_NULL),
	LACKS("generic_vhost_user", JD_EMPTY),
	LACKS("pmem", JD_EMPTY),
	LACKS("devices", JD_EMPTY),
	LACKS("user_devices", JD_EMPTY),
	LACKS("vdpa", JD_EMPTY),
	LACKS("numa", JD_EMPTY),
	LACKS("iommu", JD_FALSE),
	LACKS("watchdog", JD_FALSE),
	LACKS("rtc", JD_NULL),
	LACKS("pvpanic", JD_FALSE),
	LACKS("pci_segments", JD_EMPTY),
	LACKS("platform", JD_NULL),
	LACKS("tpm", JD_NULL),
	LACKS("landlock_enable", JD_FALSE),
	LACKS("landlock_rules", JD_EMPTY),
	LACKS("sgx_epc", JD_EMPTY),
	LACKS("ivshmem", JD_NULL),
	LACKS("pvmemcontrol", JD_NULL),
	LACKS("preserved_fds", JD_NULL),
};

/*
 * Before yajl sees it: no NUL byte, nesting within JSON_MAX_DEPTH, and no
 * "\u0000" escape. Only needs to be right for input yajl would accept;
 * anything else yajl refuses on its own.
 */
static int json_prescan(const char *json, size_t len, struct error *err)
{
	if (len == 0)
		return error_set(err, -EINVAL, "empty body: vm.create needs a VmConfig");
	switch (json_text_prescan(json, len, JSON_MAX_DEPTH)) {
	case JSON_TEXT_NUL:
		return error_set(err, -EINVAL, "invalid JSON: NUL byte in the body");
	case JSON_TEXT_U0000:
		return error_set(err, -EINVAL, "invalid JSON: \\u0000 in a string");
	case JSON_TEXT_TOO_DEEP:
		return error_set(err, -EINVAL, "invalid JSON: nested deeper than %d levels",
				 JSON_MAX_DEPTH);
	case JSON_TEXT_OK:
		break;
	}
	return 0;
}


int vmm_config_from_json(const char *json, size_t len, struct vmm_config *ret,
			 struct error *err)
{
	char ebuf[256] = "", *copy;
	struct vmm_config cfg;
	struct json_ctx c = { .cfg = &cfg, .err = err };
	yajl_val root;
	int r;

	r = json_prescan(json, len, err);
	if (r < 0)
		return r;
	copy = strndup(json, len);
	if (!copy)
		return error_set(err, -ENOMEM, "out of memory");
	root = yajl_tree_parse(copy, ebuf, sizeof(ebuf));
	free(copy);
	if (!root) {
		json_text_one_line(ebuf);
		return error_set(err, -EINVAL, "invalid JSON: %s", ebuf[0] ? ebuf : "parse error");
	}

	vmm_config_init(&cfg);
	r = json_object(&c, "", root, vm_fields, ARRAY_SIZE(vm_fields), NULL);
	if (r >= 0 && !cfg.kernel)
		r = error_set(err, -EINVAL, "payload.kernel is required");
	if (r >= 0)
		r = vmm_check_config(&cfg, VMM_SOURCE_JSON, err);
	yajl_tree_free(root);
	if (r < 0) {
		vmm_config_free(&cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}

/* --- output --- */

#define GEN(call)                                                              \
	do {                                                                   \
		yajl_gen_status _s = (call);                                   \
		if (_s != yajl_gen_status_ok)                                  \
			return _s;                                             \
	} while (0)

static yajl_gen_status gen_key(yajl_gen g, const char *key)
{
	return yajl_gen_string(g, (const unsigned char *)key, strlen(key));
}

static yajl_gen_status gen_str_field(yajl_gen g, const char *key, const char *value)
{
	GEN(gen_key(g, key));
	return json_gen_cstring(g, value);
}

static yajl_gen_status gen_u64_field(yajl_gen g, const char *key, uint64_t value)
{
	GEN(gen_key(g, key));
	return json_gen_u64(g, value);
}

static yajl_gen_status gen_bool_field(yajl_gen g, const char *key, bool value)
{
	GEN(gen_key(g, key));
	return yajl_gen_bool(g, value);
}

static yajl_gen_status gen_output(yajl_gen g, const char *key, const struct vmm_output *out)
{
	GEN(gen_key(g, key));
	GEN(yajl_gen_map_open(g));
	GEN(gen_str_field(g, "mode", vmm_output_mode_to_string(out->mode)));
	if (out->mode == VMM_OUTPUT_FILE)
		GEN(gen_str_field(g, "file", out->file));
	if (out->mode == VMM_OUTPUT_SOCKET)
		GEN(gen_str_field(g, "socket", out->file));
	return yajl_gen_map_close(g);
}

static yajl_gen_status gen_disk(yajl_gen g, const struct vmm_disk_config *d)
{
	GEN(yajl_gen_map_open(g));
	GEN(gen_str_field(g, "path", d->path));
	GEN(gen_bool_field(g, "readonly", d->readonly));
	GEN(gen_bool_field(g, "direct", d->direct));
	GEN(gen_u64_field(g, "num_queues", d->num_queues));
	GEN(gen_u64_field(g, "queue_size", d->queue_size));
	if (d->id)
		GEN(gen_str_field(g, "id", d->id));
	if (d->serial)
		GEN(gen_str_field(g, "serial", d->serial));
	return yajl_gen_map_close(g);
}

static yajl_gen_status gen_net(yajl_gen g, const struct vmm_net_config *n)
{
	char mac[18];

	GEN(yajl_gen_map_open(g));
	if (n->tap)
		GEN(gen_str_field(g, "tap", n->tap));
	if (n->ip) {
		GEN(gen_str_field(g, "ip", n->ip));
		GEN(gen_str_field(g, "mask", n->mask));
	}
	if (n->mac_set) {
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1],
			 n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
		GEN(gen_str_field(g, "mac", mac));
	}
	GEN(gen_u64_field(g, "num_queues", n->num_queues));
	GEN(gen_u64_field(g, "queue_size", n->queue_size));
	if (n->id)
		GEN(gen_str_field(g, "id", n->id));
	return yajl_gen_map_close(g);
}

static yajl_gen_status gen_fs(yajl_gen g, const struct vmm_fs_config *f)
{
	GEN(yajl_gen_map_open(g));
	GEN(gen_str_field(g, "tag", f->tag));
	GEN(gen_str_field(g, "socket", f->socket));
	GEN(gen_u64_field(g, "num_queues", f->num_queues));
	GEN(gen_u64_field(g, "queue_size", f->queue_size));
	if (f->id)
		GEN(gen_str_field(g, "id", f->id));
	return yajl_gen_map_close(g);
}

yajl_gen_status json_gen_config(yajl_gen g, const struct vmm_config *cfg)
{
	GEN(yajl_gen_map_open(g));

	GEN(gen_key(g, "cpus"));
	GEN(yajl_gen_map_open(g));
	GEN(gen_u64_field(g, "boot_vcpus", cfg->boot_vcpus));
	GEN(gen_u64_field(g, "max_vcpus", cfg->max_vcpus));
	GEN(yajl_gen_map_close(g));

	GEN(gen_key(g, "memory"));
	GEN(yajl_gen_map_open(g));
	GEN(gen_u64_field(g, "size", cfg->memory_size));
	GEN(gen_bool_field(g, "shared", cfg->memory_shared));
	GEN(yajl_gen_map_close(g));

	GEN(gen_key(g, "payload"));
	GEN(yajl_gen_map_open(g));
	if (cfg->kernel)
		GEN(gen_str_field(g, "kernel", cfg->kernel));
	if (cfg->initramfs)
		GEN(gen_str_field(g, "initramfs", cfg->initramfs));
	if (cfg->cmdline)
		GEN(gen_str_field(g, "cmdline", cfg->cmdline));
	GEN(yajl_gen_map_close(g));

	if (cfg->nr_disks) {
		GEN(gen_key(g, "disks"));
		GEN(yajl_gen_array_open(g));
		for (unsigned int i = 0; i < cfg->nr_disks; i++)
			GEN(gen_disk(g, &cfg->disks[i]));
		GEN(yajl_gen_array_close(g));
	}
	if (cfg->nr_nets) {
		GEN(gen_key(g, "net"));
		GEN(yajl_gen_array_open(g));
		for (unsigned int i = 0; i < cfg->nr_nets; i++)
			GEN(gen_net(g, &cfg->nets[i]));
		GEN(yajl_gen_array_close(g));
	}
	if (cfg->rng.enabled) {
		GEN(gen_key(g, "rng"));
		GEN(yajl_gen_map_open(g));
		GEN(gen_str_field(g, "src", cfg->rng.src));
		GEN(yajl_gen_map_close(g));
	}
	if (cfg->nr_fs) {
		GEN(gen_key(g, "fs"));
		GEN(yajl_gen_array_open(g));
		for (unsigned int i = 0; i < cfg->nr_fs; i++)
			GEN(gen_fs(g, &cfg->fs[i]));
		GEN(yajl_gen_array_close(g));
	}
	GEN(gen_output(g, "serial", &cfg->serial));
	GEN(gen_output(g, "console", &cfg->console));
	if (cfg->vsock.enabled) {
		GEN(gen_key(g, "vsock"));
		GEN(yajl_gen_map_open(g));
		GEN(gen_u64_field(g, "cid", cfg->vsock.cid));
		GEN(gen_str_field(g, "socket", cfg->vsock.socket));
		if (cfg->vsock.id)
			GEN(gen_str_field(g, "id", cfg->vsock.id));
		GEN(yajl_gen_map_close(g));
	}
	return yajl_gen_map_close(g);
}

char *vmm_config_to_json(const struct vmm_config *cfg)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (!g)
		return NULL;
	if (json_gen_config(g, cfg) != yajl_gen_status_ok) {
		yajl_gen_free(g);
		return NULL;
	}
	return json_gen_take(g);
}
