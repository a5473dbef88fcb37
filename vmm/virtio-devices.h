/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio devices of a VM, created from its configuration in one
 * commented sequence and plugged into PCI: disks, NICs, rng, console.
 */
#pragma once

#include "common/error.h"
#include "common/guest-mem.h"
#include "common/macros.h"
#include "vmm/config.h"

struct vmm_pci;

/* fds the console device uses and that the VM owns (closed at teardown). */
struct vmm_console_fds {
	int out_fd;
	int in_fd;
};

int vmm_virtio_devices_create(struct vmm_pci *pci, const struct vmm_config *cfg,
			      const struct guest_mem *mem, struct vmm_console_fds *console,
			      struct error *err) _wur_;
void vmm_console_fds_close(struct vmm_console_fds *console);

/*
 * A non-blocking descriptor for the terminal/pipe behind our stdio fd: a new
 * open file description through /proc/self/fd, so O_NONBLOCK does not leak
 * to the shell that shares the old one. Falls back to dup() (sockets).
 */
int vmm_reopen_nonblocking(int fd, int flags);
