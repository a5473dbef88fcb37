/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk device: opening the image, feature bits and config space
 * (virtio 1.x 5.2.3-5.2.5), activate / reset / destroy.
 *
 * Threads: config reads come from vCPU threads and only read values fixed at
 * creation. The queues run on one worker thread per device, started by
 * activate and joined by reset, so after reset returns no request is in
 * flight and guest memory is no longer touched.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk.h"
#include "common/log.h"

static const struct virtio_device_ops blk_ops;

static uint64_t blk_features(struct virtio_dev *vdev)
{
	return to_blk(vdev)->features;
}

static void blk_config_read(struct virtio_dev *vdev, uint32_t offset, uint8_t *data, uint32_t size)
{
	/* offset + size is within config_size (checked by the virtio layer). */
	memcpy(data, (const uint8_t *)&to_blk(vdev)->config + offset, size);
}

static void blk_config_write(struct virtio_dev *vdev, uint32_t offset, const uint8_t *data,
			     uint32_t size)
{
	/*
	 * Only `writeback` is ever writable, and only with CONFIG_WCE, which is
	 * not offered: the cache mode is the host's business.
	 */
	log_debug("%s: config write of %u bytes at %u ignored", vdev->name, size, offset);
}

static void blk_unregister_queues(struct virtio_blk *blk)
{
	for (uint16_t i = 0; i < blk->vdev.nr_queues; i++) {
		struct blk_queue *q = &blk->queues[i];

		if (q->registered && virtio_worker_del(&blk->worker, blk->vdev.kick_fds[i]) < 0)
			log_debug("%s: unregistering queue %u from the worker failed", blk->name, i);
		q->registered = false;
		q->halted = false;
	}
}

static int blk_activate(struct virtio_dev *vdev)
{
	struct virtio_blk *blk = to_blk(vdev);
	int r;

	if (blk->active)
		return 0;
	/* Queues the driver did not enable (e.g. MQ not negotiated) stay unwatched. */
	for (uint16_t i = 0; i < vdev->nr_queues; i++) {
		if (!vdev->queues[i].ready)
			continue;
		r = virtio_worker_add(&blk->worker, vdev->kick_fds[i], EPOLLIN, blk_queue_kick,
				      &blk->queues[i]);
		if (r < 0) {
			log_debug_errno(r, "%s: watching queue %u", blk->name, i);
			goto unregister;
		}
		blk->queues[i].registered = true;
	}
	r = virtio_worker_start(&blk->worker);
	if (r < 0) {
		log_debug_errno(r, "%s: starting the worker", blk->name);
		goto unregister;
	}
	blk->active = true;
	/* Serve whatever the driver queued before DRIVER_OK without kicking. */
	for (uint16_t i = 0; i < vdev->nr_queues; i++)
		if (blk->queues[i].registered)
			(void)!eventfd_write(vdev->kick_fds[i], 1);
	return 0;

unregister:
	blk_unregister_queues(blk);
	return r;
}

static void blk_reset(struct virtio_dev *vdev)
{
	struct virtio_blk *blk = to_blk(vdev);

	/* Requests are synchronous on the worker: once it is joined none is in flight. */
	virtio_worker_stop(&blk->worker);
	blk_unregister_queues(blk);
	blk->active = false;
}

/* Accepts half-built devices (creation failures). */
static void blk_free(struct virtio_blk *blk)
{
	if (!blk)
		return;
	/* First: an activated device is reset through ops->reset, which needs the worker. */
	if (blk->vdev_ready)
		virtio_dev_fini(&blk->vdev);
	if (blk->worker_ready) {
		virtio_worker_stop(&blk->worker);
		virtio_worker_fini(&blk->worker);
	}
	if (blk->fd >= 0)
		close(blk->fd);
	free(blk->bounce);
	free(blk->iov);
	free(blk->chain);
	free(blk->path);
	free(blk);
}

static void blk_destroy(struct virtio_dev *vdev)
{
	if (!vdev)
		return;
	/* virtio_dev_fini() in blk_free() resets an active device (joining the worker). */
	blk_free(to_blk(vdev));
}

