/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small RPC layer over gRPC core (the C API of libgrpc_unsecure) for
 * protobuf-c messages: unary calls only, over one pre-connected stream socket
 * per channel (a vsock or Unix socket, no name resolution, no TLS).
 *
 * Server: a table maps method paths to handlers. Every call runs its handler
 * on a thread of its own, so a handler may block (WaitProcess, GetOOMEvent);
 * at most a bounded number of calls run at once. One thread drives gRPC's
 * completion queue. Client: one channel per fd; calls may be made from many
 * threads at once, each blocking until its answer or deadline.
 *
 * Fds given to the server or client become theirs (closed when done): they
 * are switched to O_NONBLOCK (gRPC core requires it: on a blocking fd one of
 * its threads sits in recvmsg() forever) and FD_CLOEXEC.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>

#include "common/error.h"
#include "common/macros.h"

/* Bytes of a status message, NUL included; longer messages are truncated. */
#define AGENT_RPC_STATUS_MAX 512
/* Stack of each handler thread. */
#define AGENT_RPC_WORKER_STACK (1u << 20)

/* A gRPC status: the code and a human message ("" with GRPC_STATUS_OK). */
struct agent_rpc_status {
	grpc_status_code code;
	char message[AGENT_RPC_STATUS_MAX];
};

/* Set code and message; returns code, so a handler can
 * `return agent_rpc_status_set(st, GRPC_STATUS_NOT_FOUND, "no container %s", id);` */
grpc_status_code agent_rpc_status_set(struct agent_rpc_status *st, grpc_status_code code,
				      const char *fmt, ...) _printf_(3, 4);
/* Status from an error object: its message, and its errno mapped to a code
 * (agent_rpc_status_from_errno). Returns the code. */
grpc_status_code agent_rpc_status_from_error(struct agent_rpc_status *st,
					     const struct error *err);
/* errno (either sign) to the closest code: ENOENT/ESRCH NOT_FOUND, EEXIST
 * ALREADY_EXISTS, EINVAL/E2BIG/ENAMETOOLONG INVALID_ARGUMENT, EPERM/EACCES
 * PERMISSION_DENIED, ENOMEM/ENOSPC/EMFILE/ENFILE/EAGAIN RESOURCE_EXHAUSTED,
 * ETIMEDOUT DEADLINE_EXCEEDED, ECANCELED CANCELLED, ENOSYS/EOPNOTSUPP
 * UNIMPLEMENTED, EBUSY/EALREADY/ENOTEMPTY FAILED_PRECONDITION, ERANGE
 * OUT_OF_RANGE, ECONNRESET/EPIPE/ENOTCONN/ESHUTDOWN UNAVAILABLE, else INTERNAL. */
grpc_status_code agent_rpc_status_from_errno(int err);
/* The reverse, for client callers: a negative errno for a non-OK code, 0 for OK. */
int agent_rpc_status_to_errno(grpc_status_code code);
/* "OK", "CANCELLED", ... "UNAUTHENTICATED"; "UNKNOWN_CODE" otherwise. */
const char *agent_rpc_status_code_to_string(grpc_status_code code);

/* ---- server ---- */

struct agent_rpc_server;
/* One running call, as its handler sees it. Valid until the handler returns. */
struct agent_rpc_ctx;

/*
 * A handler answers one request. On GRPC_STATUS_OK it sets *ret_resp to a
 * message of the method's `out` type; the message and everything it points
 * to must stay valid until the handler returned (allocate it with
 * agent_rpc_ctx_alloc()/agent_rpc_ctx_new() — freed after the response was
 * sent — or point at static or request data). On any other code it sets a
 * message in status (agent_rpc_status_set) and leaves *ret_resp alone.
 * A handler that blocks must return (with CANCELLED or anything) soon after
 * its call is cancelled (agent_rpc_ctx_cancelled/_cancel_fd/_on_cancel):
 * agent_rpc_server_free() waits for every handler.
 */
typedef grpc_status_code (*agent_rpc_handler_fn)(void *userdata, struct agent_rpc_ctx *ctx,
						 const ProtobufCMessage *req,
						 ProtobufCMessage **ret_resp,
						 struct agent_rpc_status *status);

struct agent_rpc_method {
	/* "/<package>.<Service>/<Method>", e.g. AGENT_METHOD("Health"). */
	const char *path;
	/* Request and response types. */
	const ProtobufCMessageDescriptor *in;
	const ProtobufCMessageDescriptor *out;
	agent_rpc_handler_fn handler;
	/* Optional: checks the parsed request before the handler runs
	 * (agent_proto_validate); a failure answers INVALID_ARGUMENT with
	 * err's message. */
	int (*validate)(const ProtobufCMessage *req, struct error *err);
	/* Largest serialized request accepted, in bytes; 0 = AGENT_MAX_MESSAGE.
	 * A larger one is answered INVALID_ARGUMENT. */
	size_t max_request;
};

/*
 * Create and start a server (no connections yet). The table and userdata
 * must outlive the server. Calls to paths not in the table are answered
 * UNIMPLEMENTED; requests that do not parse as the method's `in` type,
 * INVALID_ARGUMENT; calls beyond the limit on concurrent calls
 * (AGENT_MAX_CONCURRENT_CALLS), RESOURCE_EXHAUSTED.
 */
int agent_rpc_server_new(const struct agent_rpc_method *table, size_t n, void *userdata,
			 struct agent_rpc_server **ret_server) _wur_;
/* Serve one connected stream socket (the server owns fd from now on, even on
 * failure). Any number of fds may be added; each is its own HTTP/2 connection. */
