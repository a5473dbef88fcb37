/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net internals shared by device.c (life cycle, features, config
 * space), rx.c (tap -> guest), tx.c (guest -> tap), ctrl.c (control queue)
 * and net-test.c. Constants are those of Linux's
 * include/uapi/linux/virtio_net.h and virtio 1.x section 5.1, spelled out
 * here because that header's struct virtio_net_config would clash with ours.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio-net.h"
#include "devices/virtio.h"
#include "devices/virtqueue.h"
#include "tap.h"

/* Feature bits (5.1.3) */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_CTRL_GUEST_OFFLOADS 2
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_GUEST_UFO 10
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_HOST_UFO 14
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17
#define VIRTIO_NET_F_CTRL_RX 18
#define VIRTIO_NET_F_CTRL_VLAN 19
#define VIRTIO_NET_F_GUEST_ANNOUNCE 21
#define VIRTIO_NET_F_MQ 22
#define VIRTIO_NET_F_CTRL_MAC_ADDR 23

/* Config space status (5.1.4) */
#define VIRTIO_NET_S_LINK_UP 1

/* Header flags and GSO types (5.1.6) */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0

/* Control queue (5.1.6.5) */
#define VIRTIO_NET_OK 0
#define VIRTIO_NET_ERR 1
#define VIRTIO_NET_CTRL_RX 0
#define VIRTIO_NET_CTRL_RX_PROMISC 0
#define VIRTIO_NET_CTRL_RX_NOBCAST 5
#define VIRTIO_NET_CTRL_MAC 1
#define VIRTIO_NET_CTRL_MAC_TABLE_SET 0
#define VIRTIO_NET_CTRL_MAC_ADDR_SET 1
#define VIRTIO_NET_CTRL_MQ 4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN 1

/*
 * With VERSION_1 the header is always struct virtio_net_hdr_v1 (12 bytes,
 * num_buffers included), with or without MRG_RXBUF (5.1.6).
 */
#define NET_HDR_LEN 12
#define NET_HDR_NUM_BUFFERS_OFF 10
/*
 * Largest frame either way: a 64 KiB GSO super-frame plus its 14-byte
 * Ethernet header (65550), the size Linux's "big packets" receive buffers
 * hold. With the header: 65562 bytes.
 */
#define NET_MAX_FRAME 65550
#define NET_MAX_PACKET (NET_HDR_LEN + NET_MAX_FRAME)
/* Chains handled per queue per wake-up before yielding to the other queues. */
#define NET_QUEUE_BUDGET 256
/* Control commands carry at most two MAC tables; more than this is refused. */
#define NET_CTRL_MAX_DATA 4096

/* Config space (5.1.4) as the driver reads it: little-endian. mtu is not
 * offered (F_MTU) and reads 0; it is there so 4-byte reads of the last
 * word work. */
struct virtio_net_config_space {
	uint8_t mac[VIRTIO_NET_MAC_LEN];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
} __attribute__((packed));

_Static_assert(sizeof(struct virtio_net_config_space) == 12, "virtio-net config space is 12 bytes");

/* Guest (and backend) misbehaviour kinds, each logged once per device. */
enum net_warn {
	NET_WARN_TX_SHORT,
	NET_WARN_TX_OVERSIZED,
	NET_WARN_TX_BACKEND,
	NET_WARN_RX_SMALL_BUFFER,
	NET_WARN_RX_NO_ROOM,
	NET_WARN_RX_BACKEND,
	NET_WARN_RX_RUNT,
	NET_WARN_CTRL,
	NET_WARN_CONFIG_WRITE,
	NET_WARN_EPOLL,
	_NET_WARN_MAX,
};

struct virtio_net;

/* A used element held back until a mergeable frame is complete. */
struct net_used {
	uint16_t head;
	uint32_t len;
};

/* One rx/tx queue pair and its tap queue. Worker thread only, except at
 * activate/reset (the worker is stopped then). */
