/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-console without a VM: fake guest memory, hand-built chains, pipes
 * and a pty as the host side, the device's real worker thread. An alarm
 * turns any hang (a worker blocked on a full sink) into a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio-console.h"
#include "vq-harness.h"

#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                \
			exit(1);                                                       \
		}                                                                      \
	} while (0)

#define RAM_SIZE (8 * MiB)
#define RXQ VIRTIO_CONSOLE_QUEUE_RX
#define TXQ VIRTIO_CONSOLE_QUEUE_TX

static bool needs_reset(struct virtio_dev *vdev)
{
	return __atomic_load_n(&vdev->status, __ATOMIC_ACQUIRE) & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait (bounded) for the next used element of qi. */
static int wait_used(struct vq_harness *h, unsigned int qi, uint32_t *id, uint32_t *len)
{
	for (int i = 0; i < 2000; i++) {
		if (vqh_pop_used(h, qi, id, len) == 1)
			return 1;
		sleep_ms(1);
	}
	return 0;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	CHECK(getrusage(RUSAGE_SELF, &ru) == 0);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

/* Kick without waiting for the ring to be consumed (a held-back queue never is). */
static void kick(struct virtio_dev *vdev, unsigned int qi)
{
	uint64_t one = 1;

	CHECK(write(vdev->kick_fds[qi], &one, sizeof(one)) == sizeof(one));
}

/* Read exactly len bytes from fd (bounded wait). */
static void read_exact(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		CHECK(poll(&p, 1, 2000) == 1);
		n = read(fd, (char *)buf + got, len - got);
		CHECK(n > 0);
		got += (size_t)n;
	}
}

static bool fd_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1;
}

static struct virtio_dev *make_dev(struct vq_harness *h, int out_fd, int in_fd)
{
	struct virtio_dev *vdev = NULL;
	struct error err = { 0 };

	CHECK(vqh_init(h, RAM_SIZE, 2, VIRTIO_CONSOLE_QUEUE_SIZE) == 0);
	if (virtio_console_create(out_fd, in_fd, &h->mem, &vdev, &err) != 0) {
		fprintf(stderr, "create: %s\n", err.msg);
		exit(1);
	}
	CHECK(vdev->device_type == VIRTIO_ID_CONSOLE && vdev->nr_queues == 2);
	CHECK(vqh_activate_device(h, vdev) == 0);
	return vdev;
}

static void done_dev(struct vq_harness *h, struct virtio_dev *vdev)
{
	virtio_console_destroy(vdev);
	vqh_fini(h);
}

static uint16_t tx_post(struct vq_harness *h, const char *const *parts, unsigned int n,
			bool indirect)
{
	struct vqh_buf b[8];
	uint16_t head;

	CHECK(n <= 8);
	for (unsigned int i = 0; i < n; i++)
		b[i] = (struct vqh_buf){ .len = (uint32_t)strlen(parts[i]), .data = parts[i] };
	head = indirect ? vqh_add_indirect(h, TXQ, b, n) : vqh_add_chain(h, TXQ, b, n);
	vqh_publish(h, TXQ, head);
	return head;
}

static uint16_t rx_post(struct vq_harness *h, uint32_t len, uint64_t *ret_gpa)
{
	struct vqh_buf b[1] = { { .len = len, .writable = true } };
	uint16_t head = vqh_add_chain(h, RXQ, b, 1);

	vqh_publish(h, RXQ, head);
	*ret_gpa = b[0].gpa;
	return head;
}

/* ---- config ---- */

