/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hybrid Unix-socket backend: the listener, the connection table and
 * each connection's state machine (see vsock.h), the host sockets' I/O in
 * the guest-to-host direction, and the dispatch of guest packets.
 *
 * Flow control, guest to host: we advertise buf_alloc = VSOCK_CONN_BUF_SIZE
 * and fwd_cnt = bytes written to the host socket. The credit protocol bars
 * the guest from having more than buf_alloc bytes unwritten, so every RW
 * packet fits the connection's ring and the tx queue never waits for a host
 * socket: a guest exceeding its credit broke the protocol and loses the
 * connection. Host to guest: rx.c reads a socket only as far as the guest's
 * credit allows, so a guest that stops reading stalls only its connection.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "vsock.h"

static const char *const state_names[] = {
	[VSOCK_CONN_NEW] = "new",
	[VSOCK_CONN_HANDSHAKE] = "handshake",
	[VSOCK_CONN_GUEST_CONNECTING] = "guest-connecting",
	[VSOCK_CONN_ESTABLISHED] = "established",
	[VSOCK_CONN_CLOSING] = "closing",
	[VSOCK_CONN_CLOSED] = "closed",
};

const char *vsock_conn_state_to_string(enum vsock_conn_state s)
{
	return (unsigned int)s < ARRAY_SIZE(state_names) ? state_names[s] : "?";
}

unsigned int vsock_iov_slice(const struct iovec *src, unsigned int n, uint64_t skip, uint64_t max,
			     struct iovec *dst)
{
	unsigned int out = 0;

	for (unsigned int i = 0; i < n && max > 0; i++) {
		uint64_t len = src[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		len = MIN(len - skip, max);
		dst[out++] = (struct iovec){ .iov_base = (uint8_t *)src[i].iov_base + skip,
					     .iov_len = len };
		max -= len;
		skip = 0;
	}
	return out;
}

/* Table ---------------------------------------------------------------- */

static unsigned int hash_key(uint32_t local, uint32_t peer)
{
	uint64_t k = ((uint64_t)local << 32 | peer) * UINT64_C(0x9e3779b97f4a7c15);

	return (unsigned int)(k >> 32) & (VSOCK_HASH_BUCKETS - 1);
}

static struct vsock_conn *conn_lookup(struct virtio_vsock *v, uint32_t local, uint32_t peer)
{
	for (struct vsock_conn *c = v->buckets[hash_key(local, peer)]; c; c = c->hash_next)
		if (c->local_port == local && c->peer_port == peer)
			return c;
	return NULL;
}

static void conn_hash(struct virtio_vsock *v, struct vsock_conn *c)
{
	unsigned int b = hash_key(c->local_port, c->peer_port);

	c->hash_next = v->buckets[b];
	v->buckets[b] = c;
	c->hashed = true;
}

static void conn_unhash(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (!c->hashed)
		return;
	for (struct vsock_conn **p = &v->buckets[hash_key(c->local_port, c->peer_port)]; *p;
	     p = &(*p)->hash_next) {
		if (*p == c) {
			*p = c->hash_next;
			break;
		}
	}
	c->hashed = false;
}

static bool local_port_in_use(struct virtio_vsock *v, uint32_t port)
{
	for (struct vsock_conn *c = v->all; c; c = c->all_next)
		if (c->hashed && c->local_port == port)
			return true;
	return false;
}

/* Round robin in [2^30, 2^31), skipping ports in use; 0 if none is free. */
static uint32_t alloc_host_port(struct virtio_vsock *v)
{
	for (unsigned int i = 0; i <= VSOCK_MAX_CONNECTIONS; i++) {
		uint32_t p = v->next_host_port;

		if (p < VSOCK_HOST_PORT_MIN || p >= VSOCK_HOST_PORT_END)
			p = VSOCK_HOST_PORT_MIN;
		v->next_host_port = p + 1;
		if (!local_port_in_use(v, p))
			return p;
	}
	return 0;
}

static void rx_list_del(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (!c->in_rx_list)
		return;
	if (c->rx_prev)
		c->rx_prev->rx_next = c->rx_next;
	else
		v->rx_head = c->rx_next;
	if (c->rx_next)
		c->rx_next->rx_prev = c->rx_prev;
	else
		v->rx_tail = c->rx_prev;
	c->rx_prev = c->rx_next = NULL;
	c->in_rx_list = false;
}

static void rx_list_add_tail(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->in_rx_list)
		return;
	c->rx_next = NULL;
	c->rx_prev = v->rx_tail;
	if (v->rx_tail)
		v->rx_tail->rx_next = c;
	else
		v->rx_head = c;
	v->rx_tail = c;
	c->in_rx_list = true;
}

