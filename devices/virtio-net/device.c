/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net life cycle: creation (tap, MAC, host address), features, config
 * space, activate and reset, and the worker's fd bookkeeping. Queue handling
 * is in rx.c, tx.c and ctrl.c.
 *
 * Threads: create/activate/reset/destroy and config access run on VMM/vCPU
 * threads with the worker stopped or not touching the same state; everything
 * under `running` belongs to the worker thread (or to virtio_net_poll()'s
 * caller in poll mode).
 */
#include "net.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "common/log.h"

#define NET_DEFAULT_HOST_MASK "255.255.255.0"

static const struct virtio_device_ops net_ops;

/*
 * Offered always: the header passes through the tap unchanged, so whatever
 * offload the guest uses the host kernel implements (HOST_*), and whatever
 * it accepts we let the tap hand over (GUEST_*, via TUNSETOFFLOAD).
 */
#define NET_FEATURES                                                                       \
	(VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |                  \
	 VIRTIO_BIT(VIRTIO_NET_F_CSUM) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM) |             \
	 VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_TSO6) |       \
	 VIRTIO_BIT(VIRTIO_NET_F_GUEST_ECN) | VIRTIO_BIT(VIRTIO_NET_F_GUEST_UFO) |          \
	 VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO4) | VIRTIO_BIT(VIRTIO_NET_F_HOST_TSO6) |         \
	 VIRTIO_BIT(VIRTIO_NET_F_HOST_ECN) | VIRTIO_BIT(VIRTIO_NET_F_HOST_UFO) |           \
	 VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF))
/* Only with more than one pair: MQ needs the control queue, and a single
 * pair has nothing to negotiate there. */
#define NET_FEATURES_MQ (VIRTIO_BIT(VIRTIO_NET_F_CTRL_VQ) | VIRTIO_BIT(VIRTIO_NET_F_MQ))

void net_warn_once(struct virtio_net *net, enum net_warn kind, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (__atomic_fetch_or(&net->warned, 1u << kind, __ATOMIC_RELAXED) & (1u << kind))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("virtio-net: %s: %s (logged once)", net->name, msg);
}

void net_notify(struct virtio_net *net, uint16_t q)
{
	int r = virtio_dev_notify_queue(&net->vdev, q);

	if (r < 0)
		log_debug_errno(r, "virtio-net: %s: interrupt for queue %u failed", net->name, q);
}

