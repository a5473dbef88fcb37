/* SPDX-License-Identifier: Apache-2.0 */
#include "msi.h"

#include <stdlib.h>
#include <sys/eventfd.h>

#include "common/log.h"
#include "hv/hv.h"

/* KVM's routing table holds at most 4096 entries; keep far below. */
#define VMM_MSI_MAX_GSI 4000

struct vmm_msi {
	struct hv_vm *hv_vm;
	uint32_t gsi_base;
	uint16_t nr_vectors;
	uint16_t nr_bound; /* vectors whose irqfd is assigned */
	int fds[];
};

static int vmm_msi_route(void *opaque, uint16_t vector, uint64_t addr, uint32_t data)
{
	struct vmm_msi *msi = opaque;

	if (vector >= msi->nr_vectors)
		return -EINVAL;
	return hv_vm_msi_route_set(msi->hv_vm, msi->gsi_base + vector, addr, data);
}

static int vmm_msi_fire(void *opaque, uint16_t vector)
{
	struct vmm_msi *msi = opaque;
	uint64_t one = 1;

	if (vector >= msi->nr_vectors)
		return -EINVAL;
	/* EAGAIN: the counter is saturated, an interrupt is pending anyway. */
	if (write(msi->fds[vector], &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

const struct msix_irq_ops vmm_msi_ops = {
	.route = vmm_msi_route,
	.fire = vmm_msi_fire,
};

int vmm_msi_create(struct hv_vm *hv_vm, uint32_t *next_gsi, uint16_t nr_vectors,
		   struct vmm_msi **ret)
{
	struct vmm_msi *msi;
	int r;

	if (nr_vectors == 0 || *next_gsi + nr_vectors > VMM_MSI_MAX_GSI)
		return -ENOSPC;
	msi = calloc(1, sizeof(*msi) + nr_vectors * sizeof(int));
	if (!msi)
		return -ENOMEM;
	msi->hv_vm = hv_vm;
	msi->gsi_base = *next_gsi;
	msi->nr_vectors = nr_vectors;
	for (uint16_t v = 0; v < nr_vectors; v++)
		msi->fds[v] = -1;
	for (uint16_t v = 0; v < nr_vectors; v++) {
		msi->fds[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (msi->fds[v] < 0) {
			r = -errno;
			goto fail;
		}
		/* Until the guest programs the entry the GSI has no route, so a
		 * fire is dropped by the hypervisor; MSI-X keeps it pending. */
		r = hv_vm_irqfd_assign(hv_vm, msi->fds[v], msi->gsi_base + v);
		if (r < 0)
			goto fail;
		msi->nr_bound++;
	}
	*next_gsi += nr_vectors;
	*ret = msi;
	return 0;
fail:
	vmm_msi_destroy(msi);
	return r;
}

void vmm_msi_destroy(struct vmm_msi *msi)
{
	if (!msi)
		return;
	for (uint16_t v = 0; v < msi->nr_vectors; v++) {
		if (v < msi->nr_bound &&
		    hv_vm_irqfd_deassign(msi->hv_vm, msi->fds[v], msi->gsi_base + v) < 0)
			log_debug("msi: irqfd of GSI %u was not bound", msi->gsi_base + v);
		/* -ENOENT: the guest never programmed this vector */
		(void)!hv_vm_msi_route_remove(msi->hv_vm, msi->gsi_base + v);
		if (msi->fds[v] >= 0)
			close(msi->fds[v]);
	}
	free(msi);
}
