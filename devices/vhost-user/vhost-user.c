/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost-user front-end: message framing over a unix stream socket with
 * SCM_RIGHTS, the handshake, memory table and vring set-up/tear-down (see
 * vhost-user.h for the scope and the error model).
 *
 * Wire format (vhost-user.rst "Message Specification"): a 12-byte header
 * {u32 request; u32 flags; u32 size} in host byte order, then `size` payload
 * bytes; fds ride in the ancillary data of the same sendmsg. The socket is
 * non-blocking and every wait goes through poll() against one deadline per
 * exchange, so no request can hang the caller.
 */
#include "vhost-user.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

/* Request ids (front-end -> back-end) we use. */
#define VU_GET_FEATURES 1
#define VU_SET_FEATURES 2
#define VU_SET_OWNER 3
#define VU_SET_MEM_TABLE 5
#define VU_SET_VRING_NUM 8
#define VU_SET_VRING_ADDR 9
#define VU_SET_VRING_BASE 10
#define VU_GET_VRING_BASE 11
#define VU_SET_VRING_KICK 12
#define VU_SET_VRING_CALL 13
#define VU_GET_PROTOCOL_FEATURES 15
#define VU_SET_PROTOCOL_FEATURES 16
#define VU_GET_QUEUE_NUM 17
#define VU_SET_VRING_ENABLE 18

/* Header flags */
#define VU_FLAG_VERSION_MASK 0x3u
#define VU_VERSION 0x1u
#define VU_FLAG_REPLY 0x4u
#define VU_FLAG_NEED_REPLY 0x8u

/* KICK/CALL payload: bits 0-7 vring index, bit 8 "no fd" (never used by us). */
#define VU_VRING_INDEX_MASK 0xffu

#define VU_BIT(b) (UINT64_C(1) << (b))
/* The only protocol features we ever ask for. */
#define VU_WANTED_PROTOCOL_FEATURES                                                    \
	(VU_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK) | VU_BIT(VHOST_USER_PROTOCOL_F_MQ))

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

#define VU_HDR_SIZE sizeof(struct vu_hdr)

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

struct vu_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};

struct vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_mem_region regions[VHOST_USER_MAX_REGIONS];
};

_Static_assert(sizeof(struct vu_hdr) == 12, "vhost-user header is 12 bytes");
_Static_assert(sizeof(struct vu_vring_state) == 8, "vring state is 8 bytes");
_Static_assert(sizeof(struct vu_vring_addr) == 40, "vring addr is 40 bytes");
_Static_assert(sizeof(struct vu_mem_region) == 32, "memory region is 32 bytes");
_Static_assert(sizeof(struct vu_mem_table) == VHOST_USER_MAX_PAYLOAD, "full memory table");
_Static_assert(VHOST_USER_MAX_REGIONS >= GUEST_MEM_MAX_REGIONS,
	       "every guest RAM region must fit in one SET_MEM_TABLE");
_Static_assert(VHOST_USER_MAX_VRINGS <= 64, "started vrings are a 64-bit mask");

struct vhost_user {
	int fd;
	enum vhost_user_state state; /* changed only by vu_set_state() */
	unsigned int timeout_ms;
	uint64_t backend_features;   /* GET_FEATURES */
	uint64_t protocol_features;  /* negotiated */
	uint16_t backend_queues;     /* GET_QUEUE_NUM, 0 without MQ */
	bool reply_ack;
	const struct guest_mem *mem; /* from SET_MEM_TABLE, for vring translation */
	uint64_t started;	     /* vrings started (bit per index) */
};

static const char *const state_names[VHOST_USER_STATE_COUNT] = {
	[VHOST_USER_STATE_CONNECTED] = "connected",
	[VHOST_USER_STATE_READY] = "ready",
	[VHOST_USER_STATE_RUNNING] = "running",
	[VHOST_USER_STATE_FAILED] = "failed",
};

const char *vhost_user_state_to_string(enum vhost_user_state s)
{
	return (unsigned int)s < VHOST_USER_STATE_COUNT ? state_names[s] : "invalid";
}

