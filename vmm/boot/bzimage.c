/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bzImage loading through the Linux x86 boot protocol's 64-bit entry
 * (Documentation/arch/x86/boot.rst): the protected-mode code goes to 1 MiB,
 * a zero page built from the image's own setup header goes to
 * LAYOUT_ZERO_PAGE_START, and the kernel starts at load address + 0x200 in
 * long mode. The real-mode setup code is never run, so it is not loaded.
 */
#include "boot-internal.h"

#include <errno.h>
#include <string.h>

#include "common/log.h"

/* The fields up to init_size exist in every protocol >= 2.12 header. */
#define BZ_HDR_MIN_END (BZ_SETUP_HEADER_OFFSET + offsetof(struct bz_setup_header, handover_offset))

static int bz_check_header(const struct bz_setup_header *hdr, uint64_t file_size,
			   uint64_t *ret_setup_size, size_t *ret_hdr_len, struct error *err)
{
	uint64_t setup_sects = hdr->setup_sects ? hdr->setup_sects : BZ_DEFAULT_SETUP_SECTS;
	uint64_t setup_size = (setup_sects + 1) * BZ_SECTOR_SIZE;
	/* The 2-byte short jump at 0x200 jumps over the header: its end. */
	uint64_t hdr_end = 0x202 + (hdr->jump >> 8);

	if (hdr->version < BZ_MIN_VERSION)
		return error_set(err, -ENOEXEC,
				 "bzImage boot protocol %u.%02u is too old (need 2.12 or later)",
				 hdr->version >> 8, hdr->version & 0xff);
	if (!(hdr->xloadflags & BZ_XLF_KERNEL_64))
		return error_set(err, -ENOEXEC, "bzImage has no 64-bit entry point (xloadflags)");
	if (!(hdr->loadflags & BZ_LOADED_HIGH))
		return error_set(err, -ENOEXEC, "bzImage is not loaded high (loadflags)");
	if (hdr_end < BZ_HDR_MIN_END)
		return error_set(err, -ENOEXEC, "bzImage setup header is truncated (ends at 0x%jx)",
				 (uintmax_t)hdr_end);
	if (setup_size >= file_size)
		return error_set(err, -ENOEXEC,
				 "bzImage setup code (%ju sectors) reaches past the end of the file (%ju bytes)",
				 (uintmax_t)setup_sects, (uintmax_t)file_size);

	hdr_end = MIN(hdr_end, (uint64_t)BZ_SETUP_HEADER_OFFSET + sizeof(*hdr));
	*ret_setup_size = setup_size;
	*ret_hdr_len = (size_t)(hdr_end - BZ_SETUP_HEADER_OFFSET);
	return 0;
}

static int bz_fill_e820(struct bz_boot_params *bp, uint64_t ram_size, struct error *err)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	int n = boot_e820_build(ram_size, map, ARRAY_SIZE(map));

	if (n < 0)
		return error_set(err, n, "cannot build the e820 map for %ju bytes of RAM",
				 (uintmax_t)ram_size);
	_Static_assert(E820_MAX_ENTRIES <= BZ_E820_MAX, "zero page e820 table too small");
	for (int i = 0; i < n; i++)
		bp->e820_table[i] = (struct bz_e820_entry){
			.addr = map[i].addr, .size = map[i].size, .type = map[i].type
		};
	bp->e820_entries = (uint8_t)n;
	return 0;
}

int boot_load_bzimage(struct guest_mem *mem, const struct boot_request *req,
		      const struct boot_file *f, struct boot_info *ret, struct error *err)
{
	uint64_t low_end = layout_ram_split(req->ram_size).low_size;
	uint64_t setup_size = 0, code_size, kernel_end, initrd_limit, initrd_addr = 0, initrd_size = 0;
	struct bz_setup_header hdr;
	struct bz_boot_params bp;
	size_t hdr_len = 0;
	int r;

	r = boot_pread_full(f->fd, BZ_SETUP_HEADER_OFFSET, &hdr, sizeof(hdr));
	if (r < 0)
		return error_set(err, r, "reading the bzImage setup header: %s", strerror(-r));
	r = bz_check_header(&hdr, f->size, &setup_size, &hdr_len, err);
	if (r < 0)
		return r;

	/* The kernel decompresses in place and needs init_size bytes from its load address. */
	code_size = f->size - setup_size;
	kernel_end = LAYOUT_HIMEM_START + MAX(code_size, (uint64_t)hdr.init_size);
	if (kernel_end > low_end)
		return error_set(err, -ENOSPC,
				 "kernel needs 0x%jx bytes at 1 MiB but RAM below 4 GiB ends at 0x%jx",
				 (uintmax_t)(kernel_end - LAYOUT_HIMEM_START), (uintmax_t)low_end);

	memset(&bp, 0, sizeof(bp));
	memcpy(&bp.hdr, &hdr, hdr_len);
	r = bz_fill_e820(&bp, req->ram_size, err);
	if (r < 0)
		return r;

	r = boot_copy_to_guest(mem, f, setup_size, code_size, LAYOUT_HIMEM_START, err);
	if (r < 0)
		return error_wrap(err, "loading the bzImage protected-mode code");

	r = boot_write_cmdline(mem, req->cmdline, hdr.cmdline_size, err);
	if (r < 0)
		return r;

	/* initrd_addr_max is the last byte the initramfs may occupy. */
	initrd_limit = MIN((uint64_t)hdr.initrd_addr_max + 1, low_end);
	r = boot_load_initramfs(mem, req->initramfs_fd, kernel_end, initrd_limit, &initrd_addr,
				&initrd_size, err);
	if (r < 0)
		return r;

	bp.hdr.type_of_loader = BZ_LOADER_UNDEFINED;
	bp.hdr.loadflags |= BZ_CAN_USE_HEAP;
	bp.hdr.heap_end_ptr = BZ_HEAP_END_PTR;
	bp.hdr.vid_mode = BZ_VID_MODE_NORMAL;
	bp.hdr.cmd_line_ptr = LAYOUT_CMDLINE_START;
	bp.hdr.ramdisk_image = (uint32_t)initrd_addr;
	bp.hdr.ramdisk_size = (uint32_t)initrd_size;
	if (hdr.version >= BZ_VERSION_ACPI_RSDP)
		bp.acpi_rsdp_addr = req->rsdp_addr;

	if (guest_mem_write(mem, LAYOUT_ZERO_PAGE_START, &bp, sizeof(bp)) < 0)
		return error_set(err, -EFAULT, "zero page 0x%x is outside guest memory",
				 LAYOUT_ZERO_PAGE_START);

	log_debug("bzImage: protocol %u.%02u, %ju setup sectors, 0x%jx bytes of code",
		  hdr.version >> 8, hdr.version & 0xff, (uintmax_t)(setup_size / BZ_SECTOR_SIZE - 1),
		  (uintmax_t)code_size);
	*ret = (struct boot_info){
		.protocol = BOOT_PROTOCOL_LINUX64,
		.entry = LAYOUT_HIMEM_START + BZ_ENTRY64_OFFSET,
		.info_addr = LAYOUT_ZERO_PAGE_START,
		.kernel_end = kernel_end,
		.initramfs_addr = initrd_addr,
		.initramfs_size = initrd_size,
	};
	return 0;
}
