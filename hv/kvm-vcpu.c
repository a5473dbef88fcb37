/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KVM vCPUs: the fd and its shared kvm_run page, register state, and
 * KVM_RUN with port/MMIO exits dispatched to the VM's io handler.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "kvm-internal.h"

/* KVM_MAX_MSR_ENTRIES: the most one KVM_GET/SET_MSRS call takes. */
#define KVM_MSRS_MAX 256u

static void kvm_vcpu_destroy(struct hv_vcpu *v)
{
	struct kvm_vcpu *vcpu = to_kvm_vcpu(v);

	if (vcpu->run)
		munmap(vcpu->run, vcpu->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	free(vcpu);
}

/* The two register layouts match field for field; list them once. */
#define KVM_REGS_FIELDS(X)                                                     \
	X(rax) X(rbx) X(rcx) X(rdx) X(rsi) X(rdi) X(rsp) X(rbp)                \
	X(r8) X(r9) X(r10) X(r11) X(r12) X(r13) X(r14) X(r15)                  \
	X(rip) X(rflags)
#define KVM_SEGMENT_FIELDS(X)                                                  \
	X(base) X(limit) X(selector) X(type) X(present) X(dpl) X(db) X(s)     \
	X(l) X(g) X(avl) X(unusable)
#define KVM_SREGS_SEGMENTS(X) X(cs) X(ds) X(es) X(fs) X(gs) X(ss) X(tr) X(ldt)
#define KVM_SREGS_SCALARS(X)                                                   \
	X(cr0) X(cr2) X(cr3) X(cr4) X(cr8) X(efer) X(apic_base)
#define KVM_COPY(f) dst->f = src->f;

static int kvm_vcpu_get_regs(struct hv_vcpu *v, struct hv_regs *ret)
{
	struct kvm_regs k;
	int r;

	r = kvm_ioctl(to_kvm_vcpu(v)->fd, KVM_GET_REGS, &k);
	if (r < 0)
		return log_debug_errno(r, "vcpu%u: KVM_GET_REGS", v->index);
	const struct kvm_regs *src = &k;
	struct hv_regs *dst = ret;
	KVM_REGS_FIELDS(KVM_COPY)
	return 0;
}

static int kvm_vcpu_set_regs(struct hv_vcpu *v, const struct hv_regs *regs)
{
	struct kvm_regs k = { 0 };
	const struct hv_regs *src = regs;
	struct kvm_regs *dst = &k;
	int r;

	KVM_REGS_FIELDS(KVM_COPY)
	r = kvm_ioctl(to_kvm_vcpu(v)->fd, KVM_SET_REGS, &k);
	if (r < 0)
		return log_debug_errno(r, "vcpu%u: KVM_SET_REGS", v->index);
	return 0;
}

static void segment_from_kvm(const struct kvm_segment *src, struct hv_segment *dst)
{
	KVM_SEGMENT_FIELDS(KVM_COPY)
}

static void segment_to_kvm(const struct hv_segment *src, struct kvm_segment *dst)
{
	KVM_SEGMENT_FIELDS(KVM_COPY)
}

static int kvm_vcpu_get_sregs(struct hv_vcpu *v, struct hv_sregs *ret)
{
	struct kvm_sregs k;
	int r;

	r = kvm_ioctl(to_kvm_vcpu(v)->fd, KVM_GET_SREGS, &k);
	if (r < 0)
		return log_debug_errno(r, "vcpu%u: KVM_GET_SREGS", v->index);
	const struct kvm_sregs *src = &k;
	struct hv_sregs *dst = ret;
#define SEG_FROM(s) segment_from_kvm(&src->s, &dst->s);
	KVM_SREGS_SEGMENTS(SEG_FROM)
#undef SEG_FROM
	KVM_SREGS_SCALARS(KVM_COPY)
	dst->gdt = (struct hv_dtable){ .base = src->gdt.base, .limit = src->gdt.limit };
	dst->idt = (struct hv_dtable){ .base = src->idt.base, .limit = src->idt.limit };
	return 0;
}

static int kvm_vcpu_set_sregs(struct hv_vcpu *v, const struct hv_sregs *sregs)
{
	struct kvm_vcpu *vcpu = to_kvm_vcpu(v);
	struct kvm_sregs k;
	int r;

	/* Read first: interrupt_bitmap (pending external interrupts) is KVM
	 * state we have no neutral field for and must not clobber. */
	r = kvm_ioctl(vcpu->fd, KVM_GET_SREGS, &k);
	if (r < 0)
		return log_debug_errno(r, "vcpu%u: KVM_GET_SREGS", v->index);
	const struct hv_sregs *src = sregs;
	struct kvm_sregs *dst = &k;
#define SEG_TO(s) segment_to_kvm(&src->s, &dst->s);
	KVM_SREGS_SEGMENTS(SEG_TO)
#undef SEG_TO
	KVM_SREGS_SCALARS(KVM_COPY)
	dst->gdt.base = src->gdt.base;
	dst->gdt.limit = src->gdt.limit;
	dst->idt.base = src->idt.base;
	dst->idt.limit = src->idt.limit;
	r = kvm_ioctl(vcpu->fd, KVM_SET_SREGS, &k);
	if (r < 0)
		return log_debug_errno(r, "vcpu%u: KVM_SET_SREGS", v->index);
	return 0;
}

static struct kvm_msrs *kvm_msrs_alloc(uint32_t n)
{
	struct kvm_msrs *k = calloc(1, sizeof(*k) + n * sizeof(k->entries[0]));

	if (k)
		k->nmsrs = n;
	return k;
}

/* KVM returns how many MSRs it processed; stopping early names the culprit. */
static int kvm_msrs_ioctl(struct hv_vcpu *v, unsigned long req, const char *what,
			  struct kvm_msrs *k)
{
	int r = kvm_ioctl(to_kvm_vcpu(v)->fd, req, k);

	if (r < 0)
		return log_debug_errno(r, "vcpu%u: %s", v->index, what);
	if ((uint32_t)r < k->nmsrs)
		return log_debug_errno(-EINVAL, "vcpu%u: %s stopped at MSR %#x", v->index,
				       what, k->entries[r].index);
	return 0;
}

static int kvm_vcpu_get_msrs(struct hv_vcpu *v, struct hv_msr *msrs, uint32_t n)
{
	_cleanup_free_ struct kvm_msrs *k = NULL;
	int r;

	if (n == 0)
		return 0;
	if (n > KVM_MSRS_MAX)
		return -E2BIG;
	k = kvm_msrs_alloc(n);
	if (!k)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		k->entries[i].index = msrs[i].index;
	r = kvm_msrs_ioctl(v, KVM_GET_MSRS, "KVM_GET_MSRS", k);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < n; i++)
		msrs[i].value = k->entries[i].data;
	return 0;
}

