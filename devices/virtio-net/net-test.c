/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net tests without a VM: fake guest memory and hand-built chains
 * (vq-harness), with a SOCK_SEQPACKET socketpair per queue pair standing in
 * for the tap (one message = one frame with its 12-byte header). The device
 * runs on its real worker thread. The last test uses a real tap if
 * /dev/net/tun is usable, with the host side on 192.0.2.1/24 (TEST-NET-1)
 * and no traffic; it is skipped (with a message) otherwise.
 */
#include "net.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/test.h"
#include "vq-harness.h"


#define QSIZE 256
#define RAM_SIZE (32 * MiB)
#define MAX_PAIRS 2
#define WAIT_MS 2000

static const uint8_t test_mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

struct tnet {
	struct vq_harness h;
	struct virtio_dev *vdev;
	unsigned int pairs;
	int peer[MAX_PAIRS]; /* the "host" side of each pair's backend */
};

static void socketpair_big(int sv[2])
{
	int sz = 4 * 1024 * 1024;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		exit(1);
	}
	for (int i = 0; i < 2; i++) {
		(void)setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		(void)setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	}
}

static struct virtio_dev *tnet_create(struct tnet *t, unsigned int pairs, bool poll_mode)
{
	int ours[MAX_PAIRS];
	struct virtio_net_config cfg = {
		.mac = test_mac,
		.num_queues = (uint16_t)(2 * pairs),
		.queue_size = QSIZE,
		.id = "net-test",
		.test_backend_fds = ours,
		.test_poll_mode = poll_mode,
	};
	struct error err = { 0 };
	unsigned int nq = 2 * pairs + (pairs > 1 ? 1 : 0);
	int r;

	memset(t, 0, sizeof(*t));
	t->pairs = pairs;
	for (unsigned int i = 0; i < pairs; i++) {
		int sv[2];

		socketpair_big(sv);
		ours[i] = sv[0];
		t->peer[i] = sv[1];
	}
	r = vqh_init(&t->h, RAM_SIZE, nq, QSIZE);
	if (r < 0) {
		fprintf(stderr, "vqh_init: %s\n", strerror(-r));
		exit(1);
	}
	r = virtio_net_create(&cfg, &t->h.mem, &t->vdev, &err);
	if (r < 0) {
		fprintf(stderr, "virtio_net_create: %s\n", err.msg);
		exit(1);
	}
	/* the device holds dups; the test only keeps the peers */
	for (unsigned int i = 0; i < pairs; i++)
		close(ours[i]);
	return t->vdev;
}

static void tnet_destroy(struct tnet *t)
{
	t->vdev->ops->destroy(t->vdev);
	for (unsigned int i = 0; i < t->pairs; i++)
		close(t->peer[i]);
	vqh_fini(&t->h);
}

/* vqh_activate_device with some offered features left out. */
static int tnet_activate(struct tnet *t, uint64_t refuse)
{
	struct virtio_dev *vdev = t->vdev;
	uint8_t s = 0;

	vdev->mem = &t->h.mem;
	vdev->transport = &vqh_transport_ops;
	vdev->transport_data = &t->h;
	virtio_dev_set_status(vdev, 0);
	s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	virtio_dev_set_status(vdev, s);
	vdev->driver_features = virtio_dev_offered_features(vdev) & ~refuse;
	s |= VIRTIO_STATUS_FEATURES_OK;
	virtio_dev_set_status(vdev, s);
	if (!(vdev->status & VIRTIO_STATUS_FEATURES_OK))
		return -EPROTO;
	for (unsigned int i = 0; i < t->h.nr_queues; i++)
		vqh_setup_queue(&t->h, i, &vdev->queues[i]);
	s |= VIRTIO_STATUS_DRIVER_OK;
	virtio_dev_set_status(vdev, s);
	return (vdev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) ? -EIO : 0;
}

