/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-fs (virtio 1.x 5.11, device type 26) served by an external
 * vhost-user back-end: Debian's QEMU 7.2 C virtiofsd.
 *
 * The back-end reads and writes the guest's virtqueues itself, in shared
 * guest memory: the guest's notifications (the queues' kick eventfds, bound
 * as ioeventfds by the VMM) go straight to virtiofsd, and virtiofsd's
 * completions arrive on call eventfds that the device's worker turns into
 * queue interrupts. The VMM never sees a FUSE request, so there is no
 * request counter, only call signals and back-end disconnects.
 *
 * Queues: 0 = hiprio (FORGET, interrupts), 1 = the one request queue (the
 * C virtiofsd exits if a second one is started). Config space (virtiofsd does
 * not serve it, we synthesize it): the tag, NUL padded to 36 bytes, and
 * num_request_queues = 1.
 *
 * Requirements: guest RAM must be fd-backed and mapped MAP_SHARED
 * (guest_mem_init(mem, true), "--memory shared=on"); the back-end must
 * already listen on the socket (virtiofsd accepts exactly one connection and
 * exits when it closes).
 *
 * Life cycle: virtio_fs_create() connects and does the vhost-user handshake
 * (a dead or wrong back-end fails here, before the guest runs); DRIVER_OK
 * (activate, on a vCPU thread) sends features, the memory table and starts
 * the queues the guest made ready; reset stops them (GET_VRING_BASE). If the
 * back-end goes away, the device logs one line, sets DEVICE_NEEDS_RESET and
 * stays dead (virtiofsd cannot be reconnected); the VMM keeps running and the
 * guest's file system I/O fails.
 */
#pragma once

#include <stdint.h>

#include "common/error.h"
#include "common/guest-mem.h"
#include "common/macros.h"
#include "devices/virtio.h"

#define VIRTIO_FS_TAG_MAX 36		   /* bytes in the config space tag field */
#define VIRTIO_FS_REQUEST_QUEUES 1	   /* what the C virtiofsd serves */
#define VIRTIO_FS_DEFAULT_QUEUE_SIZE 1024  /* cloud-hypervisor's default */
#define VIRTIO_FS_MAX_QUEUE_SIZE 1024	   /* libvhost-user's VIRTQUEUE_MAX_SIZE */

struct virtio_fs_config {
	const char *tag;	 /* mount tag, 1..36 bytes (required) */
	const char *socket_path; /* virtiofsd's --socket-path (required) */
	uint16_t num_queues;	 /* request queues: 1 (0 means 1) */
	uint16_t queue_size;	 /* power of two, 2..1024; 0 means 1024 */
	const char *id;		 /* device name in logs and counters; NULL: "virtio-fs<N>" */
};

/* Cumulative, for vm.counters; read without stopping the device. */
struct virtio_fs_counters {
	uint64_t call_signals;	      /* back-end completions forwarded as queue interrupts */
	uint64_t backend_disconnects; /* 0 or 1: the back-end cannot come back */
};

/*
 * Connect to cfg->socket_path and build the device on guest memory `mem`
 * (which must be shared and outlive the device). Errors name the option,
 * e.g. "--fs socket=/x: Connection refused", "--fs needs --memory shared=on".
 */
int virtio_fs_create(const struct virtio_fs_config *cfg, const struct guest_mem *mem,
		     struct virtio_dev **ret, struct error *err) _wur_;
/* Reset (stops the rings, the worker) and free, closing the socket; accepts NULL. */
void virtio_fs_destroy(struct virtio_dev *vdev);
/* -EINVAL if vdev is not a virtio-fs device. */
int virtio_fs_get_counters(struct virtio_dev *vdev, struct virtio_fs_counters *ret) _wur_;
