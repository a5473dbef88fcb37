/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACPI table layouts (ACPI 6.3, chapter 5.2) as packed structs. Fields are
 * host-endian: the VMM only runs on little-endian x86_64 hosts, as ACPI is.
 * The offsets the guest relies on are checked at compile time against the
 * spec's tables, so a field added in the wrong place cannot go unnoticed.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "aml.h"
#include "vmm/acpi.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "ACPI tables are little-endian and written as host structs");

#define ACPI_OEM_ID "NACELL"	   /* 6 bytes */
#define ACPI_OEM_TABLE_ID "NACVMM  " /* 8 bytes */
#define ACPI_OEM_REVISION 1
#define ACPI_CREATOR_ID "NACL" /* 4 bytes */
#define ACPI_CREATOR_REVISION 1

/* Tables are placed on this boundary (the RSDP itself needs 16). */
#define ACPI_TABLE_ALIGN 8

/*
 * Local APIC ids in MADT type 0 entries are 8 bits and 0xff is the xAPIC
 * broadcast id, so ids 0..254; more vCPUs would need x2APIC entries.
 */
#define ACPI_MAX_VCPUS 255

/* 5.2.5.3 Root System Description Pointer, ACPI 2.0+ form. */
#define ACPI_RSDP_SIGNATURE "RSD PTR "
#define ACPI_RSDP_REVISION 2
#define ACPI_RSDP_V1_LENGTH 20 /* what the first checksum covers */

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum;
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP size");

/* 5.2.6 System Description Table Header */
struct acpi_sdt_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_sdt_header) == 36, "SDT header size");

/* 5.2.3.2 Generic Address Structure */
#define ACPI_GAS_SYSTEM_IO 1
#define ACPI_GAS_ACCESS_BYTE 1

struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS size");

/* 5.2.8 XSDT: the header, then 64-bit table addresses. */
#define ACPI_XSDT_REVISION 1

/* 5.2.9 Fixed ACPI Description Table, revision 6 (ACPI 6.0 - 6.5 layout). */
#define ACPI_FADT_REVISION 6
#define ACPI_FADT_MINOR_REVISION 3 /* ACPI 6.3, as the MADT revision */

/* Table 5-34 Fixed ACPI Description Table Fixed Feature Flags */
#define ACPI_FADT_PWR_BUTTON (1u << 4) /* set: no fixed-feature power button */
#define ACPI_FADT_SLP_BUTTON (1u << 5) /* set: no fixed-feature sleep button */
#define ACPI_FADT_RESET_REG_SUP (1u << 10)
#define ACPI_FADT_HW_REDUCED_ACPI (1u << 20)

/* Table 5-35 IA-PC Boot Architecture Flags */
#define ACPI_IAPC_LEGACY_DEVICES (1u << 0)
#define ACPI_IAPC_8042 (1u << 1)
#define ACPI_IAPC_VGA_NOT_PRESENT (1u << 2)
#define ACPI_IAPC_MSI_NOT_SUPPORTED (1u << 3)
#define ACPI_IAPC_PCIE_ASPM_CONTROLS (1u << 4)
#define ACPI_IAPC_CMOS_RTC_NOT_PRESENT (1u << 5)

struct acpi_fadt {
	struct acpi_sdt_header header;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_revision;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	char hypervisor_vendor_id[8];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 size");
_Static_assert(offsetof(struct acpi_fadt, iapc_boot_arch) == 109, "IAPC_BOOT_ARCH");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT flags");
_Static_assert(offsetof(struct acpi_fadt, reset_reg) == 116, "RESET_REG");
_Static_assert(offsetof(struct acpi_fadt, minor_revision) == 131, "FADT minor");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "X_DSDT");
_Static_assert(offsetof(struct acpi_fadt, sleep_control_reg) == 244, "SLEEP_CONTROL_REG");
_Static_assert(offsetof(struct acpi_fadt, sleep_status_reg) == 256, "SLEEP_STATUS_REG");
_Static_assert(offsetof(struct acpi_fadt, hypervisor_vendor_id) == 268, "vendor id");

/* 5.2.11 DSDT: the header, then AML. Revision 2+ means 64-bit integers. */
#define ACPI_DSDT_REVISION 2

/* 5.2.12 Multiple APIC Description Table */
#define ACPI_MADT_REVISION 5 /* ACPI 6.3 */

enum acpi_madt_type {
	ACPI_MADT_LOCAL_APIC = 0,
	ACPI_MADT_IO_APIC = 1,
	ACPI_MADT_LOCAL_APIC_NMI = 4,
};

#define ACPI_MADT_LAPIC_ENABLED (1u << 0)
#define ACPI_MADT_UID_ALL 0xff /* Local APIC NMI: applies to every processor */

struct acpi_madt {
	struct acpi_sdt_header header;
	uint32_t local_apic_address;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT size");

struct acpi_madt_local_apic {
	uint8_t type;
	uint8_t length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt_local_apic) == 8, "MADT local APIC");

struct acpi_madt_io_apic {
	uint8_t type;
	uint8_t length;
	uint8_t io_apic_id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt_io_apic) == 12, "MADT I/O APIC");

struct acpi_madt_local_apic_nmi {
	uint8_t type;
	uint8_t length;
	uint8_t processor_uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt_local_apic_nmi) == 6, "MADT local APIC NMI");

/*
 * PCI Firmware Specification 3.2, 4.1.2: MCFG, the header, 8 reserved bytes,
 * then one allocation per ECAM range (a segment and its buses).
 */
#define ACPI_MCFG_REVISION 1
#define ACPI_ECAM_BUS_SIZE 0x100000 /* 32 devices x 8 functions x 4 KiB */
#define ACPI_PCI_MAX_BUSES 256

struct acpi_mcfg {
	struct acpi_sdt_header header;
	uint64_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_mcfg) == 44, "MCFG size");

struct acpi_mcfg_allocation {
	uint64_t base;
	uint16_t segment;
	uint8_t start_bus;
	uint8_t end_bus;
	uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_mcfg_allocation) == 16, "MCFG allocation size");

/*
 * The DSDT is a sequence of parts, each a device family appending its AML
 * (dsdt.c; tables.c lists them in order). Later: vCPU hotplug, GED.
 */
void acpi_dsdt_sleep_states(struct aml *a, const struct acpi_config *cfg);
void acpi_dsdt_legacy_devices(struct aml *a, const struct acpi_config *cfg);
/* \_SB.PCI0 and \_SB.MRES (the ECAM reservation); nothing without cfg->pci. */
void acpi_dsdt_pci(struct aml *a, const struct acpi_config *cfg);
void acpi_dsdt_power_button(struct aml *a, const struct acpi_config *cfg);
