/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk (virtio 1.x, section 5.2) backed by a raw image file or a host
 * block device.
 *
 * The device offers SEG_MAX, BLK_SIZE (512), FLUSH, RO (readonly), MQ (more
 * than one queue) and, for writable regular files whose filesystem can punch
 * holes, DISCARD and WRITE_ZEROES. Requests run synchronously on the device's
 * worker thread (one thread for all its queues), straight between the image
 * and guest memory with preadv/pwritev.
 *
 * Life cycle: virtio_blk_create() opens and validates the image; the
 * transport then drives the struct virtio_dev it returns (activate / reset);
 * vdev->ops->destroy(vdev) closes everything.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/guest-mem.h"
#include "common/macros.h"
#include "devices/virtio.h"

#define VIRTIO_BLK_DEFAULT_QUEUE_SIZE 128 /* cloud-hypervisor's default */
#define VIRTIO_BLK_MIN_QUEUE_SIZE 2	  /* a request needs header + status */
#define VIRTIO_BLK_MAX_QUEUE_SIZE 32768	  /* split-ring maximum */
#define VIRTIO_BLK_MAX_QUEUES 16	  /* as VMM_MAX_DISK_QUEUES */
#define VIRTIO_BLK_SERIAL_MAX 20	  /* VIRTIO_BLK_ID_BYTES: the GET_ID reply */

struct virtio_blk_config {
	const char *path;    /* image file or block device (required) */
	bool readonly;	     /* open O_RDONLY, offer VIRTIO_BLK_F_RO */
	bool direct;	     /* open O_DIRECT (bypass the host page cache) */
	uint16_t num_queues; /* 1..VIRTIO_BLK_MAX_QUEUES; 0 means 1 */
	uint16_t queue_size; /* power of two, 2..32768; 0 means the default (128) */
	const char *id;	     /* device name in logs and counters; NULL: "virtio-blk<N>" */
	/* GET_ID answer, at most 20 bytes; NULL: derived from the image's
	 * device and inode numbers (as cloud-hypervisor), stable across boots */
	const char *serial;
};

/* Cumulative, for vm.counters; read without stopping the device. */
struct virtio_blk_counters {
	uint64_t read_bytes;
	uint64_t write_bytes;
	uint64_t read_ops;
	uint64_t write_ops;
};

/*
 * Open cfg->path and build the device on guest memory `mem` (which must
 * outlive it). On failure err carries a message naming the disk, e.g.
 * "--disk path=/x: No such file or directory".
 */
int virtio_blk_create(const struct virtio_blk_config *cfg, const struct guest_mem *mem,
		      struct virtio_dev **ret_vdev, struct error *err) _wur_;

/* -EINVAL if vdev is not a virtio-blk device. */
int virtio_blk_get_counters(struct virtio_dev *vdev, struct virtio_blk_counters *ret) _wur_;
/* Capacity in 512-byte sectors (0 if vdev is not a virtio-blk device). */
uint64_t virtio_blk_capacity(struct virtio_dev *vdev);
