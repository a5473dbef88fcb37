/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a pod's state lives on the host: /run/nacelle/<sandbox-id>/ (the
 * base is $NACELLE_RUN_DIR when set, for tests), holding
 *   shared/          the virtio-fs share (a bind mount of itself, shared
 *                    propagation): <container-id>/rootfs, <container-id>/mounts/<n>
 *   api.sock         nacelle-vmm's REST API
 *   vsock.sock       the hybrid vsock socket (agent, stdio streams)
 *   virtiofsd.sock   the vhost-user socket between nacelle-vmm and virtiofsd
 *   vmm.log, virtiofsd.log, console.log   their output and the guest's serial console
 *   vmm.pid, virtiofsd.pid                "<pid> <start time>", for the delete subcommand
 */
#pragma once

#include "common/error.h"
#include "common/macros.h"

#define SANDBOX_RUN_DIR "/run/nacelle"
#define SANDBOX_RUN_DIR_ENV "NACELLE_RUN_DIR"

struct sandbox_paths {
	char *base;	/* /run/nacelle */
	char *dir;	/* <base>/<sandbox-id> */
	char *shared;
	char *api_sock;
	char *vsock_sock;
	char *fs_sock;
	char *vmm_log;
	char *fs_log;
	char *console_log;
	char *vmm_pid;
	char *fs_pid;
};

/* Compute every path (nothing is created); -ENAMETOOLONG when a socket path
 * would not fit in sockaddr_un. */
int sandbox_paths_init(const char *sandbox_id, struct sandbox_paths *ret, struct error *err) _wur_;
void sandbox_paths_free(struct sandbox_paths *p);
