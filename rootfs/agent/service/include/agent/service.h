/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The nacelle-agent service: the state of the guest's containers and the
 * handlers of every RPC of nacelle.agent.v1 (agent-proto/README.md), served by
 * nacelle_agent_rpc on the connections main.c accepts.
 *
 * Threads: gRPC's driver thread and one thread per call (handlers block in
 * WaitProcess, GetOOMEvent, RemoveContainer), one stdio relay thread per
 * process with streams, one OOM watcher thread. The caller's main thread
 * owns SIGCHLD: it calls agent_service_reap() whenever its reaper signalfd
 * (agent_init_reaper_fd(), created before this service, so every thread has
 * SIGCHLD blocked) or agent_service_event_fd() becomes readable. Nothing else
 * in the agent waits for children.
 *
 *	agent_service_new(&config, &svc, &err);
 *	... accept: agent_service_add_connection_take(svc, fd);
 *	... SIGCHLD or event fd readable: agent_service_reap(svc);
 *	... agent_service_shutdown_requested(svc): stop serving
 *	agent_service_free(svc);   (kills what is left of the containers)
 */
#pragma once

#include <stdbool.h>

#include "common/error.h"
#include "common/macros.h"

struct agent_service_config {
	/*
	 * The agent is PID 1 of the guest: it may change the machine
	 * (hostname, resolv.conf, clock, virtio-fs mounts). When false (tests,
	 * a developer's host) SetupSandbox leaves the machine alone.
	 */
	bool pid1;
	/*
	 * TEST ONLY (host mode without AF_VSOCK): when set, the stdio "port" N
	 * of a process is the Unix socket <stdio_unix_dir>/stdio-<N>.sock
	 * instead of vsock port N. NULL = AF_VSOCK, accepting the host (CID 2)
	 * only. Copied.
	 */
	const char *stdio_unix_dir;
};

struct agent_service;

int agent_service_new(const struct agent_service_config *config, struct agent_service **ret,
		      struct error *err) _wur_;
/* Serve one accepted connection (owned by the service from now on, even on
 * failure). */
int agent_service_add_connection_take(struct agent_service *svc, int fd) _wur_;
/*
 * Reap exited children: the service's processes get their exit status;
 * orphans (PID 1 inherits every one in the guest) are reaped and dropped.
 * Also clears the event fd.
 */
void agent_service_reap(struct agent_service *svc);
/* An eventfd (non-blocking) that becomes readable when the main loop should
 * call agent_service_reap() and look at agent_service_shutdown_requested(). */
int agent_service_event_fd(const struct agent_service *svc);
/* Shutdown was called and its answer handed to the connection. */
bool agent_service_shutdown_requested(const struct agent_service *svc);
/*
 * Stop serving (cancels blocked calls and waits for every handler), kill
 * every container process (SIGKILL), reap them, stop the stdio relays and
 * remove the containers' cgroups. Accepts NULL.
 */
void agent_service_free(struct agent_service *svc);
