/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PCI bus 0: the host bridge in slot 0, up to 31 devices, and the two ways
 * of reaching their configuration space, ECAM (MMIO) and the 0xCF8/0xCFC
 * port pair. Both end in pci_bus_config_access(), under bus->lock, so a
 * config cycle is atomic with respect to the other mechanism and to the
 * 0xCF8 latch.
 *
 * What a guest may send and what it gets:
 *   - a function other than 0, a bus other than 0 (through 0xCF8) or an
 *     empty slot: reads all-ones (how "no device" looks on PCI), writes
 *     are dropped;
 *   - an access that is not 1, 2 or 4 bytes naturally aligned: reads
 *     all-ones, writes dropped, logged once. The exception is an 8-byte
 *     ECAM access, which x86 guests do not make but a MOVQ could: it is
 *     split into its two aligned dwords.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "common/log.h"
#include "devices/pci.h"
#include "pci-regs.h"

static const struct pci_ids pci_host_bridge_ids = {
	.vendor = PCI_VENDOR_ID_INTEL,
	.device = PCI_DEVICE_ID_HOST_BRIDGE,
	.class_code = PCI_CLASS_BRIDGE,
	.subclass = PCI_SUBCLASS_BRIDGE_HOST,
};

/* Guest misbehaviour is logged once per process, not per access. */
static atomic_bool pci_bad_access_logged;

static void pci_log_bad_access(const char *what, uint32_t reg, uint32_t size)
{
	if (!atomic_exchange(&pci_bad_access_logged, true))
		log_debug("pci: ignoring %s config access at %#x size %u (further ones not logged)",
			  what, reg, size);
}

static bool pci_access_ok(uint32_t reg, uint32_t size)
{
	return (size == 1 || size == 2 || size == 4) && reg % size == 0 &&
	       reg + size <= PCI_CONFIG_SIZE;
}

/* One config cycle. Caller holds bus->lock. */
static void pci_bus_config_access(struct pci_bus *bus, unsigned int slot, unsigned int fn,
				  uint32_t reg, uint8_t *data, uint32_t size, bool write)
{
	struct pci_device *dev;

	if (!write)
		memset(data, 0xff, size);
	if (!pci_access_ok(reg, size)) {
		pci_log_bad_access(write ? "write" : "read", reg, size);
		return;
	}
	if (fn != 0 || slot >= PCI_MAX_SLOTS)
		return;
	if (slot == 0) {
		if (write)
			pci_config_write(&bus->host_bridge, reg, data, size, NULL);
		else
			pci_config_read(&bus->host_bridge, reg, data, size);
		return;
	}
	dev = bus->slots[slot];
	if (!dev)
		return;
	if (write)
		dev->ops->config_write(dev, reg, data, size);
	else
		dev->ops->config_read(dev, reg, data, size);
}

static void pci_ecam_access(struct pci_bus *bus, uint64_t offset, uint8_t *data, uint32_t size,
			    bool write)
{
	if (offset >= PCI_ECAM_SIZE_BUS0) {
		if (!write)
			memset(data, 0xff, size);
		return;
	}
	if (size == 8 && offset % 8 == 0) {
		pci_ecam_access(bus, offset, data, 4, write);
		pci_ecam_access(bus, offset + 4, data + 4, 4, write);
		return;
	}
	pthread_mutex_lock(&bus->lock);
	pci_bus_config_access(bus, PCI_ECAM_DEV(offset), PCI_ECAM_FN(offset),
			      (uint32_t)PCI_ECAM_REG(offset), data, size, write);
	pthread_mutex_unlock(&bus->lock);
}

static void pci_ecam_read(struct bus_device *d, uint64_t offset, uint8_t *data, uint32_t size)
{
	pci_ecam_access(container_of(d, struct pci_bus, ecam), offset, data, size, false);
}

static void pci_ecam_write(struct bus_device *d, uint64_t offset, const uint8_t *data,
			   uint32_t size)
{
	/* The write path never stores into data; the cast only shares the code. */
	pci_ecam_access(container_of(d, struct pci_bus, ecam), offset, (uint8_t *)data, size, true);
}

static const struct bus_device_ops pci_ecam_ops = {
	.read = pci_ecam_read,
	.write = pci_ecam_write,
};

