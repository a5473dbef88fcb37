/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The x86_64 guest physical address map (close to Cloud Hypervisor's and
 * Firecracker's so that guests see what they expect):
 *
 *   0x0000_0500  GDT                 0x0000_0520  IDT
 *   0x0000_6000  PVH start info, its memory map and module list
 *   0x0000_7000  Linux boot_params ("zero page")
 *   0x0000_8ff0  boot stack top
 *   0x0000_9000  PML4   0xa000 PDPT   0xb000-0xefff PDs (identity map of 4 GiB)
 *   0x0002_0000  kernel command line
 *   0x0009_fc00  EBDA start (end of low RAM in the e820 map)
 *   0x000e_0000  ACPI tables, RSDP first (inside the BIOS scan area)
 *   0x000f_fff0  reset vector stub (jumps there end in a platform reset)
 *   0x0010_0000  kernel (bzImage protected-mode code / vmlinux segments)
 *   ...          RAM up to min(size, 3 GiB)
 *   0xc000_0000  32-bit device hole: PCI MMIO, ECAM, I/O APIC, LAPIC
 *     0xc000_0000  PCI 32-bit MMIO window (512 MiB, BARs the VMM places)
 *     0xe000_0000  PCI ECAM, bus 0 only (1 MiB; MCFG, reserved through ACPI)
 *   0xfec0_0000  I/O APIC     0xfee0_0000 local APIC
 *   0x1_0000_0000 RAM above 4 GiB (the rest)
 *   after RAM    PCI 64-bit MMIO window (64 GiB, 1 GiB aligned, >= 4 GiB)
 */
#pragma once

#include <stdint.h>

#include "common/macros.h"

#define LAYOUT_GDT_START 0x500
#define LAYOUT_IDT_START 0x520
#define LAYOUT_PVH_INFO_START 0x6000
#define LAYOUT_ZERO_PAGE_START 0x7000
#define LAYOUT_BOOT_STACK_TOP 0x8ff0
#define LAYOUT_PML4_START 0x9000
#define LAYOUT_PDPT_START 0xa000
#define LAYOUT_PD_START 0xb000 /* four 4 KiB PDs: 0xb000-0xefff */
#define LAYOUT_CMDLINE_START 0x20000
#define LAYOUT_CMDLINE_MAX 4096
#define LAYOUT_EBDA_START 0x9fc00
#define LAYOUT_ACPI_START 0xe0000
#define LAYOUT_ACPI_END 0x100000
#define LAYOUT_RESET_VECTOR 0xffff0 /* f000:fff0, where a CPU reset starts */
#define LAYOUT_HIMEM_START 0x100000
#define LAYOUT_MEM_32BIT_GAP_START (3 * GiB)
#define LAYOUT_MEM_32BIT_GAP_END (4 * GiB)
#define LAYOUT_RAM_64BIT_START (4 * GiB)
#define LAYOUT_IOAPIC_START 0xfec00000
#define LAYOUT_IOAPIC_SIZE 0x20
#define LAYOUT_LAPIC_START 0xfee00000

/* PCI: segment 0, bus 0. The 32-bit window starts where low RAM ends. */
#define LAYOUT_PCI_MMIO32_START 0xc0000000
#define LAYOUT_PCI_MMIO32_SIZE 0x20000000 /* 512 MiB, up to the ECAM */
#define LAYOUT_PCI_ECAM_START 0xe0000000
#define LAYOUT_PCI_ECAM_SIZE 0x100000 /* bus 0: 32 devices x 8 functions x 4 KiB */
#define LAYOUT_PCI_MMIO64_ALIGN GiB
#define LAYOUT_PCI_MMIO64_SIZE (64 * GiB)

_Static_assert(LAYOUT_PCI_MMIO32_START >= LAYOUT_MEM_32BIT_GAP_START,
	       "PCI 32-bit window overlaps low RAM");
_Static_assert(LAYOUT_PCI_MMIO32_START + LAYOUT_PCI_MMIO32_SIZE <= LAYOUT_PCI_ECAM_START,
	       "PCI 32-bit window overlaps the ECAM");
_Static_assert(LAYOUT_PCI_ECAM_START + LAYOUT_PCI_ECAM_SIZE <= LAYOUT_IOAPIC_START,
	       "ECAM overlaps the I/O APIC");

/* How guest RAM of a given size is split around the 32-bit hole. */
struct layout_ram {
	uint64_t low_size;  /* [0, low_size) */
	uint64_t high_size; /* [4 GiB, 4 GiB + high_size) */
};

static inline struct layout_ram layout_ram_split(uint64_t size)
{
	struct layout_ram r;

	r.low_size = MIN(size, (uint64_t)LAYOUT_MEM_32BIT_GAP_START);
	r.high_size = size - r.low_size;
	return r;
}

/*
 * The PCI 64-bit MMIO window: above 4 GiB and above the end of RAM, 1 GiB
 * aligned (so large BARs can be naturally aligned inside it), 64 GiB long.
 * With 64 GiB of RAM it ends at 132 GiB: the guest needs more than 37
 * physical address bits, which the VMM should check against the CPU's.
 */
static inline void layout_pci_mmio64(uint64_t ram_size, uint64_t *start, uint64_t *size)
{
	struct layout_ram r = layout_ram_split(ram_size);
	uint64_t ram_end = r.high_size ? LAYOUT_RAM_64BIT_START + r.high_size : r.low_size;

	*start = ALIGN_UP(MAX(ram_end, (uint64_t)LAYOUT_RAM_64BIT_START),
			  (uint64_t)LAYOUT_PCI_MMIO64_ALIGN);
	*size = LAYOUT_PCI_MMIO64_SIZE;
}
