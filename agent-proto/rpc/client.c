/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RPC client over gRPC core: one channel on one connected fd; each call
 * has its own pluck completion queue, so any number of threads can call at
 * once and each blocks only on its own answer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "agent-proto/limits.h"
#include "agent-proto/rpc.h"
#include "common/log.h"
#include "rpc-internal.h"

struct agent_rpc_client {
	grpc_channel *channel;
};

int agent_rpc_client_new_fd_take(int fd, struct agent_rpc_client **ret_client)
{
	struct agent_rpc_client *cl;
	grpc_channel_credentials *creds;
	grpc_arg args[1];
	grpc_channel_args chargs = { .num_args = ARRAY_SIZE(args), .args = args };
	int r = rpc_prepare_fd(fd);

	if (r < 0) {
		close(fd);
		return r;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(fd);
		return -ENOMEM;
	}
	/* Responses are bounded like requests. The send side is left to the
	 * server, which answers RESOURCE_EXHAUSTED with its own limit. */
	memset(args, 0, sizeof(args));
	args[0].type = GRPC_ARG_INTEGER;
	args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	args[0].value.integer = AGENT_MAX_MESSAGE;

	grpc_init();
	creds = grpc_insecure_credentials_create();
	/* The channel owns fd from here on. */
	cl->channel = grpc_channel_create_from_fd("nacelle-agent", fd, creds, &chargs);
	grpc_channel_credentials_release(creds);
	if (!cl->channel) {
		grpc_shutdown_blocking();
		free(cl);
		return -ENOMEM;
	}
	*ret_client = cl;
	return 0;
}

void agent_rpc_client_free(struct agent_rpc_client *cl)
{
	if (!cl)
		return;
	grpc_channel_destroy(cl->channel);
	grpc_shutdown_blocking();
	free(cl);
}

static int fail(struct agent_rpc_status *status, grpc_status_code code, const char *msg)
{
	agent_rpc_status_set(status, code, "%s", msg);
	return agent_rpc_status_to_errno(code);
}

int agent_rpc_call_raw(struct agent_rpc_client *cl, const char *path, const void *req,
		       size_t req_len, int timeout_ms, void **ret_resp, size_t *ret_resp_len,
		       struct agent_rpc_status *status)
{
	grpc_completion_queue *cq;
	grpc_call *call;
	grpc_slice method, req_slice, details = grpc_empty_slice();
	grpc_byte_buffer *req_buf, *resp_buf = NULL;
	grpc_metadata_array initial_md, trailing_md;
	grpc_status_code code = GRPC_STATUS_UNKNOWN;
	const char *error_string = NULL;
	gpr_timespec deadline;
	grpc_call_error e;
	grpc_event ev;
	grpc_op ops[6];
	void *resp = NULL;
	size_t resp_len = 0;
	int r;

