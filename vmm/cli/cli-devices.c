/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --disk, --net, --rng, --fs and --vsock, in cloud-hypervisor's syntax. The
 * rules for the values are config-check.c's, shared with the REST API. Keys cloud-hypervisor
 * has and nacelle does not are declared KV_UNSUPPORTED, so that they answer
 * "not supported yet" rather than "unknown key"; iommu and vhost_user are
 * accepted when they ask for cloud-hypervisor's default (off), because
 * generated command lines spell that out.
 */
#include "cli-devices.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-check.h"
#include "kv.h"

static int cli_strdup(char **ret, const char *s, const char *opt, struct error *err)
{
	char *copy = strdup(s);

	if (!copy)
		return error_set(err, -ENOMEM, "%s: out of memory", opt);
	*ret = copy;
	return 0;
}

/* queue_size=, checked as config-check.c says; junk reads as 0, which it refuses. */
static int cli_get_queue_size(const struct kv *kv, uint16_t *ret, struct error *err)
{
	const char *v = kv_get(kv, "queue_size");
	uint64_t n;
	int r;

	if (!v)
		return 0;
	if (kv_parse_uint(v, UINT64_MAX, &n) < 0)
		n = 0;
	r = vmm_check_queue_size(kv->option, n, v, err);
	if (r < 0)
		return r;
	*ret = (uint16_t)n;
	return 0;
}

/* A number config-check.c validates; junk reads as 0, which every check refuses. */
static uint64_t cli_get_uint(const struct kv *kv, const char *key)
{
	const char *v = kv_get(kv, key);
	uint64_t n;

	if (!v || kv_parse_uint(v, UINT64_MAX, &n) < 0)
		return 0;
	return n;
}

static int cli_check_id(const struct vmm_config *cfg, const struct kv *kv, struct error *err)
{
	const char *id = kv_get(kv, "id");

	return id ? vmm_check_id(cfg, VMM_SOURCE_CLI, kv->option, id, err) : 0;
}

/* Rate limiting, shared by --disk and --net; nacelle has none yet. */
#define CLI_RATE_LIMITER_KEYS                                                  \
	{ "bw_size", KV_UNSUPPORTED }, { "bw_one_time_burst", KV_UNSUPPORTED },    \
		{ "bw_refill_time", KV_UNSUPPORTED },                              \
		{ "ops_size", KV_UNSUPPORTED },                                    \
		{ "ops_one_time_burst", KV_UNSUPPORTED },                          \
		{ "ops_refill_time", KV_UNSUPPORTED }

/* cloud-hypervisor's PciDeviceCommonConfig, but iommu (checked by hand). */
#define CLI_PCI_KEYS { "pci_segment", KV_UNSUPPORTED }, { "pci_device_id", KV_UNSUPPORTED }

static const struct kv_key disk_keys[] = {
	{ "path", 0 },
	{ "readonly", 0 },
	{ "direct", 0 },
	{ "num_queues", 0 },
	{ "queue_size", 0 },
	{ "id", 0 },
	{ "serial", 0 },
	{ "iommu", 0 },	     /* off only */
	{ "vhost_user", 0 }, /* off only */
	{ "socket", KV_UNSUPPORTED },
	CLI_RATE_LIMITER_KEYS,
	{ "rate_limit_group", KV_UNSUPPORTED },
	{ "queue_affinity", KV_UNSUPPORTED },
	{ "poll_queue", KV_UNSUPPORTED },
	{ "backing_files", KV_UNSUPPORTED },
	{ "sparse", KV_UNSUPPORTED },
	{ "image_type", KV_UNSUPPORTED },
	{ "lock_granularity", KV_UNSUPPORTED },
	{ "_disable_io_uring", KV_UNSUPPORTED },
	{ "_disable_aio", KV_UNSUPPORTED },
	CLI_PCI_KEYS,
};

static void cli_disk_free(struct vmm_disk_config *disk)
{
	free(disk->path);
	free(disk->id);
	free(disk->serial);
}

/* Everything but the copies: reads kv into *disk's scalar fields and checks it all. */
static int cli_disk_check(const struct vmm_config *cfg, const struct kv *kv,
			  struct vmm_disk_config *disk, struct error *err)
{
	const char *path = kv_get(kv, "path"), *serial = kv_get(kv, "serial");
	const char *nq = kv_get(kv, "num_queues");
	int r;

