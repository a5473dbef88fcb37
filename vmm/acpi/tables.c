/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACPI tables for a hardware-reduced x86_64 microVM, in the spirit of Cloud
 * Hypervisor's vmm/src/acpi.rs. Everything is staged in a host copy of the
 * ACPI window [LAYOUT_ACPI_START, LAYOUT_ACPI_END) and written to the guest
 * in one go, so a table that does not fit leaves guest memory untouched.
 *
 * Layout, each table 8-byte aligned after the RSDP:
 *   RSDP (at LAYOUT_ACPI_START, inside the legacy BIOS scan area)
 *   XSDT -> FADT, MADT, MCFG (with PCI)
 *   FADT -> DSDT
 *   DSDT, MADT, MCFG
 *
 * The DSDT's contents are in dsdt.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acpi-internal.h"
#include "common/log.h"
#include "devices/pci.h"
#include "devices/power.h"
#include "vmm/config.h"
#include "vmm/layout.h"

_Static_assert(VMM_MAX_VCPUS <= ACPI_MAX_VCPUS, "MADT cannot describe every vCPU");
_Static_assert(PCI_ECAM_SIZE_BUS0 == ACPI_ECAM_BUS_SIZE, "ECAM bus size");
_Static_assert(LAYOUT_PCI_ECAM_SIZE == PCI_ECAM_SIZE_BUS0, "layout's ECAM is bus 0");

#define ACPI_AREA_SIZE (LAYOUT_ACPI_END - LAYOUT_ACPI_START)
#define ACPI_RSDP_ALIGN 16 /* the BIOS-area scan looks at 16-byte boundaries */

/* Tables the XSDT lists (the DSDT is reached through the FADT). */
enum acpi_xsdt_entry {
	ACPI_XSDT_FADT,
	ACPI_XSDT_MADT,
	ACPI_XSDT_MCFG, /* only with PCI: keep it last */
	_ACPI_XSDT_MAX,
};

/* The host copy of the ACPI window and how much of it is taken. */
struct acpi_image {
	uint8_t *buf;
	size_t used;
};

uint8_t acpi_checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return sum;
}

/* Reserve len bytes at the next `align` boundary; NULL if they do not fit. */
static void *acpi_image_place(struct acpi_image *img, size_t len, size_t align)
{
	size_t off = ALIGN_UP(img->used, align);

	if (off > ACPI_AREA_SIZE || len > ACPI_AREA_SIZE - off)
		return NULL;
	img->used = off + len;
	return img->buf + off;
}

static uint64_t acpi_image_gpa(const struct acpi_image *img, const void *p)
{
	return LAYOUT_ACPI_START + (uint64_t)((const uint8_t *)p - img->buf);
}

static void acpi_header_init(struct acpi_sdt_header *h, const char *signature,
			     size_t length, uint8_t revision)
{
	memcpy(h->signature, signature, sizeof(h->signature));
	h->length = (uint32_t)length;
	h->revision = revision;
	memcpy(h->oem_id, ACPI_OEM_ID, sizeof(h->oem_id));
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, sizeof(h->oem_table_id));
	h->oem_revision = ACPI_OEM_REVISION;
	memcpy(h->creator_id, ACPI_CREATOR_ID, sizeof(h->creator_id));
	h->creator_revision = ACPI_CREATOR_REVISION;
}

/* Last step for each table: make its bytes sum to zero. */
static void acpi_header_seal(struct acpi_sdt_header *h)
{
	h->checksum = 0;
	h->checksum = (uint8_t)-acpi_checksum(h, h->length);
}

static struct acpi_gas acpi_gas_io_byte(uint16_t port)
{
	return (struct acpi_gas){
		.space_id = ACPI_GAS_SYSTEM_IO,
		.bit_width = 8,
		.access_size = ACPI_GAS_ACCESS_BYTE,
		.address = port,
	};
}

/* The DSDT's contents, in order; each device family appends its own AML. */
static void (*const acpi_dsdt_parts[])(struct aml *a, const struct acpi_config *cfg) = {
	acpi_dsdt_sleep_states,
	acpi_dsdt_legacy_devices,
	acpi_dsdt_pci,
	acpi_dsdt_power_button,
};

