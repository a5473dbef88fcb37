/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueues, device side (virtio 1.x 2.7).
 *
 * The rings live in guest memory and the guest may rewrite any byte at any
 * moment, from another vCPU, while we read it. So every ring field and every
 * descriptor is read exactly once into a local and validated there; nothing
 * is ever re-read to "check again". Decisions documented here:
 *
 *  - Zero-length descriptors are accepted and produce no iovec (nothing is
 *    accessed through them, so their address is not checked). They still
 *    count towards the chain length bound and the read-before-write order.
 *  - An indirect descriptor must be the only descriptor of its chain (the
 *    head, without NEXT), which is what every driver we know does; anything
 *    else is a protocol violation.
 *  - An indirect table holds 1..VIRTQ_CHAIN_MAX_IOV entries and may sit at
 *    any address (the spec requires no alignment for it).
 *
 * Memory ordering (the driver is another CPU): avail->idx is read with
 * acquire so the ring entries and descriptors behind it are read after it;
 * used elements are written before a release store of used->idx; a full
 * fence separates our used->idx / avail_event stores from reading the
 * driver's used_event / avail->idx (the classic lost-wakeup pattern).
 */
#include "devices/virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "common/log.h"

#define DESC_SIZE 16u
/* Reset value of a queue's MSI-X vector (VIRTIO_MSI_NO_VECTOR in virtio.h). */
#define VQ_MSI_NO_VECTOR 0xffff

