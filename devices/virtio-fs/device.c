/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-fs over a vhost-user back-end (see devices/virtio-fs.h).
 *
 * What runs where:
 *  - create (main thread): connect, handshake, check the back-end can do every
 *    virtio feature the device layer offers on its behalf.
 *  - activate/reset (vCPU thread, under vdev->lock): all vhost-user requests.
 *    The worker is stopped whenever a request is in flight (activate starts
 *    it last, reset stops it first), so the connection has one user at a time.
 *  - worker thread: the call eventfds (-> queue interrupts) and the socket's
 *    hang-up. It never talks on the socket.
 */
#include "devices/virtio-fs.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "vhost-user.h"

#define FS_QUEUE_HIPRIO 0
#define FS_QUEUE_REQUEST 1
#define FS_NR_QUEUES (1 + VIRTIO_FS_REQUEST_QUEUES)
#define FS_MIN_QUEUE_SIZE 2
#define FS_NAME_MAX 64
#define FS_WHY_MAX 128

/*
 * Virtio features the back-end must support because the device layer offers
 * them for every device (virtio.c's VIRTIO_LAYER_FEATURES): we cannot mask
 * them per device, so a back-end lacking one is refused at creation.
 */
#define FS_LAYER_FEATURES                                                              \
	(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) |        \
	 VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC))

/* Config space (virtio 1.x 5.11.4), little-endian. */
struct virtio_fs_config_space {
	uint8_t tag[VIRTIO_FS_TAG_MAX]; /* NUL padded, not NUL terminated */
	uint32_t num_request_queues;
} __attribute__((packed));

_Static_assert(sizeof(struct virtio_fs_config_space) == 40, "virtio-fs config is 40 bytes");
_Static_assert(FS_NR_QUEUES <= VHOST_USER_MAX_VRINGS, "vring index range");

struct virtio_fs;

struct fs_queue {
	struct virtio_fs *fs;
	uint16_t index;
	int call_fd; /* owned: the back-end signals completions here */
};

struct virtio_fs {
	struct virtio_dev vdev;
	char name[FS_NAME_MAX];
	char tag[VIRTIO_FS_TAG_MAX + 1];
	char *socket_path;
	struct virtio_fs_config_space config;
	struct vhost_user *vu;
	uint64_t backend_features; /* virtio bits from GET_FEATURES */
	struct virtio_worker worker;
	bool worker_ready;
	struct fs_queue queues[FS_NR_QUEUES];
	bool backend_lost; /* atomic: set once, by whoever notices first */
	/* counters (atomic) */
	uint64_t call_signals;
	uint64_t backend_disconnects;
};

static const struct virtio_device_ops fs_ops;

static struct virtio_fs *fs_from_vdev(struct virtio_dev *vdev)
{
	return container_of(vdev, struct virtio_fs, vdev);
}

/*
 * The back-end is gone or unusable for good (virtiofsd accepts one
 * connection and exits when it ends): one log line (the device layer's
 * NEEDS_RESET warning, which carries the tag), a config interrupt, and the
 * device refuses to activate from now on.
 */
static void fs_backend_lost(struct virtio_fs *fs, const char *what)
{
	char why[FS_WHY_MAX];

	if (__atomic_exchange_n(&fs->backend_lost, true, __ATOMIC_ACQ_REL))
		return;
	__atomic_fetch_add(&fs->backend_disconnects, 1, __ATOMIC_RELAXED);
	snprintf(why, sizeof(why), "virtio-fs %s: vhost-user backend %s", fs->tag, what);
	virtio_dev_set_needs_reset(&fs->vdev, why);
}

static bool fs_is_lost(struct virtio_fs *fs)
{
	return __atomic_load_n(&fs->backend_lost, __ATOMIC_ACQUIRE);
}

/* After a failed request: was it the connection (then the back-end is lost)? */
static void fs_check_connection(struct virtio_fs *fs, int r)
{
	if (vhost_user_get_state(fs->vu) != VHOST_USER_STATE_FAILED)
		return;
	if (r == -ETIMEDOUT)
		fs_backend_lost(fs, "not responding");
	else
		fs_backend_lost(fs, "disconnected");
}

/* Worker callbacks -------------------------------------------------------- */

