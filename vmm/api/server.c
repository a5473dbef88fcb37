/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The REST API server thread. It owns the listening socket and every client
 * connection, and does all the work a hostile client could make slow or
 * large: reading, parsing (HTTP and vm.create's JSON), limits, timeouts and
 * writing. What reaches the main thread is a parsed request on a queue; what
 * comes back is a status and a body.
 *
 * Each connection is a small state machine, changed only by
 * api_conn_set_state():
 *
 *   READING ──request──> DISPATCHED ──reply──> WRITING ──keep-alive──> READING
 *      │  (404/405/400/501 answered here) ──────> WRITING ──close──> CLOSED
 *      └──EOF, error, timeout──> CLOSED
 *
 * While a request is DISPATCHED the connection is not read, so each has at
 * most one request in flight and pipelined bytes wait in its buffer.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "http.h"
#include "kv.h"
#include "vmm/api.h"

/* Bytes read from a client at once (and the most pipelined input kept). */
#define API_READ_CHUNK 4096
/* epoll events taken per wakeup: every client, the listener and the wake fd. */
#define API_MAX_EVENTS (API_MAX_CONNECTIONS + 2)
/* Connections waiting in the kernel for accept(). */
#define API_LISTEN_BACKLOG API_MAX_CONNECTIONS
/* Requests waiting for or in the main thread: one per connection at most. */
#define API_MAX_QUEUED API_MAX_CONNECTIONS
/* Out of fds: stop accepting for this long rather than spin on a readable listener. */
#define API_ACCEPT_BACKOFF_MS 100
/* On stop: how long responses already produced (vmm.shutdown's) get to leave. */
#define API_STOP_GRACE_MS 1000

#define API_PATH_PREFIX "/api/v1/"
/* epoll tags: the low 32 bits of epoll_data.u64; a connection's generation is the high 32. */
#define API_TAG_LISTEN 0
#define API_TAG_WAKE 1
#define API_TAG_CONN 2

enum api_conn_state {
	API_CONN_READING,
	API_CONN_DISPATCHED,
	API_CONN_WRITING,
	API_CONN_CLOSED,
};

static const char *const conn_state_names[] = {
	[API_CONN_READING] = "reading",
	[API_CONN_DISPATCHED] = "dispatched",
	[API_CONN_WRITING] = "writing",
	[API_CONN_CLOSED] = "closed",
};

static const char *api_conn_state_to_string(enum api_conn_state s)
{
	return (unsigned int)s < ARRAY_SIZE(conn_state_names) ? conn_state_names[s] : "?";
}

struct api_conn {
	enum api_conn_state state;
	int fd;
	unsigned int slot;
	uint32_t generation;  /* tells a reply or event for this client from one for a slot's earlier one */
	uint64_t deadline_ms; /* CLOCK_MONOTONIC; 0 while DISPATCHED */
	bool keep_alive;      /* of the response being written */
	bool continue_sent;   /* 100 Continue, once per request */
	struct http_parser parser;
	char in[API_READ_CHUNK];
	size_t in_off, in_len; /* in[in_off..in_len) not yet parsed */
	char *out;
	size_t out_off, out_len;
};

struct api_job {
	struct api_job *next;
	unsigned int slot;
	uint32_t generation;
	struct vmm_api_request req;
	struct vmm_api_reply reply;
};

struct vmm_api_server {
	char *path;
	dev_t sock_dev; /* the socket file we made, so that stop unlinks only ours */
	ino_t sock_ino;
	int listen_fd, epoll_fd;
	int queue_fd; /* eventfd, readable: requests wait for the main thread */
	int wake_fd;  /* eventfd: replies or stop wait for the server thread */
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock; /* protects the two lists, n_jobs and stopping */
	struct api_job *pending, **pending_tail; /* to the main thread */
	struct api_job *done, **done_tail;	 /* back to the server thread */
	unsigned int n_jobs;
	bool stopping;

	/* Server thread only. */
	struct api_conn *conns[API_MAX_CONNECTIONS];
	uint32_t generations[API_MAX_CONNECTIONS];
	uint64_t accept_paused_until;
};

/* --- the routing table --- */

#define API_NOT_IMPLEMENTED (-1)

struct api_route {
	const char *path;
	enum http_method method;
	int action; /* enum vmm_api_action, or API_NOT_IMPLEMENTED */
	bool takes_body;
};

/* cloud-hypervisor's endpoints (its OpenAPI), all of them, so that none is a mere 404. */
static const struct api_route api_routes[] = {
	{ API_PATH_PREFIX "vmm.ping", HTTP_METHOD_GET, VMM_API_PING, false },
	{ API_PATH_PREFIX "vmm.shutdown", HTTP_METHOD_PUT, VMM_API_SHUTDOWN_VMM, false },
	{ API_PATH_PREFIX "vm.create", HTTP_METHOD_PUT, VMM_API_VM_CREATE, true },
	{ API_PATH_PREFIX "vm.boot", HTTP_METHOD_PUT, VMM_API_VM_BOOT, false },
	{ API_PATH_PREFIX "vm.info", HTTP_METHOD_GET, VMM_API_VM_INFO, false },
	{ API_PATH_PREFIX "vm.counters", HTTP_METHOD_GET, VMM_API_VM_COUNTERS, false },
	{ API_PATH_PREFIX "vm.shutdown", HTTP_METHOD_PUT, VMM_API_VM_SHUTDOWN, false },
	{ API_PATH_PREFIX "vm.reboot", HTTP_METHOD_PUT, VMM_API_VM_REBOOT, false },
	{ API_PATH_PREFIX "vm.pause", HTTP_METHOD_PUT, VMM_API_VM_PAUSE, false },
	{ API_PATH_PREFIX "vm.resume", HTTP_METHOD_PUT, VMM_API_VM_RESUME, false },
	{ API_PATH_PREFIX "vm.power-button", HTTP_METHOD_PUT, VMM_API_VM_POWER_BUTTON, false },
	{ API_PATH_PREFIX "vm.delete", HTTP_METHOD_PUT, VMM_API_VM_DELETE, false },
	{ API_PATH_PREFIX "vm.resize", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
	{ API_PATH_PREFIX "vm.resize-disk", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
	{ API_PATH_PREFIX "vm.resize-zone", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
	{ API_PATH_PREFIX "vm.add-device", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
	{ API_PATH_PREFIX "vm.remove-device", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
	{ API_PATH_PREFIX "vm.add-disk", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
	{ API_PATH_PREFIX "vm.add-fs", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
	{ API_PATH_PREFIX "vm.add-generic-vhost-user", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
	{ API_PATH_PREFIX "vm.add-pmem", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
	{ API_PATH_PREFIX "vm.add-net", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
	{ API_PATH_PREFIX "vm.add-vsock", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
	{ API_PATH_PREFIX "vm.add-vdpa", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
	{ API_PATH_PREFIX "vm.add-user-device", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
	{ API_PATH_PREFIX "vm.snapshot", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
	{ API_PATH_PREFIX "vm.coredump", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
	{ API_PATH_PREFIX "vm.nmi", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, false },
	{ API_PATH_PREFIX "vm.restore", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
	{ API_PATH_PREFIX "vm.receive-migration", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
	{ API_PATH_PREFIX "vm.send-migration", HTTP_METHOD_PUT, API_NOT_IMPLEMENTED, true },
};

static const char *const action_names[] = {
	[VMM_API_PING] = "vmm.ping",
	[VMM_API_SHUTDOWN_VMM] = "vmm.shutdown",
	[VMM_API_VM_CREATE] = "vm.create",
	[VMM_API_VM_BOOT] = "vm.boot",
	[VMM_API_VM_INFO] = "vm.info",
	[VMM_API_VM_COUNTERS] = "vm.counters",
	[VMM_API_VM_SHUTDOWN] = "vm.shutdown",
	[VMM_API_VM_REBOOT] = "vm.reboot",
	[VMM_API_VM_PAUSE] = "vm.pause",
	[VMM_API_VM_RESUME] = "vm.resume",
	[VMM_API_VM_POWER_BUTTON] = "vm.power-button",
	[VMM_API_VM_DELETE] = "vm.delete",
};

const char *vmm_api_action_to_string(enum vmm_api_action a)
{
	if ((unsigned int)a >= ARRAY_SIZE(action_names))
		return NULL;
	return action_names[a];
}

/* --- helpers --- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t api_tag(unsigned int tag, uint32_t generation)
{
	return (uint64_t)generation << 32 | tag;
}

static void eventfd_signal(int fd)
{
	uint64_t one = 1;

	/* Only fails when the counter would overflow: it is readable already. */
	(void)!write(fd, &one, sizeof(one));
}

static void eventfd_drain(int fd)
{
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
}

/* "HTTP/1.1 <code> <reason>" + headers + body, malloc'd; NULL on allocation failure. */
static char *api_format_response(int status, const char *allow, bool keep_alive,
				 bool http10, const char *body, size_t *ret_len)
{
	char head[256];
	size_t body_len = body && status != 204 ? strlen(body) : 0;
	int n;
	char *out;

	/* RFC 9110 8.6: no Content-Length (or body) on a 204. */
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n", status, http_reason(status));
	if (status != 204)
		n += snprintf(head + n, sizeof(head) - (size_t)n,
			      "Content-Type: application/json\r\nContent-Length: %zu\r\n",
			      body_len);
	if (allow)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Allow: %s\r\n", allow);
	if (!keep_alive)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Connection: close\r\n");
	else if (http10)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Connection: keep-alive\r\n");
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");

	out = malloc((size_t)n + body_len + 1);
	if (!out)
		return NULL;
	memcpy(out, head, (size_t)n);
	if (body_len)
		memcpy(out + n, body, body_len);
	out[(size_t)n + body_len] = '\0';
	*ret_len = (size_t)n + body_len;
	return out;
}

/* --- connections --- */

static void api_conn_process(struct vmm_api_server *srv, struct api_conn *conn);
static void api_conn_write(struct vmm_api_server *srv, struct api_conn *conn);

/*
 * The one place a connection changes state. Returns false when the
 * connection is gone (CLOSED, or epoll refused it and it was closed).
 */
static bool api_conn_set_state(struct vmm_api_server *srv, struct api_conn *conn,
			       enum api_conn_state state, const char *why)
{
	struct epoll_event ev = { .data.u64 = api_tag(API_TAG_CONN + conn->slot,
						      conn->generation) };

	log_debug("api: client %u: %s -> %s (%s)", conn->slot,
		  api_conn_state_to_string(conn->state), api_conn_state_to_string(state), why);
	conn->state = state;
	switch (state) {
	case API_CONN_READING:
		http_parser_reset(&conn->parser);
		conn->continue_sent = false;
		conn->deadline_ms = now_ms() + API_CLIENT_TIMEOUT_MS;
		ev.events = EPOLLIN;
		break;
	case API_CONN_DISPATCHED:
		/* Not read meanwhile; EPOLLHUP still says the client left. */
		conn->deadline_ms = 0;
		ev.events = 0;
		break;
	case API_CONN_WRITING:
		conn->deadline_ms = now_ms() + API_CLIENT_TIMEOUT_MS;
		ev.events = EPOLLOUT;
		break;
	case API_CONN_CLOSED:
		epoll_ctl(srv->epoll_fd, EPOLL_CTL_DEL, conn->fd, NULL);
		close(conn->fd);
		http_parser_free(&conn->parser);
		free(conn->out);
		srv->conns[conn->slot] = NULL;
		srv->generations[conn->slot]++;
		free(conn);
		return false;
	}
	if (epoll_ctl(srv->epoll_fd, EPOLL_CTL_MOD, conn->fd, &ev) < 0)
		return api_conn_set_state(srv, conn, API_CONN_CLOSED, "epoll_ctl failed");
	return true;
}

/* Queue a response (body is JSON or NULL) and start writing it. */
static void api_conn_respond(struct vmm_api_server *srv, struct api_conn *conn, int status,
			     const char *allow, const char *body, bool force_close)
{
	const struct http_request *req = &conn->parser.req;
	bool keep = !force_close && req->keep_alive && conn->parser.state == HTTP_PARSER_DONE &&
		    req->method != HTTP_METHOD_HEAD;

	free(conn->out);
	conn->out = api_format_response(status, allow, keep, req->minor_version == 0, body,
					&conn->out_len);
	conn->out_off = 0;
	conn->keep_alive = keep;
	if (!conn->out) {
		api_conn_set_state(srv, conn, API_CONN_CLOSED, "out of memory for a response");
		return;
	}
	if (api_conn_set_state(srv, conn, API_CONN_WRITING, "response"))
		api_conn_write(srv, conn);
}

/* An error the server answers itself: {"error": message}. */
static void api_conn_error(struct vmm_api_server *srv, struct api_conn *conn, int status,
			   const char *allow, const char *message, bool force_close)
{
	char *body = vmm_api_json_error(message);

	log_debug("api: client %u: %d %s", conn->slot, status, message);
	api_conn_respond(srv, conn, status, allow, body, force_close);
	free(body);
}

static void api_conn_write(struct vmm_api_server *srv, struct api_conn *conn)
{
	while (conn->out_off < conn->out_len) {
		ssize_t n = send(conn->fd, conn->out + conn->out_off, conn->out_len - conn->out_off,
				 MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return; /* EPOLLOUT brings us back */
		if (n <= 0) {
			api_conn_set_state(srv, conn, API_CONN_CLOSED, "write failed");
			return;
		}
		conn->out_off += (size_t)n;
	}
	free(conn->out);
	conn->out = NULL;
	if (!conn->keep_alive) {
		api_conn_set_state(srv, conn, API_CONN_CLOSED, "response sent, not keep-alive");
		return;
	}
	if (api_conn_set_state(srv, conn, API_CONN_READING, "response sent, keep-alive"))
		api_conn_process(srv, conn); /* a pipelined request may be waiting */
}

static void api_job_free(struct api_job *job)
{
	if (!job)
		return;
	if (job->req.config) {
		vmm_config_free(job->req.config);
		free(job->req.config);
	}
	free(job->reply.body);
	free(job);
}

/* Hand a parsed request to the main thread. config: taken (vm.create's). */
static void api_conn_dispatch(struct vmm_api_server *srv, struct api_conn *conn,
			      enum vmm_api_action action, struct vmm_config *config)
{
	struct api_job *job = calloc(1, sizeof(*job));
	bool full;

	if (!job) {
		if (config) {
			vmm_config_free(config);
			free(config);
		}
		api_conn_error(srv, conn, 500, NULL, "out of memory", true);
		return;
	}
	job->slot = conn->slot;
	job->generation = conn->generation;
	job->req.action = action;
	job->req.config = config;

	pthread_mutex_lock(&srv->lock);
	full = srv->n_jobs >= API_MAX_QUEUED;
	if (!full) {
		*srv->pending_tail = job;
		srv->pending_tail = &job->next;
		srv->n_jobs++;
	}
	pthread_mutex_unlock(&srv->lock);
	if (full) {
		/* Cannot happen with one request per connection; the limit says so. */
		api_job_free(job);
		api_conn_error(srv, conn, 503, NULL, "too many requests in flight", true);
		return;
	}
	/* If the connection closes meanwhile, its reply is dropped when it comes back. */
	api_conn_set_state(srv, conn, API_CONN_DISPATCHED, action_names[action]);
	eventfd_signal(srv->queue_fd);
}

/* The request is complete: route it. */
static void api_conn_route(struct vmm_api_server *srv, struct api_conn *conn)
{
	const struct http_request *req = &conn->parser.req;
	const struct api_route *route = NULL;
	const char *name;
	char msg[ERROR_MSG_MAX + 32], echo[KV_ECHO_MAX];
	struct vmm_config *config = NULL;
	struct error err = { 0 };
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(api_routes); i++)
		if (strcmp(api_routes[i].path, req->path) == 0) {
			route = &api_routes[i];
			break;
		}
	if (!route) {
		snprintf(msg, sizeof(msg), "no such endpoint: %s", kv_echo(req->path, echo));
		api_conn_error(srv, conn, 404, NULL, msg, false);
		return;
	}
	name = route->path + strlen(API_PATH_PREFIX);
	if (req->method != route->method) {
		snprintf(msg, sizeof(msg), "%s takes %s, not %s", name,
			 http_method_to_string(route->method), req->method_name);
		api_conn_error(srv, conn, 405, http_method_to_string(route->method), msg, false);
		return;
	}
	if (route->action == API_NOT_IMPLEMENTED) {
		snprintf(msg, sizeof(msg), "%s is not implemented in nacelle yet", name);
		api_conn_error(srv, conn, 501, NULL, msg, false);
		return;
	}
	if (!route->takes_body && req->body_len > 0) {
		snprintf(msg, sizeof(msg), "%s takes no request body", name);
		api_conn_error(srv, conn, 400, NULL, msg, false);
		return;
	}
	if (route->action == VMM_API_VM_CREATE) {
		/* Parsed here, off the main thread: it is the largest thing a client sends. */
		config = malloc(sizeof(*config));
		if (!config) {
			api_conn_error(srv, conn, 500, NULL, "out of memory", true);
			return;
		}
		r = vmm_config_from_json(req->body ? req->body : "", req->body_len, config, &err);
		if (r < 0) {
			free(config);
			snprintf(msg, sizeof(msg), "vm.create: %s", err.msg);
			api_conn_error(srv, conn, r == -ENOSYS ? 501 : r == -ENOMEM ? 500 : 400,
				       NULL, msg, false);
			return;
		}
	}
	api_conn_dispatch(srv, conn, (enum vmm_api_action)route->action, config);
}

/* Parse what is buffered; stops at a complete request (the rest waits its turn). */
static void api_conn_process(struct vmm_api_server *srv, struct api_conn *conn)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct http_parser *p = &conn->parser;

	while (conn->state == API_CONN_READING && conn->in_off < conn->in_len) {
		size_t used = 0;
		int r = http_parser_feed(p, conn->in + conn->in_off, conn->in_len - conn->in_off,
					 &used);

		conn->in_off += used;
		if (r < 0) {
			/* Framing is lost: answer and close. */
			api_conn_error(srv, conn, p->error_status, NULL, p->error_msg, true);
			return;
		}
		if (r > 0) {
			api_conn_route(srv, conn);
			return;
		}
		/* The client waits for a go-ahead before sending the body (curl does, ~1 s). */
		if (p->state == HTTP_PARSER_BODY && p->req.expect_continue && !conn->continue_sent) {
			conn->continue_sent = true;
			/* Nothing else is queued on the socket: READING means the last response left. */
			if (send(conn->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) !=
			    (ssize_t)(sizeof(cont) - 1)) {
				api_conn_set_state(srv, conn, API_CONN_CLOSED, "100 Continue failed");
				return;
			}
		}
	}
}

static void api_conn_read(struct vmm_api_server *srv, struct api_conn *conn)
{
	ssize_t n = recv(conn->fd, conn->in, sizeof(conn->in), 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		api_conn_set_state(srv, conn, API_CONN_CLOSED,
				   n == 0 ? "client closed the connection" : "read failed");
		return;
	}
	conn->in_off = 0;
	conn->in_len = (size_t)n;
	api_conn_process(srv, conn);
}

static void api_conn_event(struct vmm_api_server *srv, struct api_conn *conn, uint32_t events)
{
	if (events & EPOLLERR) {
		api_conn_set_state(srv, conn, API_CONN_CLOSED, "socket error");
		return;
	}
	switch (conn->state) {
	case API_CONN_READING:
		if (events & (EPOLLIN | EPOLLHUP))
			api_conn_read(srv, conn);
		break;
	case API_CONN_WRITING:
		if (events & (EPOLLOUT | EPOLLHUP))
			api_conn_write(srv, conn);
		break;
	case API_CONN_DISPATCHED:
		if (events & EPOLLHUP)
			api_conn_set_state(srv, conn, API_CONN_CLOSED,
					   "client hung up while its request was handled");
		break;
	case API_CONN_CLOSED:
		break;
	}
}

/* Over the limit: say so in one best-effort write, and close. */
static void api_refuse(int fd)
{
	char body[96], *resp;
	size_t len;

	snprintf(body, sizeof(body), "{\"error\":\"too many connections (the limit is %d)\"}",
		 API_MAX_CONNECTIONS);
	resp = api_format_response(503, NULL, false, false, body, &len);
	if (resp)
		(void)!send(fd, resp, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(resp);
	close(fd);
}

/* Only our own user (or root) may drive the VMM; the 0600 mode says so too. */
static bool api_peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == geteuid() || cred.uid == 0;
}

static void api_accept(struct vmm_api_server *srv)
{
	for (int k = 0; k <= API_MAX_CONNECTIONS; k++) {
		struct epoll_event ev = { 0 };
		struct api_conn *conn;
		unsigned int slot;
		int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* EMFILE and friends: the listener stays readable; pause it a moment. */
			log_debug("api: accept failed: %s; pausing %d ms", strerror(errno),
				  API_ACCEPT_BACKOFF_MS);
			srv->accept_paused_until = now_ms() + API_ACCEPT_BACKOFF_MS;
			ev.data.u64 = api_tag(API_TAG_LISTEN, 0);
			epoll_ctl(srv->epoll_fd, EPOLL_CTL_MOD, srv->listen_fd, &ev);
			return;
		}
		if (!api_peer_allowed(fd)) {
			log_debug("api: refused a client of another user");
			close(fd);
			continue;
		}
		for (slot = 0; slot < API_MAX_CONNECTIONS; slot++)
			if (!srv->conns[slot])
				break;
		if (slot == API_MAX_CONNECTIONS) {
			log_debug("api: refused a client: %d connections already",
				  API_MAX_CONNECTIONS);
			api_refuse(fd);
			continue;
		}
		conn = calloc(1, sizeof(*conn));
		if (!conn) {
			close(fd);
			continue;
		}
		conn->fd = fd;
		conn->slot = slot;
		conn->generation = srv->generations[slot];
		conn->state = API_CONN_CLOSED; /* until READING, below */
		http_parser_init(&conn->parser);
		ev.data.u64 = api_tag(API_TAG_CONN + slot, conn->generation);
		if (epoll_ctl(srv->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(conn);
			continue;
		}
		srv->conns[slot] = conn;
		api_conn_set_state(srv, conn, API_CONN_READING, "accepted");
	}
}

/* Replies the main thread produced: to their connections, if still there. */
static void api_take_replies(struct vmm_api_server *srv)
{
	struct api_job *jobs, *next;

	pthread_mutex_lock(&srv->lock);
	jobs = srv->done;
	srv->done = NULL;
	srv->done_tail = &srv->done;
	pthread_mutex_unlock(&srv->lock);

	for (struct api_job *job = jobs; job; job = next) {
		struct api_conn *conn = srv->conns[job->slot];
		int status = job->reply.http_status;

		next = job->next;
		pthread_mutex_lock(&srv->lock);
		srv->n_jobs--;
		pthread_mutex_unlock(&srv->lock);
		if (!conn || conn->generation != job->generation ||
		    conn->state != API_CONN_DISPATCHED) {
			log_debug("api: dropping a reply: its client left");
			api_job_free(job);
			continue;
		}
		if (status < 200 || status > 599) {
			log_debug("api: handler gave HTTP status %d", status);
			api_conn_error(srv, conn, 500, NULL, "internal error: no valid reply", false);
		} else if (!job->reply.body && status >= 400) {
			api_conn_error(srv, conn, status, NULL, http_reason(status), false);
		} else {
			api_conn_respond(srv, conn, status, NULL, job->reply.body, false);
		}
		api_job_free(job);
	}
}

/* Best effort, as the client is likely not reading: 408 and the limit. */
static void api_send_timeout(int fd)
{
	char *resp, body[96];
	size_t len;

	snprintf(body, sizeof(body), "{\"error\":\"request not complete within %d ms\"}",
		 API_CLIENT_TIMEOUT_MS);
	resp = api_format_response(408, NULL, false, false, body, &len);
	if (resp)
		(void)!send(fd, resp, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(resp);
}

/* Timeouts, and the next time one can happen (-1: none) for epoll_wait. */
static int api_expire(struct vmm_api_server *srv, uint64_t extra_deadline)
{
	uint64_t now = now_ms(), next = extra_deadline;

	if (srv->accept_paused_until) {
		if (now >= srv->accept_paused_until) {
			struct epoll_event ev = { .events = EPOLLIN,
						  .data.u64 = api_tag(API_TAG_LISTEN, 0) };

			srv->accept_paused_until = 0;
			epoll_ctl(srv->epoll_fd, EPOLL_CTL_MOD, srv->listen_fd, &ev);
		} else if (!next || srv->accept_paused_until < next) {
			next = srv->accept_paused_until;
		}
	}
	for (unsigned int i = 0; i < API_MAX_CONNECTIONS; i++) {
		struct api_conn *conn = srv->conns[i];

		if (!conn || !conn->deadline_ms)
			continue;
		if (now >= conn->deadline_ms) {
			bool idle = conn->state == API_CONN_READING &&
				    conn->parser.state == HTTP_PARSER_HEAD &&
				    conn->parser.head_len == 0;

			/* A partial request hears why; an idle keep-alive client is just closed. */
			if (conn->state == API_CONN_READING && !idle)
				api_send_timeout(conn->fd);
			api_conn_set_state(srv, conn, API_CONN_CLOSED, "timed out");
			continue;
		}
		if (!next || conn->deadline_ms < next)
			next = conn->deadline_ms;
	}
	if (!next)
		return -1;
	return next <= now ? 0 : (int)MIN(next - now, (uint64_t)API_CLIENT_TIMEOUT_MS);
}

/* Stop: no new clients or requests; let written responses finish (vmm.shutdown's 204). */
static bool api_stop_step(struct vmm_api_server *srv, uint64_t *grace_deadline)
{
	bool writing = false;

	if (!*grace_deadline) {
		*grace_deadline = now_ms() + API_STOP_GRACE_MS;
		epoll_ctl(srv->epoll_fd, EPOLL_CTL_DEL, srv->listen_fd, NULL);
	}
	for (unsigned int i = 0; i < API_MAX_CONNECTIONS; i++) {
		struct api_conn *conn = srv->conns[i];

		if (!conn)
			continue;
		if (conn->state == API_CONN_WRITING) {
			conn->keep_alive = false;
			writing = true;
		} else {
			api_conn_set_state(srv, conn, API_CONN_CLOSED, "server stopping");
		}
	}
	return !writing || now_ms() >= *grace_deadline;
}

static void *api_thread(void *arg)
{
	struct vmm_api_server *srv = arg;
	struct epoll_event evs[API_MAX_EVENTS];
	uint64_t grace_deadline = 0;
	bool stopping = false;

	for (;;) {
		int timeout = api_expire(srv, grace_deadline);
		int n = epoll_wait(srv->epoll_fd, evs, API_MAX_EVENTS, timeout);

		if (n < 0 && errno != EINTR) {
			log_error("api: epoll_wait: %s; the API server stops", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			uint32_t tag = (uint32_t)evs[i].data.u64;
			uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
			struct api_conn *conn;

			if (tag == API_TAG_LISTEN) {
				if (!stopping)
					api_accept(srv);
			} else if (tag == API_TAG_WAKE) {
				eventfd_drain(srv->wake_fd);
				api_take_replies(srv);
				pthread_mutex_lock(&srv->lock);
				stopping = srv->stopping;
				pthread_mutex_unlock(&srv->lock);
			} else if (tag - API_TAG_CONN < API_MAX_CONNECTIONS) {
				conn = srv->conns[tag - API_TAG_CONN];
				/* A client closed earlier in this batch may have left its slot to a new one. */
				if (conn && conn->generation == gen)
					api_conn_event(srv, conn, evs[i].events);
			}
		}
		if (stopping && api_stop_step(srv, &grace_deadline))
			break;
	}
	for (unsigned int i = 0; i < API_MAX_CONNECTIONS; i++)
		if (srv->conns[i])
			api_conn_set_state(srv, srv->conns[i], API_CONN_CLOSED, "server stopped");
	return NULL;
}

/* --- the main thread's side --- */

int vmm_api_server_fd(const struct vmm_api_server *server)
{
	return server ? server->queue_fd : -EINVAL;
}

void vmm_api_server_dispatch(struct vmm_api_server *srv, vmm_api_handler handler, void *opaque)
{
	struct api_job *jobs, **tail;

	if (!srv)
		return;
	eventfd_drain(srv->queue_fd);
	pthread_mutex_lock(&srv->lock);
	jobs = srv->pending;
	srv->pending = NULL;
	srv->pending_tail = &srv->pending;
	pthread_mutex_unlock(&srv->lock);
	if (!jobs)
		return;

	for (struct api_job *job = jobs; job; job = job->next) {
		job->reply = (struct vmm_api_reply){ 0 };
		if (handler) {
			handler(opaque, &job->req, &job->reply);
			/* The handler owns vm.create's config now. */
			job->req.config = NULL;
		} else {
			job->reply.http_status = 500;
			job->reply.body = vmm_api_json_error("no request handler");
		}
	}

	for (tail = &jobs; *tail; tail = &(*tail)->next)
		;
	pthread_mutex_lock(&srv->lock);
	*srv->done_tail = jobs;
	srv->done_tail = tail;
	pthread_mutex_unlock(&srv->lock);
	eventfd_signal(srv->wake_fd);
}

/* --- start and stop --- */

/*
 * A socket file left by a VMM that died is replaced; a live one (something
 * answers connect()) or anything that is not a socket is not ours to remove.
 */
static int api_remove_stale(const char *path, const struct sockaddr_un *addr, struct error *err)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : error_set(err, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return error_set(err, -EEXIST, "%s exists and is not a socket; not replacing it",
				 path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, -errno, "socket: %s", strerror(errno));
	r = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	close(fd);
	if (r == 0)
		return error_set(err, -EADDRINUSE, "%s: another process is serving on it", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return error_set(err, -errno, "removing the stale %s: %s", path, strerror(errno));
	return 0;
}

static void api_server_free(struct vmm_api_server *srv)
{
	struct api_job *job, *next;
	struct stat st;

	for (job = srv->pending; job; job = next) {
		next = job->next;
		api_job_free(job);
	}
	for (job = srv->done; job; job = next) {
		next = job->next;
		api_job_free(job);
	}
	if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
		/* Ours only: another VMM may have taken the path over since. */
		if (srv->path && lstat(srv->path, &st) == 0 && st.st_dev == srv->sock_dev &&
		    st.st_ino == srv->sock_ino)
			unlink(srv->path);
	}
	if (srv->epoll_fd >= 0)
		close(srv->epoll_fd);
	if (srv->queue_fd >= 0)
		close(srv->queue_fd);
	if (srv->wake_fd >= 0)
		close(srv->wake_fd);
	pthread_mutex_destroy(&srv->lock);
	free(srv->path);
	free(srv);
}

int vmm_api_server_start(const char *path, struct vmm_api_server **ret, struct error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	struct vmm_api_server *srv;
	sigset_t all, old;
	struct stat st;
	int r;

	if (!path || !path[0])
		return error_set(err, -EINVAL, "api socket: empty path");
	if (strlen(path) >= sizeof(addr.sun_path))
		return error_set(err, -ENAMETOOLONG, "api socket %s: path too long (at most %zu bytes)",
				 path, sizeof(addr.sun_path) - 1);
	memcpy(addr.sun_path, path, strlen(path) + 1);

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return error_set(err, -ENOMEM, "out of memory");
	srv->listen_fd = srv->epoll_fd = srv->queue_fd = srv->wake_fd = -1;
	srv->pending_tail = &srv->pending;
	srv->done_tail = &srv->done;
	pthread_mutex_init(&srv->lock, NULL);
	srv->path = strdup(path);
	if (!srv->path) {
		r = error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}

	r = api_remove_stale(path, &addr, err);
	if (r < 0)
		goto fail;
	srv->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->listen_fd < 0) {
		r = error_set(err, -errno, "socket: %s", strerror(errno));
		goto fail;
	}
	if (bind(srv->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = error_set(err, -errno, "binding %s: %s", path, strerror(errno));
		close(srv->listen_fd);
		srv->listen_fd = -1;
		goto fail;
	}
	if (lstat(path, &st) == 0) {
		srv->sock_dev = st.st_dev;
		srv->sock_ino = st.st_ino;
	}
	/* Before listen(): nobody can connect while the mode is still the umask's. */
	if (chmod(path, 0600) < 0 || listen(srv->listen_fd, API_LISTEN_BACKLOG) < 0) {
		r = error_set(err, -errno, "%s: %s", path, strerror(errno));
		goto fail;
	}

	srv->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	srv->queue_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	srv->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (srv->epoll_fd < 0 || srv->queue_fd < 0 || srv->wake_fd < 0) {
		r = error_set(err, -errno, "api server: %s", strerror(errno));
		goto fail;
	}
	ev.data.u64 = api_tag(API_TAG_LISTEN, 0);
	if (epoll_ctl(srv->epoll_fd, EPOLL_CTL_ADD, srv->listen_fd, &ev) < 0) {
		r = error_set(err, -errno, "epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	ev.data.u64 = api_tag(API_TAG_WAKE, 0);
	if (epoll_ctl(srv->epoll_fd, EPOLL_CTL_ADD, srv->wake_fd, &ev) < 0) {
		r = error_set(err, -errno, "epoll_ctl: %s", strerror(errno));
		goto fail;
	}

	/* Signals are the main thread's business: the server thread blocks them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&srv->thread, NULL, api_thread, srv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		error_set(err, r, "starting the API thread: %s", strerror(-r));
		goto fail;
	}
	pthread_setname_np(srv->thread, "nacelle-api");
	srv->thread_started = true;
	log_debug("api: serving on %s", path);
	*ret = srv;
	return 0;

fail:
	api_server_free(srv);
	return r;
}

void vmm_api_server_stop(struct vmm_api_server *srv)
{
	if (!srv)
		return;
	if (srv->thread_started) {
		pthread_mutex_lock(&srv->lock);
		srv->stopping = true;
		pthread_mutex_unlock(&srv->lock);
		eventfd_signal(srv->wake_fd);
		pthread_join(srv->thread, NULL);
	}
	api_server_free(srv);
}
