/* SPDX-License-Identifier: Apache-2.0 */
/* The rules of struct vmm_config, shared by the command line and vm.create. */
#include "config-check.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kv.h"

/*
 * Ids the VMM makes up for devices given without one start with '_' (as
 * cloud-hypervisor's "_disk0", "_net1"), so user ids may not: they could
 * collide with a generated one.
 */
#define VMM_RESERVED_ID_PREFIX '_'

static bool is_power_of_two(uint64_t v)
{
	return v && !(v & (v - 1));
}

int vmm_check_vcpu_count(const char *ctx, const char *key, uint64_t n, const char *shown,
			 struct error *err)
{
	char echo[KV_ECHO_MAX];

	if (n == 0 || n > VMM_MAX_VCPUS)
		return error_set(err, -EINVAL, "%s: %s must be between 1 and %d (got '%s')", ctx,
				 key, VMM_MAX_VCPUS, kv_echo(shown, echo));
	return 0;
}

int vmm_check_vcpus(const char *ctx, uint32_t boot, uint32_t max, struct error *err)
{
	if (max < boot)
		return error_set(err, -EINVAL, "%s: max (%u) must not be less than boot (%u)", ctx,
				 max, boot);
	if (max != boot)
		return error_set(err, -ENOSYS, "%s: cpu hotplug (max != boot) is not supported yet",
				 ctx);
	return 0;
}

int vmm_check_memory_size(const char *ctx, uint64_t size, const char *shown, struct error *err)
{
	char echo[KV_ECHO_MAX];

	if (size < VMM_MIN_MEMORY || size > VMM_MAX_MEMORY)
		return error_set(err, -EINVAL,
				 "%s: size '%s' is out of range (must be %" PRIu64 "M to %" PRIu64
				 "G)",
				 ctx, kv_echo(shown, echo), VMM_MIN_MEMORY / MiB,
				 VMM_MAX_MEMORY / GiB);
	/* Guest RAM is mapped in pages; rounding silently would hide a typo. */
	if (!IS_ALIGNED(size, 4 * KiB))
		return error_set(err, -EINVAL, "%s: size '%s' is not a multiple of 4K", ctx,
				 kv_echo(shown, echo));
	return 0;
}

int vmm_check_cmdline(const char *ctx, const char *cmdline, struct error *err)
{
	size_t len = strlen(cmdline);

	/* The boot protocol's buffer, terminating NUL included. */
	if (len > VMM_MAX_CMDLINE - 1)
		return error_set(err, -EINVAL, "%s: too long (%zu bytes; the limit is %d)", ctx, len,
				 VMM_MAX_CMDLINE - 1);
	return 0;
}

int vmm_check_queue_size(const char *ctx, uint64_t n, const char *shown, struct error *err)
{
	char echo[KV_ECHO_MAX];

	/* The virtio spec wants a power of two, at most 32768. */
	if (n < 2 || n > VMM_MAX_QUEUE_SIZE || !is_power_of_two(n))
		return error_set(err, -EINVAL,
				 "%s: queue_size must be a power of two between 2 and %d (got '%s')",
				 ctx, VMM_MAX_QUEUE_SIZE, kv_echo(shown, echo));
	return 0;
}

int vmm_check_disk_queues(const char *ctx, uint64_t n, const char *shown, struct error *err)
{
	char echo[KV_ECHO_MAX];

	if (n == 0 || n > VMM_MAX_DISK_QUEUES)
		return error_set(err, -EINVAL, "%s: num_queues must be between 1 and %d (got '%s')",
				 ctx, VMM_MAX_DISK_QUEUES, kv_echo(shown, echo));
	return 0;
}

int vmm_check_net_queues(const char *ctx, uint64_t n, const char *shown, struct error *err)
{
	char echo[KV_ECHO_MAX];

	/* virtio-net queues come in rx/tx pairs; the control queue is not counted. */
	if (n < 2 || n > VMM_MAX_NET_QUEUES || n % 2)
		return error_set(err, -EINVAL,
				 "%s: num_queues must be an even number between 2 and %d (one rx/tx pair per 2; got '%s')",
				 ctx, VMM_MAX_NET_QUEUES, kv_echo(shown, echo));
	return 0;
}

