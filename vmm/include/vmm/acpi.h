/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACPI tables for a hardware-reduced platform: RSDP, XSDT, FADT (HW_REDUCED,
 * sleep control/status and reset register at POWER_PORT), DSDT (\_S5,
 * COM1 and CMOS RTC devices; PCI host bridge later), MADT (one local APIC per
 * vCPU, one I/O APIC). Written at LAYOUT_ACPI_START with RSDP first.
 */
#pragma once

#include <stdint.h>

#include "common/guest-mem.h"
#include "common/macros.h"

struct acpi_config {
	uint32_t nr_vcpus;
	/* Later: PCI segments (MCFG), hotplug, virtio-mmio... */
};

/* Build all tables into guest memory; *ret_rsdp is the RSDP's guest address. */
int acpi_build_tables(struct guest_mem *mem, const struct acpi_config *cfg,
		      uint64_t *ret_rsdp) _wur_;

/* Checksum helper shared with tests: byte sum of a table is 0 when valid. */
uint8_t acpi_checksum(const void *data, size_t len);
