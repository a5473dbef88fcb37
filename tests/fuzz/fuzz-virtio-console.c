/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for virtio-console: the input is a small guest's memory
 * with receiveq and transmitq at fixed places, plus bytes of host input and
 * config accesses. Output goes to a small non-blocking pipe that is drained
 * only between runs, so the full-sink (held chain) path is exercised too.
 * We activate the device, feed input, kick the queues and reset it, which
 * joins the real worker after it handled the kicks. Must never crash, hang
 * or touch memory outside the fake guest RAM.
 *
 * Input layout:
 *   byte 0   log2(queue size) (mod 9: sizes 1..256)
 *   byte 1   bit 0: negotiate EVENT_IDX, bit 1: INDIRECT_DESC, bit 2: F_SIZE,
 *            bit 3: kick receiveq, bit 4: kick transmitq, bit 5: kick both again
 *   byte 2   config write offset, byte 3 its size (mod 5), byte 4 its value
 *   byte 5   config read offset, byte 6 its size (mod 5)
 *   byte 7   n: host input bytes that follow the header
 *   bytes 8..8+n      host input, written to in_fd before the kicks
 *   the rest          guest memory image from gpa 0 (the rest is zero)
 * Rings: receiveq desc 0x0000 avail 0x1000 used 0x1800; transmitq desc 0x2000
 * avail 0x3000 used 0x3800.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/guest-mem.h"
#include "common/log.h"
#include "devices/virtio-console.h"
#include "devices/virtio.h"

#define FUZZ_RAM_SIZE (64 * 1024)
#define FUZZ_HDR 8

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t ram[FUZZ_RAM_SIZE] __attribute__((aligned(4096)));
static struct guest_mem mem;
static struct virtio_dev *vdev;
static int out_pipe[2], in_pipe[2];

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

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct error err = { 0 };

	log_set_level(LOG_LEVEL_ERROR); /* hostile-guest warnings are expected here */
	signal(SIGPIPE, SIG_IGN);
	guest_mem_init(&mem, false);
	if (guest_mem_add_buffer(&mem, 0, ram, sizeof(ram)) < 0 ||
	    pipe2(out_pipe, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pipe2(in_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		_exit(1);
	/* small, so a few chains fill it and the device must hold output back */
	(void)fcntl(out_pipe[1], F_SETPIPE_SZ, 4096);
	if (virtio_console_create(out_pipe[1], in_pipe[0], &mem, &vdev, &err) < 0)
		_exit(1); /* the harness itself is broken: nothing to fuzz */
	vdev->transport = &fuzz_transport;
	return 0;
}

static void kick(unsigned int q)
{
	uint64_t one = 1;

	if (write(vdev->kick_fds[q], &one, sizeof(one)) < 0)
		return;
}

static void drain(int fd)
{
	uint8_t buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void setup_queue(unsigned int qi, uint16_t qsize)
{
	struct virtqueue *vq = &vdev->queues[qi];
	uint64_t base = 0x2000 * (uint64_t)qi;

	vq->size = qsize;
	vq->desc_gpa = base;
	vq->avail_gpa = base + 0x1000;
	vq->used_gpa = base + 0x1800;
	vq->ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t want = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_CONSOLE_F_EMERG_WRITE);
	uint16_t qsize;
	uint8_t cfg[8], wr[4];
	size_t nin;
	uint8_t s;

	if (size < FUZZ_HDR)
		return 0;
	nin = MIN((size_t)data[7], size - FUZZ_HDR);
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data + FUZZ_HDR + nin, MIN(size - FUZZ_HDR - nin, sizeof(ram)));
	if (data[1] & 1)
		want |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	if (data[1] & 2)
		want |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	if (data[1] & 4)
		want |= VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE);
	qsize = (uint16_t)(1u << (data[0] % 9));

	/* the driver's side of 3.1.1 */
	virtio_dev_set_status(vdev, 0);
	s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	virtio_dev_set_status(vdev, s);
	vdev->driver_features = virtio_dev_offered_features(vdev) & want;
	s |= VIRTIO_STATUS_FEATURES_OK;
	virtio_dev_set_status(vdev, s);
	setup_queue(VIRTIO_CONSOLE_QUEUE_RX, qsize);
	setup_queue(VIRTIO_CONSOLE_QUEUE_TX, qsize);
	virtio_dev_set_status(vdev, s | VIRTIO_STATUS_DRIVER_OK);

	memset(wr, data[4], sizeof(wr));
	virtio_dev_config_write(vdev, data[2], wr, data[3] % 5);
	virtio_dev_config_read(vdev, data[5], cfg, data[6] % 5);
	if (nin > 0 && write(in_pipe[1], data + FUZZ_HDR, nin) < 0)
		nin = 0;

	if (data[1] & 8)
		kick(VIRTIO_CONSOLE_QUEUE_RX);
	if (data[1] & 16)
		kick(VIRTIO_CONSOLE_QUEUE_TX);
	if (data[1] & 32) {
		kick(VIRTIO_CONSOLE_QUEUE_RX);
		kick(VIRTIO_CONSOLE_QUEUE_TX);
	}
	/* joins the worker, which finishes the batch holding the kicks first */
	virtio_dev_reset(vdev);
	drain(out_pipe[0]);
	drain(in_pipe[0]);
	return 0;
}
