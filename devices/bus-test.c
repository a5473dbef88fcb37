/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bus map tests: placement rules, dispatch and boundary accesses, a full map,
 * and dispatch racing with insert/remove.
 */
#include "devices/bus.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/test.h"


/*
 * A device that answers reads with id ^ (offset + i): never 0xff for the ids
 * and offsets used here, so an unclaimed read is told apart from a device.
 */
struct test_dev {
	struct bus_device dev;
	uint8_t id;
	atomic_uint reads;
	uint64_t last_offset;
	uint32_t last_size;
	uint8_t last_data[8];
};

static void test_read(struct bus_device *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	struct test_dev *t = container_of(dev, struct test_dev, dev);

	for (uint32_t i = 0; i < size; i++)
		data[i] = (uint8_t)(t->id ^ (offset + i));
	atomic_fetch_add(&t->reads, 1);
}

static void test_write(struct bus_device *dev, uint64_t offset, const uint8_t *data, uint32_t size)
{
	struct test_dev *t = container_of(dev, struct test_dev, dev);

	t->last_offset = offset;
	t->last_size = size;
	memcpy(t->last_data, data, size);
}

static const struct bus_device_ops test_ops = { .read = test_read, .write = test_write };

static void test_dev_init(struct test_dev *t, uint8_t id)
{
	memset(t, 0, sizeof(*t));
	t->dev = (struct bus_device){ .ops = &test_ops, .name = "test" };
	t->id = id;
}

static bool all_bytes(const uint8_t *data, uint32_t size, uint8_t v)
{
	for (uint32_t i = 0; i < size; i++)
		if (data[i] != v)
			return false;
	return true;
}

static bool matches_dev(const uint8_t *data, uint32_t size, uint8_t id, uint64_t offset)
{
	for (uint32_t i = 0; i < size; i++)
		if (data[i] != (uint8_t)(id ^ (offset + i)))
			return false;
	return true;
}

static void test_placement(void)
{
	struct test_dev a, b, c;
	struct bus bus;

	test_dev_init(&a, 0x10);
	test_dev_init(&b, 0x20);
	test_dev_init(&c, 0x30);
	CHECK_EQ(bus_init(&bus, "test"), 0);

	CHECK_EQ(bus_insert(&bus, &a.dev, 0x100, 0x10), 0);
	/* Overlaps in every position. */
	CHECK_EQ(bus_insert(&bus, &b.dev, 0x100, 0x10), -EEXIST);
	CHECK_EQ(bus_insert(&bus, &b.dev, 0x108, 0x4), -EEXIST);
	CHECK_EQ(bus_insert(&bus, &b.dev, 0xf0, 0x11), -EEXIST);
	CHECK_EQ(bus_insert(&bus, &b.dev, 0x10f, 0x1), -EEXIST);
	CHECK_EQ(bus_insert(&bus, &b.dev, 0x0, 0x1000), -EEXIST);
	/* Invalid ranges. */
	CHECK_EQ(bus_insert(&bus, &b.dev, 0x200, 0), -EINVAL);
	CHECK_EQ(bus_insert(&bus, &b.dev, UINT64_MAX, 2), -EINVAL);
	CHECK_EQ(bus_insert(&bus, &b.dev, UINT64_MAX - 0xf, 0x20), -EINVAL);
	CHECK_EQ(bus_insert(&bus, NULL, 0x200, 1), -EINVAL);
	/* Neighbours on both sides touch but don't overlap. */
	CHECK_EQ(bus_insert(&bus, &b.dev, 0xf0, 0x10), 0);
	CHECK_EQ(bus_insert(&bus, &c.dev, 0x110, 0x10), 0);
	/* A range ending exactly at the top of the address space. */
	CHECK_EQ(bus_insert(&bus, &c.dev, UINT64_MAX - 0xf, 0x10), 0);
	CHECK_EQ(bus_insert(&bus, &c.dev, UINT64_MAX, 1), -EEXIST);
	CHECK_EQ(bus.nr_ranges, 4);
	for (size_t i = 1; i < bus.nr_ranges; i++)
		CHECK(bus.ranges[i - 1].base < bus.ranges[i].base);

	CHECK_EQ(bus_remove(&bus, 0x104), -ENOENT);
	CHECK_EQ(bus_remove(&bus, 0x999), -ENOENT);
	CHECK_EQ(bus_remove(&bus, 0xf0), 0);
	CHECK_EQ(bus_remove(&bus, 0xf0), -ENOENT);
	CHECK_EQ(bus_remove(&bus, UINT64_MAX - 0xf), 0);
	CHECK_EQ(bus.nr_ranges, 2);
	/* The freed space can be reused. */
	CHECK_EQ(bus_insert(&bus, &b.dev, 0x80, 0x80), 0);

	bus_destroy(&bus);
}

