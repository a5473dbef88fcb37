/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsocktool: concurrent, self-verifying vsock streams for device tests and
 * benchmarks, inside the guest (AF_VSOCK) and on the host (the hybrid
 * Unix-socket scheme of Firecracker / Cloud Hypervisor / nacelle). Built
 * static so it runs in a busybox-only initramfs.
 *
 *   vsocktool guest-listen PORT N               accept N streams on vsock PORT
 *   vsocktool guest-connect CID PORT N BYTES [--oneway]
 *                                               N streams from the guest to CID:PORT
 *   vsocktool host-connect SOCKET PORT N BYTES [--stall K] [--oneway]
 *                                               N streams via "CONNECT PORT\n" on SOCKET
 *   vsocktool host-listen SOCKET_P N            accept N streams on SOCKET_P
 *                                               (= <socket>_<port>, for guest-connect)
 *
 * Protocol, per stream i (0..N-1), all streams at once in one poll loop:
 *   connecting side: 16-byte preamble "VSK1" le32 i le64 BYTES, then BYTES
 *                    of pattern(i), then shutdown(SHUT_WR);
 *   listening side:  reads the preamble, checks the BYTES that follow
 *                    against pattern(i) and that EOF comes right after,
 *                    sends BYTES of pattern(i + 1000) back and closes;
 *   connecting side: checks it receives exactly that, then EOF.
 * pattern(s) is a splitmix64 stream seeded by s; each side also prints an
 * FNV-1a 64 checksum of what it received, per stream.
 *
 * --oneway (connecting sides): the preamble's magic is "VSK0" and the
 * listening side sends no reply (an empty one): the stream measures one
 * direction, for benchmarks.
 *
 * --stall K (host-connect): stream K stops reading after its first 64 KiB
 * and is never finished; the tool reports when all the others are done (so
 * a test can check that a stalled peer does not stall the other streams)
 * and then closes it (the guest side will see that stream fail).
 *
 * Prints one line per stream, then
 *   "streams=N bytes=B seconds=S MBps=R ok"
 * (B counts both directions). Exits non-zero on any mismatch, error or
 * timeout. Connects retry for VSOCKTOOL_CONNECT_SECONDS (default 30); the
 * whole run has a deadline of VSOCKTOOL_TIMEOUT_SECONDS (default 600).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define VT_BUF (64 * 1024)
#define VT_PREAMBLE 16
#define VT_MAX_STREAMS 4096
#define VT_STALL_AFTER (64 * 1024)
#define VT_REPLY_SEED_OFFSET 1000
#define VT_HANDSHAKE_LINE_MAX 64

enum vt_phase {
	VT_HANDSHAKE,	/* host-connect: waiting for "OK <port>\n" (done before the loop) */
	VT_SEND,	/* connecting side: preamble + data, then SHUT_WR */
	VT_RECV,	/* connecting side: the reply until EOF */
	VT_RECV_PRE,	/* listening side: the preamble */
	VT_RECV_DATA,	/* listening side: data until BYTES, then EOF */
	VT_REPLY,	/* listening side: sending the reply */
	VT_DONE,
	VT_FAILED,
	VT_STALLED,
};

struct vt_stream {
	int fd;
	enum vt_phase phase;
	uint32_t index;
	uint64_t bytes;		/* BYTES of this stream */
	uint64_t reply;		/* bytes of the reply: BYTES, or 0 when one-way */
	uint64_t off;		/* progress in the current phase */
	uint8_t pre[VT_PREAMBLE];
	uint32_t pre_len;
	uint64_t fnv;
	uint64_t received;	/* data bytes received and checked */
	uint64_t total;		/* bytes moved, both directions */
	bool stall;
};

static uint8_t buf[VT_BUF], expect[VT_BUF];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : def;
}

