/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One process's standard streams between containerd's FIFOs (or files) and
 * the guest's vsock streams (agent-proto/README.md, "Stdio"): stdin FIFO ->
 * stdin stream, stdout/stderr streams -> their FIFOs; with a terminal, one
 * stream carries both directions (stdin FIFO -> it -> stdout FIFO).
 *
 * The FIFOs are opened as containerd expects: stdin O_RDONLY, stdout and
 * stderr O_WRONLY, all non-blocking (an output FIFO without a reader yet is
 * opened O_RDWR instead of failing, so the process is not lost for want of
 * a reader). One thread per process moves the bytes with poll(); it never
 * holds more than a buffer per stream. When containerd's reader goes away,
 * output is read and dropped, so the guest never blocks on the host. Once
 * an output stream reaches EOF its FIFO is closed: containerd's reader sees
 * EOF after the last byte. stdio_relay_wait_output() lets the exit report
 * wait for that.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/macros.h"
#include "shim/runtime.h"

/* Bytes buffered per direction. */
#define STDIO_BUF_SIZE (32u * 1024)

enum stdio_stream {
	STDIO_STDIN,
	STDIO_STDOUT,
	STDIO_STDERR,
	STDIO_TERMINAL,
	STDIO__MAX,
};
const char *stdio_stream_to_string(enum stdio_stream s);

struct stdio_relay;

/* Open containerd's ends (plain paths or file:// URIs; binary:// loggers are
 * -EOPNOTSUPP). Nothing moves until stdio_relay_start(). */
int stdio_relay_open(const struct shim_stdio *paths, struct stdio_relay **ret,
		     struct error *err) _wur_;
/* Does the process need a guest stream s (a vsock port)? */
bool stdio_relay_wants(const struct stdio_relay *r, enum stdio_stream s);
/*
 * Start moving bytes over the connected guest streams, indexed by enum
 * stdio_stream (-1 for those not wanted). Takes the fds in every case.
 */
int stdio_relay_start(struct stdio_relay *r, int fds[STDIO__MAX], struct error *err) _wur_;
/* End of input (containerd's CloseIO): forward what containerd wrote up to
 * now, then end the stdin stream (without a terminal) and close the FIFO.
 * Waits up to timeout_ms for that; 0, or -ETIMEDOUT. */
int stdio_relay_close_stdin(struct stdio_relay *r, int timeout_ms) _wur_;
/* Wait up to timeout_ms until every output stream reached EOF and its last
 * byte went to containerd (or was dropped for want of a reader). 0, or
 * -ETIMEDOUT. Immediately 0 when there is no output or no thread. */
int stdio_relay_wait_output(struct stdio_relay *r, int timeout_ms) _wur_;
/* Bytes written to containerd's stdout (or terminal) FIFO so far. */
uint64_t stdio_relay_bytes_out(struct stdio_relay *r);
/* Stop the thread and close every fd. Idempotent. */
void stdio_relay_stop(struct stdio_relay *r);
/* Stop, then free. Accepts NULL. */
void stdio_relay_free(struct stdio_relay *r);
