/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for vmm/boot without a VM: synthetic bzImages and ELF vmlinux
 * files in memfds, loaded into real (MAP_NORESERVE) guest memory, plus the
 * boot CPU state computed by cpu-state.c. Set BOOT_TEST_KERNEL to a real
 * bzImage or vmlinux to also load it into a 512 MiB guest.
 */
#include "boot-internal.h"

#include <elf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "hv/hv.h"

static unsigned int checks, failures;

#define CHECK(cond)                                                            \
	do {                                                                   \
		checks++;                                                      \
		if (!(cond)) {                                                 \
			failures++;                                            \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
		}                                                              \
	} while (0)

#define CHECK_ERR(r, err, text)                                                \
	do {                                                                   \
		CHECK((r) < 0);                                                \
		CHECK(strstr((err).msg, (text)) != NULL);                      \
		if (!strstr((err).msg, (text)))                                \
			fprintf(stderr, "  message was: \"%s\"\n", (err).msg); \
	} while (0)

#define RAM_SMALL (256 * MiB)
#define RAM_SPLIT (5 * GiB) /* 3 GiB low + 2 GiB high */
#define TEST_RSDP 0xe0000
#define PAYLOAD_SIZE (64 * KiB)
#define INITRD_SIZE 100000 /* not page-aligned on purpose */
#define ELF_PADDR 0x1000000
#define ELF_FILESZ 0x3000
#define ELF_MEMSZ 0x5000
#define ELF_DATA_OFF 0x1000

static const char test_cmdline[] = "console=ttyS0 root=/dev/vda rw";

/* ---- helpers ---- */

static int memfd_with(const void *data, size_t len)
{
	int fd = memfd_create("boot-test", MFD_CLOEXEC);

	if (fd < 0) {
		perror("memfd_create");
		exit(1);
	}
	if (len && write(fd, data, len) != (ssize_t)len) {
		perror("write");
		exit(1);
	}
	return fd;
}

static uint8_t pattern(size_t i, unsigned int seed)
{
	return (uint8_t)((i * 131 + seed) ^ (i >> 9));
}

/* Guest memory laid out as the VMM does: low RAM, and above 4 GiB the rest. */
static void mem_setup(struct guest_mem *mem, uint64_t ram)
{
	struct layout_ram split = layout_ram_split(ram);

	guest_mem_init(mem, false);
	if (guest_mem_add_region(mem, 0, split.low_size) < 0 ||
	    (split.high_size &&
	     guest_mem_add_region(mem, LAYOUT_RAM_64BIT_START, split.high_size) < 0)) {
		fprintf(stderr, "cannot map %" PRIu64 " bytes of guest memory\n", ram);
		exit(1);
	}
}

static void *gptr(struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);

	if (!p) {
		fprintf(stderr, "guest range 0x%" PRIx64 "+0x%" PRIx64 " unmapped\n", gpa, len);
		exit(1);
	}
	return p;
}

static int initrd_fd(void)
{
	uint8_t *buf = malloc(INITRD_SIZE);
	int fd;

	for (size_t i = 0; i < INITRD_SIZE; i++)
		buf[i] = pattern(i, 7);
	fd = memfd_with(buf, INITRD_SIZE);
	free(buf);
	return fd;
}

static bool initrd_ok(struct guest_mem *mem, uint64_t addr)
{
	const uint8_t *p = gptr(mem, addr, INITRD_SIZE);

	for (size_t i = 0; i < INITRD_SIZE; i++)
		if (p[i] != pattern(i, 7))
			return false;
	return true;
}

static int load(struct guest_mem *mem, const void *kernel, size_t len, int initrd,
		const char *cmdline, uint64_t ram, struct boot_info *info, struct error *err)
{
	struct boot_request req = {
		.kernel_fd = memfd_with(kernel, len),
		.initramfs_fd = initrd,
		.cmdline = cmdline,
		.ram_size = ram,
		.rsdp_addr = TEST_RSDP,
	};
	int r;

	error_clear(err);
	r = boot_load(mem, &req, info, err);
	close(req.kernel_fd);
	return r;
}

/* ---- e820 ---- */