static const char *const request_names[] = {
	[VU_GET_FEATURES] = "GET_FEATURES",
	[VU_SET_FEATURES] = "SET_FEATURES",
	[VU_SET_OWNER] = "SET_OWNER",
	[VU_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[VU_SET_VRING_NUM] = "SET_VRING_NUM",
	[VU_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[VU_SET_VRING_BASE] = "SET_VRING_BASE",
	[VU_GET_VRING_BASE] = "GET_VRING_BASE",
	[VU_SET_VRING_KICK] = "SET_VRING_KICK",
	[VU_SET_VRING_CALL] = "SET_VRING_CALL",
	[VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
	[VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
};

const char *vhost_user_request_to_string(uint32_t request)
{
	if (request < ARRAY_SIZE(request_names) && request_names[request])
		return request_names[request];
	return "UNKNOWN";
}

/* The one place the connection state changes. */
static void vu_set_state(struct vhost_user *vu, enum vhost_user_state s, const char *why)
{
	enum vhost_user_state old = __atomic_load_n(&vu->state, __ATOMIC_RELAXED);

	if (old == s)
		return;
	/* FAILED is final: the stream cannot be trusted to be in step any more */
	if (old == VHOST_USER_STATE_FAILED)
		return;
	log_debug("vhost-user: fd %d: %s -> %s (%s)", vu->fd, vhost_user_state_to_string(old),
		  vhost_user_state_to_string(s), why);
	__atomic_store_n(&vu->state, s, __ATOMIC_RELEASE);
}

enum vhost_user_state vhost_user_get_state(const struct vhost_user *vu)
{
	return __atomic_load_n(&vu->state, __ATOMIC_ACQUIRE);
}

int vhost_user_fd(const struct vhost_user *vu)
{
	return vu->fd;
}

uint64_t vhost_user_backend_features(const struct vhost_user *vu)
{
	return vu->backend_features;
}

uint64_t vhost_user_protocol_features(const struct vhost_user *vu)
{
	return vu->protocol_features;
}

uint16_t vhost_user_backend_queues(const struct vhost_user *vu)
{
	return vu->backend_queues;
}

bool vhost_user_vring_started(const struct vhost_user *vu, uint16_t index)
{
	return index < VHOST_USER_MAX_VRINGS && (vu->started & VU_BIT(index));
}

/* Deadlines ------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for `events` on the socket until the deadline: 0, -ETIMEDOUT or -errno. */
static int vu_wait(struct vhost_user *vu, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = vu->fd, .events = events };
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)MIN(left, (int64_t)INT32_MAX));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ETIMEDOUT;
		/* HUP/ERR: let the read or write itself report what happened */
		return 0;
	}
}

/* Framing --------------------------------------------------------------- */

static int vu_send(struct vhost_user *vu, const struct vu_hdr *hdr, const void *payload,
		   const int *fds, unsigned int nfds, int64_t deadline)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		struct cmsghdr align;
	} control;
	uint8_t msg[VU_HDR_SIZE + VHOST_USER_MAX_PAYLOAD];
	size_t total = VU_HDR_SIZE + hdr->size, done = 0;

	if (nfds > VHOST_USER_MAX_FDS || hdr->size > VHOST_USER_MAX_PAYLOAD)
		return -EINVAL;
	memcpy(msg, hdr, VU_HDR_SIZE);
	if (hdr->size)
		memcpy(msg + VU_HDR_SIZE, payload, hdr->size);

	while (done < total) {
		struct iovec iov = { .iov_base = msg + done, .iov_len = total - done };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		/* the fds go with the first byte; a partial send must not repeat them */
		if (done == 0 && nfds > 0) {
			struct cmsghdr *cmsg;

			memset(&control, 0, sizeof(control));
			mh.msg_control = control.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			cmsg = CMSG_FIRSTHDR(&mh);
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
		}
		n = sendmsg(vu->fd, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			int r;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			r = vu_wait(vu, POLLOUT, deadline);
			if (r < 0)
				return r;
			continue;
		}
		done += (size_t)n;
	}
	return 0;
}

