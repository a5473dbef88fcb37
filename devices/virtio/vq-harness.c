/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Driver-side test harness for virtqueues (see vq-harness.h).
 *
 * Layout of the fake RAM (one anonymous region at gpa 0): for each queue, its
 * descriptor table, avail ring and used ring, page-aligned per queue; then a
 * data area handed out by a bump allocator. Fields are written little-endian
 * with the same release ordering a real driver uses, so a device under test
 * running on its worker thread sees a consistent ring.
 */
#include "vq-harness.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VQH_PAGE 4096u
#define VQH_WAIT_STEP_NS 1000000L	/* poll every 1 ms */
#define VQH_WAIT_MAX_STEPS 2000		/* ... for at most 2 s */
/*
 * A queue whose buffers were all taken but not all returned (an rx queue
 * holding buffers for later) is considered settled after this many steps
 * without progress.
 */
#define VQH_SETTLE_STEPS 50

static uint16_t *avail_u16(struct vq_harness *h, unsigned int qi, uint64_t off)
{
	return (uint16_t *)(h->ram + h->q[qi].avail_gpa + off);
}

static uint16_t *used_u16(struct vq_harness *h, unsigned int qi, uint64_t off)
{
	return (uint16_t *)(h->ram + h->q[qi].used_gpa + off);
}

int vqh_init(struct vq_harness *h, uint64_t ram_size, unsigned int nr_queues, uint16_t qsize)
{
	uint64_t off = 0;
	int r;

	memset(h, 0, sizeof(*h));
	guest_mem_init(&h->mem, false);
	if (nr_queues == 0 || nr_queues > VQH_MAX_QUEUES || qsize == 0 ||
	    qsize > VIRTQ_MAX_SIZE || ram_size == 0)
		return -EINVAL;
	ram_size = ALIGN_UP(ram_size, (uint64_t)VQH_PAGE);
	r = guest_mem_add_region(&h->mem, 0, ram_size);
	if (r < 0)
		return r;
	h->ram = guest_mem_ptr(&h->mem, 0, ram_size);
	h->ram_size = ram_size;
	h->nr_queues = nr_queues;

	for (unsigned int i = 0; i < nr_queues; i++) {
		struct vqh_queue *q = &h->q[i];

		q->qsize = qsize;
		q->desc_gpa = off;
		q->avail_gpa = q->desc_gpa + 16 * (uint64_t)qsize;
		q->used_gpa = ALIGN_UP(q->avail_gpa + 6 + 2 * (uint64_t)qsize, (uint64_t)4);
		off = ALIGN_UP(q->used_gpa + 6 + 8 * (uint64_t)qsize, (uint64_t)VQH_PAGE);
	}
	if (off >= ram_size) {
		vqh_fini(h);
		return -ENOSPC;
	}
	h->data_next = off;
	return 0;
}

void vqh_fini(struct vq_harness *h)
{
	if (!h)
		return;
	guest_mem_destroy(&h->mem);
	h->ram = NULL;
}

void vqh_reset_queue(struct vq_harness *h, unsigned int qi)
{
	struct vqh_queue *q = &h->q[qi];

	memset(h->ram + q->desc_gpa, 0, q->used_gpa + 6 + 8 * (uint64_t)q->qsize - q->desc_gpa);
	q->next_desc = 0;
	q->avail_idx = 0;
	q->used_seen = 0;
}

void vqh_setup_queue(struct vq_harness *h, unsigned int qi, struct virtqueue *vq)
{
	vq->size = h->q[qi].qsize;
	vq->desc_gpa = h->q[qi].desc_gpa;
	vq->avail_gpa = h->q[qi].avail_gpa;
	vq->used_gpa = h->q[qi].used_gpa;
	vq->ready = true;
}

uint64_t vqh_alloc(struct vq_harness *h, uint32_t len)
{
	uint64_t gpa = ALIGN_UP(h->data_next, (uint64_t)16);

	if (gpa > h->ram_size || len > h->ram_size - gpa)
		return 0;
	h->data_next = gpa + (len ? len : 1);
	return gpa;
}