static uint64_t splitmix64(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* Bytes [off, off+len) of pattern(seed). */
static void pattern(uint32_t seed, uint64_t off, uint8_t *p, size_t len)
{
	uint64_t base = (uint64_t)seed << 40;

	for (size_t i = 0; i < len;) {
		uint64_t o = off + i, w = splitmix64(base ^ (o >> 3));
		unsigned int k = (unsigned int)(o & 7);

		for (; k < 8 && i < len; k++, i++)
			p[i] = (uint8_t)(w >> (8 * k));
	}
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

#define FNV_INIT UINT64_C(0xcbf29ce484222325)

static int usage(void)
{
	fprintf(stderr,
		"usage: vsocktool guest-listen PORT N\n"
		"       vsocktool guest-connect CID PORT N BYTES [--oneway]\n"
		"       vsocktool host-connect SOCKET PORT N BYTES [--stall K] [--oneway]\n"
		"       vsocktool host-listen SOCKET_P N\n");
	return 2;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return false;
	*ret = v;
	return true;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void fail(struct vt_stream *s, const char *why)
{
	fprintf(stderr, "vsocktool: stream %u: %s%s%s\n", s->index, why, errno ? ": " : "",
		errno ? strerror(errno) : "");
	s->phase = VT_FAILED;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* Connecting side ------------------------------------------------------ */

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		fprintf(stderr, "vsocktool: %s: path too long\n", path);
		return -1;
	}
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

/* The hybrid handshake, blocking with a receive timeout; 0 or -1. */
static int hybrid_handshake(int fd, uint32_t port)
{
	char line[VT_HANDSHAKE_LINE_MAX];
	struct timeval tv = { .tv_sec = 10 }; /* as Kata's dialer */
	int n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	size_t len = 0;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, line, (size_t)n) != n)
		return -1;
	/* byte by byte: what follows the newline is stream data */
	while (len + 1 < sizeof(line)) {
		char ch;

		if (read(fd, &ch, 1) != 1)
			return -1;
		if (ch == '\n')
			break;
		line[len++] = ch;
	}
	line[len] = 0;
	if (strncmp(line, "OK ", 3) != 0) {
		errno = EPROTO;
		return -1;
	}
	tv.tv_sec = 0;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

/* Connect (retrying while the peer is not there yet); fd or -1. */
static int connect_retry(bool hybrid, const char *path, uint32_t cid, uint32_t port)
{
	double deadline = now() + env_int("VSOCKTOOL_CONNECT_SECONDS", 30);

	for (;;) {
		int fd;

		if (hybrid) {
			struct sockaddr_un sa;

			if (unix_addr(path, &sa) < 0)
				return -1;
			fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
			    hybrid_handshake(fd, port) == 0)
				return fd;
		} else {
			struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = cid,
						  .svm_port = port };

			fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
				return fd;
		}
		if (fd >= 0)
			close(fd);
		if (now() >= deadline) {
			perror("vsocktool: connect");
			return -1;
		}
		usleep(100 * 1000);
	}
}

static void step_send(struct vt_stream *s)
{
	while (s->phase == VT_SEND) {
		size_t n;
		ssize_t w;

		if (s->pre_len < VT_PREAMBLE) {
			w = send(s->fd, s->pre + s->pre_len, VT_PREAMBLE - s->pre_len, MSG_NOSIGNAL);
			if (w < 0)
				goto err;
			s->pre_len += (uint32_t)w;
			continue;
		}
		if (s->off == s->bytes) {
			if (shutdown(s->fd, SHUT_WR) < 0)
				return fail(s, "shutdown");
			s->phase = VT_RECV;
			s->off = 0;
			return;
		}
		n = (size_t)(s->bytes - s->off < VT_BUF ? s->bytes - s->off : VT_BUF);
		pattern(s->index, s->off, buf, n);
		w = send(s->fd, buf, n, MSG_NOSIGNAL);
		if (w < 0)
			goto err;
		s->off += (uint64_t)w;
		s->total += (uint64_t)w;
	}
	return;
err:
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		fail(s, "send");
}

