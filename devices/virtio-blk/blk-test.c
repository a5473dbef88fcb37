/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk tests without a VM: a temporary raw image, the virtqueue harness
 * as the driver (fake guest RAM, hand-built descriptor chains) and the real
 * worker thread. Every request is checked for its status byte, its used
 * length and its effect on the image file, read back through our own fd.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk.h"
#include "common/log.h"
#include "devices/virtio-blk.h"
#include "vq-harness.h"
#include "common/test.h"


#define RAM_SIZE (8 * MiB)
#define IMAGE_SECTORS 256 /* 128 KiB */
#define STATUS_UNSET 0xee
#define FILL 0xaa

static char tmpdir[256];

/* ---- the image ---------------------------------------------------------- */

static uint8_t pattern_byte(uint64_t off)
{
	return (uint8_t)((off * 7) ^ (off >> 9) ^ 0x5a);
}

static void make_image(const char *path, uint64_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	uint8_t buf[4096];

	if (fd < 0) {
		perror(path);
		exit(1);
	}
	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = (size_t)MIN((uint64_t)sizeof(buf), size - off);

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern_byte(off + i);
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) {
			perror("pwrite");
			exit(1);
		}
	}
	close(fd);
}

static uint64_t file_checksum(const char *path)
{
	uint64_t h = 1469598103934665603ull;
	uint8_t buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 1099511628211ull;
	close(fd);
	return h;
}

static void file_read(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	memset(buf, 0x77, len);
	if (fd < 0 || pread(fd, buf, len, (off_t)off) != (ssize_t)len)
		fprintf(stderr, "file_read %s at %" PRIu64 " failed\n", path, off);
	if (fd >= 0)
		close(fd);
}

static bool is_pattern(const uint8_t *buf, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != pattern_byte(off + i))
			return false;
	return true;
}

static bool is_zero(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return false;
	return true;
}

/* ---- a device on the harness --------------------------------------------- */

struct fixture {
	struct vq_harness h;
	struct virtio_dev *vdev;
	char path[300];
};

static int fixture_open(struct fixture *f, const struct virtio_blk_config *cfg, unsigned int nq,
			uint16_t qsize)
{
	struct error err = { 0 };
	int r;

	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "%s", cfg->path);
	r = vqh_init(&f->h, RAM_SIZE, nq, qsize);
	if (r < 0) {
		fprintf(stderr, "vqh_init: %s\n", strerror(-r));
		exit(1);
	}
	r = virtio_blk_create(cfg, &f->h.mem, &f->vdev, &err);
	if (r < 0) {
		fprintf(stderr, "virtio_blk_create: %s\n", err.msg);
		vqh_fini(&f->h);
		return r;
	}
	r = vqh_activate_device(&f->h, f->vdev);
	CHECK_EQ(r, 0);
	return r;
}

static void fixture_new(struct fixture *f, const char *name, uint64_t size, bool readonly,
			unsigned int nq, uint16_t qsize)
{
	char path[300];
	struct virtio_blk_config cfg = { .path = path, .readonly = readonly,
					 .num_queues = (uint16_t)nq, .queue_size = qsize };

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	make_image(path, size);
	if (fixture_open(f, &cfg, nq, qsize) < 0)
		exit(1);
}

static void fixture_close(struct fixture *f)
{
	if (f->vdev)
		f->vdev->ops->destroy(f->vdev);
	f->vdev = NULL;
	vqh_fini(&f->h);
}

static uint8_t dev_status(struct fixture *f)
{
	return __atomic_load_n(&f->vdev->status, __ATOMIC_ACQUIRE);
}

