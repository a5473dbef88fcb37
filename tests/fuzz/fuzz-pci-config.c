/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: a PCI bus with a virtio-pci function (around a dummy
 * virtio device) driven by a hostile guest through ECAM, 0xCF8/0xCFC and
 * BAR0, with device-side interrupts mixed in. Nothing may crash, hang, leak
 * or trip the sanitizers.
 *
 * Input: a sequence of 13-byte operations
 *   kind   (1 byte)  bits 1:0 target: 0 ECAM, 1 CF8 ports, 2 BAR0, 3 device
 *                    bit 2 write, bits 4:3 size 1/2/4/8,
 *                    bit 7 aim at the interesting part (slot 1 / BAR0 registers)
 *   offset (4 bytes, little-endian)
 *   value  (8 bytes, little-endian)
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/guest-mem.h"
#include "devices/pci.h"
#include "devices/virtio-pci.h"

#define OP_SIZE 13
#define MAX_OPS 4096
#define NR_QUEUES 2
#define MEM_SIZE (256 * 1024)

struct dummy {
	struct virtio_dev vdev;
	uint8_t config[12];
};

static uint64_t dummy_features(struct virtio_dev *vdev)
{
	return VIRTIO_BIT(0) | VIRTIO_BIT(5);
}

static void dummy_config_read(struct virtio_dev *vdev, uint32_t off, uint8_t *data, uint32_t size)
{
	memcpy(data, container_of(vdev, struct dummy, vdev)->config + off, size);
}

static void dummy_config_write(struct virtio_dev *vdev, uint32_t off, const uint8_t *data,
			       uint32_t size)
{
	memcpy(container_of(vdev, struct dummy, vdev)->config + off, data, size);
}

static int dummy_activate(struct virtio_dev *vdev)
{
	return 0;
}

static void dummy_reset(struct virtio_dev *vdev)
{
}

static const struct virtio_device_ops dummy_ops = {
	.features = dummy_features,
	.config_read = dummy_config_read,
	.config_write = dummy_config_write,
	.activate = dummy_activate,
	.reset = dummy_reset,
};

static int irq_route(void *opaque, uint16_t v, uint64_t addr, uint32_t data)
{
	return v <= NR_QUEUES ? 0 : -22;
}

static int irq_fire(void *opaque, uint16_t v)
{
	return v <= NR_QUEUES ? 0 : -22;
}

static const struct msix_irq_ops irq_ops = { .route = irq_route, .fire = irq_fire };

static int bar_moved(void *opaque, struct virtio_pci *vp, uint64_t old_addr, uint64_t new_addr)
{
	/* What the VMM does: remember where the BAR now is. */
	*(uint64_t *)opaque = new_addr;
	return 0;
}

static const struct virtio_pci_host_ops host_ops = { .bar_moved = bar_moved };

static uint8_t guest_ram[MEM_SIZE];

static uint64_t le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* One access to a bus device, kept inside its range as the bus map does. */
static void bus_access(struct bus_device *dev, uint64_t range, uint64_t off, uint32_t size,
		   bool write, uint64_t value)
{
	uint8_t buf[8];

	if (size > range)
		return;
	off %= range - size + 1;
	for (uint32_t i = 0; i < size; i++)
		buf[i] = (uint8_t)(value >> (8 * i));
	if (write)
		dev->ops->write(dev, off, buf, size);
	else
		dev->ops->read(dev, off, buf, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const uint32_t sizes[] = { 1, 2, 4, 8 };
	struct dummy d = { 0 };
	struct virtio_pci *vp = NULL;
	struct guest_mem mem;
	struct pci_bus bus;
	uint64_t bar_addr = 0xc0000000;
	size_t nr_ops = MIN(len / OP_SIZE, (size_t)MAX_OPS);

	memset(guest_ram, 0, sizeof(guest_ram));
	guest_mem_init(&mem, false);
	if (guest_mem_add_buffer(&mem, 0, guest_ram, sizeof(guest_ram)) < 0)
		return 0;
	if (virtio_dev_init(&d.vdev, &dummy_ops, "fuzz0", VIRTIO_ID_NET, NR_QUEUES, 256,
			    sizeof(d.config)) < 0)
		goto out_mem;
	d.vdev.mem = &mem;
	if (virtio_pci_create(&d.vdev, &irq_ops, NULL, &host_ops, &bar_addr, &vp) < 0)
		goto out_vdev;
	virtio_pci_set_bar_addr(vp, bar_addr);
	if (pci_bus_init(&bus) < 0)
		goto out_vp;
	if (pci_bus_add(&bus, virtio_pci_pci_device(vp), 1) < 0)
		goto out_bus;

	for (size_t i = 0; i < nr_ops; i++) {
		const uint8_t *op = data + i * OP_SIZE;
		uint8_t kind = op[0];
		uint64_t off = le(op + 1, 4), value = le(op + 5, 8);
		uint32_t size = sizes[(kind >> 3) & 3];
		bool write = kind & 4, focus = kind & 0x80;

		switch (kind & 3) {
		case 0:
			if (focus)
				off = (UINT64_C(1) << 15) | (off & 0xfff);
			bus_access(&bus.ecam, PCI_ECAM_SIZE_BUS0, off, size, write, value);
			break;
		case 1:
			bus_access(&bus.cf8_dev, PCI_CF8_LEN, off, size, write, value);
			break;
		case 2:
			if (focus)
				off &= 0x3fff; /* common, ISR, device config, notify */
			bus_access(virtio_pci_bar_device(vp), VIRTIO_PCI_BAR_SIZE, off, size, write,
			       value);
			break;
		default:
			/* the device side: interrupts and config changes */
			if (value & 1)
				(void)d.vdev.transport->signal_config(&d.vdev);
			else
				(void)d.vdev.transport->signal_queue(&d.vdev,
								     (uint16_t)(off % (NR_QUEUES + 1)));
			if (value & 2)
				d.vdev.config_generation++;
			break;
		}
		/* Invariants a hostile guest must not break. */
		if (virtio_pci_bar_addr(vp) != bar_addr)
			__builtin_trap();
	}

out_bus:
	pci_bus_fini(&bus);
out_vp:
	virtio_pci_destroy(vp);
out_vdev:
	virtio_dev_fini(&d.vdev);
out_mem:
	guest_mem_destroy(&mem);
	return 0;
}