/* VM pause: joining the worker completes what is in flight, and its fds
 * stay registered, so resume just starts it again. */
static void blk_pause(struct virtio_dev *vdev)
{
	struct virtio_blk *x = to_blk(vdev);

	virtio_worker_stop(&x->worker);
}

static int blk_resume(struct virtio_dev *vdev)
{
	struct virtio_blk *x = to_blk(vdev);

	return virtio_worker_start(&x->worker);
}

static const struct virtio_device_ops blk_ops = {
	.features = blk_features,
	.config_read = blk_config_read,
	.config_write = blk_config_write,
	.activate = blk_activate,
	.reset = blk_reset,
	.destroy = blk_destroy,
	.pause = blk_pause,
	.resume = blk_resume,
};

static int blk_check_config(const struct virtio_blk_config *cfg, uint16_t queue_size,
			    uint16_t num_queues, struct error *err)
{
	if (!cfg->path || !cfg->path[0])
		return error_set(err, -EINVAL, "--disk: path is required");
	if (queue_size < VIRTIO_BLK_MIN_QUEUE_SIZE || (queue_size & (queue_size - 1)))
		return error_set(err, -EINVAL,
				 "--disk path=%s: queue_size must be a power of two between %u and %u",
				 cfg->path, VIRTIO_BLK_MIN_QUEUE_SIZE, VIRTIO_BLK_MAX_QUEUE_SIZE);
	if (num_queues > VIRTIO_BLK_MAX_QUEUES)
		return error_set(err, -EINVAL, "--disk path=%s: num_queues must be between 1 and %u",
				 cfg->path, VIRTIO_BLK_MAX_QUEUES);
	if (cfg->serial && strlen(cfg->serial) > VIRTIO_BLK_SERIAL_MAX)
		return error_set(err, -EINVAL, "--disk path=%s: serial must be at most %u bytes",
				 cfg->path, VIRTIO_BLK_SERIAL_MAX);
	return 0;
}

/*
 * Open the image and find its size. O_NONBLOCK only keeps open() from
 * hanging on a FIFO someone passed by mistake; it is cleared afterwards.
 */
