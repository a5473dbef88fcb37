/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ttrpc frame reader and request decoder on arbitrary bytes, fed in
 * arbitrary chunks (the first byte seeds the split), as the shim's server
 * sees them from a connection: every complete Request frame is decoded, and
 * its payload is unpacked as each containerd.task.v2 request type and as an
 * events ForwardRequest. Response frames go through the client's decoder.
 * Must never crash, leak or read out of bounds; the reader must never hold
 * more than one frame nor accept an oversize one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ttrpc/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *const payload_types[] = {
	&containerd__task__v2__create_task_request__descriptor,
	&containerd__task__v2__exec_process_request__descriptor,
	&containerd__task__v2__update_task_request__descriptor,
	&containerd__task__v2__kill_request__descriptor,
	&containerd__task__v2__state_request__descriptor,
	&containerd__services__events__ttrpc__v1__forward_request__descriptor,
};

static void handle(const struct ttrpc_header *h, const uint8_t *p)
{
	struct error err = {};
	Ttrpc__Request *req = NULL;

	if (h->length > TTRPC_MESSAGE_LENGTH_MAX)
		abort();
	if (h->type == TTRPC_MSG_RESPONSE) {
		Ttrpc__Response *resp = ttrpc__response__unpack(NULL, h->length, p);

		ttrpc__response__free_unpacked(resp, NULL);
		return;
	}
	if (ttrpc_request_decode(p, h->length, &req, &err) < 0)
		return;
	if (!req->service || !req->method)
		abort();
	(void)ttrpc_request_metadata(req, "containerd-namespace-ttrpc");
	for (size_t i = 0; i < sizeof(payload_types) / sizeof(payload_types[0]); i++) {
		ProtobufCMessage *m = protobuf_c_message_unpack(payload_types[i], NULL,
								req->payload.len,
								req->payload.data);
		if (m)
			protobuf_c_message_free_unpacked(m, NULL);
	}
	ttrpc__request__free_unpacked(req, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ttrpc_reader rd;
	uint32_t seed;
	size_t off = 1;

	if (size < 1)
		return 0;
	seed = data[0] | 1u;
	ttrpc_reader_init(&rd);
	while (off < size) {
		size_t chunk, used = 0;
		struct ttrpc_header h;
		uint8_t *p = NULL;
		int r;

		seed = seed * 1103515245u + 12345u;
		chunk = 1 + (seed >> 16) % 64;
		if (chunk > size - off)
			chunk = size - off;
		r = ttrpc_reader_feed(&rd, data + off, chunk, &used, &h, &p);
		if (r < 0 || used > chunk)
			abort();
		off += used;
		if (r == TTRPC_READ_FRAME) {
			handle(&h, p);
			free(p);
		}
	}
	ttrpc_reader_destroy(&rd);
	return 0;
}
