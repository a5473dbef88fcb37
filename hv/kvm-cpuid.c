/* SPDX-License-Identifier: Apache-2.0 */
/*
 * x86 vCPU set-up before first run: CPUID, boot MSRs, FPU and LAPIC LINT
 * pins. The CPUID policy itself is hv-cpuid.c; this file only moves it in
 * and out of KVM.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "hv-cpuid.h"
#include "kvm-internal.h"

/* KVM_GET_SUPPORTED_CPUID: start here, double on E2BIG, give up past max. */
#define KVM_CPUID_NENT_INITIAL 128u
#define KVM_CPUID_NENT_MAX 4096u

#define MSR_IA32_TSC 0x10u
#define MSR_IA32_SYSENTER_CS 0x174u
#define MSR_IA32_SYSENTER_ESP 0x175u
#define MSR_IA32_SYSENTER_EIP 0x176u
#define MSR_IA32_MISC_ENABLE 0x1a0u
#define MSR_MTRR_DEF_TYPE 0x2ffu
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_CSTAR 0xc0000083u
#define MSR_SYSCALL_MASK 0xc0000084u
#define MSR_KERNEL_GS_BASE 0xc0000102u

#define MISC_ENABLE_FAST_STRING (1u << 0)
#define MTRR_DEF_TYPE_ENABLE (1u << 11)
#define MTRR_TYPE_WRBACK 6u

#define FPU_DEFAULT_FCW 0x37f	/* all x87 exceptions masked, 64-bit precision */
#define FPU_DEFAULT_MXCSR 0x1f80 /* all SSE exceptions masked */

#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_LVT_DELIVERY_MASK (7u << 8)
#define APIC_DELIVERY_NMI (4u << 8)
#define APIC_DELIVERY_EXTINT (7u << 8)

static struct kvm_cpuid2 *kvm_cpuid_alloc(uint32_t nent)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

	if (c)
		c->nent = nent;
	return c;
}

static int kvm_get_supported_cpuid(int kvm_fd, struct kvm_cpuid2 **ret)
{
	for (uint32_t nent = KVM_CPUID_NENT_INITIAL; nent <= KVM_CPUID_NENT_MAX; nent *= 2) {
		_cleanup_free_ struct kvm_cpuid2 *c = kvm_cpuid_alloc(nent);
		int r;

		if (!c)
			return -ENOMEM;
		r = kvm_ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c);
		if (r == -E2BIG)
			continue;
		if (r < 0)
			return log_debug_errno(r, "KVM_GET_SUPPORTED_CPUID");
		*ret = TAKE_PTR(c);
		return 0;
	}
	return log_debug_errno(-E2BIG, "KVM_GET_SUPPORTED_CPUID: more than %u entries",
			       KVM_CPUID_NENT_MAX);
}

static int kvm_vcpu_setup_cpuid(struct kvm_vcpu *vcpu, uint32_t nr_vcpus)
{
	_cleanup_free_ struct kvm_cpuid2 *supported = NULL, *set = NULL;
	_cleanup_free_ struct hv_cpuid_entry *e = NULL;
	const struct hv_cpuid_topology topo = {
		.apic_id = vcpu->base.index,
		.nr_vcpus = nr_vcpus,
		.tsc_deadline = vcpu->vm->hv->tsc_deadline,
	};
	uint32_t nr, cap;
	int r;

	r = kvm_get_supported_cpuid(vcpu->vm->hv->fd, &supported);
	if (r < 0)
		return r;
	nr = supported->nent;
	cap = nr + HV_CPUID_PATCH_EXTRA;
	e = calloc(cap, sizeof(*e));
	set = kvm_cpuid_alloc(cap);
	if (!e || !set)
		return -ENOMEM;
	for (uint32_t i = 0; i < nr; i++) {
		const struct kvm_cpuid_entry2 *k = &supported->entries[i];

		e[i] = (struct hv_cpuid_entry){
			.function = k->function, .index = k->index,
			.flags = (k->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ?
					 HV_CPUID_FLAG_INDEXED : 0,
			.eax = k->eax, .ebx = k->ebx, .ecx = k->ecx, .edx = k->edx,
		};
	}
	r = hv_cpuid_patch(e, &nr, cap, &topo);
	if (r < 0)
		return log_debug_errno(r, "vcpu%u: CPUID patch", topo.apic_id);
	set->nent = nr;
	for (uint32_t i = 0; i < nr; i++)
		set->entries[i] = (struct kvm_cpuid_entry2){
			.function = e[i].function, .index = e[i].index,
			.flags = (e[i].flags & HV_CPUID_FLAG_INDEXED) ?
					 KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0,
			.eax = e[i].eax, .ebx = e[i].ebx, .ecx = e[i].ecx, .edx = e[i].edx,
		};
	r = kvm_ioctl(vcpu->fd, KVM_SET_CPUID2, set);
	if (r < 0)
		return log_debug_errno(r, "vcpu%u: KVM_SET_CPUID2", topo.apic_id);
	return 0;
}

static int kvm_get_msr_index_list(int kvm_fd, struct kvm_msr_list **ret)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	_cleanup_free_ struct kvm_msr_list *list = NULL;
	int r;

	/* The first call only learns the length (and fails with E2BIG). */
	r = kvm_ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe);
	if (r < 0 && r != -E2BIG)
		return log_debug_errno(r, "KVM_GET_MSR_INDEX_LIST");
	list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(list->indices[0]));
	if (!list)
		return -ENOMEM;
	list->nmsrs = probe.nmsrs;
	r = kvm_ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, list);
	if (r < 0)
		return log_debug_errno(r, "KVM_GET_MSR_INDEX_LIST");
	*ret = TAKE_PTR(list);
	return 0;
}

