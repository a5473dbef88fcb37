/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 16550A UART, as much of it as Linux's 8250 driver looks at.
 *
 * Transmission is instantaneous: THR is always empty (LSR.THRE|TEMT) and a
 * THR write immediately re-arms the THR-empty interrupt. The receive side is
 * a 64-byte FIFO filled by the VMM's event loop. There is no line-status or
 * modem-status interrupt: the line never errors and the modem lines never
 * change (MSR delta bits stay 0).
 *
 * Interrupts are edges (the VMM backs the line with an irqfd on an
 * edge-triggered ISA pin). An edge is raised whenever an enabled interrupt
 * source asserts: IER.THRI being enabled, each THR write with THRI enabled,
 * input arriving with IER.RDI enabled, and IER.RDI being enabled while data
 * waits. Linux's 8250 handler loops on IIR until nothing is pending, so an
 * edge while another source is still pending is harmless.
 *
 * Locking: one mutex around all state. Register accesses come from vCPU
 * threads, input and flushes from the event loop. The interrupt is raised
 * after dropping the mutex.
 */
#include "devices/serial.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"

/* Register offsets (DLAB=0 unless noted). */
#define UART_RBR 0 /* read: receive buffer; write: THR */
#define UART_IER 1
#define UART_IIR 2 /* read: IIR; write: FCR */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7
#define UART_DLL 0 /* DLAB=1 */
#define UART_DLM 1 /* DLAB=1 */

#define UART_IER_RDI 0x01
#define UART_IER_THRI 0x02
/* Only the four 16550A enable bits exist; Linux probes that bit 6 (UUE) does not stick. */
#define UART_IER_MASK 0x0f

#define UART_IIR_NO_INT 0x01
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_FIFO_ENABLED 0xc0

#define UART_FCR_ENABLE_FIFO 0x01
#define UART_FCR_CLEAR_RCVR 0x02

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10
#define UART_MCR_MASK 0x1f

#define UART_LSR_DR 0x01
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80

/* 115200 / 12 = 9600 baud, the power-on divisor of PC firmware. */
#define UART_DEFAULT_DIVISOR 12

enum serial_sink {
	SERIAL_SINK_DISCARD, /* no fd, or the sink failed for good */
	SERIAL_SINK_WRITE,   /* plain write(): fd is non-blocking or never stalls */
	SERIAL_SINK_NOWAIT,  /* blocking pipe/socket: pwritev2(RWF_NOWAIT) */
};

struct serial {
	struct bus_device dev;
	pthread_mutex_t lock;
	struct irq_line irq;

	uint8_t ier;
	uint8_t lcr;
	uint8_t mcr;
	uint8_t scr;
	uint8_t fcr;
	uint8_t dll;
	uint8_t dlm;
	/* THR-empty interrupt latched; cleared by reading it from IIR or writing THR. */
	bool thr_pending;

	uint8_t rx[SERIAL_FIFO_SIZE];
	size_t rx_head;
	size_t rx_count;

	int out_fd;
	enum serial_sink sink;
	uint8_t *out;	    /* ring of SERIAL_OUT_BUF_SIZE bytes */
	size_t out_head;    /* oldest queued byte */
	size_t out_len;	    /* bytes queued */
	uint64_t out_dropped;
	uint64_t out_dropped_reported;
	int out_error;	    /* sticky -errno once the sink failed */
	bool nowait_fallback_logged;
};

static struct serial *serial_from_dev(struct bus_device *dev)
{
	return container_of(dev, struct serial, dev);
}

static bool serial_loopback(const struct serial *s)
{
	return s->mcr & UART_MCR_LOOP;
}

/* ---- output ring ---- */

static size_t serial_out_iov(const struct serial *s, struct iovec iov[2])
{
	size_t first = MIN(s->out_len, SERIAL_OUT_BUF_SIZE - s->out_head);

	iov[0] = (struct iovec){ .iov_base = s->out + s->out_head, .iov_len = first };
	if (first == s->out_len)
		return 1;
	iov[1] = (struct iovec){ .iov_base = s->out, .iov_len = s->out_len - first };
	return 2;
}

