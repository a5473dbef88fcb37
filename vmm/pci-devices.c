/* SPDX-License-Identifier: Apache-2.0 */
#include "pci-devices.h"

#include <inttypes.h>
#include <string.h>

#include "common/log.h"
#include "devices/virtio-pci.h"
#include "hv/hv.h"
#include "msi.h"
#include "vmm/layout.h"

/* Linux writes the 16-bit queue index to the notify register. */
#define VMM_NOTIFY_WRITE_SIZE 2

static int vmm_pci_map_bar(struct vmm_pci *pci, struct vmm_pci_dev *d, uint64_t addr)
{
	struct virtio_dev *vdev = d->vdev;
	uint16_t q;
	int r;

	r = bus_insert(pci->mmio_bus, virtio_pci_bar_device(d->vp), addr, VIRTIO_PCI_BAR_SIZE);
	if (r < 0)
		return r;
	d->bar_addr = addr;
	for (q = 0; q < vdev->nr_queues; q++) {
		r = hv_vm_ioeventfd_assign(pci->hv_vm, vdev->kick_fds[q],
					   virtio_pci_notify_addr(d->vp, q), VMM_NOTIFY_WRITE_SIZE,
					   false, -1);
		if (r < 0)
			break;
	}
	if (r < 0) {
		while (q--)
			(void)!hv_vm_ioeventfd_deassign(pci->hv_vm, vdev->kick_fds[q],
							virtio_pci_notify_addr(d->vp, q),
							VMM_NOTIFY_WRITE_SIZE, false, -1);
		(void)!bus_remove(pci->mmio_bus, addr);
		return r;
	}
	d->mapped = true;
	return 0;
}

static void vmm_pci_unmap_bar(struct vmm_pci *pci, struct vmm_pci_dev *d)
{
	struct virtio_dev *vdev = d->vdev;

	if (!d->mapped)
		return;
	/* The notify addresses are computed from the BAR address the
	 * transport holds, which is still the old one here. */
	for (uint16_t q = 0; q < vdev->nr_queues; q++)
		(void)!hv_vm_ioeventfd_deassign(pci->hv_vm, vdev->kick_fds[q],
						virtio_pci_notify_addr(d->vp, q),
						VMM_NOTIFY_WRITE_SIZE, false, -1);
	(void)!bus_remove(pci->mmio_bus, d->bar_addr);
	d->mapped = false;
}

/* The guest reprogrammed BAR0 (Linux keeps firmware placements, but a
 * guest may move them). Called inside the config write: only record it. */
