/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for virtio-blk: the input becomes the guest's side of
 * queue 0 (descriptor table, avail ring, buffers) in the harness's fake RAM,
 * then the device's worker processes it. The device must never crash, hang
 * or touch memory outside guest RAM, whatever the bytes say.
 *
 * Input layout:
 *   byte 0     mode: bit 0 "relative" — descriptor and avail fields are
 *              folded into range (addresses into the data area, heads below
 *              the queue size) so the fuzzer reaches the request parser
 *              quickly; clear, every field is written exactly as given
 *   byte 1     avail->idx (relative: folded to 0..QSIZE)
 *   16*QSIZE   descriptor table
 *   2*QSIZE    avail ring entries
 *   rest       the data area (request headers, segments, indirect tables)
 *
 * One device (backed by a 64 KiB memfd image) serves every input; it is
 * reset between inputs, which joins its worker, so nothing of one input
 * runs into the next.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "devices/virtio-blk.h"
#include "vq-harness.h"

#define QSIZE 16
#define RAM_SIZE (256 * 1024)
#define DATA_SIZE (64 * 1024)
#define IMAGE_SIZE (64 * 1024)
#define REL_MAX_LEN 0x2000
#define WAIT_STEP_NS 100000L /* 0.1 ms */
#define WAIT_MAX_STEPS 10000 /* 1 s; the reset afterwards joins the worker anyway */

static struct vq_harness h;
static struct virtio_dev *vdev;
static uint64_t data_gpa;

static int setup(void)
{
	struct virtio_blk_config cfg = { .queue_size = QSIZE, .num_queues = 1 };
	struct error err = { 0 };
	uint8_t block[4096];
	char path[64];
	int fd;

	log_set_level(LOG_LEVEL_ERROR); /* hostile input is the point: no warnings */
	fd = memfd_create("fuzz-virtio-blk", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (unsigned int i = 0; i < sizeof(block); i++)
		block[i] = (uint8_t)(i * 7);
	for (unsigned int off = 0; off < IMAGE_SIZE; off += sizeof(block))
		if (pwrite(fd, block, sizeof(block), off) != (ssize_t)sizeof(block))
			return -EIO;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	cfg.path = path;
	if (vqh_init(&h, RAM_SIZE, 1, QSIZE) < 0)
		return -ENOMEM;
	data_gpa = vqh_alloc(&h, DATA_SIZE);
	if (!data_gpa)
		return -ENOMEM;
	if (virtio_blk_create(&cfg, &h.mem, &vdev, &err) < 0) {
		fprintf(stderr, "fuzz-virtio-blk: %s\n", err.msg);
		return err.code;
	}
	/* the device holds its own open file description of the memfd */
	close(fd);
	return 0;
}

static uint8_t dev_status(void)
{
	return __atomic_load_n(&vdev->status, __ATOMIC_ACQUIRE);
}

/* Until the device took everything on offer or gave up (NEEDS_RESET). */
static void wait_consumed(uint16_t avail_idx)
{
	const struct timespec step = { .tv_sec = 0, .tv_nsec = WAIT_STEP_NS };
	struct virtqueue *vq = &vdev->queues[0];

	for (unsigned int i = 0; i < WAIT_MAX_STEPS; i++) {
		if (dev_status() & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
			return;
		if (__atomic_load_n(&vq->last_avail_idx, __ATOMIC_ACQUIRE) == avail_idx)
			return;
		nanosleep(&step, NULL);
	}
}

static void fold_descriptors(void)
{
	for (uint16_t i = 0; i < QSIZE; i++) {
		struct vqh_desc *d = vqh_desc(&h, 0, i);
		uint64_t addr = le64toh(d->addr);

		d->addr = htole64(data_gpa + addr % DATA_SIZE);
		d->len = htole32(le32toh(d->len) % REL_MAX_LEN);
		d->next = htole16(le16toh(d->next) % QSIZE);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	uint8_t *avail_ring;
	uint16_t avail_idx;
	bool relative;
	size_t n;

	if (!ready) {
		if (setup() < 0)
			abort(); /* a test program, not library code */
		ready = true;
	}
	if (size < 2)
		return 0;
	relative = data[0] & 1;
	avail_idx = relative ? data[1] % (QSIZE + 1) : data[1];
	data += 2;
	size -= 2;

	/* 1. the driver's side: rings and buffers, written while the device is stopped */
	virtio_dev_reset(vdev);
	vqh_reset_queue(&h, 0);
	memset(vqh_ptr(&h, data_gpa), 0, DATA_SIZE);

	n = size < 16 * QSIZE ? size : 16 * QSIZE;
	memcpy(vqh_desc(&h, 0, 0), data, n);
	data += n;
	size -= n;
	if (relative)
		fold_descriptors();

	avail_ring = (uint8_t *)vqh_ptr(&h, h.q[0].avail_gpa) + 4;
	n = size < 2 * QSIZE ? size : 2 * QSIZE;
	memcpy(avail_ring, data, n);
	data += n;
	size -= n;
	if (relative)
		for (unsigned int i = 0; i < QSIZE; i++)
			avail_ring[2 * i] %= QSIZE, avail_ring[2 * i + 1] = 0;

	n = size < DATA_SIZE ? size : DATA_SIZE;
	memcpy(vqh_ptr(&h, data_gpa), data, n);
	vqh_set_avail_idx(&h, 0, avail_idx);

	/* 2. DRIVER_OK (the device serves what is queued), kick, wait */
	if (vqh_activate_device(&h, vdev) == 0) {
		uint64_t one = 1;

		if (write(vdev->kick_fds[0], &one, sizeof(one)) < 0 && errno != EAGAIN)
			abort();
		wait_consumed(avail_idx);
	}
	/* 3. reset joins the worker: a request stuck forever hangs here, and
	 * libFuzzer's -timeout reports it */
	virtio_dev_reset(vdev);
	return 0;
}
