/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Backend-neutral entry points: each forwards to the object's ops table. A
 * NULL op is a capability the backend does not offer, reported as
 * -EOPNOTSUPP so the VMM can decide whether it matters.
 */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "hv-internal.h"

/* Call an int op of `obj`, or fail cleanly when the object or op is absent. */
#define HV_CALL(obj, op, ...)                                                  \
	({                                                                     \
		int _r;                                                        \
		if (!(obj))                                                    \
			_r = -EINVAL;                                          \
		else if (!(obj)->ops->op)                                      \
			_r = -EOPNOTSUPP;                                      \
		else                                                           \
			_r = (obj)->ops->op(__VA_ARGS__);                      \
		_r;                                                            \
	})

static const char *const hv_exit_table[HV_EXIT__MAX] = {
	[HV_EXIT_IO] = "io",
	[HV_EXIT_INTERRUPTED] = "interrupted",
	[HV_EXIT_HLT] = "hlt",
	[HV_EXIT_SHUTDOWN] = "shutdown",
	[HV_EXIT_SYSTEM_RESET] = "system-reset",
	[HV_EXIT_SYSTEM_SHUTDOWN] = "system-shutdown",
	[HV_EXIT_INTERNAL_ERROR] = "internal-error",
	[HV_EXIT_FAIL_ENTRY] = "fail-entry",
	[HV_EXIT_UNKNOWN] = "unknown",
};

const char *hv_exit_to_string(enum hv_exit exit)
{
	/* Callers put this straight into log lines, so never return NULL. */
	if ((unsigned)exit >= HV_EXIT__MAX || !hv_exit_table[exit])
		return "invalid";
	return hv_exit_table[exit];
}

/* ---- hypervisor ---- */

int hv_open(struct hv **ret)
{
	/* KVM is the only backend today; another would be tried in turn here. */
	return kvm_hv_open(ret);
}

void hv_close(struct hv *hv)
{
	if (hv && hv->ops->close)
		hv->ops->close(hv);
}

const char *hv_name(const struct hv *hv)
{
	return hv ? hv->ops->name : "none";
}

int hv_max_vcpus(struct hv *hv)
{
	return HV_CALL(hv, max_vcpus, hv);
}

/* ---- VM ---- */

int hv_vm_create(struct hv *hv, struct hv_vm **ret)
{
	return HV_CALL(hv, vm_create, hv, ret);
}

void hv_vm_destroy(struct hv_vm *vm)
{
	if (vm && vm->ops->destroy)
		vm->ops->destroy(vm);
}

int hv_vm_set_memory(struct hv_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *hva)
{
	return HV_CALL(vm, set_memory, vm, slot, gpa, size, hva);
}

int hv_vm_create_irqchip(struct hv_vm *vm)
{
	return HV_CALL(vm, create_irqchip, vm);
}

int hv_vm_set_irq_line(struct hv_vm *vm, uint32_t gsi, bool level)
{
	return HV_CALL(vm, set_irq_line, vm, gsi, level);
}

int hv_vm_irqfd_assign(struct hv_vm *vm, int fd, uint32_t gsi)
{
	return HV_CALL(vm, irqfd, vm, fd, gsi, true);
}

int hv_vm_irqfd_deassign(struct hv_vm *vm, int fd, uint32_t gsi)
{
	return HV_CALL(vm, irqfd, vm, fd, gsi, false);
}

int hv_vm_ioeventfd_assign(struct hv_vm *vm, int fd, uint64_t addr, uint32_t len, bool pio,
			   int64_t datamatch)
{
	return HV_CALL(vm, ioeventfd, vm, fd, addr, len, pio, datamatch, true);
}

int hv_vm_ioeventfd_deassign(struct hv_vm *vm, int fd, uint64_t addr, uint32_t len, bool pio,
			     int64_t datamatch)
{
	return HV_CALL(vm, ioeventfd, vm, fd, addr, len, pio, datamatch, false);
}

int hv_vm_msi_route_set(struct hv_vm *vm, uint32_t gsi, uint64_t addr, uint32_t data)
{
	return HV_CALL(vm, msi_route_set, vm, gsi, addr, data);
}

int hv_vm_msi_route_remove(struct hv_vm *vm, uint32_t gsi)
{
	return HV_CALL(vm, msi_route_remove, vm, gsi);
}

int hv_vm_signal_msi(struct hv_vm *vm, uint64_t addr, uint32_t data)
{
	return HV_CALL(vm, signal_msi, vm, addr, data);
}

void hv_vm_set_io_handler(struct hv_vm *vm, const struct hv_io_handler *handler)
{
	if (!vm)
		return;
	if (handler) {
		vm->io = *handler;
		vm->has_io = true;
	} else {
		memset(&vm->io, 0, sizeof(vm->io));
		vm->has_io = false;
	}
}

/* ---- vCPU ---- */

int hv_vcpu_create(struct hv_vm *vm, uint32_t index, struct hv_vcpu **ret)
{
	return HV_CALL(vm, vcpu_create, vm, index, ret);
}

void hv_vcpu_destroy(struct hv_vcpu *vcpu)
{
	if (vcpu && vcpu->ops->destroy)
		vcpu->ops->destroy(vcpu);
}

uint32_t hv_vcpu_index(const struct hv_vcpu *vcpu)
{
	return vcpu->index;
}

int hv_vcpu_init_x86(struct hv_vcpu *vcpu, uint32_t nr_vcpus)
{
	if (vcpu && (nr_vcpus == 0 || vcpu->index >= nr_vcpus))
		return -EINVAL;
	return HV_CALL(vcpu, init_x86, vcpu, nr_vcpus);
}

int hv_vcpu_get_regs(struct hv_vcpu *vcpu, struct hv_regs *ret)
{
	return HV_CALL(vcpu, get_regs, vcpu, ret);
}

int hv_vcpu_set_regs(struct hv_vcpu *vcpu, const struct hv_regs *regs)
{
	return HV_CALL(vcpu, set_regs, vcpu, regs);
}

int hv_vcpu_get_sregs(struct hv_vcpu *vcpu, struct hv_sregs *ret)
{
	return HV_CALL(vcpu, get_sregs, vcpu, ret);
}

int hv_vcpu_set_sregs(struct hv_vcpu *vcpu, const struct hv_sregs *sregs)
{
	return HV_CALL(vcpu, set_sregs, vcpu, sregs);
}

int hv_vcpu_get_msrs(struct hv_vcpu *vcpu, struct hv_msr *msrs, uint32_t n)
{
	return HV_CALL(vcpu, get_msrs, vcpu, msrs, n);
}

int hv_vcpu_set_msrs(struct hv_vcpu *vcpu, const struct hv_msr *msrs, uint32_t n)
{
	return HV_CALL(vcpu, set_msrs, vcpu, msrs, n);
}

int hv_vcpu_run(struct hv_vcpu *vcpu, enum hv_exit *ret_exit)
{
	return HV_CALL(vcpu, run, vcpu, ret_exit);
}

void hv_vcpu_set_immediate_exit(struct hv_vcpu *vcpu, bool on)
{
	/* Runs in signal handlers: no logging, no locks. */
	if (vcpu && vcpu->ops->set_immediate_exit)
		vcpu->ops->set_immediate_exit(vcpu, on);
}

void hv_vcpu_get_exit_info(const struct hv_vcpu *vcpu, struct hv_exit_info *ret)
{
	*ret = vcpu->exit_info;
}
