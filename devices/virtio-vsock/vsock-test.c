/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock tests without a VM: the harness's fake guest memory plays the
 * guest's driver (rx buffers posted, packets built by hand on tx, in several
 * descriptor shapes), this thread plays the Unix-socket clients and
 * listeners on the host, and the device runs on its real worker thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/test.h"
#include "devices/virtio-vsock.h"
#include "vq-harness.h"
#include "vsock.h"

#define GUEST_CID 3
#define T_QSIZE 128
#define T_RAM (16 * MiB)
#define NRX 32			/* rx buffers posted; <= 4 descriptors each */
#define RXBUF (44 + 4096)
#define G_BUF_ALLOC (256 * 1024) /* the test guest's receive buffer per connection */
#define MAX_GCONN 16
#define WAIT_MS 5000

struct gconn {
	bool used;
	uint32_t gport, hport;
	/* guest -> host */
	uint32_t tx_cnt, peer_buf_alloc, peer_fwd_cnt;
	/* host -> guest */
	bool auto_ack;
	uint32_t fwd_cnt, fwd_sent;
	uint32_t held;		/* received but not consumed (auto_ack off) */
	uint64_t rx_bytes;
	uint32_t rx_seed;
	bool rx_bad;
	/* control */
	bool got_rst, got_response;
	uint32_t shut_flags;
	unsigned int credit_updates, credit_requests;
};

struct pkt {
	struct virtio_vsock_hdr h;
	uint8_t data[4096];
	uint32_t len;
};

#define NOTHER 64

struct guest {
	struct vq_harness h;
	struct virtio_dev *vdev;
	char dir[64];
	char path[108];
	uint64_t rx_pool, tx_arena;
	uint16_t head_slot[T_QSIZE];
	uint32_t rx_posted;
	struct gconn conns[MAX_GCONN];
	struct virtio_vsock_hdr other[NOTHER]; /* packets for no gconn */
	unsigned int nother;
};

static struct guest G;
static uint8_t bigbuf[256 * 1024];

/* Data pattern and time ------------------------------------------------ */

static uint8_t pat(uint32_t seed, uint64_t off)
{
	uint64_t x = (off + 1) * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)seed * 0x85ebca6b;

	return (uint8_t)(x >> 29);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static struct virtio_vsock_counters counters(void)
{
	struct virtio_vsock_counters c = { 0 };

	CHECK_EQ(virtio_vsock_get_counters(G.vdev, &c), 0);
	return c;
}

/* Guest driver: rx --------------------------------------------------- */

static void kick(unsigned int q)
{
	uint64_t one = 1;

	if (write(G.vdev->kick_fds[q], &one, sizeof(one)) < 0)
		fprintf(stderr, "kick failed: %s\n", strerror(errno));
}

/* Post rx buffer number `n` in one of three shapes; the memory is contiguous. */
static void rx_post_one(void)
{
	uint32_t slot = G.rx_posted % NRX;
	uint64_t gpa = G.rx_pool + (uint64_t)slot * RXBUF;
	struct vqh_buf b[4];
	unsigned int n;
	uint16_t head;

	switch (G.rx_posted % 3) {
	case 0: /* header and payload in one descriptor (Linux >= 6.2) */
		b[0] = (struct vqh_buf){ .gpa = gpa, .len = RXBUF, .writable = true };
		n = 1;
		break;
	case 1: /* header, payload (older Linux) */
		b[0] = (struct vqh_buf){ .gpa = gpa, .len = 44, .writable = true };
		b[1] = (struct vqh_buf){ .gpa = gpa + 44, .len = 4096, .writable = true };
		n = 2;
		break;
	default: /* header split, payload over three */
		b[0] = (struct vqh_buf){ .gpa = gpa, .len = 20, .writable = true };
		b[1] = (struct vqh_buf){ .gpa = gpa + 20, .len = 1024, .writable = true };
		b[2] = (struct vqh_buf){ .gpa = gpa + 1044, .len = 1000, .writable = true };
		b[3] = (struct vqh_buf){ .gpa = gpa + 2044, .len = RXBUF - 2044, .writable = true };
		n = 4;
		break;
	}
	head = vqh_add_chain(&G.h, VSOCK_QUEUE_RX, b, n);
	G.head_slot[head] = (uint16_t)slot;
	vqh_publish(&G.h, VSOCK_QUEUE_RX, head);
	G.rx_posted++;
}

static void rx_init(void)
{
	G.rx_posted = 0;
	for (unsigned int i = 0; i < NRX; i++)
		rx_post_one();
	kick(VSOCK_QUEUE_RX);
}

/* The next packet from the device, or false after timeout_ms. */
static bool guest_recv(struct pkt *p, unsigned int timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	uint32_t id, len;
	uint8_t *buf;

	while (!vqh_pop_used(&G.h, VSOCK_QUEUE_RX, &id, &len)) {
		if (now_ms() >= end)
			return false;
		sleep_ms(1);
	}
	CHECK(id < T_QSIZE);
	CHECK(len >= 44 && len <= RXBUF);
	buf = vqh_ptr(&G.h, G.rx_pool + (uint64_t)G.head_slot[id % T_QSIZE] * RXBUF);
	memcpy(&p->h, buf, 44);
	p->h.src_cid = le64toh(p->h.src_cid);
	p->h.dst_cid = le64toh(p->h.dst_cid);
	p->h.src_port = le32toh(p->h.src_port);
	p->h.dst_port = le32toh(p->h.dst_port);
	p->h.len = le32toh(p->h.len);
	p->h.type = le16toh(p->h.type);
	p->h.op = le16toh(p->h.op);
	p->h.flags = le32toh(p->h.flags);
	p->h.buf_alloc = le32toh(p->h.buf_alloc);
	p->h.fwd_cnt = le32toh(p->h.fwd_cnt);
	p->len = len >= 44 ? MIN(len - 44, (uint32_t)sizeof(p->data)) : 0;
	CHECK_EQ(p->h.len, p->len);
	memcpy(p->data, buf + 44, p->len);
	/* every packet from the device is addressed properly */
	CHECK_EQ(p->h.dst_cid, GUEST_CID);
	CHECK_EQ(p->h.type, VIRTIO_VSOCK_TYPE_STREAM);
	rx_post_one();
	kick(VSOCK_QUEUE_RX);
	return true;
}

/* Guest driver: tx --------------------------------------------------- */

