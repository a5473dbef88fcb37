/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MSI-X state machine. A vector is deliverable when MSI-X is enabled, the
 * function is not masked and its entry is not masked; raising it otherwise
 * sets its pending bit, and whichever change makes it deliverable (entry
 * unmask, function unmask, enable) delivers it and clears the bit.
 *
 * The VMM learns an entry's address/data through ops->route whenever the
 * entry is unmasked, written while unmasked, or MSI-X/function-mask changes
 * make it live, so a KVM MSI route always matches an entry that can fire.
 * Writes to a masked entry are only stored: the guest masks, rewrites and
 * unmasks, and the route is set once at the unmask.
 *
 * Everything is under m->lock, including the calls to ops: route and fire
 * must not call back into this msix.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "devices/msix.h"

#define MSIX_TABLE_SIZE_MASK 0x07ff

static atomic_bool msix_bad_access_logged;

static void msix_log_bad_access(const char *what, uint64_t offset, uint32_t size)
{
	if (!atomic_exchange(&msix_bad_access_logged, true))
		log_debug("msix: ignoring %s at %#llx size %u (further ones not logged)", what,
			  (unsigned long long)offset, size);
}

static size_t msix_pba_words(uint16_t nr_vectors)
{
	return ((size_t)nr_vectors + 63) / 64;
}

static void msix_clear(struct msix *m)
{
	for (uint16_t v = 0; v < m->nr_vectors; v++)
		m->table[v] = (struct msix_entry){ .ctrl = MSIX_VECTOR_MASKED };
	memset(m->pba, 0, msix_pba_words(m->nr_vectors) * sizeof(*m->pba));
	m->enabled = false;
	m->func_masked = false;
}

int msix_init(struct msix *m, uint16_t nr_vectors, const struct msix_irq_ops *ops, void *opaque)
{
	int r;

	memset(m, 0, sizeof(*m));
	if (nr_vectors == 0 || nr_vectors > MSIX_MAX_VECTORS || !ops || !ops->route || !ops->fire)
		return -EINVAL;
	m->table = calloc(nr_vectors, sizeof(*m->table));
	m->pba = calloc(msix_pba_words(nr_vectors), sizeof(*m->pba));
	if (!m->table || !m->pba) {
		r = -ENOMEM;
		goto free;
	}
	r = pthread_mutex_init(&m->lock, NULL);
	if (r) {
		r = -r;
		goto free;
	}
	m->nr_vectors = nr_vectors;
	m->ops = ops;
	m->opaque = opaque;
	msix_clear(m);
	return 0;
free:
	free(m->table);
	free(m->pba);
	memset(m, 0, sizeof(*m));
	return r;
}

void msix_fini(struct msix *m)
{
	if (!m || !m->table)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->table);
	free(m->pba);
	memset(m, 0, sizeof(*m));
}

void msix_reset(struct msix *m)
{
	pthread_mutex_lock(&m->lock);
	msix_clear(m);
	pthread_mutex_unlock(&m->lock);
}

static bool msix_pending(const struct msix *m, uint16_t v)
{
	return m->pba[v / 64] & (UINT64_C(1) << (v % 64));
}

static void msix_set_pending(struct msix *m, uint16_t v, bool pending)
{
	if (pending)
		m->pba[v / 64] |= UINT64_C(1) << (v % 64);
	else
		m->pba[v / 64] &= ~(UINT64_C(1) << (v % 64));
}

/* Caller holds the lock. */
static bool msix_live(const struct msix *m)
{
	return m->enabled && !m->func_masked;
}

static void msix_route(struct msix *m, uint16_t v)
{
	const struct msix_entry *e = &m->table[v];
	int r;

	r = m->ops->route(m->opaque, v, (uint64_t)e->addr_hi << 32 | e->addr_lo, e->data);
	if (r < 0)
		log_debug_errno(r, "msix: routing vector %u failed", v);
}

/* Deliver v if it is pending and now deliverable. Caller holds the lock. */
static void msix_flush_pending(struct msix *m, uint16_t v)
{
	if (!msix_live(m) || (m->table[v].ctrl & MSIX_VECTOR_MASKED) || !msix_pending(m, v))
		return;
	msix_set_pending(m, v, false);
	(void)m->ops->fire(m->opaque, v);
}

void msix_write_control(struct msix *m, uint16_t control)
{
	bool was_live;

	pthread_mutex_lock(&m->lock);
	was_live = msix_live(m);
	m->enabled = control & MSIX_CTRL_ENABLE;
	m->func_masked = control & MSIX_CTRL_FUNC_MASK;
	if (!was_live && msix_live(m)) {
		for (uint16_t v = 0; v < m->nr_vectors; v++) {
			if (m->table[v].ctrl & MSIX_VECTOR_MASKED)
				continue;
			msix_route(m, v);
			msix_flush_pending(m, v);
		}
	}
	pthread_mutex_unlock(&m->lock);
}

