/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The RPC server over gRPC core.
 *
 * Threads: one driver thread per server runs grpc_completion_queue_next() on
 * the server's only completion queue and does all the bookkeeping of calls;
 * each call whose request arrived gets a worker thread that parses the
 * request, runs the handler (which may block for as long as its call is not
 * cancelled), serializes the response and starts the final batch. gRPC's
 * call operations are thread-safe, so the worker starts that batch itself and
 * the driver sees its completion.
 *
 * A call's life, as its state (call_set_state() is the one place it changes):
 *   REQUESTED  a slot waiting in grpc_server_request_call() for a new call
 *   RECEIVING  the call arrived; its request message is being read
 *   RUNNING    its handler runs on the worker thread
 *   ANSWERING  the final batch (initial metadata, response, status) is in flight
 *   FINISHED   the final batch completed, or the call died before it could be
 *              answered; the struct lives on until its references are gone
 * Every batch in flight and the worker each hold a reference; the driver
 * drops them as completions arrive and as it joins finished workers, and the
 * last one unrefs the grpc_call and frees the struct. Only the driver thread
 * (or agent_rpc_server_free() after it ended) frees calls.
 *
 * Cancellation: every call has a RECV_CLOSE_ON_SERVER operation in flight
 * from its arrival on; it completes with cancelled = 1 when the client
 * cancels or goes away, the deadline passes or agent_rpc_server_free() calls
 * grpc_server_cancel_all_calls(). The driver then marks the call's context
 * cancelled, which wakes a handler blocked on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include "agent-proto/limits.h"
#include "agent-proto/rpc.h"
#include "common/log.h"
#include "common/macros.h"
#include "rpc-internal.h"

/* How often the driver wakes up without events to join finished workers:
 * rarely while serving (a finished worker holds only its stack until then),
 * often while shutting down (free() waits for them). */
#define DRIVER_IDLE_MS 1000
#define DRIVER_STOPPING_MS 10

enum call_state {
	CALL_REQUESTED,
	CALL_RECEIVING,
	CALL_RUNNING,
	CALL_ANSWERING,
	CALL_FINISHED,
};

static const char *const call_state_names[] = {
	[CALL_REQUESTED] = "requested",
	[CALL_RECEIVING] = "receiving",
	[CALL_RUNNING] = "running",
	[CALL_ANSWERING] = "answering",
	[CALL_FINISHED] = "finished",
};

static const char *call_state_to_string(enum call_state s)
{
	return (unsigned int)s < ARRAY_SIZE(call_state_names) ? call_state_names[s] : "?";
}

enum tag_kind {
	TAG_REQUEST, /* grpc_server_request_call() completed: a new call */
	TAG_RECV,    /* the request message arrived (or not) */
	TAG_CLOSE,   /* RECV_CLOSE_ON_SERVER: the call is over, maybe cancelled */
	TAG_SEND,    /* the final batch completed */
	TAG_SHUTDOWN,
};

struct rpc_tag {
	enum tag_kind kind;
	struct rpc_call *call;
};

struct arena_block {
	struct arena_block *next;
	max_align_t data[];
};

struct agent_rpc_ctx {
	const struct agent_rpc_method *method;
	pthread_mutex_t lock; /* cancel_fd, on_cancel */
	atomic_bool cancelled;
	int cancel_fd;
	void (*on_cancel)(void *arg);
	void *on_cancel_arg;
	void (*on_sent)(void *arg, bool delivered); /* set by the handler, run by the driver */
	void *on_sent_arg;
	struct arena_block *arena; /* the handler's thread only */
};

struct rpc_call {
	struct agent_rpc_server *server;
	struct agent_rpc_ctx ctx;
	atomic_int refs;
	enum call_state state; /* under ctx.lock */
	unsigned long long id; /* for logs */

	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array request_md;
	grpc_byte_buffer *request;
	grpc_byte_buffer *response;
	grpc_slice status_details;
	int close_cancelled;

	struct rpc_tag t_request, t_recv, t_close, t_send;

	pthread_t thread;
	struct rpc_call *next_zombie; /* finished workers, under server->lock */
};

struct agent_rpc_server {
	const struct agent_rpc_method *table;
	size_t n_methods;
	void *userdata;

	grpc_server *server;
	grpc_completion_queue *cq;
	grpc_server_credentials *creds;
	struct rpc_tag t_shutdown;

	pthread_t driver;
	bool driver_started;
	bool grpc_initialized;

