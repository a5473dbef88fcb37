/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transmit: guest -> tap (virtio 1.x 5.1.6.2).
 *
 * A tx chain's readable part is the 12-byte virtio-net header and the frame;
 * it goes to the tap as it is with one writev straight from guest memory
 * (the tap has IFF_VNET_HDR, so the host kernel validates and honours the
 * header's checksum/GSO metadata, and copies it exactly once). Every chain
 * comes back with used length 0.
 *
 * Decisions:
 *  - a writable descriptor in a tx chain is a protocol violation, handled
 *    like a readable one on rx: DEVICE_NEEDS_RESET;
 *  - a chain shorter than the header or longer than NET_MAX_PACKET is
 *    dropped and counted (logged once); the device keeps going;
 *  - a frame the tap refuses (bad GSO header, link down, ...) is dropped
 *    and counted, as a NIC would;
 *  - EAGAIN from the tap: the popped chain is kept, the queue stops, the
 *    tap fd is watched for EPOLLOUT and the chain is retried first.
 */
#include "net.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/log.h"

enum tx_result {
	TX_DONE,    /* sent or dropped, chain pushed */
	TX_BLOCKED, /* the tap is full: chain kept in p->tx_chain */
	TX_HALTED,  /* device needs reset */
};

static ssize_t tx_write(struct net_pair *p, const struct virtq_chain *c)
{
	ssize_t n;

	do {
		if (p->net->tap.test_backend) {
			/* a test peer may hang up: EPIPE, not a process-wide SIGPIPE */
			struct msghdr msg = {
				.msg_iov = (struct iovec *)c->iov,
				.msg_iovlen = c->nr_out,
			};

			n = sendmsg(p->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno == ENOTSOCK)
				n = writev(p->fd, c->iov, c->nr_out);
		} else {
			n = writev(p->fd, c->iov, c->nr_out);
		}
	} while (n < 0 && errno == EINTR);
	return n;
}

static enum tx_result tx_send(struct net_pair *p, struct virtqueue *vq, const struct virtq_chain *c)
{
	struct virtio_net *net = p->net;
	ssize_t n;

	if (c->nr_in > 0) {
		net_halt(net, "device-writable descriptor in a tx chain");
		return TX_HALTED;
	}
	if (c->out_len < NET_HDR_LEN) {
		net_warn_once(net, NET_WARN_TX_SHORT,
			      "tx chain of %llu bytes is shorter than the header; dropping",
			      (unsigned long long)c->out_len);
		net_count(&net->tx_dropped, 1);
	} else if (c->out_len > NET_MAX_PACKET) {
		net_warn_once(net, NET_WARN_TX_OVERSIZED,
			      "tx frame of %llu bytes is over the %u-byte maximum; dropping",
			      (unsigned long long)(c->out_len - NET_HDR_LEN), NET_MAX_FRAME);
		net_count(&net->tx_dropped, 1);
	} else if (p->backend_dead) {
		net_count(&net->tx_dropped, 1);
	} else {
		n = tx_write(p, c);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return TX_BLOCKED;
		if (n < 0) {
			net_warn_once(net, NET_WARN_TX_BACKEND,
				      "queue pair %u: the backend refused a frame (%s); dropping",
				      p->index, strerror(errno));
			net_count(&net->tx_dropped, 1);
		} else {
			/* a tap write is one whole frame or an error */
			net_count(&net->tx_packets, 1);
			net_count(&net->tx_bytes, c->out_len - NET_HDR_LEN);
		}
	}
	if (virtq_push(vq, c->head, 0) < 0) {
		net_halt(net, "tx used ring not writable");
		return TX_HALTED;
	}
	return TX_DONE;
}

void net_tx_process(struct net_pair *p)
{
	struct virtio_net *net = p->net;
	struct virtqueue *vq = &net->vdev.queues[p->tx_q];
	unsigned int budget = NET_QUEUE_BUDGET;
	bool pushed = false;

	/* an inactive pair's tx still drains: harmless, and never stuck */
	if (!net->running || net->halted || p->tx_blocked)
		return;

	for (;;) {
		int r = 0;

		virtq_disable_notify(vq);
		while (budget > 0 && (r = virtq_pop(vq, p->tx_chain)) == 1) {
			enum tx_result res = tx_send(p, vq, p->tx_chain);

			budget--;
			if (res == TX_HALTED)
				return;
			if (res == TX_BLOCKED) {
				p->tx_blocked = true;
				net_pair_update_events(p);
				goto out;
			}
			pushed = true;
		}
		if (budget == 0) {
			/* let the other queues run; a self-kick brings us back */
			net_self_kick(net, p->tx_q);
			break;
		}
		if (r < 0) {
			net_halt(net, "tx queue broken");
			return;
		}
		/* re-arm, then look again: chains may have raced in */
		if (!virtq_enable_notify(vq))
			break;
	}
out:
	if (pushed)
		net_notify(net, p->tx_q);
}

void net_tx_resume(struct net_pair *p)
{
	struct virtio_net *net = p->net;
	enum tx_result res;

	if (!p->tx_blocked || !net->running || net->halted)
		return;
	res = tx_send(p, &net->vdev.queues[p->tx_q], p->tx_chain);
	if (res != TX_DONE)
		return; /* still blocked (EPOLLOUT stays), or halted */
	p->tx_blocked = false;
	net_notify(net, p->tx_q);
	net_pair_update_events(p);
	net_tx_process(p);
}

void net_tx_kick(void *opaque, uint32_t events)
{
	struct net_pair *p = opaque;

	virtio_eventfd_drain(p->net->vdev.kick_fds[p->tx_q]);
	net_tx_process(p);
}
