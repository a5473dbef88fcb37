/* SPDX-License-Identifier: Apache-2.0 */
/*
 * blkbench: sequential and random block I/O with O_DIRECT, for comparing
 * virtio-blk implementations from inside a busybox-only guest. One job, one
 * outstanding request (queue depth 1), as dd would do, so the figures show
 * per-request latency of the device path more than the disk.
 *
 *   blkbench DEVICE seqread|seqwrite|randread|randwrite MIB [BLOCK_BYTES]
 *
 * Prints "op=... bytes=N seconds=S MBps=R iops=I". Random offsets come from
 * a fixed-seed generator so every VMM sees the same access pattern.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64: deterministic, good enough to scatter offsets */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int main(int argc, char **argv)
{
	uint64_t dev_size = 0, total, blocks, seed = 0x9e3779b97f4a7c15ull;
	size_t bs = 4096;
	int writing, random, fd;
	void *buf;
	double t0, dt;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: blkbench DEVICE seqread|seqwrite|randread|randwrite MIB [BLOCK]\n");
		return 2;
	}
	writing = strstr(argv[2], "write") != NULL;
	random = strncmp(argv[2], "rand", 4) == 0;
	total = strtoull(argv[3], NULL, 10) << 20;
	if (argc == 5)
		bs = strtoull(argv[4], NULL, 10);
	if (bs < 512 || bs % 512 || total < bs) {
		fprintf(stderr, "blkbench: bad sizes\n");
		return 2;
	}
	fd = open(argv[1], (writing ? O_RDWR : O_RDONLY) | O_DIRECT | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &dev_size) < 0 || dev_size < bs) {
		fprintf(stderr, "blkbench: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (posix_memalign(&buf, 4096, bs))
		return 1;
	memset(buf, 0xa5, bs);
	blocks = total / bs;
	t0 = now();
	for (uint64_t i = 0; i < blocks; i++) {
		uint64_t slots = dev_size / bs;
		uint64_t off = (random ? next_rand(&seed) % slots : i % slots) * bs;
		ssize_t n = writing ? pwrite(fd, buf, bs, (off_t)off) : pread(fd, buf, bs, (off_t)off);

		if (n != (ssize_t)bs) {
			fprintf(stderr, "blkbench: I/O at %llu: %s\n", (unsigned long long)off,
				n < 0 ? strerror(errno) : "short");
			return 1;
		}
	}
	if (writing && fdatasync(fd) < 0)
		return 1;
	dt = now() - t0;
	printf("op=%s bytes=%llu seconds=%.3f MBps=%.1f iops=%.0f\n", argv[2],
	       (unsigned long long)(blocks * bs), dt, dt > 0 ? (double)(blocks * bs) / dt / 1e6 : 0.0,
	       dt > 0 ? (double)blocks / dt : 0.0);
	close(fd);
	free(buf);
	return 0;
}
