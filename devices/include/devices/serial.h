/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 16550A-compatible UART (the 8250 family Linux drives as ttyS0), placed at
 * I/O port 0x3f8 on ISA IRQ 4 by the VMM. Output bytes go to an fd; input is
 * pushed in by the VMM's event loop.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/macros.h"
#include "devices/bus.h"
#include "devices/irq.h"

#define SERIAL_PORT_COM1 0x3f8
#define SERIAL_PORT_LEN 8
#define SERIAL_IRQ_COM1 4
#define SERIAL_FIFO_SIZE 64

struct serial;

/* out_fd < 0 discards output. The fd is not owned. */
int serial_create(int out_fd, const struct irq_line *irq, struct serial **ret) _wur_;
void serial_destroy(struct serial *serial);
struct bus_device *serial_bus_device(struct serial *serial);
/*
 * Queue guest input; returns how many bytes fit in the receive FIFO (0 while
 * the guest holds the port in loopback mode, where the line is disconnected).
 * The caller keeps the rest and offers it again later.
 */
size_t serial_enqueue_input(struct serial *serial, const uint8_t *buf, size_t len);
/* Free space in the receive FIFO: how much input to read from the source. */
size_t serial_input_space(struct serial *serial);

/*
 * Output policy. The vCPU must never block on a slow or stalled sink, so the
 * device writes without blocking: O_NONBLOCK fds with write(), other pipes
 * and sockets with pwritev2(RWF_NOWAIT); regular files and block devices
 * cannot stall on a reader and get plain write(). Only a blocking fd that
 * does not support RWF_NOWAIT (a tty) can still block: hand in an O_NONBLOCK
 * fd for those. Bytes the sink does not take are kept, in order, in a ring
 * of SERIAL_OUT_BUF_SIZE bytes and written before any newer byte, on the next
 * guest write or on serial_flush(). When the ring is full, newer bytes are
 * dropped and counted (serial_dropped_output()). A sink error other than
 * EAGAIN/EINTR (EPIPE, EIO, ...) is final: queued bytes are dropped and all
 * further output is discarded. The VMM must ignore SIGPIPE.
 *
 * The event loop should watch out_fd with EPOLLOUT | EPOLLET and call
 * serial_flush() on each event: bytes are only left queued after the sink
 * returned EAGAIN, so the sink draining produces the edge.
 */
#define SERIAL_OUT_BUF_SIZE (64 * 1024)

/*
 * Write queued output without blocking. Returns the number of bytes still
 * queued (>= 0), or the sink's -errno once it has failed for good.
 */
int serial_flush(struct serial *serial) _wur_;
/* Bytes queued for a stalled sink. */
int serial_pending_output(struct serial *serial);
/* Bytes lost because the ring was full or the sink failed. */
uint64_t serial_dropped_output(struct serial *serial);
