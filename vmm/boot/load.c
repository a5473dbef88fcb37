/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel loading entry point: detect the image kind from its contents and
 * hand over to the bzImage or PVH loader, plus the file, command-line and
 * initramfs helpers both share. Every size and offset comes from a file the
 * user supplied, so each is checked against the file and guest memory.
 */
#include "boot-internal.h"

#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"

const char *boot_protocol_to_string(enum boot_protocol p)
{
	static const char *const names[] = {
		[BOOT_PROTOCOL_LINUX64] = "linux64",
		[BOOT_PROTOCOL_PVH] = "pvh",
	};

	if ((unsigned int)p >= ARRAY_SIZE(names) || !names[p])
		return "unknown";
	return names[p];
}

int boot_pread_full(int fd, uint64_t off, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* the file shrank under us */
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int file_size(int fd, const char *what, uint64_t *ret, struct error *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		int e = errno;

		return error_set(err, -e, "cannot stat %s: %s", what, strerror(e));
	}
	if (!S_ISREG(st.st_mode))
		return error_set(err, -EINVAL, "%s is not a regular file", what);
	if (st.st_size < 0 || (uint64_t)st.st_size > BOOT_FILE_MAX)
		return error_set(err, -EFBIG, "%s is too large (%jd bytes)", what,
				 (intmax_t)st.st_size);
	*ret = (uint64_t)st.st_size;
	return 0;
}

int boot_copy_to_guest(struct guest_mem *mem, const struct boot_file *f, uint64_t off,
		       uint64_t len, uint64_t gpa, struct error *err)
{
	void *dst;
	int r;

	if (!range_ok(off, len) || off + len > f->size)
		return error_set(err, -EINVAL,
				 "file range [0x%jx, +0x%jx) is beyond its end (0x%jx bytes)",
				 (uintmax_t)off, (uintmax_t)len, (uintmax_t)f->size);
	if (len == 0)
		return 0;
	dst = guest_mem_ptr(mem, gpa, len);
	if (!dst)
		return error_set(err, -EFAULT,
				 "[0x%jx, +0x%jx) is outside guest memory",
				 (uintmax_t)gpa, (uintmax_t)len);
	/* Read straight into guest RAM: kernels and initramfs can be large. */
	r = boot_pread_full(f->fd, off, dst, len);
	if (r < 0)
		return error_set(err, r, "reading 0x%jx bytes at offset 0x%jx: %s",
				 (uintmax_t)len, (uintmax_t)off, strerror(-r));
	return 0;
}

int boot_zero_guest(struct guest_mem *mem, uint64_t gpa, uint64_t len, struct error *err)
{
	void *dst;

	if (len == 0)
		return 0;
	dst = guest_mem_ptr(mem, gpa, len);
	if (!dst)
		return error_set(err, -EFAULT, "[0x%jx, +0x%jx) is outside guest memory",
				 (uintmax_t)gpa, (uintmax_t)len);
	memset(dst, 0, len);
	return 0;
}

int boot_write_cmdline(struct guest_mem *mem, const char *cmdline, uint64_t max,
		       struct error *err)
{
	size_t len = cmdline ? strlen(cmdline) : 0;

	max = MIN(max, (uint64_t)LAYOUT_CMDLINE_MAX - 1);
	if (len > max)
		return error_set(err, -E2BIG, "command line too long (%zu > %ju bytes)", len,
				 (uintmax_t)max);
	if (guest_mem_write(mem, LAYOUT_CMDLINE_START, cmdline ? cmdline : "", len + 1) < 0)
		return error_set(err, -EFAULT, "command line area 0x%x is outside guest memory",
				 LAYOUT_CMDLINE_START);
	return 0;
}

int boot_load_initramfs(struct guest_mem *mem, int fd, uint64_t floor, uint64_t limit,
			uint64_t *ret_addr, uint64_t *ret_size, struct error *err)
{
	struct boot_file f = { .fd = fd };
	uint64_t addr;
	int r;

	if (fd < 0) {
		*ret_addr = *ret_size = 0;
		return 0;
	}
	r = file_size(fd, "initramfs", &f.size, err);
	if (r < 0)
		return r;
	if (f.size == 0) {
		*ret_addr = *ret_size = 0;
		return 0;
	}
	floor = ALIGN_UP(floor, 4096);
	if (limit < floor || limit - floor < f.size)
		return error_set(err, -ENOSPC,
				 "initramfs (%ju bytes) does not fit between the kernel end 0x%jx and 0x%jx",
				 (uintmax_t)f.size, (uintmax_t)floor, (uintmax_t)limit);
	addr = ALIGN_DOWN(limit - f.size, 4096);
	r = boot_copy_to_guest(mem, &f, 0, f.size, addr, err);
	if (r < 0)
		return error_wrap(err, "loading initramfs");
	log_debug("initramfs: %ju bytes at 0x%jx", (uintmax_t)f.size, (uintmax_t)addr);
	*ret_addr = addr;
	*ret_size = f.size;
	return 0;
}

static bool is_bzimage(const uint8_t *head, size_t len)
{
	uint16_t flag;
	uint32_t magic;

	if (len < BZ_SETUP_HEADER_OFFSET + sizeof(struct bz_setup_header))
		return false;
	memcpy(&flag, head + 0x1fe, sizeof(flag));
	memcpy(&magic, head + 0x202, sizeof(magic));
	return flag == BZ_BOOT_FLAG && magic == BZ_HDRS_MAGIC;
}

static bool is_elf64_x86(const uint8_t *head, size_t len)
{
	Elf64_Ehdr eh;

	if (len < sizeof(eh))
		return false;
	memcpy(&eh, head, sizeof(eh));
	return memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
	       eh.e_ident[EI_DATA] == ELFDATA2LSB && eh.e_machine == EM_X86_64;
}

int boot_load(struct guest_mem *mem, const struct boot_request *req, struct boot_info *ret,
	      struct error *err)
{
	uint8_t head[BZ_SETUP_HEADER_OFFSET + sizeof(struct bz_setup_header)];
	struct boot_info info = { 0 };
	struct boot_file f;
	size_t head_len;
	int r;

	if (!mem || !req || !ret || req->kernel_fd < 0)
		return error_set(err, -EINVAL, "no kernel given");
	f.fd = req->kernel_fd;
	r = file_size(f.fd, "kernel", &f.size, err);
	if (r < 0)
		return r;

	head_len = (size_t)MIN(f.size, (uint64_t)sizeof(head));
	r = boot_pread_full(f.fd, 0, head, head_len);
	if (r < 0)
		return error_set(err, r, "reading kernel: %s", strerror(-r));

	if (is_bzimage(head, head_len))
		r = boot_load_bzimage(mem, req, &f, &info, err);
	else if (is_elf64_x86(head, head_len))
		r = boot_load_pvh(mem, req, &f, &info, err);
	else
		r = error_set(err, -ENOEXEC, "not a bzImage or an ELF vmlinux");
	if (r < 0)
		return r;

	log_debug("kernel loaded (%s): entry 0x%jx, info 0x%jx, end 0x%jx",
		  boot_protocol_to_string(info.protocol), (uintmax_t)info.entry,
		  (uintmax_t)info.info_addr, (uintmax_t)info.kernel_end);
	*ret = info;
	return 0;
}