static bool needs_reset(struct virtio_dev *vdev)
{
	return __atomic_load_n(&vdev->status, __ATOMIC_ACQUIRE) & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

static struct virtio_net_counters counters(struct virtio_dev *vdev)
{
	struct virtio_net_counters c = { 0 };

	CHECK_EQ(virtio_net_get_counters(vdev, &c), 0);
	return c;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void kick(struct virtio_dev *vdev, unsigned int q)
{
	uint64_t one = 1;

	if (write(vdev->kick_fds[q], &one, sizeof(one)) < 0)
		perror("kick");
}

/* Frame bytes: a recognisable pattern per frame. */
static void fill_frame(uint8_t *buf, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + seed * 13 + (i >> 8));
}

static void make_hdr(uint8_t hdr[NET_HDR_LEN], uint8_t flags, uint16_t csum_start)
{
	memset(hdr, 0, NET_HDR_LEN);
	hdr[0] = flags;
	hdr[6] = (uint8_t)csum_start;
	hdr[7] = (uint8_t)(csum_start >> 8);
	hdr[8] = 16; /* csum_offset */
}

/* Receive one frame from a peer, waiting up to WAIT_MS. */
static ssize_t peer_recv(int fd, uint8_t *buf, size_t len, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	return recv(fd, buf, len, MSG_DONTWAIT);
}

/* Send header + frame from a peer as one backend frame. */
static void peer_send(int fd, const uint8_t *hdr, const uint8_t *frame, size_t len)
{
	struct iovec iov[2] = { { (void *)hdr, NET_HDR_LEN }, { (void *)frame, len } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	if (sendmsg(fd, &msg, 0) != (ssize_t)(NET_HDR_LEN + len))
		perror("peer sendmsg");
}

/* Wait until queue qi has n more used elements; fills ids/lens. */
static unsigned int wait_used(struct tnet *t, unsigned int qi, unsigned int n, uint32_t *ids,
			      uint32_t *lens)
{
	unsigned int got = 0;

	for (int ms = 0; ms < WAIT_MS && got < n; ms++) {
		while (got < n && vqh_pop_used(&t->h, qi, &ids[got], &lens[got]) == 1)
			got++;
		if (got < n)
			sleep_ms(1);
	}
	return got;
}

/* One writable chain of `len` bytes split over `ndesc` descriptors. */
static uint16_t add_rx(struct tnet *t, unsigned int qi, uint32_t len, unsigned int ndesc)
{
	struct vqh_buf bufs[4] = { 0 };
	uint16_t head;

	for (unsigned int i = 0; i < ndesc; i++) {
		bufs[i].writable = true;
		bufs[i].len = len / ndesc + (i == ndesc - 1 ? len % ndesc : 0);
	}
	head = vqh_add_chain(&t->h, qi, bufs, ndesc);
	vqh_publish(&t->h, qi, head);
	return head;
}

/* Copy `len` bytes of chain `head` of queue qi out of guest memory. */
static void read_chain(struct tnet *t, unsigned int qi, uint16_t head, uint8_t *out, size_t len)
{
	uint16_t i = head;
	size_t done = 0;

	while (done < len) {
		struct vqh_desc *d = vqh_desc(&t->h, qi, i);
		size_t n = MIN((size_t)le32toh(d->len), len - done);

		memcpy(out + done, vqh_ptr(&t->h, le64toh(d->addr)), n);
		done += n;
		if (!(le16toh(d->flags) & VIRTQ_DESC_F_NEXT))
			break;
		i = le16toh(d->next);
	}
}

/* ---------------------------------------------------------------------- */

static void test_config(void)
{
	struct tnet t;
	struct virtio_dev *vdev = tnet_create(&t, 1, false);
	uint64_t f = virtio_dev_offered_features(vdev);
	uint8_t cfg[12], mac[6];
	uint16_t v;

	CHECK_EQ(vdev->device_type, VIRTIO_ID_NET);
	CHECK_EQ(vdev->nr_queues, 2);
	CHECK(f & VIRTIO_BIT(VIRTIO_NET_F_MAC));
	CHECK(f & VIRTIO_BIT(VIRTIO_NET_F_STATUS));
	CHECK(f & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF));
	CHECK(f & VIRTIO_BIT(VIRTIO_NET_F_CSUM));
	CHECK(f & VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4));
	CHECK(f & VIRTIO_BIT(VIRTIO_NET_F_HOST_UFO));
	CHECK(f & VIRTIO_BIT(VIRTIO_F_VERSION_1));
	CHECK(!(f & VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ)));
	CHECK(!(f & VIRTIO_BIT(VIRTIO_NET_F_MQ)));
	CHECK(!(f & VIRTIO_BIT(VIRTIO_NET_F_MTU)));

	virtio_dev_config_read(vdev, 0, cfg, sizeof(cfg));
	CHECK(memcmp(cfg, test_mac, 6) == 0);
	memcpy(&v, cfg + 6, 2);
	CHECK_EQ(le16toh(v), VIRTIO_NET_S_LINK_UP);
	memcpy(&v, cfg + 8, 2);
	CHECK_EQ(le16toh(v), 1);
	/* byte-wise reads, as a driver may do */
	virtio_dev_config_read(vdev, 5, cfg, 1);
	CHECK_EQ(cfg[0], 0x55);
	/* writes are ignored (read-only with VERSION_1) */
	virtio_dev_config_write(vdev, 0, (const uint8_t[]){ 0xff, 0xff }, 2);
	virtio_dev_config_read(vdev, 0, cfg, 6);
	CHECK(memcmp(cfg, test_mac, 6) == 0);
	/* past the end: zeros, no crash */
	virtio_dev_config_read(vdev, 10, cfg, 4);
	CHECK_EQ(cfg[0] | cfg[1] | cfg[2] | cfg[3], 0);

	CHECK_EQ(virtio_net_get_mac(vdev, mac), 0);
	CHECK(memcmp(mac, test_mac, 6) == 0);
	CHECK(virtio_net_tap_name(vdev) && virtio_net_tap_name(vdev)[0] == '\0');
	tnet_destroy(&t);

	/* two pairs: control queue and MQ, max_virtqueue_pairs 2 */
	vdev = tnet_create(&t, 2, false);
	f = virtio_dev_offered_features(vdev);
	CHECK(f & VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ));
	CHECK(f & VIRTIO_BIT(VIRTIO_NET_F_MQ));
	CHECK_EQ(vdev->nr_queues, 5);
	virtio_dev_config_read(vdev, 8, cfg, 2);
	CHECK_EQ(cfg[0], 2);
	tnet_destroy(&t);
}

