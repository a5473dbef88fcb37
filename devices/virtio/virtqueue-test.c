/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueue tests: well-formed chains (direct, mixed, indirect, index
 * wrap), the copy helpers, the used ring, interrupt suppression (EVENT_IDX
 * math across 65535, NO_INTERRUPT), notification re-arm races, and every
 * malformed ring we know of — each must break the queue (never crash), and a
 * reset must bring it back.
 */
#include "vq-harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/test.h"


#define QSIZE 16
#define RAM_SIZE (1 * MiB)

struct fixture {
	struct vq_harness h;
	struct virtqueue vq;
	struct virtq_chain chain;
};

static struct fixture *fx_new(bool event_idx, bool indirect)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || vqh_init(&f->h, RAM_SIZE, 1, QSIZE) < 0) {
		fprintf(stderr, "fixture setup failed\n");
		exit(1);
	}
	f->vq.owner = "test";
	virtq_reset(&f->vq, QSIZE);
	vqh_setup_queue(&f->h, 0, &f->vq);
	CHECK_EQ(virtq_activate(&f->vq, &f->h.mem, event_idx, indirect), 0);
	return f;
}

static void fx_free(struct fixture *f)
{
	vqh_fini(&f->h);
	free(f);
}

static struct vqh_desc *desc(struct fixture *f, uint16_t i)
{
	return vqh_desc(&f->h, 0, i);
}

/* Driver and device both reset queue 0; a simple chain must work again. */
static void check_works_after_reset(struct fixture *f, bool indirect)
{
	char msg[] = "again";
	struct vqh_buf b = { .len = sizeof(msg), .data = msg };
	char out[sizeof(msg)] = { 0 };
	uint32_t id, len;

	virtq_reset(&f->vq, QSIZE);
	CHECK(!f->vq.broken);
	vqh_reset_queue(&f->h, 0);
	vqh_setup_queue(&f->h, 0, &f->vq);
	CHECK_EQ(virtq_activate(&f->vq, &f->h.mem, true, indirect), 0);
	vqh_publish(&f->h, 0, vqh_add_chain(&f->h, 0, &b, 1));
	CHECK_EQ(virtq_pop(&f->vq, &f->chain), 1);
	CHECK_EQ(virtq_chain_read(&f->chain, 0, out, sizeof(out)), sizeof(out));
	CHECK(memcmp(out, msg, sizeof(msg)) == 0);
	CHECK_EQ(virtq_push(&f->vq, f->chain.head, 0), 0);
	CHECK_EQ(vqh_pop_used(&f->h, 0, &id, &len), 1);
	CHECK_EQ(id, f->chain.head);
}

/* The queue is broken, stays broken, and reset repairs it. */
static void expect_broken(struct fixture *f, bool indirect, const char *what)
{
	int r = virtq_pop(&f->vq, &f->chain);

	if (r != -EIO || !f->vq.broken) {
		failures++;
		fprintf(stderr, "malformed case '%s': pop returned %d, broken=%d\n", what, r,
			f->vq.broken);
	}
	checks++;
	CHECK_EQ(virtq_pop(&f->vq, &f->chain), -EIO);
	CHECK_EQ(virtq_push(&f->vq, 0, 0), -EIO);
	CHECK(!virtq_enable_notify(&f->vq));
	check_works_after_reset(f, indirect);
}

