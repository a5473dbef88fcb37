/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ELF vmlinux loading through the PVH boot ABI (Xen docs/misc/pvh.pandoc):
 * PT_LOAD segments at their physical addresses, entry taken from the
 * XEN_ELFNOTE_PHYS32_ENTRY note, and an hvm_start_info (with memory map and
 * the initramfs as module 0) whose address the kernel receives in %ebx.
 */
#include "boot-internal.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#include "common/log.h"

/* A vmlinux has a handful of program headers; more means a broken file. */
#define PVH_MAX_PHDRS 64
/* Linux's notes segment is a few hundred bytes. */
#define PVH_MAX_NOTE_SIZE (64 * KiB)
#define PVH_NOTE_ALIGN 4

static int pvh_read_phdrs(const struct boot_file *f, Elf64_Phdr *phdrs, unsigned int *ret_n,
			  struct error *err)
{
	Elf64_Ehdr eh;
	uint64_t len;
	int r;

	r = boot_pread_full(f->fd, 0, &eh, sizeof(eh));
	if (r < 0)
		return error_set(err, r, "reading the ELF header: %s", strerror(-r));
	if (eh.e_phentsize != sizeof(Elf64_Phdr))
		return error_set(err, -ENOEXEC, "ELF program header size %u is not %zu",
				 eh.e_phentsize, sizeof(Elf64_Phdr));
	if (eh.e_phnum == 0 || eh.e_phnum > PVH_MAX_PHDRS)
		return error_set(err, -ENOEXEC, "ELF has %u program headers (1 to %u supported)",
				 eh.e_phnum, PVH_MAX_PHDRS);
	len = (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
	if (!range_ok(eh.e_phoff, len) || eh.e_phoff + len > f->size)
		return error_set(err, -ENOEXEC, "ELF program headers are beyond the end of the file");
	r = boot_pread_full(f->fd, eh.e_phoff, phdrs, len);
	if (r < 0)
		return error_set(err, r, "reading the ELF program headers: %s", strerror(-r));
	*ret_n = eh.e_phnum;
	return 0;
}

/* Look through one PT_NOTE segment for Xen's PHYS32_ENTRY; 1 if found. */
static int pvh_find_entry_in_note(const struct boot_file *f, const Elf64_Phdr *ph,
				  uint64_t *ret_entry, struct error *err)
{
	_cleanup_free_ uint8_t *buf = NULL;
	uint64_t pos = 0, size = ph->p_filesz;
	int r;

	if (size > PVH_MAX_NOTE_SIZE)
		return error_set(err, -ENOEXEC, "ELF note segment is too large (%ju bytes)",
				 (uintmax_t)size);
	if (!range_ok(ph->p_offset, size) || ph->p_offset + size > f->size)
		return error_set(err, -ENOEXEC, "ELF note segment is beyond the end of the file");
	if (size == 0)
		return 0;
	buf = malloc(size);
	if (!buf)
		return error_set(err, -ENOMEM, "out of memory");
	r = boot_pread_full(f->fd, ph->p_offset, buf, size);
	if (r < 0)
		return error_set(err, r, "reading ELF notes: %s", strerror(-r));

	while (size - pos >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name, desc, next;

		memcpy(&nh, buf + pos, sizeof(nh));
		/* 32-bit sizes in 64-bit sums: these cannot wrap. */
		name = pos + sizeof(nh);
		desc = name + ALIGN_UP((uint64_t)nh.n_namesz, PVH_NOTE_ALIGN);
		next = desc + ALIGN_UP((uint64_t)nh.n_descsz, PVH_NOTE_ALIGN);
		if (desc + nh.n_descsz > size || name + nh.n_namesz > size)
			return error_set(err, -ENOEXEC, "ELF note at offset 0x%jx is truncated",
					 (uintmax_t)(ph->p_offset + pos));

		if (nh.n_type == PVH_XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    memcmp(buf + name, "Xen", 4) == 0) {
			uint64_t entry = 0;

			if (nh.n_descsz != 4 && nh.n_descsz != 8)
				return error_set(err, -ENOEXEC,
						 "PVH entry note has a %u-byte address", nh.n_descsz);
			memcpy(&entry, buf + desc, nh.n_descsz); /* little endian */
			if (entry > UINT32_MAX)
				return error_set(err, -ENOEXEC,
						 "PVH entry 0x%jx is not a 32-bit address",
						 (uintmax_t)entry);
			*ret_entry = entry;
			return 1;
		}
		pos = MIN(next, size);
	}
	return 0;
}

static int pvh_find_entry(const struct boot_file *f, const Elf64_Phdr *phdrs, unsigned int n,
			  uint64_t *ret_entry, struct error *err)
{
	for (unsigned int i = 0; i < n; i++) {
		int r;

		if (phdrs[i].p_type != PT_NOTE)
			continue;
		r = pvh_find_entry_in_note(f, &phdrs[i], ret_entry, err);
		if (r != 0)
			return r;
	}
	return error_set(err, -ENOEXEC,
			 "ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
}

/* Check every PT_LOAD against the file and low RAM; the first byte after them all. */
static int pvh_check_loads(const struct boot_file *f, const Elf64_Phdr *phdrs, unsigned int n,
			   uint64_t low_end, uint64_t entry, uint64_t *ret_end, struct error *err)
{
	bool entry_loaded = false;
	uint64_t end = 0;

	for (unsigned int i = 0; i < n; i++) {
		const Elf64_Phdr *ph = &phdrs[i];

		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_filesz > ph->p_memsz || !range_ok(ph->p_offset, ph->p_filesz) ||
		    ph->p_offset + ph->p_filesz > f->size)
			return error_set(err, -ENOEXEC,
					 "ELF segment %u is beyond the end of the file", i);
		/* Below 1 MiB are the boot structures; above low_end the 32-bit hole. */
		if (ph->p_paddr < LAYOUT_HIMEM_START || ph->p_memsz > low_end ||
		    ph->p_paddr > low_end - ph->p_memsz)
			return error_set(err, -ENOEXEC,
					 "ELF segment %u [0x%jx, +0x%jx) is outside guest RAM [0x%x, 0x%jx)",
					 i, (uintmax_t)ph->p_paddr, (uintmax_t)ph->p_memsz,
					 LAYOUT_HIMEM_START, (uintmax_t)low_end);
		end = MAX(end, ph->p_paddr + ph->p_memsz);
		if (entry >= ph->p_paddr && entry - ph->p_paddr < ph->p_memsz)
			entry_loaded = true;
	}
	if (end == 0)
		return error_set(err, -ENOEXEC, "ELF kernel has no loadable segments");
	if (!entry_loaded)
		return error_set(err, -ENOEXEC, "PVH entry 0x%jx is not in a loaded segment",
				 (uintmax_t)entry);
	*ret_end = end;
	return 0;
}

static int pvh_load_segments(struct guest_mem *mem, const struct boot_file *f,
			     const Elf64_Phdr *phdrs, unsigned int n, struct error *err)
{
	for (unsigned int i = 0; i < n; i++) {
		const Elf64_Phdr *ph = &phdrs[i];
		int r;

		if (ph->p_type != PT_LOAD)
			continue;
		r = boot_copy_to_guest(mem, f, ph->p_offset, ph->p_filesz, ph->p_paddr, err);
		if (r >= 0)
			r = boot_zero_guest(mem, ph->p_paddr + ph->p_filesz,
					    ph->p_memsz - ph->p_filesz, err);
		if (r < 0)
			return error_wrap(err, "loading ELF segment %u", i);
	}
	return 0;
}

static int pvh_write_start_info(struct guest_mem *mem, const struct boot_request *req,
				uint64_t initrd_addr, uint64_t initrd_size, struct error *err)
{
	struct pvh_memmap_entry memmap[E820_MAX_ENTRIES] = { 0 };
	struct e820_entry map[E820_MAX_ENTRIES];
	struct pvh_start_info si = {
		.magic = PVH_START_MAGIC,
		.version = PVH_START_VERSION,
		.cmdline_paddr = LAYOUT_CMDLINE_START,
		.rsdp_paddr = req->rsdp_addr,
		.memmap_paddr = PVH_MEMMAP_START,
	};
	int n = boot_e820_build(req->ram_size, map, ARRAY_SIZE(map));

	if (n < 0)
		return error_set(err, n, "cannot build the e820 map for %ju bytes of RAM",
				 (uintmax_t)req->ram_size);
	for (int i = 0; i < n; i++)
		memmap[i] = (struct pvh_memmap_entry){
			.addr = map[i].addr, .size = map[i].size, .type = map[i].type
		};
	si.memmap_entries = (uint32_t)n;

	if (initrd_size > 0) {
		struct pvh_modlist_entry mod = { .paddr = initrd_addr, .size = initrd_size };

		if (guest_mem_write(mem, PVH_MODLIST_START, &mod, sizeof(mod)) < 0)
			return error_set(err, -EFAULT, "PVH module list is outside guest memory");
		si.nr_modules = 1;
		si.modlist_paddr = PVH_MODLIST_START;
	}
	if (guest_mem_write(mem, PVH_MEMMAP_START, memmap, (size_t)n * sizeof(memmap[0])) < 0 ||
	    guest_mem_write(mem, LAYOUT_PVH_INFO_START, &si, sizeof(si)) < 0)
		return error_set(err, -EFAULT, "PVH start info is outside guest memory");
	return 0;
}

int boot_load_pvh(struct guest_mem *mem, const struct boot_request *req,
		  const struct boot_file *f, struct boot_info *ret, struct error *err)
{
	uint64_t low_end = layout_ram_split(req->ram_size).low_size;
	uint64_t entry = 0, kernel_end = 0, initrd_addr = 0, initrd_size = 0;
	Elf64_Phdr phdrs[PVH_MAX_PHDRS];
	unsigned int n = 0;
	int r;

	_Static_assert(PVH_MODLIST_START + sizeof(struct pvh_modlist_entry) <=
			       LAYOUT_ZERO_PAGE_START, "PVH start info overlaps the zero page");

	r = pvh_read_phdrs(f, phdrs, &n, err);
	if (r < 0)
		return r;
	r = pvh_find_entry(f, phdrs, n, &entry, err);
	if (r < 0)
		return r;
	r = pvh_check_loads(f, phdrs, n, low_end, entry, &kernel_end, err);
	if (r < 0)
		return r;
	r = pvh_load_segments(mem, f, phdrs, n, err);
	if (r < 0)
		return r;

	/* No header field limits it: only the space at LAYOUT_CMDLINE_START does. */
	r = boot_write_cmdline(mem, req->cmdline, LAYOUT_CMDLINE_MAX - 1, err);
	if (r < 0)
		return r;
	r = boot_load_initramfs(mem, req->initramfs_fd, kernel_end, low_end, &initrd_addr,
				&initrd_size, err);
	if (r < 0)
		return r;
	r = pvh_write_start_info(mem, req, initrd_addr, initrd_size, err);
	if (r < 0)
		return r;

	log_debug("vmlinux: PVH entry 0x%jx, kernel end 0x%jx", (uintmax_t)entry,
		  (uintmax_t)kernel_end);
	*ret = (struct boot_info){
		.protocol = BOOT_PROTOCOL_PVH,
		.entry = entry,
		.info_addr = LAYOUT_PVH_INFO_START,
		.kernel_end = kernel_end,
		.initramfs_addr = initrd_addr,
		.initramfs_size = initrd_size,
	};
	return 0;
}
