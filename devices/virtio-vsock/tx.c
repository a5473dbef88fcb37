/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tx queue (guest to device): take each packet, validate its header
 * against the chain it came in (any shape: header and payload in one
 * descriptor or spread over many) and hand it to the muxer. A packet is
 * always consumed at once: RW payloads go to their connection's socket or
 * ring (the credit protocol guarantees room). The one thing that makes the
 * tx queue wait is a full queue of resets owed to the guest, which only rx
 * buffers can drain.
 */
#include <endian.h>
#include <inttypes.h>
#include <string.h>

#include "common/log.h"
#include "vsock.h"

#define HDR_LEN ((uint32_t)sizeof(struct virtio_vsock_hdr))

static void tx_packet(struct virtio_vsock *v, const struct virtq_chain *ch)
{
	struct virtio_vsock_hdr h;

	if (ch->out_len < HDR_LEN || virtq_chain_read(ch, 0, &h, HDR_LEN) != HDR_LEN) {
		VSOCK_COUNT(v, malformed, 1);
		vsock_warn_once(v, VSOCK_WARN_MALFORMED, "tx packet shorter than its header");
		return;
	}
	h.src_cid = le64toh(h.src_cid);
	h.dst_cid = le64toh(h.dst_cid);
	h.src_port = le32toh(h.src_port);
	h.dst_port = le32toh(h.dst_port);
	h.len = le32toh(h.len);
	h.type = le16toh(h.type);
	h.op = le16toh(h.op);
	h.flags = le32toh(h.flags);
	h.buf_alloc = le32toh(h.buf_alloc);
	h.fwd_cnt = le32toh(h.fwd_cnt);

	if (h.src_cid != v->guest_cid) {
		/* spoofed: answering would only help the spoofing */
		VSOCK_COUNT(v, malformed, 1);
		vsock_warn_once(v, VSOCK_WARN_SPOOF, "packet from CID %" PRIu64 " (guest is %" PRIu64
				"), dropping such packets", h.src_cid, v->guest_cid);
		return;
	}
	if (h.len > ch->out_len - HDR_LEN || h.len > VSOCK_MAX_PKT_PAYLOAD ||
	    (h.op != VIRTIO_VSOCK_OP_RW && h.len != 0)) {
		VSOCK_COUNT(v, malformed, 1);
		vsock_warn_once(v, VSOCK_WARN_MALFORMED, "packet length %" PRIu32 " does not fit "
				"its %" PRIu64 "-byte chain or its operation %u", h.len, ch->out_len,
				h.op);
		vsock_muxer_malformed(v, &h);
		return;
	}
	vsock_muxer_guest_pkt(v, &h, ch);
}

void vsock_tx_process(struct virtio_vsock *v)
{
	struct virtio_dev *vdev = &v->vdev;
	struct virtqueue *vq = &vdev->queues[VSOCK_QUEUE_TX];
	unsigned int done = 0;
	bool more = false;
	int r;

	if (!vq->ready || vq->broken)
		return;
	virtq_disable_notify(vq);
	for (;;) {
		if (done >= VSOCK_TX_BATCH) {
			more = true;
			break;
		}
		if (v->orphan_len >= VSOCK_ORPHAN_RST_MAX) {
			/* a packet may owe the guest a reset: wait for rx buffers */
			v->tx_stalled = true;
			break;
		}
		r = virtq_pop_armed(vq, &v->tx_chain);
		if (r < 0) {
			virtio_dev_set_needs_reset(vdev, "malformed tx chain");
			break;
		}
		if (r == 0)
			break;
		done++;
		VSOCK_COUNT(v, tx_packets, 1);
		/* writable descriptors on tx carry nothing for us; ignore them */
		tx_packet(v, &v->tx_chain);
		if (virtq_push(vq, v->tx_chain.head, 0) < 0) {
			virtio_dev_set_needs_reset(vdev, "tx used ring not writable");
			break;
		}
	}
	if (done > 0)
		(void)virtio_dev_notify_queue(vdev, VSOCK_QUEUE_TX);
	if (more)
		vsock_self_kick(v, VSOCK_QUEUE_TX);
}
