/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Receive: tap -> guest (virtio 1.x 5.1.6.3, 5.1.6.4).
 *
 * One frame at a time is read from the tap into the pair's bounce buffer
 * (header included), then copied into guest buffers:
 *  - with MRG_RXBUF over as many chains as it needs, num_buffers set in the
 *    first one's header; the used elements are held back and pushed together
 *    once the frame is complete, because the driver reads num_buffers from
 *    the first and expects the others to be in the used ring already;
 *  - without it, into one chain that must hold the whole frame (Linux's
 *    "big packets" mode gives 65562-byte chains when GUEST_TSO is on).
 *
 * When the guest has no (more) buffer, the frame stays in the bounce buffer,
 * the tap leaves the epoll set (further frames wait in the kernel's queue)
 * and the rx kick brings both back: nothing is dropped while buffers will
 * come. Frames are dropped (and counted) only when they cannot fit: a
 * non-mergeable chain shorter than the frame, or a whole ring of mergeable
 * buffers that does not hold it.
 *
 * Guest errors: a device-readable descriptor in an rx chain is a protocol
 * violation (DEVICE_NEEDS_RESET); a chain too short for the header is
 * returned with used length 0 (Linux drops such a used buffer as a short
 * packet and refills) and logged once.
 */
#include "net.h"

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

enum rx_result {
	RX_DONE,      /* frame delivered or dropped: the bounce buffer is free */
	RX_NO_BUFFER, /* the guest has to add buffers first */
	RX_YIELD,     /* budget spent; come back */
	RX_HALTED,    /* device needs reset */
};

void net_rx_clear(struct net_pair *p)
{
	if (p->rx_len)
		net_count(&p->net->rx_dropped, 1);
	p->rx_len = 0;
	p->rx_off = 0;
	p->rx_nused = 0;
	p->rx_nbufs[0] = p->rx_nbufs[1] = NULL;
}

/* Host address of byte `off` of a chain's writable part (NULL past its end). */
static uint8_t *chain_in_byte(const struct virtq_chain *c, uint64_t off)
{
	for (unsigned int i = c->nr_out; i < (unsigned int)c->nr_out + c->nr_in; i++) {
		if (off < c->iov[i].iov_len)
			return (uint8_t *)c->iov[i].iov_base + off;
		off -= c->iov[i].iov_len;
	}
	return NULL;
}

static bool rx_push(struct net_pair *p, struct virtqueue *vq, uint16_t head, uint32_t len)
{
	if (virtq_push(vq, head, len) < 0) {
		net_halt(p->net, "rx used ring not writable");
		return false;
	}
	return true;
}

/*
 * Pop the next rx chain into p->rx_chain: 1, 0 if none, 2 if the budget is
 * spent (nothing popped), -1 if the device halted. Each pop costs one unit of *budget: a guest refilling the ring as
 * fast as we empty it must not keep the worker here.
 */
static int rx_pop(struct net_pair *p, struct virtqueue *vq, unsigned int *budget)
{
	int r;

	if (*budget == 0)
		return 2;
	(*budget)--;
	r = virtq_pop(vq, p->rx_chain);
	if (r < 0) {
		net_halt(p->net, "rx queue broken");
		return -1;
	}
	if (r == 0)
		return 0;
	if (p->rx_chain->nr_out > 0) {
		/* the device would read guest data it has no business with */
		net_halt(p->net, "device-readable descriptor in an rx chain");
		return -1;
	}
	return 1;
}

static void rx_count_delivered(struct net_pair *p)
{
	net_count(&p->net->rx_packets, 1);
	net_count(&p->net->rx_bytes, p->rx_len - NET_HDR_LEN);
}

static void rx_reset_frame(struct net_pair *p)
{
	p->rx_len = p->rx_off = 0;
	p->rx_nused = 0;
	p->rx_nbufs[0] = p->rx_nbufs[1] = NULL;
}

/* Without MRG_RXBUF: one chain per frame. */
static enum rx_result rx_deliver_single(struct net_pair *p, struct virtqueue *vq,
					unsigned int *budget, bool *pushed)
{
	struct virtq_chain *c = p->rx_chain;
	int r = rx_pop(p, vq, budget);

	if (r < 0)
		return RX_HALTED;
	if (r == 0)
		return RX_NO_BUFFER;
	if (r == 2)
		return RX_YIELD;
	*pushed = true;
	if (c->in_len < p->rx_len) {
		net_warn_once(p->net, NET_WARN_RX_SMALL_BUFFER,
			      "rx buffer of %llu bytes cannot hold a %zu-byte frame; dropping frames",
			      (unsigned long long)c->in_len, p->rx_len);
		net_count(&p->net->rx_dropped, 1);
		rx_reset_frame(p);
		return rx_push(p, vq, c->head, 0) ? RX_DONE : RX_HALTED;
	}
	/* num_buffers is 1 without MRG_RXBUF (5.1.6.4.1) */
	p->rx_buf[NET_HDR_NUM_BUFFERS_OFF] = 1;
	p->rx_buf[NET_HDR_NUM_BUFFERS_OFF + 1] = 0;
	(void)virtq_chain_write(c, 0, p->rx_buf, p->rx_len);
	if (!rx_push(p, vq, c->head, (uint32_t)p->rx_len))
		return RX_HALTED;
	rx_count_delivered(p);
	rx_reset_frame(p);
	return RX_DONE;
}

/* The frame's held chains go back empty: it could not be delivered. */
static bool rx_return_held(struct net_pair *p, struct virtqueue *vq)
{
	for (unsigned int i = 0; i < p->rx_nused; i++)
		if (!rx_push(p, vq, p->rx_used[i].head, 0))
			return false;
	return true;
}

/* With MRG_RXBUF: continue the frame at rx_off over as many chains as needed. */
static enum rx_result rx_deliver_mergeable(struct net_pair *p, struct virtqueue *vq,
					   unsigned int *budget, bool *pushed)
{
	struct virtq_chain *c = p->rx_chain;

	while (p->rx_off < p->rx_len) {
		uint64_t need = p->rx_nused == 0 ? NET_HDR_LEN : 1;
		size_t n;
		int r = rx_pop(p, vq, budget);

		if (r < 0)
			return RX_HALTED;
		if (r == 0)
			return RX_NO_BUFFER; /* keep what we have; the kick resumes here */
		if (r == 2)
			return RX_YIELD;

		if (c->in_len < need) {
			/* 5.1.6.3.1: each buffer holds at least the header */
			net_warn_once(p->net, NET_WARN_RX_SMALL_BUFFER,
				      "mergeable rx buffer of %llu bytes is shorter than the header",
				      (unsigned long long)c->in_len);
			*pushed = true;
			if (!rx_push(p, vq, c->head, 0))
				return RX_HALTED;
			continue;
		}
		n = (size_t)MIN(c->in_len, (uint64_t)(p->rx_len - p->rx_off));
		(void)virtq_chain_write(c, 0, p->rx_buf + p->rx_off, n);
		if (p->rx_nused == 0) {
			/* in_len >= NET_HDR_LEN, so both bytes exist */
			p->rx_nbufs[0] = chain_in_byte(c, NET_HDR_NUM_BUFFERS_OFF);
			p->rx_nbufs[1] = chain_in_byte(c, NET_HDR_NUM_BUFFERS_OFF + 1);
		}
		p->rx_used[p->rx_nused++] = (struct net_used){ .head = c->head, .len = (uint32_t)n };
		p->rx_off += n;

		if (p->rx_off < p->rx_len && p->rx_nused >= vq->size) {
			/* the guest lent us its whole ring and it does not hold the
			 * frame: waiting would wait forever */
			net_warn_once(p->net, NET_WARN_RX_NO_ROOM,
				      "a %zu-byte frame does not fit in the whole rx ring; dropping it",
				      p->rx_len);
			net_count(&p->net->rx_dropped, 1);
			*pushed = true;
			if (!rx_return_held(p, vq))
				return RX_HALTED;
			rx_reset_frame(p);
			return RX_DONE;
		}
	}

	/* All of it is in guest memory: publish num_buffers, then the chains. */
	if (p->rx_nbufs[0] && p->rx_nbufs[1]) {
		*p->rx_nbufs[0] = (uint8_t)(p->rx_nused & 0xff);
		*p->rx_nbufs[1] = (uint8_t)(p->rx_nused >> 8);
	}
	*pushed = true;
	for (unsigned int i = 0; i < p->rx_nused; i++)
		if (!rx_push(p, vq, p->rx_used[i].head, p->rx_used[i].len))
			return RX_HALTED;
	rx_count_delivered(p);
	rx_reset_frame(p);
	return RX_DONE;
}

/* A 0-byte read is EOF only if the peer is gone (else an empty datagram). */
static bool rx_hung_up(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP);
}