static void serial_out_consume(struct serial *s, size_t n)
{
	s->out_head = (s->out_head + n) % SERIAL_OUT_BUF_SIZE;
	s->out_len -= n;
	if (s->out_len == 0)
		s->out_head = 0;
}

static void serial_out_fail(struct serial *s, int r)
{
	/* Once per device: after this the sink is never written again. */
	log_debug("serial: output sink failed, discarding output from now on: %s", strerror(-r));
	s->out_dropped += s->out_len;
	s->out_len = s->out_head = 0;
	s->out_error = r;
	s->sink = SERIAL_SINK_DISCARD;
}

static ssize_t serial_out_write(struct serial *s, const struct iovec *iov, size_t n)
{
	ssize_t w;

	if (s->sink == SERIAL_SINK_NOWAIT) {
		w = pwritev2(s->out_fd, iov, (int)n, -1, RWF_NOWAIT);
		if (w >= 0 || (errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL))
			return w;
		/* A tty, or a kernel without RWF_NOWAIT for this file: nothing better left. */
		if (!s->nowait_fallback_logged) {
			s->nowait_fallback_logged = true;
			log_debug("serial: out_fd %d cannot be written without blocking; "
				  "pass an O_NONBLOCK fd so a stalled reader cannot stall the vCPU",
				  s->out_fd);
		}
		s->sink = SERIAL_SINK_WRITE;
	}
	return writev(s->out_fd, iov, (int)n);
}

/* Returns bytes still queued, or -errno once the sink failed. Lock held. */
static int serial_flush_locked(struct serial *s)
{
	while (s->out_len > 0 && s->sink != SERIAL_SINK_DISCARD) {
		struct iovec iov[2];
		size_t n = serial_out_iov(s, iov);
		ssize_t w = serial_out_write(s, iov, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			serial_out_fail(s, -errno);
			break;
		}
		if (w == 0)
			break; /* no progress: try again on the next chance, don't spin */
		serial_out_consume(s, (size_t)w);
	}

	if (s->out_len == 0 && s->out_dropped != s->out_dropped_reported) {
		/* Once per stall, and a stall takes a full ring: bounded by the sink, not the guest. */
		log_debug("serial: dropped %" PRIu64 " output bytes while the sink was stalled",
			  s->out_dropped - s->out_dropped_reported);
		s->out_dropped_reported = s->out_dropped;
	}
	return s->out_error < 0 ? s->out_error : (int)s->out_len;
}

static void serial_output(struct serial *s, uint8_t b)
{
	if (s->sink == SERIAL_SINK_DISCARD) {
		if (s->out_error < 0)
			s->out_dropped++;
		return;
	}
	if (s->out_len == SERIAL_OUT_BUF_SIZE) {
		(void)serial_flush_locked(s);
		if (s->sink == SERIAL_SINK_DISCARD || s->out_len == SERIAL_OUT_BUF_SIZE) {
			s->out_dropped++;
			return;
		}
	}
	s->out[(s->out_head + s->out_len) % SERIAL_OUT_BUF_SIZE] = b;
	s->out_len++;
	(void)serial_flush_locked(s);
}

/* ---- receive FIFO ---- */

static bool serial_rx_push(struct serial *s, uint8_t b)
{
	if (s->rx_count == SERIAL_FIFO_SIZE)
		return false;
	s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = b;
	s->rx_count++;
	return true;
}

static uint8_t serial_rx_pop(struct serial *s)
{
	uint8_t b;

	if (s->rx_count == 0)
		return 0;
	b = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_SIZE;
	s->rx_count--;
	return b;
}

static void serial_rx_clear(struct serial *s)
{
	s->rx_head = s->rx_count = 0;
}

/* ---- registers ---- */

static uint8_t serial_iir(const struct serial *s)
{
	uint8_t iir = UART_IIR_NO_INT;

	/* Priority order of the 16550: receive data over THR empty. */
	if ((s->ier & UART_IER_RDI) && s->rx_count > 0)
		iir = UART_IIR_RDI;
	else if ((s->ier & UART_IER_THRI) && s->thr_pending)
		iir = UART_IIR_THRI;
	if (s->fcr & UART_FCR_ENABLE_FIFO)
		iir |= UART_IIR_FIFO_ENABLED;
	return iir;
}

