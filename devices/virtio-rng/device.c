/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-rng: the guest posts device-writable buffers on the request queue;
 * the worker fills each from the entropy source and returns it.
 *
 * Threads: config/activate/reset arrive on vCPU threads (under vdev->lock,
 * held by the device layer); everything that touches the queue or the source
 * runs on the worker thread. reset() joins the worker before touching the
 * device state the worker uses, so no lock is needed for it.
 */
#include "devices/virtio-rng.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"

#define RNG_QUEUE_REQUEST 0
#define RNG_NR_QUEUES 1
/*
 * Requests answered per worker wake-up. The rest is picked up after the
 * worker re-kicks itself, so a ring full of large requests cannot keep
 * reset() waiting for the worker for long.
 */
#define RNG_BATCH 64

struct virtio_rng {
	struct virtio_dev vdev;
	struct virtio_worker worker;
	bool worker_ready;
	char *src_path;
	int src_fd;		/* owned */
	bool src_watched;	/* src_fd is in the worker's epoll set (waiting for EAGAIN to end) */
	/* A popped request waiting for the source to become readable. */
	bool pending;
	struct virtq_chain chain; /* too big for the worker's stack */
	struct iovec iov[VIRTQ_CHAIN_MAX_IOV];
	bool read_error_logged;
	uint64_t bytes_served;	/* atomic: read from other threads */
};

static struct virtio_rng *rng_from_vdev(struct virtio_dev *vdev)
{
	return container_of(vdev, struct virtio_rng, vdev);
}

static const struct virtio_rng *rng_from_vdev_const(const struct virtio_dev *vdev)
{
	return container_of(vdev, const struct virtio_rng, vdev);
}

/*
 * The first `limit` writable bytes of the chain as an iovec array; a request
 * larger than VIRTIO_RNG_MAX_REQUEST is answered with a prefix of it.
 */
static int rng_build_iov(struct virtio_rng *rng, size_t limit)
{
	const struct virtq_chain *c = &rng->chain;
	size_t left = limit;
	int n = 0;

	for (unsigned int i = 0; i < c->nr_in && left > 0; i++) {
		const struct iovec *src = &c->iov[c->nr_out + i];
		size_t len = MIN(src->iov_len, left);

		if (len == 0)
			continue;
		rng->iov[n++] = (struct iovec){ .iov_base = src->iov_base, .iov_len = len };
		left -= len;
	}
	return n;
}

static void rng_watch_source(struct virtio_rng *rng, bool on);

/*
 * Answer the held request. Returns 1 when it was pushed, 0 when the source
 * would block (the request stays held), -EIO when the queue broke.
 */
static int rng_serve(struct virtio_rng *rng)
{
	struct virtqueue *vq = &rng->vdev.queues[RNG_QUEUE_REQUEST];
	int niov = rng_build_iov(rng, VIRTIO_RNG_MAX_REQUEST);
	ssize_t n = 0;

	if (niov > 0) {
		do
			n = readv(rng->src_fd, rng->iov, niov);
		while (n < 0 && errno == EINTR);
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			rng_watch_source(rng, true);
			return 0;
		}
		int e = errno;

		/* Not the guest's fault: answer "no data" so it backs off. */
		if (!rng->read_error_logged) {
			rng->read_error_logged = true;
			log_warn("%s: reading %s failed, answering requests with no data: %s",
				 rng->vdev.name, rng->src_path, strerror(e));
		}
		n = 0;
	}
	rng->pending = false;
	__atomic_fetch_add(&rng->bytes_served, (uint64_t)n, __ATOMIC_RELAXED);
	if (virtq_push(vq, rng->chain.head, (uint32_t)n) < 0)
		return -EIO;
	return 1;
}