static void test_dispatch(void)
{
	struct test_dev a, b;
	uint8_t data[16];
	struct bus bus;

	test_dev_init(&a, 0x10);
	test_dev_init(&b, 0x20);
	CHECK_EQ(bus_init(&bus, "test"), 0);
	CHECK_EQ(bus_insert(&bus, &a.dev, 0x3f8, 8), 0);
	CHECK_EQ(bus_insert(&bus, &b.dev, 0x400, 0x10), 0);

	CHECK(bus_read(&bus, 0x3f8, data, 1));
	CHECK(matches_dev(data, 1, 0x10, 0));
	CHECK(bus_read(&bus, 0x3fd, data, 1));
	CHECK(matches_dev(data, 1, 0x10, 5));
	/* Last byte, and an access ending on the last byte. */
	CHECK(bus_read(&bus, 0x3ff, data, 1));
	CHECK(matches_dev(data, 1, 0x10, 7));
	CHECK(bus_read(&bus, 0x3fc, data, 4));
	CHECK(matches_dev(data, 4, 0x10, 4));
	CHECK(bus_read(&bus, 0x3f8, data, 8));
	CHECK(matches_dev(data, 8, 0x10, 0));
	/* Crossing the end (even into an adjacent device) is unclaimed. */
	CHECK(!bus_read(&bus, 0x3ff, data, 2));
	CHECK(all_bytes(data, 2, 0xff));
	CHECK(!bus_read(&bus, 0x3fc, data, 8));
	CHECK(all_bytes(data, 8, 0xff));
	/* Before, between and after ranges. */
	memset(data, 0, sizeof(data));
	CHECK(!bus_read(&bus, 0x3f7, data, 1));
	CHECK_EQ(data[0], 0xff);
	CHECK(!bus_read(&bus, 0x3f7, data, 2));
	CHECK(all_bytes(data, 2, 0xff));
	CHECK(!bus_read(&bus, 0x410, data, 4));
	CHECK(all_bytes(data, 4, 0xff));
	CHECK(!bus_read(&bus, 0, data, 1));
	CHECK(!bus_read(&bus, UINT64_MAX, data, 1));
	CHECK(!bus_read(&bus, UINT64_MAX, data, 4)); /* would wrap */
	/* Sizes outside 1..8. */
	CHECK(!bus_read(&bus, 0x400, data, 0));
	CHECK(!bus_read(&bus, 0x400, data, 9));
	CHECK(all_bytes(data, 9, 0xff));
	CHECK(!bus_write(&bus, 0x400, data, 0));
	CHECK(!bus_write(&bus, 0x400, data, 9));

	/* Writes carry offset, size and data. */
	data[0] = 0xaa;
	data[1] = 0xbb;
	CHECK(bus_write(&bus, 0x40e, data, 2));
	CHECK_EQ(b.last_offset, 0xe);
	CHECK_EQ(b.last_size, 2);
	CHECK_EQ(b.last_data[0], 0xaa);
	CHECK_EQ(b.last_data[1], 0xbb);
	CHECK(!bus_write(&bus, 0x40f, data, 2));
	CHECK_EQ(b.last_offset, 0xe);
	CHECK(bus_write(&bus, 0x3f8, data, 1));
	CHECK_EQ(a.last_offset, 0);

	/* After removal the range is unclaimed. */
	CHECK_EQ(bus_remove(&bus, 0x3f8), 0);
	CHECK(!bus_read(&bus, 0x3f8, data, 1));
	CHECK_EQ(data[0], 0xff);
	CHECK(bus_read(&bus, 0x400, data, 1));

	bus_destroy(&bus);
}