struct vring_desc_le {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Ring sizes in bytes; size <= VIRTQ_MAX_SIZE so none of these overflow. */
static uint64_t desc_bytes(uint16_t size)
{
	return (uint64_t)DESC_SIZE * size;
}

static uint64_t avail_bytes(uint16_t size)
{
	return 6 + 2 * (uint64_t)size; /* flags, idx, ring[size], used_event */
}

static uint64_t used_bytes(uint16_t size)
{
	return 6 + 8 * (uint64_t)size; /* flags, idx, ring[size], avail_event */
}

/*
 * Host pointers of the ring fields. virtq_activate() checked that the whole
 * of each ring lies in guest RAM, and guest RAM does not move while the
 * queue is active, so these cannot fail on an active queue.
 */
static uint16_t *avail_field(const struct virtqueue *vq, uint64_t off)
{
	return guest_mem_ptr(vq->mem, vq->avail_gpa + off, 2);
}

static uint8_t *used_field(const struct virtqueue *vq, uint64_t off, uint64_t len)
{
	return guest_mem_ptr(vq->mem, vq->used_gpa + off, len);
}

static uint16_t load_le16(const uint16_t *p, int order)
{
	return le16toh(__atomic_load_n(p, order));
}

static void store_le16(uint16_t *p, uint16_t v, int order)
{
	__atomic_store_n(p, htole16(v), order);
}

static int vq_mark_broken(struct virtqueue *vq, const char *reason)
{
	if (!vq->broken)
		log_warn("virtio: %s queue %u: %s; device needs reset",
			 vq->owner ? vq->owner : "?", vq->index, reason);
	vq->broken = true;
	return -EIO;
}

static bool layout_ok(const struct virtqueue *vq, const struct guest_mem *mem)
{
	uint16_t size = vq->size;

	return size != 0 && size <= VIRTQ_MAX_SIZE && (size & (size - 1)) == 0 &&
	       IS_ALIGNED(vq->desc_gpa, 16) && IS_ALIGNED(vq->avail_gpa, 2) &&
	       IS_ALIGNED(vq->used_gpa, 4) &&
	       guest_mem_ptr(mem, vq->desc_gpa, desc_bytes(size)) &&
	       guest_mem_ptr(mem, vq->avail_gpa, avail_bytes(size)) &&
	       guest_mem_ptr(mem, vq->used_gpa, used_bytes(size));
}

/*
 * May this queue be used now? A transport must not let the driver change
 * size or ring addresses of an active queue (the spec forbids it); should
 * one do so anyway, the queue breaks here instead of us dereferencing a ring
 * outside guest RAM or dividing by a zero size.
 */
static bool vq_usable(struct virtqueue *vq)
{
	if (vq->broken || !vq->mem)
		return false;
	if (!layout_ok(vq, vq->mem)) {
		(void)vq_mark_broken(vq, "queue layout changed while active");
		return false;
	}
	return true;
}

void virtq_reset(struct virtqueue *vq, uint16_t max_size)
{
	/* index and owner name the queue, they survive a reset */
	uint16_t index = vq->index;
	const char *owner = vq->owner;

	memset(vq, 0, sizeof(*vq));
	vq->index = index;
	vq->owner = owner;
	vq->size = max_size;
	vq->msix_vector = VQ_MSI_NO_VECTOR;
}

int virtq_activate(struct virtqueue *vq, const struct guest_mem *mem, bool event_idx,
		   bool indirect)
{
	vq->mem = NULL;
	if (!layout_ok(vq, mem)) {
		log_debug("virtio: %s queue %u: bad size (%u) or ring placement",
			  vq->owner ? vq->owner : "?", vq->index, vq->size);
		return -EINVAL;
	}
	vq->mem = mem;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->last_avail_idx = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_used_valid = false;
	vq->broken = false;
	return 0;
}

/*
 * Copy a descriptor out of guest memory exactly once: the compiler barrier
 * stops the compiler from re-reading guest memory instead of the local copy.
 */
static int read_desc(const struct guest_mem *mem, uint64_t gpa, struct vring_desc_le *ret)
{
	const void *p = guest_mem_ptr(mem, gpa, DESC_SIZE);
	struct vring_desc_le d;

	if (!p)
		return -EFAULT;
	memcpy(&d, p, sizeof(d));
	__asm__ __volatile__("" ::: "memory");
	ret->addr = le64toh(d.addr);
	ret->len = le32toh(d.len);
	ret->flags = le16toh(d.flags);
	ret->next = le16toh(d.next);
	return 0;
}

static int chain_add(struct virtqueue *vq, struct virtq_chain *chain,
		     const struct vring_desc_le *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	void *p;

	if (!writable && chain->nr_in > 0)
		return vq_mark_broken(vq, "readable descriptor after a writable one");
	if (d->len == 0)
		return 0;
	if (chain->nr_out + chain->nr_in >= VIRTQ_CHAIN_MAX_IOV)
		return vq_mark_broken(vq, "descriptor chain has too many buffers");
	p = guest_mem_ptr(vq->mem, d->addr, d->len);
	if (!p)
		return vq_mark_broken(vq, "descriptor buffer outside guest RAM");
	chain->iov[chain->nr_out + chain->nr_in] = (struct iovec){ .iov_base = p, .iov_len = d->len };
	if (writable) {
		chain->nr_in++;
		chain->in_len += d->len;
	} else {
		chain->nr_out++;
		chain->out_len += d->len;
	}
	return 0;
}

/* Walk an indirect table: d is the (validated) descriptor pointing at it. */
static int walk_indirect(struct virtqueue *vq, struct virtq_chain *chain,
			 const struct vring_desc_le *ind)
{
	uint32_t count, i = 0, visited = 0;

	if (!vq->indirect)
		return vq_mark_broken(vq, "indirect descriptor without INDIRECT_DESC");
	if (ind->flags & VIRTQ_DESC_F_NEXT)
		return vq_mark_broken(vq, "indirect descriptor with NEXT");
	if (ind->len == 0 || ind->len % DESC_SIZE != 0 ||
	    ind->len / DESC_SIZE > VIRTQ_CHAIN_MAX_IOV)
		return vq_mark_broken(vq, "bad indirect table length");
	if (!guest_mem_ptr(vq->mem, ind->addr, ind->len))
		return vq_mark_broken(vq, "indirect table outside guest RAM");
	count = ind->len / DESC_SIZE;

	for (;;) {
		struct vring_desc_le d;
		int r;

		/* each entry at most once: bounds chains and breaks loops */
		if (visited++ >= count)
			return vq_mark_broken(vq, "descriptor chain too long or looping");
		if (read_desc(vq->mem, ind->addr + (uint64_t)i * DESC_SIZE, &d) < 0)
			return vq_mark_broken(vq, "indirect table outside guest RAM");
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return vq_mark_broken(vq, "indirect descriptor inside an indirect table");
		r = chain_add(vq, chain, &d);
		if (r < 0)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= count)
			return vq_mark_broken(vq, "descriptor index out of range");
		i = d.next;
	}
}