static uint32_t cfg32(struct virtio_dev *vdev, uint32_t off)
{
	uint8_t b[4];

	virtio_dev_config_read(vdev, off, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void test_config(void)
{
	struct vq_harness h;
	struct virtio_dev *vdev = NULL;
	struct error err = { 0 };
	int p[2];
	char c;
	uint32_t gen;

	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK(vqh_init(&h, RAM_SIZE, 2, 64) == 0);
	CHECK(virtio_console_create(p[1], -1, &h.mem, &vdev, &err) == 0);
	CHECK(vdev->config_size == VIRTIO_CONSOLE_CFG_SIZE);
	CHECK(virtio_dev_offered_features(vdev) & VIRTIO_BIT(VIRTIO_CONSOLE_F_EMERG_WRITE));
	CHECK(!(virtio_dev_offered_features(vdev) & VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT)));
	CHECK(!(virtio_dev_offered_features(vdev) & VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE)));
	CHECK(cfg32(vdev, 0) == 0);
	CHECK(cfg32(vdev, VIRTIO_CONSOLE_CFG_MAX_NR_PORTS) == 1);
	CHECK(cfg32(vdev, VIRTIO_CONSOLE_CFG_EMERG_WR) == 0);

	/* emergency write works before the driver is up */
	virtio_dev_config_write(vdev, VIRTIO_CONSOLE_CFG_EMERG_WR, (const uint8_t *)"E\0\0\0", 4);
	read_exact(p[0], &c, 1);
	CHECK(c == 'E');
	/* writes to read-only fields and out of range are ignored */
	virtio_dev_config_write(vdev, 0, (const uint8_t *)"\xff\xff\xff\xff", 4);
	virtio_dev_config_write(vdev, 10, (const uint8_t *)"\xff\xff\xff\xff", 4);
	CHECK(cfg32(vdev, 0) == 0);
	CHECK(!fd_readable(p[0], 10));

	/* a size given before negotiation offers F_SIZE */
	CHECK(virtio_console_set_size(vdev, 0, 25) == -EINVAL);
	CHECK(virtio_console_set_size(vdev, 80, 25) == 0);
	CHECK(virtio_dev_offered_features(vdev) & VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE));
	CHECK(cfg32(vdev, 0) == (80u | 25u << 16));
	CHECK(vqh_activate_device(&h, vdev) == 0);
	CHECK(virtio_dev_has_feature(vdev, VIRTIO_CONSOLE_F_SIZE));
	gen = vdev->config_generation;
	CHECK(virtio_console_set_size(vdev, 132, 43) == 0);
	CHECK(cfg32(vdev, 0) == (132u | 43u << 16));
	CHECK(vdev->config_generation != gen);
	CHECK(h.config_signals == 1);

	/* and after activation too */
	virtio_dev_config_write(vdev, VIRTIO_CONSOLE_CFG_EMERG_WR, (const uint8_t *)"!", 1);
	read_exact(p[0], &c, 1);
	CHECK(c == '!');

	/* a byte-wise config read assembles the same fields */
	{
		uint8_t all[VIRTIO_CONSOLE_CFG_SIZE];

		for (uint32_t i = 0; i < sizeof(all); i++)
			virtio_dev_config_read(vdev, i, &all[i], 1);
		CHECK(all[0] == 132 && all[2] == 43 && all[4] == 1);
	}
	done_dev(&h, vdev);
	close(p[0]);
	close(p[1]);
}

/* ---- output ---- */

static void test_tx_pipe(bool nonblocking)
{
	static const char *const a[] = { "hello " };
	static const char *const b[] = { "wor", "ld" };
	static const char *const c[] = { "!", "\n" };
	static const char *const d[] = { "" };
	const char *want = "hello world!\n";
	struct virtio_console_stats st;
	struct vq_harness h;
	struct virtio_dev *vdev;
	char got[32] = { 0 };
	uint32_t id, len;
	uint16_t heads[4];
	int p[2];

	CHECK(pipe2(p, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0)) == 0);
	vdev = make_dev(&h, p[1], -1);
	heads[0] = tx_post(&h, a, 1, false);
	heads[1] = tx_post(&h, b, 2, false);
	heads[2] = tx_post(&h, c, 2, true);
	heads[3] = tx_post(&h, d, 1, false);
	CHECK(vqh_kick_and_wait(&h, vdev, TXQ) == 0);
	for (int i = 0; i < 4; i++) {
		CHECK(vqh_pop_used(&h, TXQ, &id, &len) == 1);
		CHECK(id == heads[i] && len == 0);
	}
	read_exact(p[0], got, strlen(want));
	CHECK(strcmp(got, want) == 0);
	virtio_console_get_stats(vdev, &st);
	CHECK(st.tx_bytes == strlen(want) && st.tx_discarded == 0);
	CHECK(!needs_reset(vdev));
	done_dev(&h, vdev);
	close(p[0]);
	close(p[1]);
}

