/* SPDX-License-Identifier: Apache-2.0 */
/*
 * struct pci_config and struct pci_bus without a VM: the type-0 header, BAR
 * sizing and move detection, the capability list, write masks, and config
 * cycles through ECAM and 0xCF8/0xCFC reaching a fake device.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/pci.h"
#include "pci-regs.h"

#define CHECK(c)                                                                       \
	do {                                                                           \
		if (!(c)) {                                                            \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#c);                                                   \
			return 1;                                                      \
		}                                                                      \
	} while (0)

static uint32_t get(const uint8_t *p, uint32_t size)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < size; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static void put(uint8_t *p, uint32_t size, uint32_t v)
{
	for (uint32_t i = 0; i < size; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t cfg_rd(const struct pci_config *cfg, uint32_t off, uint32_t size)
{
	uint8_t b[8];

	pci_config_read(cfg, off, b, size);
	return get(b, size);
}

static int cfg_wr(struct pci_config *cfg, uint32_t off, uint32_t size, uint32_t v)
{
	uint8_t b[8];
	int moved;

	put(b, size, v);
	pci_config_write(cfg, off, b, size, &moved);
	return moved;
}

static const struct pci_ids test_ids = {
	.vendor = 0x1af4, .device = 0x1041, .subsystem_vendor = 0x1af4, .subsystem = 1,
	.revision = 1, .class_code = 0x02, .subclass = 0x00, .prog_if = 0x00,
};

static int test_header(void)
{
	struct pci_config cfg;

	pci_config_init(&cfg, &test_ids);
	CHECK(cfg_rd(&cfg, PCI_VENDOR_ID, 4) == 0x10411af4);
	CHECK(cfg_rd(&cfg, PCI_REVISION_ID, 4) == 0x02000001);
	CHECK(cfg_rd(&cfg, PCI_HEADER_TYPE, 1) == 0);
	CHECK(cfg_rd(&cfg, PCI_SUBSYSTEM_VENDOR_ID, 4) == 0x00011af4);
	CHECK(cfg_rd(&cfg, PCI_INTERRUPT_PIN, 1) == 0);
	CHECK(cfg_rd(&cfg, PCI_STATUS, 2) == 0); /* no capabilities yet */
	CHECK(cfg_rd(&cfg, PCI_CAPABILITY_LIST, 1) == 0);

	/* IDs, class, header type and pin are read-only */
	cfg_wr(&cfg, PCI_VENDOR_ID, 4, 0xdeadbeef);
	cfg_wr(&cfg, PCI_REVISION_ID, 4, 0xffffffff);
	cfg_wr(&cfg, PCI_HEADER_TYPE, 1, 0x80);
	cfg_wr(&cfg, PCI_INTERRUPT_PIN, 1, 1);
	CHECK(cfg_rd(&cfg, PCI_VENDOR_ID, 4) == 0x10411af4);
	CHECK(cfg_rd(&cfg, PCI_REVISION_ID, 4) == 0x02000001);
	CHECK(cfg_rd(&cfg, PCI_HEADER_TYPE, 1) == 0);
	CHECK(cfg_rd(&cfg, PCI_INTERRUPT_PIN, 1) == 0);
	/* interrupt line and cache line size are scratch registers */
	cfg_wr(&cfg, PCI_INTERRUPT_LINE, 1, 0x0b);
	CHECK(cfg_rd(&cfg, PCI_INTERRUPT_LINE, 1) == 0x0b);

	/* command: IO, MEM, MASTER, INTx disable only */
	cfg_wr(&cfg, PCI_COMMAND, 2, 0xffff);
	CHECK(cfg_rd(&cfg, PCI_COMMAND, 2) == 0x0407);
	CHECK(pci_config_command(&cfg) == 0x0407);
	cfg_wr(&cfg, PCI_COMMAND, 1, 0x02);
	CHECK(pci_config_command(&cfg) == 0x0402);

	/* status: error bits are write-1-to-clear, the rest read-only */
	cfg.data[PCI_STATUS + 1] = 0xf9; /* as if the device had raised every error */
	cfg_wr(&cfg, PCI_STATUS, 2, 0x0000);
	CHECK(cfg_rd(&cfg, PCI_STATUS, 2) == 0xf900);
	cfg_wr(&cfg, PCI_STATUS, 2, 0x2000 | PCI_STATUS_CAP_LIST);
	CHECK(cfg_rd(&cfg, PCI_STATUS, 2) == 0xd900);
	cfg_wr(&cfg, PCI_COMMAND, 4, 0xffff0000); /* a dword write clears them all */
	CHECK(cfg_rd(&cfg, PCI_STATUS, 2) == 0);

	/* expansion ROM: none, reads 0 whatever is written */
	cfg_wr(&cfg, PCI_ROM_ADDRESS, 4, 0xffffffff);
	CHECK(cfg_rd(&cfg, PCI_ROM_ADDRESS, 4) == 0);
	/* extended space exists and reads 0; writes are ignored */
	cfg_wr(&cfg, 0x100, 4, 0x12345678);
	CHECK(cfg_rd(&cfg, 0x100, 4) == 0 && cfg_rd(&cfg, 0xffc, 4) == 0);
	return 0;
}