int virtq_pop(struct virtqueue *vq, struct virtq_chain *chain)
{
	uint16_t avail_idx, pending, head, i;
	uint32_t visited = 0;

	if (vq->broken)
		return -EIO;
	if (!vq->mem)
		return 0; /* not activated: nothing to do */
	if (!vq_usable(vq))
		return -EIO;

	/* acquire: ring entries and descriptors are read after the index */
	avail_idx = load_le16(avail_field(vq, 2), __ATOMIC_ACQUIRE);
	pending = (uint16_t)(avail_idx - vq->last_avail_idx);
	if (pending > vq->size)
		return vq_mark_broken(vq, "avail index jumped");
	if (pending == 0)
		return 0;

	head = load_le16(avail_field(vq, 4 + 2 * (uint64_t)(vq->last_avail_idx % vq->size)),
			 __ATOMIC_RELAXED);
	if (head >= vq->size)
		return vq_mark_broken(vq, "head descriptor index out of range");

	chain->head = head;
	chain->nr_out = chain->nr_in = 0;
	chain->out_len = chain->in_len = 0;

	for (i = head;;) {
		struct vring_desc_le d;
		int r;

		/* each slot at most once: bounds chains and breaks loops */
		if (visited++ >= vq->size)
			return vq_mark_broken(vq, "descriptor chain too long or looping");
		if (read_desc(vq->mem, vq->desc_gpa + (uint64_t)i * DESC_SIZE, &d) < 0)
			return vq_mark_broken(vq, "descriptor table outside guest RAM");
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (i != head)
				return vq_mark_broken(vq, "indirect descriptor not at chain head");
			r = walk_indirect(vq, chain, &d);
			if (r < 0)
				return r;
			break;
		}
		r = chain_add(vq, chain, &d);
		if (r < 0)
			return r;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= vq->size)
			return vq_mark_broken(vq, "descriptor index out of range");
		i = d.next;
	}

	/* atomic only so a test harness on another thread may watch progress */
	__atomic_store_n(&vq->last_avail_idx, (uint16_t)(vq->last_avail_idx + 1), __ATOMIC_RELEASE);
	return 1;
}

int virtq_push(struct virtqueue *vq, uint16_t head, uint32_t written)
{
	uint8_t *elem;
	uint32_t id_le = htole32(head), len_le = htole32(written);

	if (!vq_usable(vq))
		return -EIO;
	if (head >= vq->size)
		return -EINVAL; /* a device bug, not the guest's doing */

	elem = used_field(vq, 4 + 8 * (uint64_t)(vq->used_idx % vq->size), 8);
	if (!elem)
		return vq_mark_broken(vq, "used ring outside guest RAM");
	__atomic_store_n((uint32_t *)elem, id_le, __ATOMIC_RELAXED);
	__atomic_store_n((uint32_t *)(elem + 4), len_le, __ATOMIC_RELAXED);
	vq->used_idx++;
	/* release: the element is visible before the index that publishes it */
	store_le16((uint16_t *)used_field(vq, 2, 2), vq->used_idx, __ATOMIC_RELEASE);
	return 0;
}

