/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tap backend of virtio-net: a Linux tap device opened through
 * /dev/net/tun with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (and IFF_MULTI_QUEUE
 * for more than one queue), one non-blocking, close-on-exec fd per queue.
 * Every read or write is one Ethernet frame preceded by the 12-byte
 * virtio-net header (TUNSETVNETHDRSZ).
 *
 * A test backend (net_tap_adopt) is a set of plain frame fds standing in for
 * the tap queues: the same reads and writes, and every tap ioctl a no-op.
 */
#pragma once

#include <net/if.h>
#include <stdbool.h>

#include "common/macros.h"

#define NET_TAP_MAX_QUEUES 8 /* VIRTIO_NET_MAX_QUEUE_PAIRS */
#define NET_TAP_VNET_HDR_LEN 12

struct net_tap {
	char ifname[IFNAMSIZ]; /* "" for a test backend */
	unsigned int nr_queues;
	int fds[NET_TAP_MAX_QUEUES];
	bool test_backend;
};

/* An empty tap (no fds), safe to pass to net_tap_close(). */
void net_tap_init(struct net_tap *tap);
/*
 * Create the tap `name` (NULL or "": the kernel picks "tap%d"; "%d" in a
 * name is a template) or attach to an existing one, with nr_queues queues.
 * tap->ifname gets the final name. Returns -errno; *ret_step names what
 * failed ("open /dev/net/tun", "create tap device", ...) for the message.
 */
int net_tap_open(struct net_tap *tap, const char *name, unsigned int nr_queues,
		 const char **ret_step) _wur_;
/* Use dups of fds[0 .. nr_queues) as the queues (tests, fuzzers). */
int net_tap_adopt(struct net_tap *tap, const int *fds, unsigned int nr_queues) _wur_;
/*
 * Host side: assign the IPv4 address/netmask (either may be NULL for none)
 * and set the link up. Returns -errno; *ret_step names what failed.
 */
int net_tap_configure_host(struct net_tap *tap, const char *ip, const char *mask,
			   const char **ret_step) _wur_;
/* TUNSETOFFLOAD with TUN_F_* flags: what the host may hand us. */
int net_tap_set_offload(struct net_tap *tap, unsigned int tun_flags) _wur_;
/* Attach (enable) or detach a queue of a multiqueue tap (TUNSETQUEUE). */
int net_tap_set_queue_enabled(struct net_tap *tap, unsigned int queue, bool enable) _wur_;
/* Close every fd; a non-persistent tap disappears with its last one. */
void net_tap_close(struct net_tap *tap);
