/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hv/ unit test. The CPUID policy is checked on synthetic tables (no KVM
 * needed); then, if /dev/kvm opens, the API is driven against the real
 * hypervisor without ever entering guest code.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "hv-cpuid.h"
#include "hv-internal.h"
#include "hv/hv.h"

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #c);                                 \
			return 1;                                              \
		}                                                              \
	} while (0)

#define BITS(v, lo, w) (((v) >> (lo)) & ((1u << (w)) - 1))
#define TABLE_CAP 32

static uint32_t fourcc(const char *s)
{
	uint32_t v;

	memcpy(&v, s, 4);
	return v;
}

static struct hv_cpuid_entry *find(struct hv_cpuid_entry *e, uint32_t nr, uint32_t fn,
				   uint32_t idx)
{
	for (uint32_t i = 0; i < nr; i++)
		if (e[i].function == fn && e[i].index == idx)
			return &e[i];
	return NULL;
}

/* Roughly what KVM_GET_SUPPORTED_CPUID gives on each vendor. */
static uint32_t make_table(struct hv_cpuid_entry *e, bool intel)
{
	const char *v = intel ? "GenuineIntel" : "AuthenticAMD";
	uint32_t n = 0;

	memset(e, 0, TABLE_CAP * sizeof(*e));
	e[n++] = (struct hv_cpuid_entry){ 0, 0, 0, 0x1f, fourcc(v), fourcc(v + 8), fourcc(v + 4) };
	/* CLFLUSH size 8, VMX + TSC-deadline clear, x2APIC set, no HTT. */
	e[n++] = (struct hv_cpuid_entry){ 1, 0, 0, 0x806f8, 0x00ff0800, (1u << 21) | (1u << 5), 1 };
	/* Caches: L1d, L2, L3, end. */
	e[n++] = (struct hv_cpuid_entry){ 4, 0, 1, 0xfc004121, 1, 2, 3 };
	e[n++] = (struct hv_cpuid_entry){ 4, 1, 1, 0xfc004143, 1, 2, 3 };
	e[n++] = (struct hv_cpuid_entry){ 4, 2, 1, 0xfc1fc163, 1, 2, 3 };
	e[n++] = (struct hv_cpuid_entry){ 4, 3, 1, 0, 0, 0, 0 };
	e[n++] = (struct hv_cpuid_entry){ 0xa, 0, 0, 0x07300805, 0, 0, 0x603 };
	/* KVM zeroes the topology leaves and gives subleaf 0 only. */
	e[n++] = (struct hv_cpuid_entry){ 0xb, 0, 1, 0, 0, 0, 0 };
	e[n++] = (struct hv_cpuid_entry){ 0x1f, 0, 1, 0, 0, 0, 0 };
	e[n++] = (struct hv_cpuid_entry){ 0x40000000, 0, 0, 0x40000001, fourcc("KVMK"),
					  fourcc("VMKV"), fourcc("M\0\0\0") };
	e[n++] = (struct hv_cpuid_entry){ 0x80000001, 0, 0, 0, 0, 0x7 /* LAHF, CmpLegacy, SVM */, 0 };
	e[n++] = (struct hv_cpuid_entry){ 0x80000008, 0, 0, 0x3030, 0, 0x3f00f, 0 };
	e[n++] = (struct hv_cpuid_entry){ 0x8000000a, 0, 0, 1, 8, 0, 0xff };
	e[n++] = (struct hv_cpuid_entry){ 0x8000001d, 0, 1, 0x121, 1, 2, 3 };
	e[n++] = (struct hv_cpuid_entry){ 0x8000001d, 3, 1, 0x3c163, 1, 2, 3 };
	e[n++] = (struct hv_cpuid_entry){ 0x8000001e, 0, 0, 9, 0x109, 0x301, 0 };
	return n;
}