static void test_many_ranges(void)
{
	static struct test_dev devs[BUS_MAX_RANGES];
	struct test_dev extra;
	size_t order[BUS_MAX_RANGES];
	uint8_t data[4];
	struct bus bus;
	bool ok;

	CHECK_EQ(bus_init(&bus, "many"), 0);
	/* Insert in a scrambled order to exercise the sorted insert. */
	for (size_t i = 0; i < BUS_MAX_RANGES; i++)
		order[i] = i;
	srand(1);
	for (size_t i = BUS_MAX_RANGES - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	ok = true;
	for (size_t k = 0; k < BUS_MAX_RANGES; k++) {
		size_t i = order[k];

		test_dev_init(&devs[i], (uint8_t)(i & 0x7f));
		if (bus_insert(&bus, &devs[i].dev, 0x10000 + i * 0x10, 0x8) != 0)
			ok = false;
	}
	CHECK(ok);
	CHECK_EQ(bus.nr_ranges, BUS_MAX_RANGES);
	test_dev_init(&extra, 1);
	CHECK_EQ(bus_insert(&bus, &extra.dev, 0x1000, 1), -ENOSPC);

	ok = true;
	for (size_t i = 0; i < BUS_MAX_RANGES; i++) {
		uint64_t base = 0x10000 + i * 0x10;

		if (!bus_read(&bus, base + 4, data, 4) ||
		    !matches_dev(data, 4, (uint8_t)(i & 0x7f), 4))
			ok = false;
		if (bus_read(&bus, base + 8, data, 1)) /* the gap */
			ok = false;
	}
	CHECK(ok);

	/* Remove every other range; the rest still resolve. */
	ok = true;
	for (size_t i = 0; i < BUS_MAX_RANGES; i += 2)
		if (bus_remove(&bus, 0x10000 + i * 0x10) != 0)
			ok = false;
	CHECK(ok);
	CHECK_EQ(bus.nr_ranges, BUS_MAX_RANGES / 2);
	ok = true;
	for (size_t i = 0; i < BUS_MAX_RANGES; i++) {
		bool claimed = bus_read(&bus, 0x10000 + i * 0x10, data, 1);

		if (claimed != (i % 2 == 1))
			ok = false;
		if (claimed && !matches_dev(data, 1, (uint8_t)(i & 0x7f), 0))
			ok = false;
	}
	CHECK(ok);
	CHECK_EQ(bus_insert(&bus, &extra.dev, 0x1000, 1), 0);

	bus_destroy(&bus);
}

/* ---- concurrency ---- */

#define RACE_STABLE 8
#define RACE_TOGGLE 8
#define RACE_READERS 4
#define RACE_ROUNDS 20000

struct race {
	struct bus bus;
	struct test_dev stable[RACE_STABLE];
	struct test_dev toggle[RACE_TOGGLE];
	atomic_bool stop;
	atomic_uint bad;
	atomic_ulong reads;
};

static uint64_t race_stable_base(size_t i)
{
	return 0x1000 + i * 0x100;
}

static uint64_t race_toggle_base(size_t i)
{
	return 0x1080 + i * 0x100; /* interleaved with the stable ones */
}

static void *race_reader(void *arg)
{
	struct race *race = arg;
	unsigned seed = (unsigned)(uintptr_t)&seed;
	uint8_t data[8];

	while (!atomic_load(&race->stop)) {
		size_t i = (size_t)rand_r(&seed) % RACE_STABLE;
		uint32_t size = 1u << (rand_r(&seed) % 4);
		uint64_t off = (uint64_t)(rand_r(&seed) % (int)(0x40 - size + 1));

		if (!bus_read(&race->bus, race_stable_base(i) + off, data, size) ||
		    !matches_dev(data, size, race->stable[i].id, off))
			atomic_fetch_add(&race->bad, 1);

		i = (size_t)rand_r(&seed) % RACE_TOGGLE;
		/* Either the whole access came from the device or none of it did. */
		if (bus_read(&race->bus, race_toggle_base(i) + off, data, size)) {
			if (!matches_dev(data, size, race->toggle[i].id, off))
				atomic_fetch_add(&race->bad, 1);
		} else if (!all_bytes(data, size, 0xff)) {
			atomic_fetch_add(&race->bad, 1);
		}
		atomic_fetch_add(&race->reads, 2);
	}
	return NULL;
}

static void test_concurrency(void)
{
	static struct race race;
	pthread_t readers[RACE_READERS];
	unsigned writer_errors = 0;
	bool present[RACE_TOGGLE] = { false };

	CHECK_EQ(bus_init(&race.bus, "race"), 0);
	for (size_t i = 0; i < RACE_STABLE; i++) {
		test_dev_init(&race.stable[i], (uint8_t)(0x40 + i));
		CHECK_EQ(bus_insert(&race.bus, &race.stable[i].dev, race_stable_base(i), 0x40), 0);
	}
	for (size_t i = 0; i < RACE_TOGGLE; i++)
		test_dev_init(&race.toggle[i], (uint8_t)(0x60 + i));

	for (int t = 0; t < RACE_READERS; t++)
		CHECK_EQ(pthread_create(&readers[t], NULL, race_reader, &race), 0);

	/* Let the readers get going so the writer really races with them. */
	while (atomic_load(&race.reads) < 1000)
		sched_yield();
	/* This thread is the writer: toggle ranges in and out. */
	for (unsigned n = 0; n < RACE_ROUNDS; n++) {
		size_t i = n % RACE_TOGGLE;
		int r;

		if (present[i])
			r = bus_remove(&race.bus, race_toggle_base(i));
		else
			r = bus_insert(&race.bus, &race.toggle[i].dev, race_toggle_base(i), 0x40);
		if (r != 0)
			writer_errors++;
		present[i] = !present[i];
	}
	atomic_store(&race.stop, true);
	for (int t = 0; t < RACE_READERS; t++)
		pthread_join(readers[t], NULL);

	CHECK_EQ(writer_errors, 0);
	CHECK_EQ(atomic_load(&race.bad), 0);
	CHECK(atomic_load(&race.reads) > 0);
	printf("bus-test: concurrency: %lu reads against %u inserts/removes\n",
	       atomic_load(&race.reads), RACE_ROUNDS);
	bus_destroy(&race.bus);
}

int main(void)
{
	test_placement();
	test_dispatch();
	test_many_ranges();
	test_concurrency();

	printf("bus-test: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
