/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Power/reset tests: the writes Linux makes to power off and reboot produce
 * exactly one event each; anything else produces none.
 */
#include "devices/power.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/bus.h"
#include "common/test.h"


#define I8042_BASE 0x60
#define I8042_LEN 5

struct events {
	int shutdown;
	int reset;
	int other;
};

static void on_event(void *opaque, enum power_event ev)
{
	struct events *e = opaque;

	switch (ev) {
	case POWER_EVENT_SHUTDOWN:
		e->shutdown++;
		break;
	case POWER_EVENT_RESET:
		e->reset++;
		break;
	default:
		e->other++;
	}
}

static struct bus bus;

static void out8(uint64_t port, uint8_t v)
{
	CHECK(bus_write(&bus, port, &v, 1));
}

static uint8_t in8(uint64_t port)
{
	uint8_t v = 0xaa;

	CHECK(bus_read(&bus, port, &v, 1));
	return v;
}

static void reset_events(struct events *e)
{
	memset(e, 0, sizeof(*e));
}

int main(void)
{
	static const uint8_t junk[] = {
		0x00, 0x80, /* WAK_STS, written to the status side before sleeping */
		POWER_SLP_TYP_S5 << 2, /* S5 without SLP_EN */
		POWER_SLP_EN, /* SLP_EN with S0 */
		(1 << 2) | POWER_SLP_EN, /* S1 */
		(3 << 2) | POWER_SLP_EN, /* S3 */
		(7 << 2) | POWER_SLP_EN, 0xff, 0x02, 0xfe,
	};
	struct power_dev *power = NULL;
	struct events ev = { 0 };

	CHECK_EQ(power_create(NULL, NULL, &power), -EINVAL);
	if (bus_init(&bus, "pio") < 0 || power_create(on_event, &ev, &power) < 0 ||
	    bus_insert(&bus, power_bus_device(power), POWER_PORT, POWER_PORT_LEN) < 0 ||
	    bus_insert(&bus, power_i8042_bus_device(power), I8042_BASE, I8042_LEN) < 0) {
		fprintf(stderr, "power-test: setup failed\n");
		return 1;
	}

	/* ACPI S5: SLP_TYP=5 | SLP_EN, as acpi_hw_extended_sleep() writes it. */
	out8(POWER_PORT, (POWER_SLP_TYP_S5 << 2) | POWER_SLP_EN);
	CHECK_EQ(ev.shutdown, 1);
	CHECK_EQ(ev.reset, 0);
	/* Reserved bits around it don't matter. */
	reset_events(&ev);
	out8(POWER_PORT, (POWER_SLP_TYP_S5 << 2) | POWER_SLP_EN | 0x80);
	CHECK_EQ(ev.shutdown, 1);

	/* FADT reset register. */
	reset_events(&ev);
	out8(POWER_PORT, POWER_RESET_VALUE);
	CHECK_EQ(ev.reset, 1);
	CHECK_EQ(ev.shutdown, 0);

	/* Everything else is ignored. */
	reset_events(&ev);
	for (size_t i = 0; i < sizeof(junk); i++)
		out8(POWER_PORT, junk[i]);
	CHECK_EQ(ev.shutdown + ev.reset + ev.other, 0);
	/* Sleep status reads 0 (no wake status). */
	CHECK_EQ(in8(POWER_PORT), 0);

	/* i8042: 0xfe to the command port pulses reset, once per write. */
	reset_events(&ev);
	out8(POWER_I8042_PORT, POWER_I8042_RESET);
	CHECK_EQ(ev.reset, 1);
	out8(POWER_I8042_PORT, POWER_I8042_RESET);
	CHECK_EQ(ev.reset, 2);
	CHECK_EQ(ev.shutdown, 0);
	/* Other commands, and 0xfe to the data port, do nothing. */
	reset_events(&ev);
	out8(POWER_I8042_PORT, 0xaa);
	out8(POWER_I8042_PORT, 0x20);
	for (uint64_t p = I8042_BASE; p < POWER_I8042_PORT; p++)
		out8(p, POWER_I8042_RESET);
	CHECK_EQ(ev.shutdown + ev.reset + ev.other, 0);
	/* Status 0: input buffer empty, so the reboot code never waits. */
	for (uint64_t p = I8042_BASE; p < I8042_BASE + I8042_LEN; p++)
		CHECK_EQ(in8(p), 0);
	/* Nothing placed past the i8042's five ports. */
	{
		uint8_t v = 0xfe;

		CHECK(!bus_write(&bus, I8042_BASE + I8042_LEN, &v, 1));
		CHECK_EQ(ev.reset, 0);
	}

	power_destroy(power);
	power_destroy(NULL);
	bus_destroy(&bus);
	printf("power-test: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