	atomic_bool stopping;
	atomic_uint active;    /* handlers running */
	atomic_uint max_calls; /* limit on active */
	atomic_uint live;      /* struct rpc_call allocated */
	unsigned int requested; /* slots waiting for a call; the driver's only */
	unsigned long long next_id;

	pthread_mutex_t lock; /* zombies */
	struct rpc_call *zombies;
};

static void call_set_state(struct rpc_call *c, enum call_state s)
{
	enum call_state old;

	pthread_mutex_lock(&c->ctx.lock);
	old = c->state;
	c->state = s;
	pthread_mutex_unlock(&c->ctx.lock);
	log_trace("rpc call %llu: %s -> %s", c->id, call_state_to_string(old),
		  call_state_to_string(s));
}

static gpr_timespec deadline_in_ms(int ms)
{
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
			    gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* ---- handler context ---- */

static void ctx_init(struct agent_rpc_ctx *ctx)
{
	pthread_mutex_init(&ctx->lock, NULL);
	atomic_init(&ctx->cancelled, false);
	ctx->cancel_fd = -1;
}

static void ctx_free_arena(struct agent_rpc_ctx *ctx)
{
	while (ctx->arena) {
		struct arena_block *b = ctx->arena;

		ctx->arena = b->next;
		free(b);
	}
}

static void ctx_destroy(struct agent_rpc_ctx *ctx)
{
	ctx_free_arena(ctx);
	if (ctx->cancel_fd >= 0)
		close(ctx->cancel_fd);
	pthread_mutex_destroy(&ctx->lock);
}

/* The driver marks a call cancelled: once, waking whatever the handler waits on. */
static void ctx_cancel(struct agent_rpc_ctx *ctx)
{
	pthread_mutex_lock(&ctx->lock);
	if (!atomic_exchange(&ctx->cancelled, true)) {
		if (ctx->cancel_fd >= 0 && eventfd_write(ctx->cancel_fd, 1) < 0)
			log_debug("rpc: cannot signal a cancel eventfd: %s", strerror(errno));
		if (ctx->on_cancel)
			ctx->on_cancel(ctx->on_cancel_arg);
	}
	pthread_mutex_unlock(&ctx->lock);
}

const struct agent_rpc_method *agent_rpc_ctx_method(const struct agent_rpc_ctx *ctx)
{
	return ctx->method;
}

bool agent_rpc_ctx_cancelled(const struct agent_rpc_ctx *ctx)
{
	return atomic_load(&ctx->cancelled);
}

int agent_rpc_ctx_cancel_fd(struct agent_rpc_ctx *ctx)
{
	int fd;

	pthread_mutex_lock(&ctx->lock);
	if (ctx->cancel_fd < 0) {
		ctx->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (ctx->cancel_fd < 0) {
			fd = -errno;
			pthread_mutex_unlock(&ctx->lock);
			return fd;
		}
		if (atomic_load(&ctx->cancelled) && eventfd_write(ctx->cancel_fd, 1) < 0)
			log_debug("rpc: cannot signal a cancel eventfd: %s", strerror(errno));
	}
	fd = ctx->cancel_fd;
	pthread_mutex_unlock(&ctx->lock);
	return fd;
}

void agent_rpc_ctx_on_cancel(struct agent_rpc_ctx *ctx, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&ctx->lock);
	ctx->on_cancel = fn;
	ctx->on_cancel_arg = arg;
	if (fn && atomic_load(&ctx->cancelled))
		fn(arg);
	pthread_mutex_unlock(&ctx->lock);
}

void agent_rpc_ctx_on_sent(struct agent_rpc_ctx *ctx, void (*fn)(void *arg, bool delivered),
			  void *arg)
{
	ctx->on_sent = fn;
	ctx->on_sent_arg = arg;
}

void *agent_rpc_ctx_alloc(struct agent_rpc_ctx *ctx, size_t size)
{
	struct arena_block *b;

	if (size > SIZE_MAX - sizeof(*b))
		return NULL;
	b = calloc(1, sizeof(*b) + size);
	if (!b)
		return NULL;
	b->next = ctx->arena;
	ctx->arena = b;
	return b->data;
}

char *agent_rpc_ctx_strdup(struct agent_rpc_ctx *ctx, const char *s)
{
	size_t len = strlen(s);
	char *p = agent_rpc_ctx_alloc(ctx, len + 1);

	if (p)
		memcpy(p, s, len + 1);
	return p;
}

