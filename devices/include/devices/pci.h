/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PCI: one segment, bus 0, 32 slots, function 0 only. Config space is
 * reached through ECAM (MMIO, described by the MCFG table) and through the
 * legacy 0xCF8/0xCFC mechanism; both dispatch to the same devices.
 *
 * struct pci_config implements the standard type-0 header for a device: IDs,
 * command/status, BARs with sizing (all-ones writes read back the size mask),
 * a capability list, and write masks so the guest can only change what
 * hardware would let it. Devices embed struct pci_device.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/macros.h"
#include "devices/bus.h"

#define PCI_CONFIG_SIZE 4096 /* PCIe extended config space per function */
#define PCI_MAX_SLOTS 32
#define PCI_NUM_BARS 6
#define PCI_ECAM_SIZE_BUS0 (PCI_MAX_SLOTS * 8 * PCI_CONFIG_SIZE) /* 1 MiB */
#define PCI_CF8_PORT 0xcf8
#define PCI_CF8_LEN 8 /* 0xcf8-0xcff */

#define PCI_VENDOR_ID_REDHAT_QUMRANET 0x1af4 /* virtio */
#define PCI_VENDOR_ID_INTEL 0x8086
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11
#define PCI_COMMAND_IO 0x1
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4

struct pci_device;

struct pci_bar {
	uint64_t addr;	/* guest address the VMM placed it at (what the guest sees) */
	uint64_t size;	/* power of two; 0 = unused */
	bool is_64bit;
	bool prefetchable;
};

struct pci_config {
	uint8_t data[PCI_CONFIG_SIZE];
	uint8_t wmask[PCI_CONFIG_SIZE];	  /* bits the guest may write */
	uint8_t w1cmask[PCI_CONFIG_SIZE]; /* write-1-to-clear bits (status) */
	struct pci_bar bars[PCI_NUM_BARS];
	uint8_t next_cap;		  /* where the next capability goes */
};

/* IDs and class for a type-0 header. */
struct pci_ids {
	uint16_t vendor, device, subsystem_vendor, subsystem;
	uint8_t revision, class_code, subclass, prog_if;
};

void pci_config_init(struct pci_config *cfg, const struct pci_ids *ids);
/* A memory BAR of `size` (power of two, >= 4096); 64-bit BARs use two slots. */
int pci_config_add_bar(struct pci_config *cfg, unsigned int bar, uint64_t size, bool is_64bit,
		       bool prefetchable) _wur_;
/* Set the address the VMM assigned (what the guest reads before moving it). */
void pci_config_set_bar_addr(struct pci_config *cfg, unsigned int bar, uint64_t addr);
/*
 * Append a capability (cap[0] = id, cap[1] = next is filled in) of `len`
 * bytes; *ret_offset is its config-space offset. `wmask` (may be NULL) gives
 * the guest-writable bits of the capability body.
 */
int pci_config_add_cap(struct pci_config *cfg, const uint8_t *cap, const uint8_t *wmask,
		       uint8_t len, uint8_t *ret_offset) _wur_;
void pci_config_read(const struct pci_config *cfg, uint32_t offset, uint8_t *data, uint32_t size);
/*
 * Apply a guest write through the masks. If it changed a BAR's address to a
 * new, complete value (not a sizing write), *ret_moved_bar is set to the BAR
 * index (else -1) and the caller moves its mapping (pci_bar.addr updated).
 */
void pci_config_write(struct pci_config *cfg, uint32_t offset, const uint8_t *data, uint32_t size,
		      int *ret_moved_bar);
uint16_t pci_config_command(const struct pci_config *cfg);

struct pci_device_ops {
	/* offset+size within PCI_CONFIG_SIZE, size 1/2/4, naturally aligned */
	void (*config_read)(struct pci_device *dev, uint32_t offset, uint8_t *data, uint32_t size);
	void (*config_write)(struct pci_device *dev, uint32_t offset, const uint8_t *data,
			     uint32_t size);
	void (*destroy)(struct pci_device *dev);
};

struct pci_device {
	const struct pci_device_ops *ops;
	const char *name;
	uint8_t slot; /* assigned by pci_bus_add() */
};

struct pci_bus {
	pthread_mutex_t lock;		/* config cycles; cf8 address latch */
	struct pci_device *slots[PCI_MAX_SLOTS];
	uint32_t cf8;			/* the 0xCF8 address latch */
	struct pci_config host_bridge;	/* slot 0: the host bridge itself */
	struct bus_device ecam;		/* place at the ECAM base, PCI_ECAM_SIZE_BUS0 */
	struct bus_device cf8_dev;	/* place at PCI_CF8_PORT, PCI_CF8_LEN */
};

int pci_bus_init(struct pci_bus *bus) _wur_;
/* Does not destroy the devices: their creator does (ops->destroy or its own destroy). */
void pci_bus_fini(struct pci_bus *bus);
/* Put dev in `slot` (1..31) or the first free one (slot < 0). -ENOSPC/-EBUSY. */
int pci_bus_add(struct pci_bus *bus, struct pci_device *dev, int slot) _wur_;
