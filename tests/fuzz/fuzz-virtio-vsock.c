/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for virtio-vsock: the input is a small guest's memory
 * with the rx, tx and event queues at fixed places, plus a script of
 * host-side socket actions (clients connecting to the hybrid socket and
 * writing CONNECT lines or garbage, a host listener for guest connections,
 * closes, queue kicks). The device runs in poll mode, so everything happens
 * on this thread in input order: deterministic, no sleeps. Each run ends
 * with a device reset, which must close every connection. Must never crash,
 * hang, leak or touch memory outside the fake guest RAM.
 *
 * Input layout:
 *   byte 0   log2(queue size) (mod 7: sizes 1..64)
 *   byte 1   bit 0: negotiate EVENT_IDX, bit 1: INDIRECT_DESC
 *   byte 2   n: number of 4-byte actions that follow
 *   4*n bytes actions { kind, a, b, c } (see act(); kind 8 lets the guest
 *            publish prepared ring entries later, after host actions)
 *   the rest the guest memory image from gpa 0 (the rest is zero)
 * Rings (per queue q = 0 rx, 1 tx, 2 event): desc 0x1000*q, avail
 * 0x1000*q + 0x800, used 0x1000*q + 0xc00; buffers from 0x3000 on. Guest CID 3; the host listener
 * for guest connections is on port 1024.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/guest-mem.h"
#include "common/log.h"
#include "devices/virtio-vsock.h"
#include "devices/virtio.h"

#define FUZZ_RAM_SIZE (64 * 1024)
#define FUZZ_HDR 3
#define FUZZ_CLIENTS 8
#define FUZZ_ACCEPTED 8
#define FUZZ_GUEST_CID 3
#define FUZZ_HOST_PORT 1024

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t ram[FUZZ_RAM_SIZE] __attribute__((aligned(4096)));
static struct guest_mem mem;
static struct virtio_dev *vdev;
static char dir[64], sock_path[108], host_path[120];
static int host_lfd = -1;
static int clients[FUZZ_CLIENTS], accepted[FUZZ_ACCEPTED];

static int fuzz_signal_queue(struct virtio_dev *d, uint16_t q)
{
	return 0;
}

static int fuzz_signal_config(struct virtio_dev *d)
{
	return 0;
}

static const struct virtio_transport_ops fuzz_transport = {
	.signal_queue = fuzz_signal_queue,
	.signal_config = fuzz_signal_config,
};