/*
 * Read exactly len bytes. Any fds that arrive are closed: no reply we ask
 * for carries one, and an fd left open in our process would be a leak the
 * back-end controls.
 */
static int vu_recv_exact(struct vhost_user *vu, void *buf, size_t len, int64_t deadline,
			 bool *ret_got_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
		struct cmsghdr align;
	} control;
	size_t done = 0;

	while (done < len) {
		struct iovec iov = { .iov_base = (uint8_t *)buf + done, .iov_len = len - done };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = control.buf,
				     .msg_controllen = sizeof(control.buf) };
		ssize_t n = recvmsg(vu->fd, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0) {
			int r;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			r = vu_wait(vu, POLLIN, deadline);
			if (r < 0)
				return r;
			continue;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t i = 0; i < nfd; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				close(fd);
			}
			*ret_got_fds = true;
		}
		if (mh.msg_flags & MSG_CTRUNC)
			*ret_got_fds = true;
		if (n == 0)
			return -ECONNRESET; /* the back-end closed the connection */
		done += (size_t)n;
	}
	return 0;
}

/*
 * One exchange. `reply`/`reply_size`: the request's own reply (GET_*), or
 * NULL/0 for a request without one, which then carries NEED_REPLY when
 * REPLY_ACK was negotiated and waits for the u64 ack.
 */
static int vu_request(struct vhost_user *vu, uint32_t request, const void *payload,
		      uint32_t size, const int *fds, unsigned int nfds, void *reply,
		      uint32_t reply_size)
{
	const char *name = vhost_user_request_to_string(request);
	enum vhost_user_state st = vhost_user_get_state(vu);
	bool want_ack = !reply && vu->reply_ack;
	struct vu_hdr hdr = { .request = request, .flags = VU_VERSION, .size = size };
	uint8_t buf[sizeof(uint64_t)];
	uint32_t expect = reply ? reply_size : (want_ack ? (uint32_t)sizeof(uint64_t) : 0);
	int64_t deadline = now_ms() + vu->timeout_ms;
	bool got_fds = false;
	uint64_t ack;
	int r;

	if (st == VHOST_USER_STATE_FAILED)
		return -ENOTCONN;
	if (expect > sizeof(buf))
		return -EINVAL;
	if (want_ack)
		hdr.flags |= VU_FLAG_NEED_REPLY;

	r = vu_send(vu, &hdr, payload, fds, nfds, deadline);
	if (r < 0) {
		log_debug_errno(r, "vhost-user: sending %s failed", name);
		goto fail;
	}
	if (expect == 0)
		return 0;

	r = vu_recv_exact(vu, &hdr, VU_HDR_SIZE, deadline, &got_fds);
	if (r < 0) {
		log_debug_errno(r, "vhost-user: no reply to %s", name);
		goto fail;
	}
	if (hdr.request != request || (hdr.flags & VU_FLAG_VERSION_MASK) != VU_VERSION ||
	    !(hdr.flags & VU_FLAG_REPLY) || hdr.size != expect) {
		log_debug("vhost-user: bad reply to %s: request %u flags %#x size %u (want %u)",
			  name, hdr.request, hdr.flags, hdr.size, expect);
		r = -EPROTO;
		goto fail;
	}
	r = vu_recv_exact(vu, buf, expect, deadline, &got_fds);
	if (r < 0) {
		log_debug_errno(r, "vhost-user: truncated reply to %s", name);
		goto fail;
	}
	if (got_fds) {
		log_debug("vhost-user: reply to %s carried file descriptors", name);
		r = -EPROTO;
		goto fail;
	}
	if (reply) {
		memcpy(reply, buf, expect);
		return 0;
	}
	memcpy(&ack, buf, sizeof(ack));
	if (ack != 0) {
		/* refused, but the stream is still in step */
		log_debug("vhost-user: back-end refused %s (status %" PRIu64 ")", name, ack);
		return -EIO;
	}
	return 0;

fail:
	vu_set_state(vu, VHOST_USER_STATE_FAILED, name);
	return r;
}