/* Receive and check pattern(seed) up to `limit` bytes, then expect EOF.
 * Returns 1 at EOF after exactly limit bytes, 0 to wait, -1 failed. */
static int recv_check(struct vt_stream *s, uint32_t seed, uint64_t limit)
{
	for (;;) {
		size_t want = VT_BUF;
		ssize_t n;

		if (s->stall && s->off >= VT_STALL_AFTER) {
			s->phase = VT_STALLED;
			return 0;
		}
		if (s->stall)
			want = (size_t)(VT_STALL_AFTER - s->off);
		n = recv(s->fd, buf, want, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return 0;
			fail(s, "recv");
			return -1;
		}
		if (n == 0) {
			if (s->off != limit) {
				errno = 0;
				fprintf(stderr, "vsocktool: stream %u: EOF after %llu of %llu bytes\n",
					s->index, (unsigned long long)s->off,
					(unsigned long long)limit);
				fail(s, "short stream");
				return -1;
			}
			return 1;
		}
		if (s->off + (uint64_t)n > limit) {
			errno = 0;
			fail(s, "more data than announced");
			return -1;
		}
		pattern(seed, s->off, expect, (size_t)n);
		if (memcmp(buf, expect, (size_t)n) != 0) {
			errno = 0;
			fprintf(stderr, "vsocktool: stream %u: data mismatch near offset %llu\n",
				s->index, (unsigned long long)s->off);
			fail(s, "mismatch");
			return -1;
		}
		s->fnv = fnv1a(s->fnv, buf, (size_t)n);
		s->received += (uint64_t)n;
		s->off += (uint64_t)n;
		s->total += (uint64_t)n;
	}
}

/* Listening side ------------------------------------------------------- */

static void step_listen_side(struct vt_stream *s)
{
	if (s->phase == VT_RECV_PRE) {
		ssize_t n = recv(s->fd, s->pre + s->pre_len, VT_PREAMBLE - s->pre_len, 0);

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				fail(s, "recv");
			return;
		}
		if (n == 0) {
			errno = 0;
			return fail(s, "EOF in the preamble");
		}
		s->pre_len += (uint32_t)n;
		if (s->pre_len < VT_PREAMBLE)
			return;
		if (memcmp(s->pre, "VSK1", 4) != 0 && memcmp(s->pre, "VSK0", 4) != 0) {
			errno = 0;
			return fail(s, "bad preamble");
		}
		s->index = (uint32_t)s->pre[4] | (uint32_t)s->pre[5] << 8 |
			   (uint32_t)s->pre[6] << 16 | (uint32_t)s->pre[7] << 24;
		s->bytes = 0;
		for (int i = 7; i >= 0; i--)
			s->bytes = s->bytes << 8 | s->pre[8 + i];
		s->reply = s->pre[3] == '1' ? s->bytes : 0;
		s->phase = VT_RECV_DATA;
		s->off = 0;
	}
	if (s->phase == VT_RECV_DATA) {
		int r = recv_check(s, s->index, s->bytes);

		if (r <= 0)
			return;
		s->phase = VT_REPLY;
		s->off = 0;
	}
	if (s->phase == VT_REPLY) {
		while (s->off < s->reply) {
			size_t n = (size_t)(s->reply - s->off < VT_BUF ? s->reply - s->off : VT_BUF);
			ssize_t w;

			pattern(s->index + VT_REPLY_SEED_OFFSET, s->off, buf, n);
			w = send(s->fd, buf, n, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
					fail(s, "send");
				return;
			}
			s->off += (uint64_t)w;
			s->total += (uint64_t)w;
		}
		close(s->fd);
		s->fd = -1;
		s->phase = VT_DONE;
	}
}

/* The loop ------------------------------------------------------------- */

