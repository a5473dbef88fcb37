/* SPDX-License-Identifier: Apache-2.0 */
/*
 * x86_64 kernel loading and boot CPU state.
 *
 * Two entry protocols:
 *  - bzImage through the Linux x86 boot protocol (>= 2.12 for 64-bit entry):
 *    protected-mode code at 1 MiB, boot_params at LAYOUT_ZERO_PAGE_START,
 *    64-bit entry at load address + 0x200 with identity-mapped paging.
 *  - vmlinux ELF through its PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): ELF
 *    segments at their physical addresses, hvm_start_info at
 *    LAYOUT_PVH_INFO_START, 32-bit protected-mode entry with paging off and
 *    %ebx pointing at the start info.
 * The kind is detected from the file's contents.
 */
#pragma once

#include <stdint.h>

#include "common/error.h"
#include "common/guest-mem.h"
#include "common/macros.h"

struct hv_vcpu;

enum boot_protocol {
	BOOT_PROTOCOL_LINUX64, /* bzImage, 64-bit boot protocol */
	BOOT_PROTOCOL_PVH,     /* ELF vmlinux, PVH 32-bit entry */
};

const char *boot_protocol_to_string(enum boot_protocol p);

/* One e820 entry (the boot_params / PVH memmap shape). */
struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3
#define E820_MAX_ENTRIES 16

struct boot_request {
	int kernel_fd;		/* required */
	int initramfs_fd;	/* -1 if none */
	const char *cmdline;	/* may be NULL */
	uint64_t ram_size;	/* total guest RAM; layout_ram_split() places it */
	uint64_t rsdp_addr;	/* guest address of the ACPI RSDP */
};

struct boot_info {
	enum boot_protocol protocol;
	uint64_t entry;		/* guest physical entry point */
	uint64_t info_addr;	/* boot_params (LINUX64) or hvm_start_info (PVH) */
	uint64_t kernel_end;	/* first byte after the loaded kernel image */
	uint64_t initramfs_addr;
	uint64_t initramfs_size;
};

/* The e820 map for `ram_size` bytes of RAM; returns the entry count. */
int boot_e820_build(uint64_t ram_size, struct e820_entry *out, unsigned int max) _wur_;

/*
 * Load kernel, initramfs and command line into guest memory and write the
 * boot protocol structures. err gets a message saying what is wrong with the
 * file ("not a bzImage or ELF vmlinux", "ELF has no PVH entry note", "initramfs
 * does not fit below ...").
 */
int boot_load(struct guest_mem *mem, const struct boot_request *req,
	      struct boot_info *ret, struct error *err) _wur_;

/*
 * Boot-CPU state for `info`: GDT/IDT (and page tables for LINUX64) in guest
 * memory, then registers and segment registers of `vcpu`. Other vCPUs start
 * in wait-for-SIPI and need no set-up here.
 */
int boot_setup_bsp(struct hv_vcpu *vcpu, struct guest_mem *mem,
		   const struct boot_info *info) _wur_;
