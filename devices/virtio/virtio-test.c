/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device layer tests: feature negotiation, the status state machine, reset,
 * DEVICE_NEEDS_RESET, config space bounds, the worker thread, and an echo
 * device driven end to end through the harness.
 */
#include "vq-harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "devices/virtio.h"
#include "common/test.h"


#define QSIZE 8
#define TEST_FEATURE_A 0
#define TEST_FEATURE_B 5

/* An echo device: copies each request's readable bytes into its writable part. */
struct echo_dev {
	struct virtio_dev vdev;
	struct virtio_worker worker;
	uint8_t config[8];
	int activate_calls, reset_calls, config_writes;
	int activate_result;
	unsigned int requests;
};

static uint64_t echo_features(struct virtio_dev *vdev)
{
	/* packed rings must be filtered out by the layer */
	return VIRTIO_BIT(TEST_FEATURE_A) | VIRTIO_BIT(TEST_FEATURE_B) |
	       VIRTIO_BIT(VIRTIO_F_RING_PACKED);
}

static void echo_config_read(struct virtio_dev *vdev, uint32_t offset, uint8_t *data,
			     uint32_t size)
{
	struct echo_dev *e = container_of(vdev, struct echo_dev, vdev);

	memcpy(data, e->config + offset, size);
}

static void echo_config_write(struct virtio_dev *vdev, uint32_t offset, const uint8_t *data,
			      uint32_t size)
{
	struct echo_dev *e = container_of(vdev, struct echo_dev, vdev);

	memcpy(e->config + offset, data, size);
	e->config_writes++;
}

static void echo_kick(void *opaque, uint32_t events)
{
	struct echo_dev *e = opaque;
	struct virtqueue *vq = &e->vdev.queues[0];
	static struct virtq_chain chain; /* one worker thread */
	int r;

	virtio_eventfd_drain(e->vdev.kick_fds[0]);
	do {
		virtq_disable_notify(vq);
		while ((r = virtq_pop(vq, &chain)) == 1) {
			uint8_t buf[256];
			size_t n = virtq_chain_read(&chain, 0, buf, sizeof(buf));

			n = virtq_chain_write(&chain, 0, buf, n);
			e->requests++;
			if (virtq_push(vq, chain.head, (uint32_t)n) < 0)
				r = -EIO;
			else
				(void)virtio_dev_notify_queue(&e->vdev, 0);
		}
		if (r < 0) {
			virtio_dev_set_needs_reset(&e->vdev, "queue 0 broken");
			return;
		}
	} while (virtq_enable_notify(vq));
}

static int echo_activate(struct virtio_dev *vdev)
{
	struct echo_dev *e = container_of(vdev, struct echo_dev, vdev);
	int r;

	e->activate_calls++;
	if (e->activate_result < 0)
		return e->activate_result;
	r = virtio_worker_add(&e->worker, vdev->kick_fds[0], 0, echo_kick, e);
	if (r < 0)
		return r;
	return virtio_worker_start(&e->worker);
}

static void echo_reset(struct virtio_dev *vdev)
{
	struct echo_dev *e = container_of(vdev, struct echo_dev, vdev);

	e->reset_calls++;
	virtio_worker_stop(&e->worker);
	/* -ENOENT when activate failed before adding it: nothing to undo */
	if (virtio_worker_del(&e->worker, vdev->kick_fds[0]) < 0)
		return;
}

static const struct virtio_device_ops echo_ops = {
	.features = echo_features,
	.config_read = echo_config_read,
	.config_write = echo_config_write,
	.activate = echo_activate,
	.reset = echo_reset,
};

static struct echo_dev *echo_new(void)
{
	struct echo_dev *e = calloc(1, sizeof(*e));

	if (!e || virtio_dev_init(&e->vdev, &echo_ops, "echo0", 42, 2, QSIZE,
				  sizeof(e->config)) < 0 ||
	    virtio_worker_init(&e->worker, "echo0-worker") < 0) {
		fprintf(stderr, "echo device setup failed\n");
		exit(1);
	}
	for (unsigned int i = 0; i < sizeof(e->config); i++)
		e->config[i] = (uint8_t)(0x10 + i);
	return e;
}

