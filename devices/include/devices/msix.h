/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MSI-X (PCI 3.0 6.8.2): the capability's control bits, the vector table and
 * the pending bit array, as a device embeds them. Delivery goes through
 * struct msix_irq_ops, which the VMM backs with per-vector GSIs: an eventfd
 * bound by irqfd, routed to the entry's address/data through MSI routing.
 * A vector that fires while masked (per entry or function-wide, or with
 * MSI-X disabled) sets its pending bit and is delivered when unmasked.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/macros.h"

#define MSIX_ENTRY_SIZE 16
#define MSIX_MAX_VECTORS 2048
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_FUNC_MASK 0x4000
#define MSIX_VECTOR_MASKED 0x1

struct msix_irq_ops {
	/* (Re)program vector v to deliver address/data; called on unmasked table updates. */
	int (*route)(void *opaque, uint16_t vector, uint64_t addr, uint32_t data);
	/* Deliver vector v now (any thread). */
	int (*fire)(void *opaque, uint16_t vector);
};

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct msix {
	pthread_mutex_t lock;
	uint16_t nr_vectors;
	struct msix_entry *table;
	uint64_t *pba;
	bool enabled;
	bool func_masked;
	const struct msix_irq_ops *ops;
	void *opaque;
};

int msix_init(struct msix *m, uint16_t nr_vectors, const struct msix_irq_ops *ops,
	      void *opaque) _wur_;
void msix_fini(struct msix *m);
/* Entries start masked; used by device reset. */
void msix_reset(struct msix *m);
/* Guest wrote the capability's Message Control word. */
void msix_write_control(struct msix *m, uint16_t control);
uint16_t msix_read_control(struct msix *m); /* table size - 1 | enable | mask */
/* Table / PBA accesses at an offset within their region; size 4 or 8. */
void msix_table_read(struct msix *m, uint64_t offset, uint8_t *data, uint32_t size);
void msix_table_write(struct msix *m, uint64_t offset, const uint8_t *data, uint32_t size);
void msix_pba_read(struct msix *m, uint64_t offset, uint8_t *data, uint32_t size);
/* Raise vector v (VIRTIO_MSI_NO_VECTOR or out of range: ignored, returns 0). */
int msix_signal(struct msix *m, uint16_t vector);
