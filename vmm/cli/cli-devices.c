/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --disk, --net and --rng, in cloud-hypervisor's syntax. Keys cloud-hypervisor
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

#include "kv.h"

/*
 * Ids the VMM makes up for devices given without one start with '_' (as
 * cloud-hypervisor's "_disk0", "_net1"), so user ids may not: they could
 * collide with a generated one.
 */
#define CLI_RESERVED_ID_PREFIX '_'

static int cli_strdup(char **ret, const char *s, const char *opt, struct error *err)
{
	char *copy = strdup(s);

	if (!copy)
		return error_set(err, -ENOMEM, "%s: out of memory", opt);
	*ret = copy;
	return 0;
}

static bool cli_is_power_of_two(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* queue_size=: the virtio spec wants a power of two, at most 32768. */
static int cli_get_queue_size(const struct kv *kv, uint16_t *ret, struct error *err)
{
	const char *v = kv_get(kv, "queue_size");
	char echo[KV_ECHO_MAX];
	uint64_t n;

	if (!v)
		return 0;
	if (kv_parse_uint(v, VMM_MAX_QUEUE_SIZE, &n) < 0 || n < 2 || !cli_is_power_of_two(n))
		return error_set(err, -EINVAL,
				 "%s: queue_size must be a power of two between 2 and %d (got '%s')",
				 kv->option, VMM_MAX_QUEUE_SIZE, kv_echo(v, echo));
	*ret = (uint16_t)n;
	return 0;
}

/*
 * id=: a name for the REST API (vm.remove-device) and for messages, so it
 * must be unique among all devices.
 */
static int cli_check_id(const struct vmm_config *cfg, const struct kv *kv, struct error *err)
{
	const char *id = kv_get(kv, "id");
	char echo[KV_ECHO_MAX];

	if (!id)
		return 0;
	if (id[0] == '\0')
		return error_set(err, -EINVAL, "%s: id= needs a value", kv->option);
	if (id[0] == CLI_RESERVED_ID_PREFIX)
		return error_set(err, -EINVAL,
				 "%s: id '%s' is reserved (ids starting with '%c' are the VMM's own)",
				 kv->option, kv_echo(id, echo), CLI_RESERVED_ID_PREFIX);
	for (unsigned int i = 0; i < cfg->nr_disks; i++)
		if (cfg->disks[i].id && strcmp(cfg->disks[i].id, id) == 0)
			return error_set(err, -EINVAL, "%s: id '%s' is already used by a --disk",
					 kv->option, kv_echo(id, echo));
	for (unsigned int i = 0; i < cfg->nr_nets; i++)
		if (cfg->nets[i].id && strcmp(cfg->nets[i].id, id) == 0)
			return error_set(err, -EINVAL, "%s: id '%s' is already used by a --net",
					 kv->option, kv_echo(id, echo));
	return 0;
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
	char echo[KV_ECHO_MAX];
	uint64_t n;
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
		if (kv_parse_uint(nq, VMM_MAX_DISK_QUEUES, &n) < 0 || n == 0)
			return error_set(err, -EINVAL,
					 "%s: num_queues must be between 1 and %d (got '%s')",
					 kv->option, VMM_MAX_DISK_QUEUES, kv_echo(nq, echo));
		disk->num_queues = (uint16_t)n;
	}
	if (serial && (serial[0] == '\0' || strlen(serial) > VMM_DISK_SERIAL_MAX))
		return error_set(err, -EINVAL,
				 "%s: serial must be 1 to %d bytes (virtio-blk's limit; got %zu)",
				 kv->option, VMM_DISK_SERIAL_MAX, strlen(serial));
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

static int cli_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * "52:54:00:12:34:56": six ':'-separated octets of one or two hex digits
 * (cloud-hypervisor's MacAddr takes single digits too). Syntax only.
 */
static int cli_parse_mac(const char *s, uint8_t mac[static 6])
{
	for (int i = 0; i < 6; i++) {
		int octet = 0, digits = 0, d;

		for (; digits < 2 && (d = cli_hex_digit(*s)) >= 0; s++, digits++)
			octet = octet * 16 + d;
		if (digits == 0 || *s != (i == 5 ? '\0' : ':'))
			return -EINVAL;
		if (i < 5)
			s++;
		mac[i] = (uint8_t)octet;
	}
	return 0;
}

static int cli_get_mac(const struct kv *kv, struct vmm_net_config *net, struct error *err)
{
	static const uint8_t zero[6];
	const char *v = kv_get(kv, "mac");
	char echo[KV_ECHO_MAX];
	uint8_t mac[6];

	if (!v)
		return 0;
	if (cli_parse_mac(v, mac) < 0)
		return error_set(err, -EINVAL,
				 "%s: invalid MAC '%s' (expected 6 hex octets like 52:54:00:12:34:56, unicast)",
				 kv->option, kv_echo(v, echo));
	/* The guest would drop its own frames, or never see any. */
	if (mac[0] & 1)
		return error_set(err, -EINVAL,
				 "%s: invalid MAC '%s': it is multicast (low bit of the first octet set); a NIC needs a unicast one",
				 kv->option, kv_echo(v, echo));
	if (memcmp(mac, zero, sizeof(zero)) == 0)
		return error_set(err, -EINVAL, "%s: invalid MAC '%s': all zeros", kv->option,
				 kv_echo(v, echo));
	memcpy(net->mac, mac, sizeof(mac));
	net->mac_set = true;
	return 0;
}

/* A netdevice name the kernel takes (dev_valid_name()), or a "tap%d" template. */
static int cli_check_tap(const struct vmm_config *cfg, const struct kv *kv, struct error *err)
{
	const char *tap = kv_get(kv, "tap");
	char echo[KV_ECHO_MAX];

	/* Absent or empty: the kernel picks a free tapN. */
	if (!tap || tap[0] == '\0')
		return 0;
	if (strlen(tap) > VMM_TAP_NAME_MAX)
		return error_set(err, -EINVAL, "%s: tap name '%s' is too long (at most %d bytes)",
				 kv->option, kv_echo(tap, echo), VMM_TAP_NAME_MAX);
	if (strcmp(tap, ".") == 0 || strcmp(tap, "..") == 0)
		return error_set(err, -EINVAL, "%s: invalid tap name '%s'", kv->option, tap);
	for (const char *p = tap; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p) ||
		    iscntrl((unsigned char)*p))
			return error_set(err, -EINVAL,
					 "%s: invalid tap name '%s' (no '/', ':' or white space)",
					 kv->option, kv_echo(tap, echo));
	/* Two queues pairs on one tap need IFF_MULTI_QUEUE from one device, not two. */
	if (!strchr(tap, '%'))
		for (unsigned int i = 0; i < cfg->nr_nets; i++)
			if (cfg->nets[i].tap && strcmp(cfg->nets[i].tap, tap) == 0)
				return error_set(err, -EINVAL,
						 "%s: tap '%s' is already used by another --net",
						 kv->option, tap);
	return 0;
}

/* Dotted-quad IPv4 into `out` (INET_ADDRSTRLEN) in canonical form; -ENOSYS for IPv6. */
static int cli_get_ipv4(const struct kv *kv, const char *key, struct in_addr *addr,
			char *out, struct error *err)
{
	const char *v = kv_get(kv, key);
	struct in6_addr addr6;
	char echo[KV_ECHO_MAX];

	if (inet_pton(AF_INET, v, addr) == 1) {
		inet_ntop(AF_INET, addr, out, INET_ADDRSTRLEN);
		return 0;
	}
	if (inet_pton(AF_INET6, v, &addr6) == 1)
		return error_set(err, -ENOSYS, "%s: IPv6 %s= is not supported yet", kv->option,
				 key);
	return error_set(err, -EINVAL, "%s: invalid %s '%s' (expected a dotted IPv4 %s like %s)",
			 kv->option, key, kv_echo(v, echo),
			 strcmp(key, "ip") == 0 ? "address" : "netmask",
			 strcmp(key, "ip") == 0 ? "192.168.249.1" : "255.255.255.0");
}

/*
 * ip= and mask=: the host side of the tap. Only ip= is needed (mask defaults
 * to /24, as cloud-hypervisor's did); mask= alone has nothing to apply to.
 */
static int cli_get_ip(const struct kv *kv, char *ip, char *mask, struct error *err)
{
	struct in_addr addr, netmask;
	char echo[KV_ECHO_MAX];
	uint32_t a, m;
	int r;

	if (!kv_get(kv, "ip")) {
		if (kv_get(kv, "mask"))
			return error_set(err, -EINVAL, "%s: mask= needs ip= (the tap's host address)",
					 kv->option);
		ip[0] = mask[0] = '\0';
		return 0;
	}
	r = cli_get_ipv4(kv, "ip", &addr, ip, err);
	if (r < 0)
		return r;
	a = ntohl(addr.s_addr);
	/* 0/8, 127/8 and 224/3 (multicast, reserved, broadcast) never name a host. */
	if ((a >> 24) == 0 || (a >> 24) == 127 || (a >> 24) >= 224)
		return error_set(err, -EINVAL,
				 "%s: ip '%s' cannot be an interface address (unspecified, loopback, multicast or broadcast)",
				 kv->option, kv_echo(kv_get(kv, "ip"), echo));

	if (!kv_get(kv, "mask")) {
		strcpy(mask, VMM_DEFAULT_NET_MASK);
		return 0;
	}
	r = cli_get_ipv4(kv, "mask", &netmask, mask, err);
	if (r < 0)
		return r;
	m = ntohl(netmask.s_addr);
	/* Ones then zeros: ~m + 1 is a power of two. /0 would route everything via the tap. */
	if (m == 0 || ((~m + 1) & ~m) != 0)
		return error_set(err, -EINVAL,
				 "%s: invalid mask '%s' (expected a contiguous netmask like 255.255.255.0)",
				 kv->option, kv_echo(kv_get(kv, "mask"), echo));
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
	uint64_t n;
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
	r = cli_check_tap(cfg, &kv, err);
	if (r >= 0)
		r = cli_get_mac(&kv, &net, err);
	if (r >= 0)
		r = cli_get_ip(&kv, ip, mask, err);
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
	/* virtio-net queues come in rx/tx pairs; the control queue is not counted. */
	v = kv_get(&kv, "num_queues");
	if (v) {
		if (kv_parse_uint(v, VMM_MAX_NET_QUEUES, &n) < 0 || n < 2 || n % 2) {
			r = error_set(err, -EINVAL,
				      "%s: num_queues must be an even number between 2 and %d (one rx/tx pair per 2; got '%s')",
				      opt, VMM_MAX_NET_QUEUES, kv_echo(v, echo));
			goto free_kv;
		}
		net.num_queues = (uint16_t)n;
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