void net_self_kick(struct virtio_net *net, uint16_t q)
{
	uint64_t one = 1;

	/* EAGAIN: the counter is saturated, a kick is pending anyway */
	if (write(net->vdev.kick_fds[q], &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug_errno(-errno, "virtio-net: %s: self-kick of queue %u failed", net->name,
				q);
}

void net_pair_backend_dead(struct net_pair *p, const char *why)
{
	net_warn_once(p->net, NET_WARN_RX_BACKEND, "queue pair %u: %s; not using it any more",
		      p->index, why);
	p->backend_dead = true;
	/* a chain waiting for EPOLLOUT would wait forever: drop it (and the
	 * rest of the queue) now */
	net_tx_resume(p);
	net_pair_update_events(p);
}

/* Out of the epoll set; only -ENOENT can fail, and then it is out already. */
static void net_worker_del(struct virtio_net *net, int fd)
{
	int r = virtio_worker_del(&net->worker, fd);

	if (r < 0)
		log_debug_errno(r, "virtio-net: %s: fd %d was not watched", net->name, fd);
}

/* Worker callback for a pair's tap fd. */
static void net_pair_fd_event(void *opaque, uint32_t events)
{
	struct net_pair *p = opaque;

	if (events & EPOLLOUT)
		net_tx_resume(p);
	if (events & EPOLLIN) {
		net_rx_process(p);
	} else if (events & (EPOLLHUP | EPOLLERR)) {
		/*
		 * Reported whatever we asked for, and level-triggered: with
		 * nothing left to read the fd can only keep firing, so stop
		 * watching it (a test peer hung up; a tap does not do this).
		 */
		net_pair_backend_dead(p, "backend hung up");
	}
}

void net_pair_update_events(struct net_pair *p)
{
	struct virtio_net *net = p->net;
	uint32_t want = 0;
	int r;

	if (!net->running || net->poll_mode)
		return;
	if (!net->halted && !p->backend_dead && p->usable) {
		/* no EPOLLIN while the guest has no buffer: the frames wait in
		 * the tap's queue, not in ours, until its next rx kick */
		if (p->active && !p->rx_wait)
			want |= EPOLLIN;
		if (p->tx_blocked)
			want |= EPOLLOUT;
	}
	if (want == p->fd_events)
		return;
	if (want == 0) {
		net_worker_del(net, p->fd);
		r = 0;
	} else if (p->fd_events == 0) {
		r = virtio_worker_add(&net->worker, p->fd, want, net_pair_fd_event, p);
	} else {
		r = virtio_worker_mod(&net->worker, p->fd, want, net_pair_fd_event, p);
	}
	if (r < 0) {
		/* only ENOMEM and the like: the pair stops rather than spins */
		log_error_errno(r, "virtio-net: %s: cannot watch queue pair %u's backend",
				net->name, p->index);
		if (want != 0) {
			net_worker_del(net, p->fd);
			p->backend_dead = true;
		}
		p->fd_events = 0;
		return;
	}
	p->fd_events = want;
}

void net_halt(struct virtio_net *net, const char *why)
{
	virtio_dev_set_needs_reset(&net->vdev, why);
	net->halted = true;
	for (unsigned int i = 0; i < net->nr_pairs; i++)
		net_pair_update_events(&net->pairs[i]);
}

int net_set_active_pairs(struct virtio_net *net, uint16_t n)
{
	int r;

	for (unsigned int i = 0; i < net->nr_pairs; i++) {
		struct net_pair *p = &net->pairs[i];
		bool active = i < n;

		if (active == p->active)
			continue;
		if (active) {
			r = net_tap_set_queue_enabled(&net->tap, i, true);
			if (r < 0)
				return log_error_errno(r, "virtio-net: %s: cannot attach tap queue %u",
						       net->name, i);
			p->active = true;
			net_pair_update_events(p);
			/* a frame it held before may be waiting in its bounce buffer */
			net_self_kick(net, p->rx_q);
		} else {
			/* out of epoll first: a detached tap queue polls as EPOLLERR */
			p->active = false;
			net_pair_update_events(p);
			r = net_tap_set_queue_enabled(&net->tap, i, false);
			if (r < 0)
				return log_error_errno(r, "virtio-net: %s: cannot detach tap queue %u",
						       net->name, i);
		}
	}
	net->active_pairs = n;
	return 0;
}

static uint64_t net_features(struct virtio_dev *vdev)
{
	return to_net(vdev)->features;
}

static void net_config_read(struct virtio_dev *vdev, uint32_t offset, uint8_t *data,
			    uint32_t size)
{
	struct virtio_net *net = to_net(vdev);
	struct virtio_net_config_space cs = {
		.status = htole16(VIRTIO_NET_S_LINK_UP),
		.max_virtqueue_pairs = htole16(net->nr_pairs),
	};

	memcpy(cs.mac, net->mac, sizeof(cs.mac));
	/* the layer checked offset + size against config_size */
	memcpy(data, (const uint8_t *)&cs + offset, size);
}

static void net_config_write(struct virtio_dev *vdev, uint32_t offset, const uint8_t *data,
			     uint32_t size)
{
	/* Read-only with VERSION_1 (only legacy drivers wrote the MAC here). */
	net_warn_once(to_net(vdev), NET_WARN_CONFIG_WRITE,
		      "driver wrote %u byte(s) at config offset %u; ignored", size, offset);
}

/* TUN_F_* for what the driver accepted; the tap must not send anything else. */
static unsigned int net_tun_offloads(const struct virtio_dev *vdev)
{
	unsigned int f = 0;

	/* Everything below needs GUEST_CSUM (5.1.3.1), and TUNSETOFFLOAD
	 * refuses TSO without CSUM too. */
	if (!virtio_dev_has_feature(vdev, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	f |= TUN_F_CSUM;
	if (virtio_dev_has_feature(vdev, VIRTIO_NET_F_GUEST_TSO4))
		f |= TUN_F_TSO4;
	if (virtio_dev_has_feature(vdev, VIRTIO_NET_F_GUEST_TSO6))
		f |= TUN_F_TSO6;
	if ((f & (TUN_F_TSO4 | TUN_F_TSO6)) && virtio_dev_has_feature(vdev, VIRTIO_NET_F_GUEST_ECN))
		f |= TUN_F_TSO_ECN;
	if (virtio_dev_has_feature(vdev, VIRTIO_NET_F_GUEST_UFO))
		f |= TUN_F_UFO;
	return f;
}

static int net_register_kick(struct virtio_net *net, uint16_t q, virtio_worker_fn fn, void *opaque)
{
	int r;

	if (!net->vdev.queues[q].ready)
		return 0;
	r = virtio_worker_add(&net->worker, net->vdev.kick_fds[q], EPOLLIN, fn, opaque);
	if (r < 0)
		return r;
	net->kick_registered[q] = true;
	return 0;
}

static void net_unregister_all(struct virtio_net *net)
{
	for (unsigned int q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (net->kick_registered[q])
			net_worker_del(net, net->vdev.kick_fds[q]);
		net->kick_registered[q] = false;
	}
	for (unsigned int i = 0; i < net->nr_pairs; i++) {
		struct net_pair *p = &net->pairs[i];

		if (p->fd_events)
			net_worker_del(net, p->fd);
		p->fd_events = 0;
	}
}

static void net_reset(struct virtio_dev *vdev)
{
	struct virtio_net *net = to_net(vdev);

	/* after this nothing touches guest memory */
	virtio_worker_stop(&net->worker);
	net_unregister_all(net);
	for (unsigned int i = 0; i < net->nr_pairs; i++) {
		struct net_pair *p = &net->pairs[i];

		/* a frame already read from the tap has nowhere to go now */
		net_rx_clear(p);
		p->rx_wait = false;
		/* its chain belonged to the queue that was just reset */
		p->tx_blocked = false;
		p->usable = false;
		/* pair 0 stays attached; the others are detached at activate */
	}
	net->running = false;
	net->halted = false;
}

static int net_activate(struct virtio_dev *vdev)
{
	struct virtio_net *net = to_net(vdev);
	unsigned int offloads = net_tun_offloads(vdev);
	int r;

	net->mrg_rxbuf = virtio_dev_has_feature(vdev, VIRTIO_NET_F_MRG_RXBUF);
	net->guest_csum = virtio_dev_has_feature(vdev, VIRTIO_NET_F_GUEST_CSUM);
	r = net_tap_set_offload(&net->tap, offloads);
	if (r < 0)
		return log_error_errno(r, "virtio-net: %s: cannot set tap offloads 0x%x", net->name,
				       offloads);

	net->halted = false;
	for (unsigned int i = 0; i < net->nr_pairs; i++) {
		struct net_pair *p = &net->pairs[i];

		/* without MQ the driver enables pair 0 only (5.1.2) */
		p->usable = vdev->queues[p->rx_q].ready && vdev->queues[p->tx_q].ready;
		p->rx_wait = false;
		p->tx_blocked = false;
	}

	net->running = true;
	/*
	 * Multiqueue is off until VQ_PAIRS_SET (5.1.6.5.5): pair 0 only. The
	 * tap queues' attach state is unknown after a reset, so mark every pair
	 * the opposite of what we want and let net_set_active_pairs() set each.
	 */
	for (unsigned int i = 0; i < net->nr_pairs; i++)
		net->pairs[i].active = i != 0;
	r = net_set_active_pairs(net, 1);
	if (r < 0)
		goto fail;
	if (net->poll_mode)
		return 0;

	for (unsigned int i = 0; i < net->nr_pairs; i++) {
		struct net_pair *p = &net->pairs[i];

		r = net_register_kick(net, p->rx_q, net_rx_kick, p);
		if (r >= 0)
			r = net_register_kick(net, p->tx_q, net_tx_kick, p);
		if (r < 0)
			goto fail;
	}
	if (net->has_ctrl && virtio_dev_has_feature(vdev, VIRTIO_NET_F_CTRL_VQ)) {
		r = net_register_kick(net, net->ctrl_q, net_ctrl_kick, net);
		if (r < 0)
			goto fail;
	}
	r = virtio_worker_start(&net->worker);
	if (r < 0)
		goto fail;
	return 0;

fail:
	log_error_errno(r, "virtio-net: %s: cannot start the device", net->name);
	net_unregister_all(net);
	net->running = false;
	return r;
}

static void net_free(struct virtio_net *net)
{
	if (!net)
		return;
	/* resets an activated device first, which stops the worker */
	virtio_dev_fini(&net->vdev);
	if (net->worker_ready)
		virtio_worker_fini(&net->worker);
	net_tap_close(&net->tap);
	for (unsigned int i = 0; i < VIRTIO_NET_MAX_QUEUE_PAIRS; i++) {
		struct net_pair *p = &net->pairs[i];

		free(p->rx_buf);
		free(p->rx_used);
		free(p->rx_chain);
		free(p->tx_chain);
	}
	free(net->ctrl_chain);
	free(net);
}

static void net_destroy(struct virtio_dev *vdev)
{
	if (vdev)
		net_free(to_net(vdev));
}

/* VM pause: joining the worker completes what is in flight, and its fds
 * stay registered, so resume just starts it again. */
static void net_pause(struct virtio_dev *vdev)
{
	struct virtio_net *x = to_net(vdev);

	virtio_worker_stop(&x->worker);
}

static int net_resume(struct virtio_dev *vdev)
{
	struct virtio_net *x = to_net(vdev);

	return virtio_worker_start(&x->worker);
}

static const struct virtio_device_ops net_ops = {
	.features = net_features,
	.config_read = net_config_read,
	.config_write = net_config_write,
	.activate = net_activate,
	.reset = net_reset,
	.destroy = net_destroy,
	.pause = net_pause,
	.resume = net_resume,
};

static bool mask_contiguous(const char *mask)
{
	struct in_addr a;
	uint32_t m;

	if (inet_pton(AF_INET, mask, &a) != 1)
		return false;
	m = ntohl(a.s_addr);
	/* ones then zeros: the complement plus one is a power of two */
	return ((~m + 1) & ~m) == 0;
}

static int net_pick_mac(const struct virtio_net_config *cfg, uint8_t mac[VIRTIO_NET_MAC_LEN],
			const char *ctx, struct error *err)
{
	static const uint8_t zero[VIRTIO_NET_MAC_LEN];

	if (cfg->mac) {
		if (cfg->mac[0] & 1)
			return error_set(err, -EINVAL,
					 "%s: MAC %02x:%02x:%02x:%02x:%02x:%02x is a multicast address",
					 ctx, cfg->mac[0], cfg->mac[1], cfg->mac[2], cfg->mac[3],
					 cfg->mac[4], cfg->mac[5]);
		if (memcmp(cfg->mac, zero, sizeof(zero)) == 0)
			return error_set(err, -EINVAL, "%s: MAC 00:00:00:00:00:00 is not valid", ctx);
		memcpy(mac, cfg->mac, VIRTIO_NET_MAC_LEN);
		return 0;
	}
	if (getrandom(mac, VIRTIO_NET_MAC_LEN, 0) != VIRTIO_NET_MAC_LEN)
		return error_set(err, -errno, "%s: cannot generate a MAC address: %s", ctx,
				 strerror(errno));
	/* unicast, locally administered (as cloud-hypervisor) */
	mac[0] = (uint8_t)((mac[0] & ~1u) | 2u);
	return 0;
}

static int net_check_config(const struct virtio_net_config *cfg, const char *ctx,
			    struct error *err)
{
	if (cfg->num_queues != 0 &&
	    (cfg->num_queues % 2 != 0 || cfg->num_queues > 2 * VIRTIO_NET_MAX_QUEUE_PAIRS))
		return error_set(err, -EINVAL,
				 "%s: num_queues must be an even number from 2 to %d (got %u)", ctx,
				 2 * VIRTIO_NET_MAX_QUEUE_PAIRS, cfg->num_queues);
	if (cfg->queue_size != 0 &&
	    (cfg->queue_size < VIRTIO_NET_MIN_QUEUE_SIZE ||
	     cfg->queue_size > VIRTIO_NET_MAX_QUEUE_SIZE ||
	     (cfg->queue_size & (cfg->queue_size - 1)) != 0))
		return error_set(err, -EINVAL,
				 "%s: queue_size must be a power of two from %d to %d (got %u)", ctx,
				 VIRTIO_NET_MIN_QUEUE_SIZE, VIRTIO_NET_MAX_QUEUE_SIZE,
				 cfg->queue_size);
	if (cfg->host_mask && !cfg->host_ip)
		return error_set(err, -EINVAL, "%s: a host netmask needs a host IP address", ctx);
	if (cfg->host_ip) {
		struct in_addr a;

		if (inet_pton(AF_INET, cfg->host_ip, &a) != 1)
			return error_set(err, -EINVAL, "%s: invalid host IPv4 address '%s'", ctx,
					 cfg->host_ip);
	}
	if (cfg->host_mask && !mask_contiguous(cfg->host_mask))
		return error_set(err, -EINVAL, "%s: invalid netmask '%s'", ctx, cfg->host_mask);
	return 0;
}

static int net_alloc_pair(struct virtio_net *net, unsigned int i, uint16_t queue_size)
{
	struct net_pair *p = &net->pairs[i];

	p->net = net;
	p->index = i;
	p->rx_q = (uint16_t)(2 * i);
	p->tx_q = (uint16_t)(2 * i + 1);
	p->fd = net->tap.fds[i];
	p->rx_buf = malloc(NET_MAX_PACKET);
	p->rx_used = calloc(queue_size, sizeof(*p->rx_used));
	p->rx_chain = malloc(sizeof(*p->rx_chain));
	p->tx_chain = malloc(sizeof(*p->tx_chain));
	if (!p->rx_buf || !p->rx_used || !p->rx_chain || !p->tx_chain)
		return -ENOMEM;
	return 0;
}

int virtio_net_create(const struct virtio_net_config *cfg, const struct guest_mem *mem,
		      struct virtio_dev **ret_vdev, struct error *err)
{
	const char *tap_name = cfg->tap && cfg->tap[0] ? cfg->tap : NULL;
	uint16_t queue_size = cfg->queue_size ? cfg->queue_size : VIRTIO_NET_DEFAULT_QUEUE_SIZE;
	uint16_t nr_pairs = cfg->num_queues ? cfg->num_queues / 2 : 1;
	const char *step = NULL;
	struct virtio_net *net;
	char ctx[64];
	uint16_t nr_queues;
	int r;

	if (tap_name)
		snprintf(ctx, sizeof(ctx), "--net tap=%s", tap_name);
	else
		snprintf(ctx, sizeof(ctx), "--net");
	r = net_check_config(cfg, ctx, err);
	if (r < 0)
		return r;

	net = calloc(1, sizeof(*net));
	if (!net)
		return error_set(err, -ENOMEM, "%s: out of memory", ctx);
	net_tap_init(&net->tap);
	snprintf(net->name, sizeof(net->name), "%s", cfg->id ? cfg->id : "virtio-net");
	net->nr_pairs = nr_pairs;
	net->has_ctrl = nr_pairs > 1;
	net->ctrl_q = (uint16_t)(2 * nr_pairs);
	net->poll_mode = cfg->test_poll_mode;
	net->features = NET_FEATURES | (net->has_ctrl ? NET_FEATURES_MQ : 0);
	nr_queues = (uint16_t)(2 * nr_pairs + (net->has_ctrl ? 1 : 0));

	r = net_pick_mac(cfg, net->mac, ctx, err);
	if (r < 0)
		goto fail;

	if (cfg->test_backend_fds) {
		r = net_tap_adopt(&net->tap, cfg->test_backend_fds, nr_pairs);
		if (r < 0) {
			error_set(err, r, "%s: cannot use the test backend: %s", ctx, strerror(-r));
			goto fail;
		}
	} else {
		r = net_tap_open(&net->tap, tap_name, nr_pairs, &step);
		if (r < 0) {
			error_set(err, r, "%s: %s: %s", ctx, step, strerror(-r));
			goto fail;
		}
		r = net_tap_configure_host(&net->tap, cfg->host_ip,
					   cfg->host_ip && !cfg->host_mask ? NET_DEFAULT_HOST_MASK
									   : cfg->host_mask,
					   &step);
		if (r < 0) {
			error_set(err, r, "%s: tap %s: %s: %s", ctx, net->tap.ifname, step,
				  strerror(-r));
			goto fail;
		}
	}

	for (unsigned int i = 0; i < nr_pairs; i++) {
		r = net_alloc_pair(net, i, queue_size);
		if (r < 0) {
			error_set(err, r, "%s: out of memory", ctx);
			goto fail;
		}
	}
	net->ctrl_chain = malloc(sizeof(*net->ctrl_chain));
	if (!net->ctrl_chain) {
		r = error_set(err, -ENOMEM, "%s: out of memory", ctx);
		goto fail;
	}

	r = virtio_dev_init(&net->vdev, &net_ops, net->name, VIRTIO_ID_NET, nr_queues, queue_size,
			    sizeof(struct virtio_net_config_space));
	if (r < 0) {
		error_set(err, r, "%s: cannot initialise the virtio device: %s", ctx, strerror(-r));
		goto fail;
	}
	net->vdev.mem = mem;
	r = virtio_worker_init(&net->worker, net->name);
	if (r < 0) {
		error_set(err, r, "%s: cannot create the worker: %s", ctx, strerror(-r));
		goto fail;
	}
	net->worker_ready = true;

	log_debug("virtio-net: %s: tap %s, %u queue pair(s), MAC %02x:%02x:%02x:%02x:%02x:%02x",
		  net->name, net->tap.ifname[0] ? net->tap.ifname : "(test backend)", nr_pairs,
		  net->mac[0], net->mac[1], net->mac[2], net->mac[3], net->mac[4], net->mac[5]);
	*ret_vdev = &net->vdev;
	return 0;

fail:
	net_free(net);
	return r;
}

static struct virtio_net *as_net(struct virtio_dev *vdev)
{
	return vdev && vdev->ops == &net_ops ? to_net(vdev) : NULL;
}

int virtio_net_get_counters(struct virtio_dev *vdev, struct virtio_net_counters *ret)
{
	struct virtio_net *net = as_net(vdev);

	if (!net)
		return -EINVAL;
	*ret = (struct virtio_net_counters){
		.rx_bytes = __atomic_load_n(&net->rx_bytes, __ATOMIC_RELAXED),
		.rx_packets = __atomic_load_n(&net->rx_packets, __ATOMIC_RELAXED),
		.rx_dropped = __atomic_load_n(&net->rx_dropped, __ATOMIC_RELAXED),
		.tx_bytes = __atomic_load_n(&net->tx_bytes, __ATOMIC_RELAXED),
		.tx_packets = __atomic_load_n(&net->tx_packets, __ATOMIC_RELAXED),
		.tx_dropped = __atomic_load_n(&net->tx_dropped, __ATOMIC_RELAXED),
	};
	return 0;
}

const char *virtio_net_tap_name(struct virtio_dev *vdev)
{
	struct virtio_net *net = as_net(vdev);

	return net ? net->tap.ifname : NULL;
}

int virtio_net_get_mac(struct virtio_dev *vdev, uint8_t ret_mac[VIRTIO_NET_MAC_LEN])
{
	struct virtio_net *net = as_net(vdev);

	if (!net)
		return -EINVAL;
	memcpy(ret_mac, net->mac, VIRTIO_NET_MAC_LEN);
	return 0;
}

int virtio_net_poll(struct virtio_dev *vdev)
{
	struct virtio_net *net = as_net(vdev);

	if (!net || !net->poll_mode)
		return -EINVAL;
	if (!net->running)
		return 0;
	for (unsigned int i = 0; i < net->nr_pairs && !net->halted; i++) {
		struct net_pair *p = &net->pairs[i];

		/* as if every kick fd fired and the backend were ready both ways */
		virtio_eventfd_drain(vdev->kick_fds[p->rx_q]);
		virtio_eventfd_drain(vdev->kick_fds[p->tx_q]);
		net_tx_resume(p);
		net_tx_process(p);
		p->rx_wait = false;
		net_rx_process(p);
	}
	if (net->has_ctrl && !net->halted) {
		virtio_eventfd_drain(vdev->kick_fds[net->ctrl_q]);
		net_ctrl_process(net);
	}
	return 0;
}