static uint8_t serial_msr(const struct serial *s)
{
	uint8_t msr = 0;

	if (!serial_loopback(s))
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS; /* a connected line */
	/* Loopback wires the modem outputs to the inputs; 8250 autoconfig checks this. */
	if (s->mcr & UART_MCR_DTR)
		msr |= UART_MSR_DSR;
	if (s->mcr & UART_MCR_RTS)
		msr |= UART_MSR_CTS;
	if (s->mcr & UART_MCR_OUT1)
		msr |= UART_MSR_RI;
	if (s->mcr & UART_MCR_OUT2)
		msr |= UART_MSR_DCD;
	return msr;
}

static uint8_t serial_read_reg(struct serial *s, uint64_t offset)
{
	bool dlab = s->lcr & UART_LCR_DLAB;
	uint8_t v;

	switch (offset) {
	case UART_RBR:
		return dlab ? s->dll : serial_rx_pop(s);
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR:
		v = serial_iir(s);
		/* Reading IIR acknowledges THR empty when that is what it reports. */
		if ((v & 0x0f) == UART_IIR_THRI)
			s->thr_pending = false;
		return v;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return UART_LSR_THRE | UART_LSR_TEMT | (s->rx_count ? UART_LSR_DR : 0);
	case UART_MSR:
		return serial_msr(s);
	case UART_SCR:
		return s->scr;
	}
	return 0xff;
}

/* Returns true if an interrupt edge must be raised. */
static bool serial_write_reg(struct serial *s, uint64_t offset, uint8_t v)
{
	bool dlab = s->lcr & UART_LCR_DLAB;
	bool raise = false;
	uint8_t old;

	switch (offset) {
	case UART_RBR:
		if (dlab) {
			s->dll = v;
			break;
		}
		s->thr_pending = false;
		if (serial_loopback(s)) {
			/* Overflowing the FIFO loses the byte, as an overrun would. */
			if (serial_rx_push(s, v) && (s->ier & UART_IER_RDI))
				raise = true;
		} else {
			serial_output(s, v);
		}
		/* Sent at once: THR is empty again. */
		s->thr_pending = true;
		if (s->ier & UART_IER_THRI)
			raise = true;
		break;
	case UART_IER:
		if (dlab) {
			s->dlm = v;
			break;
		}
		old = s->ier;
		s->ier = v & UART_IER_MASK;
		/* A real 16550 re-asserts THR empty whenever THRI goes on; Linux tests for it. */
		if (!(old & UART_IER_THRI) && (s->ier & UART_IER_THRI)) {
			s->thr_pending = true;
			raise = true;
		}
		if (!(old & UART_IER_RDI) && (s->ier & UART_IER_RDI) && s->rx_count > 0)
			raise = true;
		break;
	case UART_IIR: /* FCR */
		old = s->fcr;
		s->fcr = v & ~(UART_FCR_CLEAR_RCVR | 0x04); /* the clear bits self-reset */
		/* Toggling FIFO enable clears the FIFOs on a 16550. */
		if ((v & UART_FCR_CLEAR_RCVR) || ((old ^ v) & UART_FCR_ENABLE_FIFO))
			serial_rx_clear(s);
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & UART_MCR_MASK;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	default:
		/* LSR and MSR are read-only (factory test writes ignored). */
		break;
	}
	return raise;
}

/*
 * A wider access reaches an 8-bit ISA device as consecutive byte accesses,
 * so split it the same way.
 */
static void serial_bus_read(struct bus_device *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	struct serial *s = serial_from_dev(dev);

	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < size; i++)
		data[i] = serial_read_reg(s, offset + i);
	pthread_mutex_unlock(&s->lock);
}

static void serial_bus_write(struct bus_device *dev, uint64_t offset, const uint8_t *data,
			     uint32_t size)
{
	struct serial *s = serial_from_dev(dev);
	bool raise = false;

	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < size; i++)
		raise |= serial_write_reg(s, offset + i, data[i]);
	pthread_mutex_unlock(&s->lock);

	if (raise)
		(void)irq_line_trigger(&s->irq);
}

