/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest physical memory as seen by the VMM: a small set of regions, each a
 * host mapping. Every access a device makes on behalf of the guest goes
 * through guest_mem_ptr()/read()/write(), which check the whole range lies
 * inside one region without arithmetic overflow: the guest chooses these
 * addresses and lengths.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macros.h"

#define GUEST_MEM_MAX_REGIONS 8

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	int fd; /* memfd backing the region when shared, else -1 */
	uint64_t fd_offset;
};

struct guest_mem {
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
	unsigned int nr_regions;
	bool shared; /* backed by one memfd, mapped MAP_SHARED (vhost-user) */
	int memfd;
	uint64_t memfd_size;
};

/* Initialise an empty layout. shared=true backs all regions by one memfd. */
void guest_mem_init(struct guest_mem *mem, bool shared);
/* Map `size` bytes of fresh zeroed memory at guest address `gpa`. */
int guest_mem_add_region(struct guest_mem *mem, uint64_t gpa, uint64_t size) _wur_;
/* Wrap an existing host buffer (tests, fuzzers); not unmapped on destroy. */
int guest_mem_add_buffer(struct guest_mem *mem, uint64_t gpa, void *buf, uint64_t size) _wur_;
void guest_mem_destroy(struct guest_mem *mem);

/* Host pointer for [gpa, gpa+len) if it lies entirely in one region, else NULL. */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);
int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *buf, size_t len) _wur_;
int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *buf, size_t len) _wur_;
/* Total bytes of guest RAM. */
uint64_t guest_mem_total(const struct guest_mem *mem);
/* Is the host address inside guest RAM (used for RSS accounting). */
bool guest_mem_contains_hva(const struct guest_mem *mem, const void *hva);
