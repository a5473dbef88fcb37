/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CPUID patching, as Firecracker and Cloud Hypervisor do it: start from what
 * the hypervisor supports, then describe our topology (nr_vcpus cores of
 * one thread each in one socket, APIC id = vCPU index) consistently in every
 * leaf a guest kernel may read it from, and hide what we do not offer.
 * Counts the SDM calls "addressable IDs" are powers of two, as on hardware,
 * so APIC-id arithmetic in the guest (shift by the field's order) agrees
 * with leaf 0xB.
 */
#include <errno.h>
#include <string.h>

#include "hv-cpuid.h"

/* Leaf 0x1 */
#define CPUID_1_ECX_VMX (1u << 5)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT (1u << 28)
/* Leaf 0xB / 0x1F level types in ECX[15:8] */
#define CPUID_TOPO_LEVEL_SMT 1u
#define CPUID_TOPO_LEVEL_CORE 2u
/* Leaf 0x80000001 */
#define CPUID_80000001_ECX_CMP_LEGACY (1u << 1)
#define CPUID_80000001_ECX_SVM (1u << 2)

/* vCPU counts past this have no meaning for any x86 hypervisor we target. */
#define CPUID_MAX_VCPUS (1u << 16)

enum cpuid_vendor {
	CPUID_VENDOR_OTHER,
	CPUID_VENDOR_INTEL,
	CPUID_VENDOR_AMD, /* and Hygon, which follows AMD's leaves */
};

struct cpuid_ctx {
	const struct hv_cpuid_topology *topo;
	enum cpuid_vendor vendor;
	uint32_t core_shift;	/* APIC-id bits used by cores */
	uint32_t addressable;	/* 1 << core_shift */
};

/* Replace `width` bits of `reg` at `lo` with `value`, saturating. */
static uint32_t set_bits(uint32_t reg, unsigned lo, unsigned width, uint32_t value)
{
	uint32_t max = width >= 32 ? UINT32_MAX : (1u << width) - 1;
	uint32_t mask = max << lo;

	return (reg & ~mask) | (MIN(value, max) << lo);
}

static struct hv_cpuid_entry *cpuid_find(struct hv_cpuid_entry *e, uint32_t nr,
					 uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < nr; i++)
		if (e[i].function == function && e[i].index == index)
			return &e[i];
	return NULL;
}

static enum cpuid_vendor cpuid_vendor(struct hv_cpuid_entry *e, uint32_t nr)
{
	const struct hv_cpuid_entry *leaf0 = cpuid_find(e, nr, 0, 0);
	char id[12];

	if (!leaf0)
		return CPUID_VENDOR_OTHER;
	/* The vendor string is spelled out in EBX, EDX, ECX order. */
	memcpy(id, &leaf0->ebx, 4);
	memcpy(id + 4, &leaf0->edx, 4);
	memcpy(id + 8, &leaf0->ecx, 4);
	if (!memcmp(id, "GenuineIntel", 12))
		return CPUID_VENDOR_INTEL;
	if (!memcmp(id, "AuthenticAMD", 12) || !memcmp(id, "HygonGenuine", 12))
		return CPUID_VENDOR_AMD;
	return CPUID_VENDOR_OTHER;
}

static void patch_leaf_1(const struct cpuid_ctx *c, struct hv_cpuid_entry *e)
{
	bool multi = c->topo->nr_vcpus > 1;

	/* Only 8 bits: with more vCPUs the guest reads the x2APIC id from 0xB. */
	e->ebx = set_bits(e->ebx, 24, 8, c->topo->apic_id & 0xff);
	e->ebx = set_bits(e->ebx, 16, 8, c->addressable);
	e->ecx |= CPUID_1_ECX_HYPERVISOR;
	/* No nested virtualisation for our guests. */
	e->ecx &= ~CPUID_1_ECX_VMX;
	/* KVM reports this only through a capability; the LAPIC emulates it. */
	if (c->topo->tsc_deadline)
		e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
	/* HTT says "EBX[23:16] is meaningful", i.e. more than one CPU. */
	if (multi)
		e->edx |= CPUID_1_EDX_HTT;
	else
		e->edx &= ~CPUID_1_EDX_HTT;
}

/*
 * Deterministic cache parameters (Intel 0x4, AMD 0x8000001D share the
 * layout): L1/L2 are private to a core of one thread, L3 is shared by all.
 */
static void patch_cache_leaf(const struct cpuid_ctx *c, struct hv_cpuid_entry *e, bool intel)
{
	uint32_t type = e->eax & 0x1f, level = (e->eax >> 5) & 0x7;

	if (type == 0)
		return; /* the terminating "no more caches" subleaf */
	e->eax = set_bits(e->eax, 14, 12, level >= 3 ? c->addressable - 1 : 0);
	/* Intel only: cores per package - 1. AMD keeps these bits reserved. */
	if (intel)
		e->eax = set_bits(e->eax, 26, 6, c->addressable - 1);
}

