/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An interrupt line as a device sees it: one call raises an edge. The VMM
 * backs it with an irqfd (eventfd) bound to a GSI; tests back it with a
 * counter.
 */
#pragma once

struct irq_line {
	/* Returns 0 or -errno. Must be safe to call from any thread. */
	int (*trigger)(void *opaque);
	void *opaque;
};

static inline int irq_line_trigger(const struct irq_line *irq)
{
	return irq && irq->trigger ? irq->trigger(irq->opaque) : 0;
}
