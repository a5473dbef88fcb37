/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock (virtio 1.2, section 5.10) with the hybrid Unix-socket
 * backend of Firecracker and Cloud Hypervisor. Stream sockets only (no
 * VIRTIO_VSOCK_F_SEQPACKET). Queues: rx (0), tx (1), event (2); config
 * space: le64 guest_cid, read-only.
 *
 * Host to guest: a local client connects to `socket_path` and writes
 * "CONNECT <port>\n"; once the guest accepts, the device answers
 * "OK <hostport>\n" and the socket carries the stream. If nothing listens in
 * the guest, the client's socket is closed.
 * Guest to host: a guest connection to CID 2, port P becomes a connection to
 * the Unix socket "<socket_path>_<P>"; if nothing listens there, the guest
 * gets a reset.
 *
 * Both the guest and any local client of the socket are untrusted: every
 * limit (connections, buffers, line length, timeouts) is enforced and
 * breaking the protocol costs the offender its connection, never the device.
 * All sockets are served by the device's worker thread.
 *
 * Life cycle: virtio_vsock_create() binds and listens at once (so clients may
 * connect before the guest has booted; they wait in the backlog); the
 * transport drives activate/reset; vdev->ops->destroy(vdev) closes
 * everything and removes the socket file.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/guest-mem.h"
#include "common/macros.h"
#include "devices/virtio.h"

#define VIRTIO_VSOCK_HOST_CID 2
#define VIRTIO_VSOCK_MIN_GUEST_CID 3
/* Linux guests keep CIDs in 32 bits; U32_MAX is VMADDR_CID_ANY there. */
#define VIRTIO_VSOCK_MAX_GUEST_CID (UINT32_MAX - 1)

struct virtio_vsock_config {
	uint64_t guest_cid;	 /* VIRTIO_VSOCK_MIN_GUEST_CID..VIRTIO_VSOCK_MAX_GUEST_CID */
	const char *socket_path; /* the hybrid socket; "<path>_<port>" must fit sun_path */
	const char *id;		 /* device name in logs and counters; NULL: "virtio-vsock" */

	/*
	 * Tests and fuzzers only: activate starts no worker thread; the caller
	 * drives the device with virtio_vsock_poll() on its own thread.
	 */
	bool test_poll_mode;
};

/* Cumulative, for vm.counters; read without stopping the device. */
struct virtio_vsock_counters {
	uint64_t conns_active;	    /* connections alive now (any state) */
	uint64_t conns_total;	    /* connections ever created (both directions) */
	uint64_t conns_refused;	    /* refused: connection limit, no guest/host listener */
	uint64_t handshake_failures;/* bad CONNECT line, handshake or guest timeout */
	uint64_t rx_bytes;	    /* stream bytes delivered to the guest */
	uint64_t rx_packets;	    /* packets of any kind delivered to the guest */
	uint64_t tx_bytes;	    /* stream bytes from the guest written to host sockets */
	uint64_t tx_packets;	    /* packets taken from the guest's tx queue */
	uint64_t rst_sent;	    /* resets sent to the guest */
	uint64_t malformed;	    /* guest packets dropped as malformed or misaddressed */
	uint64_t credit_violations; /* guest sent more than the credit it had */
	uint64_t timeouts;	    /* connections ended by a timeout */
};

/*
 * Bind and listen on cfg->socket_path (mode 0600; a stale socket nobody
 * listens on is removed first) and build the device on guest memory `mem`
 * (which must outlive it). On failure err carries a message naming the
 * option, e.g. "--vsock socket=/x: Address already in use".
 */
int virtio_vsock_create(const struct virtio_vsock_config *cfg, const struct guest_mem *mem,
			struct virtio_dev **ret, struct error *err) _wur_;

/* -EINVAL if vdev is not a virtio-vsock device. */
int virtio_vsock_get_counters(struct virtio_dev *vdev, struct virtio_vsock_counters *ret) _wur_;

/*
 * test_poll_mode only: handle every queue, the listener, every connection and
 * the timeouts once, as if each fd had fired, on the caller's thread.
 * Returns 0, or -EINVAL if vdev is not a poll-mode virtio-vsock device.
 */
int virtio_vsock_poll(struct virtio_dev *vdev) _wur_;