/*
 * 0xCF8 (offset 0) is the address latch, a 32-bit register: narrower
 * accesses there belong to other legacy registers (0xCF9 is the reset
 * control register on PC chipsets) and are ignored. 0xCFC-0xCFF (offsets
 * 4-7) is the data window onto the latched dword.
 */
static void pci_cf8_access(struct pci_bus *bus, uint64_t offset, uint8_t *data, uint32_t size,
			   bool write)
{
	uint32_t k, cf8;

	if (!write)
		memset(data, 0xff, size);
	pthread_mutex_lock(&bus->lock);
	if (offset == 0 && size == 4) {
		if (write)
			bus->cf8 = (uint32_t)(data[0] | data[1] << 8 | data[2] << 16 |
					      (uint32_t)data[3] << 24) & PCI_CF8_WRITABLE;
		else
			for (unsigned int i = 0; i < 4; i++)
				data[i] = (uint8_t)(bus->cf8 >> (8 * i));
		goto unlock;
	}
	if (offset < 4 || offset >= PCI_CF8_LEN)
		goto unlock;
	k = (uint32_t)offset - 4;
	cf8 = bus->cf8;
	if (!(cf8 & PCI_CF8_ENABLE) || PCI_CF8_BUS(cf8) != 0)
		goto unlock;
	if (size > 4 - k) {
		pci_log_bad_access(write ? "0xcfc write" : "0xcfc read", PCI_CF8_REG(cf8) + k, size);
		goto unlock;
	}
	pci_bus_config_access(bus, PCI_CF8_DEV(cf8), PCI_CF8_FN(cf8), PCI_CF8_REG(cf8) + k, data,
			      size, write);
unlock:
	pthread_mutex_unlock(&bus->lock);
}

static void pci_cf8_read(struct bus_device *d, uint64_t offset, uint8_t *data, uint32_t size)
{
	pci_cf8_access(container_of(d, struct pci_bus, cf8_dev), offset, data, size, false);
}

static void pci_cf8_write(struct bus_device *d, uint64_t offset, const uint8_t *data,
			  uint32_t size)
{
	pci_cf8_access(container_of(d, struct pci_bus, cf8_dev), offset, (uint8_t *)data, size,
		       true);
}

static const struct bus_device_ops pci_cf8_ops = {
	.read = pci_cf8_read,
	.write = pci_cf8_write,
};

int pci_bus_init(struct pci_bus *bus)
{
	int r;

	memset(bus, 0, sizeof(*bus));
	r = pthread_mutex_init(&bus->lock, NULL);
	if (r)
		return -r;
	pci_config_init(&bus->host_bridge, &pci_host_bridge_ids);
	bus->ecam = (struct bus_device){ .ops = &pci_ecam_ops, .name = "pci-ecam" };
	bus->cf8_dev = (struct bus_device){ .ops = &pci_cf8_ops, .name = "pci-cf8" };
	return 0;
}

/* The devices are not destroyed: whoever created them owns them. */
void pci_bus_fini(struct pci_bus *bus)
{
	if (!bus)
		return;
	pthread_mutex_destroy(&bus->lock);
	memset(bus->slots, 0, sizeof(bus->slots));
}

int pci_bus_add(struct pci_bus *bus, struct pci_device *dev, int slot)
{
	int r = 0;

	if (!dev || !dev->ops || !dev->ops->config_read || !dev->ops->config_write ||
	    slot == 0 || slot >= PCI_MAX_SLOTS)
		return -EINVAL;

	pthread_mutex_lock(&bus->lock);
	if (slot < 0) {
		for (slot = 1; slot < PCI_MAX_SLOTS && bus->slots[slot]; slot++)
			;
		if (slot == PCI_MAX_SLOTS) {
			r = -ENOSPC;
			goto unlock;
		}
	} else if (bus->slots[slot]) {
		r = -EBUSY;
		goto unlock;
	}
	bus->slots[slot] = dev;
	dev->slot = (uint8_t)slot;
	log_debug("pci: %s in slot %d", dev->name ? dev->name : "device", slot);
unlock:
	pthread_mutex_unlock(&bus->lock);
	return r;
}