/* Send header+payload cut into descriptors per `shape`; waits until used. */
static void guest_send_raw(const struct virtio_vsock_hdr *hle, const void *payload, uint32_t len,
			   unsigned int shape)
{
	uint8_t *arena = vqh_ptr(&G.h, G.tx_arena);
	uint32_t total = 44 + len, cuts[5], nc = 0;
	struct vqh_buf b[6];
	uint64_t end = now_ms() + WAIT_MS;
	uint16_t head;

	memcpy(arena, hle, 44);
	if (len)
		memcpy(arena + 44, payload, len);
	switch (shape % 4) {
	case 0: /* one descriptor */
		break;
	case 1: /* header, payload */
		if (len)
			cuts[nc++] = 44;
		break;
	case 2: /* header, payload over three */
		cuts[nc++] = 44;
		if (len >= 3) {
			cuts[nc++] = 44 + len / 3;
			cuts[nc++] = 44 + 2 * (len / 3);
		}
		break;
	default: /* header split in the middle, payload joined to its tail */
		cuts[nc++] = 17;
		if (len >= 2)
			cuts[nc++] = 44 + len / 2;
		break;
	}
	for (uint32_t i = 0, start = 0; i <= nc; i++) {
		uint32_t stop = i < nc ? cuts[i] : total;

		b[i] = (struct vqh_buf){ .gpa = G.tx_arena + start, .len = stop - start };
		start = stop;
	}
	head = vqh_add_chain(&G.h, VSOCK_QUEUE_TX, b, nc + 1);
	vqh_publish(&G.h, VSOCK_QUEUE_TX, head);
	kick(VSOCK_QUEUE_TX);
	while (!vqh_pop_used(&G.h, VSOCK_QUEUE_TX, NULL, NULL)) {
		if (now_ms() >= end) {
			CHECK(!"tx chain not used in time");
			return;
		}
		sleep_ms(1);
	}
}

static void hdr_le(struct virtio_vsock_hdr *h, uint64_t src_cid, uint64_t dst_cid,
		   uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t flags, uint32_t len,
		   uint32_t buf_alloc, uint32_t fwd_cnt)
{
	*h = (struct virtio_vsock_hdr){
		.src_cid = htole64(src_cid), .dst_cid = htole64(dst_cid),
		.src_port = htole32(src_port), .dst_port = htole32(dst_port),
		.len = htole32(len), .type = htole16(VIRTIO_VSOCK_TYPE_STREAM),
		.op = htole16(op), .flags = htole32(flags), .buf_alloc = htole32(buf_alloc),
		.fwd_cnt = htole32(fwd_cnt),
	};
}

static void gc_send(struct gconn *gc, uint16_t op, uint32_t flags, const void *payload,
		    uint32_t len, unsigned int shape)
{
	struct virtio_vsock_hdr h;

	hdr_le(&h, GUEST_CID, VIRTIO_VSOCK_HOST_CID, gc->gport, gc->hport, op, flags, len,
	       G_BUF_ALLOC, gc->fwd_cnt);
	gc->fwd_sent = gc->fwd_cnt;
	if (op == VIRTIO_VSOCK_OP_RW)
		gc->tx_cnt += len;
	guest_send_raw(&h, payload, len, shape);
}

/* Guest driver: dispatch ------------------------------------------------ */

static struct gconn *gc_find(uint32_t gport, uint32_t hport)
{
	for (unsigned int i = 0; i < MAX_GCONN; i++)
		if (G.conns[i].used && G.conns[i].gport == gport && G.conns[i].hport == hport)
			return &G.conns[i];
	return NULL;
}

static struct gconn *gc_new(uint32_t gport, uint32_t hport, uint32_t rx_seed)
{
	for (unsigned int i = 0; i < MAX_GCONN; i++) {
		if (!G.conns[i].used) {
			G.conns[i] = (struct gconn){ .used = true, .gport = gport, .hport = hport,
						     .rx_seed = rx_seed, .auto_ack = true };
			return &G.conns[i];
		}
	}
	CHECK(!"too many test connections");
	abort();
}

static void gc_free(struct gconn *gc)
{
	gc->used = false;
}

static void dispatch(const struct pkt *p)
{
	struct gconn *gc = gc_find(p->h.dst_port, p->h.src_port);

	if (!gc || p->h.src_cid != VIRTIO_VSOCK_HOST_CID) {
		G.other[G.nother++ % NOTHER] = p->h;
		return;
	}
	gc->peer_buf_alloc = p->h.buf_alloc;
	gc->peer_fwd_cnt = p->h.fwd_cnt;
	switch (p->h.op) {
	case VIRTIO_VSOCK_OP_RW:
		for (uint32_t i = 0; i < p->len; i++)
			if (p->data[i] != pat(gc->rx_seed, gc->rx_bytes + i))
				gc->rx_bad = true;
		gc->rx_bytes += p->len;
		if (gc->auto_ack)
			gc->fwd_cnt += p->len;
		else
			gc->held += p->len;
		/* the device must respect our credit */
		CHECK(gc->fwd_cnt + gc->held - gc->fwd_sent <= G_BUF_ALLOC);
		if (gc->auto_ack && gc->fwd_cnt - gc->fwd_sent >= 64 * 1024)
			gc_send(gc, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0, 0);
		break;
	case VIRTIO_VSOCK_OP_RST:
		gc->got_rst = true;
		break;
	case VIRTIO_VSOCK_OP_RESPONSE:
		gc->got_response = true;
		break;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		gc->shut_flags |= p->h.flags;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		gc->credit_updates++;
		break;
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		gc->credit_requests++;
		gc_send(gc, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0, 0);
		break;
	default:
		CHECK(!"unexpected op from the device");
	}
}

/* Handle every packet arriving within ms (at least one poll). */
static unsigned int guest_poll(unsigned int ms)
{
	struct pkt p;
	unsigned int n = 0;
	uint64_t end = now_ms() + ms;

	do {
		while (guest_recv(&p, 0)) {
			dispatch(&p);
			n++;
		}
		if (now_ms() >= end)
			break;
		sleep_ms(1);
	} while (1);
	return n;
}

/* Poll until cond or timeout. */
#define GUEST_WAIT(cond, ms)                                                   \
	({                                                                     \
		uint64_t _end = now_ms() + (ms);                               \
		bool _ok;                                                      \
		while (!(_ok = (cond)) && now_ms() < _end)                     \
			guest_poll(2);                                         \
		_ok;                                                           \
	})

