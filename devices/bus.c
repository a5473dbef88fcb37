/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Address-range map for port I/O and MMIO dispatch.
 *
 * The ranges live in one array sorted by base, so a lookup is a binary
 * search and a dispatch touches no allocator. vCPU threads dispatch under the
 * read lock; insert/remove take the write lock. Because a device callback
 * runs under the read lock, bus_remove() returning means no vCPU is still
 * inside that device's callbacks, so the caller may free it. The flip side:
 * a callback must never call into the same bus (the lock prefers writers,
 * so a nested read lock can deadlock behind a waiting writer).
 */
#include "devices/bus.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* Largest single access a vCPU exit carries (KVM_EXIT_MMIO has 8 bytes). */
#define BUS_MAX_ACCESS 8
#define BUS_INITIAL_CAP 16

static uint64_t range_last(const struct bus_range *r)
{
	/* Inclusive end: base + len may be exactly 2^64, which wraps to 0. */
	return r->base + r->len - 1;
}

/* Index of the first range whose base is > addr (0..nr_ranges). */
static size_t bus_upper_bound(const struct bus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->nr_ranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (bus->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Caller holds the lock (either mode). */
static const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, uint32_t size)
{
	const struct bus_range *r;
	size_t i;

	if (size == 0 || size > BUS_MAX_ACCESS || !range_ok(addr, size))
		return NULL;
	i = bus_upper_bound(bus, addr);
	if (i == 0)
		return NULL;
	r = &bus->ranges[i - 1];
	/* The whole access must fall in one device, or nobody claims it. */
	if (addr + (size - 1) > range_last(r))
		return NULL;
	return r;
}

int bus_init(struct bus *bus, const char *name)
{
	pthread_rwlockattr_t attr;
	int r;

	*bus = (struct bus){ .name = name ? name : "bus" };
	bus->lock = (pthread_rwlock_t)PTHREAD_RWLOCK_INITIALIZER;

	r = pthread_rwlockattr_init(&attr);
	if (r)
		return -r;
	/*
	 * vCPUs take the read lock on every exit; with glibc's default
	 * reader preference a busy guest could starve hotplug forever.
	 */
	r = pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	if (r == 0)
		r = pthread_rwlock_init(&bus->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (r) {
		/* Leave a lock bus_destroy() can still tear down. */
		bus->lock = (pthread_rwlock_t)PTHREAD_RWLOCK_INITIALIZER;
		return -r;
	}
	return 0;
}

void bus_destroy(struct bus *bus)
{
	if (!bus)
		return;
	free(bus->ranges);
	bus->ranges = NULL;
	bus->nr_ranges = bus->cap = 0;
	pthread_rwlock_destroy(&bus->lock);
}

/* Caller holds the write lock. */
static int bus_reserve(struct bus *bus)
{
	struct bus_range *ranges;
	size_t cap;

	if (bus->nr_ranges < bus->cap)
		return 0;
	if (bus->nr_ranges >= BUS_MAX_RANGES)
		return -ENOSPC;
	cap = bus->cap ? MIN(bus->cap * 2, (size_t)BUS_MAX_RANGES) : BUS_INITIAL_CAP;
	ranges = realloc(bus->ranges, cap * sizeof(*ranges));
	if (!ranges)
		return -ENOMEM;
	bus->ranges = ranges;
	bus->cap = cap;
	return 0;
}

int bus_insert(struct bus *bus, struct bus_device *dev, uint64_t base, uint64_t len)
{
	struct bus_range new = { .base = base, .len = len, .dev = dev };
	size_t i;
	int r;

	if (!dev || !dev->ops || len == 0 || !range_ok(base, len))
		return -EINVAL;

	pthread_rwlock_wrlock(&bus->lock);
	i = bus_upper_bound(bus, base);
	if (i > 0 && range_last(&bus->ranges[i - 1]) >= base) {
		r = -EEXIST;
		goto unlock;
	}
	if (i < bus->nr_ranges && bus->ranges[i].base <= range_last(&new)) {
		r = -EEXIST;
		goto unlock;
	}
	r = bus_reserve(bus);
	if (r < 0)
		goto unlock;
	memmove(&bus->ranges[i + 1], &bus->ranges[i],
		(bus->nr_ranges - i) * sizeof(bus->ranges[0]));
	bus->ranges[i] = new;
	bus->nr_ranges++;
	r = 0;
unlock:
	pthread_rwlock_unlock(&bus->lock);
	if (r < 0)
		log_debug("%s: cannot place %s at 0x%" PRIx64 "+0x%" PRIx64 ": %s", bus->name,
			  dev->name ? dev->name : "device", base, len, strerror(-r));
	return r;
}

int bus_remove(struct bus *bus, uint64_t base)
{
	size_t i;
	int r = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	i = bus_upper_bound(bus, base);
	if (i > 0 && bus->ranges[i - 1].base == base) {
		i--;
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
			(bus->nr_ranges - i - 1) * sizeof(bus->ranges[0]));
		bus->nr_ranges--;
		r = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return r;
}

bool bus_read(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t size)
{
	const struct bus_range *r;
	bool claimed = false;

	pthread_rwlock_rdlock(&bus->lock);
	r = bus_find(bus, addr, size);
	if (r) {
		claimed = true;
		if (r->dev->ops->read)
			r->dev->ops->read(r->dev, addr - r->base, data, size);
		else
			memset(data, 0xff, size); /* write-only device */
	}
	pthread_rwlock_unlock(&bus->lock);

	/* Like a floating ISA bus: unclaimed reads see all ones. */
	if (!claimed && size)
		memset(data, 0xff, size);
	return claimed;
}

bool bus_write(struct bus *bus, uint64_t addr, const uint8_t *data, uint32_t size)
{
	const struct bus_range *r;
	bool claimed = false;

	pthread_rwlock_rdlock(&bus->lock);
	r = bus_find(bus, addr, size);
	if (r) {
		claimed = true;
		if (r->dev->ops->write)
			r->dev->ops->write(r->dev, addr - r->base, data, size);
	}
	pthread_rwlock_unlock(&bus->lock);
	return claimed;
}