static int blk_open(struct virtio_blk *blk, uint64_t *ret_size, struct stat *ret_st,
		    struct error *err)
{
	int flags = (blk->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK;
	struct stat st;
	uint64_t size;
	int fl;

	if (blk->direct)
		flags |= O_DIRECT;
	blk->fd = open(blk->path, flags);
	if (blk->fd < 0) {
		int r = -errno;

		if (r == -EINVAL && blk->direct)
			return error_set(err, r,
					 "--disk path=%s: direct=on: the filesystem does not support O_DIRECT",
					 blk->path);
		return error_set(err, r, "--disk path=%s: %s", blk->path, strerror(-r));
	}
	if (fstat(blk->fd, &st) < 0)
		return error_set(err, -errno, "--disk path=%s: %m", blk->path);
	if (S_ISDIR(st.st_mode))
		return error_set(err, -EISDIR, "--disk path=%s: is a directory", blk->path);
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(blk->fd, BLKGETSIZE64, &size) < 0)
			return error_set(err, -errno, "--disk path=%s: reading the device size: %m",
					 blk->path);
		blk->block_device = true;
	} else {
		return error_set(err, -EINVAL,
				 "--disk path=%s: not a regular file or block device", blk->path);
	}
	fl = fcntl(blk->fd, F_GETFL);
	if (fl < 0 || fcntl(blk->fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return error_set(err, -errno, "--disk path=%s: %m", blk->path);
	*ret_size = size;
	*ret_st = st;
	return 0;
}

/*
 * Two VMs writing one image corrupt it: take an OFD lock over the whole file
 * (shared when read-only), as cloud-hypervisor does. Filesystems without
 * locks are tolerated.
 */
static int blk_lock(struct virtio_blk *blk, struct error *err)
{
	struct flock fl = {
		.l_type = blk->readonly ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
	};

	if (fcntl(blk->fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return error_set(err, -EBUSY,
				 "--disk path=%s: the image is locked by another process (used by another VM?)",
				 blk->path);
	log_debug("%s: cannot lock %s (%m); continuing without a lock", blk->name, blk->path);
	return 0;
}

/*
 * DISCARD / WRITE_ZEROES are offered for writable regular files whose
 * filesystem punches holes. The probe punches past the end of the file,
 * where there is nothing to free: it changes no data and no size.
 * (Block devices refuse ranges past their end, so they get neither.)
 */
static bool blk_probe_discard(const struct virtio_blk *blk, uint64_t size)
{
	if (blk->readonly || blk->block_device)
		return false;
	return fallocate(blk->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)size,
			 BLK_SECTOR_SIZE) == 0;
}

/* GET_ID default: the image's device and inode numbers, stable for a file. */
static void blk_set_serial(struct virtio_blk *blk, const char *serial, const struct stat *st)
{
	char buf[64];

	if (!serial) {
		snprintf(buf, sizeof(buf), "%ju%ju%ju", (uintmax_t)st->st_dev,
			 (uintmax_t)st->st_rdev, (uintmax_t)st->st_ino);
		serial = buf;
	}
	memset(blk->serial, 0, sizeof(blk->serial));
	memcpy(blk->serial, serial, MIN(strlen(serial), sizeof(blk->serial)));
}

static void blk_setup_config(struct virtio_blk *blk, uint16_t num_queues, uint16_t queue_size,
			     const struct stat *st)
{
	struct virtio_blk_config_space *c = &blk->config;
	/* A chain is header + data segments + status, and the virtqueue layer
	 * refuses chains longer than VIRTQ_CHAIN_MAX_IOV. */
	uint32_t seg_max = MIN((uint32_t)queue_size, (uint32_t)VIRTQ_CHAIN_MAX_IOV) - 2;

	blk->features = VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |
			VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);
	if (blk->readonly)
		blk->features |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
	if (num_queues > 1)
		blk->features |= VIRTIO_BIT(VIRTIO_BLK_F_MQ);
	if (blk->discard)
		blk->features |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) |
				 VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);

	memset(c, 0, sizeof(*c));
	c->capacity = htole64(blk->capacity);
	c->seg_max = htole32(MAX(seg_max, 1u));
	c->blk_size = htole32(BLK_SECTOR_SIZE);
	c->num_queues = htole16(num_queues);
	if (blk->discard) {
		/* The filesystem block: smaller discards only zero partial blocks. */
		uint32_t align = st->st_blksize >= (blksize_t)BLK_SECTOR_SIZE
					 ? (uint32_t)(st->st_blksize >> BLK_SECTOR_SHIFT)
					 : 1;

		c->max_discard_sectors = htole32(BLK_MAX_DISCARD_SECTORS);
		c->max_discard_seg = htole32(1);
		c->discard_sector_alignment = htole32(align);
		c->max_write_zeroes_sectors = htole32(BLK_MAX_DISCARD_SECTORS);
		c->max_write_zeroes_seg = htole32(1);
		c->write_zeroes_may_unmap = 1;
	}
}

int virtio_blk_create(const struct virtio_blk_config *cfg, const struct guest_mem *mem,
		      struct virtio_dev **ret_vdev, struct error *err)
{
	static atomic_uint next_index;
	uint16_t queue_size, num_queues;
	struct virtio_blk *blk;
	struct stat st = { 0 };
	uint64_t size = 0;
	int r;

	if (!cfg || !mem || !ret_vdev)
		return error_set(err, -EINVAL, "--disk: invalid arguments");
	queue_size = cfg->queue_size ? cfg->queue_size : VIRTIO_BLK_DEFAULT_QUEUE_SIZE;
	num_queues = cfg->num_queues ? cfg->num_queues : 1;
	r = blk_check_config(cfg, queue_size, num_queues, err);
	if (r < 0)
		return r;

