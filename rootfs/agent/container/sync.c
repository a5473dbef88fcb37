/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sync socket between the caller and the child it creates: fixed-size
 * SOCK_SEQPACKET messages, one optional fd each (SCM_RIGHTS).
 */
#include "container-internal.h"

#include <poll.h>
#include <string.h>
#include <sys/socket.h>

int sync_send(int sock, const struct sync_msg *msg, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = sizeof(*msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(*msg) ? 0 : -EIO;
}

int sync_send_type(int sock, enum sync_type type)
{
	struct sync_msg m = { .type = type };

	return sync_send(sock, &m, -1);
}

int sync_recv(int sock, struct sync_msg *msg, int *ret_fd, int timeout_ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = msg, .iov_len = sizeof(*msg) };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;
	ssize_t n;
	int fd = -1;

	if (ret_fd)
		*ret_fd = -1;
	for (;;) {
		int left = deadline < 0 ? -1 : (int)MAX(deadline - now_ms(), 0);
		int r = poll(&pfd, 1, left);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		break;
	}
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == ECONNRESET ? -EPIPE : -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfds; i++) {
			int got;

			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fd < 0 && ret_fd)
				fd = got;
			else
				close(got); /* unexpected extra fds */
		}
	}
	if (n == 0) {
		if (fd >= 0)
			close(fd);
		return -EPIPE;
	}
	if ((size_t)n != sizeof(*msg) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (fd >= 0)
			close(fd);
		return -EBADMSG;
	}
	msg->msg[sizeof(msg->msg) - 1] = '\0';
	if (ret_fd)
		*ret_fd = fd;
	return 0;
}

void sync_fail(int sock, const struct error *err)
{
	struct sync_msg m = { .type = SYNC_ERROR, .code = err->code ? err->code : -EIO };

	memcpy(m.msg, err->msg, sizeof(m.msg));
	m.msg[sizeof(m.msg) - 1] = '\0';
	(void)!sync_send(sock, &m, -1);
	_exit(127);
}