ProtobufCMessage *agent_rpc_ctx_new(struct agent_rpc_ctx *ctx,
				    const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage *m = agent_rpc_ctx_alloc(ctx, desc->sizeof_message);

	if (m)
		desc->message_init(m);
	return m;
}

/* ---- calls ---- */

static struct rpc_call *call_new(struct agent_rpc_server *srv)
{
	struct rpc_call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->server = srv;
	c->id = srv->next_id++;
	ctx_init(&c->ctx);
	atomic_init(&c->refs, 1);
	c->state = CALL_REQUESTED;
	grpc_call_details_init(&c->details);
	grpc_metadata_array_init(&c->request_md);
	c->status_details = grpc_empty_slice();
	c->t_request = (struct rpc_tag){ TAG_REQUEST, c };
	c->t_recv = (struct rpc_tag){ TAG_RECV, c };
	c->t_close = (struct rpc_tag){ TAG_CLOSE, c };
	c->t_send = (struct rpc_tag){ TAG_SEND, c };
	atomic_fetch_add(&srv->live, 1);
	return c;
}

static void call_ref(struct rpc_call *c)
{
	atomic_fetch_add(&c->refs, 1);
}

static void call_unref(struct rpc_call *c)
{
	struct agent_rpc_server *srv = c->server;

	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	log_trace("rpc call %llu: freed", c->id);
	if (c->call)
		grpc_call_unref(c->call);
	grpc_call_details_destroy(&c->details);
	grpc_metadata_array_destroy(&c->request_md);
	if (c->request)
		grpc_byte_buffer_destroy(c->request);
	if (c->response)
		grpc_byte_buffer_destroy(c->response);
	grpc_slice_unref(c->status_details);
	ctx_destroy(&c->ctx);
	free(c);
	atomic_fetch_sub(&srv->live, 1);
}

/* Start one batch holding a reference for its completion. */
static int call_start_batch(struct rpc_call *c, const grpc_op *ops, size_t n, struct rpc_tag *tag)
{
	grpc_call_error e;

	call_ref(c);
	e = grpc_call_start_batch(c->call, ops, n, tag, NULL);
	if (e != GRPC_CALL_OK) {
		call_unref(c);
		log_debug("rpc call %llu: cannot start a batch: %s", c->id,
			  grpc_call_error_to_string(e));
		return -EIO;
	}
	return 0;
}

/* The final batch: initial metadata, the response if any, the status. */
static void call_answer(struct rpc_call *c, grpc_status_code code, const char *message)
{
	grpc_op ops[3];
	size_t n = 0;

	memset(ops, 0, sizeof(ops));
	grpc_slice_unref(c->status_details);
	c->status_details = grpc_slice_from_copied_string(message ? message : "");
	ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
	n++;
	if (code == GRPC_STATUS_OK && c->response) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n].data.send_message.send_message = c->response;
		n++;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = code;
	ops[n].data.send_status_from_server.status_details = &c->status_details;
	n++;
	log_debug("rpc call %llu: %.*s -> %s%s%s", c->id,
		  (int)GRPC_SLICE_LENGTH(c->details.method),
		  (const char *)GRPC_SLICE_START_PTR(c->details.method),
		  agent_rpc_status_code_to_string(code), message && *message ? ": " : "",
		  message ? message : "");
	call_set_state(c, CALL_ANSWERING);
	if (call_start_batch(c, ops, n, &c->t_send) < 0)
		call_set_state(c, CALL_FINISHED);
}

static const struct agent_rpc_method *find_method(const struct agent_rpc_server *srv,
						  grpc_slice path)
{
	for (size_t i = 0; i < srv->n_methods; i++)
		if (grpc_slice_str_cmp(path, srv->table[i].path) == 0)
			return &srv->table[i];
	return NULL;
}