int vmm_check_disk_serial(const char *ctx, const char *serial, struct error *err)
{
	if (serial[0] == '\0' || strlen(serial) > VMM_DISK_SERIAL_MAX)
		return error_set(err, -EINVAL,
				 "%s: serial must be 1 to %d bytes (virtio-blk's limit; got %zu)", ctx,
				 VMM_DISK_SERIAL_MAX, strlen(serial));
	return 0;
}

/* "a --disk" on the command line, "disks[2]" in JSON: where the user wrote it. */
static void device_name(enum vmm_config_source src, const char *cli, const char *json,
			int index, char *buf, size_t size)
{
	if (src == VMM_SOURCE_CLI)
		snprintf(buf, size, "a %s", cli);
	else if (index < 0)
		snprintf(buf, size, "%s", json);
	else
		snprintf(buf, size, "%s[%d]", json, index);
}

static bool id_is(const char *a, const char *b)
{
	return a && strcmp(a, b) == 0;
}

int vmm_check_id(const struct vmm_config *cfg, enum vmm_config_source src, const char *ctx,
		 const char *id, struct error *err)
{
	char echo[KV_ECHO_MAX], where[32] = "";

	if (id[0] == '\0')
		return error_set(err, -EINVAL, "%s: id= needs a value", ctx);
	if (id[0] == VMM_RESERVED_ID_PREFIX)
		return error_set(err, -EINVAL,
				 "%s: id '%s' is reserved (ids starting with '%c' are the VMM's own)",
				 ctx, kv_echo(id, echo), VMM_RESERVED_ID_PREFIX);
	/* id is what vm.remove-device and messages use, so it must name one device. */
	for (unsigned int i = 0; i < cfg->nr_disks && !where[0]; i++)
		if (id_is(cfg->disks[i].id, id))
			device_name(src, "--disk", "disks", (int)i, where, sizeof(where));
	for (unsigned int i = 0; i < cfg->nr_nets && !where[0]; i++)
		if (id_is(cfg->nets[i].id, id))
			device_name(src, "--net", "net", (int)i, where, sizeof(where));
	for (unsigned int i = 0; i < cfg->nr_fs && !where[0]; i++)
		if (id_is(cfg->fs[i].id, id))
			device_name(src, "--fs", "fs", (int)i, where, sizeof(where));
	if (!where[0] && cfg->vsock.enabled && id_is(cfg->vsock.id, id))
		device_name(src, "--vsock", "vsock", -1, where, sizeof(where));
	if (where[0])
		return error_set(err, -EINVAL, "%s: id '%s' is already used by %s", ctx,
				 kv_echo(id, echo), where);
	return 0;
}

static int hex_digit(char c)
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
 * Six ':'-separated octets of one or two hex digits (cloud-hypervisor's
 * MacAddr takes single digits too). Syntax only.
 */
static int parse_mac(const char *s, uint8_t mac[static 6])
{
	for (int i = 0; i < 6; i++) {
		int octet = 0, digits = 0, d;

		for (; digits < 2 && (d = hex_digit(*s)) >= 0; s++, digits++)
			octet = octet * 16 + d;
		if (digits == 0 || *s != (i == 5 ? '\0' : ':'))
			return -EINVAL;
		if (i < 5)
			s++;
		mac[i] = (uint8_t)octet;
	}
	return 0;
}

int vmm_check_mac(const char *ctx, const char *s, uint8_t mac[static 6], struct error *err)
{
	static const uint8_t zero[6];
	char echo[KV_ECHO_MAX];
	uint8_t m[6];

	if (parse_mac(s, m) < 0)
		return error_set(err, -EINVAL,
				 "%s: invalid MAC '%s' (expected 6 hex octets like 52:54:00:12:34:56, unicast)",
				 ctx, kv_echo(s, echo));
	/* The guest would drop its own frames, or never see any. */
	if (m[0] & 1)
		return error_set(err, -EINVAL,
				 "%s: invalid MAC '%s': it is multicast (low bit of the first octet set); a NIC needs a unicast one",
				 ctx, kv_echo(s, echo));
	if (memcmp(m, zero, sizeof(zero)) == 0)
		return error_set(err, -EINVAL, "%s: invalid MAC '%s': all zeros", ctx,
				 kv_echo(s, echo));
	memcpy(mac, m, sizeof(m));
	return 0;
}