static bool msr_listed(const struct kvm_msr_list *list, uint32_t index)
{
	for (uint32_t i = 0; i < list->nmsrs; i++)
		if (list->indices[i] == index)
			return true;
	return false;
}

/*
 * The MSR values a freshly booted kernel expects (Firecracker's set). MSRs
 * KVM lists must take their value. It emulates some it does not list (the
 * MTRRs among them): try those one by one, as one unknown MSR would
 * otherwise fail the whole batch, and only log a refusal.
 */
static int kvm_vcpu_setup_msrs(struct kvm_vcpu *vcpu)
{
	static const struct hv_msr boot_msrs[] = {
		{ MSR_IA32_SYSENTER_CS, 0 },
		{ MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 },
		{ MSR_STAR, 0 },
		{ MSR_CSTAR, 0 },
		{ MSR_KERNEL_GS_BASE, 0 },
		{ MSR_SYSCALL_MASK, 0 },
		{ MSR_LSTAR, 0 },
		{ MSR_IA32_TSC, 0 },
		{ MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		/* Write-back by default, so a guest honouring MTRRs is not uncached. */
		{ MSR_MTRR_DEF_TYPE, MTRR_DEF_TYPE_ENABLE | MTRR_TYPE_WRBACK },
	};
	_cleanup_free_ struct kvm_msr_list *list = NULL;
	struct hv_msr msrs[ARRAY_SIZE(boot_msrs)];
	uint32_t n = 0;
	int r;

	r = kvm_get_msr_index_list(vcpu->vm->hv->fd, &list);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(boot_msrs); i++) {
		if (msr_listed(list, boot_msrs[i].index)) {
			msrs[n++] = boot_msrs[i];
			continue;
		}
		r = hv_vcpu_set_msrs(&vcpu->base, &boot_msrs[i], 1);
		if (r < 0)
			log_debug_errno(r, "vcpu%u: unlisted MSR %#x refused, left at reset value",
					vcpu->base.index, boot_msrs[i].index);
	}
	return hv_vcpu_set_msrs(&vcpu->base, msrs, n);
}

static int kvm_vcpu_setup_fpu(struct kvm_vcpu *vcpu)
{
	struct kvm_fpu fpu = { .fcw = FPU_DEFAULT_FCW, .mxcsr = FPU_DEFAULT_MXCSR };
	int r;

	r = kvm_ioctl(vcpu->fd, KVM_SET_FPU, &fpu);
	if (r < 0)
		return log_debug_errno(r, "vcpu%u: KVM_SET_FPU", vcpu->base.index);
	return 0;
}

static void lapic_set_delivery(struct kvm_lapic_state *lapic, size_t reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &lapic->regs[reg], sizeof(v));
	v = (v & ~APIC_LVT_DELIVERY_MASK) | mode;
	memcpy(&lapic->regs[reg], &v, sizeof(v));
}

/* Virtual wire mode, as a BIOS leaves it: the PIC's INTR on LINT0, NMI on
 * LINT1. Guests that never program the LAPIC still get legacy interrupts. */
static int kvm_vcpu_setup_lapic(struct kvm_vcpu *vcpu)
{
	struct kvm_lapic_state lapic;
	int r;

	if (!vcpu->vm->irqchip) {
		log_debug("vcpu%u: no in-kernel irqchip, LAPIC left alone", vcpu->base.index);
		return 0;
	}
	r = kvm_ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic);
	if (r < 0)
		return log_debug_errno(r, "vcpu%u: KVM_GET_LAPIC", vcpu->base.index);
	lapic_set_delivery(&lapic, APIC_LVT_LINT0, APIC_DELIVERY_EXTINT);
	lapic_set_delivery(&lapic, APIC_LVT_LINT1, APIC_DELIVERY_NMI);
	r = kvm_ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic);
	if (r < 0)
		return log_debug_errno(r, "vcpu%u: KVM_SET_LAPIC", vcpu->base.index);
	return 0;
}

int kvm_vcpu_init_x86(struct hv_vcpu *v, uint32_t nr_vcpus)
{
	struct kvm_vcpu *vcpu = to_kvm_vcpu(v);
	int r;

	/* CPUID first: KVM decides which MSRs and LAPIC features exist from it. */
	r = kvm_vcpu_setup_cpuid(vcpu, nr_vcpus);
	if (r < 0)
		return r;
	r = kvm_vcpu_setup_msrs(vcpu);
	if (r < 0)
		return r;
	r = kvm_vcpu_setup_fpu(vcpu);
	if (r < 0)
		return r;
	return kvm_vcpu_setup_lapic(vcpu);
}
