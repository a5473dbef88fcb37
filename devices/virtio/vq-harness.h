/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test and fuzz harness for virtio devices without a VM: fake guest memory
 * with a split virtqueue laid out in it, and helpers to build descriptor
 * chains (well-formed or deliberately broken) and read the used ring back.
 * Shared by every device's unit test and libFuzzer target.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/guest-mem.h"
#include "devices/virtio.h"
#include "devices/virtqueue.h"

/* The guest's view of a descriptor (little-endian on x86). */
struct vqh_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
} __attribute__((packed));

struct vqh_buf {
	uint64_t gpa;	/* 0: allocate from the data area (vqh_alloc) */
	uint32_t len;
	bool writable;	/* device-writable */
	const void *data; /* initial contents (copied), may be NULL */
};

#define VQH_MAX_QUEUES 8

/* One queue's rings in the fake memory, and the driver's shadow state. */
struct vqh_queue {
	uint16_t qsize;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t next_desc;	/* next free descriptor slot */
	uint16_t avail_idx;	/* driver's avail->idx shadow */
	uint16_t used_seen;	/* used entries consumed by vqh_pop_used */
};

struct vq_harness {
	struct guest_mem mem;
	uint8_t *ram;
	uint64_t ram_size;
	uint64_t data_next;	/* bump allocator for buffers */
	unsigned int nr_queues;
	struct vqh_queue q[VQH_MAX_QUEUES];
	/* counting transport for struct virtio_dev tests */
	unsigned int queue_signals[VIRTIO_MAX_QUEUES];
	unsigned int config_signals;
};

/* Fake RAM at gpa 0 of ram_size bytes, with rings for nr_queues queues of qsize. */
int vqh_init(struct vq_harness *h, uint64_t ram_size, unsigned int nr_queues, uint16_t qsize) _wur_;
void vqh_fini(struct vq_harness *h);
/* The driver's side of a queue reset: zero queue qi's rings and shadow state. */
void vqh_reset_queue(struct vq_harness *h, unsigned int qi);
/* Point a virtqueue at queue qi's rings (size, addresses, ready). */
void vqh_setup_queue(struct vq_harness *h, unsigned int qi, struct virtqueue *vq);
/* Allocate len bytes of fake guest memory; returns its gpa (0 when full). */
uint64_t vqh_alloc(struct vq_harness *h, uint32_t len);
void *vqh_ptr(struct vq_harness *h, uint64_t gpa);
/* Write a chain of n descriptors into queue qi (buffers allocated as needed); returns head. */
uint16_t vqh_add_chain(struct vq_harness *h, unsigned int qi, struct vqh_buf *bufs, unsigned int n);
/* Same through one indirect descriptor pointing at a table of n entries. */
uint16_t vqh_add_indirect(struct vq_harness *h, unsigned int qi, struct vqh_buf *bufs,
			  unsigned int n);
/* Raw descriptor access for malformed cases. */
struct vqh_desc *vqh_desc(struct vq_harness *h, unsigned int qi, uint16_t i);
/* Make `head` available to the device (avail ring + idx). */
void vqh_publish(struct vq_harness *h, unsigned int qi, uint16_t head);
/* Raw avail->idx / flags / used_event writes for malformed cases. */
void vqh_set_avail_idx(struct vq_harness *h, unsigned int qi, uint16_t idx);
void vqh_set_avail_flags(struct vq_harness *h, unsigned int qi, uint16_t flags);
void vqh_set_used_event(struct vq_harness *h, unsigned int qi, uint16_t v);
/* Next used element of queue qi not yet seen: 1 and id/len, or 0 if none. */
int vqh_pop_used(struct vq_harness *h, unsigned int qi, uint32_t *ret_id, uint32_t *ret_len);
/* A transport whose signals count into h (set vdev->transport_data = h). */
extern const struct virtio_transport_ops vqh_transport_ops;
/*
 * Drive a device as a driver would: accept all offered features, point every
 * queue i < h->nr_queues at the harness rings, set DRIVER_OK (activate).
 */
int vqh_activate_device(struct vq_harness *h, struct virtio_dev *vdev) _wur_;
/*
 * Kick queue qi and wait (bounded, e.g. 2 s) until the device has consumed
 * everything published on it or the device went into NEEDS_RESET.
 * Returns 0, or -ETIMEDOUT.
 * (Implementation: "consumed" means popped and either all returned in the
 * used ring, or no further used entries for 50 ms — a queue that holds
 * buffers, like an rx queue, settles that way.)
 */
int vqh_kick_and_wait(struct vq_harness *h, struct virtio_dev *vdev, unsigned int qi) _wur_;