static void fs_on_call(void *opaque, uint32_t events)
{
	struct fs_queue *q = opaque;
	struct virtio_dev *vdev = &q->fs->vdev;
	int r;

	virtio_eventfd_drain(q->call_fd);
	__atomic_fetch_add(&q->fs->call_signals, 1, __ATOMIC_RELAXED);
	/* virtiofsd already applied EVENT_IDX / NO_INTERRUPT: signal unconditionally */
	if (!vdev->transport || !vdev->transport->signal_queue)
		return;
	r = vdev->transport->signal_queue(vdev, q->index);
	if (r < 0)
		log_debug_errno(r, "%s: queue %u interrupt failed", vdev->name, q->index);
}

/*
 * Once the back-end is gone its rings would never move again and every
 * guest request on them would hang: Linux's virtio-fs driver does not act on
 * DEVICE_NEEDS_RESET. So the device takes the queues over and answers each
 * request with EIO, from where the back-end stopped completing (used->idx).
 * Requests it had taken but not completed are failed too; ones it completed
 * out of order may be completed twice, which only a guest's own driver can
 * notice.
 */
#define FS_FUSE_OUT_HEADER_LEN 16 /* struct fuse_out_header { u32 len; s32 error; u64 unique; } */
#define FS_FUSE_UNIQUE_OFFSET 8	  /* in struct fuse_in_header */
#define FS_FUSE_EIO (-5)

static void fs_fail_requests(void *opaque, uint32_t events)
{
	struct fs_queue *q = opaque;
	struct virtio_dev *vdev = &q->fs->vdev;
	struct virtqueue *vq = &vdev->queues[q->index];
	static __thread struct virtq_chain chain;
	uint8_t out[FS_FUSE_OUT_HEADER_LEN];
	bool pushed = false;
	int r;

	virtio_eventfd_drain(vdev->kick_fds[q->index]);
	/*
	 * Armed pops: the driver only kicks when we ask it to (avail_event with
	 * EVENT_IDX, else used->flags). The dead back-end left both where it
	 * last put them, so without re-arming the guest would kick once more at
	 * most and its next request would wait for ever.
	 */
	while ((r = virtq_pop_armed(vq, &chain)) > 0) {
		uint64_t unique = 0;
		uint32_t written = 0;

		/* FORGET and friends (no writable part) expect no answer */
		if (chain.in_len >= sizeof(out) &&
		    virtq_chain_read(&chain, FS_FUSE_UNIQUE_OFFSET, &unique, sizeof(unique)) ==
			    sizeof(unique)) {
			uint32_t len = htole32(sizeof(out));
			int32_t err = (int32_t)htole32((uint32_t)FS_FUSE_EIO);

			memcpy(out, &len, 4);
			memcpy(out + 4, &err, 4);
			memcpy(out + 8, &unique, 8);
			written = (uint32_t)virtq_chain_write(&chain, 0, out, sizeof(out));
		}
		if (virtq_push(vq, chain.head, written) < 0)
			break;
		pushed = true;
	}
	if (pushed && virtio_dev_notify_queue(vdev, q->index) < 0)
		log_debug("%s: queue %u interrupt failed", vdev->name, q->index);
}

static void fs_take_over_queues(struct virtio_fs *fs)
{
	struct virtio_dev *vdev = &fs->vdev;

	for (uint16_t i = 0; i < FS_NR_QUEUES; i++) {
		struct virtqueue *vq = &vdev->queues[i];
		uint16_t used_idx;

		if (!vq->ready || !vhost_user_vring_started(fs->vu, i))
			continue;
		if (guest_mem_read(vq->mem, vq->used_gpa + 2, &used_idx, sizeof(used_idx)) < 0)
			continue;
		vq->last_avail_idx = vq->used_idx = le16toh(used_idx);
		vq->signalled_used_valid = false;
		if (virtio_worker_add(&fs->worker, vdev->kick_fds[i], EPOLLIN, fs_fail_requests,
				      &fs->queues[i]) < 0)
			continue;
		fs_fail_requests(&fs->queues[i], EPOLLIN);
	}
}

static void fs_on_socket(void *opaque, uint32_t events)
{
	struct virtio_fs *fs = opaque;

	/* level-triggered hang-up: stop watching or it fires forever */
	if (virtio_worker_del(&fs->worker, vhost_user_fd(fs->vu)) < 0)
		log_debug("%s: unwatching the vhost-user socket failed", fs->name);
	fs_backend_lost(fs, "disconnected");
	fs_take_over_queues(fs);
}