	if (!path)
		return error_set(err, -EINVAL, "%s: path= is required", kv->option);
	if (path[0] == '\0')
		return error_set(err, -EINVAL, "%s: path= is required and must not be empty",
				 kv->option);
	r = kv_get_toggle(kv, "readonly", &disk->readonly, err);
	if (r >= 0)
		r = kv_get_toggle(kv, "direct", &disk->direct, err);
	if (r >= 0)
		r = kv_check_toggle(kv, "iommu", false, err);
	if (r >= 0)
		r = kv_check_toggle(kv, "vhost_user", false, err);
	if (r >= 0)
		r = cli_get_queue_size(kv, &disk->queue_size, err);
	if (r < 0)
		return r;
	if (nq) {
		r = vmm_check_disk_queues(kv->option, cli_get_uint(kv, "num_queues"), nq, err);
		if (r < 0)
			return r;
		disk->num_queues = (uint16_t)cli_get_uint(kv, "num_queues");
	}
	if (serial) {
		r = vmm_check_disk_serial(kv->option, serial, err);
		if (r < 0)
			return r;
	}
	return cli_check_id(cfg, kv, err);
}

int cli_parse_disk(struct vmm_config *cfg, const char *opt, const char *value,
		   struct error *err)
{
	struct vmm_disk_config disk = {
		.num_queues = VMM_DEFAULT_DISK_QUEUES,
		.queue_size = VMM_DEFAULT_DISK_QUEUE_SIZE,
	};
	struct vmm_disk_config *disks;
	char echo[KV_ECHO_MAX];
	const char *v;
	struct kv kv;
	int r;

	/* "--disk /img" is the obvious guess; cloud-hypervisor wants path=/img. */
	if (!strchr(value, '=') && strchr(value, '/'))
		return error_set(err, -EINVAL, "%s: write path=%s, not a bare path", opt,
				 kv_echo(value, echo));
	if (cfg->nr_disks >= VMM_MAX_DISKS)
		return error_set(err, -EINVAL, "%s: too many disks (at most %d)", opt,
				 VMM_MAX_DISKS);

	r = kv_parse(opt, value, disk_keys, ARRAY_SIZE(disk_keys), &kv, err);
	if (r < 0)
		return r;
	r = cli_disk_check(cfg, &kv, &disk, err);
	if (r < 0)
		goto free_kv;

	r = cli_strdup(&disk.path, kv_get(&kv, "path"), opt, err);
	if (r >= 0 && (v = kv_get(&kv, "id")))
		r = cli_strdup(&disk.id, v, opt, err);
	if (r >= 0 && (v = kv_get(&kv, "serial")))
		r = cli_strdup(&disk.serial, v, opt, err);
	if (r < 0)
		goto free_disk;

	disks = reallocarray(cfg->disks, cfg->nr_disks + 1, sizeof(*disks));
	if (!disks) {
		r = error_set(err, -ENOMEM, "%s: out of memory", opt);
		goto free_disk;
	}
	cfg->disks = disks;
	cfg->disks[cfg->nr_disks++] = disk;
	kv_free(&kv);
	return 0;

free_disk:
	cli_disk_free(&disk);
free_kv:
	kv_free(&kv);
	return r;
}

static const struct kv_key net_keys[] = {
	{ "tap", 0 },
	{ "mac", 0 },
	{ "ip", 0 },
	{ "mask", 0 },
	{ "num_queues", 0 },
	{ "queue_size", 0 },
	{ "id", 0 },
	{ "iommu", 0 },	     /* off only */
	{ "vhost_user", 0 }, /* off only */
	{ "host_mac", KV_UNSUPPORTED },
	{ "mtu", KV_UNSUPPORTED },
	{ "fd", KV_UNSUPPORTED },
	{ "socket", KV_UNSUPPORTED },
	{ "vhost_mode", KV_UNSUPPORTED },
	{ "offload_tso", KV_UNSUPPORTED },
	{ "offload_ufo", KV_UNSUPPORTED },
	{ "offload_csum", KV_UNSUPPORTED },
	CLI_RATE_LIMITER_KEYS,
	CLI_PCI_KEYS,
};

static int cli_get_mac(const struct kv *kv, struct vmm_net_config *net, struct error *err)
{
	const char *v = kv_get(kv, "mac");
	int r;

	if (!v)
		return 0;
	r = vmm_check_mac(kv->option, v, net->mac, err);
	if (r < 0)
		return r;
	net->mac_set = true;
	return 0;
}

static void cli_net_free(struct vmm_net_config *net)
{
	free(net->tap);
	free(net->ip);
	free(net->mask);
	free(net->id);
}

int cli_parse_net(struct vmm_config *cfg, const char *opt, const char *value,
		  struct error *err)
{
	struct vmm_net_config net = {
		.num_queues = VMM_DEFAULT_NET_QUEUES,
		.queue_size = VMM_DEFAULT_NET_QUEUE_SIZE,
	};
	char ip[INET_ADDRSTRLEN], mask[INET_ADDRSTRLEN], echo[KV_ECHO_MAX];
	struct vmm_net_config *nets;
	const char *v;
	struct kv kv;
	int r;