static int test_cpuid_common(struct hv_cpuid_entry *e, uint32_t nr, uint32_t apic, uint32_t nr_vcpus)
{
	struct hv_cpuid_entry *l1 = find(e, nr, 1, 0), *b0 = find(e, nr, 0xb, 0),
			      *b1 = find(e, nr, 0xb, 1), *f1 = find(e, nr, 0x1f, 1);
	uint32_t shift = nr_vcpus == 4 ? 2 : 0;

	CHECK(l1 && b0 && b1 && f1);
	CHECK(BITS(l1->ebx, 24, 8) == apic);
	CHECK(BITS(l1->ebx, 16, 8) == nr_vcpus);
	CHECK(BITS(l1->ebx, 8, 8) == 8); /* CLFLUSH kept */
	CHECK(l1->ecx & (1u << 31));     /* hypervisor */
	CHECK(!(l1->ecx & (1u << 5)));   /* no VMX */
	CHECK(l1->ecx & (1u << 24));     /* TSC-deadline (topology says supported) */
	CHECK(l1->ecx & (1u << 21));     /* x2APIC kept */
	CHECK(!!(l1->edx & (1u << 28)) == (nr_vcpus > 1));
	/* 0xB: SMT level of 1 thread, core level of nr_vcpus. */
	CHECK(b0->eax == 0 && b0->ebx == 1 && b0->ecx == 0x100 && b0->edx == apic);
	CHECK(b1->eax == shift && b1->ebx == nr_vcpus && b1->ecx == 0x201 && b1->edx == apic);
	CHECK(b1->flags & HV_CPUID_FLAG_INDEXED);
	CHECK(f1->eax == shift && f1->ebx == nr_vcpus && f1->edx == apic);
	CHECK(!(find(e, nr, 0x80000001, 0)->ecx & (1u << 2))); /* no SVM */
	CHECK(find(e, nr, 0xa, 0)->eax == 0 && find(e, nr, 0xa, 0)->edx == 0);
	CHECK(find(e, nr, 0x40000000, 0)->eax == 0x40000001);
	CHECK(find(e, nr, 0x40000000, 0)->ebx == fourcc("KVMK"));
	return 0;
}

static int test_cpuid_intel(uint32_t apic, uint32_t nr_vcpus)
{
	struct hv_cpuid_entry e[TABLE_CAP];
	struct hv_cpuid_topology topo = { apic, nr_vcpus, true };
	uint32_t nr = make_table(e, true), before = nr;

	CHECK(hv_cpuid_patch(e, &nr, TABLE_CAP, &topo) == 0);
	CHECK(nr == before + 2); /* 0xB and 0x1F subleaf 1 added */
	CHECK(test_cpuid_common(e, nr, apic, nr_vcpus) == 0);
	/* Leaf 4: cores per package, L1/L2 private, L3 shared by all. */
	CHECK(BITS(find(e, nr, 4, 0)->eax, 26, 6) == nr_vcpus - 1);
	CHECK(BITS(find(e, nr, 4, 0)->eax, 14, 12) == 0);
	CHECK(BITS(find(e, nr, 4, 1)->eax, 14, 12) == 0);
	CHECK(BITS(find(e, nr, 4, 2)->eax, 14, 12) == nr_vcpus - 1);
	CHECK(BITS(find(e, nr, 4, 2)->eax, 0, 14) == 0x163); /* type/level kept */
	CHECK(find(e, nr, 4, 3)->eax == 0);
	/* AMD-only leaves untouched on Intel. */
	CHECK(find(e, nr, 0x8000001e, 0)->eax == 9);
	/* Patching twice is stable (the VMM may re-init a vCPU). */
	CHECK(hv_cpuid_patch(e, &nr, TABLE_CAP, &topo) == 0 && nr == before + 2);
	CHECK(test_cpuid_common(e, nr, apic, nr_vcpus) == 0);
	return 0;
}