/* Device ops ------------------------------------------------------------ */

static uint64_t fs_features(struct virtio_dev *vdev)
{
	/*
	 * No device-specific bits: VIRTIO_FS_F_NOTIFICATION needs a notification
	 * queue the C virtiofsd does not have. The ring bits come from the layer
	 * (create checked the back-end supports them).
	 */
	return 0;
}

static void fs_config_read(struct virtio_dev *vdev, uint32_t offset, uint8_t *data, uint32_t size)
{
	/* the layer checked offset + size <= sizeof(config) */
	memcpy(data, (const uint8_t *)&fs_from_vdev(vdev)->config + offset, size);
}

static void fs_config_write(struct virtio_dev *vdev, uint32_t offset, const uint8_t *data,
			    uint32_t size)
{
	log_debug("%s: config write of %u bytes at %u ignored (read-only)", vdev->name, size,
		  offset);
}

/* GET_VRING_BASE for every started queue; the back-end stops them. */
static void fs_stop_rings(struct virtio_fs *fs)
{
	if (!fs->vu)
		return;
	for (uint16_t i = 0; i < FS_NR_QUEUES; i++) {
		int r;

		if (!vhost_user_vring_started(fs->vu, i))
			continue;
		if (fs_is_lost(fs))
			return; /* nobody to tell; don't wait on a half-closed socket */
		r = vhost_user_vring_stop(fs->vu, i, NULL);
		if (r < 0) {
			log_debug_errno(r, "%s: stopping vring %u", fs->name, i);
			fs_check_connection(fs, r);
		}
	}
}

static int fs_start_ring(struct virtio_fs *fs, uint16_t i)
{
	const struct virtqueue *vq = &fs->vdev.queues[i];
	struct vhost_user_vring vr = {
		.index = i,
		.size = vq->size,
		.base = 0, /* a fresh ring after reset */
		.desc_gpa = vq->desc_gpa,
		.avail_gpa = vq->avail_gpa,
		.used_gpa = vq->used_gpa,
		.kick_fd = fs->vdev.kick_fds[i],
		.call_fd = fs->queues[i].call_fd,
	};

	return vhost_user_vring_start(fs->vu, &vr);
}

static int fs_activate(struct virtio_dev *vdev)
{
	struct virtio_fs *fs = fs_from_vdev(vdev);
	uint64_t features = vdev->driver_features;
	int r;

	if (fs_is_lost(fs))
		return -ENOTCONN;
	if (features & ~fs->backend_features) {
		/* create() made this impossible; refuse rather than lie to the back-end */
		log_debug("%s: driver features %#" PRIx64 " unknown to the back-end", vdev->name,
			  features & ~fs->backend_features);
		return -EPROTO;
	}
	r = vhost_user_set_features(fs->vu, features);
	if (r < 0)
		goto fail;
	r = vhost_user_set_mem_table(fs->vu, vdev->mem);
	if (r < 0)
		goto fail;
	/* only the queues the driver enabled; hiprio is optional for the driver */
	for (uint16_t i = 0; i < FS_NR_QUEUES; i++) {
		if (!vdev->queues[i].ready)
			continue;
		r = fs_start_ring(fs, i);
		if (r < 0) {
			log_debug_errno(r, "%s: starting vring %u", vdev->name, i);
			goto fail;
		}
	}
	r = virtio_worker_start(&fs->worker);
	if (r < 0) {
		log_debug_errno(r, "%s: starting the worker", vdev->name);
		goto fail;
	}
	return 0;

fail:
	/* the layer does not call reset() after a failed activate: undo here */
	fs_check_connection(fs, r);
	fs_stop_rings(fs);
	return r;
}

static void fs_reset(struct virtio_dev *vdev)
{
	struct virtio_fs *fs = fs_from_vdev(vdev);

	if (fs->worker_ready)
		virtio_worker_stop(&fs->worker);
	fs_stop_rings(fs);
	/* a completion signalled before the stop must not interrupt the next incarnation */
	for (unsigned int i = 0; i < FS_NR_QUEUES; i++)
		virtio_eventfd_drain(fs->queues[i].call_fd);
}

