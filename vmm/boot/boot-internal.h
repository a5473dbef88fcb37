/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to vmm/boot: the on-the-wire layouts of the two boot protocols and
 * the helpers load.c shares with bzimage.c, pvh.c and bsp.c.
 *
 * The structures are written from the documented layouts (Linux
 * Documentation/arch/x86/boot.rst and zero-page.rst; Xen's
 * public/arch-x86/hvm/start_info.h), not taken from kernel headers; the
 * static asserts pin every offset we rely on.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/guest-mem.h"
#include "common/macros.h"
#include "vmm/boot.h"
#include "vmm/layout.h"

struct hv_regs;
struct hv_segment;
struct hv_sregs;

/* ---- Linux x86 boot protocol ---- */

#define BZ_SETUP_HEADER_OFFSET 0x1f1
#define BZ_BOOT_FLAG 0xaa55
#define BZ_HDRS_MAGIC 0x53726448 /* "HdrS" little endian */
#define BZ_MIN_VERSION 0x020c	 /* first with xloadflags / 64-bit entry */
#define BZ_VERSION_ACPI_RSDP 0x020e
#define BZ_DEFAULT_SETUP_SECTS 4 /* setup_sects == 0 means 4 */
#define BZ_SECTOR_SIZE 512
#define BZ_LOADED_HIGH 0x01
#define BZ_CAN_USE_HEAP 0x80
#define BZ_XLF_KERNEL_64 0x0001
#define BZ_LOADER_UNDEFINED 0xff
#define BZ_HEAP_END_PTR 0xfe00
#define BZ_VID_MODE_NORMAL 0xffff
#define BZ_ENTRY64_OFFSET 0x200
#define BZ_E820_MAX 128

struct bz_setup_header {
	uint8_t setup_sects;		/* 0x1f1 */
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;		/* 0x1fa */
	uint16_t root_dev;
	uint16_t boot_flag;		/* 0x1fe */
	uint16_t jump;			/* 0x200 */
	uint32_t header;		/* 0x202 */
	uint16_t version;		/* 0x206 */
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader;		/* 0x210 */
	uint8_t loadflags;		/* 0x211 */
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;		/* 0x218 */
	uint32_t ramdisk_size;		/* 0x21c */
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;		/* 0x224 */
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;		/* 0x228 */
	uint32_t initrd_addr_max;	/* 0x22c */
	uint32_t kernel_alignment;
	uint8_t relocatable_kernel;
	uint8_t min_alignment;
	uint16_t xloadflags;		/* 0x236 */
	uint32_t cmdline_size;		/* 0x238 */
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;	/* 0x248 */
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address;
	uint32_t init_size;		/* 0x260 */
	uint32_t handover_offset;
	uint32_t kernel_info_offset;
} __attribute__((packed));

struct bz_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/* The "zero page"; only the fields a loader fills are named. */
struct bz_boot_params {
	uint8_t screen_info[0x70];		/* 0x000, also apm/tboot/ist */
	uint64_t acpi_rsdp_addr;		/* 0x070 */
	uint8_t pad1[0x1e8 - 0x78];
	uint8_t e820_entries;			/* 0x1e8 */
	uint8_t pad2[BZ_SETUP_HEADER_OFFSET - 0x1e9];
	struct bz_setup_header hdr;		/* 0x1f1 */
	uint8_t pad3[0x2d0 - 0x26c];
	struct bz_e820_entry e820_table[BZ_E820_MAX]; /* 0x2d0 */
	uint8_t pad4[0x1000 - 0xcd0];
} __attribute__((packed));

_Static_assert(sizeof(struct bz_setup_header) == 0x26c - 0x1f1, "setup_header size");
_Static_assert(offsetof(struct bz_setup_header, header) == 0x202 - 0x1f1, "header");
_Static_assert(offsetof(struct bz_setup_header, cmdline_size) == 0x238 - 0x1f1, "cmdline_size");
_Static_assert(offsetof(struct bz_setup_header, init_size) == 0x260 - 0x1f1, "init_size");
_Static_assert(sizeof(struct bz_e820_entry) == 20, "e820 entry");
_Static_assert(offsetof(struct bz_boot_params, hdr) == 0x1f1, "hdr");
_Static_assert(offsetof(struct bz_boot_params, e820_table) == 0x2d0, "e820_table");
_Static_assert(sizeof(struct bz_boot_params) == 4096, "zero page size");