static void check_e820_small(const struct e820_entry *e, int n)
{
	CHECK(n == 4);
	if (n != 4)
		return;
	CHECK(e[0].addr == 0 && e[0].size == LAYOUT_EBDA_START && e[0].type == E820_RAM);
	CHECK(e[1].addr == LAYOUT_EBDA_START && e[1].size == 0xa0000 - LAYOUT_EBDA_START &&
	      e[1].type == E820_RESERVED);
	CHECK(e[2].addr == 0xe0000 && e[2].size == 0x20000 && e[2].type == E820_RESERVED);
	CHECK(e[3].addr == MiB && e[3].size == RAM_SMALL - MiB && e[3].type == E820_RAM);
}

static void check_e820_split(const struct e820_entry *e, int n)
{
	CHECK(n == 5);
	if (n != 5)
		return;
	CHECK(e[3].addr == MiB && e[3].size == 3 * GiB - MiB && e[3].type == E820_RAM);
	CHECK(e[4].addr == 4 * GiB && e[4].size == 2 * GiB && e[4].type == E820_RAM);
}

static void test_e820(void)
{
	struct e820_entry e[E820_MAX_ENTRIES];

	check_e820_small(e, boot_e820_build(RAM_SMALL, e, ARRAY_SIZE(e)));
	check_e820_split(e, boot_e820_build(RAM_SPLIT, e, ARRAY_SIZE(e)));
	CHECK(boot_e820_build(MiB, e, ARRAY_SIZE(e)) == -EINVAL);
	CHECK(boot_e820_build(RAM_SPLIT, e, 4) == -ENOSPC);
	CHECK(boot_e820_build(UINT64_MAX, e, ARRAY_SIZE(e)) == -EINVAL);
}

/* ---- bzImage ---- */

struct bz_opts {
	uint16_t version;
	uint16_t xloadflags;
	uint8_t setup_sects;
	uint32_t init_size;
};

static const struct bz_opts bz_default = { .version = 0x020f, .xloadflags = 1, .setup_sects = 4 };

/* A bzImage: boot sector + setup sectors with a setup header, then payload. */
static uint8_t *bz_build(const struct bz_opts *o, size_t *ret_len)
{
	size_t setup = (size_t)(o->setup_sects + 1) * BZ_SECTOR_SIZE;
	size_t len = setup + PAYLOAD_SIZE;
	uint8_t *img = calloc(1, len);
	struct bz_setup_header h = {
		.setup_sects = o->setup_sects,
		.boot_flag = BZ_BOOT_FLAG,
		.jump = 0xeb | (0x6a << 8), /* jmp over the header to 0x26c */
		.header = BZ_HDRS_MAGIC,
		.version = o->version,
		.loadflags = BZ_LOADED_HIGH,
		.initrd_addr_max = 0x7fffffff,
		.kernel_alignment = 0x200000,
		.relocatable_kernel = 1,
		.xloadflags = o->xloadflags,
		.cmdline_size = 2047,
		.pref_address = 0x1000000,
		.init_size = o->init_size,
	};

	memcpy(img + BZ_SETUP_HEADER_OFFSET, &h, sizeof(h));
	for (size_t i = 0; i < PAYLOAD_SIZE; i++)
		img[setup + i] = pattern(i, 3);
	*ret_len = len;
	return img;
}

