/* SPDX-License-Identifier: Apache-2.0 */

#include "common/guest-mem.h"

#include <string.h>
#include <sys/mman.h>

void guest_mem_init(struct guest_mem *mem, bool shared)
{
	memset(mem, 0, sizeof(*mem));
	mem->shared = shared;
	mem->memfd = -1;
}

static bool region_overlaps(const struct guest_mem *mem, uint64_t gpa, uint64_t size)
{
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];

		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return true;
	}
	return false;
}

/*
 * Map guest RAM 2 MiB-aligned and ask for transparent huge pages, as QEMU
 * and Cloud Hypervisor do: the guest's first touch of each 2 MiB then costs
 * one fault instead of 512 (boot time), and the TLB reach grows.
 */
#define GUEST_MEM_ALIGN (2 * MiB)

static void *map_aligned(uint64_t size, int prot, int flags, int fd, off_t offset)
{
	uint8_t *raw, *aligned;
	size_t head, tail;

	raw = mmap(NULL, size + GUEST_MEM_ALIGN, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return MAP_FAILED;
	aligned = (uint8_t *)ALIGN_UP((uintptr_t)raw, GUEST_MEM_ALIGN);
	head = (size_t)(aligned - raw);
	tail = GUEST_MEM_ALIGN - head;
	if (head)
		munmap(raw, head);
	if (tail)
		munmap(aligned + size, tail);
	/* MAP_FIXED over our own reservation: nothing else can be there. */
	if (mmap(aligned, size, prot, flags | MAP_FIXED, fd, offset) == MAP_FAILED) {
		int saved = errno;

		munmap(aligned, size);
		errno = saved;
		return MAP_FAILED;
	}
	(void)madvise(aligned, size, MADV_HUGEPAGE);
	return aligned;
}

static int region_check(const struct guest_mem *mem, uint64_t gpa, uint64_t size)
{
	if (mem->nr_regions >= GUEST_MEM_MAX_REGIONS)
		return -ENOSPC;
	if (size == 0 || !range_ok(gpa, size) || !IS_ALIGNED(gpa | size, 4096))
		return -EINVAL;
	if (region_overlaps(mem, gpa, size))
		return -EEXIST;
	return 0;
}

int guest_mem_add_region(struct guest_mem *mem, uint64_t gpa, uint64_t size)
{
	struct guest_region *r;
	uint64_t offset = 0;
	void *hva;
	int fd = -1;
	int ret;

	ret = region_check(mem, gpa, size);
	if (ret < 0)
		return ret;

	if (mem->shared) {
		if (mem->memfd < 0) {
			mem->memfd = memfd_create("nacelle-guest-ram", MFD_CLOEXEC);
			if (mem->memfd < 0)
				return -errno;
		}
		offset = mem->memfd_size;
		if (ftruncate(mem->memfd, (off_t)(offset + size)) < 0)
			return -errno;
		fd = mem->memfd;
		hva = map_aligned(size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd,
				  (off_t)offset);
	} else {
		hva = map_aligned(size, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	}
	if (hva == MAP_FAILED)
		return -errno;
	/* Guest RAM must not end up in a core dump of the VMM. */
	(void)madvise(hva, size, MADV_DONTDUMP);

	if (mem->shared)
		mem->memfd_size += size;
	r = &mem->regions[mem->nr_regions++];
	r->gpa = gpa;
	r->size = size;
	r->hva = hva;
	r->fd = fd;
	r->fd_offset = offset;
	return 0;
}

int guest_mem_add_buffer(struct guest_mem *mem, uint64_t gpa, void *buf, uint64_t size)
{
	struct guest_region *r;

	if (mem->nr_regions >= GUEST_MEM_MAX_REGIONS)
		return -ENOSPC;
	if (size == 0 || !range_ok(gpa, size) || region_overlaps(mem, gpa, size))
		return -EINVAL;
	r = &mem->regions[mem->nr_regions++];
	r->gpa = gpa;
	r->size = size;
	r->hva = buf;
	r->fd = -2; /* borrowed: never unmapped */
	r->fd_offset = 0;
	return 0;
}

void guest_mem_destroy(struct guest_mem *mem)
{
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		struct guest_region *r = &mem->regions[i];

		if (r->fd != -2 && r->hva)
			munmap(r->hva, r->size);
	}
	if (mem->memfd >= 0)
		close(mem->memfd);
	guest_mem_init(mem, mem->shared);
}

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	if (!range_ok(gpa, len))
		return NULL;
	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];

		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		/* gpa is inside r; the whole range must be too */
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *buf, size_t len)
{
	const void *p = guest_mem_ptr(mem, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *buf, size_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	return 0;
}

uint64_t guest_mem_total(const struct guest_mem *mem)
{
	uint64_t total = 0;

	for (unsigned int i = 0; i < mem->nr_regions; i++)
		total += mem->regions[i].size;
	return total;
}

bool guest_mem_contains_hva(const struct guest_mem *mem, const void *hva)
{
	const uint8_t *p = hva;

	for (unsigned int i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->regions[i];

		if (p >= r->hva && p < r->hva + r->size)
			return true;
	}
	return false;
}