static int test_cpuid_amd(uint32_t apic, uint32_t nr_vcpus)
{
	struct hv_cpuid_entry e[TABLE_CAP];
	struct hv_cpuid_topology topo = { apic, nr_vcpus, true };
	uint32_t nr = make_table(e, false);
	uint32_t shift = nr_vcpus == 4 ? 2 : 0;
	const struct hv_cpuid_entry *x;

	CHECK(hv_cpuid_patch(e, &nr, TABLE_CAP, &topo) == 0);
	CHECK(test_cpuid_common(e, nr, apic, nr_vcpus) == 0);
	x = find(e, nr, 0x80000001, 0);
	CHECK(!!(x->ecx & (1u << 1)) == (nr_vcpus > 1)); /* CmpLegacy */
	CHECK(x->ecx & 1);				   /* other bits kept */
	x = find(e, nr, 0x80000008, 0);
	CHECK(BITS(x->ecx, 0, 8) == nr_vcpus - 1 && BITS(x->ecx, 12, 4) == shift);
	CHECK(BITS(x->ecx, 16, 2) == 3); /* PerfTscSize kept */
	x = find(e, nr, 0x8000001e, 0);
	CHECK(x->eax == apic && x->ebx == apic && x->ecx == 0);
	CHECK(BITS(find(e, nr, 0x8000001d, 0)->eax, 14, 12) == 0);
	CHECK(BITS(find(e, nr, 0x8000001d, 3)->eax, 14, 12) == nr_vcpus - 1);
	CHECK(find(e, nr, 0x8000000a, 0)->ebx == 0);
	CHECK(find(e, nr, 4, 2)->eax == 0xfc1fc163); /* Intel leaf left alone */
	return 0;
}

static int test_cpuid_errors(void)
{
	struct hv_cpuid_entry e[TABLE_CAP], saved[TABLE_CAP];
	uint32_t nr = make_table(e, true), before = nr;

	memcpy(saved, e, sizeof(e));
	CHECK(hv_cpuid_patch(e, &nr, TABLE_CAP, &(struct hv_cpuid_topology){ 4, 4, false }) == -EINVAL);
	CHECK(hv_cpuid_patch(e, &nr, TABLE_CAP, &(struct hv_cpuid_topology){ 0, 0, false }) == -EINVAL);
	/* No room for the two subleaves: refused, table untouched. */
	CHECK(hv_cpuid_patch(e, &nr, nr + 1, &(struct hv_cpuid_topology){ 0, 2, false }) == -E2BIG);
	CHECK(nr == before && !memcmp(e, saved, sizeof(e)));
	/* 3 vCPUs: counts are rounded up to addressable ids, 0xB says 3. */
	CHECK(hv_cpuid_patch(e, &nr, TABLE_CAP, &(struct hv_cpuid_topology){ 2, 3, false }) == 0);
	CHECK(BITS(find(e, nr, 1, 0)->ebx, 16, 8) == 4);
	CHECK(find(e, nr, 0xb, 1)->eax == 2 && find(e, nr, 0xb, 1)->ebx == 3);
	CHECK(!(find(e, nr, 1, 0)->ecx & (1u << 24))); /* not forced without support */
	return 0;
}

static int test_wrappers(void)
{
	static const struct hv_vm_ops empty_ops = { 0 };
	struct hv_vm fake = { .ops = &empty_ops };

	CHECK(hv_vm_irqfd_assign(&fake, 0, 5) == -EOPNOTSUPP);
	CHECK(hv_vm_signal_msi(&fake, 0xfee00000, 0) == -EOPNOTSUPP);
	CHECK(hv_vm_create_irqchip(NULL) == -EINVAL);
	hv_vm_destroy(&fake); /* NULL destroy op: nothing to do */
	hv_vm_destroy(NULL);
	hv_vcpu_destroy(NULL);
	hv_close(NULL);
	CHECK(!strcmp(hv_exit_to_string(HV_EXIT_IO), "io"));
	CHECK(!strcmp(hv_exit_to_string(HV_EXIT_SYSTEM_RESET), "system-reset"));
	CHECK(!strcmp(hv_exit_to_string(HV_EXIT__MAX), "invalid"));
	for (int i = 0; i < HV_EXIT__MAX; i++)
		CHECK(strcmp(hv_exit_to_string(i), "invalid"));
	return 0;
}

/* Report an optional call's outcome; fail only where the API promises. */
static void note(const char *what, int r)
{
	printf("hv-test:   %-28s %s\n", what, r >= 0 ? "ok" : strerror(-r));
}

