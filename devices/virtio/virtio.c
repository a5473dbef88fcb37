/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The transport-agnostic virtio device layer: feature negotiation, the
 * status state machine (virtio 1.x 2.1, 3.1), queue activation, reset,
 * config space bounds and DEVICE_NEEDS_RESET.
 *
 * Locking: vdev->lock is a recursive mutex taken inside every transport-side
 * entry point (set_status, reset, config read/write), so a transport may, but
 * need not, hold it around its own register handling. Device code running
 * on the worker thread must never take it: reset holds it while ops->reset
 * joins that worker. The worker-side entry points (notify_queue,
 * set_needs_reset) therefore do not lock; `status` is only changed with
 * atomic operations so both sides can update it.
 */
#include "devices/virtio.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/eventfd.h>

#include "common/log.h"

/* Bits the layer itself implements and always offers. */
#define VIRTIO_LAYER_FEATURES                                                          \
	(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |        \
	 VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC))
/* Bits we cannot honour whatever the device kind says: packed rings. */
#define VIRTIO_UNSUPPORTED_FEATURES VIRTIO_BIT(VIRTIO_F_RING_PACKED)

static uint8_t status_load(const struct virtio_dev *vdev)
{
	return __atomic_load_n(&vdev->status, __ATOMIC_ACQUIRE);
}

int virtio_dev_init(struct virtio_dev *vdev, const struct virtio_device_ops *ops,
		    const char *name, uint32_t device_type, uint16_t nr_queues,
		    uint16_t max_queue_size, uint32_t config_size)
{
	pthread_mutexattr_t attr;
	int r;

	if (!vdev || !ops || nr_queues == 0 || nr_queues > VIRTIO_MAX_QUEUES ||
	    max_queue_size == 0 || max_queue_size > VIRTQ_MAX_SIZE ||
	    (max_queue_size & (max_queue_size - 1)) != 0)
		return -EINVAL;

	memset(vdev, 0, sizeof(*vdev));
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vdev->kick_fds[i] = -1;
	vdev->name = name ? name : "virtio";
	vdev->device_type = device_type;
	vdev->config_size = config_size;
	vdev->nr_queues = nr_queues;
	vdev->max_queue_size = max_queue_size;
	vdev->config_msix_vector = VIRTIO_MSI_NO_VECTOR;

	for (unsigned int i = 0; i < nr_queues; i++) {
		vdev->kick_fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vdev->kick_fds[i] < 0) {
			r = -errno;
			goto close_fds;
		}
		vdev->queues[i].index = (uint16_t)i;
		vdev->queues[i].owner = vdev->name;
		virtq_reset(&vdev->queues[i], max_queue_size);
	}

	/* recursive: a transport may hold it around calls that take it again */
	r = -pthread_mutexattr_init(&attr);
	if (r < 0)
		goto close_fds;
	r = -pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	if (r == 0)
		r = -pthread_mutex_init(&vdev->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (r < 0)
		goto close_fds;

	/* ops last: virtio_dev_fini() uses it to tell a live device */
	vdev->ops = ops;
	vdev->device_features = virtio_dev_offered_features(vdev);
	return 0;

close_fds:
	for (unsigned int i = 0; i < nr_queues; i++) {
		if (vdev->kick_fds[i] >= 0)
			close(vdev->kick_fds[i]);
		vdev->kick_fds[i] = -1;
	}
	return r;
}

void virtio_dev_fini(struct virtio_dev *vdev)
{
	/* NULL, never initialised or failed init: nothing to release */
	if (!vdev || !vdev->ops)
		return;
	if (vdev->activated)
		virtio_dev_reset(vdev);
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		if (vdev->kick_fds[i] >= 0)
			close(vdev->kick_fds[i]);
		vdev->kick_fds[i] = -1;
	}
	pthread_mutex_destroy(&vdev->lock);
	vdev->ops = NULL;
}

uint64_t virtio_dev_offered_features(struct virtio_dev *vdev)
{
	uint64_t f = vdev->ops && vdev->ops->features ? vdev->ops->features(vdev) : 0;

	f = (f | VIRTIO_LAYER_FEATURES) & ~VIRTIO_UNSUPPORTED_FEATURES;
	vdev->device_features = f;
	return f;
}

/* Called with the lock held. */
static void reset_locked(struct virtio_dev *vdev)
{
	if (vdev->activated && vdev->ops->reset)
		vdev->ops->reset(vdev); /* joins the worker: nothing runs after this */
	vdev->activated = false;
	for (unsigned int i = 0; i < vdev->nr_queues; i++) {
		virtq_reset(&vdev->queues[i], vdev->max_queue_size);
		/* a stale kick must not wake the next incarnation */
		if (vdev->kick_fds[i] >= 0)
			virtio_eventfd_drain(vdev->kick_fds[i]);
	}
	vdev->driver_features = 0;
	vdev->config_msix_vector = VIRTIO_MSI_NO_VECTOR;
	__atomic_store_n(&vdev->status, 0, __ATOMIC_RELEASE);
}

void virtio_dev_reset(struct virtio_dev *vdev)
{
	pthread_mutex_lock(&vdev->lock);
	reset_locked(vdev);
	pthread_mutex_unlock(&vdev->lock);
}