/* virtio 1.x 2.7.10: has new_idx just passed event (since old)? */
static bool vring_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_needs_interrupt(struct virtqueue *vq)
{
	uint16_t old, event;
	bool valid;

	if (!vq_usable(vq))
		return false;
	/* our used->idx store must be visible before we read the driver's
	 * suppression state, or both sides may decide the other will act */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	if (!vq->event_idx)
		return !(load_le16(avail_field(vq, 0), __ATOMIC_RELAXED) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);

	old = vq->signalled_used;
	valid = vq->signalled_used_valid;
	vq->signalled_used = vq->used_idx;
	vq->signalled_used_valid = true;
	if (!valid)
		return true;
	event = load_le16(avail_field(vq, 4 + 2 * (uint64_t)vq->size), __ATOMIC_RELAXED);
	return vring_need_event(event, vq->used_idx, old);
}

bool virtq_enable_notify(struct virtqueue *vq)
{
	uint16_t avail_idx;

	if (!vq_usable(vq))
		return false;
	if (vq->event_idx) {
		store_le16((uint16_t *)used_field(vq, 4 + 8 * (uint64_t)vq->size, 2),
			   vq->last_avail_idx, __ATOMIC_RELAXED);
	} else {
		uint16_t *flags = (uint16_t *)used_field(vq, 0, 2);

		store_le16(flags, load_le16(flags, __ATOMIC_RELAXED) & ~VIRTQ_USED_F_NO_NOTIFY,
			   __ATOMIC_RELAXED);
	}
	/* the re-arm must be visible before we look for buffers that raced
	 * with it: the driver checks our flag after publishing its index */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	avail_idx = load_le16(avail_field(vq, 2), __ATOMIC_ACQUIRE);
	return avail_idx != vq->last_avail_idx;
}

void virtq_disable_notify(struct virtqueue *vq)
{
	uint16_t *flags;

	/* with EVENT_IDX the stale avail_event already suppresses kicks */
	if (vq->event_idx || !vq_usable(vq))
		return;
	flags = (uint16_t *)used_field(vq, 0, 2);
	store_le16(flags, load_le16(flags, __ATOMIC_RELAXED) | VIRTQ_USED_F_NO_NOTIFY,
		   __ATOMIC_RELAXED);
}

/* Copy between buf and iov[first .. first+n) starting `offset` bytes in. */
static size_t iov_copy(const struct iovec *iov, unsigned int n, uint64_t offset, void *buf,
		       size_t len, bool to_iov)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t chunk;

		if (offset >= iov[i].iov_len) {
			offset -= iov[i].iov_len;
			continue;
		}
		chunk = MIN(iov[i].iov_len - offset, len - done);
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + offset, (uint8_t *)buf + done, chunk);
		else
			memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + offset, chunk);
		done += chunk;
		offset = 0;
	}
	return done;
}

size_t virtq_chain_read(const struct virtq_chain *chain, uint64_t offset, void *buf, size_t len)
{
	return iov_copy(chain->iov, MIN(chain->nr_out, VIRTQ_CHAIN_MAX_IOV), offset, buf, len,
			false);
}

size_t virtq_chain_write(const struct virtq_chain *chain, uint64_t offset, const void *buf,
			 size_t len)
{
	unsigned int first = MIN(chain->nr_out, VIRTQ_CHAIN_MAX_IOV);
	unsigned int n = MIN(chain->nr_in, VIRTQ_CHAIN_MAX_IOV - first);

	return iov_copy(chain->iov + first, n, offset, (void *)buf, len, true);
}

int virtq_pop_armed(struct virtqueue *vq, struct virtq_chain *chain)
{
	int r;

	for (;;) {
		r = virtq_pop(vq, chain);
		if (r != 0 || !virtq_enable_notify(vq))
			return r;
		/* more arrived while re-arming: keep notifications off and pop */
		virtq_disable_notify(vq);
	}
}