static void check_zero_page(struct guest_mem *mem, const struct boot_info *info, uint64_t ram)
{
	const struct bz_boot_params *bp = gptr(mem, LAYOUT_ZERO_PAGE_START, sizeof(*bp));
	struct e820_entry e[E820_MAX_ENTRIES];
	uint64_t limit = MIN((uint64_t)0x80000000, layout_ram_split(ram).low_size);
	const uint8_t *code = gptr(mem, LAYOUT_HIMEM_START, PAYLOAD_SIZE);
	bool code_ok = true;

	for (size_t i = 0; i < PAYLOAD_SIZE; i++)
		code_ok &= code[i] == pattern(i, 3);
	CHECK(code_ok);

	CHECK(info->protocol == BOOT_PROTOCOL_LINUX64);
	CHECK(info->entry == LAYOUT_HIMEM_START + 0x200);
	CHECK(info->info_addr == LAYOUT_ZERO_PAGE_START);
	CHECK(info->kernel_end == LAYOUT_HIMEM_START + PAYLOAD_SIZE);

	CHECK(bp->hdr.boot_flag == BZ_BOOT_FLAG && bp->hdr.header == BZ_HDRS_MAGIC);
	CHECK(bp->hdr.version == 0x020f && bp->hdr.setup_sects == 4);
	CHECK(bp->hdr.type_of_loader == 0xff);
	CHECK(bp->hdr.loadflags == (BZ_LOADED_HIGH | BZ_CAN_USE_HEAP));
	CHECK(bp->hdr.heap_end_ptr == 0xfe00 && bp->hdr.vid_mode == 0xffff);
	CHECK(bp->hdr.cmd_line_ptr == LAYOUT_CMDLINE_START);
	CHECK(strcmp(gptr(mem, LAYOUT_CMDLINE_START, sizeof(test_cmdline)), test_cmdline) == 0);

	CHECK(bp->hdr.ramdisk_image == info->initramfs_addr);
	CHECK(bp->hdr.ramdisk_size == INITRD_SIZE && info->initramfs_size == INITRD_SIZE);
	CHECK(IS_ALIGNED(info->initramfs_addr, 4096));
	CHECK(info->initramfs_addr + INITRD_SIZE <= limit);
	CHECK(info->initramfs_addr + INITRD_SIZE + 4096 > limit); /* as high as it goes */
	CHECK(info->initramfs_addr >= info->kernel_end);
	CHECK(initrd_ok(mem, info->initramfs_addr));

	CHECK(bp->acpi_rsdp_addr == TEST_RSDP);
	CHECK(bp->e820_entries == boot_e820_build(ram, e, ARRAY_SIZE(e)));
	for (unsigned int i = 0; i < bp->e820_entries && i < ARRAY_SIZE(e); i++)
		CHECK(bp->e820_table[i].addr == e[i].addr && bp->e820_table[i].size == e[i].size &&
		      bp->e820_table[i].type == e[i].type);
	CHECK(bp->e820_entries == (ram > 3 * GiB ? 5 : 4));
}

static void test_bzimage_ok(uint64_t ram)
{
	struct guest_mem mem;
	struct boot_info info = { 0 };
	struct error err;
	size_t len;
	uint8_t *img = bz_build(&bz_default, &len);
	int fd = initrd_fd();
	int r;

	mem_setup(&mem, ram);
	r = load(&mem, img, len, fd, test_cmdline, ram, &info, &err);
	CHECK(r == 0);
	if (r < 0)
		fprintf(stderr, "  bzImage load failed: %s\n", err.msg);
	else
		check_zero_page(&mem, &info, ram);
	close(fd);
	free(img);
	guest_mem_destroy(&mem);
}