/*
 * Read one frame into the bounce buffer: 1 read, 0 nothing to read, 2 a
 * runt dropped (call again), -1 the backend is gone.
 */
static int rx_read(struct net_pair *p)
{
	struct virtio_net *net = p->net;
	ssize_t n;

	n = read(p->fd, p->rx_buf, NET_MAX_PACKET);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		net_pair_backend_dead(p, strerror(errno));
		return -1;
	}
	if (n == 0 && rx_hung_up(p->fd)) {
		net_pair_backend_dead(p, "backend closed");
		return -1;
	}
	if (n < NET_HDR_LEN) {
		/* a tap with IFF_VNET_HDR never does this; a test backend might,
		 * and 0 bytes without a hangup is an empty datagram */
		net_warn_once(net, NET_WARN_RX_RUNT, "backend frame of %zd bytes has no header",
			      n);
		net_count(&net->rx_dropped, 1);
		return 2;
	}
	p->rx_len = (size_t)n;
	p->rx_off = 0;
	p->rx_nused = 0;
	/* 5.1.6.4.1: no checksum flags for a driver that did not ask for them */
	if (!net->guest_csum)
		p->rx_buf[0] = 0;
	return 1;
}

void net_rx_process(struct net_pair *p)
{
	struct virtio_net *net = p->net;
	struct virtqueue *vq = &net->vdev.queues[p->rx_q];
	unsigned int budget = NET_QUEUE_BUDGET;
	bool pushed = false;
	enum rx_result res = RX_DONE;

	if (!net->running || net->halted || !p->usable || !p->active || p->backend_dead)
		return;
	/* tap-driven from here; kicks are only wanted once the ring runs dry */
	virtq_disable_notify(vq);

	while (budget > 0) {
		if (p->rx_len == 0) {
			int r = rx_read(p);

			if (r == 2) {
				budget--;
				continue;
			}
			if (r <= 0)
				break;
		}
		res = net->mrg_rxbuf ? rx_deliver_mergeable(p, vq, &budget, &pushed)
				     : rx_deliver_single(p, vq, &budget, &pushed);
		if (res == RX_HALTED)
			return;
		if (res == RX_YIELD)
			break;
		if (res == RX_NO_BUFFER) {
			/* re-arm, then look again: buffers may have raced in */
			if (virtq_enable_notify(vq))
				continue;
			p->rx_wait = true;
			break;
		}
	}
	if (budget == 0 || res == RX_YIELD) {
		/* a frame may still sit in the bounce buffer with the tap itself
		 * empty: a self-kick makes sure we come back */
		net_self_kick(net, p->rx_q);
	}
	if (pushed)
		net_notify(net, p->rx_q);
	net_pair_update_events(p);
}

void net_rx_kick(void *opaque, uint32_t events)
{
	struct net_pair *p = opaque;

	virtio_eventfd_drain(p->net->vdev.kick_fds[p->rx_q]);
	/* new buffers (or a self-kick): resume the pending frame and the tap */
	p->rx_wait = false;
	net_rx_process(p);
}