static int test_bars(void)
{
	struct pci_config cfg;

	pci_config_init(&cfg, &test_ids);
	CHECK(pci_config_add_bar(&cfg, 6, 4096, false, false) == -EINVAL);
	CHECK(pci_config_add_bar(&cfg, 5, 4096, true, false) == -EINVAL);
	CHECK(pci_config_add_bar(&cfg, 0, 4095, false, false) == -EINVAL);
	CHECK(pci_config_add_bar(&cfg, 0, 2048, false, false) == -EINVAL);
	CHECK(pci_config_add_bar(&cfg, 0, 12288, false, false) == -EINVAL);
	CHECK(pci_config_add_bar(&cfg, 0, UINT64_C(1) << 32, false, false) == -EINVAL);

	CHECK(pci_config_add_bar(&cfg, 0, 64 * 1024, false, true) == 0);
	CHECK(pci_config_add_bar(&cfg, 0, 4096, false, false) == -EBUSY);
	CHECK(pci_config_add_bar(&cfg, 2, 512 * 1024, true, false) == 0);
	CHECK(pci_config_add_bar(&cfg, 3, 4096, false, false) == -EBUSY); /* upper half */
	CHECK(pci_config_add_bar(&cfg, 1, 4096, true, false) == -EBUSY);  /* would cover 2 */
	CHECK(pci_config_add_bar(&cfg, 4, UINT64_C(8) << 30, true, true) == 0);

	/* 32-bit prefetchable BAR0: type bits, sizing, restore */
	CHECK(cfg_rd(&cfg, 0x10, 4) == 0x8);
	CHECK(cfg_wr(&cfg, 0x10, 4, 0xffffffff) == -1);
	CHECK(cfg_rd(&cfg, 0x10, 4) == (0xffff0000 | 0x8));
	CHECK(cfg_wr(&cfg, 0x10, 4, 0) == -1); /* back to the unassigned 0 */
	CHECK(cfg_rd(&cfg, 0x10, 4) == 0x8);

	/* unused BAR1: reads 0, ignores writes */
	CHECK(cfg_wr(&cfg, 0x14, 4, 0xffffffff) == -1);
	CHECK(cfg_rd(&cfg, 0x14, 4) == 0);

	/* 64-bit BAR2/3 of 512 KiB */
	pci_config_set_bar_addr(&cfg, 2, 0x123480000);
	CHECK(cfg.bars[2].addr == 0x123480000);
	CHECK(cfg_rd(&cfg, 0x18, 4) == (0x23480000 | 0x4) && cfg_rd(&cfg, 0x1c, 4) == 0x1);
	/* Linux's sizing: each dword all-ones, read, restore; no move reported */
	CHECK(cfg_wr(&cfg, 0x18, 4, 0xffffffff) == -1);
	CHECK(cfg_rd(&cfg, 0x18, 4) == (0xfff80000 | 0x4));
	CHECK(cfg_wr(&cfg, 0x18, 4, 0x23480004) == -1);
	CHECK(cfg_wr(&cfg, 0x1c, 4, 0xffffffff) == -1);
	CHECK(cfg_rd(&cfg, 0x1c, 4) == 0xffffffff);
	CHECK(cfg_wr(&cfg, 0x1c, 4, 0x1) == -1);
	CHECK(cfg.bars[2].addr == 0x123480000);

	/* 8 GiB BAR4/5: low dword has no address bits */
	CHECK(cfg_rd(&cfg, 0x20, 4) == 0xc);
	cfg_wr(&cfg, 0x20, 4, 0xffffffff);
	cfg_wr(&cfg, 0x24, 4, 0xffffffff);
	CHECK(cfg_rd(&cfg, 0x20, 4) == 0xc && cfg_rd(&cfg, 0x24, 4) == 0xfffffffe);

	/* a set address is masked to the BAR's alignment */
	pci_config_set_bar_addr(&cfg, 0, 0xc0001234);
	CHECK(cfg.bars[0].addr == 0xc0000000 && cfg_rd(&cfg, 0x10, 4) == 0xc0000008);
	pci_config_set_bar_addr(&cfg, 1, 0xc0000000); /* unused: ignored */
	CHECK(cfg_rd(&cfg, 0x14, 4) == 0);
	return 0;
}