static void fs_free(struct virtio_fs *fs)
{
	if (!fs)
		return;
	virtio_dev_fini(&fs->vdev); /* resets (stops rings, joins the worker) if active */
	if (fs->worker_ready) {
		virtio_worker_stop(&fs->worker);
		virtio_worker_fini(&fs->worker);
	}
	/* closing the socket makes virtiofsd exit */
	vhost_user_close(fs->vu);
	for (unsigned int i = 0; i < FS_NR_QUEUES; i++)
		if (fs->queues[i].call_fd >= 0)
			close(fs->queues[i].call_fd);
	free(fs->socket_path);
	free(fs);
}

static void fs_destroy(struct virtio_dev *vdev)
{
	fs_free(fs_from_vdev(vdev));
}

static const struct virtio_device_ops fs_ops = {
	.features = fs_features,
	.config_read = fs_config_read,
	.config_write = fs_config_write,
	.activate = fs_activate,
	.reset = fs_reset,
	.destroy = fs_destroy,
};

/* Public API ------------------------------------------------------------ */

static int fs_check_config(const struct virtio_fs_config *cfg, const struct guest_mem *mem,
			   uint16_t *ret_queue_size, struct error *err)
{
	uint16_t qs;
	size_t tag_len;

	if (!cfg || !mem)
		return error_set(err, -EINVAL, "--fs: invalid arguments");
	if (!cfg->socket_path || cfg->socket_path[0] == '\0')
		return error_set(err, -EINVAL, "--fs: socket= is required");
	if (!cfg->tag || cfg->tag[0] == '\0')
		return error_set(err, -EINVAL, "--fs: tag= is required");
	tag_len = strlen(cfg->tag);
	if (tag_len > VIRTIO_FS_TAG_MAX)
		return error_set(err, -EINVAL, "--fs tag=%s: longer than %d bytes (%zu)", cfg->tag,
				 VIRTIO_FS_TAG_MAX, tag_len);
	if (cfg->num_queues != 0 && cfg->num_queues != VIRTIO_FS_REQUEST_QUEUES)
		return error_set(err, -EINVAL,
				 "--fs num_queues=%u: Debian's virtiofsd serves one request queue",
				 cfg->num_queues);
	qs = cfg->queue_size ? cfg->queue_size : VIRTIO_FS_DEFAULT_QUEUE_SIZE;
	if (qs < FS_MIN_QUEUE_SIZE || qs > VIRTIO_FS_MAX_QUEUE_SIZE || (qs & (qs - 1)))
		return error_set(err, -EINVAL,
				 "--fs queue_size=%u: must be a power of two between %d and %d",
				 qs, FS_MIN_QUEUE_SIZE, VIRTIO_FS_MAX_QUEUE_SIZE);
	/* the back-end maps guest RAM from its fd: private anonymous RAM cannot work */
	if (!mem->shared)
		return error_set(err, -EINVAL, "--fs needs --memory shared=on");
	*ret_queue_size = qs;
	return 0;
}

/* Connect, handshake, and check the back-end against what we will offer. */
static int fs_connect(struct virtio_fs *fs, struct error *err)
{
	uint64_t missing;
	int r;

	r = vhost_user_connect(fs->socket_path, 0, &fs->vu);
	if (r < 0)
		return error_set(err, r, "--fs socket=%s: %s", fs->socket_path, strerror(-r));
	r = vhost_user_handshake(fs->vu, FS_NR_QUEUES);
	if (r == -ERANGE)
		return error_set(err, r, "--fs socket=%s: the vhost-user backend serves %u queues, "
				 "virtio-fs needs %d", fs->socket_path,
				 vhost_user_backend_queues(fs->vu), FS_NR_QUEUES);
	if (r < 0)
		return error_set(err, r, "--fs socket=%s: vhost-user handshake failed: %s",
				 fs->socket_path, strerror(-r));
	fs->backend_features = vhost_user_backend_features(fs->vu);
	missing = virtio_dev_offered_features(&fs->vdev) & ~fs->backend_features;
	if (missing)
		return error_set(err, -EOPNOTSUPP,
				 "--fs socket=%s: the vhost-user backend lacks virtio features %#"
				 PRIx64 " (offered %#" PRIx64 ")",
				 fs->socket_path, missing, fs->backend_features);
	return 0;
}

int virtio_fs_create(const struct virtio_fs_config *cfg, const struct guest_mem *mem,
		     struct virtio_dev **ret, struct error *err)
{
	static unsigned int next_index;
	struct virtio_fs *fs;
	uint16_t queue_size = 0;
	int r;

