/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MSI-X masking, pending bits and routing, with irq ops that count what the
 * VMM would have been asked to do.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/msix.h"

#define CHECK(c)                                                                       \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#c);                                                   \
			return 1;                                                      \
		}                                                                      \
	} while (0)

#define NR 3

struct counts {
	unsigned int routes[NR], fires[NR];
	uint64_t addr[NR];
	uint32_t data[NR];
	int fire_ret;
};

static int count_route(void *opaque, uint16_t v, uint64_t addr, uint32_t data)
{
	struct counts *c = opaque;

	c->routes[v]++;
	c->addr[v] = addr;
	c->data[v] = data;
	return 0;
}

static int count_fire(void *opaque, uint16_t v)
{
	struct counts *c = opaque;

	c->fires[v]++;
	return c->fire_ret;
}

static const struct msix_irq_ops counting_ops = { .route = count_route, .fire = count_fire };

static void wr32(struct msix *m, uint64_t off, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	msix_table_write(m, off, b, 4);
}

static uint64_t rd(struct msix *m, uint64_t off, uint32_t size, bool pba)
{
	uint8_t b[8];
	uint64_t v = 0;

	if (pba)
		msix_pba_read(m, off, b, size);
	else
		msix_table_read(m, off, b, size);
	for (uint32_t i = 0; i < size; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

/* Program vector v as Linux does: masked already, address, data, unmask. */
static void program(struct msix *m, uint16_t v, uint64_t addr, uint32_t data)
{
	wr32(m, v * 16u, (uint32_t)addr);
	wr32(m, v * 16u + 4, (uint32_t)(addr >> 32));
	wr32(m, v * 16u + 8, data);
	wr32(m, v * 16u + 12, 0);
}

static int test_init(void)
{
	struct counts c = { 0 };
	struct msix m;

	CHECK(msix_init(&m, 0, &counting_ops, &c) == -EINVAL);
	CHECK(msix_init(&m, MSIX_MAX_VECTORS + 1, &counting_ops, &c) == -EINVAL);
	CHECK(msix_init(&m, 1, NULL, &c) == -EINVAL);
	msix_fini(&m); /* after a failed init: harmless */
	CHECK(msix_init(&m, MSIX_MAX_VECTORS, &counting_ops, &c) == 0);
	CHECK(msix_read_control(&m) == MSIX_MAX_VECTORS - 1);
	CHECK(rd(&m, (MSIX_MAX_VECTORS - 1) * 16 + 12, 4, false) == MSIX_VECTOR_MASKED);
	msix_fini(&m);
	msix_fini(&m);
	msix_fini(NULL);
	return 0;
}

static int test_masking(void)
{
	struct counts c = { 0 };
	struct msix m;

	CHECK(msix_init(&m, NR, &counting_ops, &c) == 0);
	CHECK(msix_read_control(&m) == NR - 1);
	for (uint16_t v = 0; v < NR; v++)
		CHECK(rd(&m, v * 16u + 12, 4, false) == MSIX_VECTOR_MASKED);

	/* disabled: signals only set pending */
	CHECK(msix_signal(&m, 0) == 0);
	CHECK(c.fires[0] == 0 && rd(&m, 0, 8, true) == 1);
	CHECK(msix_signal(&m, 0xffff) == 0);

	/* programming a masked entry stores, never routes */
	wr32(&m, 0, 0xfee00000);
	wr32(&m, 8, 0x41);
	CHECK(c.routes[0] == 0 && rd(&m, 0, 4, false) == 0xfee00000 && rd(&m, 8, 4, false) == 0x41);
	/* unmasking routes; still disabled, so it stays pending */
	wr32(&m, 12, 0);
	CHECK(c.routes[0] == 1 && c.addr[0] == 0xfee00000 && c.data[0] == 0x41);
	CHECK(c.fires[0] == 0 && rd(&m, 0, 4, true) == 1);

	/* enabling with the function masked: still pending */
	msix_write_control(&m, MSIX_CTRL_ENABLE | MSIX_CTRL_FUNC_MASK);
	CHECK(msix_read_control(&m) == (MSIX_CTRL_ENABLE | MSIX_CTRL_FUNC_MASK | (NR - 1)));
	CHECK(c.fires[0] == 0 && rd(&m, 0, 4, true) == 1);
	/* function unmasked: routed again and the pending vector delivered */
	msix_write_control(&m, MSIX_CTRL_ENABLE);
	CHECK(c.routes[0] == 2 && c.fires[0] == 1 && rd(&m, 0, 4, true) == 0);

	/* live: fires straight away */
	CHECK(msix_signal(&m, 0) == 0 && c.fires[0] == 2);
	c.fire_ret = -EIO;
	CHECK(msix_signal(&m, 0) == -EIO && c.fires[0] == 3);
	c.fire_ret = 0;

	/* entry masked: pending, delivered on unmask */
	wr32(&m, 12, MSIX_VECTOR_MASKED);
	CHECK(msix_signal(&m, 0) == 0 && c.fires[0] == 3 && rd(&m, 0, 4, true) == 1);
	wr32(&m, 12, 0);
	CHECK(c.fires[0] == 4 && rd(&m, 0, 4, true) == 0 && c.routes[0] == 3);

	/* written while unmasked: rerouted on each change, not on a rewrite */
	wr32(&m, 8, 0x42);
	CHECK(c.routes[0] == 4 && c.data[0] == 0x42);
	wr32(&m, 8, 0x42);
	wr32(&m, 12, 0);
	CHECK(c.routes[0] == 4);

	/* several vectors, one masked */
	program(&m, 1, 0xfee01000, 0x51);
	CHECK(c.routes[1] == 1 && c.addr[1] == 0xfee01000);
	CHECK(msix_signal(&m, 2) == 0 && c.fires[2] == 0 && rd(&m, 0, 4, true) == 4);
	CHECK(msix_signal(&m, 1) == 0 && c.fires[1] == 1);
	/* disable: pending again, delivered at re-enable for unmasked entries only */
	msix_write_control(&m, 0);
	CHECK(msix_signal(&m, 1) == 0 && c.fires[1] == 1 && rd(&m, 0, 4, true) == 6);
	msix_write_control(&m, MSIX_CTRL_ENABLE);
	CHECK(c.fires[1] == 2 && c.fires[2] == 0 && rd(&m, 0, 4, true) == 4);
	/* reserved control bits read 0 */
	wr32(&m, 16 + 12, 0xfffffffe);
	CHECK(rd(&m, 16 + 12, 4, false) == 0);

	/* reset: masked, not pending, disabled */
	msix_reset(&m);
	CHECK(rd(&m, 12, 4, false) == MSIX_VECTOR_MASKED && rd(&m, 0, 4, false) == 0);
	CHECK(rd(&m, 0, 8, true) == 0 && msix_read_control(&m) == NR - 1);
	msix_fini(&m);
	return 0;
}

static int test_qword_and_garbage(void)
{
	struct counts c = { 0 };
	struct msix m;
	uint8_t b[8];

	CHECK(msix_init(&m, NR, &counting_ops, &c) == 0);
	msix_write_control(&m, MSIX_CTRL_ENABLE);
	/* qword writes: the address, then data + control (unmasks) */
	memcpy(b, (uint8_t[]){ 0x00, 0x20, 0xe0, 0xfe, 0x01, 0, 0, 0 }, 8);
	msix_table_write(&m, 32, b, 8);
	CHECK(rd(&m, 32, 8, false) == 0x1fee02000);
	memcpy(b, (uint8_t[]){ 0x61, 0, 0, 0, 0, 0, 0, 0 }, 8);
	msix_table_write(&m, 40, b, 8);
	CHECK(c.routes[2] == 1 && c.addr[2] == 0x1fee02000 && c.data[2] == 0x61);
	CHECK(rd(&m, 40, 8, false) == 0x61);

	/* wrong sizes, misaligned, out of range: read 0, writes ignored */
	CHECK(rd(&m, 32, 2, false) == 0 && rd(&m, 33, 4, false) == 0);
	CHECK(rd(&m, 36, 8, false) == 0 && rd(&m, NR * 16, 4, false) == 0);
	CHECK(rd(&m, UINT64_MAX - 3, 4, false) == 0);
	b[0] = 0xff;
	msix_table_write(&m, 32, b, 1);
	msix_table_write(&m, 34, b, 4);
	msix_table_write(&m, NR * 16, b, 4);
	msix_table_write(&m, UINT64_MAX - 7, b, 8);
	CHECK(rd(&m, 32, 4, false) == 0xfee02000);
	CHECK(rd(&m, 8, 4, true) == 0 && rd(&m, 0, 2, true) == 0 && rd(&m, 4, 4, true) == 0);
	CHECK(msix_signal(&m, NR) == 0 && msix_signal(&m, 0xffff) == 0);
	for (uint64_t off = 0; off < NR * 16 + 16; off++)
		for (uint32_t size = 1; size <= 8; size++) {
			memset(b, 0xa5, sizeof(b));
			msix_table_read(&m, off, b, size);
			msix_pba_read(&m, off, b, size);
			msix_table_write(&m, off, b, size);
		}
	msix_fini(&m);
	return 0;
}

int main(void)
{
	CHECK(test_init() == 0);
	CHECK(test_masking() == 0);
	CHECK(test_qword_and_garbage() == 0);
	printf("msix-test: ok\n");
	return 0;
}