static int test_vcpu_state(struct hv_vcpu *vcpu)
{
	struct hv_regs regs = { .rax = 1, .rbx = 2, .r15 = 15, .rip = 0xfff0, .rsp = 0x8000,
				.rflags = 0x2 }, got;
	struct hv_sregs sregs, sgot;
	struct hv_msr msrs[] = { { 0x174, 1 } /* SYSENTER_CS */, { 0xc0000084, 1 } /* FMASK */ };
	enum hv_exit exit;

	CHECK(hv_vcpu_set_regs(vcpu, &regs) == 0);
	CHECK(hv_vcpu_get_regs(vcpu, &got) == 0);
	CHECK(!memcmp(&regs, &got, sizeof(regs)));

	CHECK(hv_vcpu_get_sregs(vcpu, &sregs) == 0);
	sregs.gdt = (struct hv_dtable){ .base = 0x500, .limit = 0x1f };
	sregs.idt = (struct hv_dtable){ .base = 0x520, .limit = 0 };
	sregs.ds.selector = 0x18;
	sregs.ds.base = 0x1000;
	CHECK(hv_vcpu_set_sregs(vcpu, &sregs) == 0);
	CHECK(hv_vcpu_get_sregs(vcpu, &sgot) == 0);
	CHECK(sgot.gdt.base == 0x500 && sgot.gdt.limit == 0x1f && sgot.idt.base == 0x520);
	CHECK(sgot.ds.selector == 0x18 && sgot.ds.base == 0x1000);
	CHECK(sgot.cr0 == sregs.cr0 && sgot.efer == sregs.efer && sgot.apic_base == sregs.apic_base);

	/* Boot MSRs written by hv_vcpu_init_x86 read back as zero. */
	CHECK(hv_vcpu_get_msrs(vcpu, msrs, ARRAY_SIZE(msrs)) == 0);
	CHECK(msrs[0].value == 0 && msrs[1].value == 0);
	msrs[1].value = 0x47700;
	CHECK(hv_vcpu_set_msrs(vcpu, msrs, ARRAY_SIZE(msrs)) == 0);
	CHECK(hv_vcpu_get_msrs(vcpu, msrs, ARRAY_SIZE(msrs)) == 0 && msrs[1].value == 0x47700);
	CHECK(hv_vcpu_get_msrs(vcpu, &(struct hv_msr){ 0xdeadbeef, 0 }, 1) < 0);
	struct hv_msr boot[] = { { 0x1a0 /* MISC_ENABLE */, 0 }, { 0x2ff /* MTRRdefType */, 0 } };
	CHECK(hv_vcpu_get_msrs(vcpu, boot, ARRAY_SIZE(boot)) == 0);
	CHECK(boot[0].value & 1);	/* fast strings */
	CHECK(boot[1].value == 0x806);	/* MTRRs on, write-back default */

	/* With immediate_exit set, KVM_RUN returns before entering the guest. */
	hv_vcpu_set_immediate_exit(vcpu, true);
	CHECK(hv_vcpu_run(vcpu, &exit) == 0 && exit == HV_EXIT_INTERRUPTED);
	hv_vcpu_set_immediate_exit(vcpu, false);
	return 0;
}

static int test_vm_irqs(struct hv_vm *vm)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), r = 1;

	if (efd < 0)
		return 1;
	if (hv_vm_irqfd_assign(vm, efd, 5) != 0 || hv_vm_irqfd_deassign(vm, efd, 5) != 0)
		goto out;
	if (hv_vm_ioeventfd_assign(vm, efd, 0x510, 2, true, -1) != 0 ||
	    hv_vm_ioeventfd_assign(vm, efd, 0x510, 2, true, -1) != -EEXIST ||
	    hv_vm_ioeventfd_deassign(vm, efd, 0x510, 2, true, -1) != 0)
		goto out;
	if (hv_vm_ioeventfd_assign(vm, efd, 0xd0000000, 4, false, 7) != 0 ||
	    hv_vm_ioeventfd_deassign(vm, efd, 0xd0000000, 4, false, 7) != 0 ||
	    hv_vm_ioeventfd_assign(vm, efd, 0xd0000000, 3, false, -1) != -EINVAL)
		goto out;
	if (hv_vm_msi_route_set(vm, HV_MSI_GSI_BASE, 0xfee00000, 0x4021) != 0 ||
	    hv_vm_msi_route_set(vm, HV_MSI_GSI_BASE, 0xfee01000, 0x4022) != 0 || /* update */
	    hv_vm_msi_route_set(vm, HV_MSI_GSI_BASE + 1, 0xfee00000, 0x4023) != 0 ||
	    hv_vm_irqfd_assign(vm, efd, HV_MSI_GSI_BASE + 1) != 0 ||
	    hv_vm_irqfd_deassign(vm, efd, HV_MSI_GSI_BASE + 1) != 0 ||
	    hv_vm_msi_route_remove(vm, HV_MSI_GSI_BASE) != 0 ||
	    hv_vm_msi_route_remove(vm, HV_MSI_GSI_BASE) != -ENOENT ||
	    hv_vm_msi_route_set(vm, 23, 0xfee00000, 0) != -EINVAL ||
	    hv_vm_msi_route_remove(vm, HV_MSI_GSI_BASE + 1) != 0)
		goto out;
	if (hv_vm_signal_msi(vm, 0xfee00000, 0x4030) != 0 ||
	    hv_vm_set_irq_line(vm, 4, true) != 0 || hv_vm_set_irq_line(vm, 4, false) != 0)
		goto out;
	r = 0;
