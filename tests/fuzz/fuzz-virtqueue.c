/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the split virtqueue: the input is a small guest's
 * memory with the rings at fixed offsets (or, in one mode, at addresses the
 * input chooses), and we pop/copy/push until the ring is empty or broken,
 * under every combination of EVENT_IDX and INDIRECT_DESC. Must never crash,
 * hang or touch memory outside the fake guest RAM.
 *
 * Input layout:
 *   byte 0      log2(queue size) (mod 9: sizes 1..256)
 *   byte 1      bit 0: ring addresses from bytes 8..31, else the fixed layout
 *   bytes 8..31 desc, avail, used gpa (le64) when byte 1 bit 0 is set
 *   bytes 32..  guest memory image from gpa 0 (the rest is zero)
 * Fixed layout: desc table at 0x0000, avail ring at 0x1000, used ring at
 * 0x2000, buffers anywhere.
 */
#include <stdint.h>
#include <string.h>

#include "common/guest-mem.h"
#include "common/log.h"
#include "devices/virtqueue.h"

#define FUZZ_RAM_SIZE (64 * 1024)
#define FUZZ_HDR 32
#define FUZZ_DESC_GPA 0x0000
#define FUZZ_AVAIL_GPA 0x1000
#define FUZZ_USED_GPA 0x2000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t ram[FUZZ_RAM_SIZE] __attribute__((aligned(4096)));
static struct virtq_chain chain;

static uint64_t le64_at(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void run_queue(const struct guest_mem *mem, const uint8_t *data, bool event_idx,
		      bool indirect)
{
	struct virtqueue vq = { .owner = "fuzz" };
	uint8_t scratch[512];

	virtq_reset(&vq, (uint16_t)(1u << (data[0] % 9)));
	if (data[1] & 1) {
		vq.desc_gpa = le64_at(data + 8);
		vq.avail_gpa = le64_at(data + 16);
		vq.used_gpa = le64_at(data + 24);
	} else {
		vq.desc_gpa = FUZZ_DESC_GPA;
		vq.avail_gpa = FUZZ_AVAIL_GPA;
		vq.used_gpa = FUZZ_USED_GPA;
	}
	vq.ready = true;
	if (virtq_activate(&vq, mem, event_idx, indirect) < 0)
		return;

	/* pending entries are bounded by the size; the extra rounds prove it */
	for (unsigned int n = 0; n < 2u * vq.size + 2; n++) {
		int r = virtq_pop(&vq, &chain);
		size_t got;

		if (r <= 0) {
			if (r == 0 && virtq_enable_notify(&vq))
				continue;
			break;
		}
		got = virtq_chain_read(&chain, n % 7, scratch, sizeof(scratch));
		got = virtq_chain_write(&chain, n % 5, scratch, got);
		if (virtq_push(&vq, chain.head, (uint32_t)got) < 0)
			break;
		(void)virtq_needs_interrupt(&vq);
		if (n & 1)
			virtq_disable_notify(&vq);
	}
	(void)virtq_needs_interrupt(&vq);
	virtq_reset(&vq, vq.size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	struct guest_mem mem;

	if (!quiet) {
		log_set_level(LOG_LEVEL_ERROR); /* broken queues are the point */
		quiet = true;
	}
	if (size < FUZZ_HDR)
		return 0;

	for (unsigned int mode = 0; mode < 4; mode++) {
		size_t n = MIN(size - FUZZ_HDR, sizeof(ram));

		/* each run starts from the input image: pushes wrote to it */
		memset(ram, 0, sizeof(ram));
		memcpy(ram, data + FUZZ_HDR, n);
		guest_mem_init(&mem, false);
		if (guest_mem_add_buffer(&mem, 0, ram, sizeof(ram)) < 0)
			return 0;
		run_queue(&mem, data, mode & 1, mode & 2);
		guest_mem_destroy(&mem);
	}
	return 0;
}