static void test_create_errors(void)
{
	int sv[2];
	struct vq_harness h;
	struct virtio_dev *vdev = NULL;
	struct error err = { 0 };
	const uint8_t mcast[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
	struct virtio_net_config cfg = { .test_backend_fds = sv };
	uint8_t mac[6];

	socketpair_big(sv);
	CHECK_EQ(vqh_init(&h, 1 * MiB, 2, 8), 0);

	cfg.mac = mcast;
	CHECK_EQ(virtio_net_create(&cfg, &h.mem, &vdev, &err), -EINVAL);
	CHECK(strstr(err.msg, "multicast") != NULL);
	cfg.mac = (const uint8_t[6]){ 0 };
	CHECK_EQ(virtio_net_create(&cfg, &h.mem, &vdev, &err), -EINVAL);
	cfg.mac = NULL;

	cfg.num_queues = 3;
	CHECK_EQ(virtio_net_create(&cfg, &h.mem, &vdev, &err), -EINVAL);
	CHECK(strstr(err.msg, "num_queues") != NULL);
	cfg.num_queues = 2 * VIRTIO_NET_MAX_QUEUE_PAIRS + 2;
	CHECK_EQ(virtio_net_create(&cfg, &h.mem, &vdev, &err), -EINVAL);
	cfg.num_queues = 0;
	cfg.queue_size = 100;
	CHECK_EQ(virtio_net_create(&cfg, &h.mem, &vdev, &err), -EINVAL);
	CHECK(strstr(err.msg, "queue_size") != NULL);
	cfg.queue_size = 0;
	cfg.host_mask = "255.255.255.0";
	CHECK_EQ(virtio_net_create(&cfg, &h.mem, &vdev, &err), -EINVAL);
	cfg.host_ip = "192.0.2.300";
	CHECK_EQ(virtio_net_create(&cfg, &h.mem, &vdev, &err), -EINVAL);
	CHECK(strstr(err.msg, "192.0.2.300") != NULL);
	cfg.host_ip = "192.0.2.1";
	cfg.host_mask = "255.0.255.0";
	CHECK_EQ(virtio_net_create(&cfg, &h.mem, &vdev, &err), -EINVAL);
	CHECK(strstr(err.msg, "netmask") != NULL);
	CHECK(vdev == NULL);

	/* a random MAC is unicast and locally administered */
	cfg = (struct virtio_net_config){ .test_backend_fds = sv };
	CHECK_EQ(virtio_net_create(&cfg, &h.mem, &vdev, &err), 0);
	CHECK_EQ(virtio_net_get_mac(vdev, mac), 0);
	CHECK_EQ(mac[0] & 3, 2);
	vdev->ops->destroy(vdev);

	/* not a virtio-net device */
	CHECK(virtio_net_tap_name(NULL) == NULL);
	close(sv[0]);
	close(sv[1]);
	vqh_fini(&h);
}

static void test_tx(void)
{
	struct tnet t;
	struct virtio_dev *vdev = tnet_create(&t, 1, false);
	uint8_t hdr[NET_HDR_LEN], frame[1514], pkt[2 * NET_HDR_LEN + sizeof(frame)];
	uint8_t got[NET_MAX_PACKET + 16];
	uint32_t id, len;
	ssize_t n;
	uint16_t head;

	CHECK_EQ(tnet_activate(&t, 0), 0);
	make_hdr(hdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, 34);
	fill_frame(frame, sizeof(frame), 1);
	memcpy(pkt, hdr, NET_HDR_LEN);
	memcpy(pkt + NET_HDR_LEN, frame, sizeof(frame));

	/* 1 descriptor: header and frame together */
	head = vqh_add_chain(&t.h, 1,
			     (struct vqh_buf[]){ { .len = NET_HDR_LEN + sizeof(frame), .data = pkt } },
			     1);
	vqh_publish(&t.h, 1, head);
	CHECK_EQ(vqh_kick_and_wait(&t.h, vdev, 1), 0);
	n = peer_recv(t.peer[0], got, sizeof(got), WAIT_MS);
	CHECK_EQ(n, NET_HDR_LEN + sizeof(frame));
	CHECK(memcmp(got, pkt, NET_HDR_LEN + sizeof(frame)) == 0);
	CHECK_EQ(vqh_pop_used(&t.h, 1, &id, &len), 1);
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0);

	/* 2 descriptors: header | frame */
	head = vqh_add_chain(&t.h, 1,
			     (struct vqh_buf[]){ { .len = NET_HDR_LEN, .data = hdr },
						 { .len = 60, .data = frame } },
			     2);
	vqh_publish(&t.h, 1, head);
	CHECK_EQ(vqh_kick_and_wait(&t.h, vdev, 1), 0);
	n = peer_recv(t.peer[0], got, sizeof(got), WAIT_MS);
	CHECK_EQ(n, NET_HDR_LEN + 60);
	CHECK(memcmp(got, hdr, NET_HDR_LEN) == 0 && memcmp(got + NET_HDR_LEN, frame, 60) == 0);
	CHECK_EQ(vqh_pop_used(&t.h, 1, &id, &len), 1);
	CHECK_EQ(id, head);

	/* indirect: header split over two entries, frame over two */
	head = vqh_add_indirect(&t.h, 1,
				(struct vqh_buf[]){ { .len = 5, .data = hdr },
						    { .len = NET_HDR_LEN - 5, .data = hdr + 5 },
						    { .len = 1000, .data = frame },
						    { .len = 514, .data = frame + 1000 } },
				4);
	vqh_publish(&t.h, 1, head);
	CHECK_EQ(vqh_kick_and_wait(&t.h, vdev, 1), 0);
	n = peer_recv(t.peer[0], got, sizeof(got), WAIT_MS);
	CHECK_EQ(n, NET_HDR_LEN + sizeof(frame));
	CHECK(memcmp(got, pkt, NET_HDR_LEN + sizeof(frame)) == 0);
	CHECK_EQ(vqh_pop_used(&t.h, 1, &id, &len), 1);
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0);

	/* the largest frame passes */
	{
		static uint8_t big[NET_MAX_PACKET];

		memcpy(big, hdr, NET_HDR_LEN);
		fill_frame(big + NET_HDR_LEN, NET_MAX_FRAME, 4);
		head = vqh_add_chain(&t.h, 1, (struct vqh_buf[]){ { .len = sizeof(big), .data = big } },
				     1);
		vqh_publish(&t.h, 1, head);
		CHECK_EQ(vqh_kick_and_wait(&t.h, vdev, 1), 0);
		n = peer_recv(t.peer[0], got, sizeof(got), WAIT_MS);
		CHECK_EQ(n, NET_MAX_PACKET);
		CHECK(n == NET_MAX_PACKET && memcmp(got, big, NET_MAX_PACKET) == 0);
		CHECK_EQ(vqh_pop_used(&t.h, 1, &id, &len), 1);
	}

	struct virtio_net_counters c = counters(vdev);
	CHECK_EQ(c.tx_packets, 4);
	CHECK_EQ(c.tx_bytes, 2 * sizeof(frame) + 60 + NET_MAX_FRAME);
	CHECK_EQ(c.tx_dropped, 0);
	CHECK(t.h.queue_signals[1] > 0);
	CHECK(!needs_reset(vdev));
	tnet_destroy(&t);
}

