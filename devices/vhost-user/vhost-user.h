/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost-user front-end (QEMU docs/interop/vhost-user.rst): the VMM side of a
 * unix socket to a device back-end process (virtiofsd) that reads and writes
 * the guest's virtqueues directly in shared guest memory.
 *
 * Scope: what a virtio device needs from a libvhost-user back-end and no
 * more: the handshake (features, protocol features REPLY_ACK and MQ only,
 * SET_OWNER), SET_FEATURES, SET_MEM_TABLE, and starting/stopping vrings. No
 * back-end initiated channel (SLAVE_REQ), no config space (GET_CONFIG), no
 * migration, no inflight tracking.
 *
 * Every request is synchronous and bounded: the whole exchange (send and
 * reply) must finish within the connection's timeout. With REPLY_ACK
 * negotiated, every request that has no reply of its own is sent with
 * NEED_REPLY, so the back-end's verdict is known before the next step.
 * A timeout, an I/O error, EOF or a malformed reply puts the connection into
 * VHOST_USER_STATE_FAILED for good: the byte stream may be out of step (a
 * late reply would be taken for the answer to the next request), so every
 * later request fails at once with -ENOTCONN. A back-end that merely
 * refuses a request (ack status != 0) gets -EIO and the connection stays
 * usable.
 *
 * Replies come from a process we started and trust, but they are still
 * checked: request id, version and REPLY flag, exact payload size, no file
 * descriptors.
 *
 * Threads: a connection is used by one thread at a time; the caller
 * serialises (virtio-fs: vCPU thread under the device lock while its worker
 * is stopped). vhost_user_fd() may be watched for hang-up by another thread.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/guest-mem.h"
#include "common/macros.h"

/* Virtio feature bit that announces the vhost-user protocol features. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30

/* Protocol feature bits we understand (we only ever negotiate these). */
#define VHOST_USER_PROTOCOL_F_MQ 0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3

/* Limits ---------------------------------------------------------------- */

/* libvhost-user accepts at most 8 fds per message (VHOST_MEMORY_BASELINE_NREGIONS). */
#define VHOST_USER_MAX_FDS 8
/* One region per fd in SET_MEM_TABLE. */
#define VHOST_USER_MAX_REGIONS 8
/* Vring indexes we address (KICK/CALL payloads carry 8 bits; our devices have <= 64 queues). */
#define VHOST_USER_MAX_VRINGS 64
/* Largest split ring (virtio 1.x); back-ends may refuse less (libvhost-user: 1024). */
#define VHOST_USER_MAX_VRING_SIZE 32768
/* Largest payload we send: a full memory table (8 + 32 * 8 bytes). */
#define VHOST_USER_MAX_PAYLOAD 264
/* Bound on connect() when the listener's backlog is full. */
#define VHOST_USER_CONNECT_TIMEOUT_MS 1000
/*
 * Bound on one request/reply exchange. The exchanges run on a vCPU thread
 * (device activate/reset): libvhost-user answers in well under a millisecond;
 * the bound only matters when the back-end hangs, and a timeout fails the
 * connection, so one hung back-end costs one timeout, not one per request.
 */
#define VHOST_USER_DEFAULT_TIMEOUT_MS 2000

/* Connection states --------------------------------------------------------- */

enum vhost_user_state {
	VHOST_USER_STATE_CONNECTED, /* socket open, handshake not done */
	VHOST_USER_STATE_READY,	    /* features known, owner set: vrings can be set up */
	VHOST_USER_STATE_RUNNING,   /* at least one vring started */
	VHOST_USER_STATE_FAILED,    /* I/O error, timeout, EOF or bad reply: unusable */
	VHOST_USER_STATE_COUNT,
};

const char *vhost_user_state_to_string(enum vhost_user_state s);
/* "SET_MEM_TABLE" etc.; "UNKNOWN" for ids we never send. */
const char *vhost_user_request_to_string(uint32_t request);

struct vhost_user;