/* The worker: everything between the request bytes and the final batch. */
static grpc_status_code call_run(struct rpc_call *c, struct agent_rpc_status *st)
{
	const struct agent_rpc_method *m = c->ctx.method;
	size_t max = m->max_request ? m->max_request : AGENT_MAX_MESSAGE;
	ProtobufCMessage *req = NULL, *resp = NULL;
	grpc_byte_buffer_reader reader;
	struct error err = { 0 };
	grpc_status_code code;
	grpc_slice in;
	size_t len;

	if (!grpc_byte_buffer_reader_init(&reader, c->request))
		return agent_rpc_status_set(st, GRPC_STATUS_INTERNAL,
					    "cannot read the request message");
	in = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	len = GRPC_SLICE_LENGTH(in);
	if (len > max) {
		code = agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT,
					    "request of %zu bytes exceeds the limit of %zu bytes",
					    len, max);
		goto out_slice;
	}
	req = protobuf_c_message_unpack(m->in, NULL, len, GRPC_SLICE_START_PTR(in));
	if (!req) {
		code = agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT,
					    "request is not a valid %s message", m->in->name);
		goto out_slice;
	}
	if (m->validate && m->validate(req, &err) < 0) {
		code = agent_rpc_status_set(st, GRPC_STATUS_INVALID_ARGUMENT, "%s",
					    err.msg[0] ? err.msg : "invalid request");
		goto out_req;
	}
	if (agent_rpc_ctx_cancelled(&c->ctx)) {
		code = agent_rpc_status_set(st, GRPC_STATUS_CANCELLED, "cancelled");
		goto out_req;
	}

	call_set_state(c, CALL_RUNNING);
	st->code = GRPC_STATUS_OK;
	st->message[0] = '\0';
	code = m->handler(c->server->userdata, &c->ctx, req, &resp, st);
	st->code = code;
	/* The handler is done: the callback it may have left must not run. */
	agent_rpc_ctx_on_cancel(&c->ctx, NULL, NULL);

	if (code != GRPC_STATUS_OK) {
		if (!st->message[0])
			agent_rpc_status_set(st, code, "%s failed", m->path);
		goto out_req;
	}
	if (!resp || resp->descriptor != m->out) {
		code = agent_rpc_status_set(st, GRPC_STATUS_INTERNAL,
					    "handler of %s returned %s instead of a %s", m->path,
					    resp ? resp->descriptor->name : "nothing",
					    m->out->name);
		goto out_req;
	}
	len = protobuf_c_message_get_packed_size(resp);
	if (len > AGENT_MAX_MESSAGE) {
		code = agent_rpc_status_set(st, GRPC_STATUS_RESOURCE_EXHAUSTED,
					    "response of %zu bytes exceeds the limit of %u bytes",
					    len, AGENT_MAX_MESSAGE);
		goto out_req;
	} else {
		grpc_slice out = grpc_slice_malloc(len);

		protobuf_c_message_pack(resp, GRPC_SLICE_START_PTR(out));
		c->response = grpc_raw_byte_buffer_create(&out, 1);
		grpc_slice_unref(out);
	}
out_req:
	protobuf_c_message_free_unpacked(req, NULL);
out_slice:
	grpc_slice_unref(in);
	return code;
}

static void *call_worker(void *arg)
{
	struct rpc_call *c = arg;
	struct agent_rpc_server *srv = c->server;
	struct agent_rpc_status st = { GRPC_STATUS_OK, "" };
	grpc_status_code code;

	code = call_run(c, &st);
	/* The response is serialized: the handler's memory can go. */
	ctx_free_arena(&c->ctx);
	call_answer(c, code, st.message);

	atomic_fetch_sub(&srv->active, 1);
	pthread_mutex_lock(&srv->lock);
	c->next_zombie = srv->zombies;
	srv->zombies = c;
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

/* Join the workers that finished and drop their references. */
static void reap_workers(struct agent_rpc_server *srv)
{
	struct rpc_call *list;

	pthread_mutex_lock(&srv->lock);
	list = srv->zombies;
	srv->zombies = NULL;
	pthread_mutex_unlock(&srv->lock);
	while (list) {
		struct rpc_call *c = list;

		list = c->next_zombie;
		pthread_join(c->thread, NULL);
		call_unref(c);
	}
}

static void call_spawn_worker(struct rpc_call *c)
{
	struct agent_rpc_server *srv = c->server;
	unsigned int active = atomic_fetch_add(&srv->active, 1);
	pthread_attr_t attr;
	int r;

	if (active >= atomic_load(&srv->max_calls)) {
		char msg[128];

		atomic_fetch_sub(&srv->active, 1);
		snprintf(msg, sizeof(msg), "too many calls at once (limit %u)",
			 atomic_load(&srv->max_calls));
		call_answer(c, GRPC_STATUS_RESOURCE_EXHAUSTED, msg);
		return;
	}
	call_ref(c); /* the worker's, dropped by reap_workers() */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, AGENT_RPC_WORKER_STACK);
	r = pthread_create(&c->thread, &attr, call_worker, c);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		atomic_fetch_sub(&srv->active, 1);
		call_unref(c);
		log_debug("rpc call %llu: cannot start a thread: %s", c->id, strerror(r));
		call_answer(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "cannot start a thread");
	}
}

