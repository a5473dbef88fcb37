/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 16550A tests, driven through a port bus the way a vCPU would, with a pipe
 * as the output sink and a counter as the interrupt line. The register
 * sequences follow what Linux's 8250 driver does at probe and at run time.
 */
#include "devices/serial.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "devices/bus.h"
#include "common/test.h"


#define PORT SERIAL_PORT_COM1
#define RBR 0
#define IER 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

static atomic_int irq_count;

static int count_irq(void *opaque)
{
	atomic_fetch_add(&irq_count, 1);
	return 0;
}

static const struct irq_line test_irq = { .trigger = count_irq };

struct fixture {
	struct bus bus;
	struct serial *serial;
};

/* Port accesses are not counted as checks; an unclaimed one is a failure. */
static void out8(struct fixture *f, unsigned reg, uint8_t v)
{
	if (!bus_write(&f->bus, PORT + reg, &v, 1)) {
		failures++;
		fprintf(stderr, "serial-test: write to port 0x%x unclaimed\n", PORT + reg);
	}
}

static uint8_t in8(struct fixture *f, unsigned reg)
{
	uint8_t v = 0;

	if (!bus_read(&f->bus, PORT + reg, &v, 1)) {
		failures++;
		fprintf(stderr, "serial-test: read from port 0x%x unclaimed\n", PORT + reg);
	}
	return v;
}

static int fixture_init(struct fixture *f, int out_fd)
{
	int r;

	r = bus_init(&f->bus, "pio");
	if (r < 0)
		return r;
	r = serial_create(out_fd, &test_irq, &f->serial);
	if (r < 0)
		return r;
	return bus_insert(&f->bus, serial_bus_device(f->serial), PORT, SERIAL_PORT_LEN);
}

static void fixture_fini(struct fixture *f)
{
	serial_destroy(f->serial);
	bus_destroy(&f->bus);
}

static void set_nonblock(int fd, bool on)
{
	int flags = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
}

/* Read whatever is in the pipe right now (read end is non-blocking). */
static size_t drain(int fd, uint8_t *buf, size_t cap)
{
	size_t n = 0;

	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	return n;
}

