/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for virtio-net: the input is a small program played by a
 * hostile guest and a hostile host side at once. It builds tx, rx and
 * control chains in the harness's fake RAM (well-formed or not), corrupts
 * descriptors and avail indices, injects frames on the backend (a
 * SOCK_SEQPACKET socketpair standing in for the tap), resets and
 * re-activates the device, and runs it. The device must never crash, hang
 * or touch memory outside guest RAM.
 *
 * The device runs in poll mode (virtio_net_poll on this thread): no worker
 * thread, so an input replays exactly.
 *
 * Input layout:
 *   byte 0   setup: bit 0 two queue pairs (control queue, MQ); bits 1..4
 *            refuse MRG_RXBUF, GUEST_CSUM, EVENT_IDX, INDIRECT_DESC
 *   then ops, each an opcode byte (low 3 bits) and its operands:
 *     0 tx chain    pair, ndesc/flags, per descriptor len16, n8, n8 bytes
 *                   (the start of the buffer; the rest is zero)
 *     1 rx chain    pair, ndesc/flags, per descriptor len16
 *     2 rx frame    pair, len16, n8, n8 bytes (repeated to the length)
 *     3 poll
 *     4 raw desc    queue, slot, 16 raw bytes
 *     5 avail idx   queue, idx16
 *     6 ctrl        class, command, data length, data, ack flag
 *     7 reset and re-activate
 *   A len16 with its top bit set means 60000 + (len16 & 0x1fff): lengths
 *   around the 65562-byte packet limit.
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "devices/virtio-net.h"
#include "vq-harness.h"

#define QSIZE 16
#define RAM_SIZE (4 * 1024 * 1024)
#define MAX_PAIRS 2
#define MAX_DESC 4
#define SMALL_LEN_MAX 2048
#define FRAME_BUF (70 * 1024)
#define FINAL_POLLS 4

/* Feature bits refused on request (virtio 1.x 5.1.3, 6). */
#define F_MRG_RXBUF 15
#define F_GUEST_CSUM 1

struct fuzz_dev {
	struct vq_harness h;
	struct virtio_dev *vdev;
	unsigned int pairs, nr_queues;
	int ours[MAX_PAIRS], peer[MAX_PAIRS]; /* ours: same socket the device dup'ed */
	uint64_t data_start;
};

