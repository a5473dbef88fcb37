/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The common configuration structure (virtio 1.x 4.1.4.3): feature
 * negotiation, device status, MSI-X vector assignment and queue layout.
 * Everything runs under vdev->lock (recursive: the virtio_dev_* calls take
 * it again). Each field must be accessed with its natural width, the 64-bit
 * queue addresses also as two dwords; anything else reads 0 and is ignored.
 */
#include <string.h>

#include "virtio-pci-internal.h"

/* Common configuration fields (virtio 1.x 4.1.4.3) */
#define VP_DFSELECT 0x00
#define VP_DF 0x04
#define VP_GFSELECT 0x08
#define VP_GF 0x0c
#define VP_MSIX_CONFIG 0x10
#define VP_NUM_QUEUES 0x12
#define VP_STATUS 0x14
#define VP_CFG_GENERATION 0x15
#define VP_Q_SELECT 0x16
#define VP_Q_SIZE 0x18
#define VP_Q_MSIX 0x1a
#define VP_Q_ENABLE 0x1c
#define VP_Q_NOFF 0x1e
#define VP_Q_DESC 0x20
#define VP_Q_DRIVER 0x28
#define VP_Q_DEVICE 0x30

/* Width of the field at `off` (below the queue addresses), 0 if none starts there. */
static uint32_t vp_common_width(uint64_t off)
{
	switch (off) {
	case VP_DFSELECT:
	case VP_DF:
	case VP_GFSELECT:
	case VP_GF:
		return 4;
	case VP_STATUS:
	case VP_CFG_GENERATION:
		return 1;
	case VP_MSIX_CONFIG:
	case VP_NUM_QUEUES:
	case VP_Q_SELECT:
	case VP_Q_SIZE:
	case VP_Q_MSIX:
	case VP_Q_ENABLE:
	case VP_Q_NOFF:
		return 2;
	default:
		return 0;
	}
}

/*
 * virtio 1.x 4.1.3.1: each field is accessed with its natural width; the
 * 64-bit queue addresses also as two 32-bit halves (Linux does that).
 */
static bool vp_common_access_ok(uint64_t off, uint32_t size)
{
	if (off >= VP_Q_DESC && off < VP_COMMON_SIZE)
		return (size == 4 && off % 4 == 0) || (size == 8 && off % 8 == 0);
	return off < VP_Q_DESC && size == vp_common_width(off);
}

/* Caller holds vdev->lock. NULL if queue_select names no queue. */
static struct virtqueue *vp_selected_queue(struct virtio_pci *vp)
{
	if (vp->queue_select >= vp->vdev->nr_queues)
		return NULL;
	return &vp->vdev->queues[vp->queue_select];
}

static uint8_t vp_status(const struct virtio_pci *vp)
{
	return __atomic_load_n(&vp->vdev->status, __ATOMIC_ACQUIRE);
}

static uint64_t *vp_queue_addr(struct virtqueue *vq, uint64_t off)
{
	if (off < VP_Q_DRIVER)
		return &vq->desc_gpa;
	if (off < VP_Q_DEVICE)
		return &vq->avail_gpa;
	return &vq->used_gpa;
}

/* Caller holds vdev->lock and checked the access. */
static uint64_t vp_common_read(struct virtio_pci *vp, uint64_t off, uint32_t size)
{
	struct virtio_dev *vdev = vp->vdev;
	struct virtqueue *vq;
	uint64_t v;

	switch (off) {
	case VP_DFSELECT:
		return vp->device_feature_select;
	case VP_DF:
		if (vp->device_feature_select > 1)
			return 0;
		return (uint32_t)(virtio_dev_offered_features(vdev) >>
				  (32 * vp->device_feature_select));
	case VP_GFSELECT:
		return vp->driver_feature_select;
	case VP_GF:
		if (vp->driver_feature_select > 1)
			return 0;
		return (uint32_t)(vdev->driver_features >> (32 * vp->driver_feature_select));
	case VP_MSIX_CONFIG:
		return vdev->config_msix_vector;
	case VP_NUM_QUEUES:
		return vdev->nr_queues;
	case VP_STATUS:
		return vp_status(vp);
	case VP_CFG_GENERATION:
		return (uint8_t)__atomic_load_n(&vdev->config_generation, __ATOMIC_ACQUIRE);
	case VP_Q_SELECT:
		return vp->queue_select;
	}

	vq = vp_selected_queue(vp);
	if (!vq)
		return 0;
	switch (off) {
	case VP_Q_SIZE:
		return vq->size;
	case VP_Q_MSIX:
		return __atomic_load_n(&vq->msix_vector, __ATOMIC_RELAXED);
	case VP_Q_ENABLE:
		return vq->ready;
	case VP_Q_NOFF:
		return vp->queue_select; /* queue q notifies at q * multiplier */
	}
	v = *vp_queue_addr(vq, off);
	return size == 8 ? v : (uint32_t)(v >> (off % 8 ? 32 : 0));
}