/* Driver-side reset: device, rings, then bring it up again. */
static void fixture_reset(struct fixture *f)
{
	virtio_dev_reset(f->vdev);
	for (unsigned int i = 0; i < f->h.nr_queues; i++)
		vqh_reset_queue(&f->h, i);
	CHECK_EQ(vqh_activate_device(&f->h, f->vdev), 0);
	CHECK_EQ(dev_status(f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}

/*
 * One chain on queue qi: the readable bytes rd split into rd_segs pieces, then
 * wr_len writable bytes (pre-filled with FILL) split into wr_segs pieces;
 * optionally through an indirect table. On return wr holds what the device
 * wrote and *ret_used the used length. Returns 0, or -1 if nothing came back.
 */
#define MAX_SEGS 16
struct layout {
	unsigned int n_rd, n_wr;
	size_t rd[MAX_SEGS], wr[MAX_SEGS];
	bool indirect;
};

static int submit_nowait(struct fixture *f, unsigned int qi, const uint8_t *rd,
			 const struct layout *l, struct vqh_buf *bufs, uint16_t *ret_head)
{
	size_t off = 0;
	unsigned int n = 0;

	for (unsigned int i = 0; i < l->n_rd; i++, n++) {
		bufs[n] = (struct vqh_buf){ .len = (uint32_t)l->rd[i], .data = rd + off };
		off += l->rd[i];
	}
	for (unsigned int i = 0; i < l->n_wr; i++, n++) {
		bufs[n] = (struct vqh_buf){ .len = (uint32_t)l->wr[i], .writable = true };
		bufs[n].gpa = vqh_alloc(&f->h, bufs[n].len);
		if (!bufs[n].gpa)
			return -1;
		memset(vqh_ptr(&f->h, bufs[n].gpa), FILL, bufs[n].len);
	}
	*ret_head = l->indirect ? vqh_add_indirect(&f->h, qi, bufs, n)
				: vqh_add_chain(&f->h, qi, bufs, n);
	vqh_publish(&f->h, qi, *ret_head);
	return 0;
}

static void collect(struct fixture *f, const struct layout *l, const struct vqh_buf *bufs,
		    uint8_t *wr)
{
	size_t off = 0;

	for (unsigned int i = 0; i < l->n_wr; i++) {
		const struct vqh_buf *b = &bufs[l->n_rd + i];

		memcpy(wr + off, vqh_ptr(&f->h, b->gpa), b->len);
		off += b->len;
	}
}

static int submit(struct fixture *f, unsigned int qi, const uint8_t *rd, const struct layout *l,
		  uint8_t *wr, uint32_t *ret_used)
{
	struct vqh_buf bufs[2 * MAX_SEGS];
	uint16_t head;
	uint32_t id, len;

	if (submit_nowait(f, qi, rd, l, bufs, &head) < 0)
		return -1;
	if (vqh_kick_and_wait(&f->h, f->vdev, qi) < 0)
		return -1;
	if (vqh_pop_used(&f->h, qi, &id, &len) != 1)
		return -1;
	CHECK_EQ(id, head);
	collect(f, l, bufs, wr);
	*ret_used = len;
	return 0;
}

enum shape {
	SHAPE_SPLIT3,	/* header | data | status */
	SHAPE_MERGED,	/* header+data | status (write), header | data+status (read) */
	SHAPE_SCATTER,	/* header across two buffers, data in odd pieces */
	SHAPE_INDIRECT, /* header | data | status through an indirect table */
	_SHAPE_MAX,
};

static const char *const shape_name[] = { "split3", "merged", "scatter", "indirect" };

static void header(uint8_t *p, uint32_t type, uint64_t sector)
{
	uint32_t t = htole32(type), zero = 0;
	uint64_t s = htole64(sector);

	memcpy(p, &t, 4);
	memcpy(p + 4, &zero, 4);
	memcpy(p + 8, &s, 8);
}

/* Split len bytes into pieces 100, 412, 1000, 1000, ... (the last may be short). */
static unsigned int odd_pieces(size_t len, size_t *out, unsigned int max)
{
	static const size_t first[] = { 100, 412 };
	unsigned int n = 0;

	while (len > 0 && n < max) {
		size_t p = n < 2 ? first[n] : 1000;

		if (n == max - 1 || p > len)
			p = len;
		out[n++] = p;
		len -= p;
	}
	return n;
}

/* IN of len bytes at sector: returns the status; data into buf. */
static uint8_t do_read(struct fixture *f, unsigned int qi, uint64_t sector, uint8_t *buf,
		       size_t len, enum shape shape, uint32_t *ret_used)
{
	uint8_t hdr[16], *wr = malloc(len + 1);
	struct layout l = { .n_rd = 1, .rd = { 16 } };
	uint32_t used = 0;
	uint8_t status = STATUS_UNSET;

	header(hdr, VIRTIO_BLK_T_IN, sector);
	switch (shape) {
	case SHAPE_MERGED:
		l.n_wr = 1;
		l.wr[0] = len + 1;
		break;
	case SHAPE_SCATTER:
		l.n_rd = 2;
		l.rd[0] = 7;
		l.rd[1] = 9;
		l.n_wr = odd_pieces(len + 1, l.wr, MAX_SEGS);
		break;
	case SHAPE_INDIRECT:
		l.indirect = true;
		/* fallthrough */
	default:
		l.n_wr = len ? 2 : 1;
		l.wr[0] = len ? len : 1;
		l.wr[1] = 1;
		break;
	}
	if (submit(f, qi, hdr, &l, wr, &used) == 0) {
		status = wr[len];
		memcpy(buf, wr, len);
	}
	free(wr);
	if (ret_used)
		*ret_used = used;
	return status;
}

static uint8_t do_write(struct fixture *f, unsigned int qi, uint64_t sector, const uint8_t *buf,
			size_t len, enum shape shape, uint32_t *ret_used)
{
	uint8_t *rd = malloc(16 + len), st = STATUS_UNSET;
	struct layout l = { .n_wr = 1, .wr = { 1 } };
	uint32_t used = 0;

	header(rd, VIRTIO_BLK_T_OUT, sector);
	memcpy(rd + 16, buf, len);
	switch (shape) {
	case SHAPE_MERGED:
		l.n_rd = 1;
		l.rd[0] = 16 + len;
		break;
	case SHAPE_SCATTER:
		l.rd[0] = 7;
		l.n_rd = 1 + odd_pieces(9 + len, l.rd + 1, MAX_SEGS - 1);
		break;
	case SHAPE_INDIRECT:
		l.indirect = true;
		/* fallthrough */
	default:
		l.n_rd = 2;
		l.rd[0] = 16;
		l.rd[1] = len;
		break;
	}
	if (submit(f, qi, rd, &l, &st, &used) < 0)
		st = STATUS_UNSET;
	free(rd);
	if (ret_used)
		*ret_used = used;
	return st;
}

/* A request with just a header (+ payload) and `data_len` writable bytes before the status. */
static uint8_t do_simple(struct fixture *f, uint32_t type, uint64_t sector, const void *payload,
			 size_t payload_len, uint8_t *data, size_t data_len, uint32_t *ret_used)
{
	uint8_t rd[16 + 64], wr[64 + 1];
	struct layout l = { .n_rd = 1, .rd = { 16 + payload_len }, .n_wr = 1,
			    .wr = { data_len + 1 } };
	uint32_t used = 0;

	header(rd, type, sector);
	if (payload_len)
		memcpy(rd + 16, payload, payload_len);
	if (submit(f, 0, rd, &l, wr, &used) < 0)
		return STATUS_UNSET;
	if (data)
		memcpy(data, wr, data_len);
	if (ret_used)
		*ret_used = used;
	return wr[data_len];
}

static uint8_t do_discard(struct fixture *f, uint32_t type, uint64_t sector, uint32_t nr,
			  uint32_t flags, unsigned int nsegs)
{
	uint8_t seg[2 * 16];

	for (unsigned int i = 0; i < 2; i++) {
		uint64_t s = htole64(sector);
		uint32_t n = htole32(nr), fl = htole32(flags);

		memcpy(seg + 16 * i, &s, 8);
		memcpy(seg + 16 * i + 8, &n, 4);
		memcpy(seg + 16 * i + 12, &fl, 4);
	}
	return do_simple(f, type, 0, seg, 16 * nsegs, NULL, 0, NULL);
}

/* ---- tests --------------------------------------------------------------- */

static uint32_t cfg32(struct virtio_dev *vdev, uint32_t off)
{
	uint32_t v;

	virtio_dev_config_read(vdev, off, (uint8_t *)&v, 4);
	return le32toh(v);
}

static void test_config(void)
{
	struct fixture f;
	uint64_t cap, feat;
	uint16_t nq;
	uint8_t junk[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	fixture_new(&f, "config.img", IMAGE_SECTORS * 512 + 100, false, 1, 64);
	feat = f.vdev->device_features;
	CHECK(feat & VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX));
	CHECK(feat & VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE));
	CHECK(feat & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	CHECK(feat & VIRTIO_BIT(VIRTIO_F_VERSION_1));
	CHECK(!(feat & VIRTIO_BIT(VIRTIO_BLK_F_RO)));
	CHECK(!(feat & VIRTIO_BIT(VIRTIO_BLK_F_MQ)));
	CHECK(!(feat & (VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_GEOMETRY) |
			VIRTIO_BIT(VIRTIO_BLK_F_TOPOLOGY) | VIRTIO_BIT(VIRTIO_BLK_F_CONFIG_WCE))));
	CHECK_EQ(!!(feat & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD)),
		 !!(feat & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES)));
	CHECK_EQ(f.vdev->config_size, 60);
	CHECK_EQ(f.vdev->device_type, VIRTIO_ID_BLOCK);

	/* the trailing 100 bytes are not a sector */
	virtio_dev_config_read(f.vdev, 0, (uint8_t *)&cap, 8);
	CHECK_EQ(le64toh(cap), IMAGE_SECTORS);
	CHECK_EQ(virtio_blk_capacity(f.vdev), IMAGE_SECTORS);
	CHECK_EQ(cfg32(f.vdev, 0), IMAGE_SECTORS); /* a 4-byte read of the low half */
	CHECK_EQ(cfg32(f.vdev, 8), 0);		    /* size_max */
	CHECK_EQ(cfg32(f.vdev, 12), 62);	    /* seg_max = queue size - 2 */
	CHECK_EQ(cfg32(f.vdev, 20), 512);	    /* blk_size */
	virtio_dev_config_read(f.vdev, 34, (uint8_t *)&nq, 2);
	CHECK_EQ(le16toh(nq), 1);
	if (feat & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD)) {
		CHECK_EQ(cfg32(f.vdev, 36), BLK_MAX_DISCARD_SECTORS);
		CHECK_EQ(cfg32(f.vdev, 40), 1);
		CHECK(cfg32(f.vdev, 44) >= 1);
		CHECK_EQ(cfg32(f.vdev, 48), BLK_MAX_DISCARD_SECTORS);
		CHECK_EQ(cfg32(f.vdev, 52), 1);
		CHECK_EQ(cfg32(f.vdev, 56) & 0xff, 1);
	} else {
		CHECK_EQ(cfg32(f.vdev, 36), 0);
	}
	/* beyond the config space: zeroes, not a crash */
	CHECK_EQ(cfg32(f.vdev, 58), 0);
	/* writes are ignored: capacity stays */
	virtio_dev_config_write(f.vdev, 0, junk, 8);
	virtio_dev_config_write(f.vdev, 32, junk, 1);
	CHECK_EQ(cfg32(f.vdev, 0), IMAGE_SECTORS);
	CHECK_EQ(cfg32(f.vdev, 32) & 0xff, 0);
	fixture_close(&f);
}

