/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A type-0 configuration header, its BARs and capability list.
 *
 * The guest's view is cfg->data; every guest write goes through wmask (bits
 * it may change) and w1cmask (bits a 1 clears), so read-only fields such as
 * the IDs, a BAR's type bits and the capability chain cannot be altered, and
 * a BAR's address bits below its size stay 0. That is also what makes BAR
 * sizing work without special cases: writing all-ones leaves ~(size - 1)
 * plus the read-only type bits.
 *
 * cfg->bars[i].addr is the address the BAR is really mapped at, as opposed to
 * whatever transient value (a sizing pattern, half of a 64-bit address) the
 * register holds in the middle of a guest's update sequence.
 */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "devices/pci.h"
#include "pci-regs.h"

/* Walking the capability list is bounded by how many 4-byte slots exist. */
#define PCI_CAP_MAX_NR ((PCI_CONFIG_STD_SIZE - PCI_STD_HEADER_SIZE) / 4)

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)v);
	wr16(p + 2, (uint16_t)(v >> 16));
}

static uint32_t bar_reg(unsigned int bar)
{
	return PCI_BASE_ADDRESS_0 + 4 * bar;
}

void pci_config_init(struct pci_config *cfg, const struct pci_ids *ids)
{
	memset(cfg, 0, sizeof(*cfg));
	wr16(cfg->data + PCI_VENDOR_ID, ids->vendor);
	wr16(cfg->data + PCI_DEVICE_ID, ids->device);
	cfg->data[PCI_REVISION_ID] = ids->revision;
	cfg->data[PCI_CLASS_PROG] = ids->prog_if;
	cfg->data[PCI_CLASS_DEVICE] = ids->subclass;
	cfg->data[PCI_CLASS_BASE] = ids->class_code;
	cfg->data[PCI_HEADER_TYPE] = 0; /* type 0, single function */
	wr16(cfg->data + PCI_SUBSYSTEM_VENDOR_ID, ids->subsystem_vendor);
	wr16(cfg->data + PCI_SUBSYSTEM_ID, ids->subsystem);
	/* Interrupt pin 0: no INTx at all, the functions use MSI-X only. */
	cfg->data[PCI_INTERRUPT_PIN] = 0;

	wr16(cfg->wmask + PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
					       PCI_COMMAND_INTX_DISABLE);
	wr16(cfg->w1cmask + PCI_STATUS, PCI_STATUS_W1C);
	/* Scratch registers firmware and OSes write and expect to read back. */
	cfg->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	cfg->wmask[PCI_INTERRUPT_LINE] = 0xff;
	cfg->next_cap = PCI_STD_HEADER_SIZE;
}

int pci_config_add_bar(struct pci_config *cfg, unsigned int bar, uint64_t size, bool is_64bit,
		       bool prefetchable)
{
	uint64_t addr_mask = ~(size - 1);
	uint32_t flags = 0;

	if (bar >= PCI_NUM_BARS || (is_64bit && bar + 1 >= PCI_NUM_BARS))
		return -EINVAL;
	/* 32-bit BARs decode at most 2 GiB; memory BARs are 4 KiB pages at least. */
	if (size < 4096 || (size & (size - 1)) || (!is_64bit && size > (UINT64_C(1) << 31)) ||
	    (is_64bit && size > (UINT64_C(1) << 63)))
		return -EINVAL;
	if (cfg->bars[bar].size || (bar > 0 && cfg->bars[bar - 1].is_64bit) ||
	    (is_64bit && cfg->bars[bar + 1].size))
		return -EBUSY;

	cfg->bars[bar] = (struct pci_bar){ .size = size, .is_64bit = is_64bit,
					   .prefetchable = prefetchable };
	if (is_64bit)
		flags |= PCI_BAR_MEM_TYPE_64;
	if (prefetchable)
		flags |= PCI_BAR_MEM_PREFETCH;
	wr32(cfg->data + bar_reg(bar), flags);
	wr32(cfg->wmask + bar_reg(bar), (uint32_t)addr_mask & ~(uint32_t)PCI_BAR_MEM_FLAGS);
	if (is_64bit) {
		wr32(cfg->data + bar_reg(bar + 1), 0);
		wr32(cfg->wmask + bar_reg(bar + 1), (uint32_t)(addr_mask >> 32));
	}
	return 0;
}

void pci_config_set_bar_addr(struct pci_config *cfg, unsigned int bar, uint64_t addr)
{
	struct pci_bar *b;
	uint32_t lo;

	if (bar >= PCI_NUM_BARS || !cfg->bars[bar].size)
		return;
	b = &cfg->bars[bar];
	addr &= ~(b->size - 1);
	if (!b->is_64bit)
		addr = (uint32_t)addr;
	b->addr = addr;
	lo = rd32(cfg->data + bar_reg(bar)) & PCI_BAR_MEM_FLAGS;
	wr32(cfg->data + bar_reg(bar), lo | ((uint32_t)addr & ~(uint32_t)PCI_BAR_MEM_FLAGS));
	if (b->is_64bit)
		wr32(cfg->data + bar_reg(bar + 1), (uint32_t)(addr >> 32));
}

/* The capability whose next pointer is 0; the caller knows the list is non-empty. */
static uint8_t pci_cap_last(const struct pci_config *cfg)
{
	uint8_t off = cfg->data[PCI_CAPABILITY_LIST];

	/* Only this file writes the chain (next bytes are read-only), but bound it anyway. */
	for (unsigned int i = 0; i < PCI_CAP_MAX_NR && cfg->data[off + 1]; i++)
		off = cfg->data[off + 1];
	return off;
}