out:
	close(efd);
	if (r)
		fprintf(stderr, "hv-test: interrupt plumbing failed (see debug log above)\n");
	return r;
}

/* Which KVM module backs /dev/kvm: results differ between them. */
static const char *kvm_flavour(void)
{
	static const char *const mods[] = { "kvm_pvm", "kvm_intel", "kvm_amd" };

	for (size_t i = 0; i < ARRAY_SIZE(mods); i++) {
		char path[64];

		snprintf(path, sizeof(path), "/sys/module/%s", mods[i]);
		if (access(path, F_OK) == 0)
			return mods[i];
	}
	return "unknown";
}

static int test_kvm(struct hv *hv)
{
	struct hv_vm *vm = NULL;
	struct hv_vcpu *vcpus[2] = { NULL, NULL };
	size_t mem_size = 2 * MiB;
	void *mem;
	int r, ret = 1;

	printf("hv-test: backend %s (module %s), max vcpus %d\n", hv_name(hv), kvm_flavour(),
	       hv_max_vcpus(hv));
	mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	r = hv_vm_create(hv, &vm);
	note("hv_vm_create", r);
	if (r < 0)
		goto out;
	r = hv_vm_set_memory(vm, 0, 0, mem_size, mem);
	note("hv_vm_set_memory", r);
	if (r < 0)
		goto out;
	r = hv_vm_create_irqchip(vm);
	note("hv_vm_create_irqchip", r);
	if (r < 0)
		goto out;
	for (uint32_t i = 0; i < ARRAY_SIZE(vcpus); i++) {
		r = hv_vcpu_create(vm, i, &vcpus[i]);
		note("hv_vcpu_create", r);
		if (r < 0)
			goto out;
		CHECK(hv_vcpu_index(vcpus[i]) == i);
		r = hv_vcpu_init_x86(vcpus[i], ARRAY_SIZE(vcpus));
		note("hv_vcpu_init_x86", r);
		if (r < 0)
			goto out;
	}
	CHECK(hv_vcpu_init_x86(vcpus[1], 1) == -EINVAL);
	if (test_vcpu_state(vcpus[1]) || test_vm_irqs(vm))
		goto out;
	note("vcpu state, irqfd, ioeventfd, msi", 0);
	ret = 0;
out:
	for (uint32_t i = 0; i < ARRAY_SIZE(vcpus); i++)
		hv_vcpu_destroy(vcpus[i]);
	hv_vm_destroy(vm);
	munmap(mem, mem_size);
	return ret;
}

int main(void)
{
	struct hv *hv;
	int r;

	if (test_wrappers() || test_cpuid_intel(0, 1) || test_cpuid_intel(2, 4) ||
	    test_cpuid_amd(0, 1) || test_cpuid_amd(3, 4) || test_cpuid_errors())
		return 1;
	printf("hv-test: wrappers and cpuid patching ok\n");

	/* Debug logging shows which ioctls this KVM flavour lacks. */
	log_set_level(LOG_LEVEL_DEBUG);
	r = hv_open(&hv);
	if (r < 0) {
		printf("hv-test: SKIP KVM part: cannot use /dev/kvm: %s\n", strerror(-r));
		return 77;
	}
	r = test_kvm(hv);
	hv_close(hv);
	if (r)
		return 1;
	printf("hv-test: kvm api ok\n");
	return 0;
}