/* Worker: answer requests until the ring is empty, the source blocks or the batch is done. */
static void rng_process(struct virtio_rng *rng)
{
	struct virtio_dev *vdev = &rng->vdev;
	struct virtqueue *vq = &vdev->queues[RNG_QUEUE_REQUEST];
	unsigned int served = 0;
	bool more = false;
	int r;

	if (vq->broken)
		return;
	virtq_disable_notify(vq);
	for (;;) {
		if (!rng->pending) {
			if (served >= RNG_BATCH) {
				more = true;
				break;
			}
			r = virtq_pop_armed(vq, &rng->chain);
			if (r < 0) {
				virtio_dev_set_needs_reset(vdev, "malformed request chain");
				break;
			}
			if (r == 0)
				break;
			if (rng->chain.nr_out > 0) {
				/* 5.4.6.1: requests are device-writable only. */
				vq->broken = true;
				virtio_dev_set_needs_reset(vdev, "device-readable descriptor in an entropy request");
				break;
			}
			rng->pending = true;
		}
		r = rng_serve(rng);
		if (r < 0) {
			virtio_dev_set_needs_reset(vdev, "used ring not writable");
			break;
		}
		if (r == 0)
			break; /* source blocks: the request stays held */
		served++;
	}
	if (served > 0)
		(void)virtio_dev_notify_queue(vdev, RNG_QUEUE_REQUEST);
	if (more)
		/* Come back through the epoll loop so a stop request can get in. */
		(void)eventfd_write(vdev->kick_fds[RNG_QUEUE_REQUEST], 1);
}

static void rng_on_kick(void *opaque, uint32_t events)
{
	struct virtio_rng *rng = opaque;

	virtio_eventfd_drain(rng->vdev.kick_fds[RNG_QUEUE_REQUEST]);
	/* While a request waits for the source, the source's wake-up drives. */
	if (!rng->src_watched)
		rng_process(rng);
}

static void rng_on_source(void *opaque, uint32_t events)
{
	struct virtio_rng *rng = opaque;

	rng_watch_source(rng, false);
	rng_process(rng);
}

static void rng_watch_source(struct virtio_rng *rng, bool on)
{
	int r;

	if (on == rng->src_watched)
		return;
	if (on)
		r = virtio_worker_add(&rng->worker, rng->src_fd, EPOLLIN, rng_on_source, rng);
	else
		r = virtio_worker_del(&rng->worker, rng->src_fd);
	if (r < 0) {
		/*
		 * Cannot happen for the character devices that return EAGAIN;
		 * if it does, the request is retried on the next kick.
		 */
		log_debug_errno(r, "%s: cannot %s the entropy source", rng->vdev.name,
				on ? "watch" : "unwatch");
		return;
	}
	rng->src_watched = on;
}

/* Device ops ------------------------------------------------------------ */

static uint64_t rng_features(struct virtio_dev *vdev)
{
	return 0;
}

static void rng_config_read(struct virtio_dev *vdev, uint32_t offset, uint8_t *data, uint32_t size)
{
	memset(data, 0, size); /* no config space */
}

static void rng_config_write(struct virtio_dev *vdev, uint32_t offset, const uint8_t *data,
			     uint32_t size)
{
}

static int rng_activate(struct virtio_dev *vdev)
{
	struct virtio_rng *rng = rng_from_vdev(vdev);
	int r;

	r = virtio_worker_start(&rng->worker);
	if (r < 0)
		return log_debug_errno(r, "%s: cannot start the worker", vdev->name);
	/* Requests posted before DRIVER_OK may not have been kicked. */
	(void)eventfd_write(vdev->kick_fds[RNG_QUEUE_REQUEST], 1);
	return 0;
}

static void rng_reset(struct virtio_dev *vdev)
{
	struct virtio_rng *rng = rng_from_vdev(vdev);

	if (rng->worker_ready) {
		virtio_worker_stop(&rng->worker);
		rng_watch_source(rng, false);
	}
	/* A held request belongs to the old queue: drop it. */
	rng->pending = false;
	rng->read_error_logged = false;
}

static void rng_free(struct virtio_rng *rng)
{
	if (!rng)
		return;
	virtio_dev_fini(&rng->vdev); /* resets (joins the worker) if active */
	if (rng->worker_ready) {
		virtio_worker_stop(&rng->worker);
		virtio_worker_fini(&rng->worker);
	}
	if (rng->src_fd >= 0)
		close(rng->src_fd);
	free(rng->src_path);
	free(rng);
}