static void echo_free(struct echo_dev *e)
{
	virtio_dev_fini(&e->vdev); /* resets (stops the worker) if active */
	virtio_worker_fini(&e->worker);
	free(e);
}

static uint8_t status(struct echo_dev *e)
{
	return __atomic_load_n(&e->vdev.status, __ATOMIC_ACQUIRE);
}

static void test_init(void)
{
	struct virtio_dev vdev;
	struct echo_dev *e = echo_new();
	uint64_t f = virtio_dev_offered_features(&e->vdev);

	CHECK_EQ(virtio_dev_init(&vdev, &echo_ops, "x", 1, 0, QSIZE, 0), -EINVAL);
	CHECK_EQ(virtio_dev_init(&vdev, &echo_ops, "x", 1, VIRTIO_MAX_QUEUES + 1, QSIZE, 0),
		 -EINVAL);
	CHECK_EQ(virtio_dev_init(&vdev, &echo_ops, "x", 1, 1, 12, 0), -EINVAL);
	virtio_dev_fini(&vdev); /* failed init: harmless */
	virtio_dev_fini(NULL);

	CHECK(f & VIRTIO_BIT(VIRTIO_F_VERSION_1));
	CHECK(f & VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX));
	CHECK(f & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
	CHECK(f & VIRTIO_BIT(TEST_FEATURE_A));
	CHECK(!(f & VIRTIO_BIT(VIRTIO_F_RING_PACKED)));
	CHECK_EQ(e->vdev.device_features, f);
	CHECK(e->vdev.kick_fds[0] >= 0 && e->vdev.kick_fds[1] >= 0);
	CHECK_EQ(e->vdev.kick_fds[2], -1);
	CHECK_EQ(e->vdev.queues[1].size, QSIZE);
	CHECK_EQ(e->vdev.queues[1].index, 1);
	CHECK_EQ(e->vdev.queues[1].msix_vector, VIRTIO_MSI_NO_VECTOR);
	echo_free(e);
}

