/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-console device: ops, config space (size, emergency write), the
 * worker's fd watches, and the pty helper for --console pty. The queue work
 * itself is in queue.c; the output and input policies are described in
 * devices/virtio-console.h.
 *
 * Watches: in_fd is polled for EPOLLIN only while the guest has receive
 * buffers; out_fd for EPOLLOUT only while a transmit chain is held because
 * the sink was full. When in_fd == out_fd (a pty master) they share one
 * registration. A fd that reports hang-up without letting us make progress
 * (a pty nobody has opened: EPOLLHUP forever) would make a level-triggered
 * loop spin, so both watches are dropped and a timer retries later.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <unistd.h>

#include "common/log.h"
#include "console.h"

#define CONSOLE_NR_QUEUES 2

/* Watches ------------------------------------------------------------- */

static void console_on_in(void *opaque, uint32_t events);
static void console_on_out(void *opaque, uint32_t events);
static void console_on_inout(void *opaque, uint32_t events);

/* Returns 0 or -errno from epoll; *cur follows what is registered. */
static int watch_apply(struct virtio_console *c, int fd, uint32_t *cur, uint32_t want,
		       virtio_worker_fn fn)
{
	int r;

	if (fd < 0 || want == *cur)
		return 0;
	if (want == 0)
		r = virtio_worker_del(&c->worker, fd);
	else if (*cur == 0)
		r = virtio_worker_add(&c->worker, fd, want, fn, c);
	else
		r = virtio_worker_mod(&c->worker, fd, want, fn, c);
	if (r < 0 && want != 0)
		return r;
	/* A failed del leaves nothing we could still do about it. */
	*cur = want;
	return 0;
}

void console_update_watches(struct virtio_console *c)
{
	uint32_t want_in = 0, want_out = 0;
	int r_in, r_out = 0;

	if (!c->worker_ready)
		return;
	if (!c->hup_backoff) {
		if (c->input == CONSOLE_INPUT_POLL && c->rx_want)
			want_in = EPOLLIN;
		if (c->tx_blocked)
			want_out = EPOLLOUT;
	}
	if (c->in_fd >= 0 && c->in_fd == c->out_fd) {
		r_in = watch_apply(c, c->in_fd, &c->watched_in, want_in | want_out,
				   console_on_inout);
		if (r_in < 0 && !want_in)
			r_out = r_in, r_in = 0;
	} else {
		r_in = watch_apply(c, c->in_fd, &c->watched_in, want_in, console_on_in);
		r_out = watch_apply(c, c->out_fd, &c->watched_out, want_out, console_on_out);
	}
	if (r_in == -EPERM) {
		/* Not pollable (a regular file, /dev/null): read it when buffers come. */
		log_debug("%s: in_fd %d cannot be polled, reading it on demand", c->vdev.name,
			  c->in_fd);
		c->input = CONSOLE_INPUT_DIRECT;
		(void)eventfd_write(c->vdev.kick_fds[VIRTIO_CONSOLE_QUEUE_RX], 1);
		console_update_watches(c);
	} else if (r_in < 0 || r_out < 0) {
		log_debug("%s: cannot watch the console fds: %s", c->vdev.name,
			  strerror(-(r_in < 0 ? r_in : r_out)));
		console_start_backoff(c);
	}
}

void console_start_backoff(struct virtio_console *c)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = VIRTIO_CONSOLE_HUP_RETRY_MS / 1000,
			      .tv_nsec = (VIRTIO_CONSOLE_HUP_RETRY_MS % 1000) * 1000000L },
	};

	if (c->hup_backoff)
		return;
	if (timerfd_settime(c->timer_fd, 0, &its, NULL) < 0) {
		log_debug("%s: cannot arm the retry timer: %s", c->vdev.name, strerror(errno));
		return;
	}
	c->hup_backoff = true;
	console_update_watches(c);
}