/* One vring to start: the queue as the driver set it up. */
struct vhost_user_vring {
	uint16_t index;		/* vring number at the back-end */
	uint16_t size;		/* power of two, 1..VHOST_USER_MAX_VRING_SIZE */
	uint16_t base;		/* next avail index: 0 after a device reset */
	uint64_t desc_gpa, avail_gpa, used_gpa; /* guest addresses, translated here */
	int kick_fd;		/* eventfd the guest's notifications land in (borrowed) */
	int call_fd;		/* eventfd the back-end signals (borrowed) */
};

/*
 * Connect to a back-end listening on `path` (non-blocking socket, O_CLOEXEC).
 * timeout_ms bounds every later exchange (0: VHOST_USER_DEFAULT_TIMEOUT_MS).
 * -ECONNREFUSED, -ENOENT, -ETIMEDOUT, -ENAMETOOLONG...
 */
int vhost_user_connect(const char *path, unsigned int timeout_ms, struct vhost_user **ret) _wur_;
/* Same over an already connected stream socket, which the connection now owns (tests). */
int vhost_user_open_fd_take(int fd, unsigned int timeout_ms, struct vhost_user **ret) _wur_;
/* Close the socket (a libvhost-user back-end exits then) and free; accepts NULL. */
void vhost_user_close(struct vhost_user *vu);

/*
 * GET_FEATURES, GET_PROTOCOL_FEATURES + SET_PROTOCOL_FEATURES (REPLY_ACK,
 * and MQ when offered), GET_QUEUE_NUM (with MQ: the back-end must serve at
 * least `min_vrings`; -ERANGE otherwise), SET_OWNER. CONNECTED -> READY.
 */
int vhost_user_handshake(struct vhost_user *vu, uint16_t min_vrings) _wur_;
/* The back-end's virtio feature bits (GET_FEATURES), valid after the handshake. */
uint64_t vhost_user_backend_features(const struct vhost_user *vu);
/* Negotiated protocol feature bits. */
uint64_t vhost_user_protocol_features(const struct vhost_user *vu);
/* GET_QUEUE_NUM's answer, or 0 when MQ was not offered. */
uint16_t vhost_user_backend_queues(const struct vhost_user *vu);

/*
 * SET_FEATURES: the features the driver accepted (adds PROTOCOL_FEATURES
 * when it was negotiated, as the back-end then expects). -EINVAL for a bit
 * the back-end did not offer.
 */
int vhost_user_set_features(struct vhost_user *vu, uint64_t features) _wur_;
/*
 * SET_MEM_TABLE with one region per guest RAM region (fd = region fd,
 * mmap_offset = its offset in that fd, userspace_addr = our mapping).
 * -EINVAL if the memory is not fd-backed. `mem` must outlive the
 * connection: vring addresses are translated through it.
 */
int vhost_user_set_mem_table(struct vhost_user *vu, const struct guest_mem *mem) _wur_;
/*
 * SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR (guest addresses translated
 * to our mapping; -EFAULT if a ring is not inside guest RAM), SET_VRING_CALL,
 * SET_VRING_KICK (the back-end starts processing), and SET_VRING_ENABLE 1
 * when protocol features are in use (rings then start disabled). Needs
 * the mem table. On failure after the back-end started the ring, it is
 * stopped again (best effort).
 */
int vhost_user_vring_start(struct vhost_user *vu, const struct vhost_user_vring *vr) _wur_;
/*
 * GET_VRING_BASE: the back-end stops the ring and closes its kick/call fds;
 * returns its next avail index through ret_base (may be NULL).
 */
int vhost_user_vring_stop(struct vhost_user *vu, uint16_t index, uint16_t *ret_base) _wur_;
bool vhost_user_vring_started(const struct vhost_user *vu, uint16_t index);

enum vhost_user_state vhost_user_get_state(const struct vhost_user *vu);
/* The socket, to watch for hang-up (EPOLLRDHUP/EPOLLHUP); do not read or write it. */
int vhost_user_fd(const struct vhost_user *vu);