static int kvm_vcpu_set_msrs(struct hv_vcpu *v, const struct hv_msr *msrs, uint32_t n)
{
	_cleanup_free_ struct kvm_msrs *k = NULL;

	if (n == 0)
		return 0;
	if (n > KVM_MSRS_MAX)
		return -E2BIG;
	k = kvm_msrs_alloc(n);
	if (!k)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		k->entries[i].index = msrs[i].index;
		k->entries[i].data = msrs[i].value;
	}
	return kvm_msrs_ioctl(v, KVM_SET_MSRS, "KVM_SET_MSRS", k);
}

static void kvm_dispatch_pio(const struct hv_vm *vm, uint16_t port, uint8_t *data,
			     uint32_t size, bool is_write)
{
	if (vm->has_io && vm->io.pio)
		vm->io.pio(vm->io.opaque, port, data, size, is_write);
	else if (!is_write)
		memset(data, 0xff, size);
}

static int kvm_handle_pio(struct kvm_vcpu *vcpu)
{
	const struct kvm_run *run = vcpu->run;
	uint32_t size = run->io.size, count = run->io.count;
	uint64_t off = run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* KVM chooses these, not the guest, but a bad offset would have us
	 * read or write past the mapping: check before touching it. */
	if ((size != 1 && size != 2 && size != 4) || off > vcpu->run_size ||
	    (uint64_t)count * size > vcpu->run_size - off)
		return log_debug_errno(-EIO, "vcpu%u: bad pio exit (port %#x size %u count %u offset %#llx)",
				       vcpu->base.index, run->io.port, size, count,
				       (unsigned long long)off);

	/* String I/O (rep ins/outs) arrives as `count` back-to-back elements. */
	uint8_t *data = (uint8_t *)vcpu->run + off;
	for (uint32_t i = 0; i < count; i++, data += size)
		kvm_dispatch_pio(vcpu->base.vm, run->io.port, data, size, is_write);
	return 0;
}

static int kvm_handle_mmio(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	const struct hv_vm *vm = vcpu->base.vm;
	uint32_t len = run->mmio.len;
	bool is_write = run->mmio.is_write;

	if (len == 0 || len > sizeof(run->mmio.data))
		return log_debug_errno(-EIO, "vcpu%u: bad mmio exit (addr %#llx len %u)",
				       vcpu->base.index, (unsigned long long)run->mmio.phys_addr, len);
	if (vm->has_io && vm->io.mmio)
		vm->io.mmio(vm->io.opaque, run->mmio.phys_addr, run->mmio.data, len, is_write);
	else if (!is_write)
		memset(run->mmio.data, 0xff, len);
	return 0;
}