static int acpi_build_dsdt(struct acpi_image *img, const struct acpi_config *cfg,
			   uint64_t *ret_gpa)
{
	_cleanup_(aml_free) struct aml a;
	struct acpi_sdt_header *h;
	const uint8_t *code;
	size_t code_len;
	int r;

	aml_init(&a);
	for (size_t i = 0; i < ARRAY_SIZE(acpi_dsdt_parts); i++)
		acpi_dsdt_parts[i](&a, cfg);
	r = aml_finish(&a, &code, &code_len);
	if (r < 0)
		return log_debug_errno(r, "Failed to build the DSDT's AML");

	h = acpi_image_place(img, sizeof(*h) + code_len, ACPI_TABLE_ALIGN);
	if (!h)
		return -ENOSPC;
	acpi_header_init(h, "DSDT", sizeof(*h) + code_len, ACPI_DSDT_REVISION);
	memcpy(h + 1, code, code_len);
	acpi_header_seal(h);
	*ret_gpa = acpi_image_gpa(img, h);
	return 0;
}

/* Placed before the DSDT, filled once the DSDT's address is known. */
static void acpi_fill_fadt(struct acpi_fadt *f, uint64_t dsdt)
{
	acpi_header_init(&f->header, "FACP", sizeof(*f), ACPI_FADT_REVISION);
	f->minor_revision = ACPI_FADT_MINOR_REVISION;
	/*
	 * Hardware-reduced: no PM1/GPE blocks, no SCI, no FACS. The power and
	 * sleep "buttons" flags say there is no fixed-feature button, so the
	 * guest does not create button devices that can never fire.
	 */
	f->flags = ACPI_FADT_HW_REDUCED_ACPI | ACPI_FADT_RESET_REG_SUP |
		   ACPI_FADT_PWR_BUTTON | ACPI_FADT_SLP_BUTTON;
	/*
	 * No 8042 flag, so Linux skips probing a PS/2 controller that is not
	 * there (the power device only catches the 0xfe reset on port 0x64).
	 * The CMOS RTC is there, MSI must stay allowed for PCI.
	 */
	f->iapc_boot_arch = ACPI_IAPC_VGA_NOT_PRESENT;
	f->reset_reg = acpi_gas_io_byte(POWER_PORT);
	f->reset_value = POWER_RESET_VALUE;
	f->sleep_control_reg = acpi_gas_io_byte(POWER_PORT);
	f->sleep_status_reg = acpi_gas_io_byte(POWER_PORT);
	/* Both DSDT fields agree, so any OS reads the same table. */
	f->dsdt = (uint32_t)dsdt;
	f->x_dsdt = dsdt;
	memcpy(f->hypervisor_vendor_id, "NACELLE ", sizeof(f->hypervisor_vendor_id));
	acpi_header_seal(&f->header);
}

static size_t acpi_madt_size(uint32_t nr_vcpus)
{
	return sizeof(struct acpi_madt) +
	       nr_vcpus * sizeof(struct acpi_madt_local_apic) +
	       sizeof(struct acpi_madt_io_apic) +
	       sizeof(struct acpi_madt_local_apic_nmi);
}

static int acpi_build_madt(struct acpi_image *img, const struct acpi_config *cfg,
			   struct acpi_madt **ret)
{
	size_t size = acpi_madt_size(cfg->nr_vcpus);
	struct acpi_madt_local_apic_nmi *nmi;
	struct acpi_madt_local_apic *lapic;
	struct acpi_madt_io_apic *ioapic;
	struct acpi_madt *m;

	m = acpi_image_place(img, size, ACPI_TABLE_ALIGN);
	if (!m)
		return -ENOSPC;
	acpi_header_init(&m->header, "APIC", size, ACPI_MADT_REVISION);
	m->local_apic_address = LAYOUT_LAPIC_START;
	/* No PCAT_COMPAT: a hardware-reduced platform has no 8259 PICs. */
	m->flags = 0;

