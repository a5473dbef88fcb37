/* SPDX-License-Identifier: Apache-2.0 */
#include "agent.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "util.h"

/* Longest RPC path built here. */
#define AGENT_PATH_MAX 96

struct agent_conn {
	atomic_uint refs;
	struct agent_rpc_client *client;
};

int agent_conn_new_fd_take(int fd, struct agent_conn **ret)
{
	struct agent_conn *c = calloc(1, sizeof(*c));
	int r;

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	r = agent_rpc_client_new_fd_take(fd, &c->client);
	if (r < 0) {
		free(c);
		return r;
	}
	atomic_init(&c->refs, 1);
	*ret = c;
	return 0;
}

struct agent_conn *agent_conn_ref(struct agent_conn *c)
{
	if (c)
		atomic_fetch_add(&c->refs, 1);
	return c;
}

void agent_conn_unref(struct agent_conn *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	agent_rpc_client_free(c->client);
	free(c);
}

int agent_conn_call(struct agent_conn *c, const char *name, const ProtobufCMessage *req,
		    const ProtobufCMessageDescriptor *resp_desc, int timeout_ms,
		    ProtobufCMessage **ret_resp, bool *ret_lost, struct error *err)
{
	struct agent_rpc_status st = { 0 };
	char path[AGENT_PATH_MAX];
	int r;

	if (ret_lost)
		*ret_lost = false;
	snprintf(path, sizeof(path), "/" AGENT_SERVICE "/%s", name);
	r = agent_rpc_call(c->client, path, req, resp_desc, timeout_ms, ret_resp, &st);
	if (r >= 0)
		return 0;
	if (st.code == GRPC_STATUS_UNAVAILABLE && ret_lost)
		*ret_lost = true;
	return error_set(err, r, "%s: %s%s%s", name, agent_rpc_status_code_to_string(st.code),
			 st.message[0] ? ": " : "", st.message);
}

static int agent_health(struct agent_conn *c, struct error *err)
{
	AGENT_MSG(HealthRequest) req = NACELLE__AGENT__V1__HEALTH_REQUEST__INIT;
	AGENT_MSG(HealthResponse) *resp = NULL;
	int r;

	r = agent_conn_call(c, "Health", &req.base, AGENT_DESC(health_response),
			    AGENT_HEALTH_TIMEOUT_MS, (ProtobufCMessage **)&resp, NULL, err);
	if (r < 0)
		return r;
	r = resp->status == NACELLE__AGENT__V1__HEALTH_RESPONSE__SERVING_STATUS__SERVING_STATUS_SERVING
		    ? 0
		    : error_set(err, -EAGAIN, "Health: the agent is not serving yet");
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return r;
}

int agent_conn_dial(const char *vsock_path, int64_t deadline_ms, bool (*alive)(void *opaque),
		    void *opaque, struct agent_conn **ret, struct error *err)
{
	struct error last = { 0 };
	unsigned int attempts = 0;

	for (;;) {
		int64_t left = deadline_ms - monotonic_ms();
		struct agent_conn *c = NULL;
		int fd, r;

		if (alive && !alive(opaque))
			return error_set(err, -ECHILD, "the VM stopped while the agent was awaited%s%s",
					 last.msg[0] ? "; last attempt: " : "", last.msg);
		if (left <= 0)
			return error_set(err, -ETIMEDOUT,
					 "the agent did not answer within the boot timeout (%u attempts; last: %s)",
					 attempts, last.msg[0] ? last.msg : "none");
		attempts++;
		fd = agent_rpc_dial_hybrid_vsock(vsock_path, AGENT_VSOCK_PORT,
						 (int)MIN(left, AGENT_DIAL_ATTEMPT_MS), &last);
		if (fd >= 0) {
			r = agent_conn_new_fd_take(fd, &c);
			if (r < 0)
				return error_set(err, r, "agent connection: %s", strerror(-r));
			r = agent_health(c, &last);
			if (r >= 0) {
				log_debug("sandbox: agent answered after %u attempts", attempts);
				*ret = c;
				return 0;
			}
			agent_conn_unref(c);
		}
		sleep_ms(MIN(AGENT_DIAL_RETRY_MS, MAX(deadline_ms - monotonic_ms(), 0)));
	}
}
