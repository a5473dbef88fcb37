/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stdio relay between containerd-style FIFOs and socketpairs standing
 * in for the guest's vsock streams: all output reaches the FIFOs and their
 * readers see EOF by the time stdio_relay_wait_output() returns (what the
 * exit report waits for); stdin EOF half-closes the stream; the terminal
 * mode's single stream both ways (and stdin EOF not ending it); CloseIO;
 * an output FIFO without a reader at open; a reader that leaves (output
 * drained and dropped, the guest never blocked); file:// and bad URIs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/test.h"
#include "stdio-relay.h"
#include "util.h"

static char dir[] = "/tmp/nacelle-stdio-test.XXXXXX";
static char in_path[256], out_path[256], err_path[256];

/* A containerd-side reader of an output FIFO, collecting until EOF. */
struct reader {
	int fd;
	char *data;
	size_t len, cap;
	bool eof;
	size_t stop_after; /* close after this many bytes (0: never) */
	pthread_t t;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;

	for (;;) {
		char buf[8192];
		ssize_t n = read(rd->fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rd->eof = n == 0;
			break;
		}
		if (rd->len + (size_t)n > rd->cap) {
			rd->cap = (rd->len + (size_t)n) * 2;
			rd->data = realloc(rd->data, rd->cap);
		}
		memcpy(rd->data + rd->len, buf, (size_t)n);
		rd->len += (size_t)n;
		if (rd->stop_after && rd->len >= rd->stop_after)
			break;
	}
	close(rd->fd);
	return NULL;
}

/* Open the FIFO's read end first (as containerd does), then read in a thread. */
static void reader_open(struct reader *rd, const char *path)
{
	memset(rd, 0, sizeof(*rd));
	rd->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(rd->fd >= 0);
	fcntl(rd->fd, F_SETFL, 0);
}

static void reader_start(struct reader *rd)
{
	CHECK_EQ(pthread_create(&rd->t, NULL, reader_main, rd), 0);
}

static void reader_join(struct reader *rd)
{
	pthread_join(rd->t, NULL);
}

static void make_fifos(void)
{
	unlink(in_path);
	unlink(out_path);
	unlink(err_path);
	CHECK_EQ(mkfifo(in_path, 0600), 0);
	CHECK_EQ(mkfifo(out_path, 0600), 0);
	CHECK_EQ(mkfifo(err_path, 0600), 0);
}

static void pair(int *relay_end, int *guest_end)
{
	int sv[2];

	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	*relay_end = sv[0];
	*guest_end = sv[1];
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		CHECK(n > 0);
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* Read until EOF (or timeout); returns the byte count, data in buf. */
static ssize_t read_to_eof(int fd, char *buf, size_t size, int timeout_ms)
{
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		n = read(fd, buf + len, size - len);
		if (n <= 0)
			return n < 0 ? -errno : (ssize_t)len;
		len += (size_t)n;
	}
}

static void test_pipes(void)
{
	struct shim_stdio paths = { in_path, out_path, err_path, false };
	struct stdio_relay *r = NULL;
	struct error err = { 0 };
	struct reader out, errr;
	int fds[STDIO__MAX], g_in, g_out, g_err, w;
	size_t big = 200 * 1024;
	char *pattern = malloc(big), buf[64];

	for (size_t i = 0; i < big; i++)
		pattern[i] = (char)('a' + i % 23);
	make_fifos();
	reader_open(&out, out_path);
	reader_open(&errr, err_path);
	CHECK_EQ(stdio_relay_open(&paths, &r, &err), 0);
	if (!r)
		return;
	CHECK(stdio_relay_wants(r, STDIO_STDIN));
	CHECK(stdio_relay_wants(r, STDIO_STDOUT));
	CHECK(stdio_relay_wants(r, STDIO_STDERR));
	CHECK(!stdio_relay_wants(r, STDIO_TERMINAL));
	pair(&fds[STDIO_STDIN], &g_in);
	pair(&fds[STDIO_STDOUT], &g_out);
	pair(&fds[STDIO_STDERR], &g_err);
	fds[STDIO_TERMINAL] = -1;
	CHECK_EQ(stdio_relay_start(r, fds, &err), 0);
	CHECK(fds[STDIO_STDOUT] == -1);
	reader_start(&out);
	reader_start(&errr);

	/* Output not finished: the exit report would wait. */
	write_all(g_out, pattern, 1000);
	CHECK_EQ(stdio_relay_wait_output(r, 100), -ETIMEDOUT);

	/* stdin: containerd writes, closes; the guest reads it, then EOF. */
	w = open(in_path, O_WRONLY | O_CLOEXEC);
	CHECK(w >= 0);
	write_all(w, "input line\n", 11);
	close(w);
	CHECK_EQ(read_to_eof(g_in, buf, sizeof(buf), 2000), 11);
	CHECK(memcmp(buf, "input line\n", 11) == 0);

	/* The process writes the rest and exits: streams end. */
	write_all(g_out, pattern + 1000, big - 1000);
	write_all(g_err, "oops\n", 5);
	close(g_out);
	close(g_err);
	CHECK_EQ(stdio_relay_wait_output(r, 5000), 0);
	/* By now every byte is in the FIFO and the relay closed it: the
	 * readers reach EOF with everything. */
	reader_join(&out);
	reader_join(&errr);
	CHECK(out.eof && errr.eof);
	CHECK_EQ(out.len, big);
	CHECK(out.data && memcmp(out.data, pattern, big) == 0);
	CHECK_EQ(errr.len, 5);
	CHECK_EQ(stdio_relay_bytes_out(r), big);
	stdio_relay_free(r);
	close(g_in);
	free(out.data);
	free(errr.data);
	free(pattern);
}