	/* "--net tap0" is the obvious guess; cloud-hypervisor wants tap=tap0. */
	if (value[0] && !strchr(value, '=') && !strchr(value, ','))
		return error_set(err, -EINVAL, "%s: write tap=%s, not a bare name", opt,
				 kv_echo(value, echo));
	if (cfg->nr_nets >= VMM_MAX_NETS)
		return error_set(err, -EINVAL, "%s: too many network devices (at most %d)", opt,
				 VMM_MAX_NETS);

	r = kv_parse(opt, value, net_keys, ARRAY_SIZE(net_keys), &kv, err);
	if (r < 0)
		return r;
	r = vmm_check_tap(cfg, VMM_SOURCE_CLI, opt, kv_get(&kv, "tap"), err);
	if (r >= 0)
		r = cli_get_mac(&kv, &net, err);
	if (r >= 0)
		r = vmm_check_net_ip(opt, kv_get(&kv, "ip"), kv_get(&kv, "mask"), ip, mask, err);
	if (r >= 0)
		r = cli_get_queue_size(&kv, &net.queue_size, err);
	if (r >= 0)
		r = kv_check_toggle(&kv, "iommu", false, err);
	if (r >= 0)
		r = kv_check_toggle(&kv, "vhost_user", false, err);
	if (r >= 0)
		r = cli_check_id(cfg, &kv, err);
	if (r < 0)
		goto free_kv;
	v = kv_get(&kv, "num_queues");
	if (v) {
		r = vmm_check_net_queues(opt, cli_get_uint(&kv, "num_queues"), v, err);
		if (r < 0)
			goto free_kv;
		net.num_queues = (uint16_t)cli_get_uint(&kv, "num_queues");
	}

	v = kv_get(&kv, "tap");
	if (v && v[0])
		r = cli_strdup(&net.tap, v, opt, err);
	if (r >= 0 && ip[0])
		r = cli_strdup(&net.ip, ip, opt, err);
	if (r >= 0 && mask[0])
		r = cli_strdup(&net.mask, mask, opt, err);
	if (r >= 0 && (v = kv_get(&kv, "id")))
		r = cli_strdup(&net.id, v, opt, err);
	if (r < 0)
		goto free_net;

	nets = reallocarray(cfg->nets, cfg->nr_nets + 1, sizeof(*nets));
	if (!nets) {
		r = error_set(err, -ENOMEM, "%s: out of memory", opt);
		goto free_net;
	}
	cfg->nets = nets;
	cfg->nets[cfg->nr_nets++] = net;
	kv_free(&kv);
	return 0;

free_net:
	cli_net_free(&net);
free_kv:
	kv_free(&kv);
	return r;
}

static const struct kv_key rng_keys[] = {
	{ "src", 0 },
	{ "iommu", 0 }, /* off only */
	{ "id", KV_UNSUPPORTED },
	CLI_PCI_KEYS,
};

int cli_parse_rng(struct vmm_config *cfg, const char *opt, const char *value,
		  struct error *err)
{
	char echo[KV_ECHO_MAX];
	const char *src;
	char *copy = NULL;
	struct kv kv;
	int r;

	if (!strchr(value, '=') && strchr(value, '/'))
		return error_set(err, -EINVAL, "%s: write src=%s, not a bare path", opt,
				 kv_echo(value, echo));
	r = kv_parse(opt, value, rng_keys, ARRAY_SIZE(rng_keys), &kv, err);
	if (r < 0)
		return r;
	r = kv_check_toggle(&kv, "iommu", false, err);
	if (r < 0)
		goto free_kv;
	src = kv_get(&kv, "src");
	if (src && src[0] == '\0') {
		r = error_set(err, -EINVAL, "%s: src= needs a path", opt);
		goto free_kv;
	}
	r = cli_strdup(&copy, src ? src : VMM_DEFAULT_RNG_SRC, opt, err);
	if (r < 0)
		goto free_kv;
	free(cfg->rng.src);
	cfg->rng.src = copy;
	cfg->rng.enabled = true;
free_kv:
	kv_free(&kv);
	return r;
}

static const struct kv_key fs_keys[] = {
	{ "tag", 0 },
	{ "socket", 0 },
	{ "num_queues", 0 },
	{ "queue_size", 0 },
	{ "id", 0 },
	CLI_PCI_KEYS,
};