int vmm_check_tap(const struct vmm_config *cfg, enum vmm_config_source src, const char *ctx,
		  const char *tap, struct error *err)
{
	char echo[KV_ECHO_MAX], where[32];

	/* Absent or empty: the kernel picks a free tapN. */
	if (!tap || tap[0] == '\0')
		return 0;
	if (strlen(tap) > VMM_TAP_NAME_MAX)
		return error_set(err, -EINVAL, "%s: tap name '%s' is too long (at most %d bytes)",
				 ctx, kv_echo(tap, echo), VMM_TAP_NAME_MAX);
	/* The kernel's dev_valid_name(). */
	if (strcmp(tap, ".") == 0 || strcmp(tap, "..") == 0)
		return error_set(err, -EINVAL, "%s: invalid tap name '%s'", ctx, tap);
	for (const char *p = tap; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p) ||
		    iscntrl((unsigned char)*p))
			return error_set(err, -EINVAL,
					 "%s: invalid tap name '%s' (no '/', ':' or white space)", ctx,
					 kv_echo(tap, echo));
	/* Two queue pairs on one tap need IFF_MULTI_QUEUE from one device, not two. */
	if (strchr(tap, '%'))
		return 0;
	for (unsigned int i = 0; i < cfg->nr_nets; i++) {
		if (!cfg->nets[i].tap || strcmp(cfg->nets[i].tap, tap) != 0)
			continue;
		if (src == VMM_SOURCE_CLI)
			snprintf(where, sizeof(where), "another --net");
		else
			snprintf(where, sizeof(where), "net[%u]", i);
		return error_set(err, -EINVAL, "%s: tap '%s' is already used by %s", ctx, tap,
				 where);
	}
	return 0;
}

/* Dotted-quad IPv4 into `out` (INET_ADDRSTRLEN) in canonical form; -ENOSYS for IPv6. */
static int parse_ipv4(const char *ctx, const char *key, const char *v, struct in_addr *addr,
		      char *out, struct error *err)
{
	struct in6_addr addr6;
	char echo[KV_ECHO_MAX];
	bool is_ip = strcmp(key, "ip") == 0;

	if (inet_pton(AF_INET, v, addr) == 1) {
		inet_ntop(AF_INET, addr, out, INET_ADDRSTRLEN);
		return 0;
	}
	if (inet_pton(AF_INET6, v, &addr6) == 1)
		return error_set(err, -ENOSYS, "%s: IPv6 %s= is not supported yet", ctx, key);
	return error_set(err, -EINVAL, "%s: invalid %s '%s' (expected a dotted IPv4 %s like %s)",
			 ctx, key, kv_echo(v, echo), is_ip ? "address" : "netmask",
			 is_ip ? "192.168.249.1" : "255.255.255.0");
}

int vmm_check_net_ip(const char *ctx, const char *ip, const char *mask,
		     char ret_ip[static INET_ADDRSTRLEN], char ret_mask[static INET_ADDRSTRLEN],
		     struct error *err)
{
	struct in_addr addr, netmask;
	char echo[KV_ECHO_MAX];
	uint32_t a, m;
	int r;

	/* Only ip is needed (mask defaults to /24); mask alone has nothing to apply to. */
	if (!ip) {
		if (mask)
			return error_set(err, -EINVAL, "%s: mask= needs ip= (the tap's host address)",
					 ctx);
		ret_ip[0] = ret_mask[0] = '\0';
		return 0;
	}
	r = parse_ipv4(ctx, "ip", ip, &addr, ret_ip, err);
	if (r < 0)
		return r;
	a = ntohl(addr.s_addr);
	/* 0/8, 127/8 and 224/3 (multicast, reserved, broadcast) never name a host. */
	if ((a >> 24) == 0 || (a >> 24) == 127 || (a >> 24) >= 224)
		return error_set(err, -EINVAL,
				 "%s: ip '%s' cannot be an interface address (unspecified, loopback, multicast or broadcast)",
				 ctx, kv_echo(ip, echo));
	if (!mask) {
		strcpy(ret_mask, VMM_DEFAULT_NET_MASK);
		return 0;
	}
	r = parse_ipv4(ctx, "mask", mask, &netmask, ret_mask, err);
	if (r < 0)
		return r;
	m = ntohl(netmask.s_addr);
	/* Ones then zeros: ~m + 1 is a power of two. /0 would route everything via the tap. */
	if (m == 0 || ((~m + 1) & ~m) != 0)
		return error_set(err, -EINVAL,
				 "%s: invalid mask '%s' (expected a contiguous netmask like 255.255.255.0)",
				 ctx, kv_echo(mask, echo));
	return 0;
}

