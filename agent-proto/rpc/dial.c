/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connecting to the agent from the host: a Unix socket, or a guest vsock port
 * through the VMM's hybrid vsock socket ("CONNECT <port>\n" -> "OK <hostport>\n").
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent-proto/rpc.h"
#include "common/macros.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int agent_rpc_dial_unix(const char *path, struct error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;

	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return error_set(err, -ENAMETOOLONG, "socket path too long: %s", path ? path : "");
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return error_set(err, -errno, "connecting to %s: %s", path, strerror(errno));
	return TAKE_FD(fd);
}

/* Wait for fd to become ready for events until deadline (ms, monotonic). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - now_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)MIN(left, INT32_MAX));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r > 0)
			return 0;
	}
}

int agent_rpc_dial_hybrid_vsock(const char *uds_path, uint32_t port, int timeout_ms,
				struct error *err)
{
	char line[AGENT_RPC_HANDSHAKE_LINE_MAX + 1];
	int64_t deadline;
	size_t len = 0, off = 0;
	_cleanup_close_ int fd = -1;
	int r, n;

	if (timeout_ms <= 0)
		timeout_ms = AGENT_RPC_HANDSHAKE_TIMEOUT_MS;
	deadline = now_ms() + timeout_ms;
	fd = agent_rpc_dial_unix(uds_path, err);
	if (fd < 0)
		return fd;

	/* The whole line in one write: Firecracker reads at least 10 bytes at once. */
	n = snprintf(line, sizeof(line), "CONNECT %" PRIu32 "\n", port);
	while (off < (size_t)n) {
		ssize_t w;

		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			return error_set(err, r, "%s: sending CONNECT %" PRIu32 ": %s", uds_path,
					 port, strerror(-r));
		w = send(fd, line + off, (size_t)n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0)
			return error_set(err, -errno, "%s: sending CONNECT %" PRIu32 ": %s",
					 uds_path, port, strerror(errno));
		off += (size_t)w;
	}

	/* Byte by byte up to '\n', so not one byte of the stream after it is
	 * consumed here. */
	for (;;) {
		ssize_t got;
		char ch;

		r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			return error_set(err, r, "%s: no answer to CONNECT %" PRIu32 " within %d ms",
					 uds_path, port, timeout_ms);
		got = recv(fd, &ch, 1, MSG_DONTWAIT);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0)
			return error_set(err, -errno, "%s: reading the answer to CONNECT %" PRIu32
					 ": %s", uds_path, port, strerror(errno));
		if (got == 0)
			return error_set(err, -ECONNREFUSED,
					 "%s: connection closed after CONNECT %" PRIu32
					 " (nothing listens on that guest port?)",
					 uds_path, port);
		if (ch == '\n')
			break;
		if (len >= AGENT_RPC_HANDSHAKE_LINE_MAX)
			return error_set(err, -EPROTO, "%s: answer to CONNECT longer than %d bytes",
					 uds_path, AGENT_RPC_HANDSHAKE_LINE_MAX);
		line[len++] = ch;
	}
	line[len] = '\0';
	if (strncmp(line, "OK ", 3) != 0 || len == 3 || strspn(line + 3, "0123456789") != len - 3)
		return error_set(err, -EPROTO, "%s: unexpected answer to CONNECT %" PRIu32 ": \"%.32s\"",
				 uds_path, port, line);
	return TAKE_FD(fd);
}
