/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The hypervisor layer: three opaque objects (hypervisor, VM, vCPU), each
 * behind a static const ops table in its backend (only KVM today), as Cloud
 * Hypervisor splits Hypervisor/Vm/Vcpu. Nothing outside hv/ sees
 * <linux/kvm.h>. An optional capability a backend lacks is a NULL op, which
 * these wrappers turn into -EOPNOTSUPP.
 *
 * All functions returning int return >= 0 on success and -errno on failure.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/macros.h"

struct hv;
struct hv_vm;
struct hv_vcpu;

/* ---- x86 register state, backend-neutral ---- */

struct hv_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
};

struct hv_segment {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint8_t type, present, dpl, db, s, l, g, avl, unusable;
};

struct hv_dtable {
	uint64_t base;
	uint16_t limit;
};

struct hv_sregs {
	struct hv_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct hv_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer, apic_base;
};

struct hv_msr {
	uint32_t index;
	uint64_t value;
};

/* ---- exits ---- */

enum hv_exit {
	HV_EXIT_IO,		/* port or MMIO access, already dispatched */
	HV_EXIT_INTERRUPTED,	/* a signal or immediate_exit ended the run */
	HV_EXIT_HLT,		/* only without an in-kernel LAPIC */
	HV_EXIT_SHUTDOWN,	/* triple fault: the guest wants a reset */
	HV_EXIT_SYSTEM_RESET,	/* PSCI-style system event: reset */
	HV_EXIT_SYSTEM_SHUTDOWN,/* system event: power off */
	HV_EXIT_INTERNAL_ERROR,	/* hypervisor could not emulate (e.g. PVM + stock kernel) */
	HV_EXIT_FAIL_ENTRY,	/* hardware refused to enter the guest */
	HV_EXIT_UNKNOWN,
	HV_EXIT__MAX,
};

const char *hv_exit_to_string(enum hv_exit exit);

/*
 * Port I/O and MMIO accesses from a vCPU are handed to these callbacks, on
 * the vCPU's thread. `data` holds `size` bytes (1, 2, 4 or 8): filled by the
 * callback on a read, supplied by the guest on a write. Unclaimed reads
 * should return all-ones, as real hardware does.
 */
struct hv_io_handler {
	void (*pio)(void *opaque, uint16_t port, uint8_t *data, uint32_t size, bool is_write);
	void (*mmio)(void *opaque, uint64_t addr, uint8_t *data, uint32_t size, bool is_write);
	void *opaque;
};

/* Details of the last exit, for the log line when a vCPU stops on an error. */
struct hv_exit_info {
	uint32_t raw_reason;	/* backend's own exit reason number */
	uint32_t suberror;	/* internal error sub-code, if any */
	uint64_t hw_reason;	/* fail-entry hardware reason, if any */
};

/* ---- hypervisor ---- */

int hv_open(struct hv **ret) _wur_;
void hv_close(struct hv *hv);
const char *hv_name(const struct hv *hv);
/* Largest vCPU count a VM may have. */
int hv_max_vcpus(struct hv *hv) _wur_;

/* ---- VM ---- */

int hv_vm_create(struct hv *hv, struct hv_vm **ret) _wur_;
void hv_vm_destroy(struct hv_vm *vm);

/* Map [gpa, gpa+size) of guest physical memory to host memory at hva. */
int hv_vm_set_memory(struct hv_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size,
		     void *hva) _wur_;
/* In-kernel interrupt controllers: local APICs, I/O APIC (GSIs 0-23), PIC. */
int hv_vm_create_irqchip(struct hv_vm *vm) _wur_;
/* Set a GSI line (for legacy level/edge devices when irqfd is not used). */
int hv_vm_set_irq_line(struct hv_vm *vm, uint32_t gsi, bool level) _wur_;
/* Signalling eventfd `fd` injects GSI `gsi` (edge). */
int hv_vm_irqfd_assign(struct hv_vm *vm, int fd, uint32_t gsi) _wur_;
int hv_vm_irqfd_deassign(struct hv_vm *vm, int fd, uint32_t gsi) _wur_;
/*
 * A guest write of `len` bytes to `addr` (port if pio) signals eventfd `fd`
 * without an exit to userspace. datamatch < 0 means any value.
 */
