/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rx queue (device to guest). One queue is shared by every connection,
 * so it is served round-robin: connections owing the guest a packet wait in
 * v->rx_head..rx_tail, each turn produces at most one packet and a
 * connection that still owes something goes back to the tail. Resets for
 * packets without a connection go first (they unblock the tx queue).
 *
 * Data is read from a host socket straight into the guest's buffer, at most
 * as much as the guest's credit for that connection allows, so a guest that
 * stops reading one stream stalls only that stream. Without rx buffers
 * nothing is read: sockets that became readable are remembered
 * (rx_data_ready) and not polled until the guest kicks the rx queue.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "vsock.h"

#define HDR_LEN ((uint32_t)sizeof(struct virtio_vsock_hdr))

static void hdr_fill(struct virtio_vsock *v, struct virtio_vsock_hdr *h, uint64_t src_cid,
		     uint32_t src_port, uint32_t dst_port, uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = htole64(src_cid);
	h->dst_cid = htole64(v->guest_cid);
	h->src_port = htole32(src_port);
	h->dst_port = htole32(dst_port);
	h->type = htole16(VIRTIO_VSOCK_TYPE_STREAM);
	h->op = htole16(op);
}

/* A connection's packet: our credit goes along with every one. */
static void conn_hdr(struct virtio_vsock *v, struct vsock_conn *c, struct virtio_vsock_hdr *h,
		     uint16_t op)
{
	hdr_fill(v, h, VIRTIO_VSOCK_HOST_CID, c->local_port, c->peer_port, op);
	h->buf_alloc = htole32(VSOCK_CONN_BUF_SIZE);
	h->fwd_cnt = htole32(c->fwd_cnt);
	c->fwd_cnt_sent = c->fwd_cnt;
	c->pending &= ~VSOCK_PEND_CREDIT_UPDATE;
}

/* Read the connection's next stream bytes into the chain; > 0 payload
 * bytes, 0 at EOF, -EAGAIN if nothing is there, other -errno. */