static void test_simple_chains(void)
{
	struct fixture *f = fx_new(false, false);
	char hdr[] = "header", body[] = "body-bytes";
	struct vqh_buf bufs[4] = {
		{ .len = sizeof(hdr), .data = hdr },
		{ .len = sizeof(body), .data = body },
		{ .len = 8, .writable = true },
		{ .len = 4, .writable = true },
	};
	char out[64] = { 0 };
	uint8_t in[12];
	uint32_t id, len;
	uint16_t head;

	CHECK_EQ(virtq_pop(&f->vq, &f->chain), 0); /* empty */

	head = vqh_add_chain(&f->h, 0, bufs, 4);
	vqh_publish(&f->h, 0, head);
	CHECK_EQ(virtq_pop(&f->vq, &f->chain), 1);
	CHECK_EQ(f->chain.head, head);
	CHECK_EQ(f->chain.nr_out, 2);
	CHECK_EQ(f->chain.nr_in, 2);
	CHECK_EQ(f->chain.out_len, sizeof(hdr) + sizeof(body));
	CHECK_EQ(f->chain.in_len, 12);
	CHECK_EQ(virtq_pop(&f->vq, &f->chain), 0);

	/* read across the buffer boundary, at an offset, and past the end */
	CHECK_EQ(virtq_chain_read(&f->chain, 0, out, sizeof(out)), sizeof(hdr) + sizeof(body));
	CHECK(memcmp(out, hdr, sizeof(hdr)) == 0);
	CHECK(memcmp(out + sizeof(hdr), body, sizeof(body)) == 0);
	memset(out, 0, sizeof(out));
	CHECK_EQ(virtq_chain_read(&f->chain, 4, out, 5), 5);
	CHECK(memcmp(out, "er\0bo", 5) == 0);
	CHECK_EQ(virtq_chain_read(&f->chain, 100, out, 5), 0);

	/* writes land only in the writable buffers, spanning both */
	for (unsigned int i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(0xa0 + i);
	CHECK_EQ(virtq_chain_write(&f->chain, 2, in, sizeof(in)), 10);
	CHECK(memcmp((uint8_t *)vqh_ptr(&f->h, bufs[2].gpa) + 2, in, 6) == 0);
	CHECK(memcmp(vqh_ptr(&f->h, bufs[3].gpa), in + 6, 4) == 0);
	CHECK(memcmp(vqh_ptr(&f->h, bufs[0].gpa), hdr, sizeof(hdr)) == 0);

	CHECK_EQ(virtq_push(&f->vq, f->chain.head, 10), 0);
	CHECK_EQ(vqh_pop_used(&f->h, 0, &id, &len), 1);
	CHECK_EQ(id, head);
	CHECK_EQ(len, 10);
	CHECK_EQ(vqh_pop_used(&f->h, 0, &id, &len), 0);
	CHECK_EQ(virtq_push(&f->vq, QSIZE, 0), -EINVAL); /* device bug, not guest */

	/* zero-length descriptors are accepted and produce no iovec */
	struct vqh_buf z[3] = { { .len = 0 }, { .len = 4 }, { .len = 0, .writable = true } };

	vqh_publish(&f->h, 0, vqh_add_chain(&f->h, 0, z, 3));
	CHECK_EQ(virtq_pop(&f->vq, &f->chain), 1);
	CHECK_EQ(f->chain.nr_out, 1);
	CHECK_EQ(f->chain.nr_in, 0);
	CHECK_EQ(f->chain.out_len, 4);
	fx_free(f);
}

static void test_indirect(void)
{
	struct fixture *f = fx_new(true, true);
	char req[] = "indirect-request";
	struct vqh_buf bufs[3] = {
		{ .len = 4, .data = req },
		{ .len = sizeof(req) - 4, .data = req + 4 },
		{ .len = 32, .writable = true },
	};
	char out[sizeof(req)] = { 0 };
	uint16_t head;
	uint32_t id, len;

	head = vqh_add_indirect(&f->h, 0, bufs, 3);
	vqh_publish(&f->h, 0, head);
	CHECK_EQ(virtq_pop(&f->vq, &f->chain), 1);
	CHECK_EQ(f->chain.head, head);
	CHECK_EQ(f->chain.nr_out, 2);
	CHECK_EQ(f->chain.nr_in, 1);
	CHECK_EQ(virtq_chain_read(&f->chain, 0, out, sizeof(out)), sizeof(req));
	CHECK(memcmp(out, req, sizeof(req)) == 0);
	CHECK_EQ(virtq_chain_write(&f->chain, 0, "ok", 2), 2);
	CHECK(memcmp(vqh_ptr(&f->h, bufs[2].gpa), "ok", 2) == 0);
	CHECK_EQ(virtq_push(&f->vq, head, 2), 0);
	CHECK_EQ(vqh_pop_used(&f->h, 0, &id, &len), 1);
	CHECK_EQ(id, head);
	CHECK_EQ(len, 2);
	fx_free(f);
}

/* Many rounds through the ring: avail/used indices wrap past 65535. */
static void test_index_wrap(void)
{
	struct fixture *f = fx_new(false, false);
	uint64_t gpa = vqh_alloc(&f->h, 64);
	unsigned int bad = 0;

	for (unsigned int n = 0; n < 70000; n++) {
		struct vqh_buf b = { .gpa = gpa, .len = 64, .writable = true };
		uint16_t head = vqh_add_chain(&f->h, 0, &b, 1);
		uint32_t id, len;

		vqh_publish(&f->h, 0, head);
		if (virtq_pop(&f->vq, &f->chain) != 1 || f->chain.head != head ||
		    virtq_push(&f->vq, head, 64) != 0 || vqh_pop_used(&f->h, 0, &id, &len) != 1 ||
		    id != head || len != 64)
			bad++;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(f->vq.last_avail_idx, (uint16_t)70000);
	CHECK_EQ(f->vq.used_idx, (uint16_t)70000);

	/* a full ring: QSIZE chains outstanding at once */
	for (unsigned int n = 0; n < QSIZE; n++) {
		struct vqh_buf b = { .gpa = gpa, .len = 8 };

		vqh_publish(&f->h, 0, vqh_add_chain(&f->h, 0, &b, 1));
	}
	for (unsigned int n = 0; n < QSIZE; n++)
		CHECK_EQ(virtq_pop(&f->vq, &f->chain), 1);
	CHECK_EQ(virtq_pop(&f->vq, &f->chain), 0);
	fx_free(f);
}

static void push_n(struct fixture *f, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		CHECK_EQ(virtq_push(&f->vq, 0, 0), 0);
}

static void test_event_idx(void)
{
	struct fixture *f = fx_new(true, false);

	push_n(f, 1);
	CHECK(virtq_needs_interrupt(&f->vq)); /* first signal always goes */
	vqh_set_used_event(&f->h, 0, 5);      /* "interrupt me after entry 5" */
	push_n(f, 4);			      /* used 2..5 */
	CHECK(!virtq_needs_interrupt(&f->vq));
	push_n(f, 1); /* used 6: crosses 5 */
	CHECK(virtq_needs_interrupt(&f->vq));
	push_n(f, 1);
	CHECK(!virtq_needs_interrupt(&f->vq)); /* event stays behind */
	/* batch: 7 -> 20 with the event inside the batch */
	vqh_set_used_event(&f->h, 0, 15);
	push_n(f, 13);
	CHECK(virtq_needs_interrupt(&f->vq));
	vqh_set_used_event(&f->h, 0, 40);
	push_n(f, 5);
	CHECK(!virtq_needs_interrupt(&f->vq));
	CHECK(!virtq_needs_interrupt(&f->vq)); /* nothing new pushed */

	/* wrap-around at 65535 */
	f->vq.used_idx = 65534;
	f->vq.signalled_used = 65534;
	f->vq.signalled_used_valid = true;
	vqh_set_used_event(&f->h, 0, 65535);
	push_n(f, 1); /* used 65535 */
	CHECK(!virtq_needs_interrupt(&f->vq));
	push_n(f, 1); /* used 0: crosses 65535 */
	CHECK(virtq_needs_interrupt(&f->vq));
	vqh_set_used_event(&f->h, 0, 65533); /* long behind: no interrupt */
	push_n(f, 2);
	CHECK(!virtq_needs_interrupt(&f->vq));
	f->vq.used_idx = 65530;
	f->vq.signalled_used = 65530;
	vqh_set_used_event(&f->h, 0, 1);
	push_n(f, 7); /* 65530 -> 1: event 1 not yet passed */
	CHECK(!virtq_needs_interrupt(&f->vq));
	push_n(f, 1); /* 2: passed */
	CHECK(virtq_needs_interrupt(&f->vq));

	/* EVENT_IDX: enable_notify publishes avail_event = last_avail_idx */
	uint16_t *avail_event = vqh_ptr(&f->h, f->h.q[0].used_gpa + 4 + 8 * QSIZE);
	struct vqh_buf b = { .len = 4 };

	vqh_publish(&f->h, 0, vqh_add_chain(&f->h, 0, &b, 1));
	CHECK_EQ(virtq_pop(&f->vq, &f->chain), 1);
	CHECK(!virtq_enable_notify(&f->vq));
	CHECK_EQ(*avail_event, 1);
	vqh_publish(&f->h, 0, vqh_add_chain(&f->h, 0, &b, 1));
	CHECK(virtq_enable_notify(&f->vq)); /* raced: pop again */
	fx_free(f);
}

static void test_no_interrupt_and_notify(void)
{
	struct fixture *f = fx_new(false, false);
	uint16_t *used_flags = vqh_ptr(&f->h, f->h.q[0].used_gpa);
	struct vqh_buf b = { .len = 4 };

	push_n(f, 1);
	CHECK(virtq_needs_interrupt(&f->vq));
	vqh_set_avail_flags(&f->h, 0, VIRTQ_AVAIL_F_NO_INTERRUPT);
	push_n(f, 1);
	CHECK(!virtq_needs_interrupt(&f->vq));
	vqh_set_avail_flags(&f->h, 0, 0);
	CHECK(virtq_needs_interrupt(&f->vq));

	virtq_disable_notify(&f->vq);
	CHECK_EQ(*used_flags, VIRTQ_USED_F_NO_NOTIFY);
	CHECK(!virtq_enable_notify(&f->vq)); /* nothing pending */
	CHECK_EQ(*used_flags, 0);
	virtq_disable_notify(&f->vq);
	vqh_publish(&f->h, 0, vqh_add_chain(&f->h, 0, &b, 1)); /* driver saw NO_NOTIFY */
	CHECK(virtq_enable_notify(&f->vq));		      /* ... so we must notice */
	CHECK_EQ(virtq_pop(&f->vq, &f->chain), 1);
	CHECK(!virtq_enable_notify(&f->vq));
	fx_free(f);
}

/* Malformed rings ------------------------------------------------------- */

static void bad_desc_index(void)
{
	struct fixture *f = fx_new(true, true);
	struct vqh_buf b[2] = { { .len = 4 }, { .len = 4 } };
	uint16_t head = vqh_add_chain(&f->h, 0, b, 2);

	desc(f, head)->next = QSIZE;
	vqh_publish(&f->h, 0, head);
	expect_broken(f, true, "descriptor index >= size");
	fx_free(f);
}

static void bad_loop(void)
{
	struct fixture *f = fx_new(true, true);
	struct vqh_buf b = { .len = 4 };
	uint16_t head = vqh_add_chain(&f->h, 0, &b, 1);

	desc(f, head)->flags = VIRTQ_DESC_F_NEXT;
	desc(f, head)->next = head; /* i -> i */
	vqh_publish(&f->h, 0, head);
	expect_broken(f, true, "self loop");
	fx_free(f);
}

static void bad_too_long(void)
{
	struct fixture *f = fx_new(true, true);
	struct vqh_buf b[QSIZE];

	for (unsigned int i = 0; i < QSIZE; i++)
		b[i] = (struct vqh_buf){ .len = 4 };
	uint16_t head = vqh_add_chain(&f->h, 0, b, QSIZE);

	/* all QSIZE slots chained, and the last back to the first */
	desc(f, QSIZE - 1)->flags = VIRTQ_DESC_F_NEXT;
	desc(f, QSIZE - 1)->next = 0;
	vqh_publish(&f->h, 0, head);
	expect_broken(f, true, "chain longer than the queue");
	fx_free(f);
}

static void bad_write_before_read(void)
{
	struct fixture *f = fx_new(true, true);
	struct vqh_buf b[2] = { { .len = 4, .writable = true }, { .len = 4 } };

	vqh_publish(&f->h, 0, vqh_add_chain(&f->h, 0, b, 2));
	expect_broken(f, true, "writable before readable");
	fx_free(f);
}

static void bad_addr(uint64_t addr, uint32_t len, const char *what)
{
	struct fixture *f = fx_new(true, true);
	struct vqh_buf b[2] = { { .len = 4 }, { .gpa = addr, .len = len } };

	vqh_publish(&f->h, 0, vqh_add_chain(&f->h, 0, b, 2));
	expect_broken(f, true, what);
	fx_free(f);
}

static void bad_indirect_not_negotiated(void)
{
	struct fixture *f = fx_new(true, false);
	struct vqh_buf b[2] = { { .len = 4 }, { .len = 4, .writable = true } };

	vqh_publish(&f->h, 0, vqh_add_indirect(&f->h, 0, b, 2));
	expect_broken(f, false, "indirect not negotiated");
	fx_free(f);
}

static void bad_indirect_len(uint32_t len, const char *what)
{
	struct fixture *f = fx_new(true, true);
	struct vqh_buf b[2] = { { .len = 4 }, { .len = 4, .writable = true } };
	uint16_t head = vqh_add_indirect(&f->h, 0, b, 2);

	desc(f, head)->len = len;
	vqh_publish(&f->h, 0, head);
	expect_broken(f, true, what);
	fx_free(f);
}

static void bad_indirect_variant(int variant, const char *what)
{
	struct fixture *f = fx_new(true, true);
	struct vqh_buf b[2] = { { .len = 4 }, { .len = 4, .writable = true } };
	uint16_t head = vqh_add_indirect(&f->h, 0, b, 2);
	struct vqh_desc *table = vqh_ptr(&f->h, desc(f, head)->addr);

	switch (variant) {
	case 0: /* nested: a table entry is itself indirect */
		table[1].flags = VIRTQ_DESC_F_INDIRECT;
		table[1].addr = desc(f, head)->addr;
		table[1].len = 32;
		break;
	case 1: /* INDIRECT together with NEXT */
		desc(f, head)->flags = VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT;
		desc(f, head)->next = 1;
		break;
	case 2: /* loop inside the table */
		table[1].flags = VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE;
		table[1].next = 0;
		break;
	case 3: /* next beyond the table */
		table[1].flags = VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE;
		table[1].next = 2;
		break;
	case 4: /* table outside RAM */
		desc(f, head)->addr = RAM_SIZE - 16;
		break;
	case 5: /* indirect after a direct descriptor */
		desc(f, 5)->addr = desc(f, head)->addr;
		desc(f, 5)->len = 32;
		desc(f, 5)->flags = VIRTQ_DESC_F_INDIRECT;
		desc(f, head)->addr = b[0].gpa;
		desc(f, head)->len = 4;
		desc(f, head)->flags = VIRTQ_DESC_F_NEXT;
		desc(f, head)->next = 5;
		break;
	}
	vqh_publish(&f->h, 0, head);
	expect_broken(f, true, what);
	fx_free(f);
}

static void bad_avail(int variant, const char *what)
{
	struct fixture *f = fx_new(true, true);
	struct vqh_buf b = { .len = 4 };
	uint16_t head = vqh_add_chain(&f->h, 0, &b, 1);

	if (variant == 0)
		vqh_set_avail_idx(&f->h, 0, QSIZE + 1); /* jump by > size */
	else if (variant == 1)
		vqh_set_avail_idx(&f->h, 0, 0xffff); /* "negative" */
	else
		vqh_publish(&f->h, 0, variant == 2 ? QSIZE : 0xffff); /* head >= size */
	(void)head;
	expect_broken(f, true, what);
	fx_free(f);
}

static void bad_activate(void)
{
	struct fixture *f = fx_new(true, true);
	struct virtqueue *vq = &f->vq;
	struct {
		const char *what;
		uint16_t size;
		uint64_t desc, avail, used;
	} cases[] = {
		{ "used ring outside RAM", QSIZE, 0, 256, RAM_SIZE - 8 },
		{ "used ring past the end", QSIZE, 0, 256, RAM_SIZE - 100 },
		{ "avail outside RAM", QSIZE, 0, UINT64_MAX - 1, 512 },
		{ "desc misaligned", QSIZE, 8, 256, 512 },
		{ "avail misaligned", QSIZE, 0, 257, 512 },
		{ "used misaligned", QSIZE, 0, 256, 514 },
		{ "size not a power of two", 12, 0, 256, 512 },
		{ "size 0", 0, 0, 256, 512 },
		{ "size above maximum", 65535, 0, 256, 512 },
	};

	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		virtq_reset(vq, QSIZE);
		vq->size = cases[i].size;
		vq->desc_gpa = cases[i].desc;
		vq->avail_gpa = cases[i].avail;
		vq->used_gpa = cases[i].used;
		vq->ready = true;
		if (virtq_activate(vq, &f->h.mem, true, true) != -EINVAL) {
			failures++;
			fprintf(stderr, "activate accepted: %s\n", cases[i].what);
		}
		checks++;
		/* never activated: nothing comes out, nothing goes in */
		CHECK_EQ(virtq_pop(vq, &f->chain), 0);
		CHECK_EQ(virtq_push(vq, 0, 0), -EIO);
		CHECK(!virtq_needs_interrupt(vq));
	}
	check_works_after_reset(f, true);
	fx_free(f);
}

/* A transport that lets the driver rewrite an active queue: break, don't crash. */
static void bad_layout_change(void)
{
	struct fixture *f = fx_new(true, true);
	struct vqh_buf b = { .len = 4 };

	vqh_publish(&f->h, 0, vqh_add_chain(&f->h, 0, &b, 1));
	f->vq.size = 0;
	expect_broken(f, true, "size 0 while active");
	f->vq.used_gpa = RAM_SIZE;
	CHECK_EQ(virtq_push(&f->vq, 0, 0), -EIO);
	CHECK(f->vq.broken);
	CHECK(!virtq_needs_interrupt(&f->vq));
	virtq_disable_notify(&f->vq);
	fx_free(f);
}

int main(void)
{
	log_set_level(LOG_LEVEL_ERROR); /* the broken-queue warnings are expected */

	test_simple_chains();
	test_indirect();
	test_index_wrap();
	test_event_idx();
	test_no_interrupt_and_notify();

	bad_desc_index();
	bad_loop();
	bad_too_long();
	bad_write_before_read();
	bad_addr(RAM_SIZE, 4, "addr outside RAM");
	bad_addr(UINT64_MAX - 10, 100, "addr+len overflows");
	bad_addr(RAM_SIZE - 10, 100, "len past the end of RAM");
	bad_indirect_not_negotiated();
	bad_indirect_len(0, "indirect length 0");
	bad_indirect_len(17, "indirect length not a multiple of 16");
	bad_indirect_len(0xfffffff0, "indirect length huge");
	bad_indirect_len(16 * (VIRTQ_CHAIN_MAX_IOV + 1), "indirect table too many entries");
	bad_indirect_variant(0, "nested indirect");
	bad_indirect_variant(1, "INDIRECT+NEXT");
	bad_indirect_variant(2, "loop in indirect table");
	bad_indirect_variant(3, "next beyond indirect table");
	bad_indirect_variant(4, "indirect table outside RAM");
	bad_indirect_variant(5, "indirect not at head");
	bad_avail(0, "avail idx jumps by more than size");
	bad_avail(1, "avail idx goes backwards");
	bad_avail(2, "head index = size");
	bad_avail(3, "head index 0xffff");
	bad_activate();
	bad_layout_change();

	printf("virtqueue-test: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