static void test_bzimage_errors(void)
{
	struct boot_info info;
	struct guest_mem mem;
	struct error err;
	struct bz_opts o;
	char *long_cmdline;
	uint8_t junk[8192];
	uint8_t *img;
	size_t len;
	int fd;

	mem_setup(&mem, RAM_SMALL);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = pattern(i, 11);
	CHECK_ERR(load(&mem, junk, sizeof(junk), -1, NULL, RAM_SMALL, &info, &err), err,
		  "not a bzImage or an ELF vmlinux");
	CHECK_ERR(load(&mem, junk, 0, -1, NULL, RAM_SMALL, &info, &err), err,
		  "not a bzImage or an ELF vmlinux");

	o = bz_default;
	o.version = 0x0200;
	img = bz_build(&o, &len);
	CHECK_ERR(load(&mem, img, len, -1, NULL, RAM_SMALL, &info, &err), err, "too old");
	free(img);

	o = bz_default;
	o.xloadflags = 0;
	img = bz_build(&o, &len);
	CHECK_ERR(load(&mem, img, len, -1, NULL, RAM_SMALL, &info, &err), err, "64-bit");
	free(img);

	/* Cut inside the setup sectors, then inside the header itself. */
	img = bz_build(&bz_default, &len);
	CHECK_ERR(load(&mem, img, 0x300, -1, NULL, RAM_SMALL, &info, &err), err,
		  "past the end of the file");
	CHECK_ERR(load(&mem, img, 0x220, -1, NULL, RAM_SMALL, &info, &err), err,
		  "not a bzImage or an ELF vmlinux");

	long_cmdline = malloc(3001);
	memset(long_cmdline, 'a', 3000);
	long_cmdline[3000] = '\0';
	CHECK_ERR(load(&mem, img, len, -1, long_cmdline, RAM_SMALL, &info, &err), err,
		  "command line too long (3000 > 2047 bytes)");
	free(long_cmdline);

	/* A sparse 300 MiB initramfs cannot fit in 256 MiB. */
	fd = memfd_create("boot-test-initrd", MFD_CLOEXEC);
	CHECK(fd >= 0 && ftruncate(fd, 300 * MiB) == 0);
	CHECK_ERR(load(&mem, img, len, fd, NULL, RAM_SMALL, &info, &err), err, "does not fit");
	close(fd);
	free(img);

	o = bz_default;
	o.setup_sects = 200;
	img = bz_build(&o, &len);
	CHECK_ERR(load(&mem, img, 8192, -1, NULL, RAM_SMALL, &info, &err), err,
		  "past the end of the file");
	free(img);

	o = bz_default;
	o.init_size = 0xfff00000;
	img = bz_build(&o, &len);
	CHECK_ERR(load(&mem, img, len, -1, NULL, RAM_SMALL, &info, &err), err,
		  "RAM below 4 GiB ends");
	free(img);

	guest_mem_destroy(&mem);
}

/* ---- ELF / PVH ---- */

struct elf_opts {
	uint32_t note_type;
	uint64_t phoff;
	uint16_t phnum;
	uint64_t paddr;
	uint64_t filesz;
	uint32_t entry;
};

static const struct elf_opts elf_default = {
	.note_type = PVH_XEN_ELFNOTE_PHYS32_ENTRY,
	.phoff = sizeof(Elf64_Ehdr),
	.phnum = 2,
	.paddr = ELF_PADDR,
	.filesz = ELF_FILESZ,
	.entry = ELF_PADDR,
};

/* Notes: a GNU build-id first (must be skipped), then Xen's PHYS32_ENTRY. */
static size_t elf_notes(uint8_t *p, const struct elf_opts *o)
{
	Elf64_Nhdr gnu = { .n_namesz = 4, .n_descsz = 20, .n_type = NT_GNU_BUILD_ID };
	Elf64_Nhdr xen = { .n_namesz = 4, .n_descsz = 4, .n_type = o->note_type };
	size_t n = 0;

	memcpy(p + n, &gnu, sizeof(gnu));
	memcpy(p + n + sizeof(gnu), "GNU", 4);
	n += sizeof(gnu) + 4 + 20;
	memcpy(p + n, &xen, sizeof(xen));
	memcpy(p + n + sizeof(xen), "Xen", 4);
	memcpy(p + n + sizeof(xen) + 4, &o->entry, 4);
	return n + sizeof(xen) + 8;
}

static uint8_t *elf_build(const struct elf_opts *o, size_t *ret_len)
{
	size_t len = ELF_DATA_OFF + ELF_FILESZ;
	uint8_t *img = calloc(1, len);
	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC,
		.e_machine = EM_X86_64,
		.e_version = EV_CURRENT,
		.e_entry = 0xffffffff81000000,
		.e_phoff = o->phoff,
		.e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr),
		.e_phnum = o->phnum,
	};
	Elf64_Phdr ph[2] = {
		{ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = ELF_DATA_OFF,
		  .p_vaddr = 0xffffffff81000000, .p_paddr = o->paddr, .p_filesz = o->filesz,
		  .p_memsz = ELF_MEMSZ, .p_align = 0x200000 },
		{ .p_type = PT_NOTE, .p_flags = PF_R, .p_offset = 0x200, .p_align = 4 },
	};

	ph[1].p_filesz = elf_notes(img + 0x200, o);
	memcpy(img, &eh, sizeof(eh));
	memcpy(img + sizeof(eh), ph, sizeof(ph));
	for (size_t i = 0; i < ELF_FILESZ; i++)
		img[ELF_DATA_OFF + i] = pattern(i, 5);
	*ret_len = len;
	return img;
}