/*
 * May the driver still change the selected queue's layout? Not once it is
 * enabled (virtio 1.x 4.1.4.3.2) and not after DRIVER_OK: the device's
 * worker reads those fields from then on.
 */
static bool vp_queue_writable(struct virtio_pci *vp, const struct virtqueue *vq, uint64_t off)
{
	if (!vq->ready && !(vp_status(vp) & VIRTIO_STATUS_DRIVER_OK))
		return true;
	vp_log_bad_access(vp, "queue layout write on a live queue", off, 0);
	return false;
}

static void vp_reset_transport(struct virtio_pci *vp)
{
	vp->device_feature_select = 0;
	vp->driver_feature_select = 0;
	vp->queue_select = 0;
	__atomic_store_n(&vp->isr, 0, __ATOMIC_RELAXED);
}

/* Caller holds vdev->lock and checked the access. */
static void vp_common_write(struct virtio_pci *vp, uint64_t off, uint32_t size, uint64_t v)
{
	struct virtio_dev *vdev = vp->vdev;
	struct virtqueue *vq;
	uint64_t *addr;

	switch (off) {
	case VP_DFSELECT:
		vp->device_feature_select = (uint32_t)v;
		return;
	case VP_GFSELECT:
		vp->driver_feature_select = (uint32_t)v;
		return;
	case VP_GF:
		/* After FEATURES_OK the set is fixed; the layer checked it then. */
		if (vp->driver_feature_select > 1 || (vp_status(vp) & VIRTIO_STATUS_FEATURES_OK))
			return;
		if (vp->driver_feature_select == 0)
			vdev->driver_features = (vdev->driver_features & ~UINT64_C(0xffffffff)) | v;
		else
			vdev->driver_features = (vdev->driver_features & UINT64_C(0xffffffff)) |
						v << 32;
		return;
	case VP_MSIX_CONFIG:
		/* Out of range reads back NO_VECTOR: that is how the driver learns of it. */
		vdev->config_msix_vector = v < vp->msix.nr_vectors ? (uint16_t)v
								   : VIRTIO_MSI_NO_VECTOR;
		return;
	case VP_STATUS:
		virtio_dev_set_status(vdev, (uint8_t)v);
		if (v == 0)
			vp_reset_transport(vp);
		return;
	case VP_Q_SELECT:
		vp->queue_select = (uint16_t)v;
		return;
	case VP_DF:
	case VP_NUM_QUEUES:
	case VP_CFG_GENERATION:
	case VP_Q_NOFF:
		return; /* read-only */
	}

	vq = vp_selected_queue(vp);
	if (!vq)
		return;
	switch (off) {
	case VP_Q_MSIX:
		__atomic_store_n(&vq->msix_vector,
				 v < vp->msix.nr_vectors ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR,
				 __ATOMIC_RELAXED);
		return;
	case VP_Q_SIZE:
		if (!vp_queue_writable(vp, vq, off))
			return;
		if (v == 0 || v > vdev->max_queue_size || (v & (v - 1))) {
			vp_log_bad_access(vp, "invalid queue_size", off, size);
			return;
		}
		vq->size = (uint16_t)v;
		return;
	case VP_Q_ENABLE:
		/* Writing 0 is not allowed (4.1.4.3.2); a queue is disabled by reset. */
		if (v != 1 || !vp_queue_writable(vp, vq, off))
			return;
		if (!vq->desc_gpa || !vq->avail_gpa || !vq->used_gpa) {
			vp_log_bad_access(vp, "queue_enable without ring addresses", off, size);
			return;
		}
		vq->ready = true;
		return;
	}
	if (!vp_queue_writable(vp, vq, off))
		return;
	addr = vp_queue_addr(vq, off);
	if (size == 8)
		*addr = v;
	else if (off % 8)
		*addr = (*addr & UINT64_C(0xffffffff)) | v << 32;
	else
		*addr = (*addr & ~UINT64_C(0xffffffff)) | v;
}

void vp_common_access(struct virtio_pci *vp, uint64_t off, uint8_t *data, uint32_t size,
			     bool write)
{
	if (!vp_common_access_ok(off, size)) {
		vp_log_bad_access(vp, write ? "common config write" : "common config read", off,
				  size);
		if (!write)
			memset(data, 0, size);
		return;
	}
	pthread_mutex_lock(&vp->vdev->lock);
	if (write)
		vp_common_write(vp, off, size, vp_le_get(data, size));
	else
		vp_le_put(data, size, vp_common_read(vp, off, size));
	pthread_mutex_unlock(&vp->vdev->lock);
}
