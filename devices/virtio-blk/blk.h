/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk internals shared by device.c (life cycle, config space), request.c
 * (queue processing, one request) and blk-test.c. Constants are those of
 * Linux's include/uapi/linux/virtio_blk.h and virtio 1.x section 5.2.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio-blk.h"
#include "devices/virtio.h"
#include "devices/virtqueue.h"

/* Feature bits (5.2.3) */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_GEOMETRY 4
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_CONFIG_WCE 11
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types (5.2.6) */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_GET_LIFETIME 10
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_T_SECURE_ERASE 14

/* Status byte */
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1

#define BLK_SECTOR_SHIFT 9
#define BLK_SECTOR_SIZE (1u << BLK_SECTOR_SHIFT)
#define BLK_HEADER_SIZE 16  /* le32 type, le32 reserved, le64 sector */
#define BLK_SEGMENT_SIZE 16 /* discard / write-zeroes: le64 sector, le32 num, le32 flags */
/*
 * The largest IN/OUT payload: the used length (data + status byte) is a u32.
 * Linux never gets near it (its requests are at most seg_max segments).
 */
#define BLK_MAX_DATA_BYTES (UINT64_C(0xffffffff) & ~(uint64_t)(BLK_SECTOR_SIZE - 1))
/* Largest single discard / write-zeroes (1 GiB): bounds one fallocate() on the worker. */
#define BLK_MAX_DISCARD_SECTORS (1u << 21)
/* Requests handled per queue per wake-up before yielding to the other queues. */
#define BLK_QUEUE_BUDGET 256
/* O_DIRECT bounce buffer: alignment (covers 4K-sector devices) and size. */
#define BLK_BOUNCE_ALIGN 4096
#define BLK_BOUNCE_SIZE (256 * 1024)
/* O_DIRECT: guest buffers aligned to this go straight to the file. */
#define BLK_DIRECT_ALIGN 512

/* Config space (5.2.4), as the driver reads it: little-endian, 60 bytes. */
struct virtio_blk_config_space {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t geo_cylinders;
	uint8_t geo_heads;
	uint8_t geo_sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));

_Static_assert(sizeof(struct virtio_blk_config_space) == 60, "virtio-blk config space is 60 bytes");

/* Guest misbehaviour kinds, each logged once per device (never per request). */
enum blk_warn {
	BLK_WARN_SHORT_HEADER,
	BLK_WARN_OUT_OF_RANGE,
	BLK_WARN_BAD_LENGTH,
	BLK_WARN_READONLY,
	BLK_WARN_UNSUPPORTED,
	BLK_WARN_BAD_SEGMENT,
	BLK_WARN_HOST_IO,
	BLK_WARN_NOTIFY,
	_BLK_WARN_MAX,
};

struct virtio_blk;

/* Worker callback context of one queue. */
struct blk_queue {
	struct virtio_blk *blk;
	uint16_t index;
	bool registered; /* kick fd in the worker's epoll set */
	bool halted;	 /* gave up on this queue until reset (NEEDS_RESET set) */
};

struct virtio_blk {
	struct virtio_dev vdev;
	char name[64];
	char *path;
	int fd;
	bool readonly;
	bool direct;
	bool block_device;
	bool discard;	    /* DISCARD / WRITE_ZEROES offered */
	bool zero_range_ok; /* cleared when FALLOC_FL_ZERO_RANGE turns out unsupported */
	uint64_t capacity;  /* sectors */
	uint64_t features;
	char serial[VIRTIO_BLK_ID_BYTES]; /* NUL-padded, not terminated when 20 bytes */
	struct virtio_blk_config_space config;

	bool vdev_ready; /* virtio_dev_init() done */
	struct virtio_worker worker;
	bool worker_ready;
	bool active;
	struct blk_queue queues[VIRTIO_BLK_MAX_QUEUES];

	/* Worker-thread scratch: one request at a time for all queues. */
	struct virtq_chain *chain;
	struct iovec *iov; /* VIRTQ_CHAIN_MAX_IOV entries */
	uint8_t *bounce;   /* O_DIRECT only */

	uint32_t warned; /* 1 << enum blk_warn; worker thread only */

	_Atomic uint64_t read_bytes, write_bytes, read_ops, write_ops;
};

static inline struct virtio_blk *to_blk(struct virtio_dev *vdev)
{
	return container_of(vdev, struct virtio_blk, vdev);
}

/* request.c */
/*
 * Execute one popped chain. Returns 0 with *ret_used = bytes written into the
 * guest's buffers (status byte included), or -EBADMSG when the chain has no
 * writable byte for the status and cannot be answered at all.
 */
int blk_handle_request(struct virtio_blk *blk, const struct virtq_chain *chain,
		       uint32_t *ret_used) _wur_;
/* Worker callback for a queue's kick eventfd. */
void blk_queue_kick(void *opaque, uint32_t events);
/* Log guest misbehaviour of one kind once per device. */
void blk_warn_once(struct virtio_blk *blk, enum blk_warn kind, const char *fmt, ...) _printf_(3, 4);
