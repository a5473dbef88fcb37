/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The REST API's HTTP request parser on arbitrary bytes, fed in arbitrary
 * chunks (the first byte seeds the split) and pipelined: after each complete
 * request the parser is reset and takes the rest. Must never crash, leak,
 * read or write out of bounds, or break its own invariants.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../vmm/api/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct http_parser parser;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seed;
	size_t off = 1;

	if (size < 1)
		return 0;
	seed = data[0] | 1u;
	http_parser_init(&parser);
	while (off < size) {
		size_t chunk, used = 0;
		int r;

		/* xorshift: chunks of 1..64 bytes, or the rest when the low bits say so */
		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		chunk = (seed & 7) == 0 ? size - off : 1 + (seed >> 8) % 64;
		chunk = chunk > size - off ? size - off : chunk;
		r = http_parser_feed(&parser, data + off, chunk, &used);
		if (used > chunk)
			__builtin_trap();
		off += used;
		if (r < 0) {
			if (parser.error_status < 400 || parser.error_status > 599 ||
			    !parser.error_msg[0])
				__builtin_trap();
			break;
		}
		if (r == 1) {
			const struct http_request *req = &parser.req;

			if (!req->path || req->path[0] != '/' || req->body_len > API_MAX_BODY_BYTES ||
			    (req->body_len && req->body[req->body_len] != '\0') ||
			    (req->minor_version != 0 && req->minor_version != 1))
				__builtin_trap();
			http_parser_reset(&parser);
		} else if (used != chunk) {
			__builtin_trap(); /* needing more, it must have taken everything */
		}
	}
	http_parser_free(&parser);
	return 0;
}