/* Offer gRPC a slot for the next call. */
static void request_call(struct agent_rpc_server *srv)
{
	struct rpc_call *c;
	grpc_call_error e;

	if (atomic_load(&srv->stopping))
		return;
	c = call_new(srv);
	if (!c) {
		/* Without a slot no call is served; the driver retries when idle. */
		log_warn("rpc: out of memory for a call");
		return;
	}
	e = grpc_server_request_call(srv->server, &c->call, &c->details, &c->request_md, srv->cq,
				     srv->cq, &c->t_request);
	if (e != GRPC_CALL_OK) {
		log_warn("rpc: cannot request a call: %s", grpc_call_error_to_string(e));
		call_unref(c);
		return;
	}
	srv->requested++;
}

static void on_request(struct rpc_call *c, bool ok)
{
	struct agent_rpc_server *srv = c->server;
	const struct agent_rpc_method *m;
	grpc_op op;

	srv->requested--;
	if (!ok) {
		/* The server is shutting down; no call came. */
		call_unref(c);
		return;
	}
	request_call(srv);
	call_set_state(c, CALL_RECEIVING);

	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &c->close_cancelled;
	if (call_start_batch(c, &op, 1, &c->t_close) < 0) {
		grpc_call_cancel(c->call, NULL);
		call_set_state(c, CALL_FINISHED);
		call_unref(c);
		return;
	}

	m = find_method(srv, c->details.method);
	if (!m) {
		char msg[AGENT_RPC_STATUS_MAX];

		snprintf(msg, sizeof(msg), "unknown method %.*s",
			 (int)MIN(GRPC_SLICE_LENGTH(c->details.method), 256),
			 (const char *)GRPC_SLICE_START_PTR(c->details.method));
		call_answer(c, GRPC_STATUS_UNIMPLEMENTED, msg);
	} else {
		c->ctx.method = m;
		memset(&op, 0, sizeof(op));
		op.op = GRPC_OP_RECV_MESSAGE;
		op.data.recv_message.recv_message = &c->request;
		if (call_start_batch(c, &op, 1, &c->t_recv) < 0)
			call_answer(c, GRPC_STATUS_INTERNAL, "cannot receive the request");
	}
	call_unref(c); /* the request slot's reference */
}

static void on_recv(struct rpc_call *c, bool ok)
{
	if (!ok || agent_rpc_ctx_cancelled(&c->ctx))
		call_set_state(c, CALL_FINISHED); /* the call died; nothing to answer */
	else if (!c->request)
		call_answer(c, GRPC_STATUS_INVALID_ARGUMENT, "no request message");
	else
		call_spawn_worker(c);
	call_unref(c);
}

static void on_close(struct rpc_call *c)
{
	if (c->close_cancelled) {
		log_debug("rpc call %llu: cancelled", c->id);
		ctx_cancel(&c->ctx);
	}
	call_unref(c);
}

static void on_send(struct rpc_call *c, bool ok)
{
	if (!ok)
		log_debug("rpc call %llu: the answer was not delivered", c->id);
	call_set_state(c, CALL_FINISHED);
	if (c->ctx.on_sent)
		c->ctx.on_sent(c->ctx.on_sent_arg, ok);
	call_unref(c);
}

static void *driver_thread(void *arg)
{
	struct agent_rpc_server *srv = arg;
	bool shutdown_seen = false, cq_shut = false;

	for (;;) {
		bool stopping = atomic_load(&srv->stopping);
		grpc_event ev = grpc_completion_queue_next(
			srv->cq, deadline_in_ms(stopping ? DRIVER_STOPPING_MS : DRIVER_IDLE_MS),
			NULL);

		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type == GRPC_OP_COMPLETE) {
			struct rpc_tag *t = ev.tag;

			switch (t->kind) {
			case TAG_REQUEST:
				on_request(t->call, ev.success);
				break;
			case TAG_RECV:
				on_recv(t->call, ev.success);
				break;
			case TAG_CLOSE:
				on_close(t->call);
				break;
			case TAG_SEND:
				on_send(t->call, ev.success);
				break;
			case TAG_SHUTDOWN:
				shutdown_seen = true;
				break;
			}
		}
		reap_workers(srv);
		/* A slot that could not be offered (out of memory) is retried. */
		if (srv->requested == 0 && !atomic_load(&srv->stopping))
			request_call(srv);
		if (shutdown_seen && !cq_shut && atomic_load(&srv->live) == 0) {
			grpc_completion_queue_shutdown(srv->cq);
			cq_shut = true;
		}
	}
	return NULL;
}

