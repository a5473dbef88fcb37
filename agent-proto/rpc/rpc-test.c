/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RPC server and client over a socketpair, with Agent messages and test
 * handlers: round trips, status codes, malformed and oversized requests,
 * concurrent blocking calls, the concurrency limit, deadlines, shutdown while
 * a call blocks, and the hybrid vsock handshake against a fake VMM.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent-proto/agent-proto.h"
#include "agent-proto/rpc.h"
#include "common/test.h"

#define N_CONCURRENT 8

/* ---- test handlers ---- */

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int entered;   /* handlers that reached the gate */
	int cancelled; /* handlers that left because their call was cancelled */
	bool open;
};

static struct gate gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, false };

static void gate_wake(void *arg)
{
	struct gate *g = arg;

	pthread_mutex_lock(&g->lock);
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static void gate_reset(void)
{
	pthread_mutex_lock(&gate.lock);
	gate.entered = 0;
	gate.cancelled = 0;
	gate.open = false;
	pthread_mutex_unlock(&gate.lock);
}

static void gate_open(void)
{
	pthread_mutex_lock(&gate.lock);
	gate.open = true;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
}

/* Wait (up to 10 s) until `n` handlers are at the gate. */
static bool gate_wait_entered(int n)
{
	struct timespec ts;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&gate.lock);
	while (gate.entered < n)
		if (pthread_cond_timedwait(&gate.cond, &gate.lock, &ts) != 0)
			break;
	ok = gate.entered >= n;
	pthread_mutex_unlock(&gate.lock);
	return ok;
}

static int gate_cancelled(void)
{
	int n;

	pthread_mutex_lock(&gate.lock);
	n = gate.cancelled;
	pthread_mutex_unlock(&gate.lock);
	return n;
}

static grpc_status_code h_health(void *userdata, struct agent_rpc_ctx *ctx,
				 const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
				 struct agent_rpc_status *st)
{
	const Nacelle__Agent__V1__HealthRequest *r = (const void *)req;
	Nacelle__Agent__V1__HealthResponse *resp;

	if (!strcmp(r->service, "missing"))
		return agent_rpc_status_set(st, GRPC_STATUS_NOT_FOUND, "no service \"%s\"",
					    r->service);
	if (!strcmp(r->service, "wrong-type")) {
		/* A bug in a handler: answered as INTERNAL, not sent. */
		*ret_resp = agent_rpc_ctx_new(ctx, &nacelle__agent__v1__version_response__descriptor);
		return GRPC_STATUS_OK;
	}
	resp = (void *)agent_rpc_ctx_new(ctx, &nacelle__agent__v1__health_response__descriptor);
	if (!resp)
		return agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	resp->status = NACELLE__AGENT__V1__HEALTH_RESPONSE__SERVING_STATUS__SERVING_STATUS_SERVING;
	*ret_resp = &resp->base;
	return GRPC_STATUS_OK;
}

static atomic_int sent_count;

static void count_sent(void *arg, bool delivered)
{
	if (delivered)
		atomic_fetch_add((atomic_int *)arg, 1);
}

static grpc_status_code h_version(void *userdata, struct agent_rpc_ctx *ctx,
				  const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
				  struct agent_rpc_status *st)
{
	Nacelle__Agent__V1__VersionResponse *resp =
		(void *)agent_rpc_ctx_new(ctx, &nacelle__agent__v1__version_response__descriptor);

	if (!resp)
		return agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
	resp->agent_version = agent_rpc_ctx_strdup(ctx, "test-1.2.3");
	resp->api_version = AGENT_API_VERSION;
	resp->kernel_release = (char *)"static string";
	agent_rpc_ctx_on_sent(ctx, count_sent, &sent_count);
	*ret_resp = &resp->base;
	return GRPC_STATUS_OK;
}

/* Blocks at the gate until it opens (exit status 42) or the call is cancelled
 * (woken through agent_rpc_ctx_on_cancel). */
static grpc_status_code h_wait(void *userdata, struct agent_rpc_ctx *ctx,
			       const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
			       struct agent_rpc_status *st)
{
	Nacelle__Agent__V1__WaitProcessResponse *resp =
		(void *)agent_rpc_ctx_new(ctx, &nacelle__agent__v1__wait_process_response__descriptor);
	bool cancelled;