static int vu_get_u64(struct vhost_user *vu, uint32_t request, uint64_t *ret)
{
	return vu_request(vu, request, NULL, 0, NULL, 0, ret, sizeof(*ret));
}

static int vu_set_u64(struct vhost_user *vu, uint32_t request, uint64_t v, int fd)
{
	return vu_request(vu, request, &v, sizeof(v), fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0,
			  NULL, 0);
}

static int vu_set_state_msg(struct vhost_user *vu, uint32_t request, uint32_t index, uint32_t num)
{
	struct vu_vring_state s = { .index = index, .num = num };

	return vu_request(vu, request, &s, sizeof(s), NULL, 0, NULL, 0);
}

/* Connection ------------------------------------------------------------ */

int vhost_user_open_fd_take(int fd, unsigned int timeout_ms, struct vhost_user **ret)
{
	struct vhost_user *vu;
	int fl;

	if (fd < 0 || !ret)
		return -EINVAL;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	vu = calloc(1, sizeof(*vu));
	if (!vu) {
		close(fd);
		return -ENOMEM;
	}
	vu->fd = fd;
	vu->timeout_ms = timeout_ms ? timeout_ms : VHOST_USER_DEFAULT_TIMEOUT_MS;
	vu->state = VHOST_USER_STATE_CONNECTED;
	*ret = vu;
	return 0;
}

int vhost_user_connect(const char *path, unsigned int timeout_ms, struct vhost_user **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = VHOST_USER_CONNECT_TIMEOUT_MS / 1000,
			      .tv_usec = (VHOST_USER_CONNECT_TIMEOUT_MS % 1000) * 1000 };
	int fd, r;

	if (!path || !ret)
		return -EINVAL;
	if (path[0] == '\0')
		return -ENOENT;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);

	/*
	 * A blocking connect bounded by SO_SNDTIMEO: a unix socket connect only
	 * waits when the listener's backlog is full, and a non-blocking one
	 * then fails with EAGAIN instead of completing later.
	 */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		goto fail_errno;
	do
		r = connect(fd, (const struct sockaddr *)&sa, sizeof(sa));
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		if (errno == EAGAIN || errno == EINPROGRESS)
			errno = ETIMEDOUT;
		goto fail_errno;
	}
	tv = (struct timeval){ 0 }; /* later waits use poll() with deadlines */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		goto fail_errno;
	return vhost_user_open_fd_take(fd, timeout_ms, ret);

fail_errno:
	r = -errno;
	close(fd);
	return r;
}

void vhost_user_close(struct vhost_user *vu)
{
	if (!vu)
		return;
	if (vu->fd >= 0)
		close(vu->fd);
	free(vu);
}

/* Requests ---------------------------------------------------------------- */

int vhost_user_handshake(struct vhost_user *vu, uint16_t min_vrings)
{
	uint64_t offered = 0, queues = 0;
	int r;

	if (vhost_user_get_state(vu) != VHOST_USER_STATE_CONNECTED)
		return -EINVAL;
	r = vu_get_u64(vu, VU_GET_FEATURES, &vu->backend_features);
	if (r < 0)
		return r;
	if (vu->backend_features & VU_BIT(VHOST_USER_F_PROTOCOL_FEATURES)) {
		r = vu_get_u64(vu, VU_GET_PROTOCOL_FEATURES, &offered);
		if (r < 0)
			return r;
		/* Sent before REPLY_ACK is in force: this one is not acknowledged. */
		vu->protocol_features = offered & VU_WANTED_PROTOCOL_FEATURES;
		r = vu_set_u64(vu, VU_SET_PROTOCOL_FEATURES, vu->protocol_features, -1);
		if (r < 0)
			return r;
		vu->reply_ack = vu->protocol_features &
				VU_BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK);
	}
	if (vu->protocol_features & VU_BIT(VHOST_USER_PROTOCOL_F_MQ)) {
		r = vu_get_u64(vu, VU_GET_QUEUE_NUM, &queues);
		if (r < 0)
			return r;
		vu->backend_queues = (uint16_t)MIN(queues, (uint64_t)UINT16_MAX);
		if (queues < min_vrings) {
			log_debug("vhost-user: back-end serves %" PRIu64 " queues, need %u", queues,
				  min_vrings);
			return -ERANGE;
		}
	}
	/* SET_OWNER has no payload; acked, it proves the back-end is alive and ours */
	r = vu_request(vu, VU_SET_OWNER, NULL, 0, NULL, 0, NULL, 0);
	if (r < 0)
		return r;
	vu_set_state(vu, VHOST_USER_STATE_READY, "handshake done");
	log_debug("vhost-user: fd %d: features %#" PRIx64 ", protocol features %#" PRIx64
		  " (offered %#" PRIx64 "), %u queues",
		  vu->fd, vu->backend_features, vu->protocol_features, offered, vu->backend_queues);
	return 0;
}