/* x2APIC topology (0xB and its superset 0x1F): SMT level, then core level. */
static void patch_topology_leaf(const struct cpuid_ctx *c, struct hv_cpuid_entry *e)
{
	e->flags |= HV_CPUID_FLAG_INDEXED;
	e->edx = c->topo->apic_id;
	switch (e->index) {
	case 0:
		e->eax = 0; /* one thread per core: no SMT bits */
		e->ebx = 1;
		e->ecx = CPUID_TOPO_LEVEL_SMT << 8 | e->index;
		break;
	case 1:
		e->eax = c->core_shift;
		e->ebx = c->topo->nr_vcpus;
		e->ecx = CPUID_TOPO_LEVEL_CORE << 8 | e->index;
		break;
	default:
		/* Level type 0 ends the enumeration. */
		e->eax = e->ebx = 0;
		e->ecx = e->index & 0xff;
		break;
	}
}

static void patch_amd(const struct cpuid_ctx *c, struct hv_cpuid_entry *e)
{
	uint32_t nr = c->topo->nr_vcpus;

	switch (e->function) {
	case 0x80000001:
		if (nr > 1)
			e->ecx |= CPUID_80000001_ECX_CMP_LEGACY;
		else
			e->ecx &= ~CPUID_80000001_ECX_CMP_LEGACY;
		break;
	case 0x80000008:
		/* NC = cores - 1, ApicIdSize = APIC-id bits holding the core. */
		e->ecx = set_bits(e->ecx, 0, 8, nr - 1);
		e->ecx = set_bits(e->ecx, 12, 4, c->core_shift);
		break;
	case 0x8000001D:
		patch_cache_leaf(c, e, false);
		break;
	case 0x8000001E:
		/* Extended APIC id; core id, 1 thread per core; node 0 of 1. */
		e->eax = c->topo->apic_id;
		e->ebx = c->topo->apic_id & 0xff;
		e->ecx = 0;
		e->edx = 0;
		break;
	default:
		break;
	}
}

static void patch_entry(const struct cpuid_ctx *c, struct hv_cpuid_entry *e)
{
	switch (e->function) {
	case 0x1:
		patch_leaf_1(c, e);
		break;
	case 0x4:
		if (c->vendor == CPUID_VENDOR_INTEL)
			patch_cache_leaf(c, e, true);
		break;
	case 0xA:
		/* Architectural PMU: we offer no vPMU. */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 0xB:
	case 0x1F:
		patch_topology_leaf(c, e);
		break;
	case 0x80000001:
		e->ecx &= ~CPUID_80000001_ECX_SVM;
		break;
	case 0x8000000A:
		/* SVM feature leaf: meaningless with SVM hidden. */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	default:
		break;
	}
	if (c->vendor == CPUID_VENDOR_AMD)
		patch_amd(c, e);
}

/* A topology leaf the hypervisor lists needs subleaf 1 to be valid at all. */
static bool needs_core_subleaf(struct hv_cpuid_entry *e, uint32_t nr, uint32_t function)
{
	return cpuid_find(e, nr, function, 0) && !cpuid_find(e, nr, function, 1);
}

int hv_cpuid_patch(struct hv_cpuid_entry *entries, uint32_t *nr, uint32_t capacity,
		   const struct hv_cpuid_topology *topo)
{
	static const uint32_t topology_leaves[] = { 0xB, 0x1F };
	struct cpuid_ctx c = { .topo = topo };
	uint32_t n = *nr, missing = 0;

	if (topo->nr_vcpus == 0 || topo->nr_vcpus > CPUID_MAX_VCPUS ||
	    topo->apic_id >= topo->nr_vcpus || n > capacity)
		return -EINVAL;

	for (size_t i = 0; i < ARRAY_SIZE(topology_leaves); i++)
		missing += needs_core_subleaf(entries, n, topology_leaves[i]);
	/* Check room first so a failure leaves the table untouched. */
	if (capacity - n < missing)
		return -E2BIG;
	for (size_t i = 0; i < ARRAY_SIZE(topology_leaves); i++) {
		if (!needs_core_subleaf(entries, n, topology_leaves[i]))
			continue;
		entries[n++] = (struct hv_cpuid_entry){
			.function = topology_leaves[i],
			.index = 1,
			.flags = HV_CPUID_FLAG_INDEXED,
		};
	}

	while ((1u << c.core_shift) < topo->nr_vcpus)
		c.core_shift++;
	c.addressable = 1u << c.core_shift;
	c.vendor = cpuid_vendor(entries, n);
	for (uint32_t i = 0; i < n; i++)
		patch_entry(&c, &entries[i]);
	*nr = n;
	return 0;
}
