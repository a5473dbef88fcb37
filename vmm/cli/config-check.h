/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rules a struct vmm_config must follow, shared by its two sources: the
 * command line (cli.c, cli-devices.c) and the REST API's vm.create
 * (vmm/api/json-config.c). One set of checks means a VM the API accepts is one
 * the command line would have accepted, and the other way round.
 *
 * Every check takes `ctx`, the place the value came from as the user wrote
 * it ("--net", "net[1]"), which starts the message; values the user gave are
 * quoted back as `shown` (their spelling, not ours). Each returns 0, -EINVAL
 * for a value that can never work, or -ENOSYS for one nacelle does not
 * support yet.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/macros.h"
#include "vmm/config.h"

/* How device kinds are named in messages ("already used by a --disk"). */
enum vmm_config_source {
	VMM_SOURCE_CLI,
	VMM_SOURCE_JSON,
};

/* virtio_fs_config.tag is 36 bytes, with no terminator required. */
#define VMM_FS_TAG_MAX 36
/* vsock CIDs 0-2 are the hypervisor, local and host; U32_MAX is VMADDR_CID_ANY. */
#define VMM_VSOCK_MIN_CID 3
#define VMM_VSOCK_MAX_CID (UINT32_MAX - 1)

/* vCPU count, as `key` (boot, max, boot_vcpus...): 1..VMM_MAX_VCPUS. */
int vmm_check_vcpu_count(const char *ctx, const char *key, uint64_t n, const char *shown,
			 struct error *err) _wur_;
/* boot and max together: max >= boot, and no hotplug (max == boot). */
int vmm_check_vcpus(const char *ctx, uint32_t boot, uint32_t max, struct error *err) _wur_;
/* Guest RAM: VMM_MIN_MEMORY..VMM_MAX_MEMORY, a multiple of 4 KiB. */
int vmm_check_memory_size(const char *ctx, uint64_t size, const char *shown,
			  struct error *err) _wur_;
/* The kernel command line fits the boot protocol's buffer. */
int vmm_check_cmdline(const char *ctx, const char *cmdline, struct error *err) _wur_;

/* queue_size: a power of two, 2..VMM_MAX_QUEUE_SIZE. */
int vmm_check_queue_size(const char *ctx, uint64_t n, const char *shown, struct error *err) _wur_;
/* A disk's num_queues: 1..VMM_MAX_DISK_QUEUES. */
int vmm_check_disk_queues(const char *ctx, uint64_t n, const char *shown, struct error *err) _wur_;
/* A NIC's num_queues: rx/tx pairs, even, 2..VMM_MAX_NET_QUEUES. */
int vmm_check_net_queues(const char *ctx, uint64_t n, const char *shown, struct error *err) _wur_;
/* A virtio-blk serial: 1..VMM_DISK_SERIAL_MAX bytes. */
int vmm_check_disk_serial(const char *ctx, const char *serial, struct error *err) _wur_;

/*
 * A device id: not empty, not the VMM's reserved '_' prefix, and unique
 * among every device already in cfg.
 */
int vmm_check_id(const struct vmm_config *cfg, enum vmm_config_source src, const char *ctx,
		 const char *id, struct error *err) _wur_;

/* "52:54:00:12:34:56" into mac: unicast, not all zeros. */
int vmm_check_mac(const char *ctx, const char *s, uint8_t mac[static 6], struct error *err) _wur_;
/*
 * A tap name the kernel takes (or a "tap%d" template; NULL or "" lets the
 * kernel pick), not used by another NIC in cfg.
 */
int vmm_check_tap(const struct vmm_config *cfg, enum vmm_config_source src, const char *ctx,
		  const char *tap, struct error *err) _wur_;
/*
 * The tap's host address: ip (NULL: none) and mask (NULL: /24 when ip is
 * given; an error without ip). Writes canonical dotted quads into ret_ip and
 * ret_mask (both "" when there is no address).
 */
int vmm_check_net_ip(const char *ctx, const char *ip, const char *mask,
		     char ret_ip[static INET_ADDRSTRLEN], char ret_mask[static INET_ADDRSTRLEN],
		     struct error *err) _wur_;

/* virtio-fs: tag 1..VMM_FS_TAG_MAX bytes, unique in cfg; socket set; one request queue. */
int vmm_check_fs(const struct vmm_config *cfg, enum vmm_config_source src, const char *ctx,
		 const struct vmm_fs_config *fs, struct error *err) _wur_;
/* vsock: VMM_VSOCK_MIN_CID..VMM_VSOCK_MAX_CID and a socket path. */
int vmm_check_vsock(const char *ctx, const struct vmm_vsock_config *vsock, struct error *err) _wur_;

/* What nacelle's serial port (8250) and virtio console can do with output. */
int vmm_check_serial_mode(const char *ctx, enum vmm_output_mode mode, struct error *err) _wur_;
int vmm_check_console_mode(const char *ctx, enum vmm_output_mode mode, struct error *err) _wur_;

/* Checks across the whole config: two consoles on one tty. */
int vmm_check_config(const struct vmm_config *cfg, enum vmm_config_source src,
		     struct error *err) _wur_;
