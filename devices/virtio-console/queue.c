/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-console queue handling, on the worker thread: transmitq chains go to
 * the output sink (holding a chain while the sink is full), input is read
 * straight into receiveq chains.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "console.h"

/* Output sink --------------------------------------------------------- */

void console_sink_fail_locked(struct virtio_console *c, int r)
{
	/* Once per device: the sink is never written again. */
	if (!c->sink_failed_logged) {
		c->sink_failed_logged = true;
		log_warn("%s: console output failed, discarding output from now on: %s",
			 c->vdev.name, strerror(-r));
	}
	c->sink = CONSOLE_SINK_DISCARD;
}

ssize_t console_sink_write_locked(struct virtio_console *c, const struct iovec *iov, int n)
{
	ssize_t w;

	for (;;) {
		if (c->sink == CONSOLE_SINK_DISCARD)
			return -EPIPE;
		if (c->sink == CONSOLE_SINK_NOWAIT) {
			w = pwritev2(c->out_fd, iov, n, -1, RWF_NOWAIT);
			if (w < 0 && (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)) {
				/* A tty, or an old kernel: nothing non-blocking left to try. */
				if (!c->nowait_fallback_logged) {
					c->nowait_fallback_logged = true;
					log_debug("%s: out_fd %d refuses RWF_NOWAIT; a stalled reader "
						  "can now stall the worker (pass an O_NONBLOCK fd)",
						  c->vdev.name, c->out_fd);
				}
				c->sink = CONSOLE_SINK_WRITE;
				continue;
			}
		} else {
			w = writev(c->out_fd, iov, n);
		}
		if (w >= 0)
			return w;
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			return -EAGAIN;
		return -errno;
	}
}

/* Transmit ------------------------------------------------------------ */

/* The readable bytes of the held chain from tx_off on, as iovecs. */
static int tx_remaining_iov(struct virtio_console *c)
{
	const struct virtq_chain *ch = &c->tx_chain;
	uint64_t skip = c->tx_off;
	int n = 0;

	for (unsigned int i = 0; i < ch->nr_out; i++) {
		const struct iovec *v = &ch->iov[i];

		if (skip >= v->iov_len) {
			skip -= v->iov_len;
			continue;
		}
		c->iov[n++] = (struct iovec){ .iov_base = (char *)v->iov_base + skip,
					      .iov_len = v->iov_len - skip };
		skip = 0;
	}
	return n;
}

/*
 * Write what is left of the held chain. Returns 1 when the chain is done
 * (all written, or discarded), 0 when the sink is full.
 */
static int tx_flush_chain(struct virtio_console *c)
{
	int r = 1;

	pthread_mutex_lock(&c->out_lock);
	while (c->tx_off < c->tx_chain.out_len) {
		uint64_t left = c->tx_chain.out_len - c->tx_off;
		int n;
		ssize_t w;

		if (c->sink == CONSOLE_SINK_DISCARD) {
			__atomic_fetch_add(&c->tx_discarded, left, __ATOMIC_RELAXED);
			c->tx_off = c->tx_chain.out_len;
			break;
		}
		n = tx_remaining_iov(c);
		w = console_sink_write_locked(c, c->iov, n);
		if (w == -EAGAIN) {
			r = 0;
			break;
		}
		if (w < 0) {
			console_sink_fail_locked(c, (int)w);
			continue; /* discards the rest */
		}
		if (w == 0) {
			/* No progress and no error: treat like a full sink, wait for EPOLLOUT. */
			r = 0;
			break;
		}
		__atomic_fetch_add(&c->tx_bytes, (uint64_t)w, __ATOMIC_RELAXED);
		c->tx_off += (uint64_t)w;
	}
	pthread_mutex_unlock(&c->out_lock);
	return r;
}