	agent_rpc_ctx_on_cancel(ctx, gate_wake, &gate);
	pthread_mutex_lock(&gate.lock);
	gate.entered++;
	pthread_cond_broadcast(&gate.cond);
	while (!gate.open && !agent_rpc_ctx_cancelled(ctx))
		pthread_cond_wait(&gate.cond, &gate.lock);
	cancelled = !gate.open;
	if (cancelled)
		gate.cancelled++;
	pthread_mutex_unlock(&gate.lock);
	if (cancelled)
		return agent_rpc_status_set(st, GRPC_STATUS_CANCELLED, "cancelled");
	resp->exit_status = 42;
	*ret_resp = &resp->base;
	return GRPC_STATUS_OK;
}

/* Blocks in poll() on the cancel fd only: returns when the call is cancelled. */
static grpc_status_code h_oom(void *userdata, struct agent_rpc_ctx *ctx,
			      const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
			      struct agent_rpc_status *st)
{
	struct pollfd p = { .fd = agent_rpc_ctx_cancel_fd(ctx), .events = POLLIN };

	if (p.fd < 0)
		return agent_rpc_status_set(st, GRPC_STATUS_INTERNAL, "no cancel fd");
	pthread_mutex_lock(&gate.lock);
	gate.entered++;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&gate.lock);
	gate.cancelled++;
	pthread_mutex_unlock(&gate.lock);
	return agent_rpc_status_set(st, GRPC_STATUS_CANCELLED, "cancelled");
}

static grpc_status_code h_empty(void *userdata, struct agent_rpc_ctx *ctx,
				const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
				struct agent_rpc_status *st)
{
	const struct agent_rpc_method *m = agent_rpc_ctx_method(ctx);

	*ret_resp = agent_rpc_ctx_new(ctx, m->out);
	return *ret_resp ? GRPC_STATUS_OK : GRPC_STATUS_RESOURCE_EXHAUSTED;
}

static const struct agent_rpc_method methods[] = {
	{ AGENT_METHOD("Health"), &nacelle__agent__v1__health_request__descriptor,
	  &nacelle__agent__v1__health_response__descriptor, h_health, agent_proto_validate, 0 },
	{ AGENT_METHOD("Version"), &nacelle__agent__v1__version_request__descriptor,
	  &nacelle__agent__v1__version_response__descriptor, h_version, NULL, 0 },
	{ AGENT_METHOD("WaitProcess"), &nacelle__agent__v1__wait_process_request__descriptor,
	  &nacelle__agent__v1__wait_process_response__descriptor, h_wait, agent_proto_validate, 0 },
	{ AGENT_METHOD("GetOOMEvent"), &nacelle__agent__v1__get_oomevent_request__descriptor,
	  &nacelle__agent__v1__get_oomevent_response__descriptor, h_oom, NULL, 0 },
	{ AGENT_METHOD("StartContainer"), &nacelle__agent__v1__start_container_request__descriptor,
	  &nacelle__agent__v1__start_container_response__descriptor, h_empty, agent_proto_validate,
	  64 },
	{ AGENT_METHOD("CreateContainer"),
	  &nacelle__agent__v1__create_container_request__descriptor,
	  &nacelle__agent__v1__create_container_response__descriptor, h_empty,
	  agent_proto_validate, 0 },
};

/* ---- helpers ---- */

struct pair {
	struct agent_rpc_server *server;
	struct agent_rpc_client *client;
};

static bool pair_new(struct pair *p)
{
	int sv[2];

	memset(p, 0, sizeof(*p));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return false;
	if (agent_rpc_server_new(methods, ARRAY_SIZE(methods), NULL, &p->server) < 0) {
		close(sv[0]);
		close(sv[1]);
		return false;
	}
	if (agent_rpc_server_add_fd_take(p->server, sv[0]) < 0) {
		close(sv[1]);
		return false;
	}
	return agent_rpc_client_new_fd_take(sv[1], &p->client) == 0;
}

