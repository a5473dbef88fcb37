/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ttrpc on the wire (ttrpc v1.1.1, what containerd 1.6 speaks): every message
 * is a 10-byte header -- payload length (u32 big-endian, header excluded),
 * stream id (u32 big-endian), type (u8), flags (u8) -- and a protobuf payload:
 * ttrpc.Request for type 1, ttrpc.Response for type 2. A payload longer than
 * TTRPC_MESSAGE_LENGTH_MAX is discarded and answered with RESOURCE_EXHAUSTED
 * on its stream; the connection survives (ttrpc-go's channel.recv and
 * serverConn.run do the same). Client streams are odd, from 1, step 2.
 *
 * Everything here is pure (no I/O) so the fuzzer and the unit tests drive it
 * with arbitrary bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/error.h"
#include "common/macros.h"
#include "shim/proto.h"

#define TTRPC_HEADER_SIZE 10
#define TTRPC_MESSAGE_LENGTH_MAX (4u << 20) /* ttrpc's messageLengthMax */

enum ttrpc_msg_type {
	TTRPC_MSG_REQUEST = 1,
	TTRPC_MSG_RESPONSE = 2,
	TTRPC_MSG_DATA = 3, /* ttrpc >= 1.2 streaming; ignored like any unknown type */
};

/* gRPC status codes as ttrpc carries them in google.rpc.Status.code. */
enum ttrpc_code {
	TTRPC_OK = 0,
	TTRPC_CANCELLED = 1,
	TTRPC_UNKNOWN = 2,
	TTRPC_INVALID_ARGUMENT = 3,
	TTRPC_DEADLINE_EXCEEDED = 4,
	TTRPC_NOT_FOUND = 5,
	TTRPC_ALREADY_EXISTS = 6,
	TTRPC_PERMISSION_DENIED = 7,
	TTRPC_RESOURCE_EXHAUSTED = 8,
	TTRPC_FAILED_PRECONDITION = 9,
	TTRPC_ABORTED = 10,
	TTRPC_OUT_OF_RANGE = 11,
	TTRPC_UNIMPLEMENTED = 12,
	TTRPC_INTERNAL = 13,
	TTRPC_UNAVAILABLE = 14,
	TTRPC_DATA_LOSS = 15,
	TTRPC_UNAUTHENTICATED = 16,
};

struct ttrpc_header {
	uint32_t length;
	uint32_t stream_id;
	uint8_t type;
	uint8_t flags;
};

void ttrpc_header_encode(const struct ttrpc_header *h, uint8_t out[TTRPC_HEADER_SIZE]);
void ttrpc_header_decode(const uint8_t in[TTRPC_HEADER_SIZE], struct ttrpc_header *ret);

/*
 * Incremental frame reader: feed it whatever read() returned, in any
 * split. It never holds more than one payload (at most
 * TTRPC_MESSAGE_LENGTH_MAX bytes).
 */
enum ttrpc_reader_state {
	TTRPC_READER_HEADER,  /* collecting the 10 header bytes */
	TTRPC_READER_PAYLOAD, /* collecting hdr.length payload bytes */
	TTRPC_READER_DISCARD, /* skipping an oversize payload */
};

struct ttrpc_reader {
	enum ttrpc_reader_state state;
	uint8_t hdr_buf[TTRPC_HEADER_SIZE];
	size_t have; /* header or payload bytes collected so far */
	struct ttrpc_header hdr;
	uint8_t *payload;
	uint32_t discard_left;
};

enum ttrpc_read_result {
	TTRPC_READ_MORE = 0,     /* all input consumed, no frame complete */
	TTRPC_READ_FRAME = 1,    /* a frame: *ret_hdr, *ret_payload (malloc'ed, caller frees; NULL if empty) */
	TTRPC_READ_OVERSIZE = 2, /* a header announcing an oversize payload: *ret_hdr; its payload is skipped */
};

void ttrpc_reader_init(struct ttrpc_reader *r);
void ttrpc_reader_destroy(struct ttrpc_reader *r);
/* Consumes bytes from data until a frame or an oversize header is complete
 * or the input ends; *consumed tells how many. Returns an enum
 * ttrpc_read_result or -ENOMEM. Call again with the rest of the input. */
int ttrpc_reader_feed(struct ttrpc_reader *r, const uint8_t *data, size_t len, size_t *consumed,
		      struct ttrpc_header *ret_hdr, uint8_t **ret_payload) _wur_;

/* Header + packed message in one malloc'ed buffer; msg NULL = empty payload.
 * -EMSGSIZE if the payload would exceed TTRPC_MESSAGE_LENGTH_MAX. */
int ttrpc_frame_pack(uint32_t stream_id, enum ttrpc_msg_type type, const ProtobufCMessage *msg,
		     uint8_t **ret, size_t *ret_len) _wur_;

/* A Request frame's payload: protobuf ttrpc.Request with a service and a
 * method. -EINVAL with a message on garbage. Free with
 * ttrpc__request__free_unpacked(req, NULL). */
int ttrpc_request_decode(const uint8_t *data, size_t len, Ttrpc__Request **ret,
			 struct error *err) _wur_;
/* Look up a metadata value (keys are compared case-insensitively, as ttrpc
 * lower-cases them); NULL if absent. */
const char *ttrpc_request_metadata(const Ttrpc__Request *req, const char *key);

/* Packs a Response frame: status (code, message) and payload. */
int ttrpc_response_pack(uint32_t stream_id, enum ttrpc_code code, const char *message,
			const uint8_t *payload, size_t payload_len, uint8_t **ret,
			size_t *ret_len) _wur_;

/* errno <-> gRPC code: the mapping of include/shim/runtime.h, plus -ESRCH ->
 * NOT_FOUND, -EMSGSIZE -> RESOURCE_EXHAUSTED, -EPERM/-EACCES ->
 * PERMISSION_DENIED, -ECANCELED -> CANCELLED and the connection errors
 * (-ENOTCONN, -ECONNREFUSED, -ECONNRESET, -EPIPE, -ESHUTDOWN) -> UNAVAILABLE. */
enum ttrpc_code ttrpc_code_from_errno(int negative_errno);
int ttrpc_code_to_errno(enum ttrpc_code code);
const char *ttrpc_code_to_string(enum ttrpc_code code);

/* "unix:///path" and "/path" are filesystem sockets; anything else is an
 * abstract socket name (containerd's dialer). Fills a sockaddr_un. */
int ttrpc_address_parse(const char *address, struct sockaddr_un *ret, socklen_t *ret_len) _wur_;