static void test_terminal(void)
{
	struct shim_stdio paths = { in_path, out_path, NULL, true };
	struct stdio_relay *r = NULL;
	struct error err = { 0 };
	struct reader out;
	int fds[STDIO__MAX] = { -1, -1, -1, -1 }, g, w;
	char buf[64];
	struct pollfd p;

	make_fifos();
	reader_open(&out, out_path);
	CHECK_EQ(stdio_relay_open(&paths, &r, &err), 0);
	if (!r)
		return;
	CHECK(stdio_relay_wants(r, STDIO_TERMINAL));
	CHECK(!stdio_relay_wants(r, STDIO_STDIN) && !stdio_relay_wants(r, STDIO_STDOUT));
	pair(&fds[STDIO_TERMINAL], &g);
	CHECK_EQ(stdio_relay_start(r, fds, &err), 0);
	reader_start(&out);

	/* Both directions on one stream. */
	write_all(g, "prompt$ ", 8);
	w = open(in_path, O_WRONLY | O_CLOEXEC);
	write_all(w, "ls\n", 3);
	p = (struct pollfd){ .fd = g, .events = POLLIN };
	CHECK_EQ(poll(&p, 1, 2000), 1);
	CHECK_EQ(read(g, buf, sizeof(buf)), 3);
	CHECK(memcmp(buf, "ls\n", 3) == 0);
	/* containerd's stdin ends: the terminal stream does not. */
	close(w);
	CHECK_EQ(poll(&p, 1, 200), 0);
	write_all(g, "still here\n", 11);
	CHECK_EQ(stdio_relay_wait_output(r, 100), -ETIMEDOUT);
	close(g);
	CHECK_EQ(stdio_relay_wait_output(r, 5000), 0);
	reader_join(&out);
	CHECK(out.eof);
	CHECK_EQ(out.len, 19);
	CHECK(out.data && memcmp(out.data, "prompt$ still here\n", 19) == 0);
	stdio_relay_free(r);
	free(out.data);
}

static void test_close_stdin(void)
{
	struct shim_stdio paths = { in_path, NULL, NULL, false };
	struct stdio_relay *r = NULL;
	struct error err = { 0 };
	int fds[STDIO__MAX] = { -1, -1, -1, -1 }, g, w;
	char buf[64];

	make_fifos();
	CHECK_EQ(stdio_relay_open(&paths, &r, &err), 0);
	if (!r)
		return;
	CHECK(!stdio_relay_wants(r, STDIO_STDOUT));
	pair(&fds[STDIO_STDIN], &g);
	CHECK_EQ(stdio_relay_start(r, fds, &err), 0);
	/* containerd keeps its end open and asks CloseIO. */
	w = open(in_path, O_WRONLY | O_CLOEXEC);
	write_all(w, "abc", 3);
	sleep_ms(50);
	CHECK_EQ(stdio_relay_close_stdin(r, 2000), 0);
	CHECK_EQ(read_to_eof(g, buf, sizeof(buf), 2000), 3);
	CHECK(memcmp(buf, "abc", 3) == 0);
	/* No output streams: nothing to wait for. */
	CHECK_EQ(stdio_relay_wait_output(r, 10), 0);
	close(w);
	close(g);
	stdio_relay_free(r);
}

/* containerd's reader leaves: the guest's output is still drained, dropped. */
static void test_reader_leaves(void)
{
	struct shim_stdio paths = { NULL, out_path, NULL, false };
	struct stdio_relay *r = NULL;
	struct error err = { 0 };
	struct reader out;
	int fds[STDIO__MAX] = { -1, -1, -1, -1 }, g;
	size_t big = 1024 * 1024;
	char *data = calloc(1, big);

	make_fifos();
	reader_open(&out, out_path);
	out.stop_after = 1;
	CHECK_EQ(stdio_relay_open(&paths, &r, &err), 0);
	if (!r)
		return;
	pair(&fds[STDIO_STDOUT], &g);
	CHECK_EQ(stdio_relay_start(r, fds, &err), 0);
	reader_start(&out);
	/* 1 MiB: far more than the socket and pipe buffers hold. */
	write_all(g, data, big);
	close(g);
	CHECK_EQ(stdio_relay_wait_output(r, 5000), 0);
	reader_join(&out);
	stdio_relay_free(r);
	free(out.data);
	free(data);
}