void console_tx_process(struct virtio_console *c)
{
	struct virtio_dev *vdev = &c->vdev;
	struct virtqueue *vq = &vdev->queues[VIRTIO_CONSOLE_QUEUE_TX];
	unsigned int done = 0;
	bool more = false;
	int r;

	if (!vq->ready || vq->broken || c->tx_blocked)
		return;
	virtq_disable_notify(vq);
	for (;;) {
		if (!c->tx_held) {
			if (done >= CONSOLE_BATCH) {
				more = true;
				break;
			}
			r = virtq_pop_armed(vq, &c->tx_chain);
			if (r < 0) {
				virtio_dev_set_needs_reset(vdev, "malformed transmitq chain");
				break;
			}
			if (r == 0)
				break;
			if (c->tx_chain.nr_in > 0) {
				/* 5.3.6.1: transmit buffers are device-readable only. */
				vq->broken = true;
				virtio_dev_set_needs_reset(vdev, "device-writable descriptor on transmitq");
				break;
			}
			c->tx_held = true;
			c->tx_off = 0;
		}
		if (!tx_flush_chain(c)) {
			/* Keep the chain; the guest's ring fills and it waits. */
			c->tx_blocked = true;
			console_update_watches(c);
			break;
		}
		c->tx_held = false;
		done++;
		if (virtq_push(vq, c->tx_chain.head, 0) < 0) {
			virtio_dev_set_needs_reset(vdev, "transmitq used ring not writable");
			break;
		}
	}
	if (done > 0)
		(void)virtio_dev_notify_queue(vdev, VIRTIO_CONSOLE_QUEUE_TX);
	if (more)
		(void)eventfd_write(vdev->kick_fds[VIRTIO_CONSOLE_QUEUE_TX], 1);
}

/* Receive ------------------------------------------------------------- */

/* Is a blocking in_fd readable right now? (a read must never block the worker) */
static bool input_ready(const struct virtio_console *c)
{
	struct pollfd p = { .fd = c->in_fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

static void rx_stop_input(struct virtio_console *c, const char *why)
{
	log_debug("%s: console input stops: %s", c->vdev.name, why);
	c->input = CONSOLE_INPUT_NONE;
	console_update_watches(c);
}

void console_rx_process(struct virtio_console *c, uint32_t events)
{
	struct virtio_dev *vdev = &c->vdev;
	struct virtqueue *vq = &vdev->queues[VIRTIO_CONSOLE_QUEUE_RX];
	unsigned int done = 0;
	bool more = false;
	int r;

	if (!vq->ready || vq->broken || c->input == CONSOLE_INPUT_NONE)
		return;
	for (;;) {
		ssize_t n;

		if (!c->rx_held) {
			if (done >= CONSOLE_BATCH) {
				more = true;
				break;
			}
			virtq_disable_notify(vq);
			r = virtq_pop_armed(vq, &c->rx_chain);
			if (r < 0) {
				virtio_dev_set_needs_reset(vdev, "malformed receiveq chain");
				break;
			}
			if (r == 0) {
				/* No buffers: stop polling in_fd until the guest kicks receiveq. */
				c->rx_want = false;
				console_update_watches(c);
				break;
			}
			if (c->rx_chain.nr_out > 0) {
				/* 5.3.6.1: receive buffers are device-writable only. */
				vq->broken = true;
				virtio_dev_set_needs_reset(vdev, "device-readable descriptor on receiveq");
				break;
			}
			c->rx_held = true;
		}
		if (c->rx_chain.in_len == 0) {
			n = 0; /* nothing fits: hand it back empty */
		} else {
			/* A blocking fd we don't own may only be read when it has data. */
			if (c->input == CONSOLE_INPUT_POLL && c->in_blocking &&
			    (done > 0 || !(events & EPOLLIN)) && !input_ready(c))
				break;
			do
				n = readv(c->in_fd, &c->rx_chain.iov[c->rx_chain.nr_out],
					  c->rx_chain.nr_in);
			while (n < 0 && errno == EINTR);
			if (n == 0) {
				/* EOF: the held chain stays unused until reset. */
				rx_stop_input(c, "end of file");
				break;
			}
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					if (c->input == CONSOLE_INPUT_DIRECT || (events & (EPOLLHUP | EPOLLERR)))
						console_start_backoff(c);
					break;
				}
				/* EIO from a pty master nobody has opened: retry later. */
				log_debug("%s: console input read failed: %s", vdev->name,
					  strerror(errno));
				console_start_backoff(c);
				break;
			}
		}
		c->rx_held = false;
		done++;
		__atomic_fetch_add(&c->rx_bytes, (uint64_t)n, __ATOMIC_RELAXED);
		if (virtq_push(vq, c->rx_chain.head, (uint32_t)n) < 0) {
			virtio_dev_set_needs_reset(vdev, "receiveq used ring not writable");
			break;
		}
	}
	if (done > 0)
		(void)virtio_dev_notify_queue(vdev, VIRTIO_CONSOLE_QUEUE_RX);
	if (more)
		(void)eventfd_write(vdev->kick_fds[VIRTIO_CONSOLE_QUEUE_RX], 1);
}
