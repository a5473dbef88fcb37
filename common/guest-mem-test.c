/* SPDX-License-Identifier: Apache-2.0 */
/* Bounds checks of guest memory access: the guest picks these numbers. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "common/guest-mem.h"

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #c);                                 \
			return 1;                                              \
		}                                                              \
	} while (0)

static int test_regions(bool shared)
{
	struct guest_mem mem;
	uint8_t buf[16] = { 1, 2, 3 };
	uint8_t out[16];

	guest_mem_init(&mem, shared);
	CHECK(guest_mem_add_region(&mem, 0, 1 * MiB) == 0);
	CHECK(guest_mem_add_region(&mem, 4 * GiB, 1 * MiB) == 0);
	CHECK(guest_mem_add_region(&mem, 512 * KiB, 1 * MiB) == -EEXIST);
	CHECK(guest_mem_add_region(&mem, 8 * GiB, 0) == -EINVAL);
	CHECK(guest_mem_add_region(&mem, UINT64_MAX - 4095, 8192) == -EINVAL);
	CHECK(guest_mem_total(&mem) == 2 * MiB);

	CHECK(guest_mem_ptr(&mem, 0, 1 * MiB) != NULL);
	CHECK(guest_mem_ptr(&mem, 1, 1 * MiB) == NULL); /* runs past the end */
	CHECK(guest_mem_ptr(&mem, 1 * MiB, 1) == NULL); /* hole */
	CHECK(guest_mem_ptr(&mem, 4 * GiB + 1 * MiB - 1, 1) != NULL);
	CHECK(guest_mem_ptr(&mem, UINT64_MAX, 2) == NULL); /* wraps */
	CHECK(guest_mem_ptr(&mem, 16, UINT64_MAX) == NULL);

	CHECK(guest_mem_write(&mem, 4 * GiB + 100, buf, sizeof(buf)) == 0);
	CHECK(guest_mem_read(&mem, 4 * GiB + 100, out, sizeof(out)) == 0);
	CHECK(memcmp(buf, out, sizeof(buf)) == 0);
	CHECK(guest_mem_write(&mem, 1 * MiB - 8, buf, sizeof(buf)) == -EFAULT);
	CHECK(guest_mem_contains_hva(&mem, guest_mem_ptr(&mem, 100, 1)));
	CHECK(!guest_mem_contains_hva(&mem, buf));
	if (shared)
		CHECK(mem.memfd >= 0 && mem.regions[1].fd_offset == 1 * MiB);
	guest_mem_destroy(&mem);
	CHECK(mem.nr_regions == 0);
	return 0;
}

int main(void)
{
	if (test_regions(false) || test_regions(true))
		return 1;
	printf("guest-mem-test: ok\n");
	return 0;
}