static void test_read_shapes(void)
{
	static const struct {
		uint64_t sector;
		size_t len;
	} cases[] = { { 0, 512 }, { 1, 1024 }, { 17, 4096 }, { IMAGE_SECTORS - 1, 512 },
		      { IMAGE_SECTORS - 8, 4096 }, { 3, 0 }, { 40, 64 * 1024 } };
	struct virtio_blk_counters c0, c1;
	struct fixture f;
	uint8_t *buf = malloc(64 * 1024);
	uint64_t bytes = 0;
	unsigned int ops = 0;

	fixture_new(&f, "read.img", IMAGE_SECTORS * 512, false, 1, 128);
	CHECK_EQ(virtio_blk_get_counters(f.vdev, &c0), 0);
	for (int s = 0; s < _SHAPE_MAX; s++) {
		for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
			uint32_t used = 0;
			uint8_t st = do_read(&f, 0, cases[i].sector, buf, cases[i].len, s, &used);

			if (st != VIRTIO_BLK_S_OK || used != cases[i].len + 1 ||
			    !is_pattern(buf, cases[i].sector * 512, cases[i].len))
				fprintf(stderr, "read shape %s sector %" PRIu64 " len %zu\n",
					shape_name[s], cases[i].sector, cases[i].len);
			CHECK_EQ(st, VIRTIO_BLK_S_OK);
			CHECK_EQ(used, cases[i].len + 1);
			CHECK(is_pattern(buf, cases[i].sector * 512, cases[i].len));
			bytes += cases[i].len;
			ops++;
		}
	}
	CHECK_EQ(virtio_blk_get_counters(f.vdev, &c1), 0);
	CHECK_EQ(c1.read_bytes - c0.read_bytes, bytes);
	CHECK_EQ(c1.read_ops - c0.read_ops, ops);
	CHECK_EQ(c1.write_ops, 0);
	CHECK(f.h.queue_signals[0] > 0);
	fixture_close(&f);
	free(buf);
}

static void test_write_shapes(void)
{
	struct virtio_blk_counters c;
	struct fixture f;
	uint8_t buf[8192], back[8192];
	unsigned int ops = 0;

	fixture_new(&f, "write.img", IMAGE_SECTORS * 512, false, 1, 128);
	for (int s = 0; s < _SHAPE_MAX; s++) {
		uint64_t sector = 10 + 20 * (uint64_t)s;
		uint32_t used = 0;

		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)(i * 13 + s);
		CHECK_EQ(do_write(&f, 0, sector, buf, sizeof(buf), s, &used), VIRTIO_BLK_S_OK);
		CHECK_EQ(used, 1);
		file_read(f.path, sector * 512, back, sizeof(back));
		CHECK(memcmp(buf, back, sizeof(buf)) == 0);
		/* the neighbours are untouched */
		file_read(f.path, sector * 512 - 512, back, 512);
		CHECK(is_pattern(back, sector * 512 - 512, 512));
		file_read(f.path, sector * 512 + sizeof(buf), back, 512);
		CHECK(is_pattern(back, sector * 512 + sizeof(buf), 512));
		/* and the guest reads back what it wrote */
		CHECK_EQ(do_read(&f, 0, sector, back, sizeof(back), s, NULL), VIRTIO_BLK_S_OK);
		CHECK(memcmp(buf, back, sizeof(buf)) == 0);
		ops++;
	}
	/* the last sector */
	memset(buf, 0x42, 512);
	CHECK_EQ(do_write(&f, 0, IMAGE_SECTORS - 1, buf, 512, SHAPE_SPLIT3, NULL), VIRTIO_BLK_S_OK);
	file_read(f.path, (IMAGE_SECTORS - 1) * 512, back, 512);
	CHECK(memcmp(buf, back, 512) == 0);
	ops++;
	CHECK_EQ(virtio_blk_get_counters(f.vdev, &c), 0);
	CHECK_EQ(c.write_ops, ops);
	CHECK_EQ(c.write_bytes, (ops - 1) * sizeof(buf) + 512);
	/* flush */
	{
		uint32_t used = 0;

		CHECK_EQ(do_simple(&f, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, 0, &used),
			 VIRTIO_BLK_S_OK);
		CHECK_EQ(used, 1);
	}
	fixture_close(&f);
}

