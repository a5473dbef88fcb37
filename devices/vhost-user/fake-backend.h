/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fake vhost-user back-end for tests: a thread that answers like
 * libvhost-user (replies to GET_*, a u64 ack for NEED_REPLY, writes 1 to a
 * new call fd as virtiofsd does) and records every message, its payload and
 * the inodes of the fds it carried. It can also misbehave: stay silent,
 * close, refuse a request, send malformed replies.
 *
 * Records are written by the fake's thread before it answers, so after a
 * synchronous request returns the caller may read them (fake_backend_nrecs()).
 */
#pragma once

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "vhost-user.h"

/* Request ids, as on the wire (vhost-user.rst) */
enum {
	FAKE_GET_FEATURES = 1, FAKE_SET_FEATURES = 2, FAKE_SET_OWNER = 3,
	FAKE_SET_MEM_TABLE = 5, FAKE_SET_VRING_NUM = 8, FAKE_SET_VRING_ADDR = 9,
	FAKE_SET_VRING_BASE = 10, FAKE_GET_VRING_BASE = 11, FAKE_SET_VRING_KICK = 12,
	FAKE_SET_VRING_CALL = 13, FAKE_GET_PROTOCOL_FEATURES = 15,
	FAKE_SET_PROTOCOL_FEATURES = 16, FAKE_GET_QUEUE_NUM = 17, FAKE_SET_VRING_ENABLE = 18,
};
#define FAKE_FLAG_VERSION 0x1u
#define FAKE_FLAG_REPLY 0x4u
#define FAKE_FLAG_NEED_REPLY 0x8u
#define FAKE_BIT(b) (UINT64_C(1) << (b))

/* What Debian's QEMU 7.2 virtiofsd offers (facts/protocols.md 7.3). */
#define FAKE_VFSD_FEATURES                                                             \
	(FAKE_BIT(24) | FAKE_BIT(28) | FAKE_BIT(29) | FAKE_BIT(32) | FAKE_BIT(26) | FAKE_BIT(30))
#define FAKE_VFSD_PROTOCOL                                                             \
	(FAKE_BIT(0) | FAKE_BIT(1) | FAKE_BIT(5) | FAKE_BIT(11) | FAKE_BIT(10) | FAKE_BIT(3) | \
	 FAKE_BIT(15))
#define FAKE_GET_VRING_BASE_ANSWER 7
#define FAKE_MAX_RECS 64

enum fake_mode {
	FAKE_NORMAL,
	FAKE_SILENT,	/* reads everything, answers nothing */
	FAKE_CLOSE_AT,	/* closes the socket when message number close_at arrives */
	FAKE_NACK,	/* acks nack_request with status 1 */
	FAKE_BAD_SIZE,	/* replies to GET_FEATURES with a 4-byte payload */
	FAKE_BAD_ID,	/* replies to GET_FEATURES as if to GET_PROTOCOL_FEATURES */
	FAKE_REPLY_FD,	/* attaches an fd to the GET_FEATURES reply */
};

struct fake_rec {
	uint32_t request, flags, size;
	uint8_t payload[VHOST_USER_MAX_PAYLOAD];
	int nfds;
	ino_t fd_ino[VHOST_USER_MAX_FDS];
	uint64_t kick_value; /* SET_VRING_KICK: what the eventfd held */
};

struct fake_backend {
	int fd;	 /* connected socket (the fake's end) */
	int lfd; /* listening socket, when started by path */
	pthread_t thread;
	enum fake_mode mode;
	unsigned int close_at;
	uint32_t nack_request;
	uint64_t features, protocol, queue_num;
	unsigned int nrecs; /* atomic */
	struct fake_rec recs[FAKE_MAX_RECS];
};

/* Defaults: virtiofsd's features, 2 queues, FAKE_NORMAL. */
void fake_backend_init(struct fake_backend *f, enum fake_mode mode);
/* A socketpair: the fake keeps one end, *ret_fd is the front-end's. */
int fake_backend_socketpair(struct fake_backend *f, int *ret_fd);
/* Listen on path; the thread accepts one connection (as virtiofsd). */
int fake_backend_listen(struct fake_backend *f, const char *path);
int fake_backend_run(struct fake_backend *f);
void fake_backend_join(struct fake_backend *f);
unsigned int fake_backend_nrecs(struct fake_backend *f);
/* The first record of `request` at or after index *pos (advanced past it), or NULL. */
const struct fake_rec *fake_backend_find(struct fake_backend *f, uint32_t request,
					 unsigned int *pos);
uint64_t fake_rec_u64(const struct fake_rec *r, size_t off);
uint32_t fake_rec_u32(const struct fake_rec *r, size_t off);