static bool nowait_works_on_pipes(void)
{
	int p[2];
	struct iovec iov = { .iov_base = (void *)"x", .iov_len = 1 };
	bool ok;

	if (pipe2(p, O_CLOEXEC) != 0)
		return false;
	ok = pwritev2(p[1], &iov, 1, -1, RWF_NOWAIT) == 1;
	close(p[0]);
	close(p[1]);
	return ok;
}

/*
 * The sink is a small pipe nobody reads: the worker must not block, the
 * chains are held, input keeps flowing, and once the pipe is drained every
 * byte arrives in order.
 */
static void test_tx_backpressure(bool nonblocking)
{
	enum { NCHAINS = 40, CHUNK = 3000 };
	size_t total = (size_t)NCHAINS * CHUNK;
	struct virtio_console_stats st;
	struct vq_harness h;
	struct virtio_dev *vdev;
	uint8_t *data = malloc(total), *got = calloc(1, total);
	int out[2], in[2];
	unsigned int used = 0;
	uint32_t id, len;
	uint64_t rx_gpa;
	size_t have = 0;

	CHECK(data && got);
	for (size_t i = 0; i < total; i++)
		data[i] = (uint8_t)(i * 31 + i / 251);
	CHECK(pipe2(out, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0)) == 0);
	CHECK(pipe2(in, O_CLOEXEC | O_NONBLOCK) == 0);
	CHECK(fcntl(out[1], F_SETPIPE_SZ, 4096) >= 0);

	vdev = make_dev(&h, out[1], in[0]);
	for (unsigned int i = 0; i < NCHAINS; i++) {
		/* split each chunk over descriptors of uneven sizes */
		struct vqh_buf b[3] = {
			{ .len = 1000, .data = data + (size_t)i * CHUNK },
			{ .len = 1, .data = data + (size_t)i * CHUNK + 1000 },
			{ .len = CHUNK - 1001, .data = data + (size_t)i * CHUNK + 1001 },
		};

		vqh_publish(&h, TXQ, vqh_add_chain(&h, TXQ, b, 3));
	}
	/* the device takes what fits and holds the rest back */
	kick(vdev, TXQ);
	sleep_ms(100);
	while (vqh_pop_used(&h, TXQ, &id, &len) == 1)
		used++;
	CHECK(used < NCHAINS);
	CHECK(!needs_reset(vdev));

	/* the worker is not stuck: input still reaches the guest */
	CHECK(write(in[1], "ping", 4) == 4);
	rx_post(&h, 16, &rx_gpa);
	CHECK(vqh_kick_and_wait(&h, vdev, RXQ) == 0);
	CHECK(wait_used(&h, RXQ, &id, &len) == 1);
	CHECK(len == 4 && memcmp(vqh_ptr(&h, rx_gpa), "ping", 4) == 0);

	/* more kicks while held change nothing */
	kick(vdev, TXQ);
	sleep_ms(20);
	CHECK(vqh_pop_used(&h, TXQ, &id, &len) == 0);

	/* drain: everything arrives, in order, nothing lost */
	while (have < total) {
		struct pollfd pfd = { .fd = out[0], .events = POLLIN };
		ssize_t n;

		CHECK(poll(&pfd, 1, 2000) == 1);
		n = read(out[0], got + have, total - have);
		CHECK(n > 0);
		have += (size_t)n;
	}
	CHECK(memcmp(got, data, total) == 0);
	while (used < NCHAINS && wait_used(&h, TXQ, &id, &len) == 1)
		used++;
	CHECK(used == NCHAINS);
	CHECK(!fd_readable(out[0], 20));
	virtio_console_get_stats(vdev, &st);
	CHECK(st.tx_bytes == total && st.tx_discarded == 0);

	done_dev(&h, vdev);
	free(data);
	free(got);
	close(out[0]);
	close(out[1]);
	close(in[0]);
	close(in[1]);
}