static void test_get_id(void)
{
	struct virtio_blk_config cfg = { .serial = "nacelle-serial-1" };
	struct fixture f;
	struct stat st;
	char expect[64], id[20], path[300];
	uint32_t used = 0;

	fixture_new(&f, "id.img", 8192, false, 1, 16);
	CHECK_EQ(stat(f.path, &st), 0);
	snprintf(expect, sizeof(expect), "%ju%ju%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_rdev,
		 (uintmax_t)st.st_ino);
	CHECK_EQ(do_simple(&f, VIRTIO_BLK_T_GET_ID, 0, NULL, 0, (uint8_t *)id, 20, &used),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 21);
	CHECK(strncmp(id, expect, 20) == 0);
	CHECK(strlen(expect) >= 20 || id[strlen(expect)] == '\0');
	/* a short buffer gets what fits */
	memset(id, 0, sizeof(id));
	CHECK_EQ(do_simple(&f, VIRTIO_BLK_T_GET_ID, 0, NULL, 0, (uint8_t *)id, 8, &used),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 9);
	CHECK(strncmp(id, expect, 8) == 0);
	fixture_close(&f);

	snprintf(path, sizeof(path), "%s", f.path);
	cfg.path = path;
	CHECK_EQ(fixture_open(&f, &cfg, 1, 16), 0);
	memset(id, 0x55, sizeof(id));
	CHECK_EQ(do_simple(&f, VIRTIO_BLK_T_GET_ID, 0, NULL, 0, (uint8_t *)id, 20, &used),
		 VIRTIO_BLK_S_OK);
	CHECK(memcmp(id, "nacelle-serial-1\0\0\0\0", 20) == 0);
	fixture_close(&f);

	/* exactly 20 bytes: no terminator */
	cfg.serial = "abcdefghijklmnopqrst";
	CHECK_EQ(fixture_open(&f, &cfg, 1, 16), 0);
	CHECK_EQ(do_simple(&f, VIRTIO_BLK_T_GET_ID, 0, NULL, 0, (uint8_t *)id, 20, &used),
		 VIRTIO_BLK_S_OK);
	CHECK(memcmp(id, "abcdefghijklmnopqrst", 20) == 0);
	fixture_close(&f);
}

/* A sparse image whose first 64 KiB carry the pattern. */
static void test_discard(void)
{
	struct fixture f;
	uint8_t back[8192];
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/sparse.img", tmpdir);
	make_image(path, 64 * 1024);
	fd = open(path, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0 && ftruncate(fd, 16 * MiB) == 0);
	close(fd);
	{
		struct virtio_blk_config cfg = { .path = path };

		if (fixture_open(&f, &cfg, 1, 64) < 0)
			exit(1);
	}
	if (!(f.vdev->device_features & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD))) {
		printf("discard: not offered on %s (no punch-hole); checking UNSUPP only\n",
		       tmpdir);
		CHECK_EQ(do_discard(&f, VIRTIO_BLK_T_DISCARD, 8, 8, 0, 1), VIRTIO_BLK_S_UNSUPP);
		fixture_close(&f);
		return;
	}
	/* discard sectors 8..15 (one 4 KiB block): zeroes, neighbours intact */
	CHECK_EQ(do_discard(&f, VIRTIO_BLK_T_DISCARD, 8, 8, 0, 1), VIRTIO_BLK_S_OK);
	file_read(path, 0, back, 8192);
	CHECK(is_pattern(back, 0, 4096));
	CHECK(is_zero(back + 4096, 4096));
	/* write zeroes without unmap (ZERO_RANGE, or punch + allocate), and with */
	CHECK_EQ(do_discard(&f, VIRTIO_BLK_T_WRITE_ZEROES, 17, 3, 0, 1), VIRTIO_BLK_S_OK);
	file_read(path, 16 * 512, back, 5 * 512);
	CHECK(is_pattern(back, 16 * 512, 512));
	CHECK(is_zero(back + 512, 3 * 512));
	CHECK(is_pattern(back + 4 * 512, 20 * 512, 512));
	CHECK_EQ(do_discard(&f, VIRTIO_BLK_T_WRITE_ZEROES, 32, 16, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
			    1),
		 VIRTIO_BLK_S_OK);
	file_read(path, 32 * 512, back, 8192);
	CHECK(is_zero(back, 8192));
	/* the guest sees the zeroes too */
	CHECK_EQ(do_read(&f, 0, 8, back, 4096, SHAPE_SPLIT3, NULL), VIRTIO_BLK_S_OK);
	CHECK(is_zero(back, 4096));
	/* the end of the disk, and zero sectors */
	CHECK_EQ(do_discard(&f, VIRTIO_BLK_T_DISCARD, 16 * MiB / 512 - 8, 8, 0, 1),
		 VIRTIO_BLK_S_OK);
	CHECK_EQ(do_discard(&f, VIRTIO_BLK_T_DISCARD, 100, 0, 0, 1), VIRTIO_BLK_S_OK);

	/* hostile segments; the file must not change */
	{
		uint64_t sum = file_checksum(path);

		CHECK_EQ(do_discard(&f, VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP,
				    1),
			 VIRTIO_BLK_S_UNSUPP);
		CHECK_EQ(do_discard(&f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0x80, 1),
			 VIRTIO_BLK_S_UNSUPP);
		CHECK_EQ(do_discard(&f, VIRTIO_BLK_T_DISCARD, 0, 8, 0, 2), VIRTIO_BLK_S_IOERR);
		CHECK_EQ(do_discard(&f, VIRTIO_BLK_T_DISCARD, 0, 8, 0, 0), VIRTIO_BLK_S_IOERR);
		CHECK_EQ(do_discard(&f, VIRTIO_BLK_T_DISCARD, 16 * MiB / 512 - 7, 8, 0, 1),
			 VIRTIO_BLK_S_IOERR);
		CHECK_EQ(do_discard(&f, VIRTIO_BLK_T_WRITE_ZEROES, UINT64_MAX - 3, 8, 0, 1),
			 VIRTIO_BLK_S_IOERR);
		CHECK_EQ(do_discard(&f, VIRTIO_BLK_T_DISCARD, 0, BLK_MAX_DISCARD_SECTORS + 1, 0, 1),
			 VIRTIO_BLK_S_IOERR);
		/* a partial segment */
		{
			uint8_t seg[12] = { 0 };

			CHECK_EQ(do_simple(&f, VIRTIO_BLK_T_DISCARD, 0, seg, sizeof(seg), NULL, 0,
					   NULL),
				 VIRTIO_BLK_S_IOERR);
		}
		CHECK_EQ(file_checksum(path), sum);
	}
	fixture_close(&f);
}

