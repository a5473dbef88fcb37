/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock internals shared by device.c (life cycle, worker callbacks),
 * muxer.c (the hybrid Unix-socket backend: listener, connection table and
 * per-connection state machine), tx.c (packets from the guest) and rx.c
 * (packets to the guest).
 *
 * Threads: everything below the "worker" marker belongs to the worker
 * thread (or to virtio_vsock_poll()'s caller in poll mode), or to
 * reset()/destroy() after the worker was joined. Counters are atomic.
 *
 * Connection state machine (vsock_conn_set_state() is the only writer):
 *
 *   HANDSHAKE ---- "CONNECT <port>\n" ---> GUEST_CONNECTING --- RESPONSE ---+
 *   (host client, reading its line)       (REQUEST queued/sent to guest)    |
 *                                                                           v
 *   guest REQUEST + connect("<path>_<P>") ok -------------------------> ESTABLISHED
 *
 *   any state --- fault, timeout, RST needed ---> CLOSING (host fd closed,
 *                                                 RST to the guest pending)
 *   any state --- nothing owed to the guest ----> CLOSED (freed at once)
 *   CLOSING   --- RST handed to the guest ------> CLOSED
 *
 * Half-closes are flags within ESTABLISHED (guest_shut, host_eof,
 * shut_wr_done), not states: data keeps flowing the other way.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "devices/virtio-vsock.h"
#include "devices/virtio.h"
#include "devices/virtqueue.h"

#define VSOCK_NR_QUEUES 3
#define VSOCK_QUEUE_RX 0
#define VSOCK_QUEUE_TX 1
#define VSOCK_QUEUE_EVENT 2
#define VSOCK_QUEUE_SIZE 256
#define VSOCK_CFG_SIZE 8 /* le64 guest_cid */

/* Limits -------------------------------------------------------------- */

/* Live connections of all states per device; beyond: RST / close the client. */
#define VSOCK_MAX_CONNECTIONS 1024
/* Our receive buffer per connection (the buf_alloc we advertise): the guest
 * may have this many bytes in flight towards a host socket. Allocated when
 * the first bytes must wait, so memory is bounded by
 * VSOCK_MAX_CONNECTIONS * VSOCK_CONN_BUF_SIZE. */
#define VSOCK_CONN_BUF_SIZE (256u * 1024)
/* Payload per packet we build; larger guest packets are malformed. */
#define VSOCK_MAX_PKT_PAYLOAD (64u * 1024)
/* Advertise fwd_cnt again once this much of the buffer was freed since the
 * guest last heard: "free space crossed half of buf_alloc". */
#define VSOCK_CREDIT_UPDATE_THRESHOLD (VSOCK_CONN_BUF_SIZE / 2)
/* "CONNECT 4294967295\n" is 19 bytes; the newline counts. */
#define VSOCK_CONNECT_LINE_MAX 32
/* Client's CONNECT line, and the guest's answer to our REQUEST. */
#define VSOCK_HANDSHAKE_TIMEOUT_MS 2000
/* A half-closed connection with no progress for this long is reset. */
#define VSOCK_HALF_CLOSE_TIMEOUT_MS 30000
/* Resets owed to the guest for packets without a connection; when full, the
 * tx queue is not processed until rx buffers drained some. */
#define VSOCK_ORPHAN_RST_MAX 256
/* Work per wake-up before the worker re-kicks itself (reset stays prompt). */
#define VSOCK_RX_BATCH 256
#define VSOCK_TX_BATCH 256
#define VSOCK_ACCEPT_BATCH 64
#define VSOCK_LISTEN_BACKLOG 128
/* Timer tick while a deadline or a paused listener exists. */
#define VSOCK_TIMER_TICK_MS 100
#define VSOCK_HASH_BUCKETS 2048 /* power of two */
/* Host ports we hand out for host-initiated connections: [2^30, 2^31). */
#define VSOCK_HOST_PORT_MIN (UINT32_C(1) << 30)
#define VSOCK_HOST_PORT_END (UINT32_C(1) << 31)

/* Wire format (virtio 1.2 5.10.6), little-endian --------------------- */

struct virtio_vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));
_Static_assert(sizeof(struct virtio_vsock_hdr) == 44, "virtio_vsock_hdr is 44 bytes");

#define VIRTIO_VSOCK_TYPE_STREAM 1
#define VIRTIO_VSOCK_TYPE_SEQPACKET 2

