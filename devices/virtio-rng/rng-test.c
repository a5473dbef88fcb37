/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-rng without a VM: fake guest memory, hand-built request chains,
 * the device's real worker thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio-rng.h"
#include "vq-harness.h"

#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                \
			exit(1);                                                       \
		}                                                                      \
	} while (0)

#define RAM_SIZE (4 * MiB)

static bool needs_reset(struct virtio_dev *vdev)
{
	return __atomic_load_n(&vdev->status, __ATOMIC_ACQUIRE) & VIRTIO_STATUS_DEVICE_NEEDS_RESET;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static struct virtio_dev *make_dev(struct vq_harness *h, const char *src)
{
	struct virtio_dev *vdev = NULL;
	struct error err = { 0 };

	CHECK(vqh_init(h, RAM_SIZE, 1, VIRTIO_RNG_QUEUE_SIZE) == 0);
	CHECK(virtio_rng_create(src, &h->mem, &vdev, &err) == 0);
	CHECK(vdev->device_type == VIRTIO_ID_RNG && vdev->nr_queues == 1);
	CHECK(vqh_activate_device(h, vdev) == 0);
	return vdev;
}

/* Post one chain, kick, and expect it back with `want` bytes. */
static void request(struct vq_harness *h, struct virtio_dev *vdev, struct vqh_buf *bufs,
		    unsigned int n, bool indirect, uint32_t want)
{
	uint16_t head = indirect ? vqh_add_indirect(h, 0, bufs, n) : vqh_add_chain(h, 0, bufs, n);
	uint32_t id, len;

	vqh_publish(h, 0, head);
	CHECK(vqh_kick_and_wait(h, vdev, 0) == 0);
	CHECK(!needs_reset(vdev));
	CHECK(vqh_pop_used(h, 0, &id, &len) == 1);
	CHECK(id == head);
	CHECK(len == want);
}

static void test_urandom(void)
{
	struct vq_harness h;
	struct virtio_dev *vdev = make_dev(&h, NULL);
	struct vqh_buf one[1] = { { .len = 4096, .writable = true } };
	struct vqh_buf three[3] = { { .len = 100, .writable = true },
				    { .len = 200, .writable = true },
				    { .len = 300, .writable = true } };
	struct vqh_buf ind[2] = { { .len = 512, .writable = true }, { .len = 512, .writable = true } };
	struct vqh_buf big[2] = { { .len = VIRTIO_RNG_MAX_REQUEST, .writable = true },
				  { .len = 16384, .writable = true } };
	struct vqh_buf empty[1] = { { .len = 0, .writable = true } };

	CHECK(vdev->device_features == virtio_dev_offered_features(vdev));
	request(&h, vdev, one, 1, false, 4096);
	CHECK(!all_zero(vqh_ptr(&h, one[0].gpa), 4096));

	request(&h, vdev, three, 3, false, 600);
	for (unsigned int i = 0; i < 3; i++)
		CHECK(!all_zero(vqh_ptr(&h, three[i].gpa), three[i].len));

	request(&h, vdev, ind, 2, true, 1024);
	CHECK(!all_zero(vqh_ptr(&h, ind[1].gpa), 512));

	/* bounded: a request larger than the limit gets the limit */
	request(&h, vdev, big, 2, false, VIRTIO_RNG_MAX_REQUEST);
	CHECK(all_zero(vqh_ptr(&h, big[1].gpa), 16384));

	request(&h, vdev, empty, 1, false, 0);

	CHECK(virtio_rng_bytes_served(vdev) == 4096 + 600 + 1024 + VIRTIO_RNG_MAX_REQUEST);
	CHECK(h.queue_signals[0] > 0);
	virtio_rng_destroy(vdev);
	vqh_fini(&h);
}

static void test_many_requests(void)
{
	struct vq_harness h;
	struct virtio_dev *vdev = make_dev(&h, NULL);
	unsigned int n = 200; /* more than one worker batch */
	uint32_t id, len;

	for (unsigned int i = 0; i < n; i++) {
		struct vqh_buf b[1] = { { .len = 64, .writable = true } };

		vqh_publish(&h, 0, vqh_add_chain(&h, 0, b, 1));
	}
	CHECK(vqh_kick_and_wait(&h, vdev, 0) == 0);
	for (unsigned int i = 0; i < n; i++) {
		CHECK(vqh_pop_used(&h, 0, &id, &len) == 1);
		CHECK(len == 64);
	}
	CHECK(vqh_pop_used(&h, 0, &id, &len) == 0);
	virtio_rng_destroy(vdev);
	vqh_fini(&h);
}

static void test_file_source(void)
{
	char path[] = "/tmp/rng-test-XXXXXX";
	uint8_t content[1000];
	struct vq_harness h;
	struct virtio_dev *vdev;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	for (size_t i = 0; i < sizeof(content); i++)
		content[i] = (uint8_t)(i * 7 + 1);
	CHECK(write(fd, content, sizeof(content)) == (ssize_t)sizeof(content));
	close(fd);

	vdev = make_dev(&h, path);
	{
		struct vqh_buf b[2] = { { .len = 250, .writable = true },
					{ .len = 350, .writable = true } };

		request(&h, vdev, b, 2, false, 600);
		CHECK(memcmp(vqh_ptr(&h, b[0].gpa), content, 250) == 0);
		CHECK(memcmp(vqh_ptr(&h, b[1].gpa), content + 250, 350) == 0);
	}
	{
		/* only 400 bytes left: a short answer */
		struct vqh_buf b[1] = { { .len = 600, .writable = true } };

		request(&h, vdev, b, 1, true, 400);
		CHECK(memcmp(vqh_ptr(&h, b[0].gpa), content + 600, 400) == 0);
	}
	{
		/* EOF: answered with no data, the device keeps going */
		struct vqh_buf b[1] = { { .len = 64, .writable = true } };

		request(&h, vdev, b, 1, false, 0);
	}
	CHECK(virtio_rng_bytes_served(vdev) == 1000);
	virtio_rng_destroy(vdev);
	vqh_fini(&h);
	unlink(path);
}

static void test_readable_descriptor(void)
{
	struct vq_harness h;
	struct virtio_dev *vdev = make_dev(&h, NULL);
	struct vqh_buf b[2] = { { .len = 16, .writable = false }, { .len = 16, .writable = true } };
	struct vqh_buf ok[1] = { { .len = 32, .writable = true } };
	unsigned int cfg_signals = h.config_signals;

	vqh_publish(&h, 0, vqh_add_chain(&h, 0, b, 2));
	CHECK(vqh_kick_and_wait(&h, vdev, 0) == 0);
	CHECK(needs_reset(vdev));
	CHECK(h.config_signals == cfg_signals + 1);
	CHECK(vqh_pop_used(&h, 0, NULL, NULL) == 0);

	/* the driver resets and starts again: the device works again */
	vqh_reset_queue(&h, 0);
	CHECK(vqh_activate_device(&h, vdev) == 0);
	CHECK(!needs_reset(vdev));
	request(&h, vdev, ok, 1, false, 32);
	CHECK(!all_zero(vqh_ptr(&h, ok[0].gpa), 32));

	/* a descriptor pointing outside guest RAM */
	{
		struct vqh_buf bad[1] = { { .gpa = RAM_SIZE - 8, .len = 64, .writable = true } };

		vqh_publish(&h, 0, vqh_add_chain(&h, 0, bad, 1));
		CHECK(vqh_kick_and_wait(&h, vdev, 0) == 0);
		CHECK(needs_reset(vdev));
	}
	virtio_rng_destroy(vdev);
	vqh_fini(&h);
}

static void test_reset_reactivate(void)
{
	struct vq_harness h;
	struct virtio_dev *vdev = make_dev(&h, NULL);

	for (int round = 0; round < 5; round++) {
		struct vqh_buf b[1] = { { .len = 128, .writable = true } };

		request(&h, vdev, b, 1, false, 128);
		virtio_dev_reset(vdev);
		CHECK(vdev->status == 0 && !vdev->activated);
		vqh_reset_queue(&h, 0);
		CHECK(vqh_activate_device(&h, vdev) == 0);
	}
	virtio_rng_destroy(vdev);
	vqh_fini(&h);
}

static void test_bad_sources(void)
{
	struct vq_harness h;
	struct virtio_dev *vdev = NULL;
	struct error err = { 0 };
	char fifo[] = "/tmp/rng-test-fifo-XXXXXX";
	int fd;

	CHECK(vqh_init(&h, RAM_SIZE, 1, 16) == 0);
	CHECK(virtio_rng_create("/nonexistent/entropy", &h.mem, &vdev, &err) == -ENOENT);
	CHECK(vdev == NULL);
	CHECK(err.code == -ENOENT);
	CHECK(strstr(err.msg, "--rng src=/nonexistent/entropy") != NULL);
	printf("bad path: %s\n", err.msg);

	error_clear(&err);
	CHECK(virtio_rng_create("/tmp", &h.mem, &vdev, &err) < 0);
	CHECK(strstr(err.msg, "--rng src=/tmp") != NULL);
	printf("directory: %s\n", err.msg);

	fd = mkstemp(fifo);
	CHECK(fd >= 0);
	close(fd);
	unlink(fifo);
	CHECK(mkfifo(fifo, 0600) == 0);
	error_clear(&err);
	CHECK(virtio_rng_create(fifo, &h.mem, &vdev, &err) == -EINVAL);
	CHECK(strstr(err.msg, "not a regular file or character device") != NULL);
	unlink(fifo);

	error_clear(&err);
	CHECK(virtio_rng_create("", &h.mem, &vdev, &err) == -EINVAL);
	CHECK(vdev == NULL);
	virtio_rng_destroy(NULL);
	vqh_fini(&h);
}

int main(void)
{
	/* A hung worker must fail the test, not hang CI. */
	alarm(60);
	test_urandom();
	test_many_requests();
	test_file_source();
	test_readable_descriptor();
	test_reset_reactivate();
	test_bad_sources();
	printf("rng-test: ok\n");
	return 0;
}