static void test_tx_drops(void)
{
	struct tnet t;
	struct virtio_dev *vdev = tnet_create(&t, 1, false);
	static uint8_t big[NET_MAX_PACKET + 1];
	uint8_t got[2048];
	uint32_t id, len;
	uint16_t h1, h2, h3;

	CHECK_EQ(tnet_activate(&t, 0), 0);
	/* one byte over the maximum, split so each descriptor is ordinary */
	h1 = vqh_add_chain(&t.h, 1,
			   (struct vqh_buf[]){ { .len = NET_HDR_LEN, .data = big },
					       { .len = NET_MAX_FRAME / 2 },
					       { .len = NET_MAX_FRAME / 2 + 1 } },
			   3);
	/* shorter than the header */
	h2 = vqh_add_chain(&t.h, 1, (struct vqh_buf[]){ { .len = 11, .data = big } }, 1);
	/* and then a good one: the device keeps working */
	h3 = vqh_add_chain(&t.h, 1, (struct vqh_buf[]){ { .len = NET_HDR_LEN + 100, .data = big } },
			   1);
	vqh_publish(&t.h, 1, h1);
	vqh_publish(&t.h, 1, h2);
	vqh_publish(&t.h, 1, h3);
	CHECK_EQ(vqh_kick_and_wait(&t.h, vdev, 1), 0);
	for (unsigned int i = 0; i < 3; i++) {
		CHECK_EQ(vqh_pop_used(&t.h, 1, &id, &len), 1);
		CHECK_EQ(id, i == 0 ? h1 : i == 1 ? h2 : h3);
		CHECK_EQ(len, 0);
	}
	CHECK_EQ(peer_recv(t.peer[0], got, sizeof(got), WAIT_MS), NET_HDR_LEN + 100);
	CHECK_EQ(peer_recv(t.peer[0], got, sizeof(got), 50), -1);

	struct virtio_net_counters c = counters(vdev);
	CHECK_EQ(c.tx_dropped, 2);
	CHECK_EQ(c.tx_packets, 1);
	CHECK(!needs_reset(vdev));
	tnet_destroy(&t);
}

static void test_tx_backpressure(void)
{
	struct tnet t;
	struct virtio_dev *vdev = tnet_create(&t, 1, false);
	uint8_t pkt[NET_HDR_LEN + 1000], got[2048];
	int small = 1; /* the kernel rounds up to its minimum */
	unsigned int frames = 200, used = 0, recvd = 0;
	uint32_t id, len;

	/* the device's end of the socket has only a few frames in flight */
	CHECK_EQ(setsockopt(to_net(vdev)->pairs[0].fd, SOL_SOCKET, SO_SNDBUF, &small,
			    sizeof(small)),
		 0);
	CHECK_EQ(tnet_activate(&t, 0), 0);
	for (unsigned int i = 0; i < frames; i++) {
		uint16_t head;

		memset(pkt, 0, NET_HDR_LEN);
		fill_frame(pkt + NET_HDR_LEN, sizeof(pkt) - NET_HDR_LEN, i);
		head = vqh_add_chain(&t.h, 1, (struct vqh_buf[]){ { .len = sizeof(pkt), .data = pkt } },
				     1);
		vqh_publish(&t.h, 1, head);
	}
	kick(vdev, 1);
	sleep_ms(100);
	while (vqh_pop_used(&t.h, 1, &id, &len) == 1)
		used++;
	/* blocked, not dropped */
	CHECK(used < frames);
	CHECK_EQ(counters(vdev).tx_dropped, 0);
	/* the host side reads: EPOLLOUT resumes the queue, in order */
	for (int ms = 0; ms < WAIT_MS && recvd < frames; ) {
		ssize_t n = peer_recv(t.peer[0], got, sizeof(got), 10);

		if (n < 0) {
			ms += 10;
			continue;
		}
		CHECK_EQ(n, sizeof(pkt));
		fill_frame(pkt + NET_HDR_LEN, sizeof(pkt) - NET_HDR_LEN, recvd);
		CHECK(memcmp(got + NET_HDR_LEN, pkt + NET_HDR_LEN, sizeof(pkt) - NET_HDR_LEN) == 0);
		recvd++;
	}
	CHECK_EQ(recvd, frames);
	used += wait_used(&t, 1, frames - used, (uint32_t[256]){ 0 }, (uint32_t[256]){ 0 });
	CHECK_EQ(used, frames);
	CHECK_EQ(counters(vdev).tx_packets, frames);
	CHECK_EQ(counters(vdev).tx_dropped, 0);
	tnet_destroy(&t);
}

static void test_tx_writable(void)
{
	struct tnet t;
	struct virtio_dev *vdev = tnet_create(&t, 1, false);
	uint16_t head;

	CHECK_EQ(tnet_activate(&t, 0), 0);
	head = vqh_add_chain(&t.h, 1,
			     (struct vqh_buf[]){ { .len = 100 }, { .len = 100, .writable = true } }, 2);
	vqh_publish(&t.h, 1, head);
	CHECK_EQ(vqh_kick_and_wait(&t.h, vdev, 1), 0);
	CHECK(needs_reset(vdev));
	CHECK(t.h.config_signals > 0);
	tnet_destroy(&t);
}

/* Check a delivered mergeable frame: returns how many used elements it took. */
static unsigned int check_mrg_frame(struct tnet *t, const uint32_t *ids, const uint32_t *lens,
				    unsigned int avail, const uint8_t *hdr, const uint8_t *frame,
				    size_t flen)
{
	static uint8_t buf[NET_MAX_PACKET + 4096];
	size_t off = 0;
	uint16_t nb;
	unsigned int k;

	if (avail == 0)
		return 0;
	read_chain(t, 0, (uint16_t)ids[0], buf, lens[0]);
	memcpy(&nb, buf + NET_HDR_NUM_BUFFERS_OFF, 2);
	nb = le16toh(nb);
	CHECK(nb >= 1 && nb <= avail);
	if (nb < 1 || nb > avail)
		return avail;
	off = lens[0];
	for (k = 1; k < nb; k++) {
		read_chain(t, 0, (uint16_t)ids[k], buf + off, lens[k]);
		off += lens[k];
	}
	CHECK_EQ(off, NET_HDR_LEN + flen);
	CHECK(memcmp(buf, hdr, NET_HDR_NUM_BUFFERS_OFF) == 0);
	CHECK(off == NET_HDR_LEN + flen && memcmp(buf + NET_HDR_LEN, frame, flen) == 0);
	return nb;
}

