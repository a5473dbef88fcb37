/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock life cycle: creation (the listening socket), features,
 * config space, activate and reset, and the worker's callbacks (queue
 * kicks, listener, timer). The backend is in muxer.c, the queues in rx.c and
 * tx.c.
 *
 * Threads: create/activate/reset/destroy and config reads run on VMM/vCPU
 * threads while the worker is stopped or does not touch the same state;
 * everything else runs on the worker (or virtio_vsock_poll()'s caller).
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "vsock.h"

/* "_4294967295": what guest-to-host connections append to socket_path */
#define VSOCK_PORT_SUFFIX_MAX 11

static const struct virtio_device_ops vsock_ops;

uint64_t vsock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void vsock_warn_once(struct virtio_vsock *v, enum vsock_warn kind, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (__atomic_fetch_or(&v->warned, 1u << kind, __ATOMIC_RELAXED) & (1u << kind))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("virtio-vsock: %s: %s (logged once)", v->name, msg);
}

void vsock_self_kick(struct virtio_vsock *v, uint16_t q)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is saturated, a kick is pending anyway */
	if (write(v->vdev.kick_fds[q], &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug_errno(-errno, "%s: self-kick of queue %u failed", v->name, q);
}

/* Timer and listener --------------------------------------------------- */

static void vsock_on_listener(void *opaque, uint32_t events);

static void timer_update(struct virtio_vsock *v)
{
	bool want = v->nr_deadlines > 0 || v->listener_paused;
	struct itimerspec its = { 0 };

	if (want == v->timer_armed)
		return;
	if (want) {
		its.it_value.tv_nsec = VSOCK_TIMER_TICK_MS * 1000000L;
		its.it_interval = its.it_value;
	}
	if (timerfd_settime(v->timer_fd, 0, &its, NULL) < 0) {
		log_debug_errno(-errno, "%s: cannot (dis)arm the timer", v->name);
		return;
	}
	v->timer_armed = want;
}

static void listener_update(struct virtio_vsock *v)
{
	bool want = !v->listener_paused;
	int r;

	if (want == v->listener_watched)
		return;
	r = want ? virtio_worker_add(&v->worker, v->listen_fd, EPOLLIN, vsock_on_listener, v)
		 : virtio_worker_del(&v->worker, v->listen_fd);
	if (r < 0) {
		log_debug_errno(r, "%s: cannot (un)watch the listener", v->name);
		if (want)
			return;
	}
	v->listener_watched = want;
}

void vsock_after_event(struct virtio_vsock *v)
{
	if (vsock_rx_has_work(v) && !v->rx_no_buffers)
		vsock_rx_process(v);
	if (v->tx_stalled && v->orphan_len < VSOCK_ORPHAN_RST_MAX) {
		v->tx_stalled = false;
		vsock_tx_process(v);
		if (vsock_rx_has_work(v) && !v->rx_no_buffers)
			vsock_rx_process(v);
	}
	listener_update(v);
	timer_update(v);
}

/* Worker callbacks ----------------------------------------------------- */

static void vsock_on_listener(void *opaque, uint32_t events)
{
	struct virtio_vsock *v = opaque;

	vsock_muxer_accept(v);
	vsock_after_event(v);
}

static void vsock_on_timer(void *opaque, uint32_t events)
{
	struct virtio_vsock *v = opaque;
	uint64_t expirations;

	if (read(v->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_debug_errno(-errno, "%s: timer read failed", v->name);
	v->listener_paused = false; /* try accepting again */
	vsock_muxer_timeouts(v);
	vsock_after_event(v);
}

static void vsock_on_kick_rx(void *opaque, uint32_t events)
{
	struct virtio_vsock *v = opaque;

	virtio_eventfd_drain(v->vdev.kick_fds[VSOCK_QUEUE_RX]);
	v->rx_no_buffers = false;
	vsock_after_event(v);
}

static void vsock_on_kick_tx(void *opaque, uint32_t events)
{
	struct virtio_vsock *v = opaque;

	virtio_eventfd_drain(v->vdev.kick_fds[VSOCK_QUEUE_TX]);
	if (!v->tx_stalled)
		vsock_tx_process(v);
	vsock_after_event(v);
}

static void vsock_on_kick_event(void *opaque, uint32_t events)
{
	struct virtio_vsock *v = opaque;

	/* Buffers stay posted for a TRANSPORT_RESET we never send (no snapshots). */
	virtio_eventfd_drain(v->vdev.kick_fds[VSOCK_QUEUE_EVENT]);
}

/* Device ops ----------------------------------------------------------- */

static uint64_t vsock_features(struct virtio_dev *vdev)
{
	return 0; /* stream only; the layer adds VERSION_1 */
}

static void vsock_config_read(struct virtio_dev *vdev, uint32_t offset, uint8_t *data,
			      uint32_t size)
{
	struct virtio_vsock *v = vsock_from_vdev(vdev);
	uint64_t cid = htole64(v->guest_cid);

	if ((uint64_t)offset + size <= sizeof(cid))
		memcpy(data, (uint8_t *)&cid + offset, size);
}

static void vsock_config_write(struct virtio_dev *vdev, uint32_t offset, const uint8_t *data,
			       uint32_t size)
{
	/* read-only */
}

static void vsock_state_reset(struct virtio_vsock *v)
{
	vsock_muxer_reset(v);
	v->rx_held = false;
	v->rx_no_buffers = false;
	v->tx_stalled = false;
}

static int vsock_activate(struct virtio_dev *vdev)
{
	struct virtio_vsock *v = vsock_from_vdev(vdev);

	vsock_state_reset(v);
	if (v->poll_mode)
		return 0;
	return virtio_worker_start(&v->worker);
}

static void vsock_reset(struct virtio_dev *vdev)
{
	struct virtio_vsock *v = vsock_from_vdev(vdev);

	virtio_worker_stop(&v->worker);
	/* every host side closed; the listener stays and its backlog waits */
	vsock_state_reset(v);
	timer_update(v);
}

static void vsock_free(struct virtio_vsock *v)
{
	struct stat st;

	if (!v)
		return;
	virtio_dev_fini(&v->vdev); /* resets an active device: joins the worker */
	if (v->worker_ready) {
		virtio_worker_stop(&v->worker);
		vsock_muxer_reset(v);
		virtio_worker_fini(&v->worker);
	}
	if (v->listen_fd >= 0) {
		close(v->listen_fd);
		/* remove the socket file if it is still ours */
		if (v->socket_path && lstat(v->socket_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    st.st_dev == v->sock_dev && st.st_ino == v->sock_ino)
			(void)unlink(v->socket_path);
	}
	if (v->timer_fd >= 0)
		close(v->timer_fd);
	free(v->socket_path);
	free(v->name);
	free(v);
}

static void vsock_destroy(struct virtio_dev *vdev)
{
	vsock_free(vsock_from_vdev(vdev));
}

static const struct virtio_device_ops vsock_ops = {
	.features = vsock_features,
	.config_read = vsock_config_read,
	.config_write = vsock_config_write,
	.activate = vsock_activate,
	.reset = vsock_reset,
	.destroy = vsock_destroy,
};

/* Creation ------------------------------------------------------------- */

/*
 * A socket file at `path` that nobody listens on is left over from a VMM
 * that died: remove it. A live one is somebody else's: EADDRINUSE.
 */
static int remove_stale_socket(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (r == 0 || errno == EAGAIN) /* EAGAIN: alive, backlog full */
		r = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		r = unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	else
		r = -errno;
	close(fd);
	return r;
}

static int vsock_listen(struct virtio_vsock *v, struct error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = v->socket_path;
	struct stat st;
	int r;

	memcpy(sa.sun_path, path, strlen(path) + 1);
	r = remove_stale_socket(path, &sa);
	if (r == -EEXIST)
		return error_set(err, r, "--vsock socket=%s: exists and is not a socket", path);
	if (r < 0)
		return error_set(err, r, "--vsock socket=%s: %s", path, strerror(-r));

	v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (v->listen_fd < 0)
		return error_set(err, -errno, "--vsock socket=%s: %s", path, strerror(errno));
	if (bind(v->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return error_set(err, -errno, "--vsock socket=%s: %s", path, strerror(errno));
	/* owner only: the socket reaches into the guest (Kata connects as root) */
	if (chmod(path, 0600) < 0 || lstat(path, &st) < 0) {
		r = -errno;
		(void)unlink(path);
		return error_set(err, r, "--vsock socket=%s: %s", path, strerror(-r));
	}
	v->sock_dev = st.st_dev;
	v->sock_ino = st.st_ino;
	if (listen(v->listen_fd, VSOCK_LISTEN_BACKLOG) < 0) {
		r = -errno;
		(void)unlink(path);
		return error_set(err, r, "--vsock socket=%s: %s", path, strerror(-r));
	}
	return 0;
}

int virtio_vsock_create(const struct virtio_vsock_config *cfg, const struct guest_mem *mem,
			struct virtio_dev **ret, struct error *err)
{
	struct sockaddr_un sa;
	struct virtio_vsock *v;
	int r;

	if (!cfg || !mem || !ret)
		return error_set(err, -EINVAL, "virtio-vsock: missing configuration or memory");
	if (!cfg->socket_path || !*cfg->socket_path)
		return error_set(err, -EINVAL, "--vsock: socket= is required");
	if (strlen(cfg->socket_path) + VSOCK_PORT_SUFFIX_MAX >= sizeof(sa.sun_path))
		return error_set(err, -ENAMETOOLONG,
				 "--vsock socket=%s: path too long (at most %zu bytes, so that "
				 "\"<path>_<port>\" fits a Unix socket address)",
				 cfg->socket_path, sizeof(sa.sun_path) - 1 - VSOCK_PORT_SUFFIX_MAX);
	if (cfg->guest_cid < VIRTIO_VSOCK_MIN_GUEST_CID ||
	    cfg->guest_cid > VIRTIO_VSOCK_MAX_GUEST_CID)
		return error_set(err, -EINVAL, "--vsock cid=%" PRIu64 ": must be %d..%" PRIu32,
				 cfg->guest_cid, VIRTIO_VSOCK_MIN_GUEST_CID,
				 (uint32_t)VIRTIO_VSOCK_MAX_GUEST_CID);

	v = calloc(1, sizeof(*v));
	if (!v)
		return error_set(err, -ENOMEM, "virtio-vsock: out of memory");
	v->listen_fd = -1;
	v->timer_fd = -1;
	v->guest_cid = cfg->guest_cid;
	v->poll_mode = cfg->test_poll_mode;
	v->next_host_port = VSOCK_HOST_PORT_MIN;
	v->name = strdup(cfg->id && *cfg->id ? cfg->id : "virtio-vsock");
	v->socket_path = strdup(cfg->socket_path);
	if (!v->name || !v->socket_path) {
		r = error_set(err, -ENOMEM, "virtio-vsock: out of memory");
		goto fail;
	}

	r = virtio_dev_init(&v->vdev, &vsock_ops, v->name, VIRTIO_ID_VSOCK, VSOCK_NR_QUEUES,
			    VSOCK_QUEUE_SIZE, VSOCK_CFG_SIZE);
	if (r < 0) {
		error_set(err, r, "%s: cannot initialise the device: %s", v->name, strerror(-r));
		goto fail;
	}
	v->vdev.mem = mem;

	r = vsock_listen(v, err);
	if (r < 0)
		goto fail;
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (v->timer_fd < 0) {
		r = error_set(err, -errno, "%s: timerfd: %s", v->name, strerror(errno));
		goto fail;
	}
	r = virtio_worker_init(&v->worker, v->name);
	if (r < 0) {
		error_set(err, r, "%s: cannot create the worker: %s", v->name, strerror(-r));
		goto fail;
	}
	v->worker_ready = true;
	r = virtio_worker_add(&v->worker, v->vdev.kick_fds[VSOCK_QUEUE_RX], EPOLLIN,
			      vsock_on_kick_rx, v);
	if (r >= 0)
		r = virtio_worker_add(&v->worker, v->vdev.kick_fds[VSOCK_QUEUE_TX], EPOLLIN,
				      vsock_on_kick_tx, v);
	if (r >= 0)
		r = virtio_worker_add(&v->worker, v->vdev.kick_fds[VSOCK_QUEUE_EVENT], EPOLLIN,
				      vsock_on_kick_event, v);
	if (r >= 0)
		r = virtio_worker_add(&v->worker, v->timer_fd, EPOLLIN, vsock_on_timer, v);
	if (r >= 0) {
		r = virtio_worker_add(&v->worker, v->listen_fd, EPOLLIN, vsock_on_listener, v);
		v->listener_watched = r >= 0;
	}
	if (r < 0) {
		error_set(err, r, "%s: cannot set up the worker: %s", v->name, strerror(-r));
		goto fail;
	}
	*ret = &v->vdev;
	return 0;
fail:
	vsock_free(v);
	return r;
}

int virtio_vsock_get_counters(struct virtio_dev *vdev, struct virtio_vsock_counters *ret)
{
	const struct virtio_vsock *v;

	if (!vdev || vdev->ops != &vsock_ops || !ret)
		return -EINVAL;
	v = vsock_from_vdev(vdev);
#define LOAD(f) __atomic_load_n(&v->f, __ATOMIC_RELAXED)
	*ret = (struct virtio_vsock_counters){
		.conns_active = LOAD(conns_active),
		.conns_total = LOAD(conns_total),
		.conns_refused = LOAD(conns_refused),
		.handshake_failures = LOAD(handshake_failures),
		.rx_bytes = LOAD(rx_bytes),
		.rx_packets = LOAD(rx_packets),
		.tx_bytes = LOAD(tx_bytes),
		.tx_packets = LOAD(tx_packets),
		.rst_sent = LOAD(rst_sent),
		.malformed = LOAD(malformed),
		.credit_violations = LOAD(credit_violations),
		.timeouts = LOAD(timeouts),
	};
#undef LOAD
	return 0;
}

int virtio_vsock_poll(struct virtio_dev *vdev)
{
	struct virtio_vsock *v;
	struct vsock_conn *c, *next;

	if (!vdev || vdev->ops != &vsock_ops)
		return -EINVAL;
	v = vsock_from_vdev(vdev);
	if (!v->poll_mode)
		return -EINVAL;
	if (!vdev->activated)
		return 0;
	vsock_on_kick_event(v, EPOLLIN);
	vsock_on_kick_tx(v, EPOLLIN);
	if (v->listener_watched)
		vsock_on_listener(v, EPOLLIN);
	/* each event may free its own connection, never another one */
	for (c = v->all; c; c = next) {
		next = c->all_next;
		if (c->watched)
			vsock_conn_event(c, c->watched);
	}
	vsock_on_timer(v, EPOLLIN);
	vsock_on_kick_rx(v, EPOLLIN);
	return 0;
}