static size_t fill_pipe(int wfd)
{
	static const uint8_t junk[4096];
	size_t n = 0;
	ssize_t r;

	set_nonblock(wfd, true);
	while ((r = write(wfd, junk, sizeof(junk))) > 0)
		n += (size_t)r;
	while ((r = write(wfd, junk, 1)) > 0)
		n += (size_t)r;
	return n;
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_output(void)
{
	struct fixture f;
	uint8_t buf[64];
	int p[2];

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	set_nonblock(p[0], true);
	CHECK_EQ(fixture_init(&f, p[1]), 0);

	out8(&f, LCR, 0x03); /* 8N1 */
	out8(&f, RBR, 'h');
	out8(&f, RBR, 'i');
	out8(&f, RBR, '\n');
	CHECK_EQ(drain(p[0], buf, sizeof(buf)), 3);
	CHECK(memcmp(buf, "hi\n", 3) == 0);
	CHECK_EQ(serial_pending_output(f.serial), 0);
	CHECK_EQ(in8(&f, LSR) & 0x60, 0x60); /* THRE | TEMT */

	/* Divisor latch: read/write with DLAB, nothing transmitted. */
	out8(&f, LCR, 0x83);
	CHECK_EQ(in8(&f, RBR), 12); /* power-on 9600 baud */
	out8(&f, RBR, 0x01);
	out8(&f, IER, 0x00);
	CHECK_EQ(in8(&f, RBR), 0x01);
	CHECK_EQ(in8(&f, IER), 0x00);
	CHECK_EQ(in8(&f, LCR), 0x83);
	out8(&f, LCR, 0x03);
	CHECK_EQ(drain(p[0], buf, sizeof(buf)), 0);
	CHECK_EQ(in8(&f, IER), 0x00);

	/* Scratch register, the 8250 driver's 0xa5/0x5a test. */
	out8(&f, SCR, 0xa5);
	CHECK_EQ(in8(&f, SCR), 0xa5);
	out8(&f, SCR, 0x5a);
	CHECK_EQ(in8(&f, SCR), 0x5a);

	/* A 16-bit write is two byte writes: THR then IER. */
	{
		uint8_t two[2] = { 'Z', 0x00 };

		CHECK(bus_write(&f.bus, PORT + RBR, two, 2));
		CHECK_EQ(drain(p[0], buf, sizeof(buf)), 1);
		CHECK_EQ(buf[0], 'Z');
	}

	fixture_fini(&f);
	close(p[0]);
	close(p[1]);
}

/* The probe sequence of autoconfig() in drivers/tty/serial/8250/8250_port.c. */
static void test_linux_autoconfig(void)
{
	uint8_t save_mcr, scratch, buf[8];
	struct fixture f;
	int p[2], count;

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	set_nonblock(p[0], true);
	CHECK_EQ(fixture_init(&f, p[1]), 0);

	/* IER existence test; IER[7:4] (e.g. the XScale UUE bit) must not stick. */
	scratch = in8(&f, IER);
	out8(&f, IER, 0);
	CHECK_EQ(in8(&f, IER) & 0x0f, 0);
	out8(&f, IER, 0x0f);
	CHECK_EQ(in8(&f, IER) & 0x0f, 0x0f);
	out8(&f, IER, 0x4f);
	CHECK_EQ(in8(&f, IER), 0x0f);
	out8(&f, IER, scratch);

	/* Loopback test. */
	save_mcr = in8(&f, MCR);
	out8(&f, MCR, 0x10 | 0x0a); /* LOOP | RTS | OUT2 */
	CHECK_EQ(in8(&f, MSR) & 0xf0, 0x90);
	out8(&f, MCR, 0x10 | 0x0f);
	CHECK_EQ(in8(&f, MSR) & 0xf0, 0xf0);
	out8(&f, MCR, 0x10 | 0x01);
	CHECK_EQ(in8(&f, MSR) & 0xf0, 0x20);
	out8(&f, MCR, save_mcr);
	CHECK_EQ(in8(&f, MSR) & 0xf0, 0xb0); /* DCD | DSR | CTS: connected */

	/* FIFO: IIR[7:6] == 3 means 16550A. */
	out8(&f, LCR, 0xbf);
	out8(&f, FCR, 0);
	out8(&f, LCR, 0);
	out8(&f, FCR, 0x01);
	CHECK_EQ(in8(&f, IIR) >> 6, 3);
	/* EFR probe (LCR=0xbf) must not read 0, or we'd look like a 16650. */
	out8(&f, LCR, 0xbf);
	CHECK(in8(&f, IIR) != 0);
	out8(&f, LCR, 0);
	/* No 64-byte-FIFO-enable bit (IIR bit 5), or we'd look like a 16750. */
	out8(&f, FCR, 0x01 | 0x20);
	CHECK_EQ(in8(&f, IIR) & 0xe0, 0xc0);

	/* size_fifo(): 256 bytes sent in loopback come back as one FIFO's worth. */
	out8(&f, FCR, 0x07);
	out8(&f, MCR, 0x10);
	for (int i = 0; i < 256; i++)
		out8(&f, RBR, (uint8_t)i);
	count = 0;
	while ((in8(&f, LSR) & 0x01) && count < 256) {
		CHECK_EQ(in8(&f, RBR), count);
		count++;
	}
	CHECK_EQ(count, SERIAL_FIFO_SIZE);
	/* Loopback never reaches the output, and outside input is held off. */
	CHECK_EQ(drain(p[0], buf, sizeof(buf)), 0);
	CHECK_EQ(serial_enqueue_input(f.serial, (const uint8_t *)"x", 1), 0);
	CHECK_EQ(serial_input_space(f.serial), 0);
	out8(&f, MCR, 0);
	CHECK_EQ(serial_input_space(f.serial), SERIAL_FIFO_SIZE);

	fixture_fini(&f);
	close(p[0]);
	close(p[1]);
}

static void test_interrupts(void)
{
	struct fixture f;
	uint8_t buf[8];
	int p[2], base;

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	set_nonblock(p[0], true);
	CHECK_EQ(fixture_init(&f, p[1]), 0);
	out8(&f, FCR, 0x01);

	/* Nothing enabled: no interrupt, whatever happens. */
	base = atomic_load(&irq_count);
	out8(&f, RBR, 'a');
	CHECK_EQ(serial_enqueue_input(f.serial, (const uint8_t *)"q", 1), 1);
	CHECK_EQ(atomic_load(&irq_count), base);
	CHECK_EQ(in8(&f, IIR), 0xc1);
	CHECK_EQ(in8(&f, RBR), 'q');

	/* Enabling THRI raises THR empty at once; reading IIR acknowledges it. */
	out8(&f, IER, 0x02);
	CHECK_EQ(atomic_load(&irq_count), base + 1);
	CHECK_EQ(in8(&f, IIR), 0xc2);
	CHECK_EQ(in8(&f, IIR), 0xc1);
	/* Rewriting the same IER value is no new edge. */
	out8(&f, IER, 0x02);
	CHECK_EQ(atomic_load(&irq_count), base + 1);

	/* Each THR write re-arms it. */
	out8(&f, RBR, 'b');
	CHECK_EQ(atomic_load(&irq_count), base + 2);
	CHECK_EQ(in8(&f, IIR), 0xc2);
	CHECK_EQ(in8(&f, IIR), 0xc1);

	/* Linux's UART_BUG_THRE test: THRI off and on must re-assert it. */
	out8(&f, IER, 0x02);
	CHECK_EQ(in8(&f, IIR) & 0x0f, 0x01);
	out8(&f, IER, 0);
	out8(&f, IER, 0x02);
	CHECK_EQ(in8(&f, IIR) & 0x0f, 0x02);
	out8(&f, IER, 0);
	CHECK_EQ(in8(&f, IIR) & 0x0f, 0x01);

	/* Receive: RDI with "abc". */
	out8(&f, IER, 0x01);
	base = atomic_load(&irq_count);
	CHECK_EQ(in8(&f, LSR) & 0x01, 0);
	CHECK_EQ(serial_enqueue_input(f.serial, (const uint8_t *)"abc", 3), 3);
	CHECK_EQ(atomic_load(&irq_count), base + 1);
	CHECK_EQ(in8(&f, LSR) & 0x01, 0x01);
	CHECK_EQ(in8(&f, IIR), 0xc4);
	CHECK_EQ(in8(&f, RBR), 'a');
	CHECK_EQ(in8(&f, IIR), 0xc4); /* still data: still pending */
	CHECK_EQ(in8(&f, RBR), 'b');
	CHECK_EQ(in8(&f, RBR), 'c');
	CHECK_EQ(in8(&f, LSR) & 0x01, 0);
	CHECK_EQ(in8(&f, IIR), 0xc1);
	CHECK_EQ(in8(&f, RBR), 0); /* empty FIFO */

	/* Receive data outranks THR empty, which stays pending behind it. */
	CHECK_EQ(serial_enqueue_input(f.serial, (const uint8_t *)"z", 1), 1);
	out8(&f, IER, 0x03);
	CHECK_EQ(in8(&f, IIR), 0xc4);
	CHECK_EQ(in8(&f, IIR), 0xc4);
	CHECK_EQ(in8(&f, RBR), 'z');
	CHECK_EQ(in8(&f, IIR), 0xc2);
	CHECK_EQ(in8(&f, IIR), 0xc1);
	out8(&f, IER, 0);

	/* Data waiting when RDI gets enabled raises an edge then. */
	CHECK_EQ(serial_enqueue_input(f.serial, (const uint8_t *)"w", 1), 1);
	base = atomic_load(&irq_count);
	out8(&f, IER, 0x01);
	CHECK_EQ(atomic_load(&irq_count), base + 1);
	CHECK_EQ(in8(&f, RBR), 'w');

	/* With the FIFO disabled, IIR[7:6] read 0. */
	out8(&f, IER, 0);
	out8(&f, FCR, 0x00);
	CHECK_EQ(in8(&f, IIR), 0x01);

	/* Output did go out. */
	CHECK_EQ(drain(p[0], buf, sizeof(buf)), 2);
	CHECK(memcmp(buf, "ab", 2) == 0);

	fixture_fini(&f);
	close(p[0]);
	close(p[1]);
}

static void test_fifo(void)
{
	uint8_t in[100];
	struct fixture f;
	bool ok = true;

	CHECK_EQ(fixture_init(&f, -1), 0);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i + 1);
	CHECK_EQ(serial_input_space(f.serial), SERIAL_FIFO_SIZE);
	CHECK_EQ(serial_enqueue_input(f.serial, in, sizeof(in)), SERIAL_FIFO_SIZE);
	CHECK_EQ(serial_input_space(f.serial), 0);
	CHECK_EQ(serial_enqueue_input(f.serial, in, 1), 0);
	for (int i = 0; i < SERIAL_FIFO_SIZE; i++)
		if (in8(&f, RBR) != (uint8_t)(i + 1))
			ok = false;
	CHECK(ok);
	CHECK_EQ(in8(&f, LSR) & 0x01, 0);

	/* Ring wrap-around: partial refill after partial drain keeps order. */
	CHECK_EQ(serial_enqueue_input(f.serial, in, 40), 40);
	for (int i = 0; i < 30; i++)
		(void)in8(&f, RBR);
	CHECK_EQ(serial_enqueue_input(f.serial, in + 40, 60), 54);
	ok = true;
	for (int i = 30; i < 94; i++)
		if (in8(&f, RBR) != (uint8_t)(i + 1))
			ok = false;
	CHECK(ok);

	/* FCR receive-clear empties the FIFO. */
	CHECK_EQ(serial_enqueue_input(f.serial, in, 10), 10);
	out8(&f, FCR, 0x03);
	CHECK_EQ(in8(&f, LSR) & 0x01, 0);
	CHECK_EQ(serial_input_space(f.serial), SERIAL_FIFO_SIZE);

	fixture_fini(&f);
}