/* Find (and remove) a recorded packet for no gconn. */
static bool other_take(uint16_t op, uint32_t src_port, uint32_t dst_port,
		       struct virtio_vsock_hdr *ret)
{
	for (unsigned int i = 0; i < MIN(G.nother, (unsigned int)NOTHER); i++) {
		struct virtio_vsock_hdr *h = &G.other[i];

		if (h->op == op && (src_port == 0 || h->src_port == src_port) &&
		    h->dst_port == dst_port) {
			if (ret)
				*ret = *h;
			h->op = 0xffff;
			return true;
		}
	}
	return false;
}

/* Host side ------------------------------------------------------------ */

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "connect %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int unix_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		fprintf(stderr, "listen %s: %s\n", path, strerror(errno));
		abort();
	}
	return fd;
}

static void set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	(void)fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* Read a line byte by byte (blocking with SO_RCVTIMEO); length or -1. */
static int read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		char ch;

		if (recv(fd, &ch, 1, 0) != 1)
			return -1;
		if (ch == '\n') {
			buf[n] = 0;
			return (int)n;
		}
		buf[n++] = ch;
	}
	return -1;
}

/* Did the peer close fd (EOF or reset) within ms? */
static bool wait_eof(int fd, unsigned int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t end = now_ms() + ms;
	char buf[256];

	for (;;) {
		uint64_t t = now_ms();
		ssize_t n;

		if (t >= end)
			return false;
		if (poll(&p, 1, (int)(end - t)) <= 0)
			return false;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		if (n < 0 && errno != EAGAIN)
			return true;
	}
}

static bool is_open(int fd)
{
	char ch;
	ssize_t n = recv(fd, &ch, 1, MSG_DONTWAIT | MSG_PEEK);

	return n < 0 && errno == EAGAIN;
}

/* Host client: CONNECT port, the guest accepts; returns the client fd. */
static int host_connect(uint32_t gport, uint32_t rx_seed, struct gconn **ret)
{
	char line[64], want[64];
	int fd = unix_connect(G.path);
	struct gconn *gc = NULL;

	*ret = NULL;
	if (fd < 0)
		return -1;
	snprintf(line, sizeof(line), "CONNECT %u\n", gport);
	CHECK(write(fd, line, strlen(line)) == (ssize_t)strlen(line));
	for (uint64_t end = now_ms() + WAIT_MS; !gc && now_ms() < end;) {
		struct pkt p;
		struct virtio_vsock_hdr h;

		if (!guest_recv(&p, 10))
			continue;
		if (p.h.op != VIRTIO_VSOCK_OP_REQUEST || p.h.dst_port != gport) {
			dispatch(&p);
			continue;
		}
		CHECK_EQ(p.h.src_cid, VIRTIO_VSOCK_HOST_CID);
		CHECK(p.h.src_port >= VSOCK_HOST_PORT_MIN && p.h.src_port < VSOCK_HOST_PORT_END);
		CHECK_EQ(p.h.buf_alloc, VSOCK_CONN_BUF_SIZE);
		gc = gc_new(gport, p.h.src_port, rx_seed);
		gc->peer_buf_alloc = p.h.buf_alloc;
		gc->peer_fwd_cnt = p.h.fwd_cnt;
		(void)h;
		gc_send(gc, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0, 0);
	}
	CHECK(gc != NULL);
	if (!gc) {
		close(fd);
		return -1;
	}
	CHECK(read_line(fd, line, sizeof(line)) > 0);
	snprintf(want, sizeof(want), "OK %u", gc->hport);
	CHECK(strcmp(line, want) == 0);
	*ret = gc;
	return fd;
}

/* Guest connects to host port `port` (a test listener at path_port). */
static struct gconn *guest_connect(uint32_t gport, uint32_t port, uint32_t rx_seed)
{
	struct gconn *gc = gc_new(gport, port, rx_seed);

	gc_send(gc, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0, 0);
	CHECK(GUEST_WAIT(gc->got_response || gc->got_rst, WAIT_MS));
	return gc;
}

static void listen_path(char *buf, size_t size, uint32_t port)
{
	snprintf(buf, size, "%s_%u", G.path, port);
}