int vmm_check_fs(const struct vmm_config *cfg, enum vmm_config_source src, const char *ctx,
		 const struct vmm_fs_config *fs, struct error *err)
{
	char echo[KV_ECHO_MAX], shown[24];

	if (!fs->tag || fs->tag[0] == '\0')
		return error_set(err, -EINVAL, "%s: tag= is required and must not be empty", ctx);
	if (strlen(fs->tag) > VMM_FS_TAG_MAX)
		return error_set(err, -EINVAL, "%s: tag '%s' is too long (%zu bytes; at most %d)",
				 ctx, kv_echo(fs->tag, echo), strlen(fs->tag), VMM_FS_TAG_MAX);
	/* The guest mounts by tag: two with one tag could not both be mounted. */
	for (unsigned int i = 0; i < cfg->nr_fs; i++)
		if (strcmp(cfg->fs[i].tag, fs->tag) == 0)
			return error_set(err, -EINVAL, "%s: tag '%s' is already used by %s", ctx,
					 kv_echo(fs->tag, echo),
					 src == VMM_SOURCE_CLI ? "another --fs" : "an earlier fs");
	if (!fs->socket || fs->socket[0] == '\0')
		return error_set(err, -EINVAL, "%s: socket= is required and must not be empty", ctx);
	/* Debian's virtiofsd serves a single request queue (plus the hiprio one). */
	if (fs->num_queues != 1)
		return error_set(err, -ENOSYS,
				 "%s: num_queues=%u is not supported yet (virtiofsd serves one request queue)",
				 ctx, fs->num_queues);
	snprintf(shown, sizeof(shown), "%u", fs->queue_size);
	return vmm_check_queue_size(ctx, fs->queue_size, shown, err);
}

int vmm_check_vsock(const char *ctx, const struct vmm_vsock_config *vsock, struct error *err)
{
	if (vsock->cid < VMM_VSOCK_MIN_CID || vsock->cid > VMM_VSOCK_MAX_CID)
		return error_set(err, -EINVAL,
				 "%s: cid must be between %d and %" PRIu32
				 " (0-2 are reserved; got %" PRIu64 ")",
				 ctx, VMM_VSOCK_MIN_CID, VMM_VSOCK_MAX_CID, vsock->cid);
	if (!vsock->socket || vsock->socket[0] == '\0')
		return error_set(err, -EINVAL, "%s: socket= is required and must not be empty", ctx);
	return 0;
}

int vmm_check_serial_mode(const char *ctx, enum vmm_output_mode mode, struct error *err)
{
	if (mode == VMM_OUTPUT_PTY || mode == VMM_OUTPUT_SOCKET)
		return error_set(err, -ENOSYS, "%s: %s is not supported yet", ctx,
				 mode == VMM_OUTPUT_PTY ? "pty" : "socket");
	return 0;
}

int vmm_check_console_mode(const char *ctx, enum vmm_output_mode mode, struct error *err)
{
	if (mode == VMM_OUTPUT_SOCKET)
		return error_set(err, -ENOSYS, "%s: socket is not supported yet", ctx);
	return 0;
}

int vmm_check_config(const struct vmm_config *cfg, enum vmm_config_source src,
		     struct error *err)
{
	/* Both would read the same keystrokes; cloud-hypervisor refuses it too. */
	if (cfg->serial.mode == VMM_OUTPUT_TTY && cfg->console.mode == VMM_OUTPUT_TTY)
		return error_set(err, -EINVAL, "%s",
				 src == VMM_SOURCE_CLI ?
					 "--serial tty and --console tty cannot share the terminal; set one of them to another mode" :
					 "serial and console cannot both be in mode Tty; set one of them to another mode");
	/* A vhost-user back-end (virtiofsd) maps guest RAM: it must be a shared mapping. */
	if (cfg->nr_fs > 0 && !cfg->memory_shared)
		return error_set(err, -EINVAL, "%s",
				 src == VMM_SOURCE_CLI ?
					 "--fs needs --memory shared=on (virtiofsd maps guest RAM)" :
					 "fs needs memory.shared = true (virtiofsd maps guest RAM)");
	return 0;
}