/* No reader yet when the FIFO is opened: opened anyway. */
static void test_no_reader(void)
{
	struct shim_stdio paths = { NULL, out_path, NULL, false };
	struct stdio_relay *r = NULL;
	struct error err = { 0 };
	int fds[STDIO__MAX] = { -1, -1, -1, -1 }, g;

	make_fifos();
	CHECK_EQ(stdio_relay_open(&paths, &r, &err), 0);
	if (!r)
		return;
	pair(&fds[STDIO_STDOUT], &g);
	CHECK_EQ(stdio_relay_start(r, fds, &err), 0);
	write_all(g, "hello", 5);
	close(g);
	CHECK_EQ(stdio_relay_wait_output(r, 5000), 0);
	stdio_relay_free(r);
}

static void test_paths(void)
{
	char file_uri[320], file_path[300], buf[32];
	struct shim_stdio paths = { NULL, file_uri, NULL, false };
	struct shim_stdio binary = { NULL, "binary:///usr/bin/logger?x=1", NULL, false };
	struct shim_stdio missing = { "/nonexistent/fifo", NULL, NULL, false };
	struct shim_stdio none = { "", "", "", false };
	struct stdio_relay *r = NULL;
	struct error err = { 0 };
	int fds[STDIO__MAX] = { -1, -1, -1, -1 }, g, fd;

	snprintf(file_path, sizeof(file_path), "%s/out.log", dir);
	snprintf(file_uri, sizeof(file_uri), "file://%s", file_path);
	CHECK_EQ(stdio_relay_open(&paths, &r, &err), 0);
	pair(&fds[STDIO_STDOUT], &g);
	CHECK_EQ(stdio_relay_start(r, fds, &err), 0);
	write_all(g, "logged", 6);
	close(g);
	CHECK_EQ(stdio_relay_wait_output(r, 5000), 0);
	stdio_relay_free(r);
	fd = open(file_path, O_RDONLY);
	CHECK_EQ(read(fd, buf, sizeof(buf)), 6);
	close(fd);

	CHECK_EQ(stdio_relay_open(&binary, &r, &err), -EOPNOTSUPP);
	CHECK(strstr(err.msg, "binary://") != NULL);
	CHECK_EQ(stdio_relay_open(&missing, &r, &err), -ENOENT);
	CHECK(strstr(err.msg, "/nonexistent/fifo") != NULL);

	/* Nothing connected: no streams, no thread, nothing to wait for. */
	CHECK_EQ(stdio_relay_open(&none, &r, &err), 0);
	for (int s = 0; s < STDIO__MAX; s++)
		CHECK(!stdio_relay_wants(r, (enum stdio_stream)s));
	CHECK_EQ(stdio_relay_start(r, fds, &err), 0);
	CHECK_EQ(stdio_relay_wait_output(r, 10), 0);
	CHECK_EQ(stdio_relay_close_stdin(r, 10), 0);
	stdio_relay_free(r);
	stdio_relay_free(NULL);
}

/* Stopping in the middle: the thread ends, every fd is closed. */
static void test_stop(void)
{
	struct shim_stdio paths = { in_path, out_path, err_path, false };
	struct stdio_relay *r = NULL;
	struct error err = { 0 };
	struct reader out, errr;
	int fds[STDIO__MAX] = { -1, -1, -1, -1 }, g_in, g_out, g_err;
	char buf[8];

	make_fifos();
	reader_open(&out, out_path);
	reader_open(&errr, err_path);
	CHECK_EQ(stdio_relay_open(&paths, &r, &err), 0);
	if (!r)
		return;
	pair(&fds[STDIO_STDIN], &g_in);
	pair(&fds[STDIO_STDOUT], &g_out);
	pair(&fds[STDIO_STDERR], &g_err);
	CHECK_EQ(stdio_relay_start(r, fds, &err), 0);
	reader_start(&out);
	reader_start(&errr);
	stdio_relay_stop(r);
	/* The guest ends see the relay's ends closed. */
	CHECK_EQ(read(g_out, buf, sizeof(buf)), 0);
	CHECK_EQ(read(g_in, buf, sizeof(buf)), 0);
	reader_join(&out);
	reader_join(&errr);
	CHECK(out.eof && errr.eof);
	CHECK_EQ(stdio_relay_wait_output(r, 10), 0);
	stdio_relay_free(r);
	close(g_in);
	close(g_out);
	close(g_err);
	free(out.data);
	free(errr.data);
}

static int count_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

int main(void)
{
	int before;

	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(in_path, sizeof(in_path), "%s/stdin", dir);
	snprintf(out_path, sizeof(out_path), "%s/stdout", dir);
	snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
	before = count_fds();
	test_pipes();
	test_terminal();
	test_close_stdin();
	test_reader_leaves();
	test_no_reader();
	test_paths();
	test_stop();
	CHECK_EQ(count_fds(), before);
	CHECK_EQ(rm_rf(dir), 0);
	fprintf(stderr, "%d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