static int accept_wait(int lfd)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int fd;

	if (poll(&p, 1, WAIT_MS) <= 0)
		return -1;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd >= 0) {
		struct timeval tv = { .tv_sec = 5 };

		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

/* Transfers ------------------------------------------------------------ */

/* The host writes `total` bytes of pat(seed) to fd; the guest receives them. */
static void xfer_host_to_guest(int fd, struct gconn *gc, uint64_t total)
{
	uint64_t sent = 0, start = gc->rx_bytes, end = now_ms() + 4 * WAIT_MS;

	set_nonblock(fd, true);
	while (gc->rx_bytes - start < total && now_ms() < end) {
		while (sent < total) {
			size_t n = (size_t)MIN((uint64_t)sizeof(bigbuf), total - sent);
			ssize_t w;

			for (size_t i = 0; i < n; i++)
				bigbuf[i] = pat(gc->rx_seed, start + sent + i);
			w = send(fd, bigbuf, n, MSG_NOSIGNAL);
			if (w <= 0)
				break;
			sent += (uint64_t)w;
		}
		guest_poll(1);
	}
	set_nonblock(fd, false);
	CHECK_EQ(gc->rx_bytes - start, total);
	CHECK(!gc->rx_bad);
}

static uint32_t gc_credit(const struct gconn *gc)
{
	uint32_t in_flight = gc->tx_cnt - gc->peer_fwd_cnt;

	return in_flight >= gc->peer_buf_alloc ? 0 : gc->peer_buf_alloc - in_flight;
}

/* Drain fd without blocking, checking pat(seed); returns bytes read. */
static uint64_t host_drain(int fd, uint32_t seed, uint64_t *off, bool *bad)
{
	uint64_t got = 0;

	for (;;) {
		ssize_t n = recv(fd, bigbuf, sizeof(bigbuf), MSG_DONTWAIT);

		if (n <= 0)
			return got;
		for (ssize_t i = 0; i < n; i++)
			if (bigbuf[i] != pat(seed, *off + (uint64_t)i))
				*bad = true;
		*off += (uint64_t)n;
		got += (uint64_t)n;
	}
}

/* The guest sends `total` bytes of pat(seed) on gc within its credit, in
 * every descriptor shape and varied sizes; the host reads them from fd. */
static void xfer_guest_to_host(int fd, struct gconn *gc, uint64_t total, uint32_t seed)
{
	static uint8_t payload[64 * 1024];
	uint64_t sent = 0, host_off = 0, end = now_ms() + 4 * WAIT_MS;
	bool bad = false;
	unsigned int i = 0;

	while ((sent < total || host_off < total) && now_ms() < end) {
		uint32_t credit = gc_credit(gc);

		if (sent < total && credit > 0) {
			uint32_t sizes[] = { 1, 700, 4096, 9000, 65536, 33333 };
			uint32_t n = (uint32_t)MIN(MIN((uint64_t)sizes[i % 6], total - sent),
						   (uint64_t)credit);

			for (uint32_t k = 0; k < n; k++)
				payload[k] = pat(seed, sent + k);
			gc_send(gc, VIRTIO_VSOCK_OP_RW, 0, payload, n, i);
			sent += n;
			i++;
		}
		host_drain(fd, seed, &host_off, &bad);
		guest_poll(credit > 0 && sent < total ? 0 : 1);
	}
	CHECK_EQ(sent, total);
	CHECK_EQ(host_off, total);
	CHECK(!bad);
	CHECK(!gc->got_rst);
}

/* Tests ---------------------------------------------------------------- */

static void test_config(void)
{
	uint8_t cfg[8];
	uint64_t cid;

	virtio_dev_config_read(G.vdev, 0, cfg, 8);
	memcpy(&cid, cfg, 8);
	CHECK_EQ(le64toh(cid), GUEST_CID);
	CHECK_EQ(G.vdev->device_type, VIRTIO_ID_VSOCK);
	CHECK_EQ(G.vdev->nr_queues, 3);
	/* stream only: no SEQPACKET */
	CHECK(!(virtio_dev_offered_features(G.vdev) & VIRTIO_BIT(1)));
	CHECK(virtio_dev_offered_features(G.vdev) & VIRTIO_BIT(VIRTIO_F_VERSION_1));
}

static void test_host_to_guest(void)
{
	struct gconn *gc;
	int fd = host_connect(1234, 11, &gc);

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	/* more than the guest's buf_alloc: needs its credit updates */
	xfer_host_to_guest(fd, gc, 700 * 1024 + 17);
	xfer_guest_to_host(fd, gc, 900 * 1024 + 5, 12);
	/* the host closes: SHUTDOWN(SEND) follows all data */
	close(fd);
	CHECK(GUEST_WAIT(gc->shut_flags & VIRTIO_VSOCK_SHUTDOWN_SEND, WAIT_MS));
	/* the guest closes too: shutdown both, the device answers RST */
	gc_send(gc, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_BOTH, NULL, 0, 0);
	CHECK(GUEST_WAIT(gc->got_rst, WAIT_MS));
	gc_free(gc);
}

static void test_connect_line_variants(void)
{
	struct pkt p;
	char line[64];
	int fd;
	bool found = false;

	/* lowercase keyword; payload in the same write stays stream data */
	fd = unix_connect(G.path);
	CHECK(fd >= 0);
	CHECK(write(fd, "connect 77\nhello", 16) == 16);
	for (uint64_t end = now_ms() + WAIT_MS; !found && now_ms() < end;) {
		if (!guest_recv(&p, 10))
			continue;
		if (p.h.op == VIRTIO_VSOCK_OP_REQUEST && p.h.dst_port == 77) {
			struct gconn *gc = gc_new(77, p.h.src_port, 0);

			found = true;
			gc->peer_buf_alloc = p.h.buf_alloc;
			gc_send(gc, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0, 1);
			CHECK(read_line(fd, line, sizeof(line)) > 0);
			CHECK(strncmp(line, "OK ", 3) == 0);
			/* "hello" arrives as data */
			gc->auto_ack = true;
			CHECK(GUEST_WAIT(gc->rx_bytes == 5, WAIT_MS));
			close(fd);
			CHECK(GUEST_WAIT(gc->shut_flags != 0, WAIT_MS));
			gc_send(gc, VIRTIO_VSOCK_OP_RST, 0, NULL, 0, 0);
			gc_free(gc);
		} else {
			dispatch(&p);
		}
	}
	CHECK(found);
}

static void test_no_guest_listener(void)
{
	struct pkt p;
	int fd = unix_connect(G.path);
	uint64_t refused = counters().conns_refused;
	bool done = false;

	CHECK(fd >= 0);
	CHECK(write(fd, "CONNECT 4321\n", 13) == 13);
	for (uint64_t end = now_ms() + WAIT_MS; !done && now_ms() < end;) {
		if (!guest_recv(&p, 10))
			continue;
		if (p.h.op == VIRTIO_VSOCK_OP_REQUEST && p.h.dst_port == 4321) {
			struct virtio_vsock_hdr h;

			/* nothing listens on 4321 in this guest */
			hdr_le(&h, GUEST_CID, 2, 4321, p.h.src_port, VIRTIO_VSOCK_OP_RST, 0, 0, 0, 0);
			guest_send_raw(&h, NULL, 0, 0);
			done = true;
		}
	}
	CHECK(done);
	CHECK(wait_eof(fd, WAIT_MS));
	CHECK_EQ(counters().conns_refused, refused + 1);
	close(fd);
}

static void test_guest_to_host(void)
{
	char path[128];
	int lfd, fd;
	struct gconn *gc, *gc2;
	struct virtio_vsock_hdr h;
	uint64_t off = 0;
	bool bad = false;

	listen_path(path, sizeof(path), 1025);
	lfd = unix_listen(path);
	gc = guest_connect(5000, 1025, 21);
	CHECK(gc->got_response && !gc->got_rst);
	fd = accept_wait(lfd);
	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	xfer_guest_to_host(fd, gc, 1000 * 1024 + 3, 22);
	xfer_host_to_guest(fd, gc, 600 * 1024 + 1);

	/* guest half-closes: the host reads EOF after the data, can still answer */
	gc_send(gc, VIRTIO_VSOCK_OP_RW, 0, "tail", 4, 2);
	gc_send(gc, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0, 0);
	{
		char buf[8];
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_WAITALL);

		CHECK_EQ(n, 4);
		CHECK(n == 4 && memcmp(buf, "tail", 4) == 0);
		CHECK(wait_eof(fd, WAIT_MS));
	}
	xfer_host_to_guest(fd, gc, 3000);
	CHECK(!gc->got_rst);
	/* host closes: SHUTDOWN(SEND), then the guest closes: RST */
	shutdown(fd, SHUT_WR);
	CHECK(GUEST_WAIT(gc->shut_flags & VIRTIO_VSOCK_SHUTDOWN_SEND, WAIT_MS));
	gc_send(gc, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_BOTH, NULL, 0, 0);
	CHECK(GUEST_WAIT(gc->got_rst, WAIT_MS));
	close(fd);
	gc_free(gc);

	/* guest RST closes the host side */
	gc = guest_connect(5001, 1025, 23);
	fd = accept_wait(lfd);
	CHECK(fd >= 0);
	gc_send(gc, VIRTIO_VSOCK_OP_RST, 0, NULL, 0, 0);
	CHECK(wait_eof(fd, WAIT_MS));
	close(fd);
	gc_free(gc);

	/* nothing listens on 1026: RST */
	gc2 = guest_connect(5002, 1026, 0);
	CHECK(gc2->got_rst && !gc2->got_response);
	gc_free(gc2);
	/* a stale packet for no connection: RST */
	hdr_le(&h, GUEST_CID, 2, 5003, 1025, VIRTIO_VSOCK_OP_RW, 0, 3, G_BUF_ALLOC, 0);
	guest_send_raw(&h, "abc", 3, 0);
	CHECK(GUEST_WAIT(other_take(VIRTIO_VSOCK_OP_RST, 1025, 5003, NULL), WAIT_MS));
	(void)off;
	(void)bad;
out:
	close(lfd);
	unlink(path);
}