static void test_tx_broken_sink(void)
{
	static const char *const a[] = { "lost ", "output" };
	struct virtio_console_stats st;
	struct vq_harness h;
	struct virtio_dev *vdev;
	uint32_t id, len;
	int p[2];

	CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
	close(p[0]);
	vdev = make_dev(&h, p[1], -1);
	for (int i = 0; i < 3; i++)
		tx_post(&h, a, 2, false);
	CHECK(vqh_kick_and_wait(&h, vdev, TXQ) == 0);
	for (int i = 0; i < 3; i++) {
		CHECK(vqh_pop_used(&h, TXQ, &id, &len) == 1);
		CHECK(len == 0);
	}
	CHECK(!needs_reset(vdev));
	virtio_console_get_stats(vdev, &st);
	CHECK(st.tx_bytes == 0 && st.tx_discarded == 3 * strlen("lost output"));
	/* an emergency write to a failed sink is discarded too */
	virtio_dev_config_write(vdev, VIRTIO_CONSOLE_CFG_EMERG_WR, (const uint8_t *)"x", 1);
	done_dev(&h, vdev);
	close(p[1]);

	/* no sink at all: output is discarded, chains come back */
	vdev = make_dev(&h, -1, -1);
	tx_post(&h, a, 2, true);
	CHECK(vqh_kick_and_wait(&h, vdev, TXQ) == 0);
	CHECK(vqh_pop_used(&h, TXQ, &id, &len) == 1);
	done_dev(&h, vdev);
}

/* ---- input ---- */

static void test_rx_pipe(bool nonblocking)
{
	struct virtio_console_stats st;
	struct vq_harness h;
	struct virtio_dev *vdev;
	char input[100];
	uint64_t gpa[4];
	uint16_t heads[4];
	uint32_t id, len;
	int p[2];

	for (size_t i = 0; i < sizeof(input); i++)
		input[i] = (char)('A' + i % 26);
	CHECK(pipe2(p, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0)) == 0);
	vdev = make_dev(&h, -1, p[0]);

	/* data with no buffers posted waits in the pipe */
	CHECK(write(p[1], input, sizeof(input)) == (ssize_t)sizeof(input));
	sleep_ms(20);
	CHECK(vqh_pop_used(&h, RXQ, &id, &len) == 0);

	/* buffers + kick: it arrives, in order, split over the buffers */
	for (int i = 0; i < 4; i++)
		heads[i] = rx_post(&h, 30, &gpa[i]);
	CHECK(vqh_kick_and_wait(&h, vdev, RXQ) == 0);
	for (int i = 0; i < 4; i++) {
		uint32_t want = i < 3 ? 30 : 10;

		CHECK(wait_used(&h, RXQ, &id, &len) == 1);
		CHECK(id == heads[i] && len == want);
		CHECK(memcmp(vqh_ptr(&h, gpa[i]), input + 30 * i, want) == 0);
	}
	/* the last buffer was only partly used: later input goes to a new buffer */
	heads[0] = rx_post(&h, 8, &gpa[0]);
	CHECK(vqh_kick_and_wait(&h, vdev, RXQ) == 0);
	CHECK(vqh_pop_used(&h, RXQ, &id, &len) == 0); /* held: nothing to read */
	CHECK(write(p[1], "late", 4) == 4);
	CHECK(wait_used(&h, RXQ, &id, &len) == 1);
	CHECK(id == heads[0] && len == 4 && memcmp(vqh_ptr(&h, gpa[0]), "late", 4) == 0);

	/* EOF: input stops, the device keeps running, buffers stay with the device */
	close(p[1]);
	heads[1] = rx_post(&h, 8, &gpa[1]);
	CHECK(vqh_kick_and_wait(&h, vdev, RXQ) == 0);
	sleep_ms(20);
	CHECK(vqh_pop_used(&h, RXQ, &id, &len) == 0);
	CHECK(!needs_reset(vdev));
	virtio_console_get_stats(vdev, &st);
	CHECK(st.rx_bytes == sizeof(input) + 4);

	/* a device reset re-arms input (here: EOF again at once) */
	virtio_dev_reset(vdev);
	vqh_reset_queue(&h, RXQ);
	vqh_reset_queue(&h, TXQ);
	CHECK(vqh_activate_device(&h, vdev) == 0);
	done_dev(&h, vdev);
	close(p[0]);
}