static void rng_destroy(struct virtio_dev *vdev)
{
	rng_free(rng_from_vdev(vdev));
}

/* VM pause: joining the worker completes what is in flight, and its fds
 * stay registered, so resume just starts it again. */
static void rng_pause(struct virtio_dev *vdev)
{
	struct virtio_rng *x = rng_from_vdev(vdev);

	virtio_worker_stop(&x->worker);
}

static int rng_resume(struct virtio_dev *vdev)
{
	struct virtio_rng *x = rng_from_vdev(vdev);

	return virtio_worker_start(&x->worker);
}

static const struct virtio_device_ops rng_ops = {
	.features = rng_features,
	.config_read = rng_config_read,
	.config_write = rng_config_write,
	.activate = rng_activate,
	.reset = rng_reset,
	.destroy = rng_destroy,
	.pause = rng_pause,
	.resume = rng_resume,
};

/* Public API ------------------------------------------------------------ */

static int rng_open_source(const char *path, struct error *err)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return error_set(err, -errno, "--rng src=%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		int r = -errno;

		close(fd);
		return error_set(err, r, "--rng src=%s: cannot stat: %s", path, strerror(-r));
	}
	/* A FIFO or socket could be drained by someone else and never EOF; refuse the ambiguity. */
	if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
		close(fd);
		return error_set(err, -EINVAL,
				 "--rng src=%s: not a regular file or character device", path);
	}
	return fd;
}

int virtio_rng_create(const char *src, const struct guest_mem *mem, struct virtio_dev **ret,
		      struct error *err)
{
	struct virtio_rng *rng;
	const char *path = src ? src : VIRTIO_RNG_DEFAULT_SOURCE;
	int r;

	if (!mem || !ret)
		return error_set(err, -EINVAL, "virtio-rng: missing guest memory");
	if (path[0] == '\0')
		return error_set(err, -EINVAL, "--rng src=: empty path");

	rng = calloc(1, sizeof(*rng));
	if (!rng)
		return error_set(err, -ENOMEM, "virtio-rng: out of memory");
	rng->src_fd = -1;
	/* Nothing below may call rng_free() before vdev init: keep it first. */
	r = virtio_dev_init(&rng->vdev, &rng_ops, "virtio-rng", VIRTIO_ID_RNG, RNG_NR_QUEUES,
			    VIRTIO_RNG_QUEUE_SIZE, 0);
	if (r < 0) {
		free(rng);
		return error_set(err, r, "virtio-rng: cannot initialise the device: %s", strerror(-r));
	}
	rng->vdev.mem = mem;

	rng->src_path = strdup(path);
	if (!rng->src_path) {
		r = error_set(err, -ENOMEM, "virtio-rng: out of memory");
		goto fail;
	}
	r = rng_open_source(path, err);
	if (r < 0)
		goto fail;
	rng->src_fd = r;

	r = virtio_worker_init(&rng->worker, "virtio-rng");
	if (r < 0) {
		error_set(err, r, "virtio-rng: cannot create the worker: %s", strerror(-r));
		goto fail;
	}
	rng->worker_ready = true;
	r = virtio_worker_add(&rng->worker, rng->vdev.kick_fds[RNG_QUEUE_REQUEST], EPOLLIN,
			      rng_on_kick, rng);
	if (r < 0) {
		error_set(err, r, "virtio-rng: cannot watch the request queue: %s", strerror(-r));
		goto fail;
	}
	*ret = &rng->vdev;
	return 0;
fail:
	rng_free(rng);
	return r;
}

void virtio_rng_destroy(struct virtio_dev *vdev)
{
	if (!vdev)
		return;
	virtio_dev_reset(vdev);
	vdev->ops->destroy(vdev);
}

uint64_t virtio_rng_bytes_served(const struct virtio_dev *vdev)
{
	return __atomic_load_n(&rng_from_vdev_const(vdev)->bytes_served, __ATOMIC_RELAXED);
}