static void cli_fs_free(struct vmm_fs_config *fs)
{
	free(fs->tag);
	free(fs->socket);
	free(fs->id);
}

int cli_parse_fs(struct vmm_config *cfg, const char *opt, const char *value, struct error *err)
{
	struct vmm_fs_config fs = {
		.num_queues = 1,
		.queue_size = VMM_DEFAULT_FS_QUEUE_SIZE,
	};
	struct vmm_fs_config *all;
	char echo[KV_ECHO_MAX];
	const char *v;
	struct kv kv;
	int r;

	if (cfg->nr_fs >= VMM_MAX_FS)
		return error_set(err, -EINVAL, "%s: too many file systems (at most %d)", opt,
				 VMM_MAX_FS);
	r = kv_parse(opt, value, fs_keys, ARRAY_SIZE(fs_keys), &kv, err);
	if (r < 0)
		return r;
	r = cli_get_queue_size(&kv, &fs.queue_size, err);
	if (r < 0)
		goto free_kv;
	if (kv_get(&kv, "num_queues")) {
		uint64_t n = cli_get_uint(&kv, "num_queues");

		if (n == 0 || n > UINT16_MAX) {
			r = error_set(err, -EINVAL, "%s: num_queues must be 1 (got '%s')", opt,
				      kv_echo(kv_get(&kv, "num_queues"), echo));
			goto free_kv;
		}
		fs.num_queues = (uint16_t)n;
	}
	/* The checks read the strings in place; copies come once all is valid. */
	fs.tag = (char *)kv_get(&kv, "tag");
	fs.socket = (char *)kv_get(&kv, "socket");
	r = vmm_check_fs(cfg, VMM_SOURCE_CLI, opt, &fs, err);
	if (r >= 0)
		r = cli_check_id(cfg, &kv, err);
	fs.tag = fs.socket = NULL;
	if (r < 0)
		goto free_kv;

	r = cli_strdup(&fs.tag, kv_get(&kv, "tag"), opt, err);
	if (r >= 0)
		r = cli_strdup(&fs.socket, kv_get(&kv, "socket"), opt, err);
	if (r >= 0 && (v = kv_get(&kv, "id")))
		r = cli_strdup(&fs.id, v, opt, err);
	if (r < 0)
		goto free_fs;
	all = reallocarray(cfg->fs, cfg->nr_fs + 1, sizeof(*all));
	if (!all) {
		r = error_set(err, -ENOMEM, "%s: out of memory", opt);
		goto free_fs;
	}
	cfg->fs = all;
	cfg->fs[cfg->nr_fs++] = fs;
	kv_free(&kv);
	return 0;

free_fs:
	cli_fs_free(&fs);
free_kv:
	kv_free(&kv);
	return r;
}

static const struct kv_key vsock_keys[] = {
	{ "cid", 0 },
	{ "socket", 0 },
	{ "id", 0 },
	{ "iommu", 0 }, /* off only */
	CLI_PCI_KEYS,
};

int cli_parse_vsock(struct vmm_config *cfg, const char *opt, const char *value,
		    struct error *err)
{
	struct vmm_vsock_config vsock = { .enabled = true };
	char echo[KV_ECHO_MAX];
	const char *v;
	struct kv kv;
	int r;

	r = kv_parse(opt, value, vsock_keys, ARRAY_SIZE(vsock_keys), &kv, err);
	if (r < 0)
		return r;
	r = kv_check_toggle(&kv, "iommu", false, err);
	if (r < 0)
		goto free_kv;
	v = kv_get(&kv, "cid");
	if (!v) {
		r = error_set(err, -EINVAL, "%s: cid= is required", opt);
		goto free_kv;
	}
	if (kv_parse_uint(v, UINT64_MAX, &vsock.cid) < 0) {
		r = error_set(err, -EINVAL, "%s: invalid cid '%s' (expected a number from %d)", opt,
			      kv_echo(v, echo), VMM_VSOCK_MIN_CID);
		goto free_kv;
	}
	vsock.socket = (char *)kv_get(&kv, "socket");
	r = vmm_check_vsock(opt, &vsock, err);
	if (r >= 0)
		r = cli_check_id(cfg, &kv, err);
	vsock.socket = NULL;
	if (r < 0)
		goto free_kv;

	r = cli_strdup(&vsock.socket, kv_get(&kv, "socket"), opt, err);
	if (r >= 0 && (v = kv_get(&kv, "id")))
		r = cli_strdup(&vsock.id, v, opt, err);
	if (r < 0) {
		free(vsock.socket);
		free(vsock.id);
		goto free_kv;
	}
	cfg->vsock = vsock;
free_kv:
	kv_free(&kv);
	return r;
}