void vsock_conn_set_deadline(struct virtio_vsock *v, struct vsock_conn *c, uint64_t ms)
{
	if (!c->deadline_ms && ms)
		v->nr_deadlines++;
	else if (c->deadline_ms && !ms)
		v->nr_deadlines--;
	c->deadline_ms = ms;
}

static void conn_unwatch(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->watched && c->fd >= 0) {
		int r = virtio_worker_del(&v->worker, c->fd);

		if (r < 0)
			log_debug_errno(r, "%s: fd %d was not watched", v->name, c->fd);
	}
	c->watched = 0;
}

static void conn_free(struct virtio_vsock *v, struct vsock_conn *c)
{
	conn_unwatch(v, c);
	if (c->fd >= 0)
		close(c->fd);
	conn_unhash(v, c);
	rx_list_del(v, c);
	vsock_conn_set_deadline(v, c, 0);
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else
		v->all = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	v->nr_conns--;
	__atomic_fetch_sub(&v->conns_active, 1, __ATOMIC_RELAXED);
	free(c->ring);
	free(c);
}

/* State machine -------------------------------------------------------- */

void vsock_conn_set_state(struct virtio_vsock *v, struct vsock_conn *c,
			  enum vsock_conn_state state, const char *why)
{
	log_debug("%s: conn %" PRIu32 "<->%" PRIu32 " (fd %d): %s -> %s: %s", v->name,
		  c->local_port, c->peer_port, c->fd, vsock_conn_state_to_string(c->state),
		  vsock_conn_state_to_string(state), why);
	c->state = state;
	switch (state) {
	case VSOCK_CONN_HANDSHAKE:
	case VSOCK_CONN_GUEST_CONNECTING:
		vsock_conn_set_deadline(v, c, vsock_now_ms() + VSOCK_HANDSHAKE_TIMEOUT_MS);
		break;
	case VSOCK_CONN_ESTABLISHED:
	case VSOCK_CONN_CLOSING:
	case VSOCK_CONN_CLOSED:
		/* CLOSING waits for rx buffers only: the guest decides how long */
		vsock_conn_set_deadline(v, c, 0);
		break;
	case VSOCK_CONN_NEW:
		break;
	}
}

static struct vsock_conn *conn_new(struct virtio_vsock *v, int fd, bool host_initiated)
{
	struct vsock_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->v = v;
	c->fd = fd;
	c->host_initiated = host_initiated;
	c->state = VSOCK_CONN_NEW;
	c->all_next = v->all;
	if (v->all)
		v->all->all_prev = c;
	v->all = c;
	v->nr_conns++;
	VSOCK_COUNT(v, conns_active, 1);
	VSOCK_COUNT(v, conns_total, 1);
	return c;
}

