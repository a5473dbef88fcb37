/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-pci transport's private state, shared by virtio-pci.c (BAR0
 * dispatch, PCI config space, interrupts, creation) and virtio-pci-common.c
 * (the common configuration structure).
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio-pci.h"

/* BAR0 layout */
#define VP_COMMON_OFFSET 0x0000
#define VP_COMMON_SIZE 0x38
#define VP_ISR_OFFSET 0x1000
#define VP_ISR_SIZE 1
#define VP_DEVICE_OFFSET 0x2000
#define VP_DEVICE_MAX 0x1000
#define VP_NOTIFY_OFFSET 0x3000
#define VP_MSIX_TABLE_OFFSET 0x8000
#define VP_MSIX_PBA_OFFSET 0x48000
#define VP_REGION_SIZE 0x1000 /* common, ISR, device and notify each own 4 KiB */

_Static_assert(VP_MSIX_TABLE_OFFSET + MSIX_MAX_VECTORS * MSIX_ENTRY_SIZE <= VP_MSIX_PBA_OFFSET,
	       "MSI-X table overlaps the PBA");
_Static_assert(VP_MSIX_PBA_OFFSET + MSIX_MAX_VECTORS / 8 <= VIRTIO_PCI_BAR_SIZE,
	       "PBA outside BAR0");
_Static_assert(VIRTIO_MAX_QUEUES * VIRTIO_PCI_NOTIFY_MULTIPLIER <= VP_REGION_SIZE,
	       "notify region too small");

/* Vendor capability (virtio 1.x 4.1.4) */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG 5
#define VP_CAP_LEN 16
#define VP_NOTIFY_CAP_LEN 20 /* + notify_off_multiplier */
#define VP_CFG_CAP_LEN 20    /* + pci_cfg_data */
#define VP_CAP_BAR 4
#define VP_CAP_OFFSET 8
#define VP_CAP_LENGTH 12
#define VP_CFG_CAP_DATA 16
#define VP_MSIX_CAP_LEN 12
#define VP_MSIX_CAP_CONTROL 2

#define VIRTIO_PCI_ISR_QUEUE 0x1
#define VIRTIO_PCI_ISR_CONFIG 0x2

#define VIRTIO_PCI_DEVICE_ID_BASE 0x1040
#define VIRTIO_PCI_REVISION 1 /* non-transitional */

struct virtio_pci {
	struct pci_device pci;
	struct bus_device bar;
	struct virtio_dev *vdev;
	struct msix msix;
	const struct virtio_pci_host_ops *host;
	void *host_opaque;

	pthread_mutex_t lock; /* cfg */
	struct pci_config cfg;
	uint8_t msix_cap;     /* config-space offsets of the two capabilities */
	uint8_t cfg_cap;      /* whose accesses have side effects */
	uint64_t bar_addr;    /* atomic: read by the VMM without the lock */

	/* common configuration state, under vdev->lock */
	uint32_t device_feature_select;
	uint32_t driver_feature_select;
	uint16_t queue_select;

	uint8_t isr; /* atomic: set by the worker, read-cleared by the vCPU */
	bool bad_access_logged;
};

void vp_log_bad_access(struct virtio_pci *vp, const char *what, uint64_t offset, uint32_t size);

static inline uint64_t vp_le_get(const uint8_t *p, uint32_t size)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < size && i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline void vp_le_put(uint8_t *p, uint32_t size, uint64_t v)
{
	for (uint32_t i = 0; i < size && i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* An access at `off` within the common configuration (BAR0 + VP_COMMON_OFFSET). */
void vp_common_access(struct virtio_pci *vp, uint64_t off, uint8_t *data, uint32_t size,
		      bool write);
