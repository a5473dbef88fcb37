/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the runtime asks of nacelle-vmm and virtiofsd: the VmConfig JSON for
 * vm.create (cloud-hypervisor's field names), the guest kernel command line,
 * and both programs' argument vectors. Pure functions of the configuration
 * and the pod's paths.
 */
#pragma once

#include "common/error.h"
#include "common/macros.h"
#include "config.h"
#include "pod-paths.h"

/* The virtio-fs tag of the pod's share and where the agent mounts it. */
#define SANDBOX_FS_TAG "nacelle"
#define SANDBOX_GUEST_SHARED "/run/nacelle/shared"
/* The guest's vsock CID (2 is the host; the first guest CID is 3). */
#define SANDBOX_GUEST_CID 3
#define SANDBOX_FS_QUEUE_SIZE 1024
/* Always on the guest command line: the serial console nacelle-vmm writes
 * to console.log; a panic (the agent, PID 1, died) reboots after 1 s, and
 * nacelle-vmm exits on a reboot, which the runtime sees. */
#define SANDBOX_BASE_CMDLINE "console=ttyS0 panic=1"

/* "<base>[ quiet] <kernel_params>": quiet unless debug. */
int sandbox_kernel_cmdline(const struct sandbox_config *cfg, char **ret) _wur_;
int sandbox_vm_config_json(const struct sandbox_config *cfg, const struct sandbox_paths *paths,
			   char **ret_json, struct error *err) _wur_;
/* NULL-terminated, malloc'd (strv_free). */
int sandbox_vmm_argv(const struct sandbox_config *cfg, const struct sandbox_paths *paths,
		     char ***ret_argv) _wur_;
int sandbox_virtiofsd_argv(const struct sandbox_config *cfg, const struct sandbox_paths *paths,
			   char ***ret_argv) _wur_;
void strv_free(char **v);
