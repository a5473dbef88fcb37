/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runtime's connection to nacelle-agent: one gRPC channel over one
 * hybrid vsock stream to guest port 1024, shared by every caller and
 * reference-counted, because the RPC client may only be freed with no call
 * in flight and the blocking calls (WaitProcess, GetOOMEvent) return only
 * when the connection dies. Each call is bounded by its own timeout; a
 * call failing with UNAVAILABLE means the connection is gone for good (it
 * cannot be re-established on the same stream), which the caller treats as
 * the pod's death.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent-proto/agent-proto.h"
#include "agent-proto/rpc.h"
#include "common/error.h"
#include "common/macros.h"

/* The agent API's generated names, shorter. */
#define AGENT_MSG(T) Nacelle__Agent__V1__##T
#define AGENT_DESC(t) (&nacelle__agent__v1__##t##__descriptor)

/* One attempt to reach the agent while it boots. */
#define AGENT_DIAL_ATTEMPT_MS 2000
/* Between attempts (the VMM closes the connection while nothing listens). */
#define AGENT_DIAL_RETRY_MS 50
#define AGENT_HEALTH_TIMEOUT_MS 2000

struct agent_conn;

/*
 * Reach the agent through the hybrid vsock socket at vsock_path: dial,
 * then Health, again and again until it answers SERVING or deadline_ms
 * (CLOCK_MONOTONIC ms) passes. alive(opaque) is asked between attempts;
 * false (the VM died) ends the wait at once with -ECHILD.
 */
int agent_conn_dial(const char *vsock_path, int64_t deadline_ms, bool (*alive)(void *opaque),
		    void *opaque, struct agent_conn **ret, struct error *err) _wur_;
/* For tests: a connection on an already connected fd (taken). */
int agent_conn_new_fd_take(int fd, struct agent_conn **ret) _wur_;
struct agent_conn *agent_conn_ref(struct agent_conn *c);
/* The last reference frees the client; no call may then be in flight,
 * which holds since every caller holds a reference. Accepts NULL. */
void agent_conn_unref(struct agent_conn *c);

/*
 * One RPC by name ("CreateContainer"); timeout_ms <= 0 waits for ever (the
 * blocking calls). On failure err says "<name>: <CODE>: <agent's message>"
 * and *ret_lost (may be NULL) tells whether the connection is gone.
 */
int agent_conn_call(struct agent_conn *c, const char *name, const ProtobufCMessage *req,
		    const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
		    ProtobufCMessage **ret_resp, bool *ret_lost, struct error *err) _wur_;