/* ---- PVH (Xen public/arch-x86/hvm/start_info.h, version 1) ---- */

#define PVH_START_MAGIC 0x336ec578
#define PVH_START_VERSION 1
#define PVH_XEN_ELFNOTE_PHYS32_ENTRY 18

struct pvh_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
} __attribute__((packed));

struct pvh_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
} __attribute__((packed));

struct pvh_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct pvh_start_info) == 56, "hvm_start_info");
_Static_assert(sizeof(struct pvh_modlist_entry) == 32, "hvm_modlist_entry");
_Static_assert(sizeof(struct pvh_memmap_entry) == 24, "hvm_memmap_table_entry");

/* Where the memmap and module list go, after the start info. */
#define PVH_MEMMAP_START (LAYOUT_PVH_INFO_START + 64)
#define PVH_MODLIST_START (PVH_MEMMAP_START + E820_MAX_ENTRIES * sizeof(struct pvh_memmap_entry))

/* ---- shared by the loaders (load.c) ---- */

/* Largest kernel or initramfs we read: bounded by the 32-bit low RAM anyway. */
#define BOOT_FILE_MAX (3 * GiB)

/* A kernel file opened for loading: its fd and size, checked once. */
struct boot_file {
	int fd;
	uint64_t size;
};

/* pread exactly `len` bytes at `off`, retrying short reads; -EIO on early EOF. */
int boot_pread_full(int fd, uint64_t off, void *buf, size_t len) _wur_;
/* Copy [off, off+len) of the file into guest memory at gpa (bounds-checked). */
int boot_copy_to_guest(struct guest_mem *mem, const struct boot_file *f, uint64_t off,
		       uint64_t len, uint64_t gpa, struct error *err) _wur_;
/* Zero [gpa, gpa+len) of guest memory. */
int boot_zero_guest(struct guest_mem *mem, uint64_t gpa, uint64_t len, struct error *err) _wur_;
/*
 * Write the command line NUL-terminated at LAYOUT_CMDLINE_START; `max` is the
 * longest the kernel accepts, without the NUL.
 */
int boot_write_cmdline(struct guest_mem *mem, const char *cmdline, uint64_t max,
		       struct error *err) _wur_;
/*
 * Place the initramfs page-aligned as high as possible with its end <= `limit`
 * and its start >= `floor`. No initramfs (fd < 0 or empty file) gives 0/0.
 */
int boot_load_initramfs(struct guest_mem *mem, int fd, uint64_t floor, uint64_t limit,
			uint64_t *ret_addr, uint64_t *ret_size, struct error *err) _wur_;

int boot_load_bzimage(struct guest_mem *mem, const struct boot_request *req,
		      const struct boot_file *f, struct boot_info *ret, struct error *err) _wur_;
int boot_load_pvh(struct guest_mem *mem, const struct boot_request *req,
		  const struct boot_file *f, struct boot_info *ret, struct error *err) _wur_;

/* ---- boot CPU state without the hypervisor (cpu-state.c) ---- */

#define BOOT_GDT_ENTRIES 4
#define BOOT_PAGE_PRESENT_RW 0x03
#define BOOT_PAGE_PS 0x80

/* The GDT a protocol uses: null, code (0x08), data (0x10), TSS (0x18). */
void boot_gdt_table(enum boot_protocol protocol, uint64_t ret_gdt[BOOT_GDT_ENTRIES]);
/* Decode one GDT descriptor into a segment register loaded with `selector`. */
void boot_segment_from_gdt(uint64_t desc, uint16_t selector, struct hv_segment *ret);
/* The identity map of the first 4 GiB with 2 MiB pages (LINUX64). */
int boot_write_page_tables(struct guest_mem *mem) _wur_;
/*
 * Write GDT, IDT (and page tables for LINUX64) into guest memory and update
 * `sregs` (as read from the vCPU) for the protocol's entry mode.
 */
int boot_cpu_sregs(struct guest_mem *mem, const struct boot_info *info,
		   struct hv_sregs *sregs) _wur_;
/* General registers at entry. */
void boot_cpu_regs(const struct boot_info *info, struct hv_regs *ret);
