/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM's main thread: one epoll loop over signals (SIGINT, SIGTERM,
 * SIGHUP through a signalfd), the VM's stop eventfd and, when the serial port
 * is on the terminal, standard input. Returns when the VM must stop.
 */
#pragma once

#include "common/macros.h"
#include "vmm/vm.h"

/* Block the signals the loop reads through its signalfd. Call before any
 * thread is created so every thread inherits the mask. */
int event_loop_block_signals(void) _wur_;
/* Run until a stop reason is posted; returns it. */
int event_loop_run(struct vm *vm, const struct vmm_config *cfg) _wur_;