void vsock_conn_close(struct virtio_vsock *v, struct vsock_conn *c, bool rst, const char *why)
{
	conn_unwatch(v, c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->rx_data_ready = false;
	/* the guest never heard of a connection whose REQUEST is still queued */
	if (c->state == VSOCK_CONN_HANDSHAKE || c->state == VSOCK_CONN_NEW ||
	    (c->state == VSOCK_CONN_GUEST_CONNECTING && (c->pending & VSOCK_PEND_REQUEST)))
		rst = false;
	if (rst && c->state != VSOCK_CONN_CLOSED) {
		c->pending = VSOCK_PEND_RST;
		vsock_conn_set_state(v, c, VSOCK_CONN_CLOSING, why);
	} else {
		c->pending = 0;
		vsock_conn_set_state(v, c, VSOCK_CONN_CLOSED, why);
	}
}

uint32_t vsock_conn_peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;

	/* a hostile fwd_cnt may claim more was consumed than we ever sent */
	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static bool conn_may_read(const struct vsock_conn *c)
{
	return c->state == VSOCK_CONN_ESTABLISHED && c->fd >= 0 && !c->host_eof &&
	       !(c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV);
}

static uint32_t ring_len(const struct vsock_conn *c)
{
	return c->rx_cnt - c->fwd_cnt;
}

void vsock_conn_update(struct virtio_vsock *v, struct vsock_conn *c)
{
	uint32_t want = 0;
	bool rx_work;

	if (c->state == VSOCK_CONN_CLOSED) {
		conn_free(v, c);
		return;
	}
	if (conn_may_read(c) && c->rx_data_ready && vsock_conn_peer_credit(c) == 0 &&
	    !c->credit_requested) {
		/* The guest's buffer is full: ask, in case an update got lost. */
		c->pending |= VSOCK_PEND_CREDIT_REQUEST;
		c->credit_requested = true;
	}
	if (c->state == VSOCK_CONN_ESTABLISHED && (c->guest_shut || c->host_eof) &&
	    !c->deadline_ms)
		vsock_conn_set_deadline(v, c, vsock_now_ms() + VSOCK_HALF_CLOSE_TIMEOUT_MS);

	rx_work = c->pending != 0 ||
		  (conn_may_read(c) && c->rx_data_ready && vsock_conn_peer_credit(c) > 0);
	if (rx_work)
		rx_list_add_tail(v, c);
	else
		rx_list_del(v, c);

	if (c->fd >= 0 && !c->hup) {
		if (c->state == VSOCK_CONN_HANDSHAKE)
			want = EPOLLIN;
		else if (c->state == VSOCK_CONN_ESTABLISHED) {
			if (conn_may_read(c) && !c->rx_data_ready && vsock_conn_peer_credit(c) > 0)
				want = EPOLLIN;
			if (ring_len(c) > 0)
				want |= EPOLLOUT;
		}
	}
	if (want == c->watched)
		return;
	if (want == 0) {
		conn_unwatch(v, c);
	} else {
		int r = c->watched ? virtio_worker_mod(&v->worker, c->fd, want, vsock_conn_event, c)
				   : virtio_worker_add(&v->worker, c->fd, want, vsock_conn_event, c);

		if (r < 0) {
			log_debug_errno(r, "%s: cannot watch fd %d", v->name, c->fd);
			vsock_conn_close(v, c, true, "cannot watch the host socket");
			vsock_conn_update(v, c);
			return;
		}
		c->watched = want;
	}
}

/* Orphan resets -------------------------------------------------------- */

int vsock_orphan_rst(struct virtio_vsock *v, uint64_t src_cid, uint32_t src_port,
		     uint32_t dst_port)
{
	if (v->orphan_len >= VSOCK_ORPHAN_RST_MAX)
		return -ENOBUFS;
	v->orphans[(v->orphan_head + v->orphan_len) % VSOCK_ORPHAN_RST_MAX] =
		(struct vsock_orphan){ .src_cid = src_cid, .src_port = src_port,
				       .dst_port = dst_port };
	v->orphan_len++;
	return 0;
}

/* tx.c checks there is room before taking a packet; count it if not. */
static void orphan_rst(struct virtio_vsock *v, const struct virtio_vsock_hdr *h)
{
	if (vsock_orphan_rst(v, h->dst_cid, h->dst_port, h->src_port) < 0)
		log_debug("%s: reset queue full; dropping a reset for port %" PRIu32, v->name,
			  h->src_port);
}

/* Host socket, guest-to-host direction --------------------------------- */

static int conn_ring_alloc(struct vsock_conn *c)
{
	if (!c->ring) {
		c->ring = malloc(VSOCK_CONN_BUF_SIZE);
		if (!c->ring)
			return -ENOMEM;
		c->ring_head = 0;
	}
	return 0;
}

static void conn_progress(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->deadline_ms && c->state == VSOCK_CONN_ESTABLISHED)
		vsock_conn_set_deadline(v, c, vsock_now_ms() + VSOCK_HALF_CLOSE_TIMEOUT_MS);
}