	blk = calloc(1, sizeof(*blk));
	if (!blk)
		return error_set(err, -ENOMEM, "--disk path=%s: out of memory", cfg->path);
	blk->fd = -1;
	blk->readonly = cfg->readonly;
	blk->direct = cfg->direct;
	blk->zero_range_ok = true;
	if (cfg->id)
		snprintf(blk->name, sizeof(blk->name), "%s", cfg->id);
	else
		snprintf(blk->name, sizeof(blk->name), "virtio-blk%u",
			 atomic_fetch_add(&next_index, 1));
	blk->path = strdup(cfg->path);
	if (!blk->path) {
		r = error_set(err, -ENOMEM, "--disk path=%s: out of memory", cfg->path);
		goto fail;
	}

	/* 1. the image: open, size, lock */
	r = blk_open(blk, &size, &st, err);
	if (r < 0)
		goto fail;
	r = blk_lock(blk, err);
	if (r < 0)
		goto fail;
	blk->capacity = size >> BLK_SECTOR_SHIFT;
	if (size % BLK_SECTOR_SIZE)
		log_warn("%s: %s is %" PRIu64 " bytes, not a multiple of %u: the last %" PRIu64
			 " bytes are not visible to the guest",
			 blk->name, blk->path, size, BLK_SECTOR_SIZE, size % BLK_SECTOR_SIZE);

	/* 2. what the device offers, and its config space */
	blk->discard = blk_probe_discard(blk, size);
	blk_set_serial(blk, cfg->serial, &st);
	blk_setup_config(blk, num_queues, queue_size, &st);

	/* 3. the common virtio part, then the worker and its scratch buffers */
	r = virtio_dev_init(&blk->vdev, &blk_ops, blk->name, VIRTIO_ID_BLOCK, num_queues,
			    queue_size, sizeof(blk->config));
	if (r < 0) {
		error_set(err, r, "--disk path=%s: %s", blk->path, strerror(-r));
		goto fail;
	}
	blk->vdev_ready = true;
	blk->vdev.mem = mem;
	for (uint16_t i = 0; i < num_queues; i++)
		blk->queues[i] = (struct blk_queue){ .blk = blk, .index = i };

	r = virtio_worker_init(&blk->worker, blk->name);
	if (r < 0) {
		error_set(err, r, "--disk path=%s: creating the worker: %s", blk->path,
			  strerror(-r));
		goto fail;
	}
	blk->worker_ready = true;

	blk->chain = malloc(sizeof(*blk->chain));
	blk->iov = calloc(VIRTQ_CHAIN_MAX_IOV, sizeof(*blk->iov));
	if (blk->direct && posix_memalign((void **)&blk->bounce, BLK_BOUNCE_ALIGN,
					  BLK_BOUNCE_SIZE) != 0)
		blk->bounce = NULL;
	if (!blk->chain || !blk->iov || (blk->direct && !blk->bounce)) {
		r = error_set(err, -ENOMEM, "--disk path=%s: out of memory", blk->path);
		goto fail;
	}

	log_debug("%s: %s, %" PRIu64 " sectors, %u queue(s) of %u%s%s%s", blk->name, blk->path,
		  blk->capacity, num_queues, queue_size, blk->readonly ? ", read-only" : "",
		  blk->direct ? ", O_DIRECT" : "", blk->discard ? ", discard" : "");
	*ret_vdev = &blk->vdev;
	return 0;

fail:
	blk_free(blk);
	return r;
}

int virtio_blk_get_counters(struct virtio_dev *vdev, struct virtio_blk_counters *ret)
{
	struct virtio_blk *blk;

	if (!vdev || vdev->ops != &blk_ops)
		return -EINVAL;
	blk = to_blk(vdev);
	*ret = (struct virtio_blk_counters){
		.read_bytes = atomic_load_explicit(&blk->read_bytes, memory_order_relaxed),
		.write_bytes = atomic_load_explicit(&blk->write_bytes, memory_order_relaxed),
		.read_ops = atomic_load_explicit(&blk->read_ops, memory_order_relaxed),
		.write_ops = atomic_load_explicit(&blk->write_ops, memory_order_relaxed),
	};
	return 0;
}

uint64_t virtio_blk_capacity(struct virtio_dev *vdev)
{
	if (!vdev || vdev->ops != &blk_ops)
		return 0;
	return to_blk(vdev)->capacity;
}
