/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A ttrpc client: unary calls, several at once from any threads on one
 * connection (odd stream ids from 1, responses matched by stream id by a
 * reader thread). Used to publish events to containerd ($TTRPC_ADDRESS)
 * and by the tests. It does not reconnect by itself: when
 * ttrpc_client_broken() says so, free it and connect again.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/macros.h"
#include "ttrpc/wire.h"

#define TTRPC_CLIENT_MAX_PENDING 1024

struct ttrpc_client;

/* address: "unix:///path", "/path", or an abstract name. */
int ttrpc_client_connect(const char *address, struct ttrpc_client **ret, struct error *err) _wur_;
/* Sends metadata containerd-namespace-ttrpc=ns with every call (as
 * containerd's clients do); NULL for none. Not while calls are in flight. */
int ttrpc_client_set_namespace(struct ttrpc_client *c, const char *ns) _wur_;

/*
 * One call. resp_desc NULL ignores the response payload; else *ret_resp is
 * the unpacked response (free with protobuf_c_message_free_unpacked(x, NULL)).
 * timeout_ms <= 0: none. Returns 0 on OK; on a non-OK status from the
 * server, ttrpc_code_to_errno(code) with err->msg = the status message and
 * *ret_code = the code; on a transport error -errno (-ECONNRESET, -EPIPE,
 * -ETIMEDOUT, ...) with *ret_code = -1. ret_code may be NULL.
 */
int ttrpc_client_call(struct ttrpc_client *c, const char *service, const char *method,
		      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
		      ProtobufCMessage **ret_resp, int timeout_ms, int *ret_code,
		      struct error *err) _wur_;
/* The same with a raw request payload; *ret_payload malloc'ed (may be NULL). */
int ttrpc_client_call_raw(struct ttrpc_client *c, const char *service, const char *method,
			  const uint8_t *payload, size_t len, uint8_t **ret_payload,
			  size_t *ret_len, int timeout_ms, int *ret_code, struct error *err) _wur_;
/* The connection failed (EOF, write error): calls will fail. */
bool ttrpc_client_broken(struct ttrpc_client *c);
/* No call may be in flight. Accepts NULL. */
void ttrpc_client_free(struct ttrpc_client *c);
