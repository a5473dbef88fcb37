/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACPI tables for a hardware-reduced platform: RSDP, XSDT, FADT (HW_REDUCED,
 * sleep control/status and reset register at POWER_PORT), DSDT (\_S5,
 * COM1 and CMOS RTC devices, the PCI host bridge \_SB.PCI0 and the ECAM's
 * reservation \_SB.MRES), MADT (one local APIC per vCPU, one I/O APIC) and,
 * with PCI, MCFG. Written at LAYOUT_ACPI_START with RSDP first.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/guest-mem.h"
#include "common/macros.h"

struct acpi_config {
	uint32_t nr_vcpus;
	/*
	 * PCI segment 0 (false: no MCFG, no PCI0; the fields below unused).
	 * ECAM: 1 MiB aligned below 4 GiB, 1 MiB per bus starting at bus 0
	 * (LAYOUT_PCI_ECAM_*). The 32-bit window must lie below 4 GiB; a 64-bit
	 * window of size 0 is left out.
	 */
	bool pci;
	uint64_t pci_ecam_base;
	uint64_t pci_ecam_size;
	uint64_t pci_mmio32_base;
	uint64_t pci_mmio32_size;
	uint64_t pci_mmio64_base;
	uint64_t pci_mmio64_size;
	/* Later: hotplug, virtio-mmio... */
};

/* Build all tables into guest memory; *ret_rsdp is the RSDP's guest address. */
int acpi_build_tables(struct guest_mem *mem, const struct acpi_config *cfg,
		      uint64_t *ret_rsdp) _wur_;

/* Checksum helper shared with tests: byte sum of a table is 0 when valid. */
uint8_t acpi_checksum(const void *data, size_t len);
