/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DSDT's parts, one function per device family; tables.c calls them in
 * order and wraps the result in the table header.
 */
#include "acpi-internal.h"
#include "devices/power.h"
#include "devices/rtc.h"
#include "devices/serial.h"

/* The legacy configuration mechanism's ports: 0xCF8 address, 0xCFC data. */
#define ACPI_PCI_CF8_PORT 0xcf8
#define ACPI_PCI_CF8_LEN 8

/*
 * Power-off: ACPICA evaluates \_S5 and, on a hardware-reduced platform,
 * writes (SLP_TYP << 2) | SLP_EN to the FADT sleep control register.
 */
void acpi_dsdt_sleep_states(struct aml *a, const struct acpi_config *cfg)
{
	aml_name(a, "\\_S5_");
	aml_package_begin(a, 2);
	aml_integer(a, POWER_SLP_TYP_S5); /* SLP_TYPa */
	aml_integer(a, 0);		  /* SLP_TYPb: no second register */
	aml_end(a);
}

/*
 * The ISA devices the VMM emulates. Listing them lets the guest claim their
 * ports through PNP instead of probing. The RTC gets no IRQ: there is no
 * legacy PIC on a hardware-reduced platform, and Linux then polls it.
 */
void acpi_dsdt_legacy_devices(struct aml *a, const struct acpi_config *cfg)
{
	aml_scope_begin(a, "\\_SB_");

	aml_device_begin(a, "COM1");
	aml_name_eisaid(a, "_HID", "PNP0501"); /* 16550A-compatible UART */
	aml_name_integer(a, "_UID", 0);
	aml_name(a, "_CRS");
	aml_resource_begin(a);
	aml_res_io(a, SERIAL_PORT_COM1, SERIAL_PORT_COM1, 0, SERIAL_PORT_LEN);
	aml_res_irq_noflags(a, SERIAL_IRQ_COM1);
	aml_resource_end(a);
	aml_end(a);

	aml_device_begin(a, "RTC_");
	aml_name_eisaid(a, "_HID", "PNP0B00"); /* AT real-time clock */
	aml_name(a, "_CRS");
	aml_resource_begin(a);
	aml_res_io(a, RTC_PORT_BASE, RTC_PORT_BASE, 0, RTC_PORT_LEN);
	aml_resource_end(a);
	aml_end(a);

	aml_end(a);
}

/*
 * The PCI host bridge for segment 0. Its _CRS lists what the bridge decodes
 * for its children: the buses the ECAM covers, the 0xCF8 ports (consumed by
 * the bridge itself), all other I/O ports (there are no I/O BARs, but a guest
 * looks for I/O windows and the legacy devices' ports sit behind the bridge
 * on a PC), and the two memory windows the VMM places BARs in. Both windows
 * are "cacheable", not prefetchable: a prefetchable window could not hold
 * the non-prefetchable BARs the virtio devices have, and Linux would
 * reassign them. No _PRT: there is no INTx, devices use MSI-X. No _ADR:
 * a device has _HID or _ADR, not both (ACPI 6.3, 6.1; iasl warns).
 *
 * Linux accepts an MCFG region only if it is reserved, and a hardware-reduced
 * machine has no e820 reservation for it; a PNP0C02 "motherboard resources"
 * device claiming the ECAM is what it checks ("MMCONFIG ... reserved as ACPI
 * motherboard resource"). Without it Linux would fall back to 0xCF8 and lose
 * the extended config space.
 */
void acpi_dsdt_pci(struct aml *a, const struct acpi_config *cfg)
{
	const struct aml_addr buses = {
		.type = AML_ADDR_BUS,
		.min = 0,
		.max = cfg->pci_ecam_size / ACPI_ECAM_BUS_SIZE - 1,
	};
	const struct aml_addr io_low = {
		.type = AML_ADDR_IO, .type_flags = AML_IO_RANGE_ENTIRE,
		.min = 0, .max = ACPI_PCI_CF8_PORT - 1,
	};
	const struct aml_addr io_high = {
		.type = AML_ADDR_IO, .type_flags = AML_IO_RANGE_ENTIRE,
		.min = ACPI_PCI_CF8_PORT + ACPI_PCI_CF8_LEN, .max = 0xffff,
	};
	const struct aml_addr mmio32 = {
		.type = AML_ADDR_MEMORY, .type_flags = AML_MEM_READ_WRITE | AML_MEM_CACHEABLE,
		.min = cfg->pci_mmio32_base,
		.max = cfg->pci_mmio32_base + cfg->pci_mmio32_size - 1,
	};
	const struct aml_addr mmio64 = {
		.type = AML_ADDR_MEMORY, .type_flags = AML_MEM_READ_WRITE | AML_MEM_CACHEABLE,
		.min = cfg->pci_mmio64_base,
		.max = cfg->pci_mmio64_base + cfg->pci_mmio64_size - 1,
	};

	if (!cfg->pci)
		return;

	aml_scope_begin(a, "\\_SB_");

	aml_device_begin(a, "PCI0");
	aml_name_eisaid(a, "_HID", "PNP0A08"); /* PCI Express root bridge */
	aml_name_eisaid(a, "_CID", "PNP0A03"); /* PCI root bridge, for older OSes */
	aml_name_integer(a, "_SEG", 0);
	aml_name_integer(a, "_UID", 0);
	aml_name_integer(a, "_BBN", 0);
	aml_name(a, "_CRS");
	aml_resource_begin(a);
	aml_res_word_address(a, &buses);
	aml_res_io(a, ACPI_PCI_CF8_PORT, ACPI_PCI_CF8_PORT, 1, ACPI_PCI_CF8_LEN);
	aml_res_word_address(a, &io_low);
	aml_res_word_address(a, &io_high);
	aml_res_dword_address(a, &mmio32);
	if (cfg->pci_mmio64_size)
		aml_res_qword_address(a, &mmio64);
	aml_resource_end(a);
	aml_end(a);

	aml_device_begin(a, "MRES");
	aml_name_eisaid(a, "_HID", "PNP0C02"); /* motherboard resources */
	aml_name_integer(a, "_UID", 0);
	aml_name(a, "_CRS");
	aml_resource_begin(a);
	aml_res_memory32_fixed(a, (uint32_t)cfg->pci_ecam_base, (uint32_t)cfg->pci_ecam_size);
	aml_resource_end(a);
	aml_end(a);

	aml_end(a);
}

/*
 * The power button of a hardware-reduced platform (no fixed-feature
 * button, no SCI): a Generic Event Device whose edge interrupt runs _EVT,
 * which notifies the control-method power button with 0x80 ("pressed").
 */
void acpi_dsdt_power_button(struct aml *a, const struct acpi_config *cfg)
{
	(void)cfg;
	aml_scope_begin(a, "\\_SB_");

	aml_device_begin(a, "PWRB");
	aml_name_eisaid(a, "_HID", "PNP0C0C");
	aml_name_integer(a, "_UID", 0);
	aml_end(a);

	aml_device_begin(a, "GED_");
	aml_name_string(a, "_HID", "ACPI0013");
	aml_name_integer(a, "_UID", 0);
	aml_name(a, "_CRS");
	aml_resource_begin(a);
	aml_res_interrupt(a, POWER_GED_GSI, true, false);
	aml_resource_end(a);
	aml_method_begin(a, "_EVT", 1, false);
	aml_notify(a, "\\_SB_.PWRB", 0x80);
	aml_end(a);
	aml_end(a);

	aml_end(a);
}