static ssize_t send_iov(int fd, struct iovec *iov, unsigned int n)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = n };
	ssize_t w;

	do
		w = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	return w < 0 ? -errno : w;
}

/* After the ring drained: finish half-closes the guest asked for. */
static void conn_finish_shutdown(struct virtio_vsock *v, struct vsock_conn *c)
{
	if (c->state != VSOCK_CONN_ESTABLISHED || ring_len(c) > 0)
		return;
	if (c->guest_shut == VIRTIO_VSOCK_SHUTDOWN_BOTH) {
		vsock_conn_close(v, c, true, "guest shut down both directions");
		return;
	}
	if ((c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) && !c->shut_wr_done && c->fd >= 0) {
		if (shutdown(c->fd, SHUT_WR) < 0 && errno != ENOTCONN)
			log_debug_errno(-errno, "%s: shutdown(SHUT_WR) failed", v->name);
		c->shut_wr_done = true;
	}
}

/* Write the ring to the host socket as far as it takes it. */
static void conn_flush(struct virtio_vsock *v, struct vsock_conn *c)
{
	while (ring_len(c) > 0 && c->fd >= 0) {
		uint32_t len = ring_len(c);
		uint32_t first = MIN(len, VSOCK_CONN_BUF_SIZE - c->ring_head);
		struct iovec iov[2] = {
			{ .iov_base = c->ring + c->ring_head, .iov_len = first },
			{ .iov_base = c->ring, .iov_len = len - first },
		};
		ssize_t w = send_iov(c->fd, iov, len > first ? 2 : 1);

		if (w == -EAGAIN || w == -EWOULDBLOCK || w == 0)
			break;
		if (w < 0) {
			vsock_conn_close(v, c, true, "host socket write failed");
			return;
		}
		c->ring_head = (uint32_t)((c->ring_head + (uint64_t)w) % VSOCK_CONN_BUF_SIZE);
		c->fwd_cnt += (uint32_t)w;
		VSOCK_COUNT(v, tx_bytes, w);
		conn_progress(v, c);
	}
	if (c->fwd_cnt - c->fwd_cnt_sent >= VSOCK_CREDIT_UPDATE_THRESHOLD)
		c->pending |= VSOCK_PEND_CREDIT_UPDATE;
	conn_finish_shutdown(v, c);
}

/* An RW packet's payload: straight to the socket if nothing waits, the rest
 * into the ring (which the credit check made sure has room). */
static void conn_take_data(struct virtio_vsock *v, struct vsock_conn *c,
			   const struct virtq_chain *chain, uint32_t len)
{
	uint64_t off = sizeof(struct virtio_vsock_hdr);
	uint32_t done = 0;

	if (ring_len(c) == 0 && c->fd >= 0) {
		unsigned int n = vsock_iov_slice(chain->iov, chain->nr_out, off, len, v->iov);
		ssize_t w = send_iov(c->fd, v->iov, n);

		if (w < 0 && w != -EAGAIN && w != -EWOULDBLOCK) {
			vsock_conn_close(v, c, true, "host socket write failed");
			return;
		}
		if (w > 0) {
			done = (uint32_t)w;
			c->rx_cnt += done;
			c->fwd_cnt += done;
			VSOCK_COUNT(v, tx_bytes, done);
			conn_progress(v, c);
		}
		c->ring_head = 0;
	}
	if (done < len) {
		uint32_t left = len - done;
		uint32_t tail = (uint32_t)((c->ring_head + (uint64_t)ring_len(c)) %
					   VSOCK_CONN_BUF_SIZE);
		uint32_t first = MIN(left, VSOCK_CONN_BUF_SIZE - tail);

		if (conn_ring_alloc(c) < 0) {
			vsock_conn_close(v, c, true, "out of memory for the connection buffer");
			return;
		}
		virtq_chain_read(chain, off + done, c->ring + tail, first);
		if (left > first)
			virtq_chain_read(chain, off + done + first, c->ring, left - first);
		c->rx_cnt += left;
	}
	if (c->fwd_cnt - c->fwd_cnt_sent >= VSOCK_CREDIT_UPDATE_THRESHOLD)
		c->pending |= VSOCK_PEND_CREDIT_UPDATE;
}