static void test_rx_file(void)
{
	char path[] = "/tmp/console-test-XXXXXX";
	const char *text = "from a file\n";
	struct vq_harness h;
	struct virtio_dev *vdev;
	uint64_t gpa[3];
	uint32_t id, len;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	unlink(path);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	vdev = make_dev(&h, -1, fd);
	rx_post(&h, 5, &gpa[0]);
	rx_post(&h, 64, &gpa[1]);
	rx_post(&h, 64, &gpa[2]);
	CHECK(vqh_kick_and_wait(&h, vdev, RXQ) == 0);
	CHECK(wait_used(&h, RXQ, &id, &len) == 1 && len == 5);
	CHECK(memcmp(vqh_ptr(&h, gpa[0]), text, 5) == 0);
	CHECK(wait_used(&h, RXQ, &id, &len) == 1 && len == strlen(text) - 5);
	CHECK(memcmp(vqh_ptr(&h, gpa[1]), text + 5, len) == 0);
	CHECK(vqh_pop_used(&h, RXQ, &id, &len) == 0); /* EOF: the third stays */
	done_dev(&h, vdev);
	close(fd);

	/* /dev/null cannot be polled: read on demand, EOF at once */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	vdev = make_dev(&h, fd, fd);
	rx_post(&h, 8, &gpa[0]);
	CHECK(vqh_kick_and_wait(&h, vdev, RXQ) == 0);
	{
		static const char *const a[] = { "into the void" };

		tx_post(&h, a, 1, false);
		CHECK(vqh_kick_and_wait(&h, vdev, TXQ) == 0);
		CHECK(vqh_pop_used(&h, TXQ, &id, &len) == 1);
	}
	CHECK(vqh_pop_used(&h, RXQ, &id, &len) == 0);
	done_dev(&h, vdev);
	close(fd);
}

/* ---- a hostile driver ---- */

static void test_malformed(void)
{
	struct vq_harness h;
	struct virtio_dev *vdev;
	uint32_t id, len;
	int p[2];

	CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
	vdev = make_dev(&h, p[1], p[0]);

	/* a device-writable descriptor on transmitq */
	{
		struct vqh_buf b[2] = { { .len = 4, .data = "abcd" }, { .len = 4, .writable = true } };

		vqh_publish(&h, TXQ, vqh_add_chain(&h, TXQ, b, 2));
		CHECK(vqh_kick_and_wait(&h, vdev, TXQ) == 0);
		CHECK(needs_reset(vdev));
		CHECK(vqh_pop_used(&h, TXQ, &id, &len) == 0);
	}
	/* a device-readable descriptor on receiveq */
	virtio_dev_reset(vdev);
	vqh_reset_queue(&h, RXQ);
	vqh_reset_queue(&h, TXQ);
	CHECK(vqh_activate_device(&h, vdev) == 0);
	CHECK(!needs_reset(vdev));
	{
		struct vqh_buf b[1] = { { .len = 4 } };

		CHECK(write(p[1], "in", 2) == 2);
		vqh_publish(&h, RXQ, vqh_add_chain(&h, RXQ, b, 1));
		CHECK(vqh_kick_and_wait(&h, vdev, RXQ) == 0);
		CHECK(needs_reset(vdev));
	}
	/* a descriptor loop, an avail index far ahead, a buffer outside RAM */
	for (int kind = 0; kind < 3; kind++) {
		virtio_dev_reset(vdev);
		vqh_reset_queue(&h, RXQ);
		vqh_reset_queue(&h, TXQ);
		CHECK(vqh_activate_device(&h, vdev) == 0);
		if (kind == 0) {
			struct vqh_desc *d = vqh_desc(&h, TXQ, 0);

			d->addr = vqh_alloc(&h, 8);
			d->len = 8;
			d->flags = VIRTQ_DESC_F_NEXT;
			d->next = 0;
			vqh_publish(&h, TXQ, 0);
		} else if (kind == 1) {
			vqh_set_avail_idx(&h, TXQ, 1000);
		} else {
			struct vqh_buf b[1] = { { .gpa = RAM_SIZE - 2, .len = 100 } };

			vqh_publish(&h, TXQ, vqh_add_chain(&h, TXQ, b, 1));
		}
		CHECK(vqh_kick_and_wait(&h, vdev, TXQ) == 0);
		CHECK(needs_reset(vdev));
	}
	/* and it still works after a reset */
	virtio_dev_reset(vdev);
	vqh_reset_queue(&h, RXQ);
	vqh_reset_queue(&h, TXQ);
	CHECK(vqh_activate_device(&h, vdev) == 0);
	{
		static const char *const a[] = { "ok" };
		char got[2];

		/* drain input left by the earlier case */
		while (read(p[0], got, sizeof(got)) > 0)
			;
		tx_post(&h, a, 1, false);
		CHECK(vqh_kick_and_wait(&h, vdev, TXQ) == 0);
		CHECK(vqh_pop_used(&h, TXQ, &id, &len) == 1);
		read_exact(p[0], got, 2);
		CHECK(memcmp(got, "ok", 2) == 0);
	}
	done_dev(&h, vdev);
	close(p[0]);
	close(p[1]);
}