	if (!ret)
		return error_set(err, -EINVAL, "--fs: invalid arguments");
	r = fs_check_config(cfg, mem, &queue_size, err);
	if (r < 0)
		return r;

	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return error_set(err, -ENOMEM, "virtio-fs: out of memory");
	for (unsigned int i = 0; i < FS_NR_QUEUES; i++)
		fs->queues[i] = (struct fs_queue){ .fs = fs, .index = (uint16_t)i, .call_fd = -1 };
	if (cfg->id)
		snprintf(fs->name, sizeof(fs->name), "%s", cfg->id);
	else
		snprintf(fs->name, sizeof(fs->name), "virtio-fs%u",
			 __atomic_fetch_add(&next_index, 1, __ATOMIC_RELAXED));
	snprintf(fs->tag, sizeof(fs->tag), "%s", cfg->tag);
	/* NUL padded (calloc), not terminated: a 36-byte tag fills the field */
	memcpy(fs->config.tag, cfg->tag, strlen(cfg->tag));
	fs->config.num_request_queues = htole32(VIRTIO_FS_REQUEST_QUEUES);

	/* Nothing below may call fs_free() before vdev init: keep it first. */
	r = virtio_dev_init(&fs->vdev, &fs_ops, fs->name, VIRTIO_ID_FS, FS_NR_QUEUES, queue_size,
			    sizeof(fs->config));
	if (r < 0) {
		free(fs);
		return error_set(err, r, "virtio-fs: cannot initialise the device: %s",
				 strerror(-r));
	}
	fs->vdev.mem = mem;
	fs->socket_path = strdup(cfg->socket_path);
	if (!fs->socket_path) {
		r = error_set(err, -ENOMEM, "virtio-fs: out of memory");
		goto fail;
	}
	for (unsigned int i = 0; i < FS_NR_QUEUES; i++) {
		fs->queues[i].call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fs->queues[i].call_fd < 0) {
			r = error_set(err, -errno, "virtio-fs: eventfd: %s", strerror(errno));
			goto fail;
		}
	}

	r = fs_connect(fs, err);
	if (r < 0)
		goto fail;

	r = virtio_worker_init(&fs->worker, fs->name);
	if (r < 0) {
		error_set(err, r, "virtio-fs: cannot create the worker: %s", strerror(-r));
		goto fail;
	}
	fs->worker_ready = true;
	for (unsigned int i = 0; i < FS_NR_QUEUES; i++) {
		r = virtio_worker_add(&fs->worker, fs->queues[i].call_fd, EPOLLIN, fs_on_call,
				      &fs->queues[i]);
		if (r < 0) {
			error_set(err, r, "virtio-fs: cannot watch a call eventfd: %s",
				  strerror(-r));
			goto fail;
		}
	}
	/*
	 * Hang-up only (no EPOLLIN): replies are read synchronously by activate
	 * and reset while the worker is stopped; EPOLLHUP/EPOLLERR are implied.
	 */
	r = virtio_worker_add(&fs->worker, vhost_user_fd(fs->vu), EPOLLRDHUP, fs_on_socket, fs);
	if (r < 0) {
		error_set(err, r, "virtio-fs: cannot watch the vhost-user socket: %s",
			  strerror(-r));
		goto fail;
	}
	log_debug("%s: tag %s, socket %s, queue size %u, backend features %#" PRIx64, fs->name,
		  fs->tag, fs->socket_path, queue_size, fs->backend_features);
	*ret = &fs->vdev;
	return 0;
fail:
	fs_free(fs);
	return r;
}

void virtio_fs_destroy(struct virtio_dev *vdev)
{
	if (!vdev)
		return;
	virtio_dev_reset(vdev);
	vdev->ops->destroy(vdev);
}

int virtio_fs_get_counters(struct virtio_dev *vdev, struct virtio_fs_counters *ret)
{
	struct virtio_fs *fs;

	if (!vdev || !ret || vdev->ops != &fs_ops)
		return -EINVAL;
	fs = fs_from_vdev(vdev);
	ret->call_signals = __atomic_load_n(&fs->call_signals, __ATOMIC_RELAXED);
	ret->backend_disconnects = __atomic_load_n(&fs->backend_disconnects, __ATOMIC_RELAXED);
	return 0;
}
