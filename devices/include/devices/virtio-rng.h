/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-rng (virtio 1.x 5.4): one queue, "requestq", of device-writable
 * buffers the device fills from a host entropy source. No device features,
 * no config space.
 *
 * Each request is answered with at most VIRTIO_RNG_MAX_REQUEST bytes (the
 * used length is the number of bytes written) so that one guest request
 * cannot make the worker read an unbounded amount. When the source is a
 * regular file that runs out (EOF), requests are answered with what the file
 * still had, possibly 0 bytes: Linux's hwrng core treats 0 as "no data" and
 * backs off, it does not spin. When the source would block (EAGAIN, e.g.
 * /dev/random on old kernels), the request is held and the worker waits for
 * the source to become readable. A source read error is logged once and the
 * request is answered with 0 bytes.
 *
 * A request containing a device-readable descriptor breaks the protocol: the
 * device sets DEVICE_NEEDS_RESET.
 */
#pragma once

#include <stdint.h>

#include "common/error.h"
#include "common/guest-mem.h"
#include "common/macros.h"
#include "devices/virtio.h"

#define VIRTIO_RNG_DEFAULT_SOURCE "/dev/urandom"
#define VIRTIO_RNG_MAX_REQUEST (64 * 1024) /* bytes answered per request */
#define VIRTIO_RNG_QUEUE_SIZE 256

/*
 * Create a virtio-rng device reading from `src` (NULL = /dev/urandom), which
 * must be a regular file or a character device; the device opens and owns it
 * (O_RDONLY|O_CLOEXEC|O_NONBLOCK). Errors are described in `err` as
 * "--rng src=PATH: ...". The device is freed with vdev->ops->destroy() (after
 * reset), e.g. through virtio_rng_destroy().
 */
int virtio_rng_create(const char *src, const struct guest_mem *mem, struct virtio_dev **ret,
		      struct error *err) _wur_;
/* Reset (stops the worker) and free; accepts NULL. */
void virtio_rng_destroy(struct virtio_dev *vdev);
/* Entropy bytes handed to the guest so far. */
uint64_t virtio_rng_bytes_served(const struct virtio_dev *vdev);
