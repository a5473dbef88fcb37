/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM's main thread: it owns the VM's configuration and lifecycle
 * (cloud-hypervisor's VmState: NotCreated -> Created -> Running <-> Paused,
 * Running/Paused -> Shutdown -> Running...), runs API requests one at a time,
 * and supervises the running VM in one epoll loop over signals (signalfd),
 * the VM's stop eventfd, the API's request eventfd and, for --serial tty,
 * standard input.
 *
 * A guest power-off ends the VMM (exit 0), a guest reboot request ends it
 * with VMM_EXIT_REBOOT, a vCPU error with 1, SIGINT/SIGTERM/SIGHUP or
 * vmm.shutdown with 0 after a clean teardown; the API's vm.shutdown stops
 * only the VM.
 */
#pragma once

#include "common/error.h"
#include "common/macros.h"
#include "vmm/api.h"
#include "vmm/config.h"

struct vmm_controller;

/* Block the signals the loop reads through its signalfd. Call before any
 * thread is created so every thread inherits the mask. */
int controller_block_signals(void) _wur_;

/* cfg: the command line's; its VM part is used if it names a kernel. */
int controller_create(struct vmm_config *cfg, struct vmm_controller **ret,
		      struct error *err) _wur_;
/* Create and boot the VM of the command line, if it has one. */
int controller_boot_cli_vm(struct vmm_controller *c, struct error *err) _wur_;
/* Run until the VMM must exit; returns the process exit code. */
int controller_run(struct vmm_controller *c);
void controller_destroy(struct vmm_controller *c);