static ssize_t conn_read_data(struct virtio_vsock *v, struct vsock_conn *c,
			      const struct virtq_chain *ch)
{
	uint64_t room = ch->in_len - HDR_LEN;
	uint64_t max = MIN(MIN(room, (uint64_t)VSOCK_MAX_PKT_PAYLOAD),
			   (uint64_t)vsock_conn_peer_credit(c));
	struct msghdr msg = { .msg_iov = v->iov };
	ssize_t n;

	msg.msg_iovlen = vsock_iov_slice(ch->iov + ch->nr_out, ch->nr_in, HDR_LEN, max, v->iov);
	if (msg.msg_iovlen == 0)
		return -EAGAIN;
	do
		n = recvmsg(c->fd, &msg, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

/*
 * Build c's next packet into the held chain. Returns its length (header
 * included), or 0 if c owes nothing right now. Control packets first, data,
 * then our SHUTDOWN (which follows the last data byte).
 */
static uint32_t conn_build_pkt(struct virtio_vsock *v, struct vsock_conn *c,
			       const struct virtq_chain *ch)
{
	struct virtio_vsock_hdr h;
	ssize_t n;

	if (c->pending & VSOCK_PEND_RST) {
		conn_hdr(v, c, &h, VIRTIO_VSOCK_OP_RST);
		c->pending = 0;
		VSOCK_COUNT(v, rst_sent, 1);
		vsock_conn_set_state(v, c, VSOCK_CONN_CLOSED, "reset handed to the guest");
		goto out;
	}
	if (c->pending & VSOCK_PEND_REQUEST) {
		conn_hdr(v, c, &h, VIRTIO_VSOCK_OP_REQUEST);
		c->pending &= ~VSOCK_PEND_REQUEST;
		goto out;
	}
	if (c->pending & VSOCK_PEND_RESPONSE) {
		conn_hdr(v, c, &h, VIRTIO_VSOCK_OP_RESPONSE);
		c->pending &= ~VSOCK_PEND_RESPONSE;
		goto out;
	}
	if (c->pending & VSOCK_PEND_CREDIT_REQUEST) {
		conn_hdr(v, c, &h, VIRTIO_VSOCK_OP_CREDIT_REQUEST);
		c->pending &= ~VSOCK_PEND_CREDIT_REQUEST;
		goto out;
	}
	if (c->state == VSOCK_CONN_ESTABLISHED && c->rx_data_ready && c->fd >= 0 &&
	    !c->host_eof && !(c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV) &&
	    vsock_conn_peer_credit(c) > 0) {
		n = conn_read_data(v, c, ch);
		if (n > 0) {
			conn_hdr(v, c, &h, VIRTIO_VSOCK_OP_RW);
			h.len = htole32((uint32_t)n);
			c->tx_cnt += (uint32_t)n;
			VSOCK_COUNT(v, rx_bytes, n);
			if (c->deadline_ms)
				vsock_conn_set_deadline(v, c, vsock_now_ms() +
								      VSOCK_HALF_CLOSE_TIMEOUT_MS);
			virtq_chain_write(ch, 0, &h, HDR_LEN);
			return HDR_LEN + (uint32_t)n;
		}
		c->rx_data_ready = false;
		if (n == 0) {
			/* the host peer will send no more: so won't we */
			c->host_eof = true;
			c->pending |= VSOCK_PEND_SHUTDOWN;
		} else if (n != -EAGAIN) {
			vsock_conn_close(v, c, true, "host socket read failed");
			return conn_build_pkt(v, c, ch);
		}
	}
	if (c->pending & VSOCK_PEND_SHUTDOWN) {
		conn_hdr(v, c, &h, VIRTIO_VSOCK_OP_SHUTDOWN);
		h.flags = htole32(VIRTIO_VSOCK_SHUTDOWN_SEND);
		c->pending &= ~VSOCK_PEND_SHUTDOWN;
		goto out;
	}
	if (c->pending & VSOCK_PEND_CREDIT_UPDATE) {
		conn_hdr(v, c, &h, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
		goto out;
	}
	return 0;
out:
	virtq_chain_write(ch, 0, &h, HDR_LEN);
	return HDR_LEN;
}

void vsock_rx_process(struct virtio_vsock *v)
{
	struct virtio_dev *vdev = &v->vdev;
	struct virtqueue *vq = &vdev->queues[VSOCK_QUEUE_RX];
	unsigned int done = 0;
	bool more = false;
	int r;

	if (!vq->ready || vq->broken)
		return;
	while (vsock_rx_has_work(v)) {
		uint32_t len = 0;

		if (!v->rx_held) {
			if (done >= VSOCK_RX_BATCH) {
				more = true;
				break;
			}
			r = virtq_pop_armed(vq, &v->rx_chain);
			if (r < 0) {
				virtio_dev_set_needs_reset(vdev, "malformed rx chain");
				break;
			}
			if (r == 0) {
				v->rx_no_buffers = true;
				break;
			}
			if (v->rx_chain.in_len <= HDR_LEN) {
				/* no room for a byte of data: give it back empty (the driver drops it) */
				VSOCK_COUNT(v, malformed, 1);
				if (virtq_push(vq, v->rx_chain.head, 0) < 0) {
					virtio_dev_set_needs_reset(vdev, "rx used ring not writable");
					break;
				}
				done++;
				continue;
			}
			v->rx_held = true;
		}
		if (v->orphan_len > 0) {
			struct vsock_orphan *o = &v->orphans[v->orphan_head];
			struct virtio_vsock_hdr h;

			hdr_fill(v, &h, o->src_cid, o->src_port, o->dst_port, VIRTIO_VSOCK_OP_RST);
			virtq_chain_write(&v->rx_chain, 0, &h, HDR_LEN);
			v->orphan_head = (v->orphan_head + 1) % VSOCK_ORPHAN_RST_MAX;
			v->orphan_len--;
			VSOCK_COUNT(v, rst_sent, 1);
			len = HDR_LEN;
		} else {
			struct vsock_conn *c = v->rx_head;

			/* off the list for this turn; update() puts it back at the tail */
			c->in_rx_list = false;
			v->rx_head = c->rx_next;
			if (v->rx_head)
				v->rx_head->rx_prev = NULL;
			else
				v->rx_tail = NULL;
			c->rx_next = c->rx_prev = NULL;
			len = conn_build_pkt(v, c, &v->rx_chain);
			vsock_conn_update(v, c);
		}
		if (len == 0)
			continue; /* keep the chain for the next one */
		v->rx_held = false;
		done++;
		VSOCK_COUNT(v, rx_packets, 1);
		if (virtq_push(vq, v->rx_chain.head, len) < 0) {
			virtio_dev_set_needs_reset(vdev, "rx used ring not writable");
			break;
		}
	}
	if (done > 0)
		(void)virtio_dev_notify_queue(vdev, VSOCK_QUEUE_RX);
	if (more)
		vsock_self_kick(v, VSOCK_QUEUE_RX);
}