void *vqh_ptr(struct vq_harness *h, uint64_t gpa)
{
	return guest_mem_ptr(&h->mem, gpa, 1);
}

struct vqh_desc *vqh_desc(struct vq_harness *h, unsigned int qi, uint16_t i)
{
	struct vqh_queue *q = &h->q[qi];

	return (struct vqh_desc *)(h->ram + q->desc_gpa + 16 * (uint64_t)(i % q->qsize));
}

static void write_desc(struct vqh_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
		       uint16_t next)
{
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

/* Give buf a gpa (allocating it if 0) and its initial contents. */
static void place_buf(struct vq_harness *h, struct vqh_buf *b)
{
	if (b->gpa == 0)
		b->gpa = vqh_alloc(h, b->len);
	if (b->data && b->len && guest_mem_ptr(&h->mem, b->gpa, b->len))
		memcpy(h->ram + b->gpa, b->data, b->len);
}

uint16_t vqh_add_chain(struct vq_harness *h, unsigned int qi, struct vqh_buf *bufs, unsigned int n)
{
	struct vqh_queue *q = &h->q[qi];
	uint16_t head = q->next_desc;

	for (unsigned int i = 0; i < n; i++) {
		uint16_t slot = (uint16_t)((head + i) % q->qsize);
		uint16_t next = (uint16_t)((slot + 1) % q->qsize);
		uint16_t flags = (bufs[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);

		place_buf(h, &bufs[i]);
		write_desc(vqh_desc(h, qi, slot), bufs[i].gpa, bufs[i].len, flags, next);
	}
	q->next_desc = (uint16_t)((head + n) % q->qsize);
	return head;
}

uint16_t vqh_add_indirect(struct vq_harness *h, unsigned int qi, struct vqh_buf *bufs,
			  unsigned int n)
{
	struct vqh_queue *q = &h->q[qi];
	uint16_t head = q->next_desc;
	uint64_t table = vqh_alloc(h, 16 * n);

	for (unsigned int i = 0; i < n && table; i++) {
		uint16_t flags = (bufs[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);

		place_buf(h, &bufs[i]);
		write_desc((struct vqh_desc *)(h->ram + table + 16 * (uint64_t)i), bufs[i].gpa,
			   bufs[i].len, flags, (uint16_t)(i + 1));
	}
	write_desc(vqh_desc(h, qi, head), table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
	q->next_desc = (uint16_t)((head + 1) % q->qsize);
	return head;
}

void vqh_publish(struct vq_harness *h, unsigned int qi, uint16_t head)
{
	struct vqh_queue *q = &h->q[qi];

	__atomic_store_n(avail_u16(h, qi, 4 + 2 * (uint64_t)(q->avail_idx % q->qsize)),
			 htole16(head), __ATOMIC_RELAXED);
	q->avail_idx++;
	/* release: the ring entry and descriptors before the index */
	__atomic_store_n(avail_u16(h, qi, 2), htole16(q->avail_idx), __ATOMIC_RELEASE);
}

void vqh_set_avail_idx(struct vq_harness *h, unsigned int qi, uint16_t idx)
{
	h->q[qi].avail_idx = idx;
	__atomic_store_n(avail_u16(h, qi, 2), htole16(idx), __ATOMIC_RELEASE);
}

void vqh_set_avail_flags(struct vq_harness *h, unsigned int qi, uint16_t flags)
{
	__atomic_store_n(avail_u16(h, qi, 0), htole16(flags), __ATOMIC_RELEASE);
}

void vqh_set_used_event(struct vq_harness *h, unsigned int qi, uint16_t v)
{
	__atomic_store_n(avail_u16(h, qi, 4 + 2 * (uint64_t)h->q[qi].qsize), htole16(v),
			 __ATOMIC_RELEASE);
}

static uint16_t used_idx(struct vq_harness *h, unsigned int qi)
{
	return le16toh(__atomic_load_n(used_u16(h, qi, 2), __ATOMIC_ACQUIRE));
}

int vqh_pop_used(struct vq_harness *h, unsigned int qi, uint32_t *ret_id, uint32_t *ret_len)
{
	struct vqh_queue *q = &h->q[qi];
	const uint8_t *elem;
	uint32_t id, len;

	if (used_idx(h, qi) == q->used_seen)
		return 0;
	elem = h->ram + q->used_gpa + 4 + 8 * (uint64_t)(q->used_seen % q->qsize);
	memcpy(&id, elem, 4);
	memcpy(&len, elem + 4, 4);
	q->used_seen++;
	if (ret_id)
		*ret_id = le32toh(id);
	if (ret_len)
		*ret_len = le32toh(len);
	return 1;
}

static int vqh_signal_queue(struct virtio_dev *vdev, uint16_t queue)
{
	struct vq_harness *h = vdev->transport_data;

	if (queue < VIRTIO_MAX_QUEUES)
		__atomic_fetch_add(&h->queue_signals[queue], 1, __ATOMIC_RELAXED);
	return 0;
}

static int vqh_signal_config(struct virtio_dev *vdev)
{
	struct vq_harness *h = vdev->transport_data;

	__atomic_fetch_add(&h->config_signals, 1, __ATOMIC_RELAXED);
	return 0;
}

const struct virtio_transport_ops vqh_transport_ops = {
	.signal_queue = vqh_signal_queue,
	.signal_config = vqh_signal_config,
};

static uint8_t dev_status(struct virtio_dev *vdev)
{
	return __atomic_load_n(&vdev->status, __ATOMIC_ACQUIRE);
}

int vqh_activate_device(struct vq_harness *h, struct virtio_dev *vdev)
{
	uint8_t s;

	vdev->mem = &h->mem;
	vdev->transport = &vqh_transport_ops;
	vdev->transport_data = h;

	/* virtio 1.x 3.1.1, step by step */
	virtio_dev_set_status(vdev, 0);
	s = VIRTIO_STATUS_ACKNOWLEDGE;
	virtio_dev_set_status(vdev, s);
	s |= VIRTIO_STATUS_DRIVER;
	virtio_dev_set_status(vdev, s);
	vdev->driver_features = virtio_dev_offered_features(vdev);
	s |= VIRTIO_STATUS_FEATURES_OK;
	virtio_dev_set_status(vdev, s);
	if (!(dev_status(vdev) & VIRTIO_STATUS_FEATURES_OK))
		return -EPROTO;
	for (unsigned int i = 0; i < h->nr_queues && i < vdev->nr_queues; i++)
		vqh_setup_queue(h, i, &vdev->queues[i]);
	s |= VIRTIO_STATUS_DRIVER_OK;
	virtio_dev_set_status(vdev, s);
	s = dev_status(vdev);
	if (!(s & VIRTIO_STATUS_DRIVER_OK) || (s & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		return -EIO;
	return 0;
}

int vqh_kick_and_wait(struct vq_harness *h, struct virtio_dev *vdev, unsigned int qi)
{
	const struct timespec step = { .tv_sec = 0, .tv_nsec = VQH_WAIT_STEP_NS };
	struct virtqueue *vq = &vdev->queues[qi];
	uint64_t one = 1;
	unsigned int settled = 0;
	uint16_t last_used = used_idx(h, qi);

	if (write(vdev->kick_fds[qi], &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	for (unsigned int i = 0; i < VQH_WAIT_MAX_STEPS; i++) {
		uint16_t consumed = __atomic_load_n(&vq->last_avail_idx, __ATOMIC_ACQUIRE);
		uint16_t used = used_idx(h, qi);

		if (dev_status(vdev) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
			return 0;
		if (consumed == h->q[qi].avail_idx) {
			/* everything taken: done when everything came back, or when
			 * nothing more comes back for a while (buffers held) */
			if (used == h->q[qi].avail_idx)
				return 0;
			settled = used == last_used ? settled + 1 : 0;
			if (settled >= VQH_SETTLE_STEPS)
				return 0;
		}
		last_used = used;
		nanosleep(&step, NULL);
	}
	return -ETIMEDOUT;
}
