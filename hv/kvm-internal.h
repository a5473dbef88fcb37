/* SPDX-License-Identifier: Apache-2.0 */
/* The KVM backend's objects, shared by kvm.c and kvm-cpuid.c. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "hv-internal.h"

struct kvm_hv {
	struct hv base;
	int fd;			/* /dev/kvm */
	uint32_t run_size;	/* KVM_GET_VCPU_MMAP_SIZE */
	bool tsc_deadline;	/* KVM_CAP_TSC_DEADLINE_TIMER */
};

struct kvm_msi_route {
	uint32_t gsi;
	uint64_t addr;
	uint32_t data;
};

struct kvm_vm {
	struct hv_vm base;
	struct kvm_hv *hv;	/* must outlive the VM */
	int fd;
	bool irqchip;

	/* The MSI half of the GSI routing table; see kvm_vm_commit_routes(). */
	pthread_mutex_t routes_lock;
	struct kvm_msi_route *msi_routes;
	uint32_t nr_msi_routes;
};

struct kvm_vcpu {
	struct hv_vcpu base;
	struct kvm_vm *vm;
	int fd;
	struct kvm_run *run;	/* mmap of hv->run_size bytes */
	size_t run_size;
};

static inline struct kvm_vm *to_kvm_vm(struct hv_vm *v)
{
	return container_of(v, struct kvm_vm, base);
}

static inline struct kvm_vcpu *to_kvm_vcpu(struct hv_vcpu *v)
{
	return container_of(v, struct kvm_vcpu, base);
}

/* ioctl() as -errno, retrying EINTR for calls that are safe to repeat. */
int kvm_ioctl(int fd, unsigned long req, void *arg) _wur_;

/* kvm-vcpu.c */
int kvm_vcpu_create(struct hv_vm *vm, uint32_t index, struct hv_vcpu **ret) _wur_;

/* kvm-cpuid.c */
int kvm_vcpu_init_x86(struct hv_vcpu *vcpu, uint32_t nr_vcpus) _wur_;