static void test_discard(void)
{
	struct fixture f;

	CHECK_EQ(fixture_init(&f, -1), 0);
	for (int i = 0; i < 1000; i++)
		out8(&f, RBR, 'x');
	CHECK_EQ(serial_pending_output(f.serial), 0);
	CHECK_EQ(serial_dropped_output(f.serial), 0);
	CHECK_EQ(serial_flush(f.serial), 0);
	fixture_fini(&f);
}

/* Pipes take RWF_NOWAIT since Linux 5.x; before that a blocking pipe can block. */
static bool pipe_supports_nowait(void)
{
	struct iovec iov = { .iov_base = (void *)"x", .iov_len = 1 };
	bool ok;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return false;
	ok = pwritev2(p[1], &iov, 1, -1, RWF_NOWAIT) == 1;
	close(p[0]);
	close(p[1]);
	return ok;
}

static void on_alarm(int sig)
{
	static const char msg[] = "serial-test: a THR write blocked on a full sink\n";

	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

/*
 * A full sink: THR writes return at once, bytes wait in order in the ring,
 * and serial_flush() delivers them once the reader drains the pipe. With
 * `blocking`, the pipe's write end is a blocking fd (the RWF_NOWAIT path).
 */
static void test_stalled_sink(bool blocking)
{
	static uint8_t buf[SERIAL_OUT_BUF_SIZE + 4096];
	const size_t n = 1000;
	size_t filled, got;
	struct fixture f;
	double t0, dt;
	bool ok;
	int p[2];

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	set_nonblock(p[0], true);
	filled = fill_pipe(p[1]);
	CHECK(filled > 0);
	set_nonblock(p[1], !blocking);
	CHECK_EQ(fixture_init(&f, p[1]), 0);

	alarm(10); /* a hang fails the test instead of timing out CTest */
	t0 = now_sec();
	for (size_t i = 0; i < n; i++)
		out8(&f, RBR, (uint8_t)('A' + i % 26));
	dt = now_sec() - t0;
	alarm(0);
	CHECK(dt < 1.0);
	CHECK_EQ(serial_pending_output(f.serial), n);
	CHECK_EQ(serial_flush(f.serial), n); /* still full: nothing moves */

	/* The reader catches up. */
	CHECK_EQ(drain(p[0], buf, sizeof(buf)), filled);
	CHECK_EQ(serial_flush(f.serial), 0);
	CHECK_EQ(serial_pending_output(f.serial), 0);
	got = drain(p[0], buf, sizeof(buf));
	CHECK_EQ(got, n);
	ok = true;
	for (size_t i = 0; i < got; i++)
		if (buf[i] != (uint8_t)('A' + i % 26))
			ok = false;
	CHECK(ok);
	CHECK_EQ(serial_dropped_output(f.serial), 0);

	/* Past the ring's size, the newest bytes are dropped and counted. */
	filled = fill_pipe(p[1]);
	set_nonblock(p[1], !blocking);
	alarm(10);
	for (size_t i = 0; i < SERIAL_OUT_BUF_SIZE + 100; i++)
		out8(&f, RBR, (uint8_t)(i % 251));
	alarm(0);
	CHECK_EQ(serial_pending_output(f.serial), SERIAL_OUT_BUF_SIZE);
	CHECK_EQ(serial_dropped_output(f.serial), 100);
	/* Drain and flush in rounds, as an event loop would on EPOLLOUT. */
	CHECK_EQ(drain(p[0], buf, sizeof(buf)), filled);
	got = 0;
	ok = true;
	for (int round = 0; round < 100 && got < SERIAL_OUT_BUF_SIZE; round++) {
		size_t k;

		if (serial_flush(f.serial) < 0)
			break;
		k = drain(p[0], buf, sizeof(buf));
		for (size_t i = 0; i < k; i++)
			if (buf[i] != (uint8_t)((got + i) % 251))
				ok = false;
		got += k;
	}
	CHECK(ok);
	CHECK_EQ(got, SERIAL_OUT_BUF_SIZE);
	CHECK_EQ(serial_pending_output(f.serial), 0);

	fixture_fini(&f);
	close(p[0]);
	close(p[1]);
}

/* A reader that goes away: output is discarded from then on, not retried. */
static void test_broken_sink(void)
{
	struct fixture f;
	int p[2];

	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	CHECK_EQ(fixture_init(&f, p[1]), 0);
	close(p[0]);
	out8(&f, RBR, 'x');
	CHECK_EQ(serial_flush(f.serial), -EPIPE);
	CHECK_EQ(serial_dropped_output(f.serial), 1);
	out8(&f, RBR, 'y');
	CHECK_EQ(serial_dropped_output(f.serial), 2);
	CHECK_EQ(serial_pending_output(f.serial), 0);
	fixture_fini(&f);
	close(p[1]);

	/* A closed fd is refused up front. */
	{
		struct serial *s = NULL;

		CHECK_EQ(serial_create(p[1], NULL, &s), -EBADF);
	}
}

/*
 * A vCPU thread doing the 8250 receive loop and transmitting, against an
 * event loop pushing input and flushing: every input byte arrives once, in
 * order, and every output byte reaches the pipe in order.
 */
#define THREAD_BYTES 20000

struct thread_ctx {
	struct fixture *f;
	int rfd;
};

static void *event_loop_thread(void *arg)
{
	struct thread_ctx *ctx = arg;
	static uint8_t out[THREAD_BYTES];
	size_t sent = 0, got = 0;
	uint8_t b;

	while (sent < THREAD_BYTES || got < THREAD_BYTES) {
		if (sent < THREAD_BYTES) {
			b = (uint8_t)(sent % 253);
			sent += serial_enqueue_input(ctx->f->serial, &b, 1);
		}
		if (serial_flush(ctx->f->serial) < 0)
			break;
		got += drain(ctx->rfd, out + got, THREAD_BYTES - got);
	}
	for (size_t i = 0; i < got; i++)
		if (out[i] != (uint8_t)(i % 251))
			return (void *)1;
	return NULL;
}

static void test_threads(void)
{
	struct thread_ctx ctx = { 0 };
	size_t received = 0, sent = 0;
	struct fixture f;
	pthread_t loop;
	bool ok = true;
	void *ret;
	int p[2];

	CHECK_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	CHECK_EQ(fixture_init(&f, p[1]), 0);
	ctx.f = &f;
	ctx.rfd = p[0];
	out8(&f, FCR, 0x01);
	out8(&f, IER, 0x03);
	CHECK_EQ(pthread_create(&loop, NULL, event_loop_thread, &ctx), 0);

	alarm(60);
	while (received < THREAD_BYTES || sent < THREAD_BYTES) {
		uint8_t iir = in8(&f, IIR);

		if ((iir & 0x0f) == 0x04) {
			while (in8(&f, LSR) & 0x01) {
				if (in8(&f, RBR) != (uint8_t)(received % 253))
					ok = false;
				received++;
			}
		}
		if (sent < THREAD_BYTES) {
			out8(&f, RBR, (uint8_t)(sent % 251));
			sent++;
		}
	}
	pthread_join(loop, &ret);
	alarm(0);
	CHECK(ok);
	CHECK(ret == NULL);
	CHECK_EQ(received, THREAD_BYTES);
	CHECK_EQ(serial_dropped_output(f.serial), 0);

	fixture_fini(&f);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	/* As the VMM does: a vanished reader is an EPIPE, not a fatal signal. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);

	test_output();
	test_linux_autoconfig();
	test_interrupts();
	test_fifo();
	test_discard();
	test_stalled_sink(false);
	if (pipe_supports_nowait())
		test_stalled_sink(true);
	else
		printf("serial-test: skipping the blocking-pipe case: "
		       "this kernel has no RWF_NOWAIT for pipes\n");
	test_broken_sink();
	test_threads();

	printf("serial-test: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