/* Host socket events --------------------------------------------------- */

/* "CONNECT <port>" (either case of the keyword), decimal port, no extras. */
static int parse_connect_line(const char *line, uint32_t len, uint32_t *ret_port)
{
	static const char kw[] = "connect ";
	uint64_t port = 0;
	uint32_t i = sizeof(kw) - 1;

	if (len <= i || strncasecmp(line, kw, i) != 0)
		return -EINVAL;
	if (len - i > 10)
		return -EINVAL;
	for (; i < len; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -EINVAL;
		port = port * 10 + (uint64_t)(line[i] - '0');
	}
	if (port > UINT32_MAX)
		return -EINVAL;
	*ret_port = (uint32_t)port;
	return 0;
}

static void handshake_fail(struct virtio_vsock *v, struct vsock_conn *c, const char *why)
{
	VSOCK_COUNT(v, handshake_failures, 1);
	vsock_conn_close(v, c, false, why);
}

/* Byte by byte: whatever follows the newline is the stream, left in the socket. */
static void conn_read_handshake(struct virtio_vsock *v, struct vsock_conn *c)
{
	uint32_t port, host_port;

	for (;;) {
		char ch;
		ssize_t n = recv(c->fd, &ch, 1, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			handshake_fail(v, c, n == 0 ? "client closed during the handshake"
						    : "client socket error during the handshake");
			return;
		}
		if (ch == '\n')
			break;
		if (c->line_len + 1 >= VSOCK_CONNECT_LINE_MAX) {
			handshake_fail(v, c, "CONNECT line too long");
			return;
		}
		c->line[c->line_len++] = ch;
	}
	if (parse_connect_line(c->line, c->line_len, &port) < 0) {
		handshake_fail(v, c, "malformed CONNECT line");
		return;
	}
	host_port = alloc_host_port(v);
	if (!host_port) {
		handshake_fail(v, c, "no free host port");
		return;
	}
	c->local_port = host_port;
	c->peer_port = port;
	conn_hash(v, c);
	c->pending |= VSOCK_PEND_REQUEST;
	vsock_conn_set_state(v, c, VSOCK_CONN_GUEST_CONNECTING, "CONNECT line received");
}

void vsock_conn_event(void *opaque, uint32_t events)
{
	struct vsock_conn *c = opaque;
	struct virtio_vsock *v = c->v;

	switch (c->state) {
	case VSOCK_CONN_HANDSHAKE:
		conn_read_handshake(v, c);
		break;
	case VSOCK_CONN_ESTABLISHED:
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			conn_flush(v, c);
		if (c->state != VSOCK_CONN_ESTABLISHED)
			break;
		if (events & (EPOLLHUP | EPOLLERR)) {
			/*
			 * Level-triggered and reported whatever we ask for: stop
			 * polling, and read (without waiting) until EOF or the
			 * error as far as the guest's credit allows.
			 */
			c->hup = true;
			c->rx_data_ready = true;
			if (ring_len(c) > 0) {
				vsock_conn_close(v, c, true, "host peer hung up with data pending");
				break;
			}
		}
		if (events & EPOLLIN)
			c->rx_data_ready = true;
		break;
	default:
		break;
	}
	vsock_conn_update(v, c);
	vsock_after_event(v);
}

/* Listener ------------------------------------------------------------- */

void vsock_muxer_accept(struct virtio_vsock *v)
{
	for (unsigned int i = 0; i < VSOCK_ACCEPT_BATCH; i++) {
		struct vsock_conn *c;
		int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* EMFILE and friends: the backlog would keep us spinning */
			vsock_warn_once(v, VSOCK_WARN_ACCEPT, "accept failed (%s), pausing the "
					"listener", strerror(errno));
			v->listener_paused = true;
			return;
		}
		if (v->nr_conns >= VSOCK_MAX_CONNECTIONS) {
			log_debug("%s: connection limit (%u) reached, refusing a client", v->name,
				  VSOCK_MAX_CONNECTIONS);
			VSOCK_COUNT(v, conns_refused, 1);
			close(fd);
			continue;
		}
		c = conn_new(v, fd, true);
		if (!c) {
			close(fd);
			continue;
		}
		vsock_conn_set_state(v, c, VSOCK_CONN_HANDSHAKE, "client connected");
		vsock_conn_update(v, c);
	}
	/* more may be waiting: come back after the others had their turn */
}

