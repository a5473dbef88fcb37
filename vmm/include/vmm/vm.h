/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A VM: guest memory, the hypervisor VM, its buses and devices, its vCPUs.
 * Created from a struct vmm_config in one explicit sequence (vm.c), booted,
 * then supervised by the event loop (event-loop.c) until something asks it
 * to stop: a guest power-off or reboot, a vCPU error, or a signal.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/guest-mem.h"
#include "common/macros.h"
#include "vmm/config.h"

struct vm;

/* Why the VM stopped; the first reason posted wins. */
enum vm_exit_reason {
	VM_EXIT_NONE,
	VM_EXIT_POWEROFF, /* guest ACPI S5 */
	VM_EXIT_REBOOT,	  /* guest reset request or triple fault */
	VM_EXIT_ERROR,	  /* a vCPU could not continue */
	VM_EXIT_SIGNAL,	  /* SIGTERM / SIGINT to the VMM */
	VM_EXIT__MAX,
};

const char *vm_exit_reason_to_string(enum vm_exit_reason r);

/* Process exit codes of nacelle-vmm (documented in --help and the README). */
#define VMM_EXIT_OK 0
#define VMM_EXIT_ERROR 1
#define VMM_EXIT_REBOOT 3

int vm_create(const struct vmm_config *cfg, struct vm **ret, struct error *err) _wur_;
/* Load the payload and start every vCPU. */
int vm_boot(struct vm *vm, struct error *err) _wur_;
/* Stop every vCPU (kick + join). Idempotent. */
void vm_stop(struct vm *vm);
void vm_destroy(struct vm *vm);

/* Post a stop request (any thread, async-signal-safe is not required). */
void vm_request_exit(struct vm *vm, enum vm_exit_reason reason);
enum vm_exit_reason vm_exit_reason(const struct vm *vm);
/* eventfd that becomes readable once a stop request was posted. */
int vm_exit_fd(const struct vm *vm);

/* Pause every vCPU at a safe point, then quiesce every device. */
int vm_pause(struct vm *vm) _wur_;
int vm_resume(struct vm *vm) _wur_;
/* vm.counters; *ret malloc'd, valid while the VM exists. */
struct vmm_counter;
int vm_counters(struct vm *vm, struct vmm_counter **ret, unsigned int *ret_n) _wur_;
/* Press the ACPI power button (the guest decides what to do). */
int vm_power_button(struct vm *vm) _wur_;
/* Guest RAM in bytes (VmInfo memory_actual_size). */
uint64_t vm_memory_size(const struct vm *vm);

/* Serial console plumbing for the event loop. */
struct serial *vm_serial(struct vm *vm);
const struct guest_mem *vm_guest_mem(const struct vm *vm);