enum virtio_vsock_op {
	VIRTIO_VSOCK_OP_INVALID = 0,
	VIRTIO_VSOCK_OP_REQUEST = 1,
	VIRTIO_VSOCK_OP_RESPONSE = 2,
	VIRTIO_VSOCK_OP_RST = 3,
	VIRTIO_VSOCK_OP_SHUTDOWN = 4,
	VIRTIO_VSOCK_OP_RW = 5,
	VIRTIO_VSOCK_OP_CREDIT_UPDATE = 6,
	VIRTIO_VSOCK_OP_CREDIT_REQUEST = 7,
};

#define VIRTIO_VSOCK_SHUTDOWN_RCV 1
#define VIRTIO_VSOCK_SHUTDOWN_SEND 2
#define VIRTIO_VSOCK_SHUTDOWN_BOTH (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)

/* Connections --------------------------------------------------------- */

enum vsock_conn_state {
	VSOCK_CONN_NEW,		    /* being built by vsock_conn_new() */
	VSOCK_CONN_HANDSHAKE,	    /* host client connected; reading "CONNECT <port>\n" */
	VSOCK_CONN_GUEST_CONNECTING,/* REQUEST queued or sent; waiting for RESPONSE */
	VSOCK_CONN_ESTABLISHED,	    /* streaming (possibly half-closed) */
	VSOCK_CONN_CLOSING,	    /* host fd closed; RST to the guest pending */
	VSOCK_CONN_CLOSED,	    /* done; freed by vsock_conn_update() */
};

/* Control packets a connection owes the guest (bit set in conn->pending). */
#define VSOCK_PEND_REQUEST (1u << 0)
#define VSOCK_PEND_RESPONSE (1u << 1)
#define VSOCK_PEND_RST (1u << 2)
#define VSOCK_PEND_SHUTDOWN (1u << 3)
#define VSOCK_PEND_CREDIT_UPDATE (1u << 4)
#define VSOCK_PEND_CREDIT_REQUEST (1u << 5)

struct virtio_vsock;

struct vsock_conn {
	struct virtio_vsock *v;
	enum vsock_conn_state state;
	bool host_initiated;
	int fd;			/* host-side Unix socket; -1 once closed */
	uint32_t local_port;	/* host side (src_port of what we send) */
	uint32_t peer_port;	/* guest side */
	uint32_t pending;	/* VSOCK_PEND_* */
	uint32_t watched;	/* epoll mask registered with the worker (0: none) */
	bool hashed;
	bool hup;		/* peer hung up: not polled any more (it would spin) */
	uint64_t deadline_ms;	/* CLOCK_MONOTONIC; 0: none */
	struct vsock_conn *hash_next;
	struct vsock_conn *all_prev, *all_next;
	struct vsock_conn *rx_prev, *rx_next;
	bool in_rx_list;

	/* HANDSHAKE */
	char line[VSOCK_CONNECT_LINE_MAX];
	uint32_t line_len;

	/* guest -> host: ring of bytes received but not yet written */
	uint8_t *ring;		/* VSOCK_CONN_BUF_SIZE, allocated on first need */
	uint32_t ring_head;	/* offset of the oldest unwritten byte */
	uint32_t rx_cnt;	/* bytes received from the guest (free-running) */
	uint32_t fwd_cnt;	/* bytes written to the host socket (free-running) */
	uint32_t fwd_cnt_sent;	/* fwd_cnt last advertised to the guest */
	uint32_t guest_shut;	/* VIRTIO_VSOCK_SHUTDOWN_* received */
	bool shut_wr_done;	/* shutdown(SHUT_WR) done on the host socket */

	/* host -> guest */
	uint32_t tx_cnt;	/* bytes sent to the guest (free-running) */
	uint32_t peer_buf_alloc;
	uint32_t peer_fwd_cnt;
	bool credit_requested;	/* CREDIT_REQUEST sent, no new credit since */
	bool rx_data_ready;	/* the host socket may have data (or EOF) for us */
	bool host_eof;		/* read EOF; SHUTDOWN(SEND) queued or sent */
};

struct vsock_orphan {
	uint64_t src_cid;	/* the CID the guest addressed */
	uint32_t src_port;	/* the port the guest addressed */
	uint32_t dst_port;	/* the guest's port */
};

enum vsock_warn {
	VSOCK_WARN_SPOOF,
	VSOCK_WARN_MALFORMED,
	VSOCK_WARN_CREDIT,
	VSOCK_WARN_ACCEPT,
};

struct virtio_vsock {
	struct virtio_dev vdev;
	struct virtio_worker worker;
	bool worker_ready;
	bool poll_mode;
	char *name;
	char *socket_path;
	uint64_t guest_cid;
	int listen_fd;
	dev_t sock_dev;		/* the socket file we created (to unlink only ours) */
	ino_t sock_ino;
	int timer_fd;
	uint32_t warned;	/* enum vsock_warn bits, atomic */

