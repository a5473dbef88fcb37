/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vm.counters: each device kind's counters under cloud-hypervisor's names
 * where they exist (read_bytes, write_bytes, read_ops, write_ops, rx_bytes,
 * tx_bytes, rx_frames, tx_frames...).
 */
#include "counters.h"

#include <stdlib.h>

#include "devices/virtio-blk.h"
#include "devices/virtio-console.h"
#include "devices/virtio-fs.h"
#include "devices/virtio-net.h"
#include "devices/virtio-rng.h"
#include "devices/virtio-vsock.h"

struct counter_list {
	struct vmm_counter *c;
	unsigned int n, cap;
};

static int add(struct counter_list *l, const char *device, const char *name, uint64_t value)
{
	if (l->n == l->cap) {
		unsigned int cap = l->cap ? l->cap * 2 : 32;
		struct vmm_counter *c = realloc(l->c, cap * sizeof(*c));

		if (!c)
			return -ENOMEM;
		l->c = c;
		l->cap = cap;
	}
	l->c[l->n++] = (struct vmm_counter){ .device = device, .name = name, .value = value };
	return 0;
}

static int add_device(struct counter_list *l, struct virtio_dev *vdev)
{
	const char *d = vdev->name;
	int r = 0;

	switch (vdev->device_type) {
	case VIRTIO_ID_BLOCK: {
		struct virtio_blk_counters b;

		if (virtio_blk_get_counters(vdev, &b) < 0)
			return 0;
		r |= add(l, d, "read_bytes", b.read_bytes);
		r |= add(l, d, "write_bytes", b.write_bytes);
		r |= add(l, d, "read_ops", b.read_ops);
		r |= add(l, d, "write_ops", b.write_ops);
		break;
	}
	case VIRTIO_ID_NET: {
		struct virtio_net_counters n;

		if (virtio_net_get_counters(vdev, &n) < 0)
			return 0;
		r |= add(l, d, "rx_bytes", n.rx_bytes);
		r |= add(l, d, "rx_frames", n.rx_packets);
		r |= add(l, d, "rx_dropped", n.rx_dropped);
		r |= add(l, d, "tx_bytes", n.tx_bytes);
		r |= add(l, d, "tx_frames", n.tx_packets);
		r |= add(l, d, "tx_dropped", n.tx_dropped);
		break;
	}
	case VIRTIO_ID_RNG:
		r |= add(l, d, "bytes", virtio_rng_bytes_served(vdev));
		break;
	case VIRTIO_ID_CONSOLE: {
		struct virtio_console_stats s;

		virtio_console_get_stats(vdev, &s);
		r |= add(l, d, "tx_bytes", s.tx_bytes);
		r |= add(l, d, "rx_bytes", s.rx_bytes);
		r |= add(l, d, "tx_discarded", s.tx_discarded);
		break;
	}
	case VIRTIO_ID_VSOCK: {
		struct virtio_vsock_counters v;

		if (virtio_vsock_get_counters(vdev, &v) < 0)
			return 0;
		r |= add(l, d, "connections_active", v.conns_active);
		r |= add(l, d, "connections_total", v.conns_total);
		r |= add(l, d, "connections_refused", v.conns_refused);
		r |= add(l, d, "rx_bytes", v.rx_bytes);
		r |= add(l, d, "tx_bytes", v.tx_bytes);
		r |= add(l, d, "rst_sent", v.rst_sent);
		r |= add(l, d, "malformed", v.malformed);
		break;
	}
	case VIRTIO_ID_FS: {
		struct virtio_fs_counters f;

		if (virtio_fs_get_counters(vdev, &f) < 0)
			return 0;
		r |= add(l, d, "call_signals", f.call_signals);
		r |= add(l, d, "backend_disconnects", f.backend_disconnects);
		break;
	}
	default:
		break;
	}
	return r ? -ENOMEM : 0;
}

int vmm_counters_collect(struct virtio_dev *const *devs, unsigned int n, struct vmm_counter **ret,
			 unsigned int *ret_n)
{
	struct counter_list l = { 0 };

	for (unsigned int i = 0; i < n; i++) {
		if (add_device(&l, devs[i]) < 0) {
			free(l.c);
			return -ENOMEM;
		}
	}
	*ret = l.c;
	*ret_n = l.n;
	return 0;
}