static void test_rx_mergeable(void)
{
	static const size_t sizes[] = { 60, 1514, 4000, NET_MAX_FRAME, 1 };
	static uint8_t frames[5][NET_MAX_FRAME];
	struct tnet t;
	struct virtio_dev *vdev = tnet_create(&t, 1, false);
	uint8_t hdr[NET_HDR_LEN];
	uint32_t ids[QSIZE], lens[QSIZE];
	unsigned int got, at = 0, nbufs = 0;
	uint64_t bytes = 0;

	CHECK_EQ(tnet_activate(&t, 0), 0);
	make_hdr(hdr, VIRTIO_NET_HDR_F_DATA_VALID, 0);
	/* 1526-byte buffers, as Linux's mergeable ones, some split in two */
	for (unsigned int i = 0; i < 64; i++)
		add_rx(&t, 0, 1526, i % 3 == 0 ? 2 : 1);
	kick(vdev, 0);
	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		fill_frame(frames[i], sizes[i], 10 + i);
		peer_send(t.peer[0], hdr, frames[i], sizes[i]);
		nbufs += (unsigned int)((NET_HDR_LEN + sizes[i] + 1525) / 1526);
		bytes += sizes[i];
	}
	got = wait_used(&t, 0, nbufs, ids, lens);
	CHECK_EQ(got, nbufs);
	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		unsigned int k = check_mrg_frame(&t, ids + at, lens + at, got - at, hdr, frames[i],
						 sizes[i]);

		CHECK_EQ(k, (NET_HDR_LEN + sizes[i] + 1525) / 1526);
		at += k;
	}
	struct virtio_net_counters c = counters(vdev);
	CHECK_EQ(c.rx_packets, ARRAY_SIZE(sizes));
	CHECK_EQ(c.rx_bytes, bytes);
	CHECK_EQ(c.rx_dropped, 0);
	CHECK(t.h.queue_signals[0] > 0);
	CHECK(!needs_reset(vdev));
	tnet_destroy(&t);
}

static void test_rx_big(void)
{
	static uint8_t frame[NET_MAX_FRAME];
	static uint8_t buf[NET_MAX_PACKET];
	struct tnet t;
	struct virtio_dev *vdev = tnet_create(&t, 1, false);
	uint8_t hdr[NET_HDR_LEN];
	uint32_t ids[4], lens[4];
	uint16_t heads[3];
	uint16_t nb;

	/* "big packets": no MRG_RXBUF, each chain holds a whole frame */
	CHECK_EQ(tnet_activate(&t, VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF)), 0);
	CHECK(!virtio_dev_has_feature(vdev, VIRTIO_NET_F_MRG_RXBUF));
	make_hdr(hdr, 0, 0);
	hdr[NET_HDR_NUM_BUFFERS_OFF] = 0x77; /* the tap leaves this byte alone */
	fill_frame(frame, sizeof(frame), 3);
	heads[0] = add_rx(&t, 0, NET_MAX_PACKET, 4);
	heads[1] = add_rx(&t, 0, NET_MAX_PACKET, 1);
	heads[2] = add_rx(&t, 0, 1526, 1); /* too small for the next frame */
	kick(vdev, 0);
	peer_send(t.peer[0], hdr, frame, 100);
	peer_send(t.peer[0], hdr, frame, NET_MAX_FRAME);
	peer_send(t.peer[0], hdr, frame, 4000);
	CHECK_EQ(wait_used(&t, 0, 3, ids, lens), 3);
	CHECK_EQ(ids[0], heads[0]);
	CHECK_EQ(lens[0], NET_HDR_LEN + 100);
	read_chain(&t, 0, heads[0], buf, lens[0]);
	memcpy(&nb, buf + NET_HDR_NUM_BUFFERS_OFF, 2);
	CHECK_EQ(le16toh(nb), 1);
	CHECK(memcmp(buf + NET_HDR_LEN, frame, 100) == 0);
	CHECK_EQ(ids[1], heads[1]);
	CHECK_EQ(lens[1], NET_MAX_PACKET);
	read_chain(&t, 0, heads[1], buf, lens[1]);
	CHECK(memcmp(buf + NET_HDR_LEN, frame, NET_MAX_FRAME) == 0);
	/* the 4000-byte frame did not fit: dropped, buffer back empty */
	CHECK_EQ(ids[2], heads[2]);
	CHECK_EQ(lens[2], 0);
	struct virtio_net_counters c = counters(vdev);
	CHECK_EQ(c.rx_packets, 2);
	CHECK_EQ(c.rx_dropped, 1);
	CHECK(!needs_reset(vdev));
	tnet_destroy(&t);
}

static void test_rx_waits_for_buffers(void)
{
	struct tnet t;
	struct virtio_dev *vdev = tnet_create(&t, 1, false);
	uint8_t hdr[NET_HDR_LEN], frame[3][200];
	uint8_t buf[2048];
	uint32_t ids[8], lens[8];
	unsigned int got;

	CHECK_EQ(tnet_activate(&t, 0), 0);
	make_hdr(hdr, 0, 0);
	for (unsigned int i = 0; i < 3; i++) {
		fill_frame(frame[i], sizeof(frame[i]), 20 + i);
		peer_send(t.peer[0], hdr, frame[i], sizeof(frame[i]));
	}
	/* no buffers: nothing delivered, nothing dropped, no spinning */
	sleep_ms(100);
	struct virtio_net_counters c = counters(vdev);
	CHECK_EQ(c.rx_packets, 0);
	CHECK_EQ(c.rx_dropped, 0);

	/* one buffer: exactly one frame, the rest keep waiting */
	add_rx(&t, 0, 2048, 1);
	kick(vdev, 0);
	got = wait_used(&t, 0, 1, ids, lens);
	CHECK_EQ(got, 1);
	sleep_ms(50);
	CHECK_EQ(vqh_pop_used(&t.h, 0, NULL, NULL), 0);

	for (unsigned int i = 0; i < 4; i++)
		add_rx(&t, 0, 2048, 1);
	kick(vdev, 0);
	got += wait_used(&t, 0, 2, ids + 1, lens + 1);
	CHECK_EQ(got, 3);
	for (unsigned int i = 0; i < got; i++) {
		CHECK_EQ(lens[i], NET_HDR_LEN + sizeof(frame[i]));
		read_chain(&t, 0, (uint16_t)ids[i], buf, lens[i]);
		CHECK(memcmp(buf + NET_HDR_LEN, frame[i], sizeof(frame[i])) == 0);
	}
	/* a later frame goes straight into the spare buffers */
	peer_send(t.peer[0], hdr, frame[0], 64);
	CHECK_EQ(wait_used(&t, 0, 1, ids, lens), 1);
	CHECK_EQ(lens[0], NET_HDR_LEN + 64);
	c = counters(vdev);
	CHECK_EQ(c.rx_packets, 4);
	CHECK_EQ(c.rx_dropped, 0);
	tnet_destroy(&t);
}

