/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a backend implements behind include/hv/hv.h. Each backend embeds the
 * neutral struct hv / hv_vm / hv_vcpu as the first member of its own object,
 * fills in a static const ops table and gets back with container_of. An op
 * left NULL is a capability the backend lacks: the wrapper returns
 * -EOPNOTSUPP.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "hv/hv.h"

struct hv_ops {
	const char *name;
	void (*close)(struct hv *hv);
	int (*max_vcpus)(struct hv *hv);
	int (*vm_create)(struct hv *hv, struct hv_vm **ret);
};

struct hv_vm_ops {
	void (*destroy)(struct hv_vm *vm);
	int (*set_memory)(struct hv_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size,
			  void *hva);
	int (*create_irqchip)(struct hv_vm *vm);
	int (*set_irq_line)(struct hv_vm *vm, uint32_t gsi, bool level);
	int (*irqfd)(struct hv_vm *vm, int fd, uint32_t gsi, bool assign);
	int (*ioeventfd)(struct hv_vm *vm, int fd, uint64_t addr, uint32_t len, bool pio,
			 int64_t datamatch, bool assign);
	int (*msi_route_set)(struct hv_vm *vm, uint32_t gsi, uint64_t addr, uint32_t data);
	int (*msi_route_remove)(struct hv_vm *vm, uint32_t gsi);
	int (*signal_msi)(struct hv_vm *vm, uint64_t addr, uint32_t data);
	int (*vcpu_create)(struct hv_vm *vm, uint32_t index, struct hv_vcpu **ret);
};

struct hv_vcpu_ops {
	void (*destroy)(struct hv_vcpu *vcpu);
	int (*init_x86)(struct hv_vcpu *vcpu, uint32_t nr_vcpus);
	int (*get_regs)(struct hv_vcpu *vcpu, struct hv_regs *ret);
	int (*set_regs)(struct hv_vcpu *vcpu, const struct hv_regs *regs);
	int (*get_sregs)(struct hv_vcpu *vcpu, struct hv_sregs *ret);
	int (*set_sregs)(struct hv_vcpu *vcpu, const struct hv_sregs *sregs);
	int (*get_msrs)(struct hv_vcpu *vcpu, struct hv_msr *msrs, uint32_t n);
	int (*set_msrs)(struct hv_vcpu *vcpu, const struct hv_msr *msrs, uint32_t n);
	int (*run)(struct hv_vcpu *vcpu, enum hv_exit *ret_exit);
	/* Called from signal handlers: must be async-signal-safe. */
	void (*set_immediate_exit)(struct hv_vcpu *vcpu, bool on);
};

struct hv {
	const struct hv_ops *ops;
};

struct hv_vm {
	const struct hv_vm_ops *ops;
	/* Set once before any vCPU runs, then only read by vCPU threads. */
	struct hv_io_handler io;
	bool has_io;
};

struct hv_vcpu {
	const struct hv_vcpu_ops *ops;
	struct hv_vm *vm;
	uint32_t index;
	struct hv_exit_info exit_info;
};

/* Backends. Each returns -errno (and logs at debug) when unavailable. */
int kvm_hv_open(struct hv **ret) _wur_;