static int vmm_pci_bar_moved(void *opaque, struct virtio_pci *vp, uint64_t old_addr,
			     uint64_t new_addr)
{
	struct vmm_pci *pci = opaque;

	(void)old_addr;
	pthread_mutex_lock(&pci->move_lock);
	for (unsigned int i = 0; i < pci->nr_devs; i++) {
		if (pci->devs[i].vp != vp)
			continue;
		pci->devs[i].move_pending = true;
		pci->devs[i].move_to = new_addr;
		__atomic_store_n(&pci->moves_pending, true, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&pci->move_lock);
	return 0;
}

void vmm_pci_apply_moves(struct vmm_pci *pci)
{
	if (!__atomic_load_n(&pci->moves_pending, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&pci->move_lock);
	for (unsigned int i = 0; i < pci->nr_devs; i++) {
		struct vmm_pci_dev *d = &pci->devs[i];

		if (!d->move_pending)
			continue;
		d->move_pending = false;
		/* ioeventfds are deassigned at the notify addresses of the old
		 * BAR, so the transport must see that one while unmapping. */
		virtio_pci_set_bar_addr(d->vp, d->bar_addr);
		vmm_pci_unmap_bar(pci, d);
		virtio_pci_set_bar_addr(d->vp, d->move_to);
		if (vmm_pci_map_bar(pci, d, d->move_to) < 0)
			log_warn("pci: %s: BAR0 moved to %#" PRIx64
				 ", which collides with another device; left unmapped",
				 d->vdev->name, d->move_to);
	}
	__atomic_store_n(&pci->moves_pending, false, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&pci->move_lock);
}

static const struct virtio_pci_host_ops vmm_pci_host_ops = {
	.bar_moved = vmm_pci_bar_moved,
};

int vmm_pci_init(struct vmm_pci *pci, struct hv_vm *hv_vm, struct bus *pio_bus,
		 struct bus *mmio_bus, uint64_t ram_size, struct error *err)
{
	uint64_t start, size;
	int r;

	memset(pci, 0, sizeof(*pci));
	pci->hv_vm = hv_vm;
	pci->pio_bus = pio_bus;
	pci->mmio_bus = mmio_bus;
	pci->next_gsi = HV_MSI_GSI_BASE;
	pthread_mutex_init(&pci->move_lock, NULL);
	layout_pci_mmio64(ram_size, &start, &size);
	pci->mmio64_next = start;
	pci->mmio64_end = start + size;

	r = pci_bus_init(&pci->bus);
	if (r < 0)
		return error_set(err, r, "pci: cannot create the host bridge");
	pci->bus_ready = true;
	r = bus_insert(mmio_bus, &pci->bus.ecam, LAYOUT_PCI_ECAM_START, PCI_ECAM_SIZE_BUS0);
	if (r >= 0)
		r = bus_insert(pio_bus, &pci->bus.cf8_dev, PCI_CF8_PORT, PCI_CF8_LEN);
	if (r < 0)
		return error_set(err, r, "pci: cannot place the config space mechanisms");
	return 0;
}

/* BAR0 of every virtio device goes in the 64-bit window, naturally aligned. */
static int vmm_pci_alloc_bar(struct vmm_pci *pci, uint64_t size, uint64_t *ret)
{
	uint64_t addr = ALIGN_UP(pci->mmio64_next, size);

	if (addr + size > pci->mmio64_end)
		return -ENOSPC;
	pci->mmio64_next = addr + size;
	*ret = addr;
	return 0;
}

int vmm_pci_add_virtio_take(struct vmm_pci *pci, struct virtio_dev *vdev, struct error *err)
{
	struct vmm_pci_dev *d;
	uint64_t addr;
	int r;

	if (pci->nr_devs >= VMM_PCI_MAX_DEVICES) {
		vdev->ops->destroy(vdev);
		return error_set(err, -ENOSPC, "pci: no free slot for %s (at most %d devices)",
				 vdev->name, VMM_PCI_MAX_DEVICES);
	}
	d = &pci->devs[pci->nr_devs++];
	d->vdev = vdev;

	r = vmm_msi_create(pci->hv_vm, &pci->next_gsi, (uint16_t)(vdev->nr_queues + 1), &d->msi);
	if (r < 0)
		return error_set(err, r, "%s: cannot allocate its MSI-X interrupts", vdev->name);
	r = virtio_pci_create(vdev, &vmm_msi_ops, d->msi, &vmm_pci_host_ops, pci, &d->vp);
	if (r < 0)
		return error_set(err, r, "%s: cannot create its PCI transport", vdev->name);
	r = pci_bus_add(&pci->bus, virtio_pci_pci_device(d->vp), -1);
	if (r < 0)
		return error_set(err, r, "%s: no free PCI slot", vdev->name);
	r = vmm_pci_alloc_bar(pci, VIRTIO_PCI_BAR_SIZE, &addr);
	if (r < 0)
		return error_set(err, r, "%s: the 64-bit PCI window is full", vdev->name);
	virtio_pci_set_bar_addr(d->vp, addr);
	r = vmm_pci_map_bar(pci, d, addr);
	if (r < 0)
		return error_set(err, r, "%s: cannot map BAR0 at %#" PRIx64, vdev->name, addr);
	log_info("pci: %s at slot %u, BAR0 %#" PRIx64, vdev->name,
		 virtio_pci_pci_device(d->vp)->slot, addr);
	return 0;
}

void vmm_pci_quiesce(struct vmm_pci *pci)
{
	for (unsigned int i = 0; i < pci->nr_devs; i++)
		if (pci->devs[i].vdev)
			virtio_dev_reset(pci->devs[i].vdev);
}

void vmm_pci_fini(struct vmm_pci *pci)
{
	vmm_pci_quiesce(pci);
	for (unsigned int i = 0; i < pci->nr_devs; i++) {
		struct vmm_pci_dev *d = &pci->devs[i];

		if (d->vp) {
			vmm_pci_unmap_bar(pci, d);
			virtio_pci_destroy(d->vp);
		}
		vmm_msi_destroy(d->msi);
		if (d->vdev)
			d->vdev->ops->destroy(d->vdev);
	}
	pci->nr_devs = 0;
	if (pci->bus_ready) {
		(void)!bus_remove(pci->mmio_bus, LAYOUT_PCI_ECAM_START);
		(void)!bus_remove(pci->pio_bus, PCI_CF8_PORT);
		pci_bus_fini(&pci->bus);
		pci->bus_ready = false;
		pthread_mutex_destroy(&pci->move_lock);
	}
}