static void test_rx_no_room(void)
{
	static uint8_t frame[NET_MAX_FRAME];
	struct tnet t;
	struct virtio_dev *vdev;
	struct error err = { 0 };
	int sv[2];
	struct virtio_net_config cfg = { .test_backend_fds = sv, .queue_size = 4 };
	uint8_t hdr[NET_HDR_LEN];
	uint32_t ids[8], lens[8];

	/* a 4-entry ring of small buffers can never hold a 64 KiB frame */
	memset(&t, 0, sizeof(t));
	socketpair_big(sv);
	t.pairs = 1;
	t.peer[0] = sv[1];
	CHECK_EQ(vqh_init(&t.h, 4 * MiB, 2, 4), 0);
	CHECK_EQ(virtio_net_create(&cfg, &t.h.mem, &vdev, &err), 0);
	close(sv[0]);
	t.vdev = vdev;
	CHECK_EQ(tnet_activate(&t, 0), 0);
	make_hdr(hdr, 0, 0);
	peer_send(t.peer[0], hdr, frame, sizeof(frame));
	peer_send(t.peer[0], hdr, frame, 100);
	for (unsigned int i = 0; i < 4; i++)
		add_rx(&t, 0, 2048, 1);
	kick(vdev, 0);
	CHECK_EQ(wait_used(&t, 0, 4, ids, lens), 4);
	for (unsigned int i = 0; i < 4; i++)
		CHECK_EQ(lens[i], 0);
	/* the ring is back: the next frame fits */
	for (unsigned int i = 0; i < 4; i++)
		add_rx(&t, 0, 2048, 1);
	kick(vdev, 0);
	CHECK_EQ(wait_used(&t, 0, 1, ids, lens), 1);
	CHECK_EQ(lens[0], NET_HDR_LEN + 100);
	struct virtio_net_counters c = counters(vdev);
	CHECK_EQ(c.rx_dropped, 1);
	CHECK_EQ(c.rx_packets, 1);
	CHECK(!needs_reset(vdev));
	tnet_destroy(&t);
}

static void test_rx_readable(void)
{
	struct tnet t;
	struct virtio_dev *vdev = tnet_create(&t, 1, false);
	uint8_t hdr[NET_HDR_LEN], frame[64] = { 0 };
	uint16_t head;

	CHECK_EQ(tnet_activate(&t, 0), 0);
	make_hdr(hdr, 0, 0);
	peer_send(t.peer[0], hdr, frame, sizeof(frame));
	head = vqh_add_chain(&t.h, 0,
			     (struct vqh_buf[]){ { .len = 100 }, { .len = 2000, .writable = true } },
			     2);
	vqh_publish(&t.h, 0, head);
	CHECK_EQ(vqh_kick_and_wait(&t.h, vdev, 0), 0);
	for (int i = 0; i < 200 && !needs_reset(vdev); i++)
		sleep_ms(10);
	CHECK(needs_reset(vdev));
	CHECK_EQ(vqh_pop_used(&t.h, 0, NULL, NULL), 0);
	tnet_destroy(&t);
}

static void test_malformed_and_reset(void)
{
	struct tnet t;
	struct virtio_dev *vdev = tnet_create(&t, 1, false);
	uint8_t pkt[NET_HDR_LEN + 64] = { 0 };
	uint8_t got[256];
	struct vqh_desc *d;
	uint16_t head;

	CHECK_EQ(tnet_activate(&t, 0), 0);
	/* a chain that loops onto itself */
	head = vqh_add_chain(&t.h, 1, (struct vqh_buf[]){ { .len = 64 }, { .len = 64 } }, 2);
	d = vqh_desc(&t.h, 1, (uint16_t)(head + 1));
	d->next = htole16(head);
	d->flags = htole16(VIRTQ_DESC_F_NEXT);
	vqh_publish(&t.h, 1, head);
	CHECK_EQ(vqh_kick_and_wait(&t.h, vdev, 1), 0);
	CHECK(needs_reset(vdev));

	/* reset, then a fresh driver: everything works again */
	virtio_dev_reset(vdev);
	CHECK(!needs_reset(vdev));
	vqh_fini(&t.h);
	CHECK_EQ(vqh_init(&t.h, RAM_SIZE, 2, QSIZE), 0);
	CHECK_EQ(tnet_activate(&t, 0), 0);
	head = vqh_add_chain(&t.h, 1, (struct vqh_buf[]){ { .len = sizeof(pkt), .data = pkt } }, 1);
	vqh_publish(&t.h, 1, head);
	CHECK_EQ(vqh_kick_and_wait(&t.h, vdev, 1), 0);
	CHECK_EQ(peer_recv(t.peer[0], got, sizeof(got), WAIT_MS), sizeof(pkt));

	/* rx: a buffer outside guest RAM */
	head = vqh_add_chain(&t.h, 0,
			     (struct vqh_buf[]){ { .gpa = RAM_SIZE - 16, .len = 4096,
						   .writable = true } },
			     1);
	vqh_publish(&t.h, 0, head);
	peer_send(t.peer[0], pkt, pkt + NET_HDR_LEN, 64);
	for (int i = 0; i < 200 && !needs_reset(vdev); i++)
		sleep_ms(10);
	CHECK(needs_reset(vdev));

	/* avail index far ahead on a fresh device */
	virtio_dev_reset(vdev);
	vqh_fini(&t.h);
	CHECK_EQ(vqh_init(&t.h, RAM_SIZE, 2, QSIZE), 0);
	CHECK_EQ(tnet_activate(&t, 0), 0);
	vqh_set_avail_idx(&t.h, 1, 5000);
	CHECK_EQ(vqh_kick_and_wait(&t.h, vdev, 1), 0);
	for (int i = 0; i < 200 && !needs_reset(vdev); i++)
		sleep_ms(10);
	CHECK(needs_reset(vdev));
	/* a pending rx frame at reset is counted dropped, never delivered late */
	virtio_dev_reset(vdev);
	tnet_destroy(&t);
}

