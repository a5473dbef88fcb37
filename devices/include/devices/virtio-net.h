/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net (virtio 1.x, section 5.1) backed by a Linux tap device.
 *
 * The device offers MAC, STATUS, the checksum and segmentation offloads in
 * both directions (CSUM, GUEST_CSUM, GUEST/HOST_TSO4/TSO6/ECN/UFO) and
 * MRG_RXBUF; with more than one queue pair also CTRL_VQ and MQ. The tap is
 * opened with IFF_VNET_HDR, so the 12-byte virtio-net header travels between
 * the guest and the host kernel unchanged and the host honours its offload
 * metadata. All queues run on one worker thread per device.
 *
 * Life cycle: virtio_net_create() opens and configures the tap; the transport
 * then drives the struct virtio_dev it returns (activate / reset);
 * vdev->ops->destroy(vdev) closes everything (a tap nacelle created
 * disappears with its last fd).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/guest-mem.h"
#include "common/macros.h"
#include "devices/virtio.h"

#define VIRTIO_NET_DEFAULT_QUEUE_SIZE 256 /* cloud-hypervisor's default */
#define VIRTIO_NET_MIN_QUEUE_SIZE 2
#define VIRTIO_NET_MAX_QUEUE_SIZE 32768 /* split-ring maximum */
#define VIRTIO_NET_MAX_QUEUE_PAIRS 8	/* as VMM_MAX_NET_QUEUES / 2 */
#define VIRTIO_NET_MAC_LEN 6

/*
 * Note: not Linux's uapi struct virtio_net_config (the config space layout);
 * nacelle never includes <linux/virtio_net.h>.
 */
struct virtio_net_config {
	/* Tap to create or attach to. NULL or "": the kernel picks "tap%d"; a
	 * name with "%d" is a template. The chosen name: virtio_net_tap_name(). */
	const char *tap;
	/* VIRTIO_NET_MAC_LEN bytes, unicast; NULL: random locally administered */
	const uint8_t *mac;
	/* Host-side IPv4 address of the tap and its netmask, dotted quad. NULL:
	 * no address (the tap is only brought up). host_mask needs host_ip;
	 * host_ip without host_mask means 255.255.255.0. */
	const char *host_ip;
	const char *host_mask;
	uint16_t num_queues; /* rx+tx queues, even, 2..2*VIRTIO_NET_MAX_QUEUE_PAIRS; 0 means 2 */
	uint16_t queue_size; /* power of two, 2..32768; 0 means the default (256) */
	const char *id;	     /* device name in logs and counters; NULL: "virtio-net" */

	/*
	 * Tests and fuzzers only. test_backend_fds: num_queues/2 fds used instead
	 * of a tap, one per queue pair (duplicated; the caller keeps its own).
	 * Each read or write on one is one frame including the 12-byte
	 * virtio-net header (a SOCK_SEQPACKET socketpair keeps the boundaries);
	 * no tap ioctl is made. test_poll_mode: activate starts no worker thread;
	 * the caller drives the device with virtio_net_poll().
	 */
	const int *test_backend_fds;
	bool test_poll_mode;
};

/* Cumulative, for vm.counters; read without stopping the device. */
struct virtio_net_counters {
	uint64_t rx_bytes;   /* frames delivered to the guest (without the header) */
	uint64_t rx_packets;
	uint64_t rx_dropped; /* host frames the guest's buffers could not take */
	uint64_t tx_bytes;   /* frames the guest sent to the tap (without the header) */
	uint64_t tx_packets;
	uint64_t tx_dropped; /* malformed, oversized or refused by the tap */
};

/*
 * Create or attach to the tap, configure it (host address, link up) and
 * build the device on guest memory `mem` (which must outlive it). On failure
 * err carries a message naming the device, e.g.
 * "--net tap=foo: cannot create tap device: Operation not permitted".
 */
int virtio_net_create(const struct virtio_net_config *cfg, const struct guest_mem *mem,
		      struct virtio_dev **ret_vdev, struct error *err) _wur_;

/* -EINVAL if vdev is not a virtio-net device. */
int virtio_net_get_counters(struct virtio_dev *vdev, struct virtio_net_counters *ret) _wur_;
/* The tap's interface name ("" with test backends); NULL if not virtio-net. */
const char *virtio_net_tap_name(struct virtio_dev *vdev);
/* The guest's MAC address (as the config space shows it). -EINVAL if not virtio-net. */
int virtio_net_get_mac(struct virtio_dev *vdev, uint8_t ret_mac[VIRTIO_NET_MAC_LEN]) _wur_;

/*
 * test_poll_mode only: run every queue and backend once, as if each had been
 * kicked or become readable/writable, on the caller's thread. Returns 0, or
 * -EINVAL if the device is not a poll-mode virtio-net device.
 */
int virtio_net_poll(struct virtio_dev *vdev) _wur_;
