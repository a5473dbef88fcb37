/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel loaders (bzImage setup header, ELF program headers and PVH
 * notes) on arbitrary files: the input is the kernel image, loaded into a
 * 64 MiB guest with an initramfs and a command line. Must never crash, read
 * or write outside the file or guest memory, or hang.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/guest-mem.h"
#include "vmm/boot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem mem;
	static int kernel_fd = -1, initrd_fd = -1;
	struct boot_request req = {
		.cmdline = "console=ttyS0 panic=-1",
		.ram_size = 64 * MiB,
		.rsdp_addr = 0xe0000,
	};
	struct boot_info info;
	struct error err = { 0 };

	if (kernel_fd < 0) {
		guest_mem_init(&mem, false);
		if (guest_mem_add_region(&mem, 0, 64 * MiB) < 0)
			abort();
		kernel_fd = memfd_create("kernel", MFD_CLOEXEC);
		initrd_fd = memfd_create("initrd", MFD_CLOEXEC);
		if (kernel_fd < 0 || initrd_fd < 0 || ftruncate(initrd_fd, 4096) < 0)
			abort();
	}
	if (ftruncate(kernel_fd, 0) < 0 || pwrite(kernel_fd, data, size, 0) != (ssize_t)size)
		abort();
	req.kernel_fd = kernel_fd;
	req.initramfs_fd = (size & 1) ? initrd_fd : -1;
	(void)!boot_load(&mem, &req, &info, &err);
	return 0;
}
