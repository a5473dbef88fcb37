/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's e820 memory map, shared by the bzImage zero page and the PVH
 * memmap so both protocols describe the same machine.
 */
#include "vmm/boot.h"
#include "vmm/layout.h"

#include <errno.h>

/*
 * Below this the fixed low layout (EBDA, ACPI area, kernel at 1 MiB) does
 * not fit; the CLI enforces a much larger minimum anyway.
 */
#define E820_MIN_RAM (2 * MiB)

static int e820_add(struct e820_entry *out, unsigned int max, unsigned int *n,
		    uint64_t start, uint64_t end, uint32_t type)
{
	if (*n >= max)
		return -ENOSPC;
	out[*n] = (struct e820_entry){ .addr = start, .size = end - start, .type = type };
	(*n)++;
	return 0;
}

int boot_e820_build(uint64_t ram_size, struct e820_entry *out, unsigned int max)
{
	struct layout_ram split = layout_ram_split(ram_size);
	unsigned int n = 0;
	int r;

	if (ram_size < E820_MIN_RAM || !out)
		return -EINVAL;
	/* The high part must not wrap past the top of the address space. */
	if (!range_ok(LAYOUT_RAM_64BIT_START, split.high_size + 1))
		return -EINVAL;

	r = e820_add(out, max, &n, 0, LAYOUT_EBDA_START, E820_RAM);
	if (r < 0)
		return r;
	/* The EBDA up to the VGA hole: guests expect it reserved, as on real PCs. */
	r = e820_add(out, max, &n, LAYOUT_EBDA_START, 0xa0000, E820_RESERVED);
	if (r < 0)
		return r;
	/* ACPI tables and the BIOS area the kernel scans for the RSDP. */
	r = e820_add(out, max, &n, LAYOUT_ACPI_START, LAYOUT_ACPI_END, E820_RESERVED);
	if (r < 0)
		return r;
	r = e820_add(out, max, &n, LAYOUT_HIMEM_START, split.low_size, E820_RAM);
	if (r < 0)
		return r;
	if (split.high_size > 0) {
		r = e820_add(out, max, &n, LAYOUT_RAM_64BIT_START,
			     LAYOUT_RAM_64BIT_START + split.high_size, E820_RAM);
		if (r < 0)
			return r;
	}
	return (int)n;
}
