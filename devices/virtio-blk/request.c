/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk queue handling: pop a chain, parse its request (virtio 1.x
 * 5.2.6), run it against the image, write the status byte, push.
 *
 * Everything in a request comes from the guest and may be nonsense. The
 * virtqueue layer has already checked that every buffer lies in guest RAM
 * and that readable buffers precede writable ones; this file checks the rest:
 *   - the status byte is the LAST writable byte; a chain without one cannot
 *     be answered, so the queue stops and the device asks for a reset;
 *   - the 16-byte header is read with virtq_chain_read() (it may span
 *     descriptors); a shorter readable part is an IOERR;
 *   - data lengths are whole sectors and sector + length stays within the
 *     capacity (computed without overflow), else IOERR and nothing touches
 *     the image;
 *   - a read-only device refuses OUT / DISCARD / WRITE_ZEROES with IOERR.
 * Each kind of misbehaviour is logged once per device, never per request.
 *
 * Data moves with preadv/pwritev straight between the image and the guest
 * buffers (host pointers from the chain). With O_DIRECT, buffers that are not
 * 512-byte aligned go through an aligned bounce buffer instead.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "blk.h"
#include "common/log.h"

struct blk_req_header {
	uint32_t type;
	uint32_t reserved; /* ioprio in legacy drivers; ignored */
	uint64_t sector;
} __attribute__((packed));

struct blk_segment {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
} __attribute__((packed));

_Static_assert(sizeof(struct blk_req_header) == BLK_HEADER_SIZE, "request header is 16 bytes");
_Static_assert(sizeof(struct blk_segment) == BLK_SEGMENT_SIZE, "discard segment is 16 bytes");

void blk_warn_once(struct virtio_blk *blk, enum blk_warn kind, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (blk->warned & (1u << kind))
		return;
	blk->warned |= 1u << kind;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("%s: %s (further occurrences are not logged)", blk->name, msg);
}

/* [sector, sector + nr_sectors) inside the disk, without overflow. */
static bool blk_range_ok(const struct virtio_blk *blk, uint64_t sector, uint64_t nr_sectors)
{
	return sector <= blk->capacity && nr_sectors <= blk->capacity - sector;
}

/*
 * Copy the iovecs covering bytes [skip, skip + len) of src into dst (which
 * has room for n entries). Returns the number of entries written.
 */
static unsigned int blk_iov_slice(const struct iovec *src, unsigned int n, uint64_t skip,
				  uint64_t len, struct iovec *dst)
{
	unsigned int cnt = 0;

	for (unsigned int i = 0; i < n && len > 0; i++) {
		uint64_t l = src[i].iov_len;
		uint64_t take;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		take = MIN(l - skip, len);
		dst[cnt].iov_base = (uint8_t *)src[i].iov_base + skip;
		dst[cnt].iov_len = take;
		cnt++;
		skip = 0;
		len -= take;
	}
	return cnt;
}