/* ---- server ---- */

int agent_rpc_server_new(const struct agent_rpc_method *table, size_t n, void *userdata,
			 struct agent_rpc_server **ret_server)
{
	struct agent_rpc_server *srv;
	grpc_arg args[2];
	grpc_channel_args chargs = { .num_args = ARRAY_SIZE(args), .args = args };
	int r;

	for (size_t i = 0; i < n; i++)
		if (!table[i].path || table[i].path[0] != '/' || !table[i].in || !table[i].out ||
		    !table[i].handler)
			return -EINVAL;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->table = table;
	srv->n_methods = n;
	srv->userdata = userdata;
	atomic_init(&srv->stopping, false);
	atomic_init(&srv->active, 0);
	atomic_init(&srv->max_calls, AGENT_MAX_CONCURRENT_CALLS);
	atomic_init(&srv->live, 0);
	pthread_mutex_init(&srv->lock, NULL);
	srv->t_shutdown = (struct rpc_tag){ TAG_SHUTDOWN, NULL };

	grpc_init();
	srv->grpc_initialized = true;
	memset(args, 0, sizeof(args));
	args[0].type = GRPC_ARG_INTEGER;
	args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	args[0].value.integer = AGENT_MAX_MESSAGE;
	args[1].type = GRPC_ARG_INTEGER;
	args[1].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
	args[1].value.integer = AGENT_MAX_MESSAGE;
	srv->cq = grpc_completion_queue_create_for_next(NULL);
	srv->server = grpc_server_create(&chargs, NULL);
	srv->creds = grpc_insecure_server_credentials_create();
	if (!srv->cq || !srv->server || !srv->creds) {
		r = -ENOMEM;
		goto fail;
	}
	grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
	grpc_server_start(srv->server);
	request_call(srv);

	r = -pthread_create(&srv->driver, NULL, driver_thread, srv);
	if (r < 0)
		goto fail;
	srv->driver_started = true;
	*ret_server = srv;
	return 0;
fail:
	agent_rpc_server_free(srv);
	return r;
}

int agent_rpc_server_add_fd_take(struct agent_rpc_server *srv, int fd)
{
	int r = rpc_prepare_fd(fd);

	if (r < 0) {
		close(fd);
		return r;
	}
	if (atomic_load(&srv->stopping)) {
		close(fd);
		return -ESHUTDOWN;
	}
	/* gRPC owns fd from here on; it closes it when the connection ends. */
	grpc_server_add_channel_from_fd(srv->server, fd, srv->creds);
	return 0;
}

void agent_rpc_server_set_max_calls(struct agent_rpc_server *srv, unsigned int max)
{
	atomic_store(&srv->max_calls, max ? max : 1);
}

unsigned int agent_rpc_server_active_calls(struct agent_rpc_server *srv)
{
	return atomic_load(&srv->active);
}

void agent_rpc_server_free(struct agent_rpc_server *srv)
{
	if (!srv)
		return;
	atomic_store(&srv->stopping, true);
	if (srv->server) {
		grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->t_shutdown);
		/* Every call's RECV_CLOSE_ON_SERVER completes as cancelled, which
		 * wakes its handler; the driver then finishes the calls. */
		grpc_server_cancel_all_calls(srv->server);
	}
	if (srv->driver_started) {
		pthread_join(srv->driver, NULL);
	} else if (srv->server) {
		/* Started but without its thread (agent_rpc_server_new() failed
		 * late): drive the shutdown here. */
		driver_thread(srv);
	} else if (srv->cq) {
		grpc_completion_queue_shutdown(srv->cq);
		while (grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC),
						  NULL).type != GRPC_QUEUE_SHUTDOWN)
			;
	}
	reap_workers(srv);
	if (srv->server)
		grpc_server_destroy(srv->server);
	if (srv->cq)
		grpc_completion_queue_destroy(srv->cq);
	if (srv->creds)
		grpc_server_credentials_release(srv->creds);
	if (srv->grpc_initialized)
		grpc_shutdown_blocking();
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}