static void test_out_of_range(void)
{
	static const struct {
		uint64_t sector;
		size_t len;
	} cases[] = { { IMAGE_SECTORS, 512 },
		      { IMAGE_SECTORS - 1, 1024 },
		      { IMAGE_SECTORS + 1000, 0 },
		      { UINT64_MAX, 512 },
		      { UINT64_MAX >> 9, 512 },		/* sector * 512 overflows to ~0 */
		      { (UINT64_MAX >> 9) + 2, 512 },	/* sector * 512 wraps to 512 */
		      { UINT64_C(1) << 55, 512 } };
	struct fixture f;
	uint8_t buf[1024], zero[1024] = { 0 };
	uint64_t sum;

	fixture_new(&f, "range.img", IMAGE_SECTORS * 512, false, 1, 32);
	sum = file_checksum(f.path);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint32_t used = 0;

		memset(buf, FILL, sizeof(buf));
		CHECK_EQ(do_read(&f, 0, cases[i].sector, buf, cases[i].len, SHAPE_SPLIT3, &used),
			 VIRTIO_BLK_S_IOERR);
		CHECK_EQ(used, 1);
		CHECK_EQ(do_write(&f, 0, cases[i].sector, zero, cases[i].len, SHAPE_SPLIT3, &used),
			 VIRTIO_BLK_S_IOERR);
		CHECK_EQ(used, 1);
	}
	CHECK_EQ(file_checksum(f.path), sum);
	CHECK_EQ(dev_status(&f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	fixture_close(&f);
}

static void test_readonly(void)
{
	char path[300];
	struct virtio_blk_config cfg = { .path = path, .readonly = true };
	struct fixture f;
	uint8_t buf[4096];
	uint64_t sum;

	snprintf(path, sizeof(path), "%s/ro.img", tmpdir);
	make_image(path, IMAGE_SECTORS * 512);
	CHECK_EQ(chmod(path, 0400), 0); /* O_RDONLY must be enough */
	sum = file_checksum(path);
	if (fixture_open(&f, &cfg, 1, 32) < 0)
		exit(1);
	CHECK(f.vdev->device_features & VIRTIO_BIT(VIRTIO_BLK_F_RO));
	CHECK(!(f.vdev->device_features & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD)));
	CHECK(!(f.vdev->device_features & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES)));
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(do_write(&f, 0, 0, buf, sizeof(buf), SHAPE_SPLIT3, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(do_write(&f, 0, 5, buf, 512, SHAPE_MERGED, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(do_discard(&f, VIRTIO_BLK_T_DISCARD, 0, 8, 0, 1), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(do_discard(&f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0, 1), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(do_simple(&f, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL, 0, NULL), VIRTIO_BLK_S_OK);
	CHECK_EQ(do_read(&f, 0, 2, buf, sizeof(buf), SHAPE_SCATTER, NULL), VIRTIO_BLK_S_OK);
	CHECK(is_pattern(buf, 1024, sizeof(buf)));
	CHECK_EQ(file_checksum(path), sum);
	fixture_close(&f);

	/* read-only images may be shared by several VMs (shared lock) */
	{
		struct vq_harness h;
		struct virtio_dev *a = NULL, *b = NULL;
		struct error err = { 0 };

		CHECK_EQ(vqh_init(&h, 1 * MiB, 1, 16), 0);
		CHECK_EQ(virtio_blk_create(&cfg, &h.mem, &a, &err), 0);
		CHECK_EQ(virtio_blk_create(&cfg, &h.mem, &b, &err), 0);
		if (a)
			a->ops->destroy(a);
		if (b)
			b->ops->destroy(b);
		vqh_fini(&h);
	}
}

static void test_bad_requests(void)
{
	struct fixture f;
	uint8_t buf[1024];
	uint32_t used = 0;
	uint64_t sum;

	fixture_new(&f, "bad.img", IMAGE_SECTORS * 512, false, 1, 32);
	sum = file_checksum(f.path);
	/* odd lengths */
	CHECK_EQ(do_read(&f, 0, 0, buf, 511, SHAPE_SPLIT3, &used), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(used, 1);
	CHECK_EQ(do_read(&f, 0, 0, buf, 513, SHAPE_MERGED, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(do_read(&f, 0, 0, buf, 1, SHAPE_SCATTER, NULL), VIRTIO_BLK_S_IOERR);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(do_write(&f, 0, 0, buf, 100, SHAPE_SPLIT3, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(do_write(&f, 0, 0, buf, 1023, SHAPE_INDIRECT, NULL), VIRTIO_BLK_S_IOERR);
	/* unknown and unimplemented types */
	CHECK_EQ(do_simple(&f, 99, 0, NULL, 0, NULL, 0, &used), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(used, 1);
	CHECK_EQ(do_simple(&f, VIRTIO_BLK_T_GET_LIFETIME, 0, NULL, 0, buf, 16, NULL),
		 VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(do_simple(&f, VIRTIO_BLK_T_SECURE_ERASE, 0, NULL, 0, NULL, 0, NULL),
		 VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(do_simple(&f, 0xffffffff, 0, NULL, 0, NULL, 0, NULL), VIRTIO_BLK_S_UNSUPP);
	/* a short header: 8 readable bytes, and none at all */
	{
		uint8_t hdr[16], st[1];
		struct layout l8 = { .n_rd = 1, .rd = { 8 }, .n_wr = 1, .wr = { 1 } };
		struct layout l0 = { .n_rd = 0, .n_wr = 1, .wr = { 1 } };
		/* a single writable descriptor: header unreadable, status at its end */
		struct layout l1 = { .n_rd = 0, .n_wr = 1, .wr = { 529 } };
		uint8_t big[529];

		header(hdr, VIRTIO_BLK_T_IN, 0);
		CHECK_EQ(submit(&f, 0, hdr, &l8, st, &used), 0);
		CHECK_EQ(st[0], VIRTIO_BLK_S_IOERR);
		CHECK_EQ(used, 1);
		CHECK_EQ(submit(&f, 0, hdr, &l0, st, &used), 0);
		CHECK_EQ(st[0], VIRTIO_BLK_S_IOERR);
		CHECK_EQ(submit(&f, 0, hdr, &l1, big, &used), 0);
		CHECK_EQ(big[528], VIRTIO_BLK_S_IOERR);
		CHECK_EQ(big[0], FILL);
	}
	/* an OUT whose data sits in writable buffers: nothing to write, ok */
	{
		uint8_t hdr[16], wr[513];
		struct layout l = { .n_rd = 1, .rd = { 16 }, .n_wr = 1, .wr = { 513 } };

		header(hdr, VIRTIO_BLK_T_OUT, 0);
		CHECK_EQ(submit(&f, 0, hdr, &l, wr, &used), 0);
		CHECK_EQ(wr[512], VIRTIO_BLK_S_OK);
		CHECK_EQ(used, 1);
		CHECK_EQ(wr[0], FILL);
	}
	/* reserved header field set: ignored */
	{
		uint8_t hdr[16], wr[513];
		struct layout l = { .n_rd = 1, .rd = { 16 }, .n_wr = 1, .wr = { 513 } };

		header(hdr, VIRTIO_BLK_T_IN, 1);
		memset(hdr + 4, 0xff, 4);
		CHECK_EQ(submit(&f, 0, hdr, &l, wr, &used), 0);
		CHECK_EQ(wr[512], VIRTIO_BLK_S_OK);
		CHECK(is_pattern(wr, 512, 512));
	}
	CHECK_EQ(file_checksum(f.path), sum);
	CHECK_EQ(dev_status(&f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	fixture_close(&f);
}

static void test_no_status(void)
{
	struct fixture f;
	uint8_t rd[16 + 512], buf[512];
	struct layout l = { .n_rd = 2, .rd = { 16, 512 } };
	uint32_t used = 1234;
	uint64_t sum;

	fixture_new(&f, "nostatus.img", IMAGE_SECTORS * 512, false, 1, 32);
	sum = file_checksum(f.path);
	header(rd, VIRTIO_BLK_T_OUT, 0);
	memset(rd + 16, 0, 512);
	/* nothing writable: no way to answer; the buffers come back with len 0 */
	CHECK_EQ(submit(&f, 0, rd, &l, NULL, &used), 0);
	CHECK_EQ(used, 0);
	CHECK(dev_status(&f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK(f.h.config_signals > 0);
	CHECK_EQ(file_checksum(f.path), sum);
	/* the queue is stopped until reset */
	{
		struct vqh_buf bufs[4];
		struct layout lr = { .n_rd = 1, .rd = { 16 }, .n_wr = 2, .wr = { 512, 1 } };
		uint16_t head;

		header(rd, VIRTIO_BLK_T_IN, 0);
		CHECK_EQ(submit_nowait(&f, 0, rd, &lr, bufs, &head), 0);
		CHECK_EQ(vqh_kick_and_wait(&f.h, f.vdev, 0), 0);
		usleep(20000);
		CHECK_EQ(vqh_pop_used(&f.h, 0, NULL, NULL), 0);
	}
	fixture_reset(&f);
	CHECK_EQ(do_read(&f, 0, 4, buf, 512, SHAPE_SPLIT3, &used), VIRTIO_BLK_S_OK);
	CHECK(is_pattern(buf, 2048, 512));
	fixture_close(&f);
}

static void test_malformed_chains(void)
{
	struct fixture f;
	uint8_t buf[512];
	struct vqh_desc *d;

	fixture_new(&f, "malformed.img", IMAGE_SECTORS * 512, false, 1, 32);

	/* a descriptor that loops onto itself */
	d = vqh_desc(&f.h, 0, 0);
	d->addr = htole64(vqh_alloc(&f.h, 16));
	d->len = htole32(16);
	d->flags = htole16(VIRTQ_DESC_F_NEXT);
	d->next = 0;
	vqh_publish(&f.h, 0, 0);
	CHECK_EQ(vqh_kick_and_wait(&f.h, f.vdev, 0), 0);
	CHECK(dev_status(&f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	fixture_reset(&f);
	CHECK_EQ(do_read(&f, 0, 1, buf, 512, SHAPE_INDIRECT, NULL), VIRTIO_BLK_S_OK);
	CHECK(is_pattern(buf, 512, 512));

	/* a data buffer outside guest RAM */
	{
		struct vqh_buf bufs[3] = {
			{ .len = 16 },
			{ .gpa = RAM_SIZE - 256, .len = 512, .writable = true },
			{ .len = 1, .writable = true },
		};
		uint8_t hdr[16];

		header(hdr, VIRTIO_BLK_T_IN, 0);
		bufs[0].data = hdr;
		vqh_publish(&f.h, 0, vqh_add_chain(&f.h, 0, bufs, 3));
		CHECK_EQ(vqh_kick_and_wait(&f.h, f.vdev, 0), 0);
		CHECK(dev_status(&f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	}
	fixture_reset(&f);

	/* an avail index far ahead */
	vqh_set_avail_idx(&f.h, 0, 1000);
	CHECK_EQ(vqh_kick_and_wait(&f.h, f.vdev, 0), 0);
	CHECK(dev_status(&f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	fixture_reset(&f);

	/* a head index out of range, an address near 2^64 */
	d = vqh_desc(&f.h, 0, 0);
	d->addr = htole64(UINT64_MAX - 8);
	d->len = htole32(16);
	d->flags = 0;
	vqh_publish(&f.h, 0, 0);
	CHECK_EQ(vqh_kick_and_wait(&f.h, f.vdev, 0), 0);
	CHECK(dev_status(&f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	fixture_reset(&f);
	vqh_publish(&f.h, 0, 31 + 1000);
	CHECK_EQ(vqh_kick_and_wait(&f.h, f.vdev, 0), 0);
	CHECK(dev_status(&f) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	fixture_reset(&f);

	CHECK_EQ(do_read(&f, 0, 7, buf, 512, SHAPE_SCATTER, NULL), VIRTIO_BLK_S_OK);
	CHECK(is_pattern(buf, 7 * 512, 512));
	fixture_close(&f);
}

static void test_multiqueue(void)
{
	struct fixture f;
	uint8_t buf[2048], back[2048];
	uint16_t nq;

	fixture_new(&f, "mq.img", IMAGE_SECTORS * 512, false, 2, 64);
	CHECK(f.vdev->device_features & VIRTIO_BIT(VIRTIO_BLK_F_MQ));
	virtio_dev_config_read(f.vdev, 34, (uint8_t *)&nq, 2);
	CHECK_EQ(le16toh(nq), 2);
	for (unsigned int q = 0; q < 2; q++) {
		CHECK_EQ(do_read(&f, q, 8 * q, back, sizeof(back), SHAPE_SPLIT3, NULL),
			 VIRTIO_BLK_S_OK);
		CHECK(is_pattern(back, 8 * q * 512, sizeof(back)));
		memset(buf, 0x30 + q, sizeof(buf));
		CHECK_EQ(do_write(&f, q, 100 + 8 * q, buf, sizeof(buf), SHAPE_INDIRECT, NULL),
			 VIRTIO_BLK_S_OK);
		file_read(f.path, (100 + 8 * q) * 512, back, sizeof(back));
		CHECK(memcmp(buf, back, sizeof(buf)) == 0);
		CHECK(f.h.queue_signals[q] > 0);
	}
	/* both queues loaded at once */
	{
		struct vqh_buf bufs[2][8][4];
		uint8_t hdr[16];
		struct layout l = { .n_rd = 1, .rd = { 16 }, .n_wr = 2, .wr = { 1024, 1 } };
		unsigned int got[2] = { 0, 0 };
		uint16_t head;

		for (unsigned int i = 0; i < 8; i++)
			for (unsigned int q = 0; q < 2; q++) {
				header(hdr, VIRTIO_BLK_T_IN, i * 2);
				CHECK_EQ(submit_nowait(&f, q, hdr, &l, bufs[q][i], &head), 0);
			}
		CHECK_EQ(vqh_kick_and_wait(&f.h, f.vdev, 0), 0);
		CHECK_EQ(vqh_kick_and_wait(&f.h, f.vdev, 1), 0);
		for (unsigned int q = 0; q < 2; q++) {
			uint32_t id, len;

			while (vqh_pop_used(&f.h, q, &id, &len) == 1) {
				CHECK_EQ(len, 1025);
				got[q]++;
			}
			for (unsigned int i = 0; i < 8; i++) {
				uint8_t *p = vqh_ptr(&f.h, bufs[q][i][1].gpa);

				CHECK(is_pattern(p, i * 2 * 512, 1024));
			}
		}
		CHECK_EQ(got[0], 8);
		CHECK_EQ(got[1], 8);
	}
	fixture_close(&f);
}

/* Many requests in flight, a reset in the middle, then the device works again. */
static void test_reset_during_io(void)
{
	struct fixture f;
	uint8_t hdr[16], buf[512];
	struct layout l = { .n_rd = 1, .rd = { 16 }, .n_wr = 2, .wr = { 4096, 1 },
			    .indirect = true }; /* one descriptor each: 600 fit in the ring */

	fixture_new(&f, "reset.img", IMAGE_SECTORS * 512, false, 1, 1024);
	for (int round = 0; round < 3; round++) {
		uint64_t one = 1;

		for (unsigned int i = 0; i < 600; i++) {
			struct vqh_buf bufs[4];
			uint16_t head;

			header(hdr, VIRTIO_BLK_T_IN, (i * 8) % (IMAGE_SECTORS - 8));
			if (submit_nowait(&f, 0, hdr, &l, bufs, &head) < 0)
				break;
		}
		CHECK_EQ(write(f.vdev->kick_fds[0], &one, 8), 8);
		if (round == 2)
			usleep(1000);
		virtio_dev_reset(f.vdev); /* joins the worker: nothing in flight after this */
		CHECK_EQ(f.vdev->queues[0].ready, false);
		vqh_reset_queue(&f.h, 0);
		f.h.data_next = 64 * 1024; /* reuse the buffers */
		CHECK_EQ(vqh_activate_device(&f.h, f.vdev), 0);
		CHECK_EQ(do_read(&f, 0, 9, buf, 512, SHAPE_SPLIT3, NULL), VIRTIO_BLK_S_OK);
		CHECK(is_pattern(buf, 9 * 512, 512));
	}
	/* beyond one budget of requests per wake-up: all are served */
	{
		unsigned int n = 0, got = 0;
		uint32_t id, len;

		for (unsigned int i = 0; i < 3 * BLK_QUEUE_BUDGET / 2; i++) {
			struct vqh_buf bufs[4];
			uint16_t head;

			header(hdr, VIRTIO_BLK_T_IN, 16);
			if (submit_nowait(&f, 0, hdr, &l, bufs, &head) < 0)
				break;
			n++;
		}
		CHECK_EQ(n, 3 * BLK_QUEUE_BUDGET / 2);
		CHECK_EQ(vqh_kick_and_wait(&f.h, f.vdev, 0), 0);
		while (vqh_pop_used(&f.h, 0, &id, &len) == 1) {
			CHECK_EQ(len, 4097);
			got++;
		}
		CHECK_EQ(got, n);
	}
	fixture_close(&f);
}

/* The image shrinks under a running device: reads past EOF are zeroes. */
static void test_shrunk_image(void)
{
	struct fixture f;
	uint8_t buf[1024];
	int fd;

	fixture_new(&f, "shrink.img", IMAGE_SECTORS * 512, false, 1, 32);
	fd = open(f.path, O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0 && ftruncate(fd, 10 * 512 + 512 / 2) == 0);
	close(fd);
	memset(buf, FILL, sizeof(buf));
	CHECK_EQ(do_read(&f, 0, 10, buf, sizeof(buf), SHAPE_SCATTER, NULL), VIRTIO_BLK_S_OK);
	CHECK(is_pattern(buf, 10 * 512, 256));
	CHECK(is_zero(buf + 256, sizeof(buf) - 256));
	CHECK_EQ(do_read(&f, 0, 100, buf, sizeof(buf), SHAPE_SPLIT3, NULL), VIRTIO_BLK_S_OK);
	CHECK(is_zero(buf, sizeof(buf)));
	fixture_close(&f);
}

static void test_direct(void)
{
	char path[300];
	struct virtio_blk_config cfg = { .path = path, .direct = true };
	struct fixture f;
	struct error err = { 0 };
	int r;

	snprintf(path, sizeof(path), "%s/direct.img", tmpdir);
	make_image(path, IMAGE_SECTORS * 512);
	memset(&f, 0, sizeof(f));
	CHECK_EQ(vqh_init(&f.h, RAM_SIZE, 1, 32), 0);
	r = virtio_blk_create(&cfg, &f.h.mem, &f.vdev, &err);
	if (r < 0) {
		printf("direct: skipped, %s\n", err.msg);
		CHECK(strstr(err.msg, "--disk path=") != NULL);
		vqh_fini(&f.h);
		return;
	}
	snprintf(f.path, sizeof(f.path), "%s", path);
	CHECK_EQ(vqh_activate_device(&f.h, f.vdev), 0);
	for (int s = 0; s < _SHAPE_MAX; s++) {
		uint8_t buf[8192];

		/* 16-byte aligned harness buffers: the bounce path */
		CHECK_EQ(do_read(&f, 0, 3, buf, sizeof(buf), s, NULL), VIRTIO_BLK_S_OK);
		CHECK(is_pattern(buf, 3 * 512, sizeof(buf)));
		memset(buf, 0x60 + s, sizeof(buf));
		CHECK_EQ(do_write(&f, 0, 40 + 16 * s, buf, sizeof(buf), s, NULL), VIRTIO_BLK_S_OK);
		{
			uint8_t back[8192];

			file_read(path, (40 + 16 * (uint64_t)s) * 512, back, sizeof(back));
			CHECK(memcmp(buf, back, sizeof(back)) == 0);
		}
	}
	/* page-aligned buffers: straight to the file */
	{
		uint8_t hdr[16];
		struct vqh_buf bufs[3] = {
			{ .len = 16, .data = hdr },
			{ .gpa = 2 * MiB, .len = 8192, .writable = true },
			{ .gpa = 3 * MiB, .len = 1, .writable = true },
		};
		uint32_t len = 0;

		header(hdr, VIRTIO_BLK_T_IN, 5);
		vqh_publish(&f.h, 0, vqh_add_chain(&f.h, 0, bufs, 3));
		CHECK_EQ(vqh_kick_and_wait(&f.h, f.vdev, 0), 0);
		CHECK_EQ(vqh_pop_used(&f.h, 0, NULL, &len), 1);
		CHECK_EQ(len, 8193);
		CHECK_EQ(*(uint8_t *)vqh_ptr(&f.h, 3 * MiB), VIRTIO_BLK_S_OK);
		CHECK(is_pattern(vqh_ptr(&f.h, 2 * MiB), 5 * 512, 8192));
	}
	fixture_close(&f);
}

static void expect_create_error(const struct virtio_blk_config *cfg, int code, const char *needle)
{
	struct vq_harness h;
	struct virtio_dev *vdev = NULL;
	struct error err = { 0 };
	int r;

	CHECK_EQ(vqh_init(&h, 1 * MiB, 1, 16), 0);
	r = virtio_blk_create(cfg, &h.mem, &vdev, &err);
	CHECK_EQ(r, code);
	CHECK_EQ(err.code, code);
	CHECK(vdev == NULL);
	if (!strstr(err.msg, needle)) {
		failures++;
		fprintf(stderr, "error message \"%s\" lacks \"%s\"\n", err.msg, needle);
	}
	if (vdev)
		vdev->ops->destroy(vdev);
	vqh_fini(&h);
}

static void test_create_errors(void)
{
	char missing[300], fifo[300], img[300], msg[400];
	struct virtio_blk_config cfg = { 0 };

	snprintf(missing, sizeof(missing), "%s/missing.img", tmpdir);
	cfg.path = missing;
	snprintf(msg, sizeof(msg), "--disk path=%s: No such file or directory", missing);
	expect_create_error(&cfg, -ENOENT, msg);

	cfg.path = tmpdir;
	expect_create_error(&cfg, -EISDIR, "directory");
	cfg.readonly = true;
	expect_create_error(&cfg, -EISDIR, "is a directory");
	cfg.readonly = false;

	snprintf(fifo, sizeof(fifo), "%s/fifo", tmpdir);
	CHECK_EQ(mkfifo(fifo, 0600), 0);
	cfg.path = fifo;
	cfg.readonly = true; /* O_RDONLY on a FIFO would block without a writer */
	expect_create_error(&cfg, -EINVAL, "not a regular file or block device");
	cfg.readonly = false;

	snprintf(img, sizeof(img), "%s/ok.img", tmpdir);
	make_image(img, 4096);
	cfg.path = img;
	for (unsigned int i = 0; i < 4; i++) {
		static const uint16_t bad[] = { 1, 3, 100, 32769 };

		cfg.queue_size = bad[i];
		expect_create_error(&cfg, -EINVAL,
				    "queue_size must be a power of two between 2 and 32768");
	}
	cfg.queue_size = 0;
	cfg.num_queues = VIRTIO_BLK_MAX_QUEUES + 1;
	expect_create_error(&cfg, -EINVAL, "num_queues must be between 1 and 16");
	cfg.num_queues = 0;
	cfg.serial = "123456789012345678901";
	expect_create_error(&cfg, -EINVAL, "serial must be at most 20 bytes");
	cfg.serial = NULL;
	cfg.path = "";
	expect_create_error(&cfg, -EINVAL, "path is required");
	cfg.path = img;

	/* a writable image is locked against a second user */
	{
		struct vq_harness h;
		struct virtio_dev *a = NULL;
		struct error err = { 0 };

		CHECK_EQ(vqh_init(&h, 1 * MiB, 1, 16), 0);
		CHECK_EQ(virtio_blk_create(&cfg, &h.mem, &a, &err), 0);
		expect_create_error(&cfg, -EBUSY, "locked");
		if (a)
			a->ops->destroy(a);
		vqh_fini(&h);
	}

	/* defaults: queue size 128, one queue; the maximum queue size works */
	{
		struct fixture f;

		cfg.queue_size = 0;
		CHECK_EQ(fixture_open(&f, &cfg, 1, 128), 0);
		CHECK_EQ(f.vdev->max_queue_size, VIRTIO_BLK_DEFAULT_QUEUE_SIZE);
		CHECK_EQ(f.vdev->nr_queues, 1);
		CHECK_EQ(cfg32(f.vdev, 0), 8);
		fixture_close(&f);
		cfg.queue_size = 32768;
		{
			struct vq_harness h;
			struct virtio_dev *vdev = NULL;
			struct error err = { 0 };

			CHECK_EQ(vqh_init(&h, 1 * MiB, 1, 16), 0);
			CHECK_EQ(virtio_blk_create(&cfg, &h.mem, &vdev, &err), 0);
			/* the virtqueue layer takes at most VIRTQ_CHAIN_MAX_IOV buffers */
			if (vdev) {
				CHECK_EQ(cfg32(vdev, 12), VIRTQ_CHAIN_MAX_IOV - 2);
				vdev->ops->destroy(vdev);
			}
			vqh_fini(&h);
		}
	}
}

static void cleanup_tmpdir(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(void)
{
	/* TMPDIR picks the filesystem under test (tmpfs lacks ZERO_RANGE, and
	 * O_DIRECT before Linux 6.6); by default a disk-backed one */
	const char *base = getenv("TMPDIR");

	if (!base)
		base = access("/var/tmp", W_OK) == 0 ? "/var/tmp" : "/tmp";

	log_set_level(LOG_LEVEL_ERROR); /* the guest misbehaves on purpose here */
	snprintf(tmpdir, sizeof(tmpdir), "%s/blk-test.XXXXXX", base);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}

	test_config();
	test_read_shapes();
	test_write_shapes();
	test_get_id();
	test_discard();
	test_out_of_range();
	test_readonly();
	test_bad_requests();
	test_no_status();
	test_malformed_chains();
	test_multiqueue();
	test_reset_during_io();
	test_shrunk_image();
	test_direct();
	test_create_errors();

	cleanup_tmpdir();
	printf("blk-test: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
