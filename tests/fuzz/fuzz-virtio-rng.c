/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for virtio-rng: the input is a small guest's memory with
 * the request queue at a fixed place; the driver's side (features, queue
 * size) comes from a header. We activate the device, kick the queue and
 * reset it, which joins the worker after it handled the kick. The real
 * worker thread runs, as in the VMM. Must never crash, hang or touch memory
 * outside the fake guest RAM.
 *
 * Input layout:
 *   byte 0   log2(queue size) (mod 9: sizes 1..256)
 *   byte 1   bit 0: negotiate EVENT_IDX, bit 1: INDIRECT_DESC, bit 2: kick twice
 *   bytes 2..3  config read offset and size (there is no config space)
 *   bytes 8..  guest memory image from gpa 0 (the rest is zero)
 * Rings: desc table at 0x0000, avail ring at 0x1000, used ring at 0x1800.
 * The source is /dev/zero so runs are reproducible.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/guest-mem.h"
#include "common/log.h"
#include "devices/virtio-rng.h"
#include "devices/virtio.h"

#define FUZZ_RAM_SIZE (64 * 1024)
#define FUZZ_HDR 8

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t ram[FUZZ_RAM_SIZE] __attribute__((aligned(4096)));
static struct guest_mem mem;
static struct virtio_dev *vdev;

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
	guest_mem_init(&mem, false);
	if (guest_mem_add_buffer(&mem, 0, ram, sizeof(ram)) < 0 ||
	    virtio_rng_create("/dev/zero", &mem, &vdev, &err) < 0)
		_exit(1); /* the harness itself is broken: nothing to fuzz */
	vdev->transport = &fuzz_transport;
	return 0;
}

static void kick(void)
{
	uint64_t one = 1;

	if (write(vdev->kick_fds[0], &one, sizeof(one)) < 0)
		return;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t want = VIRTIO_BIT(VIRTIO_F_VERSION_1);
	struct virtqueue *vq = &vdev->queues[0];
	uint8_t cfg[8];
	uint8_t s;

	if (size < FUZZ_HDR)
		return 0;
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data + FUZZ_HDR, MIN(size - FUZZ_HDR, sizeof(ram)));
	if (data[1] & 1)
		want |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	if (data[1] & 2)
		want |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);

	/* the driver's side of 3.1.1 */
	virtio_dev_set_status(vdev, 0);
	s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	virtio_dev_set_status(vdev, s);
	vdev->driver_features = virtio_dev_offered_features(vdev) & want;
	s |= VIRTIO_STATUS_FEATURES_OK;
	virtio_dev_set_status(vdev, s);
	vq->size = (uint16_t)(1u << (data[0] % 9));
	vq->desc_gpa = 0x0000;
	vq->avail_gpa = 0x1000;
	vq->used_gpa = 0x1800;
	vq->ready = true;
	virtio_dev_set_status(vdev, s | VIRTIO_STATUS_DRIVER_OK);
	virtio_dev_config_read(vdev, data[2], cfg, data[3] % (sizeof(cfg) + 1));

	kick();
	if (data[1] & 4)
		kick();
	/* joins the worker, which finishes the batch holding the kick first */
	virtio_dev_reset(vdev);
	(void)virtio_rng_bytes_served(vdev);
	return 0;
}