int hv_vm_ioeventfd_assign(struct hv_vm *vm, int fd, uint64_t addr, uint32_t len,
			   bool pio, int64_t datamatch) _wur_;
int hv_vm_ioeventfd_deassign(struct hv_vm *vm, int fd, uint64_t addr, uint32_t len,
			     bool pio, int64_t datamatch) _wur_;
/*
 * MSI routing. The backend keeps the full routing table (the default I/O
 * APIC pin routes for GSIs 0-23 plus these MSI routes) and commits it on each
 * change. GSIs for MSI start at HV_MSI_GSI_BASE.
 */
#define HV_MSI_GSI_BASE 24
int hv_vm_msi_route_set(struct hv_vm *vm, uint32_t gsi, uint64_t addr, uint32_t data) _wur_;
int hv_vm_msi_route_remove(struct hv_vm *vm, uint32_t gsi) _wur_;
/* Inject one MSI directly. */
int hv_vm_signal_msi(struct hv_vm *vm, uint64_t addr, uint32_t data) _wur_;
/* Where port/MMIO exits of every vCPU of this VM go. Set before vCPUs run. */
void hv_vm_set_io_handler(struct hv_vm *vm, const struct hv_io_handler *handler);

/* ---- vCPU ---- */

/* `index` is also the vCPU's APIC id. */
int hv_vcpu_create(struct hv_vm *vm, uint32_t index, struct hv_vcpu **ret) _wur_;
void hv_vcpu_destroy(struct hv_vcpu *vcpu);
uint32_t hv_vcpu_index(const struct hv_vcpu *vcpu);

/*
 * Architectural set-up every x86 vCPU needs before it first runs: CPUID
 * (host's supported set, masked, with topology leaves for `nr_vcpus`
 * single-threaded cores in one socket and the hypervisor leaves), boot MSRs,
 * FPU/SSE defaults and the LAPIC's LINT0 (ExtINT) / LINT1 (NMI).
 */
int hv_vcpu_init_x86(struct hv_vcpu *vcpu, uint32_t nr_vcpus) _wur_;

int hv_vcpu_get_regs(struct hv_vcpu *vcpu, struct hv_regs *ret) _wur_;
int hv_vcpu_set_regs(struct hv_vcpu *vcpu, const struct hv_regs *regs) _wur_;
int hv_vcpu_get_sregs(struct hv_vcpu *vcpu, struct hv_sregs *ret) _wur_;
int hv_vcpu_set_sregs(struct hv_vcpu *vcpu, const struct hv_sregs *sregs) _wur_;
int hv_vcpu_get_msrs(struct hv_vcpu *vcpu, struct hv_msr *msrs, uint32_t n) _wur_;
int hv_vcpu_set_msrs(struct hv_vcpu *vcpu, const struct hv_msr *msrs, uint32_t n) _wur_;

/*
 * Run until something needs the VMM. Port/MMIO exits are dispatched to the
 * VM's io handler and reported as HV_EXIT_IO. A signal delivered to the
 * thread, or hv_vcpu_set_immediate_exit(true) before the call, gives
 * HV_EXIT_INTERRUPTED.
 */
int hv_vcpu_run(struct hv_vcpu *vcpu, enum hv_exit *ret_exit) _wur_;
/* Async-signal-safe: make the current or next run return at once. */
void hv_vcpu_set_immediate_exit(struct hv_vcpu *vcpu, bool on);
void hv_vcpu_get_exit_info(const struct hv_vcpu *vcpu, struct hv_exit_info *ret);
