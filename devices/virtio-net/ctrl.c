/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The control queue (virtio 1.x 5.1.6.5), offered with MQ only (more than
 * one queue pair). A command is { u8 class; u8 command; data[]; } readable,
 * then { u8 ack; } writable.
 *
 * Answers:
 *  - MQ VQ_PAIRS_SET n (1 <= n <= pairs, each enabled): OK, pairs [0, n)
 *    receive and the other tap queues are detached so the host kernel steers
 *    nothing to them;
 *  - RX mode commands: OK when the request is "deliver more" (promiscuous,
 *    all-multi, all-uni on; no-multi, no-uni, no-broadcast off), which is
 *    what the tap does anyway, ERR for filtering we would not do;
 *  - MAC TABLE_SET: OK when well-formed (a filter the device may ignore:
 *    the guest stack drops frames not for it); MAC ADDR_SET: ERR, the MAC
 *    is fixed (CTRL_MAC_ADDR is not offered);
 *  - anything else: ERR.
 * A chain without a writable byte for the ack cannot be answered: protocol
 * violation, DEVICE_NEEDS_RESET.
 */
#include "net.h"

#include <endian.h>
#include <string.h>

#include "common/log.h"

static uint8_t ctrl_mq(struct virtio_net *net, uint8_t cmd, const uint8_t *data, size_t len)
{
	uint16_t n;
	int r;

	if (!virtio_dev_has_feature(&net->vdev, VIRTIO_NET_F_MQ) ||
	    cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || len != sizeof(uint16_t))
		return VIRTIO_NET_ERR;
	memcpy(&n, data, sizeof(n));
	n = le16toh(n);
	if (n < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || n > net->nr_pairs)
		return VIRTIO_NET_ERR;
	for (unsigned int i = 0; i < n; i++)
		if (!net->pairs[i].usable)
			return VIRTIO_NET_ERR; /* the driver did not enable those queues */
	r = net_set_active_pairs(net, n);
	if (r < 0)
		return VIRTIO_NET_ERR;
	log_debug("virtio-net: %s: %u queue pair(s) active", net->name, n);
	return VIRTIO_NET_OK;
}

static uint8_t ctrl_rx(uint8_t cmd, const uint8_t *data, size_t len)
{
	/* promisc, allmulti, alluni want 1; nomulti, nouni, nobcast want 0 */
	if (cmd > VIRTIO_NET_CTRL_RX_NOBCAST || len != 1)
		return VIRTIO_NET_ERR;
	return data[0] == (cmd <= 2 ? 1 : 0) ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
}

/* Two tables { le32 entries; u8 macs[entries][6]; }, exactly filling len. */
static uint8_t ctrl_mac_table(const uint8_t *data, size_t len)
{
	size_t off = 0;

	for (unsigned int t = 0; t < 2; t++) {
		uint32_t entries;

		if (len - off < sizeof(entries))
			return VIRTIO_NET_ERR;
		memcpy(&entries, data + off, sizeof(entries));
		entries = le32toh(entries);
		off += sizeof(entries);
		if (entries > (len - off) / VIRTIO_NET_MAC_LEN)
			return VIRTIO_NET_ERR;
		off += (size_t)entries * VIRTIO_NET_MAC_LEN;
	}
	return off == len ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
}

static uint8_t ctrl_handle(struct virtio_net *net, const struct virtq_chain *c)
{
	uint8_t buf[2 + NET_CTRL_MAX_DATA];
	size_t len;

	if (c->out_len < 2 || c->out_len > sizeof(buf)) {
		net_warn_once(net, NET_WARN_CTRL, "control command of %llu bytes refused",
			      (unsigned long long)c->out_len);
		return VIRTIO_NET_ERR;
	}
	/* one copy: the guest may rewrite its buffer while we look */
	len = virtq_chain_read(c, 0, buf, (size_t)c->out_len);
	if (len < 2)
		return VIRTIO_NET_ERR;

	switch (buf[0]) {
	case VIRTIO_NET_CTRL_MQ:
		return ctrl_mq(net, buf[1], buf + 2, len - 2);
	case VIRTIO_NET_CTRL_RX:
		return ctrl_rx(buf[1], buf + 2, len - 2);
	case VIRTIO_NET_CTRL_MAC:
		if (buf[1] == VIRTIO_NET_CTRL_MAC_TABLE_SET)
			return ctrl_mac_table(buf + 2, len - 2);
		return VIRTIO_NET_ERR;
	default:
		log_debug("virtio-net: %s: control class %u command %u not supported", net->name,
			  buf[0], buf[1]);
		return VIRTIO_NET_ERR;
	}
}

void net_ctrl_process(struct virtio_net *net)
{
	struct virtqueue *vq = &net->vdev.queues[net->ctrl_q];
	struct virtq_chain *c = net->ctrl_chain;
	unsigned int budget = NET_QUEUE_BUDGET;
	bool pushed = false;
	int r = 0;

	if (!net->running || net->halted)
		return;
	for (;;) {
		virtq_disable_notify(vq);
		while (budget > 0 && (r = virtq_pop(vq, c)) == 1) {
			uint8_t ack;

			budget--;
			if (c->in_len < 1) {
				net_halt(net, "control command without a writable ack byte");
				return;
			}
			ack = ctrl_handle(net, c);
			(void)virtq_chain_write(c, 0, &ack, 1);
			if (virtq_push(vq, c->head, 1) < 0) {
				net_halt(net, "control used ring not writable");
				return;
			}
			pushed = true;
		}
		if (budget == 0) {
			net_self_kick(net, net->ctrl_q);
			break;
		}
		if (r < 0) {
			net_halt(net, "control queue broken");
			return;
		}
		if (!virtq_enable_notify(vq))
			break;
	}
	if (pushed)
		net_notify(net, net->ctrl_q);
}

void net_ctrl_kick(void *opaque, uint32_t events)
{
	struct virtio_net *net = opaque;

	virtio_eventfd_drain(net->vdev.kick_fds[net->ctrl_q]);
	net_ctrl_process(net);
}