	if (!cl || !path || (!req && req_len))
		return fail(status, GRPC_STATUS_INVALID_ARGUMENT, "bad arguments");
	deadline = timeout_ms > 0 ? gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
						 gpr_time_from_millis(timeout_ms, GPR_TIMESPAN))
				  : gpr_inf_future(GPR_CLOCK_MONOTONIC);
	cq = grpc_completion_queue_create_for_pluck(NULL);
	if (!cq)
		return fail(status, GRPC_STATUS_RESOURCE_EXHAUSTED, "cannot create a queue");
	method = grpc_slice_from_copied_string(path);
	call = grpc_channel_create_call(cl->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method,
					NULL, deadline, NULL);
	grpc_slice_unref(method);
	if (!call) {
		grpc_completion_queue_shutdown(cq);
		grpc_completion_queue_destroy(cq);
		return fail(status, GRPC_STATUS_INTERNAL, "cannot create a call");
	}

	req_slice = grpc_slice_from_copied_buffer(req ? req : "", req_len);
	req_buf = grpc_raw_byte_buffer_create(&req_slice, 1);
	grpc_slice_unref(req_slice);
	grpc_metadata_array_init(&initial_md);
	grpc_metadata_array_init(&trailing_md);

	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = req_buf;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial_md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &resp_buf;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &trailing_md;
	ops[5].data.recv_status_on_client.status = &code;
	ops[5].data.recv_status_on_client.status_details = &details;
	ops[5].data.recv_status_on_client.error_string = &error_string;

	e = grpc_call_start_batch(call, ops, ARRAY_SIZE(ops), ops, NULL);
	if (e != GRPC_CALL_OK) {
		r = fail(status, GRPC_STATUS_INTERNAL, grpc_call_error_to_string(e));
		grpc_call_cancel(call, NULL);
		goto out;
	}
	/* The call's deadline bounds this wait. */
	ev = grpc_completion_queue_pluck(cq, ops, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
	if (ev.type != GRPC_OP_COMPLETE) {
		r = fail(status, GRPC_STATUS_INTERNAL, "the call did not complete");
		goto out;
	}
	if (code != GRPC_STATUS_OK) {
		size_t n = GRPC_SLICE_LENGTH(details);

		if (status) {
			status->code = code;
			if (n >= sizeof(status->message))
				n = sizeof(status->message) - 1;
			memcpy(status->message, GRPC_SLICE_START_PTR(details), n);
			status->message[n] = '\0';
			if (n == 0 && error_string)
				agent_rpc_status_set(status, code, "%s", error_string);
		}
		log_debug("rpc: %s: %s: %.*s", path, agent_rpc_status_code_to_string(code),
			  (int)GRPC_SLICE_LENGTH(details),
			  (const char *)GRPC_SLICE_START_PTR(details));
		r = agent_rpc_status_to_errno(code);
		goto out;
	}
	if (!resp_buf) {
		r = fail(status, GRPC_STATUS_INTERNAL, "no response message");
		goto out;
	} else {
		grpc_byte_buffer_reader reader;
		grpc_slice s;

		if (!grpc_byte_buffer_reader_init(&reader, resp_buf)) {
			r = fail(status, GRPC_STATUS_INTERNAL, "cannot read the response");
			goto out;
		}
		s = grpc_byte_buffer_reader_readall(&reader);
		grpc_byte_buffer_reader_destroy(&reader);
		resp_len = GRPC_SLICE_LENGTH(s);
		resp = malloc(resp_len ? resp_len : 1);
		if (resp)
			memcpy(resp, GRPC_SLICE_START_PTR(s), resp_len);
		grpc_slice_unref(s);
		if (!resp) {
			r = fail(status, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
			goto out;
		}
	}
	agent_rpc_status_set(status, GRPC_STATUS_OK, "%s", "");
	*ret_resp = resp;
	*ret_resp_len = resp_len;
	r = 0;
out:
	if (error_string)
		gpr_free((void *)error_string);
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&initial_md);
	grpc_metadata_array_destroy(&trailing_md);
	if (resp_buf)
		grpc_byte_buffer_destroy(resp_buf);
	grpc_byte_buffer_destroy(req_buf);
	grpc_call_unref(call);
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL)
		       .type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
	return r;
}

int agent_rpc_call(struct agent_rpc_client *cl, const char *path, const ProtobufCMessage *req,
		   const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
		   ProtobufCMessage **ret_resp, struct agent_rpc_status *status)
{
	ProtobufCMessage *resp;
	void *out = NULL, *in;
	size_t in_len, out_len = 0;
	int r;

	if (!req || !resp_desc)
		return fail(status, GRPC_STATUS_INVALID_ARGUMENT, "bad arguments");
	in_len = protobuf_c_message_get_packed_size(req);
	in = malloc(in_len ? in_len : 1);
	if (!in)
		return fail(status, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	protobuf_c_message_pack(req, in);
	r = agent_rpc_call_raw(cl, path, in, in_len, timeout_ms, &out, &out_len, status);
	free(in);
	if (r < 0)
		return r;
	resp = protobuf_c_message_unpack(resp_desc, NULL, out_len, out);
	free(out);
	if (!resp) {
		agent_rpc_status_set(status, GRPC_STATUS_INTERNAL,
				     "response is not a valid %s message", resp_desc->name);
		return -EPROTO;
	}
	*ret_resp = resp;
	return 0;
}
