/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's request path before a handler runs: protobuf unpacking of any
 * Agent method's request, agent_proto_validate(), and the JSON form used by
 * nacelle-agentctl (agent_pbjson_parse, then format of what parsed). The
 * first input byte picks the method; the rest is the wire bytes (even
 * selector) or JSON (odd selector).
 */
#include <stdint.h>
#include <stdlib.h>

#include "agent-proto/agent-proto.h"
#include "agent-proto/pbjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const ProtobufCServiceDescriptor *svc = AGENT_SERVICE_DESCRIPTOR;
	const ProtobufCMessageDescriptor *in;
	ProtobufCMessage *msg = NULL;
	struct error err = { 0 };

	if (size < 1 || svc->n_methods == 0)
		return 0;
	in = svc->methods[(data[0] >> 1) % svc->n_methods].input;
	if (data[0] & 1) {
		char *json = NULL;

		if (agent_pbjson_parse(in, (const char *)data + 1, size - 1, &msg, &err) < 0)
			return 0;
		if (agent_pbjson_format(msg, 0, &json, &err) == 0)
			free(json);
		(void)!agent_proto_validate(msg, &err);
		protobuf_c_message_free_unpacked(msg, NULL);
		return 0;
	}
	msg = protobuf_c_message_unpack(in, NULL, size - 1, data + 1);
	if (!msg)
		return 0;
	(void)!agent_proto_validate(msg, &err);
	protobuf_c_message_free_unpacked(msg, NULL);
	return 0;
}
