/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Power and reset for a hardware-reduced ACPI platform: one I/O port serves
 * as the FADT's sleep control/status register and as its reset register.
 * The guest powers off by writing SLP_TYP(S5) | SLP_EN and resets by writing
 * the FADT reset value. A write of 0xfe to the i8042 command port (0x64), the
 * other way Linux reboots, is also caught here as a reset.
 */
#pragma once

#include "common/macros.h"
#include "devices/bus.h"

#define POWER_PORT 0x3c0
#define POWER_PORT_LEN 1
#define POWER_SLP_TYP_S5 5 /* must match the \_S5 package in the DSDT */
#define POWER_SLP_EN (1u << 5)
#define POWER_RESET_VALUE 0x01 /* FADT RESET_VALUE */
#define POWER_I8042_PORT 0x64
#define POWER_I8042_RESET 0xfe

/*
 * The ACPI power button: a Generic Event Device (ACPI0013) whose interrupt
 * is this GSI (ISA IRQ 6 is free on our platform: no floppy); its _EVT
 * method notifies the PNP0C0C button, which Linux turns into KEY_POWER.
 * The VMM raises the GSI through an irqfd.
 */
#define POWER_GED_GSI 6

enum power_event {
	POWER_EVENT_SHUTDOWN,
	POWER_EVENT_RESET,
};

struct power_dev;

int power_create(void (*event)(void *opaque, enum power_event ev), void *opaque,
		 struct power_dev **ret) _wur_;
void power_destroy(struct power_dev *power);
/* Device for POWER_PORT (sleep control/status + reset register). */
struct bus_device *power_bus_device(struct power_dev *power);
/* Device for the i8042 ports 0x60-0x64 (reset command only; reads 0). */
struct bus_device *power_i8042_bus_device(struct power_dev *power);
