/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A ttrpc server on a Unix socket, compatible with ttrpc-go v1.1.1's (what
 * containerd 1.6 dials):
 *  - one thread runs an epoll loop: accepts, checks the peer (SO_PEERCRED:
 *    same effective uid and gid as the server, ttrpc's
 *    UnixSocketRequireSameUser), reads and decodes frames;
 *  - each request runs in its own worker thread, since handlers may block
 *    for a long time (Wait blocks until a process exits); responses go out
 *    in completion order under a per-connection write lock;
 *  - unknown service or method -> UNIMPLEMENTED ("service X" / "method X"),
 *    undecodable request -> INVALID_ARGUMENT, even stream id ->
 *    INVALID_ARGUMENT, oversize frame -> RESOURCE_EXHAUSTED; the connection
 *    survives all of these. Non-request frames are ignored.
 * Request timeouts (timeout_nano) are not enforced: handlers are bounded by
 * their own timeouts.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/macros.h"
#include "ttrpc/wire.h"

#define TTRPC_MAX_CONNECTIONS 512	/* containerd opens one per task id */
#define TTRPC_MAX_INFLIGHT_PER_CONN 256 /* requests in flight on one connection */
#define TTRPC_MAX_WORKERS 2048		/* worker threads in the whole server */
#define TTRPC_WORKER_STACK_SIZE (1u << 20)
#define TTRPC_WRITE_TIMEOUT_MS 5000	/* a peer that reads nothing for this long is dropped */
#define TTRPC_DRAIN_TIMEOUT_MS 10000	/* ttrpc_server_free waits this long for handlers */

struct ttrpc_server;
struct ttrpc_call;

/* A handler: `request` is the unpacked request (freed by the server after
 * the handler returns). Reply with ttrpc_call_reply() and return 0, or
 * return -errno with err filled: the client gets
 * ttrpc_code_from_errno(r) and err->msg. Returning 0 without a reply sends
 * an empty payload (google.protobuf.Empty). */
typedef int (*ttrpc_method_fn)(void *userdata, struct ttrpc_call *call,
			       const ProtobufCMessage *request, struct error *err);

struct ttrpc_method {
	const char *service; /* "containerd.task.v2.Task" */
	const char *method;  /* "Create" */
	const ProtobufCMessageDescriptor *request;
	ttrpc_method_fn fn;
};

struct ttrpc_server_options {
	bool allow_any_peer; /* skip the same-uid/gid check (tests only) */
};

/* The method table must outlive the server. */
int ttrpc_server_new(const struct ttrpc_method *methods, size_t n_methods, void *userdata,
		     const struct ttrpc_server_options *opts, struct ttrpc_server **ret) _wur_;
/* Listen on a filesystem path (a stale socket file is replaced) with mode 0600. */
int ttrpc_server_listen(struct ttrpc_server *s, const char *path) _wur_;
/* Serve an already listening socket (e.g. fd 3 from `start`); takes the fd. */
int ttrpc_server_listen_fd_take(struct ttrpc_server *s, int fd) _wur_;
/* Runs the loop in the calling thread until ttrpc_server_stop(). */
int ttrpc_server_run(struct ttrpc_server *s) _wur_;
/* Makes ttrpc_server_run() return; any thread, async-signal-safe. */
void ttrpc_server_stop(struct ttrpc_server *s);
/* Closes the listener and every connection and waits up to
 * TTRPC_DRAIN_TIMEOUT_MS for handlers still running (the caller must first
 * unblock long handlers); if they do not finish, the server is leaked
 * rather than freed under them. Accepts NULL. */
void ttrpc_server_free(struct ttrpc_server *s);
/* Number of open connections (tests). */
size_t ttrpc_server_connections(struct ttrpc_server *s);

/* In a handler: pack the response (once). */
int ttrpc_call_reply(struct ttrpc_call *call, const ProtobufCMessage *response) _wur_;
/* Metadata of the request (ttrpc lower-cases keys), NULL if absent. */
const char *ttrpc_call_metadata(const struct ttrpc_call *call, const char *key);
/* Stop the server once this call's response was written (Shutdown). */
void ttrpc_call_stop_server_after_reply(struct ttrpc_call *call);