uint16_t msix_read_control(struct msix *m)
{
	uint16_t control;

	pthread_mutex_lock(&m->lock);
	control = (uint16_t)((m->nr_vectors - 1) & MSIX_TABLE_SIZE_MASK);
	if (m->enabled)
		control |= MSIX_CTRL_ENABLE;
	if (m->func_masked)
		control |= MSIX_CTRL_FUNC_MASK;
	pthread_mutex_unlock(&m->lock);
	return control;
}

static uint32_t le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void le32_put(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Accesses are whole dwords or aligned qwords (PCI 3.0 6.8.2.9). */
static bool msix_access_ok(uint64_t offset, uint32_t size, uint64_t region)
{
	return (size == 4 || size == 8) && offset % size == 0 && offset < region &&
	       size <= region - offset;
}

static uint32_t msix_entry_field(const struct msix_entry *e, unsigned int field)
{
	switch (field) {
	case 0:
		return e->addr_lo;
	case 1:
		return e->addr_hi;
	case 2:
		return e->data;
	default:
		return e->ctrl;
	}
}

void msix_table_read(struct msix *m, uint64_t offset, uint8_t *data, uint32_t size)
{
	memset(data, 0, size);
	if (!msix_access_ok(offset, size, (uint64_t)m->nr_vectors * MSIX_ENTRY_SIZE)) {
		msix_log_bad_access("table read", offset, size);
		return;
	}
	pthread_mutex_lock(&m->lock);
	for (uint32_t i = 0; i < size; i += 4) {
		uint64_t o = offset + i;

		le32_put(data + i, msix_entry_field(&m->table[o / MSIX_ENTRY_SIZE],
						    (unsigned int)(o % MSIX_ENTRY_SIZE) / 4));
	}
	pthread_mutex_unlock(&m->lock);
}

/* One dword of entry v. Caller holds the lock. */
static void msix_entry_write(struct msix *m, uint16_t v, unsigned int field, uint32_t val)
{
	struct msix_entry *e = &m->table[v];
	bool was_masked = e->ctrl & MSIX_VECTOR_MASKED;
	bool changed;

	switch (field) {
	case 0:
		changed = e->addr_lo != val;
		e->addr_lo = val;
		break;
	case 1:
		changed = e->addr_hi != val;
		e->addr_hi = val;
		break;
	case 2:
		changed = e->data != val;
		e->data = val;
		break;
	default:
		/* Only the mask bit is defined; the rest is reserved, reads 0. */
		e->ctrl = val & MSIX_VECTOR_MASKED;
		changed = was_masked && !(e->ctrl & MSIX_VECTOR_MASKED);
		break;
	}
	if (e->ctrl & MSIX_VECTOR_MASKED)
		return;
	if (changed)
		msix_route(m, v);
	msix_flush_pending(m, v);
}

void msix_table_write(struct msix *m, uint64_t offset, const uint8_t *data, uint32_t size)
{
	if (!msix_access_ok(offset, size, (uint64_t)m->nr_vectors * MSIX_ENTRY_SIZE)) {
		msix_log_bad_access("table write", offset, size);
		return;
	}
	pthread_mutex_lock(&m->lock);
	/* A qword write is its two dwords in order (address, or data then control). */
	for (uint32_t i = 0; i < size; i += 4) {
		uint64_t o = offset + i;

		msix_entry_write(m, (uint16_t)(o / MSIX_ENTRY_SIZE),
				 (unsigned int)(o % MSIX_ENTRY_SIZE) / 4, le32_get(data + i));
	}
	pthread_mutex_unlock(&m->lock);
}

void msix_pba_read(struct msix *m, uint64_t offset, uint8_t *data, uint32_t size)
{
	memset(data, 0, size);
	if (!msix_access_ok(offset, size, msix_pba_words(m->nr_vectors) * sizeof(uint64_t))) {
		msix_log_bad_access("PBA read", offset, size);
		return;
	}
	pthread_mutex_lock(&m->lock);
	for (uint32_t i = 0; i < size; i += 4) {
		uint64_t o = offset + i;

		le32_put(data + i, (uint32_t)(m->pba[o / 8] >> (8 * (o % 8))));
	}
	pthread_mutex_unlock(&m->lock);
}

int msix_signal(struct msix *m, uint16_t vector)
{
	int r = 0;

	if (vector >= m->nr_vectors)
		return 0; /* VIRTIO_MSI_NO_VECTOR or a vector the guest never had */
	pthread_mutex_lock(&m->lock);
	if (msix_live(m) && !(m->table[vector].ctrl & MSIX_VECTOR_MASKED))
		r = m->ops->fire(m->opaque, vector);
	else
		msix_set_pending(m, vector, true);
	pthread_mutex_unlock(&m->lock);
	return r;
}
