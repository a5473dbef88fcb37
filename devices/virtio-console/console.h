/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-console internals shared by device.c (device ops, config, fd
 * watches) and queue.c (transmit and receive queue handling).
 *
 * Threads: everything below the "worker" marker is used only by the worker
 * thread, or by reset()/destroy() after the worker was joined. The sink
 * (out_fd, its mode, its failure) is also used by emergency writes from
 * vCPU threads, hence out_lock.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio-console.h"
#include "devices/virtio.h"
#include "devices/virtqueue.h"

/* Chains handled per worker wake-up before the worker re-kicks itself, so
 * reset() never waits long for the worker to notice a stop request. */
#define CONSOLE_BATCH 64

enum console_sink {
	CONSOLE_SINK_DISCARD, /* no out_fd, or it failed for good */
	CONSOLE_SINK_WRITE,   /* writev(): non-blocking fd, or a file that never stalls */
	CONSOLE_SINK_NOWAIT,  /* blocking pipe/socket we don't own: pwritev2(RWF_NOWAIT) */
};

enum console_input {
	CONSOLE_INPUT_NONE,   /* no in_fd, or EOF seen */
	CONSOLE_INPUT_POLL,   /* read when epoll says readable */
	CONSOLE_INPUT_DIRECT, /* epoll refuses it (regular file, /dev/null): read on demand */
};

struct virtio_console {
	struct virtio_dev vdev;
	struct virtio_worker worker;
	bool worker_ready;

	int out_fd;		/* not owned */
	int in_fd;		/* not owned */
	bool in_blocking;	/* in_fd lacks O_NONBLOCK: one read per readiness event */
	int timer_fd;		/* owned: hang-up retry */

	pthread_mutex_t out_lock;
	enum console_sink sink;
	bool sink_failed_logged;
	bool nowait_fallback_logged;

	/* config, packed cols | rows << 16; atomic, set from the VMM thread */
	uint32_t size;
	bool size_offered;

	/* counters, atomic */
	uint64_t tx_bytes, rx_bytes, tx_discarded, emerg_dropped;

	/* ---- worker ---- */
	enum console_input input;
	enum console_input input_initial;
	/* TX: a chain whose bytes the sink has only partly taken */
	bool tx_held;
	uint64_t tx_off;
	bool tx_blocked;	/* waiting for EPOLLOUT before writing again */
	struct virtq_chain tx_chain;
	/* RX: a popped receive chain waiting for input */
	bool rx_held;
	bool rx_want;		/* the guest has (or may have) posted buffers */
	struct virtq_chain rx_chain;
	bool hup_backoff;	/* timer armed: in/out fds unwatched meanwhile */
	uint32_t watched_in, watched_out; /* epoll masks registered */
	struct iovec iov[VIRTQ_CHAIN_MAX_IOV];
};

static inline struct virtio_console *console_from_vdev(struct virtio_dev *vdev)
{
	return container_of(vdev, struct virtio_console, vdev);
}

/* queue.c */
void console_tx_process(struct virtio_console *c);
void console_rx_process(struct virtio_console *c, uint32_t events);
/* Write without blocking; >= 0 bytes taken, -EAGAIN when full, other -errno. out_lock held. */
ssize_t console_sink_write_locked(struct virtio_console *c, const struct iovec *iov, int n);
void console_sink_fail_locked(struct virtio_console *c, int r);

/* device.c */
/* Bring the epoll registrations of in_fd/out_fd in line with the state. */
void console_update_watches(struct virtio_console *c);
/* in_fd/out_fd hung up without progress: stop watching them for a while. */
void console_start_backoff(struct virtio_console *c);