static void step(struct vt_stream *s)
{
	if (s->phase == VT_SEND)
		step_send(s);
	if (s->phase == VT_RECV) {
		int r = recv_check(s, s->index + VT_REPLY_SEED_OFFSET, s->reply);

		if (r == 1) {
			close(s->fd);
			s->fd = -1;
			s->phase = VT_DONE;
		}
	}
	if (s->phase == VT_RECV_PRE || s->phase == VT_RECV_DATA || s->phase == VT_REPLY)
		step_listen_side(s);
}

static short events_for(const struct vt_stream *s)
{
	switch (s->phase) {
	case VT_SEND:
	case VT_REPLY:
		return POLLOUT;
	case VT_RECV:
	case VT_RECV_PRE:
	case VT_RECV_DATA:
		return POLLIN;
	default:
		return 0;
	}
}

static bool finished(const struct vt_stream *s)
{
	return s->phase == VT_DONE || s->phase == VT_FAILED || s->phase == VT_STALLED;
}

/*
 * Run every stream to its end. lfd >= 0: accept up to n streams from it
 * (listening side). Returns the exit code.
 */
static int run(struct vt_stream *st, unsigned int n, int lfd, double t0)
{
	struct pollfd *pfd = calloc(n + 1, sizeof(*pfd));
	double deadline = t0 + env_int("VSOCKTOOL_TIMEOUT_SECONDS", 600);
	unsigned int accepted = lfd >= 0 ? 0 : n, failed = 0, stalled = 0;
	uint64_t total = 0;
	double secs;

	if (!pfd)
		return 1;
	for (;;) {
		unsigned int np = 0, open = 0;
		int r;

		if (accepted < n) {
			pfd[np++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		}
		for (unsigned int i = 0; i < accepted; i++) {
			if (finished(&st[i]) || st[i].fd < 0)
				continue;
			open++;
			pfd[np++] = (struct pollfd){ .fd = st[i].fd, .events = events_for(&st[i]) };
		}
		if (open == 0 && accepted == n)
			break;
		if (now() >= deadline) {
			fprintf(stderr, "vsocktool: timeout with %u streams unfinished\n", open);
			free(pfd);
			return 1;
		}
		r = poll(pfd, np, 1000);
		if (r < 0 && errno != EINTR) {
			perror("vsocktool: poll");
			free(pfd);
			return 1;
		}
		if (accepted < n && (pfd[0].revents & POLLIN)) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (fd >= 0) {
				st[accepted] = (struct vt_stream){ .fd = fd, .phase = VT_RECV_PRE,
								   .index = accepted, .fnv = FNV_INIT };
				accepted++;
			}
		}
		for (unsigned int i = 0; i < accepted; i++)
			if (!finished(&st[i]) && st[i].fd >= 0)
				step(&st[i]);
	}
	secs = now() - t0;
	for (unsigned int i = 0; i < n; i++) {
		const char *res = st[i].phase == VT_DONE ? "ok"
				  : st[i].phase == VT_STALLED ? "stalled (as asked)"
							      : "FAILED";

		printf("stream %u: bytes=%llu received=%llu fnv1a=%016llx %s\n", st[i].index,
		       (unsigned long long)st[i].bytes, (unsigned long long)st[i].received,
		       (unsigned long long)st[i].fnv, res);
		failed += st[i].phase == VT_FAILED;
		stalled += st[i].phase == VT_STALLED;
		total += st[i].total;
	}
	free(pfd);
	printf("streams=%u bytes=%llu seconds=%.3f MBps=%.1f %s\n", n - stalled,
	       (unsigned long long)total, secs, secs > 0 ? (double)total / 1e6 / secs : 0.0,
	       failed ? "FAILED" : "ok");
	return failed ? 1 : 0;
}