/*
 * The end of a stream exactly as a Linux guest (6.1, vmw_vsock_virtio_transport)
 * drives it, in both directions, as vsocktool does in the integration test:
 * shutdown(SHUT_WR) sends SHUTDOWN(SEND); close() sends SHUTDOWN(RCV|SEND)
 * (the peer only shut its sending side) and then waits up to 8 s for the
 * peer's RST, sending its own RST only if none came. Every byte must reach
 * the host before its EOF, data before our SHUTDOWN, and our RST must follow
 * the guest's SHUTDOWN(RCV|SEND) only once the host has taken every byte.
 */
static void guest_send_pat(struct gconn *gc, uint64_t total, uint32_t seed, uint64_t *sent)
{
	static uint8_t payload[64 * 1024];

	while (*sent < total) {
		uint32_t credit = gc_credit(gc);
		uint32_t n = (uint32_t)MIN(MIN((uint64_t)sizeof(payload), total - *sent),
					   (uint64_t)credit);

		if (n == 0)
			return;
		for (uint32_t k = 0; k < n; k++)
			payload[k] = pat(seed, *sent + k);
		gc_send(gc, VIRTIO_VSOCK_OP_RW, 0, payload, n, (unsigned int)(*sent % 4));
		*sent += n;
	}
}

static void test_linux_close_sequence(void)
{
	char path[128];
	struct gconn *gc;
	uint64_t sent = 0, off = 0, active = counters().conns_active;
	bool bad = false;
	int fd, lfd;

	/* host -> guest: the host client sends and half-closes */
	fd = host_connect(1240, 41, &gc);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	xfer_host_to_guest(fd, gc, 300 * 1024 + 9);
	CHECK(shutdown(fd, SHUT_WR) == 0);
	CHECK(GUEST_WAIT(gc->shut_flags & VIRTIO_VSOCK_SHUTDOWN_SEND, WAIT_MS));
	CHECK_EQ(gc->shut_flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	CHECK_EQ(gc->rx_bytes, 300 * 1024 + 9);
	/* Linux acknowledges what it read (its reader drained the socket) */
	gc_send(gc, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0, 0);
	/* the guest answers with its whole credit while the host does not read:
	 * part of it waits in the device's buffer when close() comes */
	guest_send_pat(gc, VSOCK_CONN_BUF_SIZE, 42, &sent);
	CHECK_EQ(sent, VSOCK_CONN_BUF_SIZE);
	gc_send(gc, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_BOTH, NULL, 0, 0);
	guest_poll(20);
	/* the host reads every byte, then EOF */
	for (uint64_t end = now_ms() + WAIT_MS; off < sent && now_ms() < end;) {
		host_drain(fd, 42, &off, &bad);
		guest_poll(1);
	}
	CHECK_EQ(off, sent);
	CHECK(!bad);
	CHECK(wait_eof(fd, WAIT_MS));
	/* and the guest gets its RST: its close() completes without the 8 s timeout */
	CHECK(GUEST_WAIT(gc->got_rst, WAIT_MS));
	close(fd);
	gc_free(gc);

	/* guest -> host: the guest connects, sends, half-closes */
	listen_path(path, sizeof(path), 1061);
	lfd = unix_listen(path);
	gc = guest_connect(5100, 1061, 43);
	CHECK(gc->got_response && !gc->got_rst);
	fd = accept_wait(lfd);
	CHECK(fd >= 0);
	if (fd >= 0) {
		char ch;

		xfer_guest_to_host(fd, gc, 300 * 1024 + 11, 44);
		gc_send(gc, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0, 0);
		CHECK_EQ(recv(fd, &ch, 1, 0), 0); /* EOF for the host listener */
		/* the host answers and closes */
		xfer_host_to_guest(fd, gc, 280 * 1024 + 13);
		close(fd);
		CHECK(GUEST_WAIT(gc->shut_flags & VIRTIO_VSOCK_SHUTDOWN_SEND, WAIT_MS));
		CHECK_EQ(gc->rx_bytes, 280 * 1024 + 13);
		CHECK(!gc->got_rst);
		/* the guest reads EOF and closes: credit update, SHUTDOWN(RCV|SEND) */
		gc_send(gc, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0, 0);
		gc_send(gc, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_BOTH, NULL, 0, 0);
		CHECK(GUEST_WAIT(gc->got_rst, WAIT_MS));
		/* a late RST of Linux's (its close timeout) is not answered */
		{
			struct virtio_vsock_hdr h;
			unsigned int before = G.nother;

			hdr_le(&h, GUEST_CID, VIRTIO_VSOCK_HOST_CID, 5100, 1061,
			       VIRTIO_VSOCK_OP_RST, 0, 0, G_BUF_ALLOC, gc->fwd_cnt);
			guest_send_raw(&h, NULL, 0, 0);
			guest_poll(20);
			CHECK_EQ(G.nother, before);
		}
	}
	gc_free(gc);
	for (uint64_t end = now_ms() + WAIT_MS; counters().conns_active > active && now_ms() < end;)
		guest_poll(1);
	CHECK_EQ(counters().conns_active, active);
	close(lfd);
	unlink(path);
}

/*
 * Credit: a host peer that does not read. The guest may send exactly its
 * credit and no more; meanwhile another connection keeps flowing both ways;
 * then the guest oversteps and loses (only) that connection.
 */
static void test_credit(void)
{
	static uint8_t payload[64 * 1024];
	char path[128];
	int lfd, stall_fd, fd2, cfd, cfd2;
	struct gconn *stalled, *gc2, *hstall, *h2;
	uint64_t sent = 0, violations = counters().credit_violations;
	uint64_t end;

	listen_path(path, sizeof(path), 1030);
	lfd = unix_listen(path);
	stalled = guest_connect(6000, 1030, 0);
	stall_fd = accept_wait(lfd);
	gc2 = guest_connect(6001, 1030, 31);
	fd2 = accept_wait(lfd);
	CHECK(stall_fd >= 0 && fd2 >= 0);
	if (stall_fd < 0 || fd2 < 0)
		goto out;

	/* fill: send while the device grants credit (its updates included) */
	memset(payload, 0x5a, sizeof(payload));
	end = now_ms() + WAIT_MS;
	while (now_ms() < end) {
		uint32_t credit = gc_credit(stalled);

		if (credit > 0) {
			uint32_t n = MIN(credit, (uint32_t)sizeof(payload));

			gc_send(stalled, VIRTIO_VSOCK_OP_RW, 0, payload, n, sent / n);
			sent += n;
			continue;
		}
		/* no credit: wait a little for updates; none means it is full */
		if (!guest_poll(100))
			break;
	}
	CHECK_EQ(gc_credit(stalled), 0);
	CHECK(sent >= VSOCK_CONN_BUF_SIZE);
	CHECK(!stalled->got_rst);

	/* the other connection is unaffected, both directions */
	xfer_guest_to_host(fd2, gc2, 2 * 1024 * 1024, 32);
	xfer_host_to_guest(fd2, gc2, 512 * 1024);

	/* host-to-guest too: a guest that stops reading one stream */
	cfd = host_connect(6100, 41, &hstall);
	cfd2 = host_connect(6101, 42, &h2);
	CHECK(cfd >= 0 && cfd2 >= 0);
	if (cfd >= 0 && cfd2 >= 0) {
		uint64_t blocked = 0;

		hstall->auto_ack = false;
		set_nonblock(cfd, true);
		/* much more than the guest's buf_alloc: the rest stays in the socket */
		for (int k = 0; k < 64; k++) {
			ssize_t w = send(cfd, bigbuf, 32 * 1024, MSG_NOSIGNAL);

			if (w > 0)
				blocked += (uint64_t)w;
			guest_poll(1);
		}
		xfer_host_to_guest(cfd2, h2, 1024 * 1024);
		guest_poll(50);
		CHECK_EQ(hstall->rx_bytes, G_BUF_ALLOC);
		CHECK(hstall->credit_requests >= 1 || hstall->rx_bytes == G_BUF_ALLOC);
		CHECK(blocked > G_BUF_ALLOC);
		/* now read: the stream resumes */
		hstall->auto_ack = true;
		hstall->fwd_cnt += hstall->held;
		hstall->held = 0;
		gc_send(hstall, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0, 0);
		CHECK(GUEST_WAIT(hstall->rx_bytes > G_BUF_ALLOC, WAIT_MS));
		close(cfd);
		close(cfd2);
		CHECK(GUEST_WAIT(hstall->shut_flags && h2->shut_flags, WAIT_MS));
		gc_send(hstall, VIRTIO_VSOCK_OP_RST, 0, NULL, 0, 0);
		gc_send(h2, VIRTIO_VSOCK_OP_RST, 0, NULL, 0, 0);
	}
	gc_free(hstall);
	gc_free(h2);

	/* overstep: more than the room left must reset the stalled connection */
	for (int k = 0; k < 4 && !stalled->got_rst; k++) {
		gc_send(stalled, VIRTIO_VSOCK_OP_RW, 0, payload, sizeof(payload), 0);
		guest_poll(20);
	}
	CHECK(stalled->got_rst);
	CHECK_EQ(counters().credit_violations, violations + 1);
	CHECK(wait_eof(stall_fd, WAIT_MS));
	/* ... and only it */
	xfer_guest_to_host(fd2, gc2, 100 * 1024, 33);
	CHECK(!gc2->got_rst);
	gc_send(gc2, VIRTIO_VSOCK_OP_RST, 0, NULL, 0, 0);
	CHECK(wait_eof(fd2, WAIT_MS));
out:
	if (stall_fd >= 0)
		close(stall_fd);
	if (fd2 >= 0)
		close(fd2);
	gc_free(stalled);
	gc_free(gc2);
	close(lfd);
	unlink(path);
}

static void test_malformed(void)
{
	char path[128];
	struct virtio_vsock_hdr h, r;
	struct virtio_vsock_counters before = counters();
	struct gconn *gc;
	struct vqh_buf b[2];
	uint16_t head;
	int lfd, fd;
	uint64_t end;

	listen_path(path, sizeof(path), 1040);
	lfd = unix_listen(path);

	/* shorter than a header */
	hdr_le(&h, GUEST_CID, 2, 7000, 1040, VIRTIO_VSOCK_OP_REQUEST, 0, 0, 0, 0);
	{
		struct vqh_buf sb = { .gpa = G.tx_arena, .len = 20 };

		memcpy(vqh_ptr(&G.h, G.tx_arena), &h, 20);
		head = vqh_add_chain(&G.h, VSOCK_QUEUE_TX, &sb, 1);
		vqh_publish(&G.h, VSOCK_QUEUE_TX, head);
		CHECK_EQ(vqh_kick_and_wait(&G.h, G.vdev, VSOCK_QUEUE_TX), 0);
		CHECK(vqh_pop_used(&G.h, VSOCK_QUEUE_TX, NULL, NULL));
	}
	/* spoofed source CID: dropped without an answer */
	hdr_le(&h, 77, 2, 7001, 1040, VIRTIO_VSOCK_OP_REQUEST, 0, 0, G_BUF_ALLOC, 0);
	guest_send_raw(&h, NULL, 0, 0);
	/* SEQPACKET: never offered, RST */
	hdr_le(&h, GUEST_CID, 2, 7002, 1040, VIRTIO_VSOCK_OP_REQUEST, 0, 0, G_BUF_ALLOC, 0);
	h.type = htole16(VIRTIO_VSOCK_TYPE_SEQPACKET);
	guest_send_raw(&h, NULL, 0, 0);
	CHECK(GUEST_WAIT(other_take(VIRTIO_VSOCK_OP_RST, 1040, 7002, NULL), WAIT_MS));
	/* another CID than the host: RST from that CID */
	hdr_le(&h, GUEST_CID, 9, 7003, 1040, VIRTIO_VSOCK_OP_REQUEST, 0, 0, G_BUF_ALLOC, 0);
	guest_send_raw(&h, NULL, 0, 0);
	CHECK(GUEST_WAIT(other_take(VIRTIO_VSOCK_OP_RST, 1040, 7003, &r), WAIT_MS));
	CHECK_EQ(r.src_cid, 9);
	/* len beyond the chain, unknown op and a writable tx descriptor on a live connection */
	gc = guest_connect(7004, 1040, 0);
	fd = accept_wait(lfd);
	CHECK(fd >= 0);
	hdr_le(&h, GUEST_CID, 2, 7004, 1040, VIRTIO_VSOCK_OP_RW, 0, 5000, G_BUF_ALLOC, 0);
	guest_send_raw(&h, "short", 5, 1);
	CHECK(GUEST_WAIT(gc->got_rst, WAIT_MS));
	CHECK(wait_eof(fd, WAIT_MS));
	close(fd);
	gc_free(gc);

	gc = guest_connect(7005, 1040, 0);
	fd = accept_wait(lfd);
	hdr_le(&h, GUEST_CID, 2, 7005, 1040, 99, 0, 0, G_BUF_ALLOC, 0);
	guest_send_raw(&h, NULL, 0, 0);
	CHECK(GUEST_WAIT(gc->got_rst, WAIT_MS));
	if (fd >= 0)
		close(fd);
	gc_free(gc);

	gc = guest_connect(7006, 1040, 0);
	fd = accept_wait(lfd);
	hdr_le(&h, GUEST_CID, 2, 7006, 1040, VIRTIO_VSOCK_OP_RW, 0, 3, G_BUF_ALLOC, 0);
	memcpy(vqh_ptr(&G.h, G.tx_arena), &h, 44);
	memcpy(vqh_ptr(&G.h, G.tx_arena) + 44, "xyz", 3);
	b[0] = (struct vqh_buf){ .gpa = G.tx_arena, .len = 47 };
	b[1] = (struct vqh_buf){ .gpa = G.tx_arena + 4096, .len = 64, .writable = true };
	head = vqh_add_chain(&G.h, VSOCK_QUEUE_TX, b, 2);
	vqh_publish(&G.h, VSOCK_QUEUE_TX, head);
	kick(VSOCK_QUEUE_TX);
	end = now_ms() + WAIT_MS;
	while (!vqh_pop_used(&G.h, VSOCK_QUEUE_TX, NULL, NULL) && now_ms() < end)
		sleep_ms(1);
	{
		char buf[4];

		CHECK(fd >= 0 && recv(fd, buf, 3, MSG_WAITALL) == 3 && memcmp(buf, "xyz", 3) == 0);
	}
	/* RESPONSE on an established connection: protocol error, RST */
	gc_send(gc, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0, 0);
	CHECK(GUEST_WAIT(gc->got_rst, WAIT_MS));
	if (fd >= 0)
		close(fd);
	gc_free(gc);

	guest_poll(20);
	CHECK(counters().malformed >= before.malformed + 4);
	CHECK(!(__atomic_load_n(&G.vdev->status, __ATOMIC_ACQUIRE) &
		VIRTIO_STATUS_DEVICE_NEEDS_RESET));
	/* still healthy */
	gc = guest_connect(7007, 1040, 0);
	CHECK(gc->got_response);
	fd = accept_wait(lfd);
	CHECK(fd >= 0);
	gc_send(gc, VIRTIO_VSOCK_OP_RST, 0, NULL, 0, 0);
	if (fd >= 0) {
		CHECK(wait_eof(fd, WAIT_MS));
		close(fd);
	}
	gc_free(gc);
	close(lfd);
	unlink(path);
}

static void test_handshake_limits(void)
{
	struct virtio_vsock_counters before = counters();
	int silent, longline, badline, noanswer;
	char buf[64];
	struct pkt p;
	uint32_t hport = 0;
	uint64_t t0;

	silent = unix_connect(G.path);
	longline = unix_connect(G.path);
	badline = unix_connect(G.path);
	noanswer = unix_connect(G.path);
	memset(buf, 'A', 40);
	CHECK(write(longline, "CONNECT ", 8) == 8);
	CHECK(write(longline, buf, 40) == 40);
	CHECK(write(badline, "HELLO 12\n", 9) == 9);
	CHECK(write(noanswer, "CONNECT 999\n", 12) == 12);
	t0 = now_ms();
	CHECK(wait_eof(longline, 1000));
	CHECK(wait_eof(badline, 1000));
	/* the guest sees the REQUEST but never answers */
	for (uint64_t end = now_ms() + WAIT_MS; !hport && now_ms() < end;)
		if (guest_recv(&p, 10)) {
			if (p.h.op == VIRTIO_VSOCK_OP_REQUEST && p.h.dst_port == 999)
				hport = p.h.src_port;
			else
				dispatch(&p);
		}
	CHECK(hport != 0);
	CHECK(is_open(silent));
	CHECK(wait_eof(silent, VSOCK_HANDSHAKE_TIMEOUT_MS + 1000));
	CHECK(now_ms() - t0 >= VSOCK_HANDSHAKE_TIMEOUT_MS - 100);
	CHECK(wait_eof(noanswer, 1000));
	/* ... and gets an RST for the abandoned connection */
	CHECK(GUEST_WAIT(other_take(VIRTIO_VSOCK_OP_RST, hport, 999, NULL), WAIT_MS));
	CHECK(counters().handshake_failures >= before.handshake_failures + 4);
	CHECK(counters().timeouts >= before.timeouts + 2);
	close(silent);
	close(longline);
	close(badline);
	close(noanswer);
}

static void test_connection_limit(void)
{
	static int fds[VSOCK_MAX_CONNECTIONS + 1];
	struct rlimit rl;
	uint64_t refused;
	unsigned int ok = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * VSOCK_MAX_CONNECTIONS + 64) {
		rl.rlim_cur = MIN(rl.rlim_max, (rlim_t)4 * VSOCK_MAX_CONNECTIONS);
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < 2 * VSOCK_MAX_CONNECTIONS + 64) {
		fprintf(stderr, "connection limit test skipped: RLIMIT_NOFILE too low\n");
		return;
	}
	guest_poll(20);
	CHECK_EQ(counters().conns_active, 0);
	refused = counters().conns_refused;
	for (unsigned int i = 0; i < VSOCK_MAX_CONNECTIONS; i++) {
		fds[i] = unix_connect(G.path);
		if (fds[i] >= 0)
			ok++;
	}
	CHECK_EQ(ok, VSOCK_MAX_CONNECTIONS);
	/* let the device accept them all before the extra one */
	for (uint64_t end = now_ms() + WAIT_MS;
	     counters().conns_active < VSOCK_MAX_CONNECTIONS && now_ms() < end;)
		sleep_ms(1);
	CHECK_EQ(counters().conns_active, VSOCK_MAX_CONNECTIONS);
	fds[VSOCK_MAX_CONNECTIONS] = unix_connect(G.path);
	CHECK(fds[VSOCK_MAX_CONNECTIONS] >= 0);
	CHECK(wait_eof(fds[VSOCK_MAX_CONNECTIONS], 1000));
	CHECK_EQ(counters().conns_refused, refused + 1);
	CHECK(is_open(fds[0]) && is_open(fds[VSOCK_MAX_CONNECTIONS - 1]));
	for (unsigned int i = 0; i <= VSOCK_MAX_CONNECTIONS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	for (uint64_t end = now_ms() + WAIT_MS; counters().conns_active > 0 && now_ms() < end;)
		sleep_ms(5);
	CHECK_EQ(counters().conns_active, 0);
}

static void activate(void)
{
	for (unsigned int i = 0; i < VSOCK_NR_QUEUES; i++)
		vqh_reset_queue(&G.h, i);
	memset(G.conns, 0, sizeof(G.conns));
	G.nother = 0;
	CHECK_EQ(vqh_activate_device(&G.h, G.vdev), 0);
	rx_init();
}

static void test_reset(void)
{
	char path[128];
	int lfd, hfd, cfd;
	struct gconn *gc, *hc;

	listen_path(path, sizeof(path), 1050);
	lfd = unix_listen(path);
	gc = guest_connect(8000, 1050, 0);
	hfd = accept_wait(lfd);
	cfd = host_connect(8001, 0, &hc);
	CHECK(hfd >= 0 && cfd >= 0);
	CHECK_EQ(counters().conns_active, 2);

	virtio_dev_reset(G.vdev);
	CHECK_EQ(counters().conns_active, 0);
	CHECK(wait_eof(hfd, 1000));
	CHECK(wait_eof(cfd, 1000));
	close(hfd);
	close(cfd);
	(void)gc;
	(void)hc;

	/* the listener survives: a new incarnation works */
	activate();
	cfd = host_connect(8002, 51, &hc);
	CHECK(cfd >= 0);
	if (cfd >= 0) {
		xfer_host_to_guest(cfd, hc, 10000);
		close(cfd);
	}
	close(lfd);
	unlink(path);
}

static void test_create_errors(void)
{
	struct virtio_vsock_config cfg = { .guest_cid = GUEST_CID, .socket_path = G.path };
	struct virtio_dev *vdev = NULL;
	struct error err = { 0 };
	char longp[200], file[128];
	int fd;

	/* in use by the live device */
	CHECK_EQ(virtio_vsock_create(&cfg, &G.h.mem, &vdev, &err), -EADDRINUSE);
	CHECK(strstr(err.msg, "--vsock socket=") && strstr(err.msg, "Address already in use"));
	cfg.guest_cid = 2;
	CHECK_EQ(virtio_vsock_create(&cfg, &G.h.mem, &vdev, &err), -EINVAL);
	cfg.guest_cid = GUEST_CID;
	memset(longp, 'x', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	cfg.socket_path = longp;
	CHECK_EQ(virtio_vsock_create(&cfg, &G.h.mem, &vdev, &err), -ENAMETOOLONG);
	/* a regular file is not replaced */
	snprintf(file, sizeof(file), "%s/file", G.dir);
	fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	close(fd);
	cfg.socket_path = file;
	CHECK_EQ(virtio_vsock_create(&cfg, &G.h.mem, &vdev, &err), -EEXIST);
	unlink(file);
	/* a stale socket is replaced */
	snprintf(file, sizeof(file), "%s/stale", G.dir);
	fd = unix_listen(file);
	close(fd);
	cfg.socket_path = file;
	CHECK_EQ(virtio_vsock_create(&cfg, &G.h.mem, &vdev, &err), 0);
	if (vdev) {
		CHECK(access(file, F_OK) == 0);
		vdev->ops->destroy(vdev);
		CHECK(access(file, F_OK) < 0); /* removed with the device */
	}
}

int main(void)
{
	struct virtio_vsock_config cfg = { .guest_cid = GUEST_CID, .id = "vsock-test" };
	struct error err = { 0 };

	signal(SIGPIPE, SIG_IGN);
	log_set_level(getenv("VSOCK_TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR);
	snprintf(G.dir, sizeof(G.dir), "/tmp/vsock-test.XXXXXX");
	if (!mkdtemp(G.dir)) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	snprintf(G.path, sizeof(G.path), "%s/v.sock", G.dir);
	cfg.socket_path = G.path;
	if (vqh_init(&G.h, T_RAM, VSOCK_NR_QUEUES, T_QSIZE) < 0)
		return 1;
	G.rx_pool = vqh_alloc(&G.h, NRX * RXBUF);
	G.tx_arena = vqh_alloc(&G.h, 128 * 1024);
	if (virtio_vsock_create(&cfg, &G.h.mem, &G.vdev, &err) < 0) {
		fprintf(stderr, "create: %s\n", err.msg);
		return 1;
	}
	activate();

	test_config();
	test_create_errors();
	test_host_to_guest();
	test_connect_line_variants();
	test_no_guest_listener();
	test_guest_to_host();
	test_linux_close_sequence();
	test_credit();
	test_malformed();
	test_handshake_limits();
	test_connection_limit();
	test_reset();

	{
		struct virtio_vsock_counters c = counters();

		printf("counters: active=%llu total=%llu refused=%llu handshake_failures=%llu "
		       "rx_bytes=%llu tx_bytes=%llu rst_sent=%llu malformed=%llu "
		       "credit_violations=%llu timeouts=%llu\n",
		       (unsigned long long)c.conns_active, (unsigned long long)c.conns_total,
		       (unsigned long long)c.conns_refused,
		       (unsigned long long)c.handshake_failures, (unsigned long long)c.rx_bytes,
		       (unsigned long long)c.tx_bytes, (unsigned long long)c.rst_sent,
		       (unsigned long long)c.malformed, (unsigned long long)c.credit_violations,
		       (unsigned long long)c.timeouts);
	}
	G.vdev->ops->destroy(G.vdev);
	CHECK(access(G.path, F_OK) < 0);
	vqh_fini(&G.h);
	rmdir(G.dir);
	printf("vsock-test: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