static void console_on_out(void *opaque, uint32_t events)
{
	struct virtio_console *c = opaque;

	c->tx_blocked = false;
	console_tx_process(c);
	console_update_watches(c);
	/* Writable "because" it hung up, yet still full: don't spin on it. */
	if (c->tx_blocked && (events & (EPOLLHUP | EPOLLERR)))
		console_start_backoff(c);
}

static void console_on_in(void *opaque, uint32_t events)
{
	struct virtio_console *c = opaque;

	console_rx_process(c, events);
	console_update_watches(c);
}

static void console_on_inout(void *opaque, uint32_t events)
{
	struct virtio_console *c = opaque;
	uint32_t watched = c->watched_in;

	if ((watched & EPOLLOUT) && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
		console_on_out(c, events);
	if ((watched & EPOLLIN) && !c->hup_backoff && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		console_on_in(c, events);
}

static void console_on_timer(void *opaque, uint32_t events)
{
	struct virtio_console *c = opaque;
	uint64_t expirations;

	if (read(c->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_debug("%s: retry timer read failed: %s", c->vdev.name, strerror(errno));
	c->hup_backoff = false;
	if (c->input == CONSOLE_INPUT_DIRECT && c->rx_want)
		console_rx_process(c, 0);
	console_update_watches(c);
}

static void console_on_kick_tx(void *opaque, uint32_t events)
{
	struct virtio_console *c = opaque;

	virtio_eventfd_drain(c->vdev.kick_fds[VIRTIO_CONSOLE_QUEUE_TX]);
	/* While held back, the sink's EPOLLOUT drives transmission, not kicks. */
	console_tx_process(c);
}

static void console_on_kick_rx(void *opaque, uint32_t events)
{
	struct virtio_console *c = opaque;

	virtio_eventfd_drain(c->vdev.kick_fds[VIRTIO_CONSOLE_QUEUE_RX]);
	c->rx_want = true;
	if (!c->hup_backoff)
		console_rx_process(c, 0);
	console_update_watches(c);
}

/* Device ops ---------------------------------------------------------- */

static uint64_t console_features(struct virtio_dev *vdev)
{
	struct virtio_console *c = console_from_vdev(vdev);
	uint64_t f = VIRTIO_BIT(VIRTIO_CONSOLE_F_EMERG_WRITE);

	if (__atomic_load_n(&c->size_offered, __ATOMIC_ACQUIRE))
		f |= VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE);
	return f;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

static void console_config_read(struct virtio_dev *vdev, uint32_t offset, uint8_t *data,
				uint32_t size)
{
	struct virtio_console *c = console_from_vdev(vdev);
	uint8_t cfg[VIRTIO_CONSOLE_CFG_SIZE] = { 0 };
	uint32_t sz = __atomic_load_n(&c->size, __ATOMIC_ACQUIRE);

	put_le16(cfg + VIRTIO_CONSOLE_CFG_COLS, (uint16_t)sz);
	put_le16(cfg + VIRTIO_CONSOLE_CFG_ROWS, (uint16_t)(sz >> 16));
	put_le32(cfg + VIRTIO_CONSOLE_CFG_MAX_NR_PORTS, 1);
	/* emerg_wr reads as 0 */
	/* The layer checked offset+size <= config_size; check again, cheaply. */
	if ((uint64_t)offset + size <= sizeof(cfg))
		memcpy(data, cfg + offset, size);
}

/* A character the guest wrote to emerg_wr: print it now, from this vCPU, without blocking. */
static void console_emergency_write(struct virtio_console *c, uint8_t ch)
{
	struct iovec iov = { .iov_base = &ch, .iov_len = 1 };
	ssize_t w;

	pthread_mutex_lock(&c->out_lock);
	if (c->sink == CONSOLE_SINK_DISCARD) {
		__atomic_fetch_add(&c->tx_discarded, 1, __ATOMIC_RELAXED);
	} else {
		w = console_sink_write_locked(c, &iov, 1);
		if (w == 1)
			__atomic_fetch_add(&c->tx_bytes, 1, __ATOMIC_RELAXED);
		else if (w == 0 || w == -EAGAIN)
			__atomic_fetch_add(&c->emerg_dropped, 1, __ATOMIC_RELAXED);
		else
			console_sink_fail_locked(c, (int)w);
	}
	pthread_mutex_unlock(&c->out_lock);
}

static void console_config_write(struct virtio_dev *vdev, uint32_t offset, const uint8_t *data,
				 uint32_t size)
{
	/* cols, rows and max_nr_ports are read-only; only emerg_wr takes writes. */
	if (offset == VIRTIO_CONSOLE_CFG_EMERG_WR && size >= 1)
		console_emergency_write(console_from_vdev(vdev), data[0]);
}

static int console_activate(struct virtio_dev *vdev)
{
	struct virtio_console *c = console_from_vdev(vdev);
	int r;

	c->input = c->input_initial;
	c->rx_want = true;
	c->rx_held = c->tx_held = c->tx_blocked = false;
	c->hup_backoff = false;
	r = virtio_worker_start(&c->worker);
	if (r < 0)
		return log_debug_errno(r, "%s: cannot start the worker", vdev->name);
	/* Buffers posted before DRIVER_OK may never be kicked. */
	(void)eventfd_write(vdev->kick_fds[VIRTIO_CONSOLE_QUEUE_RX], 1);
	(void)eventfd_write(vdev->kick_fds[VIRTIO_CONSOLE_QUEUE_TX], 1);
	return 0;
}

static void console_reset(struct virtio_dev *vdev)
{
	struct virtio_console *c = console_from_vdev(vdev);
	struct itimerspec off = { 0 };

	if (!c->worker_ready)
		return;
	virtio_worker_stop(&c->worker);
	/* The worker is joined: its state is ours. Held chains belong to the old rings. */
	c->tx_held = c->tx_blocked = false;
	c->rx_held = c->rx_want = false;
	c->hup_backoff = false;
	if (c->timer_fd >= 0)
		(void)timerfd_settime(c->timer_fd, 0, &off, NULL);
	console_update_watches(c);
}

static void console_free(struct virtio_console *c)
{
	if (!c)
		return;
	virtio_dev_fini(&c->vdev); /* resets (joins the worker) if active */
	if (c->worker_ready) {
		virtio_worker_stop(&c->worker);
		virtio_worker_fini(&c->worker);
	}
	if (c->timer_fd >= 0)
		close(c->timer_fd);
	pthread_mutex_destroy(&c->out_lock);
	free(c);
}

static void console_destroy(struct virtio_dev *vdev)
{
	console_free(console_from_vdev(vdev));
}

/* VM pause: joining the worker completes what is in flight, and its fds
 * stay registered, so resume just starts it again. */
static void console_pause(struct virtio_dev *vdev)
{
	struct virtio_console *x = console_from_vdev(vdev);

	virtio_worker_stop(&x->worker);
}

static int console_resume(struct virtio_dev *vdev)
{
	struct virtio_console *x = console_from_vdev(vdev);

	return virtio_worker_start(&x->worker);
}

static const struct virtio_device_ops console_ops = {
	.features = console_features,
	.config_read = console_config_read,
	.config_write = console_config_write,
	.activate = console_activate,
	.reset = console_reset,
	.destroy = console_destroy,
	.pause = console_pause,
	.resume = console_resume,
};

/* Public API ---------------------------------------------------------- */

static int console_pick_sink(int fd, enum console_sink *ret, struct error *err)
{
	struct stat st;
	int flags;

	if (fd < 0) {
		*ret = CONSOLE_SINK_DISCARD;
		return 0;
	}
	if (fstat(fd, &st) < 0 || (flags = fcntl(fd, F_GETFL)) < 0)
		return error_set(err, -errno, "console: output fd %d unusable: %s", fd,
				 strerror(errno));
	if ((flags & O_ACCMODE) == O_RDONLY)
		return error_set(err, -EBADF, "console: output fd %d is not open for writing", fd);
	/* Files and block devices never wait for a reader (nor wake an EPOLLOUT). */
	if ((flags & O_NONBLOCK) || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		*ret = CONSOLE_SINK_WRITE;
	else
		*ret = CONSOLE_SINK_NOWAIT;
	return 0;
}

static int console_pick_input(int fd, enum console_input *ret, bool *ret_blocking,
			      struct error *err)
{
	struct stat st;
	int flags;

	if (fd < 0) {
		*ret = CONSOLE_INPUT_NONE;
		*ret_blocking = false;
		return 0;
	}
	if (fstat(fd, &st) < 0 || (flags = fcntl(fd, F_GETFL)) < 0)
		return error_set(err, -errno, "console: input fd %d unusable: %s", fd,
				 strerror(errno));
	if ((flags & O_ACCMODE) == O_WRONLY)
		return error_set(err, -EBADF, "console: input fd %d is not open for reading", fd);
	if (S_ISDIR(st.st_mode))
		return error_set(err, -EISDIR, "console: input fd %d is a directory", fd);
	/* epoll refuses regular files; they are always "readable" anyway. */
	*ret = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) ? CONSOLE_INPUT_DIRECT
							    : CONSOLE_INPUT_POLL;
	*ret_blocking = !(flags & O_NONBLOCK);
	return 0;
}

int virtio_console_create(int out_fd, int in_fd, const struct guest_mem *mem,
			  struct virtio_dev **ret, struct error *err)
{
	struct virtio_console *c;
	enum console_sink sink = CONSOLE_SINK_DISCARD;
	enum console_input input = CONSOLE_INPUT_NONE;
	bool in_blocking = false;
	int r;

	if (!mem || !ret)
		return error_set(err, -EINVAL, "virtio-console: missing guest memory");
	r = console_pick_sink(out_fd, &sink, err);
	if (r < 0)
		return r;
	r = console_pick_input(in_fd, &input, &in_blocking, err);
	if (r < 0)
		return r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return error_set(err, -ENOMEM, "virtio-console: out of memory");
	c->timer_fd = -1;
	r = -pthread_mutex_init(&c->out_lock, NULL);
	if (r < 0) {
		free(c);
		return error_set(err, r, "virtio-console: %s", strerror(-r));
	}
	c->out_fd = out_fd;
	c->in_fd = in_fd;
	c->sink = sink;
	c->input = c->input_initial = input;
	c->in_blocking = in_blocking;

	r = virtio_dev_init(&c->vdev, &console_ops, "virtio-console", VIRTIO_ID_CONSOLE,
			    CONSOLE_NR_QUEUES, VIRTIO_CONSOLE_QUEUE_SIZE, VIRTIO_CONSOLE_CFG_SIZE);
	if (r < 0) {
		error_set(err, r, "virtio-console: cannot initialise the device: %s", strerror(-r));
		goto fail;
	}
	c->vdev.mem = mem;

	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (c->timer_fd < 0) {
		r = error_set(err, -errno, "virtio-console: timerfd: %s", strerror(errno));
		goto fail;
	}
	r = virtio_worker_init(&c->worker, "virtio-console");
	if (r < 0) {
		error_set(err, r, "virtio-console: cannot create the worker: %s", strerror(-r));
		goto fail;
	}
	c->worker_ready = true;
	r = virtio_worker_add(&c->worker, c->vdev.kick_fds[VIRTIO_CONSOLE_QUEUE_RX], EPOLLIN,
			      console_on_kick_rx, c);
	if (r >= 0)
		r = virtio_worker_add(&c->worker, c->vdev.kick_fds[VIRTIO_CONSOLE_QUEUE_TX],
				      EPOLLIN, console_on_kick_tx, c);
	if (r >= 0)
		r = virtio_worker_add(&c->worker, c->timer_fd, EPOLLIN, console_on_timer, c);
	if (r < 0) {
		error_set(err, r, "virtio-console: cannot set up the worker: %s", strerror(-r));
		goto fail;
	}
	*ret = &c->vdev;
	return 0;
fail:
	console_free(c);
	return r;
}

void virtio_console_destroy(struct virtio_dev *vdev)
{
	if (!vdev)
		return;
	virtio_dev_reset(vdev);
	vdev->ops->destroy(vdev);
}

int virtio_console_set_size(struct virtio_dev *vdev, uint16_t cols, uint16_t rows)
{
	struct virtio_console *c = console_from_vdev(vdev);
	bool notify = false;

	if (cols == 0 || rows == 0)
		return -EINVAL;
	pthread_mutex_lock(&vdev->lock);
	__atomic_store_n(&c->size, (uint32_t)cols | (uint32_t)rows << 16, __ATOMIC_RELEASE);
	if (!c->size_offered &&
	    !(__atomic_load_n(&vdev->status, __ATOMIC_ACQUIRE) & VIRTIO_STATUS_FEATURES_OK)) {
		/* Before negotiation: offer F_SIZE from now on. */
		__atomic_store_n(&c->size_offered, true, __ATOMIC_RELEASE);
		(void)virtio_dev_offered_features(vdev);
	} else if (vdev->activated && virtio_dev_has_feature(vdev, VIRTIO_CONSOLE_F_SIZE)) {
		vdev->config_generation++;
		notify = true;
	}
	pthread_mutex_unlock(&vdev->lock);
	if (notify && vdev->transport && vdev->transport->signal_config)
		return vdev->transport->signal_config(vdev);
	return 0;
}

void virtio_console_get_stats(const struct virtio_dev *vdev, struct virtio_console_stats *ret)
{
	const struct virtio_console *c = container_of(vdev, const struct virtio_console, vdev);

	*ret = (struct virtio_console_stats){
		.tx_bytes = __atomic_load_n(&c->tx_bytes, __ATOMIC_RELAXED),
		.rx_bytes = __atomic_load_n(&c->rx_bytes, __ATOMIC_RELAXED),
		.tx_discarded = __atomic_load_n(&c->tx_discarded, __ATOMIC_RELAXED),
		.emerg_dropped = __atomic_load_n(&c->emerg_dropped, __ATOMIC_RELAXED),
	};
}

int virtio_console_open_pty(int *ret_master_fd, char *ret_path, size_t path_len)
{
	_cleanup_close_ int master = -1;
	_cleanup_close_ int slave = -1;
	char path[128];
	struct termios tio;
	int flags, r;

	if (!ret_master_fd || !ret_path)
		return -EINVAL;
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return log_debug_errno(-errno, "console: posix_openpt failed");
	if (grantpt(master) < 0 || unlockpt(master) < 0)
		return log_debug_errno(-errno, "console: cannot unlock the pty");
	r = ptsname_r(master, path, sizeof(path));
	if (r != 0)
		return log_debug_errno(-r, "console: ptsname_r failed");
	if (strlen(path) >= path_len)
		return -ENAMETOOLONG;

	/* Raw mode: the guest's console does its own echo and line editing. */
	slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return log_debug_errno(-errno, "console: cannot open %s", path);
	if (tcgetattr(slave, &tio) < 0)
		return log_debug_errno(-errno, "console: tcgetattr %s", path);
	cfmakeraw(&tio);
	if (tcsetattr(slave, TCSANOW, &tio) < 0)
		return log_debug_errno(-errno, "console: tcsetattr %s", path);

	flags = fcntl(master, F_GETFL);
	if (flags < 0 || fcntl(master, F_SETFL, flags | O_NONBLOCK) < 0)
		return log_debug_errno(-errno, "console: cannot make the pty master non-blocking");

	memcpy(ret_path, path, strlen(path) + 1);
	*ret_master_fd = TAKE_FD(master);
	return 0;
}