static enum hv_exit kvm_system_event_exit(const struct kvm_run *run)
{
	switch (run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		return HV_EXIT_SYSTEM_SHUTDOWN;
	case KVM_SYSTEM_EVENT_RESET:
	case KVM_SYSTEM_EVENT_CRASH: /* a crashed guest restarts, as on hardware */
		return HV_EXIT_SYSTEM_RESET;
	default:
		return HV_EXIT_UNKNOWN;
	}
}

static int kvm_vcpu_run(struct hv_vcpu *v, enum hv_exit *ret_exit)
{
	struct kvm_vcpu *vcpu = to_kvm_vcpu(v);
	struct kvm_run *run = vcpu->run;
	enum hv_exit exit;
	int r = 0;

	v->exit_info = (struct hv_exit_info){ 0 };
	/* No retry on EINTR here: a signal is how the VMM kicks this thread. */
	if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
		r = -errno;
		if (r != -EINTR && r != -EAGAIN)
			return log_debug_errno(r, "vcpu%u: KVM_RUN", v->index);
		v->exit_info.raw_reason = KVM_EXIT_INTR;
		*ret_exit = HV_EXIT_INTERRUPTED;
		return 0;
	}

	v->exit_info.raw_reason = run->exit_reason;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		r = kvm_handle_pio(vcpu);
		exit = HV_EXIT_IO;
		break;
	case KVM_EXIT_MMIO:
		r = kvm_handle_mmio(vcpu);
		exit = HV_EXIT_IO;
		break;
	case KVM_EXIT_INTR:
		exit = HV_EXIT_INTERRUPTED;
		break;
	case KVM_EXIT_HLT:
		exit = HV_EXIT_HLT;
		break;
	case KVM_EXIT_SHUTDOWN:
		exit = HV_EXIT_SHUTDOWN;
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		exit = kvm_system_event_exit(run);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		v->exit_info.suberror = run->internal.suberror;
		exit = HV_EXIT_INTERNAL_ERROR;
		break;
	case KVM_EXIT_FAIL_ENTRY:
		v->exit_info.hw_reason = run->fail_entry.hardware_entry_failure_reason;
		exit = HV_EXIT_FAIL_ENTRY;
		break;
	default:
		exit = HV_EXIT_UNKNOWN;
		break;
	}
	if (r < 0)
		return r;
	*ret_exit = exit;
	return 0;
}

static void kvm_vcpu_set_immediate_exit(struct hv_vcpu *v, bool on)
{
	struct kvm_vcpu *vcpu = to_kvm_vcpu(v);

	/* A plain store KVM_RUN reads on entry: safe from a signal handler. */
	if (vcpu->run)
		*(volatile __u8 *)&vcpu->run->immediate_exit = on;
}

static const struct hv_vcpu_ops kvm_vcpu_ops = {
	.destroy = kvm_vcpu_destroy,
	.init_x86 = kvm_vcpu_init_x86,
	.get_regs = kvm_vcpu_get_regs,
	.set_regs = kvm_vcpu_set_regs,
	.get_sregs = kvm_vcpu_get_sregs,
	.set_sregs = kvm_vcpu_set_sregs,
	.get_msrs = kvm_vcpu_get_msrs,
	.set_msrs = kvm_vcpu_set_msrs,
	.run = kvm_vcpu_run,
	.set_immediate_exit = kvm_vcpu_set_immediate_exit,
};

int kvm_vcpu_create(struct hv_vm *v, uint32_t index, struct hv_vcpu **ret)
{
	struct kvm_vm *vm = to_kvm_vm(v);
	struct kvm_vcpu *vcpu;
	void *run;
	int r;

	vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu)
		return -ENOMEM;
	vcpu->base = (struct hv_vcpu){ .ops = &kvm_vcpu_ops, .vm = v, .index = index };
	vcpu->vm = vm;
	vcpu->run_size = vm->hv->run_size;
	vcpu->fd = kvm_ioctl(vm->fd, KVM_CREATE_VCPU, (void *)(unsigned long)index);
	if (vcpu->fd < 0) {
		r = log_debug_errno(vcpu->fd, "vcpu%u: KVM_CREATE_VCPU", index);
		goto destroy;
	}
	run = mmap(NULL, vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED) {
		r = log_debug_errno(-errno, "vcpu%u: mmap of kvm_run", index);
		goto destroy;
	}
	vcpu->run = run;
	*ret = &vcpu->base;
	return 0;

destroy:
	kvm_vcpu_destroy(&vcpu->base);
	return r;
}