	/* Processor UID = APIC id = vCPU index: what the vCPUs report. */
	lapic = (struct acpi_madt_local_apic *)(m + 1);
	for (uint32_t i = 0; i < cfg->nr_vcpus; i++, lapic++) {
		lapic->type = ACPI_MADT_LOCAL_APIC;
		lapic->length = sizeof(*lapic);
		lapic->processor_uid = (uint8_t)i;
		lapic->apic_id = (uint8_t)i;
		lapic->flags = ACPI_MADT_LAPIC_ENABLED;
	}

	/*
	 * I/O APIC id 0, as Cloud Hypervisor and Firecracker: that is what
	 * KVM's I/O APIC reports in its id register after reset, and I/O APIC
	 * ids are a namespace apart from local APIC ids since xAPIC. GSI n is
	 * pin n. There are no interrupt source overrides: with no 8259 and no
	 * PIT, ISA IRQs are not pre-mapped, and devices name their GSI in
	 * _CRS (COM1: IRQ 4 = GSI 4, edge, active high, the ISA default).
	 */
	ioapic = (struct acpi_madt_io_apic *)lapic;
	ioapic->type = ACPI_MADT_IO_APIC;
	ioapic->length = sizeof(*ioapic);
	ioapic->io_apic_id = 0;
	ioapic->address = LAYOUT_IOAPIC_START;
	ioapic->gsi_base = 0;

	/* LINT1 is the NMI input on every CPU, as on PC hardware. */
	nmi = (struct acpi_madt_local_apic_nmi *)(ioapic + 1);
	nmi->type = ACPI_MADT_LOCAL_APIC_NMI;
	nmi->length = sizeof(*nmi);
	nmi->processor_uid = ACPI_MADT_UID_ALL;
	nmi->flags = 0; /* conforms to the bus: edge, active high */
	nmi->lint = 1;

	acpi_header_seal(&m->header);
	*ret = m;
	return 0;
}

/* One allocation: segment 0, buses 0 .. (ECAM size / 1 MiB) - 1. */
static int acpi_build_mcfg(struct acpi_image *img, const struct acpi_config *cfg,
			   uint64_t *ret_gpa)
{
	const size_t size = sizeof(struct acpi_mcfg) + sizeof(struct acpi_mcfg_allocation);
	struct acpi_mcfg_allocation *alloc;
	struct acpi_mcfg *m;

	m = acpi_image_place(img, size, ACPI_TABLE_ALIGN);
	if (!m)
		return -ENOSPC;
	acpi_header_init(&m->header, "MCFG", size, ACPI_MCFG_REVISION);
	alloc = (struct acpi_mcfg_allocation *)(m + 1);
	alloc->base = cfg->pci_ecam_base;
	alloc->segment = 0;
	alloc->start_bus = 0;
	alloc->end_bus = (uint8_t)(cfg->pci_ecam_size / ACPI_ECAM_BUS_SIZE - 1);
	acpi_header_seal(&m->header);
	*ret_gpa = acpi_image_gpa(img, m);
	return 0;
}

static void acpi_xsdt_set(struct acpi_sdt_header *xsdt, enum acpi_xsdt_entry e,
			  uint64_t gpa)
{
	/* Entries sit at offset 36, so only 4-byte aligned: copy, not assign. */
	memcpy((uint8_t *)(xsdt + 1) + e * sizeof(uint64_t), &gpa, sizeof(gpa));
}

static void acpi_rsdp_init(struct acpi_rsdp *rsdp, uint64_t xsdt)
{
	memcpy(rsdp->signature, ACPI_RSDP_SIGNATURE, sizeof(rsdp->signature));
	memcpy(rsdp->oem_id, ACPI_OEM_ID, sizeof(rsdp->oem_id));
	rsdp->revision = ACPI_RSDP_REVISION;
	rsdp->rsdt_address = 0; /* XSDT only: every 64-bit OS reads it */
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt_address = xsdt;
	rsdp->checksum = (uint8_t)-acpi_checksum(rsdp, ACPI_RSDP_V1_LENGTH);
	rsdp->extended_checksum = (uint8_t)-acpi_checksum(rsdp, sizeof(*rsdp));
}