static int run_connect(bool hybrid, const char *path, uint32_t cid, uint32_t port,
		       unsigned int n, uint64_t bytes, long stall, bool oneway)
{
	struct vt_stream *st = calloc(n, sizeof(*st));
	double t0 = now();
	int rc;

	if (!st)
		return 1;
	for (unsigned int i = 0; i < n; i++) {
		struct vt_stream *s = &st[i];

		*s = (struct vt_stream){ .index = i, .bytes = bytes, .reply = oneway ? 0 : bytes,
					 .phase = VT_SEND, .fnv = FNV_INIT, .stall = (long)i == stall };
		memcpy(s->pre, oneway ? "VSK0" : "VSK1", 4);
		for (int k = 0; k < 4; k++)
			s->pre[4 + k] = (uint8_t)(i >> (8 * k));
		for (int k = 0; k < 8; k++)
			s->pre[8 + k] = (uint8_t)(bytes >> (8 * k));
		s->fd = connect_retry(hybrid, path, cid, port);
		if (s->fd < 0) {
			fprintf(stderr, "vsocktool: stream %u: cannot connect\n", i);
			return 1;
		}
		set_nonblock(s->fd);
	}
	rc = run(st, n, -1, t0);
	for (unsigned int i = 0; i < n; i++)
		if (st[i].fd >= 0)
			close(st[i].fd);
	free(st);
	return rc;
}

static int run_listen(bool hybrid, const char *path, uint32_t port, unsigned int n)
{
	struct vt_stream *st = calloc(n, sizeof(*st));
	int lfd, rc;

	if (!st)
		return 1;
	if (hybrid) {
		struct sockaddr_un sa;

		if (unix_addr(path, &sa) < 0)
			return 1;
		(void)unlink(path);
		lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("vsocktool: bind");
			return 1;
		}
	} else {
		struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
					  .svm_port = port };

		lfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("vsocktool: bind");
			return 1;
		}
	}
	if (listen(lfd, (int)(n < 1024 ? n + 16 : 1024)) < 0) {
		perror("vsocktool: listen");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	/* the clock starts with the first stream, not while waiting for it */
	{
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		(void)poll(&p, 1, env_int("VSOCKTOOL_TIMEOUT_SECONDS", 600) * 1000);
	}
	rc = run(st, n, lfd, now());
	close(lfd);
	if (hybrid)
		(void)unlink(path);
	free(st);
	return rc;
}

int main(int argc, char **argv)
{
	uint64_t n, bytes, port, cid, stall_k = 0;
	long stall = -1;
	bool oneway = false;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[argc - 1], "--oneway") == 0) {
		oneway = true;
		argc--;
	}
	if (argc >= 3 && strcmp(argv[argc - 2], "--stall") == 0) {
		if (!parse_u64(argv[argc - 1], VT_MAX_STREAMS, &stall_k))
			return usage();
		stall = (long)stall_k;
		argc -= 2;
	}
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "guest-listen") == 0 && argc == 4 &&
	    parse_u64(argv[2], UINT32_MAX, &port) && parse_u64(argv[3], VT_MAX_STREAMS, &n) && n)
		return run_listen(false, NULL, (uint32_t)port, (unsigned int)n);
	if (strcmp(argv[1], "guest-connect") == 0 && argc == 6 &&
	    parse_u64(argv[2], UINT32_MAX, &cid) && parse_u64(argv[3], UINT32_MAX, &port) &&
	    parse_u64(argv[4], VT_MAX_STREAMS, &n) && n && parse_u64(argv[5], UINT64_MAX, &bytes))
		return run_connect(false, NULL, (uint32_t)cid, (uint32_t)port, (unsigned int)n,
				   bytes, stall, oneway);
	if (strcmp(argv[1], "host-connect") == 0 && argc == 6 &&
	    parse_u64(argv[3], UINT32_MAX, &port) && parse_u64(argv[4], VT_MAX_STREAMS, &n) && n &&
	    parse_u64(argv[5], UINT64_MAX, &bytes))
		return run_connect(true, argv[2], 0, (uint32_t)port, (unsigned int)n, bytes, stall,
				   oneway);
	if (strcmp(argv[1], "host-listen") == 0 && argc == 4 &&
	    parse_u64(argv[3], VT_MAX_STREAMS, &n) && n)
		return run_listen(true, argv[2], 0, (unsigned int)n);
	return usage();
}
