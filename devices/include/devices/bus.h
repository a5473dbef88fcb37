/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bus devices and the address-range map that dispatches port I/O and MMIO
 * exits to them (one map for ports, one for MMIO). Devices are placed at a
 * base and receive accesses as an offset into their range. Lookups happen on
 * vCPU threads concurrently; insert/remove take the write lock. Each device
 * does its own locking of its state.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macros.h"

struct bus_device;

struct bus_device_ops {
	/* `size` is 1, 2, 4 or 8 and offset+size lies within the device's range. */
	void (*read)(struct bus_device *dev, uint64_t offset, uint8_t *data, uint32_t size);
	void (*write)(struct bus_device *dev, uint64_t offset, const uint8_t *data, uint32_t size);
};

struct bus_device {
	const struct bus_device_ops *ops;
	const char *name;
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	struct bus_device *dev;
};

#define BUS_MAX_RANGES 1024

struct bus {
	const char *name;
	pthread_rwlock_t lock;
	struct bus_range *ranges; /* sorted by base, non-overlapping */
	size_t nr_ranges;
	size_t cap;
};

int bus_init(struct bus *bus, const char *name) _wur_;
void bus_destroy(struct bus *bus);
/* -EEXIST if [base, base+len) overlaps a range already placed. */
int bus_insert(struct bus *bus, struct bus_device *dev, uint64_t base, uint64_t len) _wur_;
/* Remove the range starting at `base`; -ENOENT if none. */
int bus_remove(struct bus *bus, uint64_t base) _wur_;
/*
 * Dispatch an access. Returns false (and fills a read with 0xff) when no
 * device claims the whole access.
 */
bool bus_read(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t size);
bool bus_write(struct bus *bus, uint64_t addr, const uint8_t *data, uint32_t size);
