/* SPDX-License-Identifier: Apache-2.0 */
/* A fake vhost-user back-end for tests (see fake-backend.h). */
#include "fake-backend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

void fake_backend_init(struct fake_backend *f, enum fake_mode mode)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->lfd = -1;
	f->mode = mode;
	f->features = FAKE_VFSD_FEATURES;
	f->protocol = FAKE_VFSD_PROTOCOL;
	f->queue_num = 2;
}

int fake_backend_socketpair(struct fake_backend *f, int *ret_fd)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	f->fd = sv[1];
	*ret_fd = sv[0];
	return 0;
}

int fake_backend_listen(struct fake_backend *f, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->lfd < 0)
		return -errno;
	if (bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(f->lfd, 1) < 0) {
		int r = -errno;

		close(f->lfd);
		f->lfd = -1;
		return r;
	}
	return 0;
}

static int read_full(int fd, void *buf, size_t len, int *fds, int *nfds, int max_fds)
{
	char control[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_FDS)];
	size_t done = 0;

	while (done < len) {
		struct iovec iov = { .iov_base = (uint8_t *)buf + done, .iov_len = len - done };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
				     .msg_controllen = sizeof(control) };
		ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);

		if (n <= 0)
			return -1;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			for (int i = 0; i < k; i++) {
				int got;

				memcpy(&got, CMSG_DATA(c) + sizeof(int) * (size_t)i, sizeof(int));
				if (*nfds < max_fds)
					fds[(*nfds)++] = got;
				else
					close(got);
			}
		}
		done += (size_t)n;
	}
	return 0;
}

static void send_reply(struct fake_backend *f, uint32_t request, const void *payload,
		       uint32_t size, int fd)
{
	uint32_t hdr[3] = { request, FAKE_FLAG_VERSION | FAKE_FLAG_REPLY, size };
	uint8_t buf[12 + 64];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = 12 + size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	memcpy(buf, hdr, 12);
	memcpy(buf + 12, payload, size);
	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	(void)sendmsg(f->fd, &mh, MSG_NOSIGNAL);
}

static void reply_u64(struct fake_backend *f, uint32_t request, uint64_t v)
{
	send_reply(f, request, &v, sizeof(v), -1);
}

static void answer(struct fake_backend *f, const struct fake_rec *r)
{
	switch (r->request) {
	case FAKE_GET_FEATURES:
		if (f->mode == FAKE_BAD_SIZE) {
			uint32_t v = 1;

			send_reply(f, FAKE_GET_FEATURES, &v, sizeof(v), -1);
		} else if (f->mode == FAKE_BAD_ID) {
			reply_u64(f, FAKE_GET_PROTOCOL_FEATURES, f->features);
		} else if (f->mode == FAKE_REPLY_FD) {
			int efd = eventfd(0, EFD_CLOEXEC);

			send_reply(f, FAKE_GET_FEATURES, &f->features, sizeof(f->features), efd);
			close(efd);
		} else {
			reply_u64(f, FAKE_GET_FEATURES, f->features);
		}
		return;
	case FAKE_GET_PROTOCOL_FEATURES:
		reply_u64(f, FAKE_GET_PROTOCOL_FEATURES, f->protocol);
		return;
	case FAKE_GET_QUEUE_NUM:
		reply_u64(f, FAKE_GET_QUEUE_NUM, f->queue_num);
		return;
	case FAKE_GET_VRING_BASE: {
		uint32_t st[2];

		memcpy(st, r->payload, sizeof(st));
		st[1] = FAKE_GET_VRING_BASE_ANSWER;
		send_reply(f, FAKE_GET_VRING_BASE, st, sizeof(st), -1);
		return;
	}
	default:
		break;
	}
	if (r->flags & FAKE_FLAG_NEED_REPLY)
		reply_u64(f, r->request,
			  f->mode == FAKE_NACK && r->request == f->nack_request ? 1 : 0);
}

static void *fake_main(void *arg)
{
	struct fake_backend *f = arg;

	if (f->lfd >= 0) {
		f->fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
		/* like virtiofsd: one connection, then the listener is gone */
		close(f->lfd);
		f->lfd = -1;
		if (f->fd < 0)
			return NULL;
	}
	for (;;) {
		uint32_t hdr[3];
		int fds[VHOST_USER_MAX_FDS];
		int nfds = 0;
		unsigned int n = __atomic_load_n(&f->nrecs, __ATOMIC_RELAXED);
		struct fake_rec *r;

		if (read_full(f->fd, hdr, sizeof(hdr), fds, &nfds, VHOST_USER_MAX_FDS) < 0)
			break;
		if (n >= FAKE_MAX_RECS)
			break;
		r = &f->recs[n];
		memset(r, 0, sizeof(*r));
		r->request = hdr[0];
		r->flags = hdr[1];
		r->size = hdr[2];
		if (r->size > sizeof(r->payload) ||
		    (r->size &&
		     read_full(f->fd, r->payload, r->size, fds, &nfds, VHOST_USER_MAX_FDS) < 0))
			break;
		r->nfds = nfds;
		for (int i = 0; i < nfds; i++) {
			struct stat st;

			if (fstat(fds[i], &st) == 0)
				r->fd_ino[i] = st.st_ino;
		}
		/* as virtiofsd: a new call fd gets an immediate signal */
		if (r->request == FAKE_SET_VRING_CALL && nfds == 1) {
			uint64_t one = 1;

			(void)!write(fds[0], &one, sizeof(one));
		}
		if (r->request == FAKE_SET_VRING_KICK && nfds == 1)
			(void)!read(fds[0], &r->kick_value, sizeof(r->kick_value));
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		__atomic_store_n(&f->nrecs, n + 1, __ATOMIC_RELEASE);

		if (f->mode == FAKE_SILENT)
			continue;
		if (f->mode == FAKE_CLOSE_AT && n + 1 == f->close_at)
			break;
		answer(f, r);
	}
	close(f->fd);
	f->fd = -1;
	return NULL;
}

int fake_backend_run(struct fake_backend *f)
{
	return -pthread_create(&f->thread, NULL, fake_main, f);
}

void fake_backend_join(struct fake_backend *f)
{
	pthread_join(f->thread, NULL);
	if (f->lfd >= 0)
		close(f->lfd);
	f->lfd = -1;
}

unsigned int fake_backend_nrecs(struct fake_backend *f)
{
	return __atomic_load_n(&f->nrecs, __ATOMIC_ACQUIRE);
}

const struct fake_rec *fake_backend_find(struct fake_backend *f, uint32_t request,
					 unsigned int *pos)
{
	unsigned int n = fake_backend_nrecs(f);

	for (unsigned int i = *pos; i < n; i++) {
		if (f->recs[i].request == request) {
			*pos = i + 1;
			return &f->recs[i];
		}
	}
	return NULL;
}

uint64_t fake_rec_u64(const struct fake_rec *r, size_t off)
{
	uint64_t v;

	memcpy(&v, r->payload + off, sizeof(v));
	return v;
}

uint32_t fake_rec_u32(const struct fake_rec *r, size_t off)
{
	uint32_t v;

	memcpy(&v, r->payload + off, sizeof(v));
	return v;
}