/* Drop the first n bytes of an iovec array (after a short transfer). */
static void blk_iov_advance(struct iovec **iov, unsigned int *cnt, uint64_t n)
{
	while (*cnt > 0 && n > 0) {
		if (n < (*iov)->iov_len) {
			(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
			(*iov)->iov_len -= n;
			return;
		}
		n -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
}

static bool blk_iov_aligned(const struct iovec *iov, unsigned int cnt, uint64_t align)
{
	for (unsigned int i = 0; i < cnt; i++)
		if (!IS_ALIGNED((uintptr_t)iov[i].iov_base, align) ||
		    !IS_ALIGNED((uint64_t)iov[i].iov_len, align))
			return false;
	return true;
}

/*
 * preadv/pwritev the whole iovec array at off, looping on short transfers and
 * EINTR. A read that hits end of file (the image shrank under us) fills the
 * rest with zeros, as reading a hole would. *ret_done counts bytes moved.
 */
static int blk_rw_iov(int fd, bool write, struct iovec *iov, unsigned int cnt, uint64_t off,
		      uint64_t *ret_done)
{
	uint64_t done = 0;
	int r = 0;

	while (cnt > 0) {
		ssize_t n;

		if (iov->iov_len == 0) {
			iov++;
			cnt--;
			continue;
		}
		n = write ? pwritev(fd, iov, (int)MIN(cnt, (unsigned int)IOV_MAX), (off_t)off)
			  : preadv(fd, iov, (int)MIN(cnt, (unsigned int)IOV_MAX), (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0) {
			if (write) {
				r = -EIO; /* no progress: do not spin */
				break;
			}
			for (; cnt > 0; iov++, cnt--) {
				memset(iov->iov_base, 0, iov->iov_len);
				done += iov->iov_len;
			}
			break;
		}
		done += (uint64_t)n;
		off += (uint64_t)n;
		blk_iov_advance(&iov, &cnt, (uint64_t)n);
	}
	*ret_done = done;
	return r;
}

/* Copy between an iovec array (from byte pos) and a flat buffer. */
static void blk_iov_copy(const struct iovec *iov, unsigned int cnt, uint64_t pos, uint8_t *buf,
			 size_t len, bool to_iov)
{
	for (unsigned int i = 0; i < cnt && len > 0; i++) {
		size_t l = iov[i].iov_len, take;

		if (pos >= l) {
			pos -= l;
			continue;
		}
		take = MIN(l - pos, len);
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + pos, buf, take);
		else
			memcpy(buf, (uint8_t *)iov[i].iov_base + pos, take);
		buf += take;
		len -= take;
		pos = 0;
	}
}

/*
 * O_DIRECT with guest buffers the kernel would refuse (EINVAL): move the data
 * through the aligned bounce buffer, BLK_BOUNCE_SIZE at a time. len is a
 * multiple of 512, so every chunk is too.
 */
static int blk_rw_bounce(struct virtio_blk *blk, bool write, const struct iovec *iov,
			 unsigned int cnt, uint64_t off, uint64_t len, uint64_t *ret_done)
{
	uint64_t pos = 0;
	int r = 0;

	while (pos < len) {
		size_t chunk = (size_t)MIN(len - pos, (uint64_t)BLK_BOUNCE_SIZE);
		struct iovec biov = { .iov_base = blk->bounce, .iov_len = chunk };
		uint64_t n;

		if (write)
			blk_iov_copy(iov, cnt, pos, blk->bounce, chunk, false);
		r = blk_rw_iov(blk->fd, write, &biov, 1, off + pos, &n);
		if (!write)
			blk_iov_copy(iov, cnt, pos, blk->bounce, (size_t)n, true);
		pos += n;
		if (r < 0)
			break;
	}
	*ret_done = pos;
	return r;
}

static int blk_rw(struct virtio_blk *blk, bool write, struct iovec *iov, unsigned int cnt,
		  uint64_t off, uint64_t len, uint64_t *ret_done)
{
	if (blk->direct && !blk_iov_aligned(iov, cnt, BLK_DIRECT_ALIGN))
		return blk_rw_bounce(blk, write, iov, cnt, off, len, ret_done);
	return blk_rw_iov(blk->fd, write, iov, cnt, off, ret_done);
}

/* Common checks of an IN/OUT payload: whole sectors, inside the disk. */
static bool blk_check_data(struct virtio_blk *blk, const char *what, uint64_t sector, uint64_t len)
{
	if (!IS_ALIGNED(len, (uint64_t)BLK_SECTOR_SIZE) || len > BLK_MAX_DATA_BYTES) {
		blk_warn_once(blk, BLK_WARN_BAD_LENGTH,
			      "%s of %" PRIu64 " bytes is not a whole number of sectors (or too large)",
			      what, len);
		return false;
	}
	if (!blk_range_ok(blk, sector, len >> BLK_SECTOR_SHIFT)) {
		blk_warn_once(blk, BLK_WARN_OUT_OF_RANGE,
			      "%s of %" PRIu64 " bytes at sector %" PRIu64
			      " is beyond the capacity (%" PRIu64 " sectors)",
			      what, len, sector, blk->capacity);
		return false;
	}
	return true;
}

static uint8_t blk_do_read(struct virtio_blk *blk, const struct virtq_chain *chain, uint64_t sector,
			   uint64_t *ret_written)
{
	uint64_t len = chain->in_len - 1, done = 0;
	unsigned int cnt;
	int r;

	if (!blk_check_data(blk, "read", sector, len))
		return VIRTIO_BLK_S_IOERR;
	cnt = blk_iov_slice(&chain->iov[chain->nr_out], chain->nr_in, 0, len, blk->iov);
	r = blk_rw(blk, false, blk->iov, cnt, sector << BLK_SECTOR_SHIFT, len, &done);
	*ret_written = done;
	if (r < 0) {
		blk_warn_once(blk, BLK_WARN_HOST_IO, "reading %s at sector %" PRIu64 ": %s",
			      blk->path, sector, strerror(-r));
		return VIRTIO_BLK_S_IOERR;
	}
	atomic_fetch_add_explicit(&blk->read_ops, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&blk->read_bytes, len, memory_order_relaxed);
	return VIRTIO_BLK_S_OK;
}

static uint8_t blk_do_write(struct virtio_blk *blk, const struct virtq_chain *chain,
			    uint64_t sector)
{
	uint64_t len = chain->out_len - BLK_HEADER_SIZE, done = 0;
	unsigned int cnt;
	int r;

	if (blk->readonly) {
		blk_warn_once(blk, BLK_WARN_READONLY, "write to a read-only disk refused");
		return VIRTIO_BLK_S_IOERR;
	}
	if (!blk_check_data(blk, "write", sector, len))
		return VIRTIO_BLK_S_IOERR;
	cnt = blk_iov_slice(chain->iov, chain->nr_out, BLK_HEADER_SIZE, len, blk->iov);
	r = blk_rw(blk, true, blk->iov, cnt, sector << BLK_SECTOR_SHIFT, len, &done);
	if (r < 0) {
		blk_warn_once(blk, BLK_WARN_HOST_IO, "writing %s at sector %" PRIu64 ": %s",
			      blk->path, sector, strerror(-r));
		return VIRTIO_BLK_S_IOERR;
	}
	atomic_fetch_add_explicit(&blk->write_ops, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&blk->write_bytes, len, memory_order_relaxed);
	return VIRTIO_BLK_S_OK;
}

static uint8_t blk_do_flush(struct virtio_blk *blk)
{
	/* Nothing of ours is buffered: the host page cache is the write cache. */
	if (blk->readonly)
		return VIRTIO_BLK_S_OK;
	if (fdatasync(blk->fd) < 0) {
		blk_warn_once(blk, BLK_WARN_HOST_IO, "flushing %s: %m", blk->path);
		return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

static uint8_t blk_do_get_id(struct virtio_blk *blk, const struct virtq_chain *chain,
			     uint64_t *ret_written)
{
	/* Linux always hands 20 bytes; a shorter buffer gets what fits (as QEMU). */
	size_t n = (size_t)MIN(chain->in_len - 1, (uint64_t)VIRTIO_BLK_ID_BYTES);

	*ret_written = virtq_chain_write(chain, 0, blk->serial, n);
	return VIRTIO_BLK_S_OK;
}

/*
 * Write zeroes without FALLOC_FL_ZERO_RANGE (tmpfs has only punch-hole):
 * punch, then allocate the range again so the blocks stay reserved as the
 * spec prefers without the unmap flag. The zeroes are there once the punch
 * succeeded, so a failed re-allocation (ENOSPC) is not an error.
 */
static int blk_punch_and_allocate(int fd, uint64_t off, uint64_t len)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0)
		return -errno;
	(void)!fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
	return 0;
}

static uint8_t blk_do_discard(struct virtio_blk *blk, const struct virtq_chain *chain,
			      uint32_t type)
{
	bool zeroes = type == VIRTIO_BLK_T_WRITE_ZEROES;
	const char *what = zeroes ? "write-zeroes" : "discard";
	struct blk_segment seg;
	uint64_t sector, nr, off, len;
	uint32_t flags;
	int r;

	if (blk->readonly) {
		blk_warn_once(blk, BLK_WARN_READONLY, "%s on a read-only disk refused", what);
		return VIRTIO_BLK_S_IOERR;
	}
	if (!blk->discard) {
		blk_warn_once(blk, BLK_WARN_UNSUPPORTED, "%s not offered but requested", what);
		return VIRTIO_BLK_S_UNSUPP;
	}
	/* max_discard_seg = max_write_zeroes_seg = 1: exactly one segment. */
	if (chain->out_len - BLK_HEADER_SIZE != BLK_SEGMENT_SIZE ||
	    virtq_chain_read(chain, BLK_HEADER_SIZE, &seg, sizeof(seg)) != sizeof(seg)) {
		blk_warn_once(blk, BLK_WARN_BAD_SEGMENT,
			      "%s with %" PRIu64 " bytes of segments (one 16-byte segment expected)",
			      what, chain->out_len - BLK_HEADER_SIZE);
		return VIRTIO_BLK_S_IOERR;
	}
	sector = le64toh(seg.sector);
	nr = le32toh(seg.num_sectors);
	flags = le32toh(seg.flags);
	/* 5.2.6.2: unknown flags, and unmap on a discard, are UNSUPP. */
	if ((flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) || (!zeroes && flags)) {
		blk_warn_once(blk, BLK_WARN_UNSUPPORTED, "%s with unsupported flags 0x%x", what,
			      flags);
		return VIRTIO_BLK_S_UNSUPP;
	}
	if (nr > BLK_MAX_DISCARD_SECTORS || !blk_range_ok(blk, sector, nr)) {
		blk_warn_once(blk, BLK_WARN_OUT_OF_RANGE,
			      "%s of %" PRIu64 " sectors at sector %" PRIu64
			      " is too large or beyond the capacity (%" PRIu64 " sectors)",
			      what, nr, sector, blk->capacity);
		return VIRTIO_BLK_S_IOERR;
	}
	if (nr == 0)
		return VIRTIO_BLK_S_OK; /* fallocate() refuses len 0 */
	off = sector << BLK_SECTOR_SHIFT;
	len = nr << BLK_SECTOR_SHIFT;

	if (!zeroes || (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)) {
		/* Holes read back as zeroes, which write_zeroes_may_unmap promises. */
		r = fallocate(blk->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			      (off_t)len) < 0 ? -errno : 0;
	} else {
		r = -EOPNOTSUPP;
		if (blk->zero_range_ok) {
			r = fallocate(blk->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				      (off_t)off, (off_t)len) < 0 ? -errno : 0;
			if (r == -EOPNOTSUPP)
				blk->zero_range_ok = false; /* do not ask again */
		}
		if (r == -EOPNOTSUPP)
			r = blk_punch_and_allocate(blk->fd, off, len);
	}
	if (r == -EOPNOTSUPP) {
		blk_warn_once(blk, BLK_WARN_UNSUPPORTED, "%s: %s not supported by the filesystem",
			      blk->path, what);
		return VIRTIO_BLK_S_UNSUPP;
	}
	if (r < 0) {
		blk_warn_once(blk, BLK_WARN_HOST_IO, "%s on %s at sector %" PRIu64 ": %s", what,
			      blk->path, sector, strerror(-r));
		return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

int blk_handle_request(struct virtio_blk *blk, const struct virtq_chain *chain, uint32_t *ret_used)
{
	struct blk_req_header hdr;
	uint64_t written = 0; /* data bytes written into the guest, before the status */
	uint32_t type;
	uint64_t sector;
	uint8_t status;

	/* The status byte is the last writable byte; without one there is no answer. */
	if (chain->in_len == 0)
		return -EBADMSG;

	if (virtq_chain_read(chain, 0, &hdr, sizeof(hdr)) != sizeof(hdr)) {
		blk_warn_once(blk, BLK_WARN_SHORT_HEADER,
			      "request with %" PRIu64 " readable bytes, shorter than its header",
			      chain->out_len);
		status = VIRTIO_BLK_S_IOERR;
		goto done;
	}
	type = le32toh(hdr.type);
	sector = le64toh(hdr.sector);

	switch (type) {
	case VIRTIO_BLK_T_IN:
		status = blk_do_read(blk, chain, sector, &written);
		break;
	case VIRTIO_BLK_T_OUT:
		status = blk_do_write(blk, chain, sector);
		break;
	case VIRTIO_BLK_T_FLUSH:
		status = blk_do_flush(blk);
		break;
	case VIRTIO_BLK_T_GET_ID:
		status = blk_do_get_id(blk, chain, &written);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		status = blk_do_discard(blk, chain, type);
		break;
	default:
		blk_warn_once(blk, BLK_WARN_UNSUPPORTED, "unsupported request type %" PRIu32, type);
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}

done:
	if (virtq_chain_write(chain, chain->in_len - 1, &status, 1) != 1)
		return -EBADMSG;
	/* written <= in_len - 1 <= BLK_MAX_DATA_BYTES for reads, <= 20 for GET_ID */
	*ret_used = (uint32_t)MIN(written + 1, (uint64_t)UINT32_MAX);
	return 0;
}

/*
 * Stop serving a queue the guest broke: DEVICE_NEEDS_RESET (logged once by
 * the virtio layer) and nothing more from it until the driver resets us.
 */
static void blk_halt_queue(struct blk_queue *q, const char *why)
{
	q->halted = true;
	virtio_dev_set_needs_reset(&q->blk->vdev, why);
}

static void blk_process_queue(struct blk_queue *q)
{
	struct virtio_blk *blk = q->blk;
	struct virtio_dev *vdev = &blk->vdev;
	struct virtqueue *vq = &vdev->queues[q->index];
	struct virtq_chain *chain = blk->chain;
	unsigned int handled = 0;
	bool pushed = false;
	uint32_t used;
	int r;

	if (q->halted || !vq->ready)
		return;

	for (;;) {
		virtq_disable_notify(vq);
		for (;;) {
			if (handled == BLK_QUEUE_BUDGET) {
				/* Let the other queues run; come back through our own kick. */
				(void)!eventfd_write(vdev->kick_fds[q->index], 1);
				goto out;
			}
			r = virtq_pop(vq, chain);
			if (r == 0)
				break;
			if (r < 0) {
				blk_halt_queue(q, "malformed descriptor chain");
				goto out;
			}
			handled++;
			r = blk_handle_request(blk, chain, &used);
			if (r < 0) {
				/* Hand the buffers back before giving up on the queue. */
				if (virtq_push(vq, chain->head, 0) >= 0)
					pushed = true;
				blk_halt_queue(q, "virtio-blk request without a writable status byte");
				goto out;
			}
			if (virtq_push(vq, chain->head, used) < 0) {
				blk_halt_queue(q, "used ring not writable");
				goto out;
			}
			pushed = true;
		}
		/* Re-arm; if the driver added buffers meanwhile, go round again. */
		if (!virtq_enable_notify(vq))
			break;
	}
out:
	if (pushed) {
		r = virtio_dev_notify_queue(vdev, q->index);
		if (r < 0)
			blk_warn_once(blk, BLK_WARN_NOTIFY, "notifying queue %u: %s", q->index,
				      strerror(-r));
	}
}

void blk_queue_kick(void *opaque, uint32_t events)
{
	struct blk_queue *q = opaque;

	virtio_eventfd_drain(q->blk->vdev.kick_fds[q->index]);
	blk_process_queue(q);
}