int agent_rpc_server_add_fd_take(struct agent_rpc_server *server, int fd) _wur_;
/* Change the limit on calls running at once (>= 1). */
void agent_rpc_server_set_max_calls(struct agent_rpc_server *server, unsigned int max);
/* Calls running now (handlers started and not finished). */
unsigned int agent_rpc_server_active_calls(struct agent_rpc_server *server);
/* Stop: no new calls, cancel every running call (handlers see it), wait for
 * every handler to return, close the connections, free. Accepts NULL. */
void agent_rpc_server_free(struct agent_rpc_server *server);

/* The method being served. */
const struct agent_rpc_method *agent_rpc_ctx_method(const struct agent_rpc_ctx *ctx);
/* Has the call been cancelled (client cancel or disconnect, deadline passed,
 * server shutting down)? Lock-free, so safe under any lock of the caller. */
bool agent_rpc_ctx_cancelled(const struct agent_rpc_ctx *ctx);
/* An eventfd that becomes readable (POLLIN) when the call is cancelled, for
 * handlers that wait in poll(). Owned by the call; -errno if none could be made. */
int agent_rpc_ctx_cancel_fd(struct agent_rpc_ctx *ctx);
/* Call fn(arg) when the call is cancelled (at once, on this thread, if it
 * already is); fn == NULL unregisters. fn runs on the server's thread with
 * an internal lock held: it must only wake the handler (e.g. lock, signal a
 * condition variable, unlock), and the handler must not call
 * agent_rpc_ctx_on_cancel() while holding a lock that fn takes. The handler
 * need not unregister before returning; the server does it. */
void agent_rpc_ctx_on_cancel(struct agent_rpc_ctx *ctx, void (*fn)(void *arg), void *arg);
/* Call fn(arg, delivered) once the answer has been handed to the connection
 * (delivered = true) or could not be (the call died), e.g. to power off only
 * after Shutdown's answer went out. Set by the handler before it returns; fn
 * runs on the server's thread and must not block. "Handed to the connection"
 * is not "received": the peer should treat a lost connection after Shutdown
 * as success. */
void agent_rpc_ctx_on_sent(struct agent_rpc_ctx *ctx, void (*fn)(void *arg, bool delivered),
			  void *arg);
/* Zeroed memory freed after the response was sent; NULL if out of memory. */
void *agent_rpc_ctx_alloc(struct agent_rpc_ctx *ctx, size_t size);
char *agent_rpc_ctx_strdup(struct agent_rpc_ctx *ctx, const char *s);
/* A new, initialized message of type desc in the call's memory. */
ProtobufCMessage *agent_rpc_ctx_new(struct agent_rpc_ctx *ctx,
				    const ProtobufCMessageDescriptor *desc);

/* ---- client ---- */

struct agent_rpc_client;

/* A client on a connected stream socket (the client owns fd from now on,
 * even on failure). */
int agent_rpc_client_new_fd_take(int fd, struct agent_rpc_client **ret_client) _wur_;
/* No call may be in flight on any thread. Accepts NULL. */
void agent_rpc_client_free(struct agent_rpc_client *client);

/*
 * One unary call: send req to path, wait for the answer (at most timeout_ms;
 * <= 0 = no deadline, for WaitProcess and GetOOMEvent), parse it as
 * resp_desc. Returns 0 with *ret_resp set (free it with
 * protobuf_c_message_free_unpacked(resp, NULL)), or a negative errno
 * (agent_rpc_status_to_errno) with the code and message in *status — the
 * server's, or one made up here for local failures (e.g. INTERNAL for an
 * unparsable response). status may be NULL; it is always written otherwise.
 * Thread-safe.
 */
int agent_rpc_call(struct agent_rpc_client *client, const char *path,
		   const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
		   int timeout_ms, ProtobufCMessage **ret_resp,
		   struct agent_rpc_status *status) _wur_;
/* The same with raw bytes (tests, fuzzers, tools); *ret_resp is malloc'd
 * (free it), possibly of length 0. */
int agent_rpc_call_raw(struct agent_rpc_client *client, const char *path, const void *req,
		       size_t req_len, int timeout_ms, void **ret_resp, size_t *ret_resp_len,
		       struct agent_rpc_status *status) _wur_;

/* ---- connecting ---- */

/* Handshake timeout of agent_rpc_dial_hybrid_vsock() when none is given
 * (Kata's dialer uses 10 s too). */
#define AGENT_RPC_HANDSHAKE_TIMEOUT_MS 10000
/* Longest "OK <hostport>\n" line accepted. */
#define AGENT_RPC_HANDSHAKE_LINE_MAX 32

/* Connect to a Unix stream socket. Returns the fd (CLOEXEC, blocking) or a
 * negative errno with a message in err. */
int agent_rpc_dial_unix(const char *path, struct error *err) _wur_;
/*
 * Reach a guest vsock port through a hybrid vsock Unix socket (nacelle-vmm's,
 * Firecracker's, Cloud Hypervisor's): connect to uds_path, send
 * "CONNECT <port>\n", read the "OK <hostport>\n" line byte by byte (never
 * past it), all within timeout_ms (<= 0 = AGENT_RPC_HANDSHAKE_TIMEOUT_MS).
 * Returns the fd, from now on a plain stream to the guest port (CLOEXEC,
 * blocking), or a negative errno with a message in err (-ECONNREFUSED when
 * the VMM closed the connection: nothing listens on the port).
 */
int agent_rpc_dial_hybrid_vsock(const char *uds_path, uint32_t port, int timeout_ms,
				struct error *err) _wur_;
