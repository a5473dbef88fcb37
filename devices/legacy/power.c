/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Power-off and reset.
 *
 * The ACPI device is the FADT's SLEEP_CONTROL_REG, SLEEP_STATUS_REG and
 * RESET_REG all at POWER_PORT. Linux writes SLP_TYP(S5)|SLP_EN to power off,
 * RESET_VALUE to reset, and also writes WAK_STS (0x80) to the status side
 * before sleeping, which must be ignored; so must the other sleep states,
 * which we don't implement. Reads are the sleep status register: 0, nothing
 * to report.
 *
 * The i8042 device only exists to catch the keyboard controller's pulse-reset
 * command, the other way Linux (reboot=k, the default fallback) reboots. Its
 * status register reads 0, "input buffer empty", so the reboot code does not
 * wait; with no "output buffer full" ever, Linux's i8042 driver finds no
 * controller and leaves it alone.
 *
 * Events are delivered on the vCPU thread that made the access. Every
 * matching write delivers one (Linux repeats the i8042 reset command until
 * the machine goes away), so the VMM must handle repeats as one request.
 */
#include "devices/power.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define POWER_SLP_TYP_SHIFT 2
#define POWER_SLP_TYP_MASK 0x7
#define I8042_COMMAND_OFFSET (POWER_I8042_PORT - 0x60) /* the device is placed at 0x60 */

struct power_dev {
	struct bus_device pm;
	struct bus_device i8042;
	void (*event)(void *opaque, enum power_event ev);
	void *opaque;
	/* A guest can write anything any number of times: say so once. */
	atomic_bool junk_logged;
};

static const char *power_event_to_string(enum power_event ev)
{
	static const char *const names[] = {
		[POWER_EVENT_SHUTDOWN] = "shutdown",
		[POWER_EVENT_RESET] = "reset",
	};

	return (unsigned)ev < ARRAY_SIZE(names) && names[ev] ? names[ev] : "unknown";
}

static void power_fire(struct power_dev *power, enum power_event ev)
{
	log_debug("power: guest requested %s", power_event_to_string(ev));
	if (power->event)
		power->event(power->opaque, ev);
}

static void power_log_junk(struct power_dev *power, const char *what, uint8_t v)
{
	if (!atomic_exchange(&power->junk_logged, true))
		log_debug("power: ignoring %s write 0x%02x (further ones not logged)", what, v);
}

static void power_read_zero(struct bus_device *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	memset(data, 0, size);
}

static void power_pm_write(struct bus_device *dev, uint64_t offset, const uint8_t *data,
			   uint32_t size)
{
	struct power_dev *power = container_of(dev, struct power_dev, pm);
	uint8_t v = data[0];

	if (v == POWER_RESET_VALUE) {
		power_fire(power, POWER_EVENT_RESET);
		return;
	}
	if ((v & POWER_SLP_EN) &&
	    ((v >> POWER_SLP_TYP_SHIFT) & POWER_SLP_TYP_MASK) == POWER_SLP_TYP_S5) {
		power_fire(power, POWER_EVENT_SHUTDOWN);
		return;
	}
	power_log_junk(power, "sleep control", v);
}

static void power_i8042_write(struct bus_device *dev, uint64_t offset, const uint8_t *data,
			      uint32_t size)
{
	struct power_dev *power = container_of(dev, struct power_dev, i8042);

	for (uint32_t i = 0; i < size; i++) {
		if (offset + i == I8042_COMMAND_OFFSET && data[i] == POWER_I8042_RESET)
			power_fire(power, POWER_EVENT_RESET);
		else
			power_log_junk(power, "i8042", data[i]);
	}
}

static const struct bus_device_ops power_pm_ops = {
	.read = power_read_zero,
	.write = power_pm_write,
};

static const struct bus_device_ops power_i8042_ops = {
	.read = power_read_zero,
	.write = power_i8042_write,
};

int power_create(void (*event)(void *opaque, enum power_event ev), void *opaque,
		 struct power_dev **ret)
{
	struct power_dev *power;

	if (!event)
		return -EINVAL;
	power = calloc(1, sizeof(*power));
	if (!power)
		return -ENOMEM;
	power->pm = (struct bus_device){ .ops = &power_pm_ops, .name = "acpi-power" };
	power->i8042 = (struct bus_device){ .ops = &power_i8042_ops, .name = "i8042" };
	power->event = event;
	power->opaque = opaque;
	atomic_init(&power->junk_logged, false);

	*ret = power;
	return 0;
}

void power_destroy(struct power_dev *power)
{
	free(power);
}

struct bus_device *power_bus_device(struct power_dev *power)
{
	return &power->pm;
}

struct bus_device *power_i8042_bus_device(struct power_dev *power)
{
	return &power->i8042;
}
