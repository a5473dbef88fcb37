/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Transport-agnostic virtio device layer (virtio 1.x). A device kind embeds
 * struct virtio_dev and recovers itself with container_of; it provides a
 * struct virtio_device_ops. A transport (virtio-pci today) owns the status,
 * feature negotiation and queue registers, and calls into the device through
 * the virtio_dev_* functions below.
 *
 * Threads: the transport runs on vCPU threads; each activated device runs its
 * queues on its own worker thread (struct virtio_worker), woken by the
 * queues' kick eventfds (ioeventfds). activate() starts the worker, reset()
 * stops and joins it: after reset() returns, nothing of the device touches
 * guest memory and no request is in flight.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/guest-mem.h"
#include "common/macros.h"
#include "devices/virtqueue.h"

/* Device types (virtio 1.x 5) */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_VSOCK 19
#define VIRTIO_ID_FS 26

/* Device status bits (2.1) */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* Reserved feature bits (6) */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED 34

#define VIRTIO_BIT(b) (UINT64_C(1) << (b))

#define VIRTIO_MAX_QUEUES 64
#define VIRTIO_MSI_NO_VECTOR 0xffff

struct virtio_dev;

struct virtio_device_ops {
	/* Device-specific feature bits offered (the layer adds VERSION_1,
	 * RING_EVENT_IDX and INDIRECT_DESC). */
	uint64_t (*features)(struct virtio_dev *vdev);
	/* Device config space: `offset`+`size` already checked against config_size. */
	void (*config_read)(struct virtio_dev *vdev, uint32_t offset, uint8_t *data, uint32_t size);
	void (*config_write)(struct virtio_dev *vdev, uint32_t offset, const uint8_t *data,
			     uint32_t size);
	/* DRIVER_OK with valid queues: start processing (usually: start the worker). */
	int (*activate)(struct virtio_dev *vdev);
	/* Back to the initial state; stop the worker; drop in-flight requests. */
	void (*reset)(struct virtio_dev *vdev);
	/* Release everything (after reset). */
	void (*destroy)(struct virtio_dev *vdev);
	/* Optional: stop touching guest memory and backends until resume (VM
	 * pause); in-flight requests complete first. NULL: nothing to do. */
	void (*pause)(struct virtio_dev *vdev);
	int (*resume)(struct virtio_dev *vdev);
};

/* What a device needs from its transport: raising interrupts. */
struct virtio_transport_ops {
	/* The used ring of `queue` has new entries the driver wants to hear about. */
	int (*signal_queue)(struct virtio_dev *vdev, uint16_t queue);
	/* The device config space changed. */
	int (*signal_config)(struct virtio_dev *vdev);
};

struct virtio_dev {
	const struct virtio_device_ops *ops;
	const char *name;		/* "virtio-blk0"... for logs and counters */
	uint32_t device_type;		/* VIRTIO_ID_* */
	const struct guest_mem *mem;
	/* negotiation (written by the transport) */
	uint64_t device_features;	/* offered: ops->features() | layer bits */
	uint64_t driver_features;	/* accepted by the driver */
	uint8_t status;
	uint32_t config_generation;
	uint32_t config_size;
	/* queues */
	uint16_t nr_queues;
	uint16_t max_queue_size;
	struct virtqueue queues[VIRTIO_MAX_QUEUES];
	int kick_fds[VIRTIO_MAX_QUEUES]; /* eventfds the transport binds as ioeventfds */
	/* transport */
	const struct virtio_transport_ops *transport;
	void *transport_data;
	uint16_t config_msix_vector;
	/* serialises transport register access against reset/activate */
	pthread_mutex_t lock;
	bool activated;
};

/*
 * Initialise the common part: creates one kick eventfd per queue. The device
 * kind sets its ops/name/type/config_size before or after this call.
 */
int virtio_dev_init(struct virtio_dev *vdev, const struct virtio_device_ops *ops,
		    const char *name, uint32_t device_type, uint16_t nr_queues,
		    uint16_t max_queue_size, uint32_t config_size) _wur_;
void virtio_dev_fini(struct virtio_dev *vdev);

/* Transport side ------------------------------------------------------- */

/* Offered features (device bits | VERSION_1 | EVENT_IDX | INDIRECT_DESC). */
uint64_t virtio_dev_offered_features(struct virtio_dev *vdev);
/* Driver wrote the status register; handles FEATURES_OK checks (refuses
 * features not offered or missing VERSION_1), DRIVER_OK (activate), 0 (reset). */
void virtio_dev_set_status(struct virtio_dev *vdev, uint8_t status);
void virtio_dev_reset(struct virtio_dev *vdev);
void virtio_dev_config_read(struct virtio_dev *vdev, uint32_t offset, uint8_t *data, uint32_t size);
void virtio_dev_config_write(struct virtio_dev *vdev, uint32_t offset, const uint8_t *data,
			     uint32_t size);

/* VM pause/resume: quiesce an activated device (no-op otherwise). */
void virtio_dev_pause(struct virtio_dev *vdev);
int virtio_dev_resume(struct virtio_dev *vdev) _wur_;

/* Device side ---------------------------------------------------------- */

static inline bool virtio_dev_has_feature(const struct virtio_dev *vdev, unsigned int bit)
{
	return vdev->driver_features & VIRTIO_BIT(bit);
}
/* After pushing to `queue`: interrupt the driver if the queue wants it. */
int virtio_dev_notify_queue(struct virtio_dev *vdev, uint16_t queue);
/* A queue broke (hostile or buggy driver): set DEVICE_NEEDS_RESET, tell the
 * driver through a config interrupt, log once. The VMM keeps running. */
void virtio_dev_set_needs_reset(struct virtio_dev *vdev, const char *why);

/*
 * A device's worker thread: one epoll loop over the fds the device adds
 * (queue kick eventfds, backend fds). Callbacks run on the worker thread.
 */
struct virtio_worker_reg;

struct virtio_worker {
	pthread_t thread;
	bool running;
	int epfd;
	int stop_fd;
	const char *name;
	/* registrations (one record per fd; private to worker.c) */
	pthread_mutex_t lock;
	struct virtio_worker_reg *regs;	/* live */
	struct virtio_worker_reg *dead;	/* deleted while running, freed by the worker */
};

typedef void (*virtio_worker_fn)(void *opaque, uint32_t events);

int virtio_worker_init(struct virtio_worker *w, const char *name) _wur_;
/* Watch fd (EPOLLIN by default, or the given events) and call fn. */
int virtio_worker_add(struct virtio_worker *w, int fd, uint32_t events, virtio_worker_fn fn,
		      void *opaque) _wur_;
int virtio_worker_mod(struct virtio_worker *w, int fd, uint32_t events, virtio_worker_fn fn,
		      void *opaque) _wur_;
int virtio_worker_del(struct virtio_worker *w, int fd) _wur_;
int virtio_worker_start(struct virtio_worker *w) _wur_;
/* Stop and join; idempotent. The epoll set is kept (fds stay registered). */
void virtio_worker_stop(struct virtio_worker *w);
void virtio_worker_fini(struct virtio_worker *w);
/* Drain an eventfd (after a kick). */
void virtio_eventfd_drain(int fd);
