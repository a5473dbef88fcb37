/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM's PCI side: the host bridge with its ECAM and 0xCF8 config
 * mechanisms, BAR placement in the 32-bit and 64-bit MMIO windows, and
 * virtio devices plugged in through the virtio-pci transport with MSI-X
 * through irqfd and queue notifications through ioeventfds.
 */
#pragma once

#include <pthread.h>
#include <stdint.h>

#include "common/error.h"
#include "common/macros.h"
#include "devices/bus.h"
#include "devices/pci.h"
#include "devices/virtio.h"

struct hv_vm;
struct virtio_pci;
struct vmm_msi;

#define VMM_PCI_MAX_DEVICES (PCI_MAX_SLOTS - 1)

struct vmm_pci_dev {
	struct virtio_dev *vdev; /* owned: vdev->ops->destroy */
	struct virtio_pci *vp;
	struct vmm_msi *msi;
	uint64_t bar_addr;
	bool mapped;
	/* a BAR move the guest made, applied by vmm_pci_apply_moves() */
	bool move_pending;
	uint64_t move_to;
};

struct vmm_pci {
	struct hv_vm *hv_vm;
	struct bus *pio_bus;
	struct bus *mmio_bus;
	struct pci_bus bus;
	bool bus_ready;
	uint64_t mmio64_next, mmio64_end;
	uint32_t next_gsi;
	struct vmm_pci_dev devs[VMM_PCI_MAX_DEVICES];
	unsigned int nr_devs;
	pthread_mutex_t move_lock;
	bool moves_pending; /* read without the lock as a hint */
};

int vmm_pci_init(struct vmm_pci *pci, struct hv_vm *hv_vm, struct bus *pio_bus,
		 struct bus *mmio_bus, uint64_t ram_size, struct error *err) _wur_;
/* Plug vdev (ownership taken, also on failure) into the next free slot. */
int vmm_pci_add_virtio_take(struct vmm_pci *pci, struct virtio_dev *vdev, struct error *err) _wur_;
/*
 * Remap BARs the guest moved. A move is reported during the config write,
 * with the bus locks held, so it is only recorded then; the vCPU thread calls
 * this after the access has been dispatched.
 */
void vmm_pci_apply_moves(struct vmm_pci *pci);
/* Reset every device (workers stopped, nothing in flight). */
void vmm_pci_quiesce(struct vmm_pci *pci);
void vmm_pci_fini(struct vmm_pci *pci);