static void pair_free(struct pair *p)
{
	agent_rpc_client_free(p->client);
	agent_rpc_server_free(p->server);
}

static int call_health(struct agent_rpc_client *cl, const char *service,
		       struct agent_rpc_status *st, int *ret_serving)
{
	Nacelle__Agent__V1__HealthRequest req = NACELLE__AGENT__V1__HEALTH_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	int r;

	req.service = (char *)service;
	r = agent_rpc_call(cl, AGENT_METHOD("Health"), &req.base,
			   &nacelle__agent__v1__health_response__descriptor, 5000, &resp, st);
	if (r == 0) {
		*ret_serving = ((Nacelle__Agent__V1__HealthResponse *)resp)->status;
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	return r;
}

struct wait_call {
	pthread_t thread;
	struct agent_rpc_client *client;
	const char *path;
	int timeout_ms;
	int r;
	struct agent_rpc_status st;
	uint32_t exit_status;
};

static void *wait_call_thread(void *arg)
{
	struct wait_call *w = arg;
	Nacelle__Agent__V1__WaitProcessRequest req = NACELLE__AGENT__V1__WAIT_PROCESS_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;

	req.container_id = (char *)"c1";
	w->r = agent_rpc_call(w->client, w->path, &req.base,
			      &nacelle__agent__v1__wait_process_response__descriptor, w->timeout_ms,
			      &resp, &w->st);
	if (w->r == 0) {
		w->exit_status = ((Nacelle__Agent__V1__WaitProcessResponse *)resp)->exit_status;
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	return NULL;
}

/* ---- tests ---- */

static void test_round_trip(struct pair *p)
{
	struct agent_rpc_status st;
	int serving = -1;
	ProtobufCMessage *resp = NULL;
	Nacelle__Agent__V1__VersionRequest vreq = NACELLE__AGENT__V1__VERSION_REQUEST__INIT;

	CHECK_EQ(call_health(p->client, "", &st, &serving), 0);
	CHECK_EQ(st.code, GRPC_STATUS_OK);
	CHECK_EQ(serving, NACELLE__AGENT__V1__HEALTH_RESPONSE__SERVING_STATUS__SERVING_STATUS_SERVING);

	CHECK_EQ(agent_rpc_call(p->client, AGENT_METHOD("Version"), &vreq.base,
				&nacelle__agent__v1__version_response__descriptor, 5000, &resp, &st),
		 0);
	if (resp) {
		Nacelle__Agent__V1__VersionResponse *v = (void *)resp;

		CHECK(!strcmp(v->agent_version, "test-1.2.3"));
		CHECK(!strcmp(v->kernel_release, "static string"));
		CHECK_EQ(v->api_version, AGENT_API_VERSION);
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	/* The after-send callback ran (the client has the answer, so soon if not yet). */
	for (int i = 0; i < 500 && atomic_load(&sent_count) < 1; i++)
		usleep(10000);
	CHECK_EQ(atomic_load(&sent_count), 1);

	/* A handler's own status code and message reach the client. */
	CHECK_EQ(call_health(p->client, "missing", &st, &serving), -ENOENT);
	CHECK_EQ(st.code, GRPC_STATUS_NOT_FOUND);
	CHECK(!strcmp(st.message, "no service \"missing\""));

	/* A handler answering the wrong type is an INTERNAL error. */
	CHECK_EQ(call_health(p->client, "wrong-type", &st, &serving), -EIO);
	CHECK_EQ(st.code, GRPC_STATUS_INTERNAL);
	CHECK(strstr(st.message, "instead of") != NULL);
}

static void test_bad_requests(struct pair *p)
{
	struct agent_rpc_status st;
	void *out = NULL;
	size_t out_len = 0;
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
	Nacelle__Agent__V1__StartContainerRequest start =
		NACELLE__AGENT__V1__START_CONTAINER_REQUEST__INIT;
	Nacelle__Agent__V1__CreateContainerRequest create =
		NACELLE__AGENT__V1__CREATE_CONTAINER_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	char id[100];
	char *big;

	CHECK_EQ(agent_rpc_call_raw(p->client, "/nacelle.agent.v1.Agent/NoSuchMethod", "", 0,
				    5000, &out, &out_len, &st),
		 -EOPNOTSUPP);
	CHECK_EQ(st.code, GRPC_STATUS_UNIMPLEMENTED);
	CHECK(strstr(st.message, "unknown method /nacelle.agent.v1.Agent/NoSuchMethod") != NULL);

	CHECK_EQ(agent_rpc_call_raw(p->client, AGENT_METHOD("Health"), garbage, sizeof(garbage),
				    5000, &out, &out_len, &st),
		 -EINVAL);
	CHECK_EQ(st.code, GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(strstr(st.message, "not a valid nacelle.agent.v1.HealthRequest") != NULL);

	/* Over the method's own limit (64 bytes): INVALID_ARGUMENT from us. */
	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	start.container_id = id;
	CHECK_EQ(agent_rpc_call(p->client, AGENT_METHOD("StartContainer"), &start.base,
				&nacelle__agent__v1__start_container_response__descriptor, 5000,
				&resp, &st),
		 -EINVAL);
	CHECK_EQ(st.code, GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(strstr(st.message, "exceeds the limit of 64 bytes") != NULL);

	/* Over AGENT_MAX_MESSAGE: gRPC core refuses it (RESOURCE_EXHAUSTED). */
	big = calloc(1, AGENT_MAX_MESSAGE + 1024);
	if (big) {
		int r = agent_rpc_call_raw(p->client, AGENT_METHOD("Health"), big,
					   AGENT_MAX_MESSAGE + 1024, 10000, &out, &out_len, &st);

		CHECK(r < 0);
		CHECK(st.code == GRPC_STATUS_RESOURCE_EXHAUSTED ||
		      st.code == GRPC_STATUS_INVALID_ARGUMENT);
		printf("oversized request: %s: %s\n", agent_rpc_status_code_to_string(st.code),
		       st.message);
		free(big);
	}

	/* The validator runs before the handler. */
	create.container_id = (char *)"../etc";
	create.spec = (char *)"{}";
	create.rootfs = (char *)"/run/c";
	CHECK_EQ(agent_rpc_call(p->client, AGENT_METHOD("CreateContainer"), &create.base,
				&nacelle__agent__v1__create_container_response__descriptor, 5000,
				&resp, &st),
		 -EINVAL);
	CHECK_EQ(st.code, GRPC_STATUS_INVALID_ARGUMENT);
	CHECK(strstr(st.message, "container_id") != NULL);
	create.container_id = (char *)"c1";
	CHECK_EQ(agent_rpc_call(p->client, AGENT_METHOD("CreateContainer"), &create.base,
				&nacelle__agent__v1__create_container_response__descriptor, 5000,
				&resp, &st),
		 0);
	protobuf_c_message_free_unpacked(resp, NULL);

	/* The connection still works after all that. */
	{
		int serving = -1;

		CHECK_EQ(call_health(p->client, "", &st, &serving), 0);
	}
}

static void test_concurrent(struct pair *p)
{
	struct wait_call w[N_CONCURRENT];

	gate_reset();
	for (int i = 0; i < N_CONCURRENT; i++) {
		w[i] = (struct wait_call){ .client = p->client, .path = AGENT_METHOD("WaitProcess") };
		CHECK_EQ(pthread_create(&w[i].thread, NULL, wait_call_thread, &w[i]), 0);
	}
	CHECK(gate_wait_entered(N_CONCURRENT));
	CHECK_EQ(agent_rpc_server_active_calls(p->server), N_CONCURRENT);
	/* While they block, other calls still get answered. */
	{
		struct agent_rpc_status st;
		int serving = -1;

		CHECK_EQ(call_health(p->client, "", &st, &serving), 0);
	}
	gate_open();
	for (int i = 0; i < N_CONCURRENT; i++) {
		pthread_join(w[i].thread, NULL);
		CHECK_EQ(w[i].r, 0);
		CHECK_EQ(w[i].exit_status, 42);
	}
}

static void test_limit(struct pair *p)
{
	struct wait_call w[3];

	gate_reset();
	agent_rpc_server_set_max_calls(p->server, 2);
	for (int i = 0; i < 2; i++) {
		w[i] = (struct wait_call){ .client = p->client, .path = AGENT_METHOD("WaitProcess") };
		CHECK_EQ(pthread_create(&w[i].thread, NULL, wait_call_thread, &w[i]), 0);
	}
	CHECK(gate_wait_entered(2));
	w[2] = (struct wait_call){ .client = p->client, .path = AGENT_METHOD("WaitProcess"),
				   .timeout_ms = 5000 };
	wait_call_thread(&w[2]);
	CHECK_EQ(w[2].r, -ENOSPC);
	CHECK_EQ(w[2].st.code, GRPC_STATUS_RESOURCE_EXHAUSTED);
	gate_open();
	for (int i = 0; i < 2; i++) {
		pthread_join(w[i].thread, NULL);
		CHECK_EQ(w[i].r, 0);
	}
	agent_rpc_server_set_max_calls(p->server, AGENT_MAX_CONCURRENT_CALLS);
}

static void test_deadline(struct pair *p)
{
	struct wait_call w = { .client = p->client, .path = AGENT_METHOD("WaitProcess"),
			       .timeout_ms = 300 };

	gate_reset();
	wait_call_thread(&w);
	CHECK_EQ(w.r, -ETIMEDOUT);
	CHECK_EQ(w.st.code, GRPC_STATUS_DEADLINE_EXCEEDED);
	/* The server saw the deadline too and woke the handler. */
	for (int i = 0; i < 500 && gate_cancelled() < 1; i++)
		usleep(10000);
	CHECK_EQ(gate_cancelled(), 1);
}

static void test_shutdown_while_blocked(void)
{
	struct pair p;
	struct wait_call w[2];

	gate_reset();
	if (!pair_new(&p)) {
		CHECK(!"pair_new");
		return;
	}
	/* One handler waits on its cancel fd, one on a condition variable. */
	w[0] = (struct wait_call){ .client = p.client, .path = AGENT_METHOD("GetOOMEvent") };
	w[1] = (struct wait_call){ .client = p.client, .path = AGENT_METHOD("WaitProcess") };
	for (int i = 0; i < 2; i++)
		CHECK_EQ(pthread_create(&w[i].thread, NULL, wait_call_thread, &w[i]), 0);
	CHECK(gate_wait_entered(2));

	alarm(60); /* a hang here fails the test instead of blocking ctest */
	agent_rpc_server_free(p.server);
	alarm(0);
	CHECK_EQ(gate_cancelled(), 2);
	for (int i = 0; i < 2; i++) {
		pthread_join(w[i].thread, NULL);
		CHECK(w[i].r < 0);
		printf("call during shutdown: %s: %s\n", agent_rpc_status_code_to_string(w[i].st.code),
		       w[i].st.message);
	}
	agent_rpc_client_free(p.client);
}

/* ---- hybrid vsock handshake against a fake VMM ---- */

enum fake_mode { FAKE_OK, FAKE_REFUSE, FAKE_GARBAGE, FAKE_SILENT };

struct fake_vmm {
	int listen_fd;
	enum fake_mode mode;
	struct agent_rpc_server *server;
	char line[64];
	pthread_t thread;
};

static void *fake_vmm_thread(void *arg)
{
	struct fake_vmm *f = arg;
	int fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	size_t n = 0;

	if (fd < 0)
		return NULL;
	/* Read the CONNECT line as the VMM does, byte by byte. */
	while (n + 1 < sizeof(f->line)) {
		char ch;

		if (read(fd, &ch, 1) != 1)
			break;
		f->line[n++] = ch;
		if (ch == '\n')
			break;
	}
	f->line[n] = '\0';
	switch (f->mode) {
	case FAKE_OK:
		/* The answer and, at once, the server's first bytes: the dialer
		 * must not swallow anything after the line. */
		if (write(fd, "OK 1073741824\n", 14) != 14 ||
		    agent_rpc_server_add_fd_take(f->server, fd) < 0)
			close(fd);
		return NULL;
	case FAKE_REFUSE:
		break;
	case FAKE_GARBAGE:
		if (write(fd, "NOPE\n", 5) != 5)
			break;
		break;
	case FAKE_SILENT:
		sleep(1);
		break;
	}
	close(fd);
	return NULL;
}

static void test_hybrid_vsock(void)
{
	char dir[] = "/tmp/rpc-test-XXXXXX", path[sizeof(dir) + 16];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct agent_rpc_server *srv = NULL;
	static const enum fake_mode modes[] = { FAKE_OK, FAKE_REFUSE, FAKE_GARBAGE, FAKE_SILENT };
	static const int expect[] = { 0, -ECONNREFUSED, -EPROTO, -ETIMEDOUT };

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/vsock.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CHECK_EQ(agent_rpc_server_new(methods, ARRAY_SIZE(methods), NULL, &srv), 0);

	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		struct fake_vmm f = { .mode = modes[i], .server = srv };
		struct error err = { 0 };
		int fd;

		f.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		CHECK(f.listen_fd >= 0);
		unlink(path);
		CHECK_EQ(bind(f.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		CHECK_EQ(listen(f.listen_fd, 1), 0);
		CHECK_EQ(pthread_create(&f.thread, NULL, fake_vmm_thread, &f), 0);

		fd = agent_rpc_dial_hybrid_vsock(path, AGENT_VSOCK_PORT,
						 modes[i] == FAKE_SILENT ? 200 : 5000, &err);
		CHECK_EQ(fd < 0 ? fd : 0, expect[i]);
		if (fd < 0)
			printf("dial (mode %zu): %s\n", i, err.msg);
		if (fd >= 0) {
			struct agent_rpc_client *cl = NULL;
			struct agent_rpc_status st;
			int serving = -1;

			CHECK_EQ(agent_rpc_client_new_fd_take(fd, &cl), 0);
			CHECK_EQ(call_health(cl, "", &st, &serving), 0);
			CHECK_EQ(serving,
				 NACELLE__AGENT__V1__HEALTH_RESPONSE__SERVING_STATUS__SERVING_STATUS_SERVING);
			agent_rpc_client_free(cl);
		}
		pthread_join(f.thread, NULL);
		CHECK(!strcmp(f.line, "CONNECT 1024\n"));
		close(f.listen_fd);
	}
	agent_rpc_server_free(srv);
	unlink(path);
	rmdir(dir);
}

static void test_status_mapping(void)
{
	struct error err;

	CHECK_EQ(agent_rpc_status_from_errno(-ENOENT), GRPC_STATUS_NOT_FOUND);
	CHECK_EQ(agent_rpc_status_from_errno(EEXIST), GRPC_STATUS_ALREADY_EXISTS);
	CHECK_EQ(agent_rpc_status_from_errno(-12345), GRPC_STATUS_INTERNAL);
	CHECK_EQ(agent_rpc_status_to_errno(GRPC_STATUS_OK), 0);
	CHECK_EQ(agent_rpc_status_to_errno(GRPC_STATUS_DEADLINE_EXCEEDED), -ETIMEDOUT);
	CHECK(!strcmp(agent_rpc_status_code_to_string(GRPC_STATUS_UNIMPLEMENTED), "UNIMPLEMENTED"));
	CHECK(!strcmp(agent_rpc_status_code_to_string((grpc_status_code)99), "UNKNOWN_CODE"));
	{
		struct agent_rpc_status st;

		error_set(&err, -EBUSY, "container c1 is running");
		CHECK_EQ(agent_rpc_status_from_error(&st, &err), GRPC_STATUS_FAILED_PRECONDITION);
		CHECK(!strcmp(st.message, "container c1 is running"));
	}
}

int main(void)
{
	struct pair p;

	/* A client whose server went away must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	test_status_mapping();
	if (!pair_new(&p)) {
		fprintf(stderr, "cannot set up a server and client\n");
		return 1;
	}
	test_round_trip(&p);
	test_bad_requests(&p);
	test_concurrent(&p);
	test_limit(&p);
	test_deadline(&p);
	pair_free(&p);
	test_shutdown_while_blocked();
	test_hybrid_vsock();

	printf("rpc-test: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
