/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-console (virtio 1.x 5.3), port 0 only: receiveq (0, host to guest)
 * and transmitq (1, guest to host). Offered features: VIRTIO_CONSOLE_F_EMERG_WRITE
 * always, VIRTIO_CONSOLE_F_SIZE once the VMM has given a size with
 * virtio_console_set_size() before the driver reads the features (a tty);
 * never F_MULTIPORT. Config: cols, rows, max_nr_ports (1), emerg_wr (a write
 * at offset 8 prints its low byte).
 *
 * File descriptors: out_fd and in_fd are NOT owned (the VMM passes stdout,
 * stdin, a file or a pty master and closes them itself, after destroying the
 * device). They may be the same fd (a pty master). The device never changes
 * their flags (O_NONBLOCK is shared with whoever else holds the file).
 *
 * Output policy. Neither the worker nor a vCPU ever blocks on the sink:
 * non-blocking fds, regular files and block devices are written with
 * writev(); other (blocking) fds with pwritev2(RWF_NOWAIT), falling back to
 * writev() where the kernel refuses RWF_NOWAIT for that file (a blocking tty:
 * pass an O_NONBLOCK fd to be safe). When the sink returns EAGAIN, the rest of
 * the current transmit chain is kept (not returned to the guest) and no
 * further chain is taken until the sink is writable again (EPOLLOUT on the
 * worker): the guest's transmit ring fills and the guest waits; nothing is
 * lost. A sink that fails for good (EPIPE, EIO, ...) is logged once and from
 * then on output is discarded (chains are returned at once). The VMM must
 * ignore SIGPIPE. A sink that reports hang-up without making progress (a pty
 * nobody has opened) is retried every VIRTIO_CONSOLE_HUP_RETRY_MS instead of
 * being polled in a loop.
 *
 * Emergency writes come from a vCPU and must not wait for the worker: the
 * byte is written at once without blocking (so it may overtake transmitq
 * bytes still held back); if the sink is full it is dropped and counted
 * (emerg_dropped). The driver may use it before DRIVER_OK.
 *
 * Input: when in_fd is readable and the guest has posted receive buffers,
 * the worker reads straight into them. Without buffers in_fd is not polled
 * until the guest kicks receiveq. EOF on in_fd stops input for good (until
 * device reset). A regular file as in_fd (cannot be polled) is read at the
 * pace the guest posts buffers.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/guest-mem.h"
#include "common/macros.h"
#include "devices/virtio.h"

#define VIRTIO_CONSOLE_F_SIZE 0
#define VIRTIO_CONSOLE_F_MULTIPORT 1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2

/* Config space layout (5.3.4) */
#define VIRTIO_CONSOLE_CFG_COLS 0
#define VIRTIO_CONSOLE_CFG_ROWS 2
#define VIRTIO_CONSOLE_CFG_MAX_NR_PORTS 4
#define VIRTIO_CONSOLE_CFG_EMERG_WR 8
#define VIRTIO_CONSOLE_CFG_SIZE 12

#define VIRTIO_CONSOLE_QUEUE_RX 0
#define VIRTIO_CONSOLE_QUEUE_TX 1
#define VIRTIO_CONSOLE_QUEUE_SIZE 256
#define VIRTIO_CONSOLE_HUP_RETRY_MS 250

struct virtio_console_stats {
	uint64_t tx_bytes;	  /* guest output written to out_fd */
	uint64_t rx_bytes;	  /* input handed to the guest */
	uint64_t tx_discarded;	  /* output dropped: no sink, or the sink failed */
	uint64_t emerg_dropped;	  /* emergency-write bytes the sink could not take */
};

/*
 * Create the device. out_fd < 0 discards output; in_fd < 0 means no input.
 * Neither fd is owned. Errors are described in `err`.
 */
int virtio_console_create(int out_fd, int in_fd, const struct guest_mem *mem,
			  struct virtio_dev **ret, struct error *err) _wur_;
/* Reset (stops the worker) and free; accepts NULL. The fds stay open. */
void virtio_console_destroy(struct virtio_dev *vdev);
/*
 * Console size (from TIOCGWINSZ on the VMM's tty, and again on SIGWINCH).
 * The first call before the driver negotiates makes the device offer
 * VIRTIO_CONSOLE_F_SIZE; later calls update the config space and raise a
 * config interrupt. Returns -EINVAL for a 0 size.
 */
int virtio_console_set_size(struct virtio_dev *vdev, uint16_t cols, uint16_t rows) _wur_;
void virtio_console_get_stats(const struct virtio_dev *vdev, struct virtio_console_stats *ret);

/*
 * For --console pty: open a new pseudo-terminal, set its slave side to raw
 * mode, and return the master (O_RDWR|O_NONBLOCK|O_CLOEXEC, owned by the
 * caller) and the slave's path (e.g. /dev/pts/3) for the user to attach to.
 * -ENAMETOOLONG if path_len is too small.
 */
int virtio_console_open_pty(int *ret_master_fd, char *ret_path, size_t path_len) _wur_;
