/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The boot CPU's state for each entry protocol, computed without the
 * hypervisor so it can be unit-tested: GDT, empty IDT, the identity-mapped
 * page tables for 64-bit entry, and the register values. bsp.c applies it.
 *
 * The segment registers are decoded from the very GDT we write, so the
 * hidden descriptor caches match what a later segment reload would give.
 */
#include "boot-internal.h"

#include <errno.h>
#include <string.h>

#include "hv/hv.h"

#define X86_CR0_PE 0x1ULL
#define X86_CR0_ET 0x10ULL
#define X86_CR0_PG 0x80000000ULL
#define X86_CR4_PAE 0x20ULL
#define X86_EFER_LME 0x100ULL
#define X86_EFER_LMA 0x400ULL
#define X86_RFLAGS_RESERVED 0x2ULL /* bit 1 always reads as 1 */

#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define SEL_TSS 0x18

#define PT_ENTRIES 512
#define PT_PAGE_SIZE 4096
#define PD_COUNT 4 /* 4 x 1 GiB: the first 4 GiB */
#define PAGE_2M (2 * MiB)

/*
 * Descriptor = flags (access byte in bits 0-7, flags nibble in 12-15),
 * base and 20-bit limit, as the GDT_ENTRY() macro Linux and the Rust VMMs use.
 */
static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000) << 32) | ((uint64_t)(flags & 0xf0ff) << 40) |
	       ((uint64_t)(limit & 0x000f0000) << 32) | ((uint64_t)(base & 0x00ffffff) << 16) |
	       (uint64_t)(limit & 0x0000ffff);
}

void boot_gdt_table(enum boot_protocol protocol, uint64_t ret_gdt[BOOT_GDT_ENTRIES])
{
	ret_gdt[0] = 0;
	if (protocol == BOOT_PROTOCOL_PVH) {
		/* 32-bit flat code/data and a busy TSS; pvh.pandoc wants a flat 4 GiB view. */
		ret_gdt[1] = gdt_entry(0xc09b, 0, 0xfffff);
		ret_gdt[2] = gdt_entry(0xc093, 0, 0xfffff);
		ret_gdt[3] = gdt_entry(0x008b, 0, 0x67);
	} else {
		/* 64-bit code (L=1), flat data, and a TSS: what the kernel's startup_64 expects. */
		ret_gdt[1] = gdt_entry(0xa09b, 0, 0xfffff);
		ret_gdt[2] = gdt_entry(0xc093, 0, 0xfffff);
		ret_gdt[3] = gdt_entry(0x808b, 0, 0xfffff);
	}
}

void boot_segment_from_gdt(uint64_t desc, uint16_t selector, struct hv_segment *ret)
{
	uint32_t limit = (uint32_t)((desc & 0xffff) | ((desc >> 32) & 0xf0000));
	uint8_t g = (desc >> 55) & 1;

	*ret = (struct hv_segment){
		.base = ((desc >> 16) & 0xffffff) | (((desc >> 56) & 0xff) << 24),
		/* The hypervisor wants the byte-granular limit the CPU would cache. */
		.limit = g ? (limit << 12) | 0xfff : limit,
		.selector = selector,
		.type = (desc >> 40) & 0xf,
		.s = (desc >> 44) & 1,
		.dpl = (desc >> 45) & 3,
		.present = (desc >> 47) & 1,
		.avl = (desc >> 52) & 1,
		.l = (desc >> 53) & 1,
		.db = (desc >> 54) & 1,
		.g = g,
		.unusable = !((desc >> 47) & 1),
	};
}

int boot_write_page_tables(struct guest_mem *mem)
{
	uint64_t table[PT_ENTRIES];

	memset(table, 0, sizeof(table));
	table[0] = LAYOUT_PDPT_START | BOOT_PAGE_PRESENT_RW;
	if (guest_mem_write(mem, LAYOUT_PML4_START, table, sizeof(table)) < 0)
		return -EFAULT;

	memset(table, 0, sizeof(table));
	for (unsigned int i = 0; i < PD_COUNT; i++)
		table[i] = (LAYOUT_PD_START + i * PT_PAGE_SIZE) | BOOT_PAGE_PRESENT_RW;
	if (guest_mem_write(mem, LAYOUT_PDPT_START, table, sizeof(table)) < 0)
		return -EFAULT;

	for (unsigned int i = 0; i < PD_COUNT; i++) {
		for (unsigned int j = 0; j < PT_ENTRIES; j++)
			table[j] = ((uint64_t)(i * PT_ENTRIES + j) * PAGE_2M) |
				   BOOT_PAGE_PRESENT_RW | BOOT_PAGE_PS;
		if (guest_mem_write(mem, LAYOUT_PD_START + i * PT_PAGE_SIZE, table,
				    sizeof(table)) < 0)
			return -EFAULT;
	}
	return 0;
}

int boot_cpu_sregs(struct guest_mem *mem, const struct boot_info *info, struct hv_sregs *sregs)
{
	uint64_t gdt[BOOT_GDT_ENTRIES];
	uint64_t idt = 0;
	int r;

	_Static_assert(LAYOUT_GDT_START + sizeof(gdt) <= LAYOUT_IDT_START, "GDT overlaps IDT");

	boot_gdt_table(info->protocol, gdt);
	if (guest_mem_write(mem, LAYOUT_GDT_START, gdt, sizeof(gdt)) < 0 ||
	    guest_mem_write(mem, LAYOUT_IDT_START, &idt, sizeof(idt)) < 0)
		return -EFAULT;

	sregs->gdt = (struct hv_dtable){ .base = LAYOUT_GDT_START, .limit = sizeof(gdt) - 1 };
	/* No IDT: the kernel installs its own before enabling interrupts. */
	sregs->idt = (struct hv_dtable){ .base = LAYOUT_IDT_START, .limit = 0 };

	boot_segment_from_gdt(gdt[1], SEL_CODE, &sregs->cs);
	boot_segment_from_gdt(gdt[2], SEL_DATA, &sregs->ds);
	sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
	boot_segment_from_gdt(gdt[3], SEL_TSS, &sregs->tr);

	if (info->protocol == BOOT_PROTOCOL_PVH) {
		/* pvh.pandoc: protected mode, paging off, everything else clear. */
		sregs->cr0 = X86_CR0_PE | X86_CR0_ET;
		sregs->cr3 = 0;
		sregs->cr4 = 0;
		sregs->efer = 0;
		return 0;
	}

	r = boot_write_page_tables(mem);
	if (r < 0)
		return r;
	sregs->cr3 = LAYOUT_PML4_START;
	sregs->cr4 |= X86_CR4_PAE;
	sregs->cr0 |= X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
	sregs->efer |= X86_EFER_LME | X86_EFER_LMA;
	return 0;
}

void boot_cpu_regs(const struct boot_info *info, struct hv_regs *ret)
{
	*ret = (struct hv_regs){ .rflags = X86_RFLAGS_RESERVED, .rip = info->entry };
	if (info->protocol == BOOT_PROTOCOL_PVH) {
		ret->rbx = info->info_addr;
	} else {
		ret->rsp = ret->rbp = LAYOUT_BOOT_STACK_TOP;
		ret->rsi = info->info_addr;
	}
}