struct net_pair {
	struct virtio_net *net;
	unsigned int index;
	uint16_t rx_q, tx_q; /* queue numbers: 2i, 2i+1 */
	int fd;		     /* this pair's tap queue (or test backend) */
	uint32_t fd_events;  /* what fd is registered for in the worker, 0 = not */
	bool usable;	     /* both queues enabled by the driver at DRIVER_OK */
	bool active;	     /* within the VQ_PAIRS_SET count (pair 0 always) */
	bool backend_dead;   /* EOF or a hard error on fd: stop watching it */

	/* rx: one frame read from the tap, not yet (fully) in guest buffers */
	uint8_t *rx_buf;      /* NET_MAX_PACKET bytes */
	size_t rx_len;	      /* 0: no frame pending */
	size_t rx_off;	      /* bytes of it already copied (mergeable) */
	bool rx_wait;	      /* the guest has no buffer: wait for its kick */
	struct net_used *rx_used; /* max_queue_size entries */
	uint16_t rx_nused;
	uint8_t *rx_nbufs[2]; /* host bytes of the first buffer's num_buffers */
	struct virtq_chain *rx_chain;

	/* tx: a popped chain the tap refused with EAGAIN, retried on EPOLLOUT */
	struct virtq_chain *tx_chain;
	bool tx_blocked;
};

struct virtio_net {
	struct virtio_dev vdev;
	char name[64];
	uint8_t mac[VIRTIO_NET_MAC_LEN];
	uint16_t nr_pairs;
	uint16_t ctrl_q; /* queue number of the control queue, if has_ctrl */
	bool has_ctrl;	 /* CTRL_VQ and MQ offered (more than one pair) */
	bool poll_mode;
	uint64_t features;
	struct net_tap tap;

	struct virtio_worker worker;
	bool worker_ready;
	bool running;		/* activated, fds registered */
	bool halted;		/* NEEDS_RESET set: nothing more until reset */
	bool mrg_rxbuf;		/* negotiated at activate */
	bool guest_csum;
	uint16_t active_pairs;
	bool kick_registered[VIRTIO_MAX_QUEUES];
	struct net_pair pairs[VIRTIO_NET_MAX_QUEUE_PAIRS];
	struct virtq_chain *ctrl_chain;

	uint32_t warned; /* 1 << enum net_warn */

	uint64_t rx_bytes, rx_packets, rx_dropped;
	uint64_t tx_bytes, tx_packets, tx_dropped;
};

static inline struct virtio_net *to_net(struct virtio_dev *vdev)
{
	return container_of(vdev, struct virtio_net, vdev);
}

static inline void net_count(uint64_t *counter, uint64_t v)
{
	__atomic_fetch_add(counter, v, __ATOMIC_RELAXED);
}

/* device.c */
void net_warn_once(struct virtio_net *net, enum net_warn kind, const char *fmt, ...)
	_printf_(3, 4);
/* Give up until reset: DEVICE_NEEDS_RESET, stop watching every fd. */
void net_halt(struct virtio_net *net, const char *why);
/* Register p->fd for what the pair currently waits for (EPOLLIN, EPOLLOUT). */
void net_pair_update_events(struct net_pair *p);
/* Interrupt the driver for queue q if it wants one. */
void net_notify(struct virtio_net *net, uint16_t q);
/* Make the worker run queue q again soon (budget spent, pair re-enabled). */
void net_self_kick(struct virtio_net *net, uint16_t q);
/* The backend hit EOF or a hard error: stop watching it, drop what it blocks. */
void net_pair_backend_dead(struct net_pair *p, const char *why);

/* rx.c */
void net_rx_process(struct net_pair *p);
void net_rx_kick(void *opaque, uint32_t events);
/* Forget a partly delivered frame (reset); counts it dropped. */
void net_rx_clear(struct net_pair *p);

/* tx.c */
void net_tx_process(struct net_pair *p);
void net_tx_kick(void *opaque, uint32_t events);
/* The tap fd became writable: retry the blocked chain, then the queue. */
void net_tx_resume(struct net_pair *p);

/* ctrl.c */
void net_ctrl_process(struct virtio_net *net);
void net_ctrl_kick(void *opaque, uint32_t events);
/* Make pairs [0, n) active and the rest inactive (tap queues attached/detached). */
int net_set_active_pairs(struct virtio_net *net, uint16_t n) _wur_;