static int acpi_build_image(struct acpi_image *img, const struct acpi_config *cfg)
{
	const size_t nr_xsdt = cfg->pci ? _ACPI_XSDT_MAX : ACPI_XSDT_MCFG;
	const size_t xsdt_size = sizeof(struct acpi_sdt_header) + nr_xsdt * sizeof(uint64_t);
	struct acpi_sdt_header *xsdt;
	struct acpi_rsdp *rsdp;
	struct acpi_fadt *fadt;
	struct acpi_madt *madt;
	uint64_t dsdt, mcfg = 0;
	int r;

	/* Placed first, filled last: they point at what follows. */
	rsdp = acpi_image_place(img, sizeof(*rsdp), ACPI_RSDP_ALIGN);
	xsdt = acpi_image_place(img, xsdt_size, ACPI_TABLE_ALIGN);
	fadt = acpi_image_place(img, sizeof(*fadt), ACPI_TABLE_ALIGN);
	if (!rsdp || !xsdt || !fadt)
		return -ENOSPC;
	r = acpi_build_dsdt(img, cfg, &dsdt);
	if (r < 0)
		return r;
	r = acpi_build_madt(img, cfg, &madt);
	if (r < 0)
		return r;
	if (cfg->pci) {
		r = acpi_build_mcfg(img, cfg, &mcfg);
		if (r < 0)
			return r;
	}

	acpi_fill_fadt(fadt, dsdt);
	acpi_header_init(xsdt, "XSDT", xsdt_size, ACPI_XSDT_REVISION);
	acpi_xsdt_set(xsdt, ACPI_XSDT_FADT, acpi_image_gpa(img, fadt));
	acpi_xsdt_set(xsdt, ACPI_XSDT_MADT, acpi_image_gpa(img, madt));
	if (cfg->pci)
		acpi_xsdt_set(xsdt, ACPI_XSDT_MCFG, mcfg);
	acpi_header_seal(xsdt);
	acpi_rsdp_init(rsdp, acpi_image_gpa(img, xsdt));
	return 0;
}

/*
 * The PCI fields come from the VMM's layout, but a bad one would give the
 * guest a table describing nonsense: check what the encodings need.
 */
static bool acpi_pci_config_ok(const struct acpi_config *cfg)
{
	uint64_t nr_buses = cfg->pci_ecam_size / ACPI_ECAM_BUS_SIZE;

	if (!cfg->pci)
		return true;
	if (cfg->pci_ecam_size % ACPI_ECAM_BUS_SIZE || nr_buses == 0 ||
	    nr_buses > ACPI_PCI_MAX_BUSES || !IS_ALIGNED(cfg->pci_ecam_base, ACPI_ECAM_BUS_SIZE) ||
	    cfg->pci_ecam_base + cfg->pci_ecam_size > 4 * GiB)
		return false; /* Memory32Fixed: below 4 GiB */
	if (cfg->pci_mmio32_size == 0 || cfg->pci_mmio32_base >= 4 * GiB ||
	    cfg->pci_mmio32_size > 4 * GiB - cfg->pci_mmio32_base)
		return false;
	return cfg->pci_mmio64_size == 0 ||
	       range_ok(cfg->pci_mmio64_base, cfg->pci_mmio64_size);
}

int acpi_build_tables(struct guest_mem *mem, const struct acpi_config *cfg,
		      uint64_t *ret_rsdp)
{
	_cleanup_free_ uint8_t *buf = NULL;
	struct acpi_image img;
	int r;

	if (cfg->nr_vcpus == 0 || cfg->nr_vcpus > ACPI_MAX_VCPUS || !acpi_pci_config_ok(cfg))
		return -EINVAL;
	buf = calloc(1, ACPI_AREA_SIZE);
	if (!buf)
		return -ENOMEM;
	img = (struct acpi_image){ .buf = buf };
	r = acpi_build_image(&img, cfg);
	if (r < 0)
		return r;
	r = guest_mem_write(mem, LAYOUT_ACPI_START, buf, img.used);
	if (r < 0)
		return log_debug_errno(r, "Failed to write ACPI tables to guest memory");
	*ret_rsdp = LAYOUT_ACPI_START;
	return 0;
}