int pci_config_add_cap(struct pci_config *cfg, const uint8_t *cap, const uint8_t *wmask,
		       uint8_t len, uint8_t *ret_offset)
{
	uint32_t off = cfg->next_cap, end;

	/* next_cap == 0 after init means the standard space is full. */
	if (len < 2 || !cap)
		return -EINVAL;
	if (off < PCI_STD_HEADER_SIZE || off + len > PCI_CONFIG_STD_SIZE)
		return -ENOSPC;

	memcpy(cfg->data + off, cap, len);
	cfg->data[off + 1] = 0;
	if (wmask)
		memcpy(cfg->wmask + off + 2, wmask + 2, len - 2u); /* id and next stay read-only */

	if (cfg->data[PCI_CAPABILITY_LIST] == 0)
		cfg->data[PCI_CAPABILITY_LIST] = (uint8_t)off;
	else
		cfg->data[pci_cap_last(cfg) + 1] = (uint8_t)off;
	cfg->data[PCI_STATUS] |= PCI_STATUS_CAP_LIST;

	end = ALIGN_UP(off + len, 4u);
	cfg->next_cap = end < PCI_CONFIG_STD_SIZE ? (uint8_t)end : 0;
	*ret_offset = (uint8_t)off;
	return 0;
}

void pci_config_read(const struct pci_config *cfg, uint32_t offset, uint8_t *data, uint32_t size)
{
	for (uint32_t i = 0; i < size; i++) {
		/* Written so that offset + i cannot wrap. */
		data[i] = i < PCI_CONFIG_SIZE && offset < PCI_CONFIG_SIZE - i ? cfg->data[offset + i]
									      : 0;
	}
}

/*
 * Did the write to BAR register `reg` (0..5) complete a new address for its
 * BAR? Returns the BAR index or -1, and records the new address.
 *
 * A dword whose writable bits are all ones is the sizing pattern, never an
 * address; the restore that follows sizing writes the old value back, which
 * is no move either. A 32-bit BAR moves when its one register changes.
 * A 64-bit BAR is complete when its high dword is written (Linux and every
 * other OS we know write the low dword first, then the high one). A write of
 * the low dword alone also counts when the high dword already holds the
 * current high half and memory decoding is on: a guest that moves a BAR
 * within the same 4 GiB without touching the high half still gets its move.
 * Linux turns decoding off while rewriting 64-bit BARs, so it never sees a
 * half-written address reported; a guest that moves a live 64-bit BAR across
 * a 4 GiB boundary gets an intermediate move, then the final one.
 */
static int pci_bar_check_move(struct pci_config *cfg, unsigned int reg)
{
	unsigned int bar = reg;
	bool high = false;
	struct pci_bar *b;
	uint32_t lo, hi, written_mask, written;
	uint64_t addr;

	if (reg > 0 && cfg->bars[reg - 1].is_64bit) {
		bar = reg - 1;
		high = true;
	}
	b = &cfg->bars[bar];
	if (!b->size)
		return -1;

	written = rd32(cfg->data + bar_reg(reg));
	written_mask = rd32(cfg->wmask + bar_reg(reg));
	if (written_mask && (written & written_mask) == written_mask)
		return -1; /* sizing */

	lo = rd32(cfg->data + bar_reg(bar)) & ~(uint32_t)PCI_BAR_MEM_FLAGS;
	hi = b->is_64bit ? rd32(cfg->data + bar_reg(bar + 1)) : 0;
	addr = (uint64_t)hi << 32 | lo;
	if (b->is_64bit && !high &&
	    (hi != (uint32_t)(b->addr >> 32) || !(pci_config_command(cfg) & PCI_COMMAND_MEMORY)))
		return -1; /* wait for the high half */
	if (addr == b->addr)
		return -1;
	b->addr = addr;
	return (int)bar;
}

void pci_config_write(struct pci_config *cfg, uint32_t offset, const uint8_t *data, uint32_t size,
		      int *ret_moved_bar)
{
	int moved = -1;

	if (ret_moved_bar)
		*ret_moved_bar = -1;
	if (offset >= PCI_CONFIG_SIZE || size == 0)
		return;
	size = MIN(size, PCI_CONFIG_SIZE - offset);

	for (uint32_t i = 0; i < size; i++) {
		uint32_t o = offset + i;
		uint8_t v = data[i];

		cfg->data[o] = (uint8_t)((cfg->data[o] & ~cfg->wmask[o]) | (v & cfg->wmask[o]));
		cfg->data[o] &= (uint8_t)~(v & cfg->w1cmask[o]);
	}

	if (offset < PCI_BASE_ADDRESS_END && offset + size > PCI_BASE_ADDRESS_0) {
		uint32_t first = (MAX(offset, (uint32_t)PCI_BASE_ADDRESS_0) - PCI_BASE_ADDRESS_0) / 4;
		uint32_t last = (MIN(offset + size, (uint32_t)PCI_BASE_ADDRESS_END) - 1 -
				 PCI_BASE_ADDRESS_0) / 4;

		/* Only an unaligned multi-dword write touches two BARs; report the first. */
		for (uint32_t reg = first; reg <= last; reg++) {
			int b = pci_bar_check_move(cfg, reg);

			if (b >= 0 && moved < 0)
				moved = b;
		}
	}
	if (ret_moved_bar)
		*ret_moved_bar = moved;
}

uint16_t pci_config_command(const struct pci_config *cfg)
{
	return (uint16_t)(cfg->data[PCI_COMMAND] | cfg->data[PCI_COMMAND + 1] << 8);
}