static void test_bad_fds(void)
{
	struct vq_harness h;
	struct virtio_dev *vdev = NULL;
	struct error err = { 0 };
	int fd;

	CHECK(vqh_init(&h, RAM_SIZE, 2, 16) == 0);
	CHECK(virtio_console_create(12345, -1, &h.mem, &vdev, &err) == -EBADF);
	printf("bad out fd: %s\n", err.msg);
	error_clear(&err);
	fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(virtio_console_create(-1, fd, &h.mem, &vdev, &err) == -EISDIR);
	printf("dir in fd: %s\n", err.msg);
	error_clear(&err);
	CHECK(virtio_console_create(fd, -1, &h.mem, &vdev, &err) == -EBADF);
	close(fd);
	CHECK(vdev == NULL);
	virtio_console_destroy(NULL);
	vqh_fini(&h);
}

/* ---- pty ---- */

static void test_pty(void)
{
	static const char *const a[] = { "to the ", "user\n" };
	struct vq_harness h;
	struct virtio_dev *vdev;
	char path[64], tiny[4], got[32] = { 0 };
	uint32_t id, len;
	uint64_t gpa;
	int master, slave;

	CHECK(virtio_console_open_pty(&master, tiny, sizeof(tiny)) == -ENAMETOOLONG);
	if (virtio_console_open_pty(&master, path, sizeof(path)) != 0) {
		printf("pty: skipped, no /dev/ptmx here\n");
		return;
	}
	printf("pty: %s\n", path);
	CHECK(fcntl(master, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(master, F_GETFD) & FD_CLOEXEC);
	slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	CHECK(slave >= 0);
	CHECK(write(slave, "ping\n", 5) == 5);
	read_exact(master, got, 5);
	CHECK(memcmp(got, "ping\n", 5) == 0); /* raw: no \r\n translation */

	/* the master as both ends of a console */
	vdev = make_dev(&h, master, master);
	tx_post(&h, a, 2, false);
	CHECK(vqh_kick_and_wait(&h, vdev, TXQ) == 0);
	CHECK(vqh_pop_used(&h, TXQ, &id, &len) == 1);
	memset(got, 0, sizeof(got));
	read_exact(slave, got, strlen("to the user\n"));
	CHECK(strcmp(got, "to the user\n") == 0);
	rx_post(&h, 16, &gpa);
	CHECK(vqh_kick_and_wait(&h, vdev, RXQ) == 0);
	CHECK(write(slave, "typed", 5) == 5);
	CHECK(wait_used(&h, RXQ, &id, &len) == 1);
	CHECK(len == 5 && memcmp(vqh_ptr(&h, gpa), "typed", 5) == 0);

	/* the user detaches: the master hangs up; the worker must not spin on it */
	close(slave);
	rx_post(&h, 16, &gpa);
	CHECK(vqh_kick_and_wait(&h, vdev, RXQ) == 0);
	for (int i = 0; i < 64; i++)
		tx_post(&h, a, 2, false);
	kick(vdev, TXQ);
	{
		double before = cpu_seconds();

		sleep_ms(4 * VIRTIO_CONSOLE_HUP_RETRY_MS);
		CHECK(cpu_seconds() - before < 0.2);
	}
	CHECK(!needs_reset(vdev));
	done_dev(&h, vdev);
	close(master);
}

int main(void)
{
	/* A worker blocked on a full sink must fail the test, not hang it. */
	alarm(60);
	signal(SIGPIPE, SIG_IGN); /* as the VMM does */

	test_config();
	test_tx_pipe(false);
	test_tx_pipe(true);
	test_tx_backpressure(true);
	if (nowait_works_on_pipes())
		test_tx_backpressure(false);
	else
		printf("backpressure on a blocking pipe: skipped, no RWF_NOWAIT for pipes\n");
	test_tx_broken_sink();
	test_rx_pipe(true);
	test_rx_pipe(false);
	test_rx_file();
	test_malformed();
	test_bad_fds();
	test_pty();
	printf("console-test: ok\n");
	return 0;
}