static struct fuzz_dev devs[2]; /* one pair, two pairs */
static uint8_t frame_buf[FRAME_BUF];
static uint8_t tx_data[MAX_DESC][FRAME_BUF]; /* copied into guest RAM by vqh_add_* */

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t in_u8(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint16_t in_u16(struct input *in)
{
	uint16_t lo = in_u8(in);

	return (uint16_t)(lo | (uint16_t)in_u8(in) << 8);
}

_Static_assert(60000 + 0x1fff <= FRAME_BUF, "every length fits the frame buffers");

static uint32_t in_len(struct input *in)
{
	uint16_t v = in_u16(in);

	return v & 0x8000 ? 60000u + (v & 0x1fff) : v % SMALL_LEN_MAX;
}

static int fuzz_dev_setup(struct fuzz_dev *d, unsigned int pairs)
{
	struct virtio_net_config cfg = {
		.num_queues = (uint16_t)(2 * pairs),
		.queue_size = QSIZE,
		.id = "fuzz-net",
		.test_backend_fds = d->ours,
		.test_poll_mode = true,
	};
	struct error err = { 0 };

	d->pairs = pairs;
	d->nr_queues = 2 * pairs + (pairs > 1 ? 1 : 0);
	for (unsigned int i = 0; i < pairs; i++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
			return -errno;
		d->ours[i] = sv[0];
		d->peer[i] = sv[1];
	}
	if (vqh_init(&d->h, RAM_SIZE, d->nr_queues, QSIZE) < 0)
		return -ENOMEM;
	d->data_start = d->h.data_next;
	if (virtio_net_create(&cfg, &d->h.mem, &d->vdev, &err) < 0) {
		fprintf(stderr, "fuzz-virtio-net: %s\n", err.msg);
		return err.code;
	}
	return 0;
}

static void drain(int fd)
{
	while (recv(fd, frame_buf, sizeof(frame_buf), MSG_DONTWAIT) >= 0)
		;
}

/* A fresh driver: rings zeroed, features negotiated, DRIVER_OK. */
static void activate(struct fuzz_dev *d, uint64_t refuse)
{
	struct virtio_dev *vdev = d->vdev;
	uint8_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	virtio_dev_reset(vdev);
	for (unsigned int q = 0; q < d->nr_queues; q++)
		vqh_reset_queue(&d->h, q);
	vdev->mem = &d->h.mem;
	vdev->transport = &vqh_transport_ops;
	vdev->transport_data = &d->h;
	virtio_dev_set_status(vdev, s);
	vdev->driver_features = virtio_dev_offered_features(vdev) & ~refuse;
	s |= VIRTIO_STATUS_FEATURES_OK;
	virtio_dev_set_status(vdev, s);
	for (unsigned int q = 0; q < d->nr_queues; q++)
		vqh_setup_queue(&d->h, q, &vdev->queues[q]);
	s |= VIRTIO_STATUS_DRIVER_OK;
	virtio_dev_set_status(vdev, s);
}

static void op_chain(struct fuzz_dev *d, struct input *in, bool tx)
{
	uint8_t pair = in_u8(in) % d->pairs;
	uint8_t flags = in_u8(in);
	unsigned int n = 1 + flags % MAX_DESC;
	unsigned int q = 2 * pair + (tx ? 1 : 0);
	struct vqh_buf bufs[MAX_DESC];
	uint16_t head;

	memset(bufs, 0, sizeof(bufs));
	for (unsigned int i = 0; i < n; i++) {
		uint32_t len = in_len(in);

		/* bit 4+i flips the direction: tx wants readable, rx writable */
		bufs[i].writable = tx == !!(flags & (0x10u << i));
		bufs[i].len = len;
		if (tx) {
			size_t want = in_u8(in); /* read once: MIN() evaluates twice */
			size_t take = MIN(MIN(want, in->left), (size_t)len);

			/* the rest of the buffer stays zero (len <= FRAME_BUF) */
			memset(tx_data[i], 0, len);
			memcpy(tx_data[i], in->p, take);
			in->p += take;
			in->left -= take;
			bufs[i].data = bufs[i].writable ? NULL : tx_data[i];
		}
	}
	head = (flags & 0x4) ? vqh_add_indirect(&d->h, q, bufs, n) : vqh_add_chain(&d->h, q, bufs, n);
	vqh_publish(&d->h, q, head);
}

static void op_frame(struct fuzz_dev *d, struct input *in)
{
	uint8_t pair = in_u8(in) % d->pairs;
	uint32_t len = in_len(in); /* <= FRAME_BUF; and MIN() would read it twice */
	size_t want = in_u8(in); /* read once: MIN() evaluates twice */
	size_t take = MIN(MIN(want, in->left), (size_t)len);

	for (size_t i = 0; i < len; i++)
		frame_buf[i] = take ? in->p[i % take] : (uint8_t)i;
	in->p += take;
	in->left -= take;
	/* a full socket is fine: the host side just could not send */
	(void)!send(d->peer[pair], frame_buf, len, MSG_DONTWAIT);
}

static void op_raw_desc(struct fuzz_dev *d, struct input *in)
{
	unsigned int q = in_u8(in) % d->nr_queues;
	uint16_t slot = in_u8(in) % QSIZE;
	struct vqh_desc *desc = vqh_desc(&d->h, q, slot);
	uint8_t raw[16];

	for (unsigned int i = 0; i < sizeof(raw); i++)
		raw[i] = in_u8(in);
	memcpy(desc, raw, sizeof(raw));
}

static void op_ctrl(struct fuzz_dev *d, struct input *in)
{
	uint8_t cmd[2 + 255];
	uint8_t len, ack;
	struct vqh_buf bufs[2] = { 0 };
	unsigned int q = 2 * d->pairs;
	uint16_t head;

	cmd[0] = in_u8(in);
	cmd[1] = in_u8(in);
	len = in_u8(in);
	for (unsigned int i = 0; i < len; i++)
		cmd[2 + i] = in_u8(in);
	ack = in_u8(in);
	if (d->pairs < 2)
		return; /* no control queue */
	bufs[0] = (struct vqh_buf){ .len = 2u + len, .data = cmd };
	bufs[1] = (struct vqh_buf){ .len = 1, .writable = true };
	head = vqh_add_chain(&d->h, q, bufs, (ack & 1) ? 2 : 1);
	vqh_publish(&d->h, q, head);
}

static void poll_dev(struct fuzz_dev *d)
{
	if (virtio_net_poll(d->vdev) < 0)
		abort(); /* the device is in poll mode: a bug in the target */
	/* the host side reads whatever the guest sent */
	for (unsigned int i = 0; i < d->pairs; i++)
		drain(d->peer[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct input in = { data, size };
	struct fuzz_dev *d;
	uint64_t refuse = 0;
	uint8_t setup;

	if (!ready) {
		log_set_level(LOG_LEVEL_ERROR); /* hostile input is the point: no warnings */
		for (unsigned int i = 0; i < 2; i++)
			if (fuzz_dev_setup(&devs[i], i + 1) < 0)
				abort(); /* a test program, not library code */
		ready = true;
	}
	if (size < 1)
		return 0;
	setup = in_u8(&in);
	d = &devs[setup & 1];
	if (setup & 0x2)
		refuse |= VIRTIO_BIT(F_MRG_RXBUF);
	if (setup & 0x4)
		refuse |= VIRTIO_BIT(F_GUEST_CSUM);
	if (setup & 0x8)
		refuse |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	if (setup & 0x10)
		refuse |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);

	/* nothing of the previous input: backend queues empty, RAM zeroed */
	virtio_dev_reset(d->vdev);
	for (unsigned int i = 0; i < d->pairs; i++) {
		drain(d->ours[i]);
		drain(d->peer[i]);
	}
	memset(d->h.ram + d->data_start, 0, d->h.ram_size - d->data_start);
	d->h.data_next = d->data_start;
	activate(d, refuse);

	while (in.left) {
		switch (in_u8(&in) & 7) {
		case 0:
			op_chain(d, &in, true);
			break;
		case 1:
			op_chain(d, &in, false);
			break;
		case 2:
			op_frame(d, &in);
			break;
		case 3:
			poll_dev(d);
			break;
		case 4:
			op_raw_desc(d, &in);
			break;
		case 5: {
			unsigned int q = in_u8(&in) % d->nr_queues;

			vqh_set_avail_idx(&d->h, q, in_u16(&in));
			break;
		}
		case 6:
			op_ctrl(d, &in);
			break;
		case 7:
			activate(d, refuse);
			d->h.data_next = d->data_start;
			break;
		}
	}
	for (unsigned int i = 0; i < FINAL_POLLS; i++)
		poll_dev(d);
	virtio_dev_reset(d->vdev);
	return 0;
}