static bool vu_usable(const struct vhost_user *vu)
{
	enum vhost_user_state s = vhost_user_get_state(vu);

	return s == VHOST_USER_STATE_READY || s == VHOST_USER_STATE_RUNNING;
}

int vhost_user_set_features(struct vhost_user *vu, uint64_t features)
{
	if (!vu_usable(vu))
		return vhost_user_get_state(vu) == VHOST_USER_STATE_FAILED ? -ENOTCONN : -EINVAL;
	if (features & ~vu->backend_features) {
		log_debug("vhost-user: features %#" PRIx64 " not offered by the back-end",
			  features & ~vu->backend_features);
		return -EINVAL;
	}
	if (vu->backend_features & VU_BIT(VHOST_USER_F_PROTOCOL_FEATURES))
		features |= VU_BIT(VHOST_USER_F_PROTOCOL_FEATURES);
	return vu_set_u64(vu, VU_SET_FEATURES, features, -1);
}

int vhost_user_set_mem_table(struct vhost_user *vu, const struct guest_mem *mem)
{
	struct vu_mem_table t = { 0 };
	int fds[VHOST_USER_MAX_FDS];
	int r;

	if (!vu_usable(vu))
		return vhost_user_get_state(vu) == VHOST_USER_STATE_FAILED ? -ENOTCONN : -EINVAL;
	if (!mem || mem->nr_regions == 0 || mem->nr_regions > VHOST_USER_MAX_REGIONS)
		return -EINVAL;
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *g = &mem->regions[i];

		/* the back-end maps the region from its fd: anonymous RAM cannot be shared */
		if (g->fd < 0)
			return -EINVAL;
		t.regions[i] = (struct vu_mem_region){
			.guest_phys_addr = g->gpa,
			.memory_size = g->size,
			.userspace_addr = (uint64_t)(uintptr_t)g->hva,
			.mmap_offset = g->fd_offset,
		};
		fds[i] = g->fd;
	}
	t.nregions = mem->nr_regions;
	r = vu_request(vu, VU_SET_MEM_TABLE, &t,
		       (uint32_t)(offsetof(struct vu_mem_table, regions) +
				  sizeof(struct vu_mem_region) * t.nregions),
		       fds, t.nregions, NULL, 0);
	if (r < 0)
		return r;
	vu->mem = mem;
	return 0;
}

/* Our address of [gpa, gpa+len) in guest RAM, or 0 if it is not all inside one region. */
static uint64_t vu_translate(const struct vhost_user *vu, uint64_t gpa, uint64_t len)
{
	return (uint64_t)(uintptr_t)guest_mem_ptr(vu->mem, gpa, len);
}

static void vu_mark_started(struct vhost_user *vu, uint16_t index, bool on)
{
	if (on)
		vu->started |= VU_BIT(index);
	else
		vu->started &= ~VU_BIT(index);
	if (vu->started)
		vu_set_state(vu, VHOST_USER_STATE_RUNNING, "vring started");
	else
		vu_set_state(vu, VHOST_USER_STATE_READY, "all vrings stopped");
}