static bool features_acceptable(struct virtio_dev *vdev)
{
	uint64_t offered = virtio_dev_offered_features(vdev);
	uint64_t wanted = vdev->driver_features;

	if (wanted & ~offered) {
		log_debug("virtio: %s: driver accepted features 0x%" PRIx64 " never offered",
			  vdev->name, wanted & ~offered);
		return false;
	}
	if (!(wanted & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
		log_debug("virtio: %s: driver did not accept VERSION_1 (legacy driver)",
			  vdev->name);
		return false;
	}
	return true;
}

/* DRIVER_OK: validate and activate the enabled queues, then the device. */
static void activate_locked(struct virtio_dev *vdev)
{
	bool event_idx = virtio_dev_has_feature(vdev, VIRTIO_F_RING_EVENT_IDX);
	bool indirect = virtio_dev_has_feature(vdev, VIRTIO_F_INDIRECT_DESC);
	int r;

	/* the guest may have rewritten its features after FEATURES_OK */
	if (!features_acceptable(vdev)) {
		virtio_dev_set_needs_reset(vdev, "driver features changed after FEATURES_OK");
		return;
	}
	for (unsigned int i = 0; i < vdev->nr_queues; i++) {
		struct virtqueue *vq = &vdev->queues[i];

		if (!vq->ready)
			continue;
		if (vq->size > vdev->max_queue_size) {
			virtio_dev_set_needs_reset(vdev, "queue size above the maximum");
			return;
		}
		r = virtq_activate(vq, vdev->mem, event_idx, indirect);
		if (r < 0) {
			virtio_dev_set_needs_reset(vdev, "invalid queue layout at DRIVER_OK");
			return;
		}
	}
	if (vdev->ops->activate) {
		r = vdev->ops->activate(vdev);
		if (r < 0) {
			log_debug("virtio: %s: activate failed: %s", vdev->name, strerror(-r));
			virtio_dev_set_needs_reset(vdev, "device activation failed");
			return;
		}
	}
	vdev->activated = true;
}

void virtio_dev_set_status(struct virtio_dev *vdev, uint8_t status)
{
	uint8_t old, added;

	pthread_mutex_lock(&vdev->lock);
	if (status == 0) {
		reset_locked(vdev);
		goto unlock;
	}

	old = status_load(vdev);
	/* bits are only ever added; only writing 0 (reset) clears them */
	added = status & ~old;
	added &= ~VIRTIO_STATUS_DEVICE_NEEDS_RESET; /* device-owned */

	if ((added & VIRTIO_STATUS_FEATURES_OK) &&
	    ((old & VIRTIO_STATUS_DRIVER_OK) || !features_acceptable(vdev)))
		added &= ~VIRTIO_STATUS_FEATURES_OK; /* the driver reads it back and gives up */

	if (added & VIRTIO_STATUS_DRIVER_OK) {
		if (!((old | added) & VIRTIO_STATUS_FEATURES_OK)) {
			log_debug("virtio: %s: DRIVER_OK without FEATURES_OK", vdev->name);
			added &= ~VIRTIO_STATUS_DRIVER_OK;
		}
	}

	__atomic_fetch_or(&vdev->status, added, __ATOMIC_ACQ_REL);
	if ((added & VIRTIO_STATUS_DRIVER_OK) && !vdev->activated &&
	    !(status_load(vdev) & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		activate_locked(vdev);
	if (added & VIRTIO_STATUS_FAILED)
		log_debug("virtio: %s: driver gave up (FAILED)", vdev->name);
unlock:
	pthread_mutex_unlock(&vdev->lock);
}

/* offset/size come from the guest: out of range reads are 0, writes dropped */
static bool config_range_ok(const struct virtio_dev *vdev, uint32_t offset, uint32_t size)
{
	return (uint64_t)offset + size <= vdev->config_size;
}

void virtio_dev_config_read(struct virtio_dev *vdev, uint32_t offset, uint8_t *data, uint32_t size)
{
	memset(data, 0, size);
	if (!config_range_ok(vdev, offset, size) || !vdev->ops->config_read)
		return;
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->config_read(vdev, offset, data, size);
	pthread_mutex_unlock(&vdev->lock);
}

void virtio_dev_config_write(struct virtio_dev *vdev, uint32_t offset, const uint8_t *data,
			     uint32_t size)
{
	if (!config_range_ok(vdev, offset, size) || !vdev->ops->config_write)
		return;
	pthread_mutex_lock(&vdev->lock);
	vdev->ops->config_write(vdev, offset, data, size);
	pthread_mutex_unlock(&vdev->lock);
}

int virtio_dev_notify_queue(struct virtio_dev *vdev, uint16_t queue)
{
	if (queue >= vdev->nr_queues)
		return -EINVAL;
	if (!virtq_needs_interrupt(&vdev->queues[queue]))
		return 0;
	if (!vdev->transport || !vdev->transport->signal_queue)
		return 0;
	return vdev->transport->signal_queue(vdev, queue);
}

void virtio_dev_set_needs_reset(struct virtio_dev *vdev, const char *why)
{
	uint8_t old = __atomic_fetch_or(&vdev->status, VIRTIO_STATUS_DEVICE_NEEDS_RESET,
					__ATOMIC_ACQ_REL);

	if (old & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return; /* already told the driver (and the log) */
	log_warn("virtio: %s: %s; device needs reset", vdev->name, why ? why : "error");
	if (vdev->transport && vdev->transport->signal_config) {
		int r = vdev->transport->signal_config(vdev);

		if (r < 0)
			log_debug("virtio: %s: config interrupt failed: %s", vdev->name,
				  strerror(-r));
	}
}

void virtio_dev_pause(struct virtio_dev *vdev)
{
	pthread_mutex_lock(&vdev->lock);
	if (vdev->activated && vdev->ops->pause)
		vdev->ops->pause(vdev);
	pthread_mutex_unlock(&vdev->lock);
}

int virtio_dev_resume(struct virtio_dev *vdev)
{
	int r = 0;

	pthread_mutex_lock(&vdev->lock);
	if (vdev->activated && vdev->ops->resume)
		r = vdev->ops->resume(vdev);
	pthread_mutex_unlock(&vdev->lock);
	return r;
}
