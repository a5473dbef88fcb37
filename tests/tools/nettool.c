/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nettool: one TCP transfer with a clean end, for device tests and
 * benchmarks inside guests that only have busybox (whose nc stops at stdin
 * EOF and can lose the tail). Built static so it runs in any initramfs.
 *
 *   nettool send HOST PORT FILE     connect, send FILE, shut down, wait for EOF
 *   nettool recv HOST PORT FILE     connect, receive until EOF into FILE
 *   nettool serve PORT FILE         accept once, send FILE
 *   nettool sink PORT FILE          accept once, receive until EOF into FILE
 *   nettool unix PATH               stdin to a Unix stream socket, then its reply to stdout
 *
 * Prints "bytes=N seconds=S MBps=R" on success. Connects retry for up to
 * NETTOOL_CONNECT_SECONDS (default 30); every transfer has an overall
 * deadline of NETTOOL_TIMEOUT_SECONDS (default 600) so nothing hangs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define NETTOOL_BUF (256 * 1024)

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

static int die(const char *what)
{
	fprintf(stderr, "nettool: %s: %s\n", what, strerror(errno));
	return 1;
}

static int parse_addr(const char *host, const char *port, struct sockaddr_in *sa)
{
	char *end;
	long p = strtol(port, &end, 10);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (*end || p <= 0 || p > 65535)
		return -1;
	sa->sin_port = htons((uint16_t)p);
	if (!host) {
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
		return 0;
	}
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int dial(const struct sockaddr_in *sa)
{
	double deadline = now() + env_int("NETTOOL_CONNECT_SECONDS", 30);

	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -1;
		if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
			return fd;
		close(fd);
		if (now() > deadline)
			return -1;
		usleep(100000);
	}
}

static int accept_one(const struct sockaddr_in *sa)
{
	int one = 1, lfd, fd;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 || listen(lfd, 1) < 0) {
		close(lfd);
		return -1;
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	return fd;
}

static int send_file(int sock, const char *path, long long *ret_bytes)
{
	static char buf[NETTOOL_BUF];
	long long total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(sock, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				close(fd);
				return -1;
			}
			off += w;
		}
		total += n;
	}
	close(fd);
	if (n < 0)
		return -1;
	/* Half-close, then wait for the peer's EOF: it has everything then. */
	shutdown(sock, SHUT_WR);
	while ((n = read(sock, buf, sizeof(buf))) > 0)
		;
	*ret_bytes = total;
	return 0;
}

static int recv_file(int sock, const char *path, long long *ret_bytes)
{
	static char buf[NETTOOL_BUF];
	long long total = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(sock, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
		for (ssize_t off = 0; n > 0 && off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));

			if (w <= 0) {
				close(fd);
				return -1;
			}
			off += w;
		}
		if (n > 0)
			total += n;
	}
	if (close(fd) < 0 || n < 0)
		return -1;
	*ret_bytes = total;
	return 0;
}

/* Raw bytes to a Unix socket (an API socket under test) and the answer back. */
static int unix_exchange(const char *path)
{
	static char buf[NETTOOL_BUF];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	ssize_t n;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return 2;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return die("connect");
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			return die("send");
	shutdown(fd, SHUT_WR);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (write(STDOUT_FILENO, buf, (size_t)n) != n)
			return die("write");
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	const char *mode = argc > 1 ? argv[1] : "";
	int sending, listening, sock, r;
	const char *file;
	long long bytes = 0;
	double t0;

	if (!strcmp(mode, "unix") && argc == 3) {
		signal(SIGPIPE, SIG_IGN);
		alarm((unsigned int)env_int("NETTOOL_TIMEOUT_SECONDS", 600));
		return unix_exchange(argv[2]);
	}
	listening = !strcmp(mode, "serve") || !strcmp(mode, "sink");
	sending = !strcmp(mode, "send") || !strcmp(mode, "serve");
	if (!(listening ? argc == 4 : (argc == 5 && (!strcmp(mode, "send") || !strcmp(mode, "recv"))))) {
		fprintf(stderr, "usage: nettool send|recv HOST PORT FILE | nettool serve|sink PORT FILE |"
				" nettool unix PATH\n");
		return 2;
	}
	if (parse_addr(listening ? NULL : argv[2], argv[listening ? 2 : 3], &sa) < 0) {
		fprintf(stderr, "nettool: bad address\n");
		return 2;
	}
	file = argv[listening ? 3 : 4];
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned int)env_int("NETTOOL_TIMEOUT_SECONDS", 600));

	sock = listening ? accept_one(&sa) : dial(&sa);
	if (sock < 0)
		return die(listening ? "accept" : "connect");
	t0 = now();
	r = sending ? send_file(sock, file, &bytes) : recv_file(sock, file, &bytes);
	if (r < 0)
		return die(sending ? "send" : "receive");
	close(sock);
	t0 = now() - t0;
	printf("bytes=%lld seconds=%.3f MBps=%.1f\n", bytes, t0, t0 > 0 ? (double)bytes / t0 / 1e6 : 0.0);
	return 0;
}