/* Guest packets -------------------------------------------------------- */

/* Guest connects to host port P: connect to "<socket_path>_<P>". */
static void guest_request(struct virtio_vsock *v, const struct virtio_vsock_hdr *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vsock_conn *c;
	int fd, r;

	if (v->nr_conns >= VSOCK_MAX_CONNECTIONS) {
		VSOCK_COUNT(v, conns_refused, 1);
		orphan_rst(v, h);
		return;
	}
	r = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%" PRIu32, v->socket_path,
		     h->dst_port);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || r < 0 || (size_t)r >= sizeof(sa.sun_path) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* ENOENT, ECONNREFUSED; EAGAIN is a full backlog: refused too */
		log_debug("%s: guest port %" PRIu32 " -> %s: %s", v->name, h->src_port,
			  sa.sun_path, fd < 0 ? "no socket" : strerror(errno));
		if (fd >= 0)
			close(fd);
		VSOCK_COUNT(v, conns_refused, 1);
		orphan_rst(v, h);
		return;
	}
	c = conn_new(v, fd, false);
	if (!c) {
		close(fd);
		orphan_rst(v, h);
		return;
	}
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	conn_hash(v, c);
	c->pending |= VSOCK_PEND_RESPONSE;
	vsock_conn_set_state(v, c, VSOCK_CONN_ESTABLISHED, "guest connected");
	/* data may already wait in the socket */
	c->rx_data_ready = true;
	vsock_conn_update(v, c);
}

static void guest_response(struct virtio_vsock *v, struct vsock_conn *c)
{
	char ok[24];
	int len;
	ssize_t w;

	if (c->pending & VSOCK_PEND_REQUEST) {
		vsock_conn_close(v, c, true, "RESPONSE before our REQUEST");
		return;
	}
	len = snprintf(ok, sizeof(ok), "OK %" PRIu32 "\n", c->local_port);
	do
		w = send(c->fd, ok, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	if (w != len) {
		/* a fresh socket takes a few bytes; anything else is a dead client */
		vsock_conn_close(v, c, true, "cannot answer the client");
		return;
	}
	vsock_conn_set_state(v, c, VSOCK_CONN_ESTABLISHED, "guest accepted");
	c->rx_data_ready = true; /* the client may have sent data already */
}

static void guest_pkt_established(struct virtio_vsock *v, struct vsock_conn *c,
				  const struct virtio_vsock_hdr *h, const struct virtq_chain *chain)
{
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RW:
		if (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) {
			vsock_conn_close(v, c, true, "data after the guest's SHUTDOWN(SEND)");
			return;
		}
		if (h->len > VSOCK_CONN_BUF_SIZE - ring_len(c)) {
			VSOCK_COUNT(v, credit_violations, 1);
			vsock_warn_once(v, VSOCK_WARN_CREDIT, "guest exceeded its credit on port "
					"%" PRIu32 "; resetting the connection", c->local_port);
			vsock_conn_close(v, c, true, "guest exceeded its credit");
			return;
		}
		if (h->len > 0)
			conn_take_data(v, c, chain, h->len);
		return;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		c->guest_shut |= h->flags & VIRTIO_VSOCK_SHUTDOWN_BOTH;
		conn_finish_shutdown(v, c);
		return;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		return; /* the credit fields were taken already */
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		c->pending |= VSOCK_PEND_CREDIT_UPDATE;
		return;
	case VIRTIO_VSOCK_OP_REQUEST:
	case VIRTIO_VSOCK_OP_RESPONSE:
		vsock_conn_close(v, c, true, "REQUEST/RESPONSE on an established connection");
		return;
	default:
		VSOCK_COUNT(v, malformed, 1);
		vsock_conn_close(v, c, true, "unknown operation");
		return;
	}
}