static void check_start_info(struct guest_mem *mem, const struct boot_info *info, uint64_t ram)
{
	const struct pvh_start_info *si = gptr(mem, LAYOUT_PVH_INFO_START, sizeof(*si));
	const uint8_t *seg = gptr(mem, ELF_PADDR, ELF_MEMSZ);
	const struct pvh_modlist_entry *mod;
	const struct pvh_memmap_entry *mm;
	struct e820_entry e[E820_MAX_ENTRIES];
	int n = boot_e820_build(ram, e, ARRAY_SIZE(e));
	bool seg_ok = true;

	for (size_t i = 0; i < ELF_MEMSZ; i++)
		seg_ok &= seg[i] == (i < ELF_FILESZ ? pattern(i, 5) : 0);
	CHECK(seg_ok);

	CHECK(info->protocol == BOOT_PROTOCOL_PVH);
	CHECK(info->entry == ELF_PADDR);
	CHECK(info->info_addr == LAYOUT_PVH_INFO_START);
	CHECK(info->kernel_end == ELF_PADDR + ELF_MEMSZ);

	CHECK(si->magic == 0x336ec578 && si->version == 1);
	CHECK(si->cmdline_paddr == LAYOUT_CMDLINE_START);
	CHECK(strcmp(gptr(mem, LAYOUT_CMDLINE_START, sizeof(test_cmdline)), test_cmdline) == 0);
	CHECK(si->rsdp_paddr == TEST_RSDP);
	CHECK(si->nr_modules == 1);
	mod = gptr(mem, si->modlist_paddr, sizeof(*mod));
	CHECK(mod->paddr == info->initramfs_addr && mod->size == INITRD_SIZE);
	CHECK(mod->cmdline_paddr == 0);
	CHECK(IS_ALIGNED(mod->paddr, 4096) && mod->paddr >= info->kernel_end);
	CHECK(mod->paddr + INITRD_SIZE <= layout_ram_split(ram).low_size);
	CHECK(mod->paddr + INITRD_SIZE + 4096 > layout_ram_split(ram).low_size);
	CHECK(initrd_ok(mem, mod->paddr));

	CHECK(n > 0 && si->memmap_entries == (uint32_t)n);
	mm = gptr(mem, si->memmap_paddr, (uint64_t)n * sizeof(*mm));
	for (int i = 0; i < n; i++)
		CHECK(mm[i].addr == e[i].addr && mm[i].size == e[i].size && mm[i].type == e[i].type);
}

static void test_pvh_ok(uint64_t ram)
{
	struct boot_info info = { 0 };
	struct guest_mem mem;
	struct error err;
	size_t len;
	uint8_t *img = elf_build(&elf_default, &len);
	int fd = initrd_fd();
	int r;

	mem_setup(&mem, ram);
	/* Leftovers where the bss goes must be cleared by the loader. */
	memset(gptr(&mem, ELF_PADDR, ELF_MEMSZ), 0xcc, ELF_MEMSZ);
	r = load(&mem, img, len, fd, test_cmdline, ram, &info, &err);
	CHECK(r == 0);
	if (r < 0)
		fprintf(stderr, "  ELF load failed: %s\n", err.msg);
	else
		check_start_info(&mem, &info, ram);
	close(fd);
	free(img);
	guest_mem_destroy(&mem);
}

static void elf_expect_error(struct guest_mem *mem, const struct elf_opts *o, const char *text)
{
	struct boot_info info;
	struct error err;
	size_t len;
	uint8_t *img = elf_build(o, &len);

	CHECK_ERR(load(mem, img, len, -1, NULL, RAM_SMALL, &info, &err), err, text);
	free(img);
}