static void cleanup(void)
{
	if (vdev)
		vdev->ops->destroy(vdev);
	vdev = NULL;
	if (host_lfd >= 0)
		close(host_lfd);
	unlink(host_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct virtio_vsock_config cfg = { .guest_cid = FUZZ_GUEST_CID, .id = "fuzz-vsock",
					   .test_poll_mode = true };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct error err = { 0 };

	log_set_level(LOG_LEVEL_ERROR); /* hostile-guest warnings are expected here */
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < FUZZ_CLIENTS; i++)
		clients[i] = -1;
	for (int i = 0; i < FUZZ_ACCEPTED; i++)
		accepted[i] = -1;
	snprintf(dir, sizeof(dir), "/tmp/fuzz-vsock.XXXXXX");
	if (!mkdtemp(dir))
		_exit(1);
	snprintf(sock_path, sizeof(sock_path), "%s/v.sock", dir);
	snprintf(host_path, sizeof(host_path), "%s_%d", sock_path, FUZZ_HOST_PORT);
	guest_mem_init(&mem, false);
	if (guest_mem_add_buffer(&mem, 0, ram, sizeof(ram)) < 0)
		_exit(1);
	cfg.socket_path = sock_path;
	if (virtio_vsock_create(&cfg, &mem, &vdev, &err) < 0) {
		fprintf(stderr, "fuzz-virtio-vsock: %s\n", err.msg);
		_exit(1);
	}
	vdev->transport = &fuzz_transport;
	/* where guest connections to port 1024 land */
	memcpy(sa.sun_path, host_path, strlen(host_path) + 1);
	host_lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (host_lfd < 0 || bind(host_lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(host_lfd, 64) < 0)
		_exit(1);
	atexit(cleanup);
	return 0;
}

static void setup_queue(unsigned int qi, uint16_t qsize)
{
	struct virtqueue *vq = &vdev->queues[qi];
	uint64_t base = 0x1000 * (uint64_t)qi;

	vq->size = qsize;
	vq->desc_gpa = base;
	vq->avail_gpa = base + 0x800;
	vq->used_gpa = base + 0xc00;
	vq->ready = true;
}

static void kick(unsigned int q)
{
	uint64_t one = 1;

	if (write(vdev->kick_fds[q], &one, sizeof(one)) < 0)
		return;
}

static void poll_dev(void)
{
	if (virtio_vsock_poll(vdev) < 0)
		abort(); /* the harness is broken, not the device */
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void drain(int fd)
{
	uint8_t buf[4096];

	if (fd >= 0)
		while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
}

static void send_nb(int fd, const void *buf, size_t len)
{
	if (fd >= 0)
		(void)send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* One host-side action; the device is polled after each. */
static void act(const uint8_t *a)
{
	static const char garbage[] = "CONNECT 1234\nconnect 99999999999\nOK\n\0xyz\r\n"
				      "CONNECT -1\nCONNECT 4294967295\n";
	unsigned int ci = a[3] % FUZZ_CLIENTS, ai = a[3] % FUZZ_ACCEPTED;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char line[40];
	int n;

	switch (a[0] % 10) {
	case 0: /* a client connects */
		close_fd(&clients[ci]);
		clients[ci] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
		if (clients[ci] >= 0 &&
		    connect(clients[ci], (struct sockaddr *)&sa, sizeof(sa)) < 0)
			close_fd(&clients[ci]);
		break;
	case 1: /* its CONNECT line */
		n = snprintf(line, sizeof(line), "%s %u\n", a[1] & 1 ? "connect" : "CONNECT",
			     (unsigned int)a[2] | (unsigned int)(a[1] >> 1) << 8);
		send_nb(clients[ci], line, (size_t)n);
		break;
	case 2: /* garbage or stream bytes */
		send_nb(clients[ci], garbage + a[1] % (sizeof(garbage) - 1),
			1 + a[2] % (sizeof(garbage) - 1 - a[1] % (sizeof(garbage) - 1)));
		break;
	case 3:
		if (a[1] & 1)
			(void)shutdown(clients[ci], SHUT_WR);
		else
			close_fd(&clients[ci]);
		break;
	case 4:
		drain(clients[ci]);
		break;
	case 5: /* the host listener accepts a guest connection, answers, closes */
		if (accepted[ai] < 0)
			accepted[ai] = accept4(host_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (a[1] & 1)
			send_nb(accepted[ai], garbage, 1 + a[2] % (sizeof(garbage) - 1));
		if (a[1] & 2)
			drain(accepted[ai]);
		if (a[1] & 4)
			close_fd(&accepted[ai]);
		break;
	case 6:
		kick(a[1] % 3);
		break;
	case 7: /* a bigger burst of stream bytes */
		if (clients[ci] >= 0 || accepted[ai] >= 0) {
			static uint8_t burst[16384];

			memset(burst, a[1], sizeof(burst));
			send_nb(clients[ci], burst, 1 + (size_t)a[2] * 64);
			send_nb(accepted[ai], burst, 1 + (size_t)a[2] * 64);
		}
		break;
	case 8: { /* the guest publishes more of what the image prepared */
		unsigned int q = a[1] % 3;
		uint16_t *idx = (uint16_t *)(ram + 0x1000 * q + 0x800 + 2);

		*idx = (uint16_t)(*idx + 1 + a[2] % 4);
		kick(q);
		break;
	}
	default:
		break; /* just poll */
	}
	poll_dev();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t want = VIRTIO_BIT(VIRTIO_F_VERSION_1);
	uint16_t qsize;
	size_t nact, img;
	uint8_t s;

	if (size < FUZZ_HDR)
		return 0;
	nact = MIN((size_t)data[2], (size - FUZZ_HDR) / 4);
	img = FUZZ_HDR + 4 * nact;
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data + img, MIN(size - img, sizeof(ram)));
	if (data[1] & 1)
		want |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	if (data[1] & 2)
		want |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	qsize = (uint16_t)(1u << (data[0] % 7));

	/* the driver's side of 3.1.1 */
	virtio_dev_set_status(vdev, 0);
	s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	virtio_dev_set_status(vdev, s);
	vdev->driver_features = virtio_dev_offered_features(vdev) & want;
	s |= VIRTIO_STATUS_FEATURES_OK;
	virtio_dev_set_status(vdev, s);
	for (unsigned int q = 0; q < 3; q++)
		setup_queue(q, qsize);
	virtio_dev_set_status(vdev, s | VIRTIO_STATUS_DRIVER_OK);

	poll_dev();
	for (size_t i = 0; i < nact; i++)
		act(data + FUZZ_HDR + 4 * i);
	poll_dev();
	poll_dev();

	/* every connection must go with the reset */
	virtio_dev_reset(vdev);
	{
		struct virtio_vsock_counters c;

		if (virtio_vsock_get_counters(vdev, &c) < 0 || c.conns_active != 0)
			abort();
	}
	for (int i = 0; i < FUZZ_CLIENTS; i++)
		close_fd(&clients[i]);
	for (int i = 0; i < FUZZ_ACCEPTED; i++)
		close_fd(&accepted[i]);
	/* guest connections not accepted this run */
	for (;;) {
		int fd = accept4(host_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			break;
		close(fd);
	}
	/* Clients closed before the device accepted them wait in its backlog;
	 * the next run accepts them and drops them at once (EOF). */
	return 0;
}