/* Send one control command; returns the ack byte (or 0xff if none came). */
static uint8_t ctrl_cmd(struct tnet *t, unsigned int cq, uint8_t cls, uint8_t cmd,
			const void *data, uint32_t len)
{
	uint8_t hdr[2] = { cls, cmd }, *ack;
	struct vqh_buf bufs[3] = {
		{ .len = 2, .data = hdr },
		{ .len = len, .data = data },
		{ .len = 1, .writable = true, .data = (const uint8_t[]){ 0xff } },
	};
	uint32_t id, ulen;
	uint16_t head;
	unsigned int n = len ? 3 : 2;

	if (!len)
		bufs[1] = bufs[2];
	head = vqh_add_chain(&t->h, cq, bufs, n);
	vqh_publish(&t->h, cq, head);
	if (vqh_kick_and_wait(&t->h, t->vdev, cq) < 0 || vqh_pop_used(&t->h, cq, &id, &ulen) != 1)
		return 0xff;
	CHECK_EQ(id, head);
	CHECK_EQ(ulen, 1);
	ack = vqh_ptr(&t->h, bufs[n - 1].gpa);
	return *ack;
}

static void test_ctrl_mq(void)
{
	struct tnet t;
	struct virtio_dev *vdev = tnet_create(&t, 2, false);
	uint8_t hdr[NET_HDR_LEN], frame[100], got[256];
	uint32_t ids[2], lens[2];
	uint16_t pairs, head;
	uint8_t table[4 + 6 + 4 + 12] = { 1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 2, 0, 0, 0 };

	CHECK_EQ(tnet_activate(&t, 0), 0);
	CHECK(virtio_dev_has_feature(vdev, VIRTIO_NET_F_MQ));
	make_hdr(hdr, 0, 0);
	fill_frame(frame, sizeof(frame), 5);

	/* before VQ_PAIRS_SET only pair 0 receives (5.1.6.5.5) */
	add_rx(&t, 2, 2048, 1);
	kick(vdev, 2);
	peer_send(t.peer[1], hdr, frame, sizeof(frame));
	sleep_ms(100);
	CHECK_EQ(vqh_pop_used(&t.h, 2, NULL, NULL), 0);

	pairs = htole16(3);
	CHECK_EQ(ctrl_cmd(&t, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2),
		 VIRTIO_NET_ERR);
	pairs = htole16(0);
	CHECK_EQ(ctrl_cmd(&t, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2),
		 VIRTIO_NET_ERR);
	CHECK_EQ(ctrl_cmd(&t, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 1),
		 VIRTIO_NET_ERR);
	pairs = htole16(2);
	CHECK_EQ(ctrl_cmd(&t, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2),
		 VIRTIO_NET_OK);
	/* now the waiting frame on pair 1 arrives */
	CHECK_EQ(wait_used(&t, 2, 1, ids, lens), 1);
	CHECK_EQ(lens[0], NET_HDR_LEN + sizeof(frame));

	/* tx on pair 1 goes to its own backend */
	memcpy(got, hdr, NET_HDR_LEN);
	memcpy(got + NET_HDR_LEN, frame, sizeof(frame));
	head = vqh_add_chain(&t.h, 3,
			     (struct vqh_buf[]){ { .len = NET_HDR_LEN + sizeof(frame), .data = got } },
			     1);
	vqh_publish(&t.h, 3, head);
	CHECK_EQ(vqh_kick_and_wait(&t.h, vdev, 3), 0);
	CHECK_EQ(peer_recv(t.peer[1], got, sizeof(got), WAIT_MS), NET_HDR_LEN + sizeof(frame));
	CHECK_EQ(peer_recv(t.peer[0], got, sizeof(got), 20), -1);

	/* back to one pair: pair 1 no longer receives */
	pairs = htole16(1);
	CHECK_EQ(ctrl_cmd(&t, 4, VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, &pairs, 2),
		 VIRTIO_NET_OK);
	add_rx(&t, 2, 2048, 1);
	kick(vdev, 2);
	peer_send(t.peer[1], hdr, frame, sizeof(frame));
	sleep_ms(100);
	CHECK_EQ(vqh_pop_used(&t.h, 2, NULL, NULL), 0);

	/* other classes */
	CHECK_EQ(ctrl_cmd(&t, 4, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC,
			  (const uint8_t[]){ 1 }, 1),
		 VIRTIO_NET_OK);
	CHECK_EQ(ctrl_cmd(&t, 4, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_NOBCAST,
			  (const uint8_t[]){ 1 }, 1),
		 VIRTIO_NET_ERR);
	CHECK_EQ(ctrl_cmd(&t, 4, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table,
			  sizeof(table)),
		 VIRTIO_NET_OK);
	CHECK_EQ(ctrl_cmd(&t, 4, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, table,
			  sizeof(table) - 1),
		 VIRTIO_NET_ERR);
	CHECK_EQ(ctrl_cmd(&t, 4, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, test_mac, 6),
		 VIRTIO_NET_ERR);
	CHECK_EQ(ctrl_cmd(&t, 4, 77, 0, NULL, 0), VIRTIO_NET_ERR);
	CHECK(!needs_reset(vdev));

	/* a command without a writable ack byte cannot be answered */
	head = vqh_add_chain(&t.h, 4, (struct vqh_buf[]){ { .len = 4, .data = table } }, 1);
	vqh_publish(&t.h, 4, head);
	CHECK_EQ(vqh_kick_and_wait(&t.h, vdev, 4), 0);
	CHECK(needs_reset(vdev));
	tnet_destroy(&t);
}

