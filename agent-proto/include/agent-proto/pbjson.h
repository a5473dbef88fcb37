/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON <-> protobuf-c messages, for any message type, by walking its
 * ProtobufCMessageDescriptor (no per-message code): nacelle-agentctl uses it
 * to call any RPC, the shim may use it for logs and debugging.
 *
 * The mapping is proto3's JSON mapping with these choices:
 * - keys: the .proto field name ("container_id"); parsing also accepts the
 *   lowerCamelCase JSON name ("containerId"). Unknown keys are an error, as
 *   is a key given twice; null means "leave the default".
 * - 64-bit integers are printed as JSON numbers (not strings); parsing
 *   accepts numbers or decimal strings for any integer type.
 * - enums: the value's name as in the .proto, printed and parsed; parsing
 *   also accepts the number.
 * - bytes: standard base64 (parsing also accepts the URL-safe alphabet and
 *   missing padding).
 * - printing emits every scalar and repeated field, default or not (a CLI
 *   shows the whole answer), and unset sub-messages not at all.
 * Strings must be valid UTF-8 without NUL; when printing, invalid UTF-8 from
 * the other side is replaced by U+FFFD rather than failing.
 */
#pragma once

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "common/error.h"
#include "common/macros.h"

/* Largest JSON text parsed. */
#define AGENT_PBJSON_MAX_INPUT (16u << 20)
/* Deepest nesting of arrays and objects accepted by the parser. */
#define AGENT_PBJSON_MAX_DEPTH 32

/* Print with newlines and indentation. */
#define AGENT_PBJSON_PRETTY 0x1u

/* Parse JSON text (len bytes, need not be NUL-terminated) into a new message
 * of type desc; free it with protobuf_c_message_free_unpacked(msg, NULL).
 * Returns 0, or -EINVAL (-E2BIG, -ENOMEM) with "<field path>: <why>" in err. */
int agent_pbjson_parse(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
		       ProtobufCMessage **ret_msg, struct error *err) _wur_;
/* Print a message as JSON; *ret_json is malloc'd and NUL-terminated. */
int agent_pbjson_format(const ProtobufCMessage *msg, unsigned int flags, char **ret_json,
			struct error *err) _wur_;