static const struct bus_device_ops serial_bus_ops = {
	.read = serial_bus_read,
	.write = serial_bus_write,
};

/* ---- public API ---- */

static int serial_pick_sink(int fd, enum serial_sink *ret_sink)
{
	struct stat st;
	int flags;

	if (fd < 0) {
		*ret_sink = SERIAL_SINK_DISCARD;
		return 0;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return -errno;
	/*
	 * Files and block devices never wait for a reader (and an RWF_NOWAIT
	 * EAGAIN there would have no epoll wakeup to flush on).
	 */
	if ((flags & O_NONBLOCK) || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		*ret_sink = SERIAL_SINK_WRITE;
	else
		*ret_sink = SERIAL_SINK_NOWAIT;
	return 0;
}

int serial_create(int out_fd, const struct irq_line *irq, struct serial **ret)
{
	enum serial_sink sink = SERIAL_SINK_DISCARD;
	struct serial *s;
	int r;

	r = serial_pick_sink(out_fd, &sink);
	if (r < 0)
		return log_debug_errno(r, "serial: unusable out_fd %d", out_fd);

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (sink != SERIAL_SINK_DISCARD) {
		s->out = malloc(SERIAL_OUT_BUF_SIZE);
		if (!s->out) {
			free(s);
			return -ENOMEM;
		}
	}
	r = pthread_mutex_init(&s->lock, NULL);
	if (r) {
		free(s->out);
		free(s);
		return -r;
	}
	s->dev = (struct bus_device){ .ops = &serial_bus_ops, .name = "serial" };
	if (irq)
		s->irq = *irq;
	s->out_fd = out_fd;
	s->sink = sink;
	s->dll = UART_DEFAULT_DIVISOR;
	/* Until the guest sets IER nothing is enabled, but THR is empty. */
	s->thr_pending = true;

	*ret = s;
	return 0;
}

void serial_destroy(struct serial *serial)
{
	if (!serial)
		return;
	/* Best effort, still without blocking: the VMM drains first if it cares. */
	pthread_mutex_lock(&serial->lock);
	(void)serial_flush_locked(serial);
	pthread_mutex_unlock(&serial->lock);
	pthread_mutex_destroy(&serial->lock);
	free(serial->out);
	free(serial);
}

struct bus_device *serial_bus_device(struct serial *serial)
{
	return &serial->dev;
}

size_t serial_enqueue_input(struct serial *serial, const uint8_t *buf, size_t len)
{
	bool raise = false;
	size_t n = 0;

	pthread_mutex_lock(&serial->lock);
	/* In loopback the receiver is disconnected from the line: keep the input for later. */
	if (!serial_loopback(serial)) {
		while (n < len && serial_rx_push(serial, buf[n]))
			n++;
		raise = n > 0 && (serial->ier & UART_IER_RDI);
	}
	pthread_mutex_unlock(&serial->lock);

	if (raise)
		(void)irq_line_trigger(&serial->irq);
	return n;
}

size_t serial_input_space(struct serial *serial)
{
	size_t space;

	pthread_mutex_lock(&serial->lock);
	space = serial_loopback(serial) ? 0 : SERIAL_FIFO_SIZE - serial->rx_count;
	pthread_mutex_unlock(&serial->lock);
	return space;
}

int serial_flush(struct serial *serial)
{
	int r;

	pthread_mutex_lock(&serial->lock);
	r = serial_flush_locked(serial);
	pthread_mutex_unlock(&serial->lock);
	return r;
}

int serial_pending_output(struct serial *serial)
{
	int n;

	pthread_mutex_lock(&serial->lock);
	n = (int)serial->out_len;
	pthread_mutex_unlock(&serial->lock);
	return n;
}

uint64_t serial_dropped_output(struct serial *serial)
{
	uint64_t n;

	pthread_mutex_lock(&serial->lock);
	n = serial->out_dropped;
	pthread_mutex_unlock(&serial->lock);
	return n;
}