static void test_poll_mode(void)
{
	struct tnet t;
	struct virtio_dev *vdev = tnet_create(&t, 1, true);
	uint8_t pkt[NET_HDR_LEN + 80] = { 0 }, got[256];
	uint32_t id, len;
	uint16_t head;

	CHECK_EQ(tnet_activate(&t, 0), 0);
	head = vqh_add_chain(&t.h, 1, (struct vqh_buf[]){ { .len = sizeof(pkt), .data = pkt } }, 1);
	vqh_publish(&t.h, 1, head);
	add_rx(&t, 0, 2048, 1);
	peer_send(t.peer[0], pkt, pkt + NET_HDR_LEN, 80);
	CHECK_EQ(virtio_net_poll(vdev), 0);
	CHECK_EQ(vqh_pop_used(&t.h, 1, &id, &len), 1);
	CHECK_EQ(recv(t.peer[0], got, sizeof(got), MSG_DONTWAIT), sizeof(pkt));
	CHECK_EQ(vqh_pop_used(&t.h, 0, &id, &len), 1);
	CHECK_EQ(len, sizeof(pkt));
	/* an empty datagram is a runt, not EOF: the next frame still arrives */
	CHECK_EQ(send(t.peer[0], pkt, 0, 0), 0);
	peer_send(t.peer[0], pkt, pkt + NET_HDR_LEN, 80);
	add_rx(&t, 0, 2048, 1);
	CHECK_EQ(virtio_net_poll(vdev), 0);
	CHECK_EQ(vqh_pop_used(&t.h, 0, &id, &len), 1);
	CHECK_EQ(len, sizeof(pkt));
	CHECK_EQ(counters(vdev).rx_dropped, 1);
	/* the peer hangs up: the device notes it and carries on */
	close(t.peer[0]);
	t.peer[0] = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	head = vqh_add_chain(&t.h, 1, (struct vqh_buf[]){ { .len = sizeof(pkt), .data = pkt } }, 1);
	vqh_publish(&t.h, 1, head);
	CHECK_EQ(virtio_net_poll(vdev), 0);
	CHECK_EQ(virtio_net_poll(vdev), 0);
	CHECK_EQ(vqh_pop_used(&t.h, 1, &id, &len), 1);
	CHECK_EQ(counters(vdev).tx_dropped, 1);
	CHECK_EQ(counters(vdev).rx_dropped, 1); /* EOF is not a runt */
	CHECK(to_net(vdev)->pairs[0].backend_dead);
	CHECK(!needs_reset(vdev));
	tnet_destroy(&t);
}

/* ---------------------------------------------------------------------- */

static bool tap_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

static void test_real_tap(void)
{
	struct vq_harness h;
	struct virtio_dev *vdev = NULL;
	struct error err = { 0 };
	struct virtio_net_config cfg = {
		.tap = "nctest%d",
		.host_ip = "192.0.2.1",
		.host_mask = "255.255.255.0",
		.num_queues = 4,
		.id = "net-tap-test",
	};
	struct ifreq ifr;
	char name[IFNAMSIZ];
	int fd, sock, r;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("SKIP: real tap test: /dev/net/tun: %s\n", strerror(errno));
		return;
	}
	close(fd);
	CHECK_EQ(vqh_init(&h, 4 * MiB, 5, 64), 0);
	r = virtio_net_create(&cfg, &h.mem, &vdev, &err);
	if (r == -EPERM || r == -EACCES || r == -EOPNOTSUPP || r == -ENODEV) {
		printf("SKIP: real tap test: %s\n", err.msg);
		vqh_fini(&h);
		return;
	}
	CHECK_EQ(r, 0);
	if (r < 0) {
		fprintf(stderr, "real tap: %s\n", err.msg);
		vqh_fini(&h);
		return;
	}
	snprintf(name, sizeof(name), "%s", virtio_net_tap_name(vdev));
	CHECK(strncmp(name, "nctest", 6) == 0);
	CHECK(tap_exists(name));

	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	CHECK_EQ(ioctl(sock, SIOCGIFADDR, &ifr), 0);
	CHECK_EQ(((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr, inet_addr("192.0.2.1"));
	CHECK_EQ(ioctl(sock, SIOCGIFNETMASK, &ifr), 0);
	CHECK_EQ(((struct sockaddr_in *)&ifr.ifr_netmask)->sin_addr.s_addr,
		 inet_addr("255.255.255.0"));
	CHECK_EQ(ioctl(sock, SIOCGIFFLAGS, &ifr), 0);
	CHECK(ifr.ifr_flags & IFF_UP);
	close(sock);

	/* activation runs TUNSETOFFLOAD and TUNSETQUEUE on the real tap */
	CHECK_EQ(vqh_activate_device(&h, vdev), 0);
	CHECK(!needs_reset(vdev));
	virtio_dev_reset(vdev);
	CHECK_EQ(vqh_activate_device(&h, vdev), 0);
	CHECK(!needs_reset(vdev));
	vdev->ops->destroy(vdev);
	vqh_fini(&h);
	/* nacelle's own (non-persistent) tap goes with its last fd */
	CHECK(!tap_exists(name));
	printf("real tap test ran on %s\n", name);
}

int main(void)
{
	/* a peer that hangs up must not kill the test */
	signal(SIGPIPE, SIG_IGN);
	if (getenv("NET_TEST_DEBUG"))
		log_set_level(LOG_LEVEL_DEBUG);

	test_config();
	test_create_errors();
	test_tx();
	test_tx_drops();
	test_tx_backpressure();
	test_tx_writable();
	test_rx_mergeable();
	test_rx_big();
	test_rx_waits_for_buffers();
	test_rx_no_room();
	test_rx_readable();
	test_malformed_and_reset();
	test_ctrl_mq();
	test_poll_mode();
	test_real_tap();

	printf("net-test: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
