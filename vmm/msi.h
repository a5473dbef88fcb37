/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MSI-X delivery for one PCI function, backed by the hypervisor: each vector
 * owns a GSI, an eventfd bound to it by irqfd, and an MSI route that follows
 * the guest's table entry. Firing a vector is one eventfd write, from any
 * thread, without a VM exit.
 */
#pragma once

#include <stdint.h>

#include "common/macros.h"
#include "devices/msix.h"

struct hv_vm;
struct vmm_msi;

/* GSIs come from *next_gsi upward (advanced by nr_vectors). */
int vmm_msi_create(struct hv_vm *hv_vm, uint32_t *next_gsi, uint16_t nr_vectors,
		   struct vmm_msi **ret) _wur_;
void vmm_msi_destroy(struct vmm_msi *msi);

/* The msix_irq_ops to hand to a device, with the vmm_msi as opaque. */
extern const struct msix_irq_ops vmm_msi_ops;
