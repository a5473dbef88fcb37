/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's CPUID table, backend-neutral so the patching below can be unit
 * tested on a synthetic table without a hypervisor.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/macros.h"

/* `index` (the subleaf, ECX) selects the entry; KVM's SIGNIFCANT_INDEX. */
#define HV_CPUID_FLAG_INDEXED (1u << 0)

struct hv_cpuid_entry {
	uint32_t function, index, flags;
	uint32_t eax, ebx, ecx, edx;
};

struct hv_cpuid_topology {
	uint32_t apic_id;	/* this vCPU; < nr_vcpus */
	uint32_t nr_vcpus;	/* single-threaded cores in one socket */
	bool tsc_deadline;	/* the in-kernel LAPIC can do TSC-deadline */
};

/*
 * Rewrite the hypervisor's supported CPUID set into what this vCPU shows the
 * guest: topology leaves (1, 4, 0xB, 0x1F, AMD 0x80000001/8/1D/1E), the
 * hypervisor bit, no nested virtualisation, no PMU. May append missing
 * topology subleaves, so `*nr` can grow up to `capacity`.
 * Returns 0, -EINVAL for a bad topology, -E2BIG if `capacity` is too small.
 */
int hv_cpuid_patch(struct hv_cpuid_entry *entries, uint32_t *nr, uint32_t capacity,
		   const struct hv_cpuid_topology *topo) _wur_;

/* Entries hv_cpuid_patch() may append; size buffers with this much slack. */
#define HV_CPUID_PATCH_EXTRA 2