static void negotiate(struct echo_dev *e, uint64_t features)
{
	virtio_dev_set_status(&e->vdev, 0);
	virtio_dev_set_status(&e->vdev, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_dev_set_status(&e->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	e->vdev.driver_features = features;
	virtio_dev_set_status(&e->vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
						VIRTIO_STATUS_FEATURES_OK);
}

static void test_negotiation(void)
{
	struct echo_dev *e = echo_new();
	uint64_t offered = virtio_dev_offered_features(&e->vdev);

	negotiate(e, offered | VIRTIO_BIT(40)); /* never offered */
	CHECK(!(status(e) & VIRTIO_STATUS_FEATURES_OK));
	negotiate(e, offered | VIRTIO_BIT(VIRTIO_F_RING_PACKED));
	CHECK(!(status(e) & VIRTIO_STATUS_FEATURES_OK));
	negotiate(e, offered & ~VIRTIO_BIT(VIRTIO_F_VERSION_1)); /* legacy driver */
	CHECK(!(status(e) & VIRTIO_STATUS_FEATURES_OK));
	negotiate(e, VIRTIO_BIT(VIRTIO_F_VERSION_1)); /* a subset is fine */
	CHECK(status(e) & VIRTIO_STATUS_FEATURES_OK);
	negotiate(e, offered);
	CHECK_EQ(status(e), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				    VIRTIO_STATUS_FEATURES_OK);
	CHECK(virtio_dev_has_feature(&e->vdev, TEST_FEATURE_B));
	echo_free(e);
}

static void test_status(void)
{
	struct echo_dev *e = echo_new();
	struct vq_harness h;
	uint8_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	CHECK_EQ(vqh_init(&h, 1 * MiB, 2, QSIZE), 0);
	e->vdev.mem = &h.mem;
	e->vdev.transport = &vqh_transport_ops;
	e->vdev.transport_data = &h;

	/* DRIVER_OK before FEATURES_OK: refused, nothing activated */
	virtio_dev_set_status(&e->vdev, s);
	virtio_dev_set_status(&e->vdev, s | VIRTIO_STATUS_DRIVER_OK);
	CHECK(!(status(e) & VIRTIO_STATUS_DRIVER_OK));
	CHECK_EQ(e->activate_calls, 0);
	/* bits are only added: writing fewer does not clear them */
	virtio_dev_set_status(&e->vdev, VIRTIO_STATUS_ACKNOWLEDGE);
	CHECK_EQ(status(e), s);
	/* the driver cannot set NEEDS_RESET itself */
	virtio_dev_set_status(&e->vdev, s | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK_EQ(status(e), s);

	/* proper activation */
	CHECK_EQ(vqh_activate_device(&h, &e->vdev), 0);
	CHECK_EQ(e->activate_calls, 1);
	CHECK(e->vdev.activated);
	CHECK(e->vdev.queues[0].mem == &h.mem);
	CHECK(e->vdev.queues[0].event_idx);
	CHECK(e->vdev.queues[0].indirect);
	/* DRIVER_OK again does not activate twice; FEATURES_OK cannot change now */
	virtio_dev_set_status(&e->vdev, status(e));
	CHECK_EQ(e->activate_calls, 1);

	/* reset: ops->reset, queues and negotiation back to initial state */
	e->vdev.queues[0].last_avail_idx = 3;
	virtio_dev_set_status(&e->vdev, 0);
	CHECK_EQ(e->reset_calls, 1);
	CHECK_EQ(status(e), 0);
	CHECK(!e->vdev.activated);
	CHECK_EQ(e->vdev.driver_features, 0);
	CHECK(!e->vdev.queues[0].ready);
	CHECK_EQ(e->vdev.queues[0].last_avail_idx, 0);
	CHECK_EQ(e->vdev.queues[0].size, QSIZE);
	CHECK(e->vdev.queues[0].mem == NULL);
	virtio_dev_reset(&e->vdev); /* not active: ops->reset not called again */
	CHECK_EQ(e->reset_calls, 1);

	/* a bad queue layout at DRIVER_OK: NEEDS_RESET + config interrupt, no activate */
	negotiate(e, virtio_dev_offered_features(&e->vdev));
	vqh_setup_queue(&h, 0, &e->vdev.queues[0]);
	e->vdev.queues[0].used_gpa = h.ram_size - 4;
	virtio_dev_set_status(&e->vdev, status(e) | VIRTIO_STATUS_DRIVER_OK);
	CHECK(status(e) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK_EQ(h.config_signals, 1);
	CHECK_EQ(e->activate_calls, 1);
	CHECK(!e->vdev.activated);

	/* queue size above the device maximum */
	negotiate(e, virtio_dev_offered_features(&e->vdev));
	vqh_setup_queue(&h, 0, &e->vdev.queues[0]);
	e->vdev.queues[0].size = QSIZE * 2;
	virtio_dev_set_status(&e->vdev, status(e) | VIRTIO_STATUS_DRIVER_OK);
	CHECK(status(e) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK(!e->vdev.activated);

	/* features rewritten behind FEATURES_OK's back */
	negotiate(e, virtio_dev_offered_features(&e->vdev));
	vqh_setup_queue(&h, 0, &e->vdev.queues[0]);
	e->vdev.driver_features |= VIRTIO_BIT(40);
	virtio_dev_set_status(&e->vdev, status(e) | VIRTIO_STATUS_DRIVER_OK);
	CHECK(status(e) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK(!e->vdev.activated);

	/* activate() failing */
	e->activate_result = -ENOMEM;
	CHECK(vqh_activate_device(&h, &e->vdev) < 0);
	CHECK(status(e) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK(!e->vdev.activated);
	e->activate_result = 0;

	virtio_dev_reset(&e->vdev);
	echo_free(e);
	vqh_fini(&h);
}

static void test_needs_reset_and_config(void)
{
	struct echo_dev *e = echo_new();
	struct vq_harness h;
	uint8_t buf[8];

	CHECK_EQ(vqh_init(&h, 1 * MiB, 2, QSIZE), 0);
	e->vdev.transport = &vqh_transport_ops;
	e->vdev.transport_data = &h;

	virtio_dev_set_needs_reset(&e->vdev, "test");
	virtio_dev_set_needs_reset(&e->vdev, "test again"); /* once */
	CHECK(status(e) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK_EQ(h.config_signals, 1);
	virtio_dev_set_status(&e->vdev, 0);
	CHECK_EQ(status(e), 0);
	virtio_dev_set_needs_reset(&e->vdev, "after reset");
	CHECK_EQ(h.config_signals, 2);

	virtio_dev_config_read(&e->vdev, 2, buf, 4);
	CHECK(buf[0] == 0x12 && buf[3] == 0x15);
	memset(buf, 0xee, sizeof(buf));
	virtio_dev_config_read(&e->vdev, 6, buf, 4); /* straddles the end */
	CHECK(buf[0] == 0 && buf[3] == 0 && buf[4] == 0xee);
	memset(buf, 0xee, sizeof(buf));
	virtio_dev_config_read(&e->vdev, UINT32_MAX - 1, buf, 4); /* wraps 32 bits */
	CHECK(buf[0] == 0 && buf[3] == 0);
	virtio_dev_config_read(&e->vdev, 0, buf, 8);
	CHECK(buf[7] == 0x17);

	virtio_dev_config_write(&e->vdev, 7, (const uint8_t *)"ab", 2);
	virtio_dev_config_write(&e->vdev, UINT32_MAX, (const uint8_t *)"ab", 2);
	CHECK_EQ(e->config_writes, 0);
	CHECK_EQ(e->config[7], 0x17);
	virtio_dev_config_write(&e->vdev, 6, (const uint8_t *)"ab", 2);
	CHECK_EQ(e->config_writes, 1);
	CHECK_EQ(e->config[7], 'b');

	CHECK_EQ(virtio_dev_notify_queue(&e->vdev, 2), -EINVAL);
	echo_free(e);
	vqh_fini(&h);
}

/* Worker ---------------------------------------------------------------- */

struct counter {
	int fd;
	struct virtio_worker *w;
	unsigned int calls;
	bool del_self;
};

static void count_cb(void *opaque, uint32_t events)
{
	struct counter *c = opaque;

	virtio_eventfd_drain(c->fd);
	__atomic_fetch_add(&c->calls, 1, __ATOMIC_RELEASE);
	/* from inside a callback: must not free the record under the worker */
	if (c->del_self && virtio_worker_del(c->w, c->fd) < 0)
		fprintf(stderr, "worker del from a callback failed\n");
}

static bool wait_calls(struct counter *c, unsigned int n)
{
	const struct timespec ms = { .tv_nsec = 1000000 };

	for (unsigned int i = 0; i < 2000; i++) {
		if (__atomic_load_n(&c->calls, __ATOMIC_ACQUIRE) >= n)
			return true;
		nanosleep(&ms, NULL);
	}
	return false;
}

static void kick(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		fprintf(stderr, "eventfd write failed\n");
}

static void test_worker(void)
{
	struct virtio_worker w;
	struct counter a = { .w = &w }, b = { .w = &w, .del_self = true };
	const struct timespec settle = { .tv_nsec = 20000000 };

	a.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	b.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK_EQ(virtio_worker_init(&w, "test-worker"), 0);
	CHECK_EQ(virtio_worker_add(&w, a.fd, 0, count_cb, &a), 0);
	CHECK_EQ(virtio_worker_add(&w, a.fd, 0, count_cb, &a), -EEXIST);
	CHECK_EQ(virtio_worker_add(&w, -1, 0, count_cb, &a), -EINVAL);
	CHECK_EQ(virtio_worker_add(&w, b.fd, 0, count_cb, &b), 0);
	CHECK_EQ(virtio_worker_start(&w), 0);
	CHECK_EQ(virtio_worker_start(&w), -EALREADY);

	kick(a.fd);
	CHECK(wait_calls(&a, 1));
	kick(a.fd);
	CHECK(wait_calls(&a, 2));
	kick(b.fd);
	CHECK(wait_calls(&b, 1));
	kick(b.fd); /* deleted itself: no more calls */
	nanosleep(&settle, NULL);
	CHECK_EQ(b.calls, 1);
	CHECK_EQ(virtio_worker_del(&w, b.fd), -ENOENT);

	/* mod redirects the callback (b is idle: its fd was deleted) */
	CHECK_EQ(virtio_worker_mod(&w, b.fd, 0, count_cb, &b), -ENOENT);
	close(b.fd);
	b.fd = a.fd;
	b.del_self = false;
	CHECK_EQ(virtio_worker_mod(&w, a.fd, 0, count_cb, &b), 0);
	kick(a.fd);
	CHECK(wait_calls(&b, 2));

	/* stop keeps registrations; a kick while stopped is seen after restart */
	virtio_worker_stop(&w);
	virtio_worker_stop(&w); /* idempotent */
	kick(a.fd);
	nanosleep(&settle, NULL);
	CHECK_EQ(b.calls, 2);
	CHECK_EQ(virtio_worker_start(&w), 0);
	CHECK(wait_calls(&b, 3));
	CHECK_EQ(virtio_worker_del(&w, a.fd), 0);
	virtio_worker_fini(&w);
	close(a.fd);
}

/* End to end: the echo device on its worker, through the harness ------- */

static void test_echo_device(void)
{
	struct echo_dev *e = echo_new();
	struct vq_harness h;
	char msg[] = "ping through the ring";
	uint32_t id, len;

	CHECK_EQ(vqh_init(&h, 1 * MiB, 2, QSIZE), 0);
	CHECK_EQ(vqh_activate_device(&h, &e->vdev), 0);

	for (unsigned int round = 0; round < 3 * QSIZE; round++) {
		struct vqh_buf bufs[2] = {
			{ .len = sizeof(msg), .data = msg },
			{ .len = 64, .writable = true },
		};
		uint16_t head = round % 2 ? vqh_add_indirect(&h, 0, bufs, 2)
					  : vqh_add_chain(&h, 0, bufs, 2);

		h.data_next = 1 * MiB / 2; /* reuse the data area each round */
		vqh_publish(&h, 0, head);
		CHECK_EQ(vqh_kick_and_wait(&h, &e->vdev, 0), 0);
		CHECK_EQ(vqh_pop_used(&h, 0, &id, &len), 1);
		CHECK_EQ(id, head);
		CHECK_EQ(len, sizeof(msg));
		CHECK(memcmp(vqh_ptr(&h, bufs[1].gpa), msg, sizeof(msg)) == 0);
	}
	CHECK_EQ(e->requests, 3 * QSIZE);
	CHECK(__atomic_load_n(&h.queue_signals[0], __ATOMIC_ACQUIRE) >= 1);
	CHECK_EQ(__atomic_load_n(&h.config_signals, __ATOMIC_ACQUIRE), 0);

	/* a hostile ring: the device goes NEEDS_RESET, the worker survives */
	vqh_set_avail_idx(&h, 0, (uint16_t)(h.q[0].avail_idx + QSIZE + 1));
	CHECK_EQ(vqh_kick_and_wait(&h, &e->vdev, 0), 0);
	CHECK(status(e) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	CHECK_EQ(__atomic_load_n(&h.config_signals, __ATOMIC_ACQUIRE), 1);

	/* the driver resets and starts over: works again */
	virtio_dev_set_status(&e->vdev, 0);
	CHECK_EQ(e->reset_calls, 1);
	vqh_reset_queue(&h, 0);
	vqh_reset_queue(&h, 1);
	CHECK_EQ(vqh_activate_device(&h, &e->vdev), 0);
	struct vqh_buf again[2] = { { .len = 4, .data = "pong" }, { .len = 4, .writable = true } };

	vqh_publish(&h, 0, vqh_add_chain(&h, 0, again, 2));
	CHECK_EQ(vqh_kick_and_wait(&h, &e->vdev, 0), 0);
	CHECK_EQ(vqh_pop_used(&h, 0, &id, &len), 1);
	CHECK_EQ(len, 4);
	CHECK(memcmp(vqh_ptr(&h, again[1].gpa), "pong", 4) == 0);

	virtio_dev_fini(&e->vdev); /* fini resets the active device: worker stopped */
	CHECK_EQ(e->reset_calls, 2);
	echo_free(e);
	vqh_fini(&h);
}

int main(void)
{
	log_set_level(LOG_LEVEL_ERROR); /* NEEDS_RESET warnings are expected */

	test_init();
	test_negotiation();
	test_status();
	test_needs_reset_and_config();
	test_worker();
	test_echo_device();

	printf("virtio-test: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