int vhost_user_vring_start(struct vhost_user *vu, const struct vhost_user_vring *vr)
{
	struct vu_vring_addr addr;
	uint64_t n = vr->size;
	int r;

	if (!vu_usable(vu))
		return vhost_user_get_state(vu) == VHOST_USER_STATE_FAILED ? -ENOTCONN : -EINVAL;
	if (vr->index >= VHOST_USER_MAX_VRINGS || vr->size == 0 ||
	    vr->size > VHOST_USER_MAX_VRING_SIZE || (vr->size & (vr->size - 1)) ||
	    vr->kick_fd < 0 || vr->call_fd < 0 || vhost_user_vring_started(vu, vr->index))
		return -EINVAL;
	if (!vu->mem)
		return -EPROTO; /* SET_VRING_ADDR is translated against the mem table */

	/* split ring sizes (virtio 1.x 2.7), event fields included */
	addr = (struct vu_vring_addr){
		.index = vr->index,
		.desc = vu_translate(vu, vr->desc_gpa, 16 * n),
		.avail = vu_translate(vu, vr->avail_gpa, 6 + 2 * n),
		.used = vu_translate(vu, vr->used_gpa, 6 + 8 * n),
	};
	if (!addr.desc || !addr.avail || !addr.used) {
		log_debug("vhost-user: vring %u outside guest RAM (desc %#" PRIx64 " avail %#" PRIx64
			  " used %#" PRIx64 ")",
			  vr->index, vr->desc_gpa, vr->avail_gpa, vr->used_gpa);
		return -EFAULT;
	}

	r = vu_set_state_msg(vu, VU_SET_VRING_NUM, vr->index, vr->size);
	if (r < 0)
		return r;
	r = vu_set_state_msg(vu, VU_SET_VRING_BASE, vr->index, vr->base);
	if (r < 0)
		return r;
	r = vu_request(vu, VU_SET_VRING_ADDR, &addr, sizeof(addr), NULL, 0, NULL, 0);
	if (r < 0)
		return r;
	/* CALL before KICK: KICK starts processing, completions need somewhere to go */
	r = vu_set_u64(vu, VU_SET_VRING_CALL, vr->index & VU_VRING_INDEX_MASK, vr->call_fd);
	if (r < 0)
		return r;
	/* refused (acked with an error) means not started; anything else failed the connection */
	r = vu_set_u64(vu, VU_SET_VRING_KICK, vr->index & VU_VRING_INDEX_MASK, vr->kick_fd);
	if (r < 0)
		return r;
	vu_mark_started(vu, vr->index, true);
	if (vu->backend_features & VU_BIT(VHOST_USER_F_PROTOCOL_FEATURES)) {
		r = vu_set_state_msg(vu, VU_SET_VRING_ENABLE, vr->index, 1);
		if (r < 0) {
			/* best effort: a refused enable should not leave the ring running */
			if (vhost_user_vring_stop(vu, vr->index, NULL) < 0)
				log_debug("vhost-user: cannot stop vring %u again", vr->index);
			return r;
		}
	}
	return 0;
}

int vhost_user_vring_stop(struct vhost_user *vu, uint16_t index, uint16_t *ret_base)
{
	struct vu_vring_state s = { .index = index };
	struct vu_vring_state reply;
	int r;

	if (!vhost_user_vring_started(vu, index))
		return -EINVAL;
	/* Whatever the outcome, we no longer consider the ring ours to stop. */
	vu_mark_started(vu, index, false);
	r = vu_request(vu, VU_GET_VRING_BASE, &s, sizeof(s), NULL, 0, &reply, sizeof(reply));
	if (r < 0)
		return r;
	if (reply.index != index) {
		log_debug("vhost-user: GET_VRING_BASE for vring %u answered for %u", index,
			  reply.index);
		vu_set_state(vu, VHOST_USER_STATE_FAILED, "GET_VRING_BASE");
		return -EPROTO;
	}
	if (ret_base)
		*ret_base = (uint16_t)reply.num;
	return 0;
}