	/* counters, atomic */
	uint64_t conns_active, conns_total, conns_refused, handshake_failures;
	uint64_t rx_bytes, rx_packets, tx_bytes, tx_packets, rst_sent, malformed;
	uint64_t credit_violations, timeouts;

	/* ---- worker ---- */
	struct vsock_conn *buckets[VSOCK_HASH_BUCKETS];
	struct vsock_conn *all;		/* every live connection */
	uint32_t nr_conns;
	uint32_t nr_deadlines;		/* connections with a deadline (timer needed) */
	struct vsock_conn *rx_head, *rx_tail; /* connections owing the guest a packet */
	struct vsock_orphan orphans[VSOCK_ORPHAN_RST_MAX];
	uint32_t orphan_head, orphan_len;
	uint32_t next_host_port;
	bool listener_watched;
	bool listener_paused;		/* out of fds: accept again on the next tick */
	bool timer_armed;
	bool rx_no_buffers;		/* the guest has no rx buffers: wait for its kick */
	bool tx_stalled;		/* orphan queue full: tx waits for rx progress */
	bool rx_held;
	struct virtq_chain rx_chain;
	struct virtq_chain tx_chain;
	struct iovec iov[VIRTQ_CHAIN_MAX_IOV];
};

static inline struct virtio_vsock *vsock_from_vdev(struct virtio_dev *vdev)
{
	return container_of(vdev, struct virtio_vsock, vdev);
}

#define VSOCK_COUNT(v, field, n) __atomic_fetch_add(&(v)->field, (uint64_t)(n), __ATOMIC_RELAXED)

/* device.c */
uint64_t vsock_now_ms(void);
void vsock_warn_once(struct virtio_vsock *v, enum vsock_warn kind, const char *fmt, ...)
	_printf_(3, 4);
void vsock_self_kick(struct virtio_vsock *v, uint16_t q);
/* After any event: send what is owed, resume tx, (dis)arm the timer. */
void vsock_after_event(struct virtio_vsock *v);

/* muxer.c */
const char *vsock_conn_state_to_string(enum vsock_conn_state s);
void vsock_conn_set_state(struct virtio_vsock *v, struct vsock_conn *c,
			  enum vsock_conn_state state, const char *why);
/* Close the host side; owe the guest an RST if it knows the connection and
 * `rst`, else free it. */
void vsock_conn_close(struct virtio_vsock *v, struct vsock_conn *c, bool rst, const char *why);
/* Bring the rx list, the epoll mask and the timer in line with c's state;
 * frees c if CLOSED (c must not be used afterwards). */
void vsock_conn_update(struct virtio_vsock *v, struct vsock_conn *c);
/* Bytes the guest still accepts on this connection. */
uint32_t vsock_conn_peer_credit(const struct vsock_conn *c);
void vsock_conn_set_deadline(struct virtio_vsock *v, struct vsock_conn *c, uint64_t ms);
void vsock_conn_event(void *opaque, uint32_t events);
void vsock_muxer_accept(struct virtio_vsock *v);
void vsock_muxer_guest_pkt(struct virtio_vsock *v, const struct virtio_vsock_hdr *h,
			   const struct virtq_chain *chain);
/* A malformed packet on a connection (if any): reset it so no stream is
 * silently corrupted. */
void vsock_muxer_malformed(struct virtio_vsock *v, const struct virtio_vsock_hdr *h);
void vsock_muxer_timeouts(struct virtio_vsock *v);
/* Close every connection without telling the guest; forget owed packets. */
void vsock_muxer_reset(struct virtio_vsock *v);
/* Owe the guest a reset for a packet without connection; -ENOBUFS if full. */
int vsock_orphan_rst(struct virtio_vsock *v, uint64_t src_cid, uint32_t src_port,
		     uint32_t dst_port) _wur_;
/* iov[] of at most `max` bytes of src from byte `skip` on; returns the count. */
unsigned int vsock_iov_slice(const struct iovec *src, unsigned int n, uint64_t skip,
			     uint64_t max, struct iovec *dst);

/* rx.c, tx.c */
void vsock_rx_process(struct virtio_vsock *v);
void vsock_tx_process(struct virtio_vsock *v);
/* A packet for the guest wants sending: rx work exists. */
static inline bool vsock_rx_has_work(const struct virtio_vsock *v)
{
	return v->orphan_len > 0 || v->rx_head != NULL;
}