static void test_pvh_errors(void)
{
	struct guest_mem mem;
	struct elf_opts o;

	mem_setup(&mem, RAM_SMALL);
	o = elf_default;
	o.note_type = 17;
	elf_expect_error(&mem, &o, "ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
	o = elf_default;
	o.phoff = 0x100000;
	elf_expect_error(&mem, &o, "beyond the end of the file");
	o = elf_default;
	o.phoff = UINT64_MAX - 8;
	elf_expect_error(&mem, &o, "beyond the end of the file");
	o = elf_default;
	o.phnum = 0xffff;
	elf_expect_error(&mem, &o, "program headers");
	o = elf_default;
	o.paddr = 512 * MiB;
	elf_expect_error(&mem, &o, "outside guest RAM");
	o = elf_default;
	o.paddr = UINT64_MAX - 0x1000;
	elf_expect_error(&mem, &o, "outside guest RAM");
	o = elf_default;
	o.paddr = 0x8000; /* over the boot structures */
	elf_expect_error(&mem, &o, "outside guest RAM");
	o = elf_default;
	o.filesz = 0x100000;
	elf_expect_error(&mem, &o, "beyond the end of the file");
	o = elf_default;
	o.entry = 0x2000000;
	elf_expect_error(&mem, &o, "not in a loaded segment");
	guest_mem_destroy(&mem);
}

/* ---- boot CPU state ---- */

static void test_gdt(void)
{
	uint64_t g[BOOT_GDT_ENTRIES];
	struct hv_segment s;

	boot_gdt_table(BOOT_PROTOCOL_LINUX64, g);
	CHECK(g[0] == 0 && g[1] == 0x00af9b000000ffffULL && g[2] == 0x00cf93000000ffffULL &&
	      g[3] == 0x008f8b000000ffffULL);
	boot_segment_from_gdt(g[1], 0x08, &s);
	CHECK(s.base == 0 && s.limit == 0xffffffff && s.selector == 0x08 && s.type == 0xb);
	CHECK(s.present == 1 && s.dpl == 0 && s.db == 0 && s.s == 1 && s.l == 1 && s.g == 1);
	CHECK(s.unusable == 0);
	boot_segment_from_gdt(g[2], 0x10, &s);
	CHECK(s.type == 3 && s.db == 1 && s.l == 0 && s.s == 1 && s.limit == 0xffffffff);
	boot_segment_from_gdt(g[3], 0x18, &s);
	CHECK(s.type == 0xb && s.s == 0 && s.present == 1 && s.limit == 0xffffffff);

	boot_gdt_table(BOOT_PROTOCOL_PVH, g);
	CHECK(g[1] == 0x00cf9b000000ffffULL && g[2] == 0x00cf93000000ffffULL &&
	      g[3] == 0x00008b0000000067ULL);
	boot_segment_from_gdt(g[1], 0x08, &s);
	CHECK(s.l == 0 && s.db == 1 && s.type == 0xb && s.limit == 0xffffffff);
	boot_segment_from_gdt(g[3], 0x18, &s);
	CHECK(s.limit == 0x67 && s.g == 0 && s.type == 0xb);
	boot_segment_from_gdt(0, 0, &s);
	CHECK(s.unusable == 1);
	/* Base bits are scattered over the descriptor. */
	boot_segment_from_gdt(0x12cf93345678ffffULL, 0x10, &s);
	CHECK(s.base == 0x12345678);
}

static void test_cpu_state(void)
{
	struct boot_info info = { .protocol = BOOT_PROTOCOL_LINUX64, .entry = 0x100200,
				  .info_addr = LAYOUT_ZERO_PAGE_START };
	struct hv_sregs sr = { .apic_base = 0xfee00900, .cr0 = 0x60000010 };
	const uint64_t *pml4, *pdpt, *pd;
	struct guest_mem mem;
	struct hv_regs regs;

	mem_setup(&mem, RAM_SMALL);
	CHECK(boot_cpu_sregs(&mem, &info, &sr) == 0);
	CHECK(sr.cr3 == LAYOUT_PML4_START && (sr.cr4 & 0x20));
	CHECK((sr.cr0 & 0x80000011) == 0x80000011);
	CHECK(sr.efer == 0x500 && sr.apic_base == 0xfee00900);
	CHECK(sr.gdt.base == LAYOUT_GDT_START && sr.gdt.limit == 31);
	CHECK(sr.idt.base == LAYOUT_IDT_START && sr.idt.limit == 0);
	CHECK(sr.cs.selector == 0x08 && sr.cs.l == 1 && sr.ss.selector == 0x10 &&
	      sr.gs.selector == 0x10 && sr.tr.selector == 0x18);
	CHECK(*(uint64_t *)gptr(&mem, LAYOUT_GDT_START + 8, 8) == 0x00af9b000000ffffULL);

	pml4 = gptr(&mem, LAYOUT_PML4_START, 4096);
	pdpt = gptr(&mem, LAYOUT_PDPT_START, 4096);
	CHECK(pml4[0] == (LAYOUT_PDPT_START | 3) && pml4[1] == 0);
	for (unsigned int i = 0; i < 4; i++)
		CHECK(pdpt[i] == ((LAYOUT_PD_START + i * 4096) | 3));
	CHECK(pdpt[4] == 0);
	pd = gptr(&mem, LAYOUT_PD_START, 4 * 4096);
	CHECK(pd[0] == 0x83 && pd[1] == 0x200083);
	CHECK(pd[4 * 512 - 1] == (0xffe00000 | 0x83));

	boot_cpu_regs(&info, &regs);
	CHECK(regs.rip == 0x100200 && regs.rflags == 2 && regs.rsi == LAYOUT_ZERO_PAGE_START);
	CHECK(regs.rsp == LAYOUT_BOOT_STACK_TOP && regs.rbp == LAYOUT_BOOT_STACK_TOP);

	info = (struct boot_info){ .protocol = BOOT_PROTOCOL_PVH, .entry = ELF_PADDR,
				   .info_addr = LAYOUT_PVH_INFO_START };
	sr = (struct hv_sregs){ .apic_base = 0xfee00900, .cr0 = 0x60000010, .efer = 0x500 };
	CHECK(boot_cpu_sregs(&mem, &info, &sr) == 0);
	CHECK(sr.cr0 == 0x11 && sr.cr4 == 0 && sr.efer == 0 && sr.apic_base == 0xfee00900);
	CHECK(sr.cs.db == 1 && sr.cs.l == 0 && sr.ds.type == 3);
	boot_cpu_regs(&info, &regs);
	CHECK(regs.rip == ELF_PADDR && regs.rbx == LAYOUT_PVH_INFO_START && regs.rflags == 2);
	guest_mem_destroy(&mem);
}

/* An optional real kernel: BOOT_TEST_KERNEL=/boot/vmlinuz-... boot-test */
static void test_real_kernel(void)
{
	const char *path = getenv("BOOT_TEST_KERNEL");
	struct boot_request req = { .initramfs_fd = -1, .cmdline = "console=ttyS0",
				    .ram_size = 512 * MiB, .rsdp_addr = TEST_RSDP };
	struct boot_info info;
	struct guest_mem mem;
	struct error err = { 0 };
	int r;

	if (!path)
		return;
	req.kernel_fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(req.kernel_fd >= 0);
	if (req.kernel_fd < 0)
		return;
	mem_setup(&mem, req.ram_size);
	r = boot_load(&mem, &req, &info, &err);
	CHECK(r == 0);
	if (r < 0)
		fprintf(stderr, "  %s: %s\n", path, err.msg);
	else
		printf("boot-test: %s: %s, entry 0x%" PRIx64 ", kernel end 0x%" PRIx64 "\n", path,
		       boot_protocol_to_string(info.protocol), info.entry, info.kernel_end);
	close(req.kernel_fd);
	guest_mem_destroy(&mem);
}

int main(void)
{
	test_e820();
	test_bzimage_ok(RAM_SMALL);
	test_bzimage_ok(RAM_SPLIT);
	test_bzimage_errors();
	test_pvh_ok(RAM_SMALL);
	test_pvh_ok(RAM_SPLIT);
	test_pvh_errors();
	test_gdt();
	test_cpu_state();
	test_real_kernel();

	printf("boot-test: %u checks, %u failed\n", checks, failures);
	return failures ? 1 : 0;
}
