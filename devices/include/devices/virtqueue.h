/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueues (virtio 1.x, section 2.7) as the device side sees them,
 * with VIRTIO_F_RING_EVENT_IDX and VIRTIO_F_INDIRECT_DESC.
 *
 * Everything in a ring is written by the guest and is hostile: every index is
 * reduced modulo the queue size or checked, every descriptor's [addr, addr+len)
 * must lie inside guest RAM, a chain may not be longer than the queue size
 * (an indirect table not longer than its own entry count), may not loop,
 * readable descriptors must come before writable ones, and an indirect table
 * must not itself contain an indirect descriptor. On any violation the
 * virtqueue is marked broken (one log line) and yields nothing more until
 * reset; the device then sets DEVICE_NEEDS_RESET (virtio_dev_set_needs_reset).
 * No function here aborts, asserts on guest data or loops unboundedly.
 *
 * A virtqueue is used by one thread at a time (its device's worker thread).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/guest-mem.h"
#include "common/macros.h"

#define VIRTQ_MAX_SIZE 32768 /* virtio 1.x split-ring maximum, a power of two */

/* Descriptor flags (virtio 1.x 2.7.5) */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
/* avail->flags / used->flags */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

/*
 * One descriptor chain, resolved to host memory. The driver-readable ("out")
 * buffers come first, then the driver-writable ("in") ones.
 */
#define VIRTQ_CHAIN_MAX_IOV 1024 /* longer chains are refused: see virtq_pop() */

struct virtq_chain {
	uint16_t head;		     /* id to hand back to virtq_push() */
	uint16_t nr_out;	     /* iov[0 .. nr_out) are device-readable */
	uint16_t nr_in;		     /* iov[nr_out .. nr_out+nr_in) are device-writable */
	uint64_t out_len;	     /* total readable bytes */
	uint64_t in_len;	     /* total writable bytes */
	struct iovec iov[VIRTQ_CHAIN_MAX_IOV];
};

struct virtqueue {
	/* set by the driver through the transport */
	uint16_t size;		/* power of two, 1..max */
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t msix_vector;
	/* device state */
	const struct guest_mem *mem;
	bool event_idx;		/* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect;		/* VIRTIO_F_INDIRECT_DESC negotiated */
	uint16_t last_avail_idx;/* next avail ring slot to consume */
	uint16_t used_idx;	/* next used ring slot to fill (shadow of used->idx) */
	uint16_t signalled_used;/* used_idx when the driver was last notified */
	bool signalled_used_valid;
	bool broken;
	uint16_t index;		/* queue number within its device, for logs */
	const char *owner;	/* device name, for logs */
};

/* Reset to the state after device reset (not ready, size max_size, indices 0). */
void virtq_reset(struct virtqueue *vq, uint16_t max_size);
/*
 * Validate ring addresses/size when the driver enables the queue: the three
 * rings must lie in guest RAM and be properly aligned. -EINVAL otherwise.
 */
int virtq_activate(struct virtqueue *vq, const struct guest_mem *mem, bool event_idx,
		   bool indirect) _wur_;

/*
 * Take the next available chain. Returns 1 with *chain filled, 0 if the ring
 * is empty, -EIO if the driver broke the protocol (the queue is now broken).
 */
int virtq_pop(struct virtqueue *vq, struct virtq_chain *chain) _wur_;
/*
 * virtq_pop() for a device's processing loop: when the ring is empty,
 * re-arm guest notifications and look once more, since buffers may have
 * raced in meanwhile. 0 then means empty and armed: the next buffer will
 * kick. Call virtq_disable_notify() before the loop.
 */
int virtq_pop_armed(struct virtqueue *vq, struct virtq_chain *chain) _wur_;
/*
 * Return a chain: `written` is how many bytes the device wrote into its
 * writable buffers. -EIO if the queue is broken or the used ring is not
 * writable.
 */
int virtq_push(struct virtqueue *vq, uint16_t head, uint32_t written) _wur_;
/*
 * After pushing: does the driver want an interrupt now? (EVENT_IDX's
 * used_event, or !VIRTQ_AVAIL_F_NO_INTERRUPT without it.)
 */
bool virtq_needs_interrupt(struct virtqueue *vq);
/*
 * Re-arm guest notifications before sleeping: with EVENT_IDX, publish
 * avail_event = last_avail_idx; returns true if more buffers arrived in the
 * meantime (the caller should pop again instead of sleeping).
 */
bool virtq_enable_notify(struct virtqueue *vq);
void virtq_disable_notify(struct virtqueue *vq);

/* Copy helpers over a chain's readable / writable parts, at a byte offset.
 * They return the bytes copied (short if the chain is shorter). */
size_t virtq_chain_read(const struct virtq_chain *chain, uint64_t offset, void *buf, size_t len);
size_t virtq_chain_write(const struct virtq_chain *chain, uint64_t offset, const void *buf,
			 size_t len);
