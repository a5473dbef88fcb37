/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio 1.x PCI modern transport (virtio 1.x 4.1): vendor 0x1af4,
 * device 0x1040 + type, one 64-bit memory BAR (BAR0) holding the common,
 * ISR, device-specific and notification structures plus the MSI-X table and
 * PBA, each announced by a vendor-specific capability (or the MSI-X one).
 * Queue notifications are meant to arrive through ioeventfds the VMM binds
 * on each queue's notify address to the device's kick eventfds; a notify
 * write that reaches the transport anyway is forwarded to the same eventfd.
 */
#pragma once

#include <stdint.h>

#include "common/macros.h"
#include "devices/bus.h"
#include "devices/msix.h"
#include "devices/pci.h"
#include "devices/virtio.h"

#define VIRTIO_PCI_BAR_SIZE (512 * 1024)
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 4

struct virtio_pci;

/* What the transport needs from the VMM. */
struct virtio_pci_host_ops {
	/*
	 * The guest moved BAR0: remap its MMIO range and the queues' ioeventfds.
	 * Called on the vCPU thread inside the config write, which came through
	 * the ECAM (MMIO bus) or 0xCF8 (port bus) with that bus's read lock and
	 * pci_bus.lock held: bus_remove/bus_insert on the same bus from here
	 * would deadlock, so defer the MMIO remap until the exit is dispatched.
	 */
	int (*bar_moved)(void *opaque, struct virtio_pci *vp, uint64_t old_addr, uint64_t new_addr);
};

/*
 * Wrap vdev (not owned) in a PCI function with nr_vectors = queues + 1
 * (config) MSI-X vectors delivered through irq/irq_opaque.
 */
int virtio_pci_create(struct virtio_dev *vdev, const struct msix_irq_ops *irq, void *irq_opaque,
		      const struct virtio_pci_host_ops *host, void *host_opaque,
		      struct virtio_pci **ret) _wur_;
/* After the device is reset (no worker may still raise interrupts). Accepts NULL. */
void virtio_pci_destroy(struct virtio_pci *vp);
struct pci_device *virtio_pci_pci_device(struct virtio_pci *vp);
/* The BAR0 MMIO device; place it at virtio_pci_bar_addr() for VIRTIO_PCI_BAR_SIZE. */
struct bus_device *virtio_pci_bar_device(struct virtio_pci *vp);
void virtio_pci_set_bar_addr(struct virtio_pci *vp, uint64_t addr);
uint64_t virtio_pci_bar_addr(const struct virtio_pci *vp);
/* Guest address of queue q's notify register (for the ioeventfd), at BAR0 `bar`. */
uint64_t virtio_pci_notify_addr(const struct virtio_pci *vp, uint16_t queue);
struct virtio_dev *virtio_pci_vdev(struct virtio_pci *vp);