void vsock_muxer_guest_pkt(struct virtio_vsock *v, const struct virtio_vsock_hdr *h,
			   const struct virtq_chain *chain)
{
	struct vsock_conn *c;

	if (h->dst_cid != VIRTIO_VSOCK_HOST_CID || h->type != VIRTIO_VSOCK_TYPE_STREAM) {
		/* nothing but the host here; no SEQPACKET (never offered) */
		VSOCK_COUNT(v, malformed, 1);
		if (h->op != VIRTIO_VSOCK_OP_RST)
			orphan_rst(v, h);
		return;
	}
	c = conn_lookup(v, h->dst_port, h->src_port);
	if (!c) {
		if (h->op == VIRTIO_VSOCK_OP_REQUEST)
			guest_request(v, h);
		else if (h->op != VIRTIO_VSOCK_OP_RST)
			orphan_rst(v, h); /* stale: the connection is gone */
		return;
	}
	if (h->op == VIRTIO_VSOCK_OP_RST) {
		if (c->state == VSOCK_CONN_GUEST_CONNECTING)
			VSOCK_COUNT(v, conns_refused, 1);
		vsock_conn_close(v, c, false, "reset by the guest");
		vsock_conn_update(v, c);
		return;
	}
	if (c->state == VSOCK_CONN_CLOSING) {
		vsock_conn_update(v, c);
		return; /* our RST is on its way */
	}
	if (c->state == VSOCK_CONN_GUEST_CONNECTING && (c->pending & VSOCK_PEND_REQUEST)) {
		/* the guest cannot know this connection yet: leave it alone */
		orphan_rst(v, h);
		return;
	}
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (vsock_conn_peer_credit(c) > 0)
		c->credit_requested = false;

	if (c->state == VSOCK_CONN_GUEST_CONNECTING) {
		if (h->op == VIRTIO_VSOCK_OP_RESPONSE)
			guest_response(v, c);
		else
			vsock_conn_close(v, c, true, "unexpected packet while connecting");
	} else if (c->state == VSOCK_CONN_ESTABLISHED) {
		guest_pkt_established(v, c, h, chain);
	}
	vsock_conn_update(v, c);
}

void vsock_muxer_malformed(struct virtio_vsock *v, const struct virtio_vsock_hdr *h)
{
	struct vsock_conn *c = conn_lookup(v, h->dst_port, h->src_port);

	if (!c || h->dst_cid != VIRTIO_VSOCK_HOST_CID)
		return;
	if (c->state == VSOCK_CONN_GUEST_CONNECTING && (c->pending & VSOCK_PEND_REQUEST))
		return;
	vsock_conn_close(v, c, true, "malformed packet");
	vsock_conn_update(v, c);
}

/* Timeouts and reset --------------------------------------------------- */

void vsock_muxer_timeouts(struct virtio_vsock *v)
{
	uint64_t now = vsock_now_ms();
	struct vsock_conn *c, *next;

	if (!v->nr_deadlines)
		return;
	for (c = v->all; c; c = next) {
		next = c->all_next;
		if (!c->deadline_ms || now < c->deadline_ms)
			continue;
		VSOCK_COUNT(v, timeouts, 1);
		switch (c->state) {
		case VSOCK_CONN_HANDSHAKE:
			handshake_fail(v, c, "no CONNECT line in time");
			break;
		case VSOCK_CONN_GUEST_CONNECTING:
			VSOCK_COUNT(v, handshake_failures, 1);
			vsock_conn_close(v, c, true, "the guest did not answer in time");
			break;
		default:
			vsock_conn_close(v, c, true, "half-closed without progress");
			break;
		}
		vsock_conn_update(v, c);
	}
}

void vsock_muxer_reset(struct virtio_vsock *v)
{
	while (v->all) {
		struct vsock_conn *c = v->all;

		c->pending = 0;
		vsock_conn_close(v, c, false, "device reset");
		vsock_conn_update(v, c);
	}
	v->orphan_head = v->orphan_len = 0;
}