static int test_bar_moves(void)
{
	struct pci_config cfg;

	pci_config_init(&cfg, &test_ids);
	CHECK(pci_config_add_bar(&cfg, 0, 4096, false, false) == 0);
	CHECK(pci_config_add_bar(&cfg, 1, 512 * 1024, true, false) == 0);
	pci_config_set_bar_addr(&cfg, 0, 0xc0000000);
	pci_config_set_bar_addr(&cfg, 1, 0x100000000);

	/* 32-bit: a new address moves, the same one does not */
	CHECK(cfg_wr(&cfg, 0x10, 4, 0xc0001000) == 0 && cfg.bars[0].addr == 0xc0001000);
	CHECK(cfg_wr(&cfg, 0x10, 4, 0xc0001000) == -1);
	/* bits below the size are not address bits */
	CHECK(cfg_wr(&cfg, 0x10, 4, 0xc0001fff) == -1 && cfg_rd(&cfg, 0x10, 4) == 0xc0001000);
	/* byte writes complete an address too (pragmatic: each write is judged) */
	CHECK(cfg_wr(&cfg, 0x13, 1, 0xd0) == 0 && cfg.bars[0].addr == 0xd0001000);

	/* 64-bit, Linux style: decode off, low then high */
	cfg_wr(&cfg, PCI_COMMAND, 2, 0);
	CHECK(cfg_wr(&cfg, 0x14, 4, 0x80000004) == -1); /* half an address */
	CHECK(cfg.bars[1].addr == 0x100000000);
	CHECK(cfg_wr(&cfg, 0x18, 4, 0x2) == 1 && cfg.bars[1].addr == 0x280000000);
	/* same 4 GiB, decode off: still reported at the high write */
	CHECK(cfg_wr(&cfg, 0x14, 4, 0x00080004) == -1);
	CHECK(cfg_wr(&cfg, 0x18, 4, 0x2) == 1 && cfg.bars[1].addr == 0x200080000);
	/* decode on, high half unchanged: the low write alone completes it */
	cfg_wr(&cfg, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	CHECK(cfg_wr(&cfg, 0x14, 4, 0x00100000) == 1 && cfg.bars[1].addr == 0x200100000);
	CHECK(cfg_wr(&cfg, 0x18, 4, 0x2) == -1);
	/* sizing with decode on: no move, and the restore is no move either */
	CHECK(cfg_wr(&cfg, 0x14, 4, 0xffffffff) == -1);
	CHECK(cfg_wr(&cfg, 0x14, 4, 0x00100004) == -1);
	CHECK(cfg_wr(&cfg, 0x18, 4, 0xffffffff) == -1);
	CHECK(cfg_wr(&cfg, 0x18, 4, 0x2) == -1);
	CHECK(cfg.bars[1].addr == 0x200100000);
	/* an address whose low dword looks like the sizing pattern still moves at the high write */
	cfg_wr(&cfg, PCI_COMMAND, 2, 0);
	CHECK(cfg_wr(&cfg, 0x14, 4, 0xfff80000) == -1);
	CHECK(cfg_wr(&cfg, 0x18, 4, 0x1) == 1 && cfg.bars[1].addr == 0x1fff80000);
	/* an unaligned dword write spanning BAR0 and BAR1 is handled */
	CHECK(cfg_wr(&cfg, 0x12, 4, 0x0000c000) == 0 && cfg.bars[0].addr == 0xc0001000);
	CHECK(cfg.bars[1].addr == 0x1fff80000);
	return 0;
}

static int test_caps(void)
{
	static const uint8_t cap_a[5] = { 0x09, 0xee, 5, 0xaa, 0xbb };
	static const uint8_t cap_b[12] = { 0x11, 0, 0x01, 0x00 };
	static const uint8_t wmask_b[12] = { 0xff, 0xff, 0x00, 0xc0 };
	static const uint8_t cap_c[3] = { 0x05, 0, 0x42 };
	struct pci_config cfg;
	uint8_t off[3], o;
	unsigned int n = 0, added = 3;

	pci_config_init(&cfg, &test_ids);
	CHECK(pci_config_add_cap(&cfg, cap_a, NULL, 1, &o) == -EINVAL);
	CHECK(pci_config_add_cap(&cfg, cap_a, NULL, sizeof(cap_a), &off[0]) == 0);
	CHECK(pci_config_add_cap(&cfg, cap_b, wmask_b, sizeof(cap_b), &off[1]) == 0);
	CHECK(pci_config_add_cap(&cfg, cap_c, NULL, sizeof(cap_c), &off[2]) == 0);
	CHECK(off[0] == 0x40 && off[1] == 0x48 && off[2] == 0x54);
	CHECK(cfg_rd(&cfg, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);

	/* walk as a guest does */
	for (uint8_t p = (uint8_t)cfg_rd(&cfg, PCI_CAPABILITY_LIST, 1); p; n++) {
		CHECK(n < 3 && p == off[n] && p % 4 == 0);
		p = (uint8_t)cfg_rd(&cfg, p + 1, 1);
	}
	CHECK(n == 3);
	CHECK(cfg_rd(&cfg, 0x40, 1) == 0x09 && cfg_rd(&cfg, 0x43, 2) == 0xbbaa);

	/* id and next are read-only whatever the wmask; the body follows it */
	cfg_wr(&cfg, 0x48, 4, 0xffffffff);
	CHECK(cfg_rd(&cfg, 0x48, 4) == 0xc0015411);
	cfg_wr(&cfg, 0x40, 4, 0);
	CHECK(cfg_rd(&cfg, 0x41, 1) == 0x48 && cfg_rd(&cfg, 0x43, 1) == 0xaa);

	/* fill the standard space: the add fails cleanly, the list stays well-formed */
	while (pci_config_add_cap(&cfg, cap_b, NULL, sizeof(cap_b), &o) == 0) {
		CHECK(o + sizeof(cap_b) <= 0x100);
		added++;
	}
	CHECK(pci_config_add_cap(&cfg, cap_c, NULL, sizeof(cap_c), &o) == -ENOSPC);
	n = 0;
	for (uint8_t p = (uint8_t)cfg_rd(&cfg, PCI_CAPABILITY_LIST, 1); p && n < 64; n++)
		p = (uint8_t)cfg_rd(&cfg, p + 1, 1);
	CHECK(n == added);
	return 0;
}

static int test_odd_accesses(void)
{
	struct pci_config cfg;
	uint8_t buf[16];
	int moved;

	pci_config_init(&cfg, &test_ids);
	CHECK(pci_config_add_bar(&cfg, 0, 4096, true, false) == 0);
	for (uint32_t off = 0; off < PCI_CONFIG_SIZE + 8; off++) {
		for (uint32_t size = 0; size <= sizeof(buf); size++) {
			memset(buf, 0xa5, sizeof(buf));
			pci_config_read(&cfg, off, buf, size);
			if (off >= PCI_CONFIG_SIZE && size)
				CHECK(buf[0] == 0);
			pci_config_write(&cfg, off, buf, size, &moved);
			CHECK(moved == -1 || moved == 0);
		}
	}
	pci_config_write(&cfg, 0xffffffff, buf, 4, NULL);
	pci_config_read(&cfg, 0xfffffffe, buf, 4);
	CHECK(buf[0] == 0 && buf[3] == 0);
	CHECK(cfg_rd(&cfg, PCI_VENDOR_ID, 4) == 0x10411af4);
	return 0;
}

/* A device on the bus that records what reaches it. */
struct fake_dev {
	struct pci_device pci;
	struct pci_config cfg;
	unsigned int reads, writes;
	uint32_t last_off, last_size;
};

static void fake_read(struct pci_device *dev, uint32_t off, uint8_t *data, uint32_t size)
{
	struct fake_dev *f = container_of(dev, struct fake_dev, pci);

	f->reads++;
	f->last_off = off;
	f->last_size = size;
	pci_config_read(&f->cfg, off, data, size);
}

static void fake_write(struct pci_device *dev, uint32_t off, const uint8_t *data, uint32_t size)
{
	struct fake_dev *f = container_of(dev, struct fake_dev, pci);

	f->writes++;
	f->last_off = off;
	f->last_size = size;
	pci_config_write(&f->cfg, off, data, size, NULL);
}

static const struct pci_device_ops fake_ops = { .config_read = fake_read,
						.config_write = fake_write };

static uint64_t bus_rd(struct bus_device *d, uint64_t off, uint32_t size)
{
	uint8_t b[8];
	uint64_t v = 0;

	d->ops->read(d, off, b, size);
	for (uint32_t i = 0; i < size; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static void bus_wr(struct bus_device *d, uint64_t off, uint32_t size, uint64_t v)
{
	uint8_t b[8];

	for (uint32_t i = 0; i < size; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	d->ops->write(d, off, b, size);
}

static uint64_t ecam_off(unsigned int dev, unsigned int fn, unsigned int reg)
{
	return (uint64_t)dev << 15 | fn << 12 | reg;
}

static uint32_t cf8_addr(unsigned int bus, unsigned int dev, unsigned int fn, unsigned int reg)
{
	return PCI_CF8_ENABLE | (reg & 0xf00) << 16 | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc);
}

static int test_bus(void)
{
	struct fake_dev f = { .pci = { .ops = &fake_ops, .name = "fake" } };
	struct fake_dev g = { .pci = { .ops = &fake_ops, .name = "fake2" } };
	struct pci_device bad = { .ops = NULL };
	struct pci_bus bus;
	struct bus_device *ecam = &bus.ecam, *cf8 = &bus.cf8_dev;
	unsigned int reads;

	CHECK(pci_bus_init(&bus) == 0);
	pci_config_init(&f.cfg, &test_ids);
	pci_config_init(&g.cfg, &test_ids);

	CHECK(pci_bus_add(&bus, &f.pci, 0) == -EINVAL);
	CHECK(pci_bus_add(&bus, &f.pci, 32) == -EINVAL);
	CHECK(pci_bus_add(&bus, &bad, -1) == -EINVAL);
	CHECK(pci_bus_add(&bus, &f.pci, -1) == 0 && f.pci.slot == 1);
	CHECK(pci_bus_add(&bus, &g.pci, 1) == -EBUSY);
	CHECK(pci_bus_add(&bus, &g.pci, 31) == 0 && g.pci.slot == 31);

	/* host bridge in slot 0 */
	CHECK(bus_rd(ecam, ecam_off(0, 0, 0), 4) == 0x0d578086);
	CHECK(bus_rd(ecam, ecam_off(0, 0, 8), 4) >> 8 == 0x060000);
	CHECK(bus_rd(ecam, ecam_off(0, 0, PCI_HEADER_TYPE), 1) == 0);

	/* ECAM reaches the device with the register offset */
	CHECK(bus_rd(ecam, ecam_off(1, 0, 0), 4) == 0x10411af4);
	CHECK(f.reads == 1 && f.last_off == 0 && f.last_size == 4);
	CHECK(bus_rd(ecam, ecam_off(1, 0, 0x2e), 2) == 1 && f.last_off == 0x2e);
	bus_wr(ecam, ecam_off(1, 0, PCI_COMMAND), 2, 0x6);
	CHECK(f.writes == 1 && pci_config_command(&f.cfg) == 0x6);
	CHECK(bus_rd(ecam, ecam_off(31, 0, 0), 4) == 0x10411af4 && g.reads == 1);
	CHECK(bus_rd(ecam, ecam_off(1, 0, 0xffc), 4) == 0 && f.last_off == 0xffc);

	/* absent slot, other functions: all-ones, nothing dispatched */
	reads = f.reads;
	CHECK(bus_rd(ecam, ecam_off(2, 0, 0), 4) == 0xffffffff);
	CHECK(bus_rd(ecam, ecam_off(1, 1, 0), 4) == 0xffffffff);
	CHECK(bus_rd(ecam, ecam_off(1, 7, 0), 2) == 0xffff);
	CHECK(bus_rd(ecam, ecam_off(0, 3, 0), 1) == 0xff);
	bus_wr(ecam, ecam_off(1, 1, PCI_COMMAND), 2, 0);
	CHECK(pci_config_command(&f.cfg) == 0x6 && f.reads == reads);

	/* misaligned: all-ones, not dispatched; an aligned qword is split */
	CHECK(bus_rd(ecam, ecam_off(1, 0, 1), 2) == 0xffff);
	CHECK(bus_rd(ecam, ecam_off(1, 0, 2), 4) == 0xffffffff);
	CHECK(bus_rd(ecam, ecam_off(1, 0, 4), 8) == 0xffffffffffffffff);
	CHECK(f.reads == reads);
	CHECK(bus_rd(ecam, ecam_off(1, 0, 0), 8) ==
	      (0x10411af4 | (uint64_t)pci_config_command(&f.cfg) << 32));
	CHECK(bus_rd(ecam, PCI_ECAM_SIZE_BUS0, 4) == 0xffffffff); /* beyond bus 0 */

	/* 0xCF8: 32-bit latch, readable; narrow accesses there are ignored */
	bus_wr(cf8, 0, 4, 0x80000000);
	CHECK(bus_rd(cf8, 0, 4) == 0x80000000);
	bus_wr(cf8, 3, 1, 0x01); /* Linux's type-1 probe writes 0xcfb */
	bus_wr(cf8, 1, 1, 0x06); /* 0xcf9, the PC reset register: not ours */
	CHECK(bus_rd(cf8, 0, 4) == 0x80000000);
	CHECK(bus_rd(cf8, 0, 2) == 0xffff);
	bus_wr(cf8, 0, 4, 0xffffffff);
	CHECK(bus_rd(cf8, 0, 4) == PCI_CF8_WRITABLE);

	/* 0xCFC data window */
	bus_wr(cf8, 0, 4, cf8_addr(0, 0, 0, 0));
	CHECK(bus_rd(cf8, 4, 4) == 0x0d578086);
	bus_wr(cf8, 0, 4, cf8_addr(0, 1, 0, 0x08));
	CHECK(bus_rd(cf8, 4, 4) == 0x02000001 && f.last_off == 0x08);
	CHECK(bus_rd(cf8, 7, 1) == 0x02 && f.last_off == 0x0b && f.last_size == 1);
	CHECK(bus_rd(cf8, 6, 2) == 0x0200 && f.last_off == 0x0a);
	bus_wr(cf8, 0, 4, cf8_addr(0, 1, 0, PCI_COMMAND));
	bus_wr(cf8, 4, 2, 0x7);
	CHECK(pci_config_command(&f.cfg) == 0x7 && f.last_off == PCI_COMMAND);
	bus_wr(cf8, 0, 4, cf8_addr(0, 1, 0, 0x204)); /* extended register bits */
	CHECK(bus_rd(cf8, 4, 4) == 0 && f.last_off == 0x204);
	/* misaligned in the window, disabled, other bus, other function, absent */
	reads = f.reads;
	bus_wr(cf8, 0, 4, cf8_addr(0, 1, 0, 0));
	CHECK(bus_rd(cf8, 5, 2) == 0xffff);
	CHECK(bus_rd(cf8, 6, 4) == 0xffffffff);
	CHECK(f.reads == reads);
	bus_wr(cf8, 0, 4, cf8_addr(0, 1, 0, 0) & ~PCI_CF8_ENABLE);
	CHECK(bus_rd(cf8, 4, 4) == 0xffffffff);
	bus_wr(cf8, 0, 4, cf8_addr(1, 1, 0, 0));
	CHECK(bus_rd(cf8, 4, 4) == 0xffffffff);
	bus_wr(cf8, 0, 4, cf8_addr(0, 1, 2, 0));
	CHECK(bus_rd(cf8, 4, 4) == 0xffffffff);
	bus_wr(cf8, 0, 4, cf8_addr(0, 5, 0, 0));
	CHECK(bus_rd(cf8, 4, 4) == 0xffffffff);
	bus_wr(cf8, 4, 4, 0); /* to nobody */
	CHECK(f.reads == reads);

	/* every offset/size the bus could pass: never crashes */
	for (uint64_t off = 0; off < PCI_CF8_LEN; off++)
		for (uint32_t size = 1; size <= 8 && off + size <= PCI_CF8_LEN; size *= 2) {
			(void)bus_rd(cf8, off, size);
			bus_wr(cf8, off, size, 0xffffffffffffffff);
		}
	for (uint64_t off = 0; off < 2 * 32768; off += 1)
		for (uint32_t size = 1; size <= 8; size *= 2) {
			(void)bus_rd(ecam, off, size);
			bus_wr(ecam, off, size, 0xffffffffffffffff);
		}
	CHECK(bus_rd(ecam, ecam_off(0, 0, 0), 4) == 0x0d578086);

	/* fill the bus */
	{
		struct fake_dev many[29];

		for (unsigned int i = 0; i < 29; i++) {
			many[i] = (struct fake_dev){ .pci = { .ops = &fake_ops } };
			CHECK(pci_bus_add(&bus, &many[i].pci, -1) == 0);
			CHECK(many[i].pci.slot == 2 + i);
		}
		CHECK(pci_bus_add(&bus, &g.pci, -1) == -ENOSPC);
		pci_bus_fini(&bus);
	}
	return 0;
}

int main(void)
{
	CHECK(test_header() == 0);
	CHECK(test_bars() == 0);
	CHECK(test_bar_moves() == 0);
	CHECK(test_caps() == 0);
	CHECK(test_odd_accesses() == 0);
	CHECK(test_bus() == 0);
	printf("pci-test: ok\n");
	return 0;
}
