/* SPDX-License-Identifier: Apache-2.0 */
#include "ttrpc/server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
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

#define READ_CHUNK (64u << 10)
#define READS_PER_WAKEUP 16 /* fairness between connections */
#define EPOLL_BATCH 32

enum ttrpc_conn_state {
	TTRPC_CONN_IDLE,    /* open, nothing in flight */
	TTRPC_CONN_ACTIVE,  /* open, requests in flight */
	TTRPC_CONN_CLOSING, /* no more reads; responses still in flight may go out */
};

static const char *const conn_state_names[] = {
	[TTRPC_CONN_IDLE] = "idle",
	[TTRPC_CONN_ACTIVE] = "active",
	[TTRPC_CONN_CLOSING] = "closing",
};

struct ttrpc_conn {
	struct ttrpc_server *server;
	int fd;
	unsigned id;
	/* Under server->lock: */
	enum ttrpc_conn_state state;
	unsigned refs; /* the loop's (until closing) + one per call in flight */
	unsigned inflight;
	struct ttrpc_conn *prev, *next; /* in server->conns while not closing */
	/* Serialises whole frames from the loop and the workers. */
	pthread_mutex_t write_lock;
	bool write_broken;
	/* Loop thread only: */
	struct ttrpc_reader reader;
};

struct ttrpc_call {
	struct ttrpc_conn *conn;
	const struct ttrpc_method *method;
	uint32_t stream_id;
	Ttrpc__Request *req;
	ProtobufCMessage *request;
	uint8_t *reply;
	size_t reply_len;
	bool replied;
	bool stop_after_reply;
};

struct ttrpc_server {
	const struct ttrpc_method *methods;
	size_t n_methods;
	void *userdata;
	struct ttrpc_server_options opts;
	int epoll_fd;
	int listen_fd;
	int wake_fd;
	char *path; /* socket file we created, removed by free() */
	atomic_bool stopping;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned workers;
	size_t n_conns;
	unsigned next_conn_id;
	struct ttrpc_conn *conns;
	uint8_t rbuf[READ_CHUNK];
};

/* epoll data for the two non-connection fds */
static char listen_tag, wake_tag;

/* The one place a connection changes state. Called with server->lock held. */
static void conn_set_state(struct ttrpc_conn *c, enum ttrpc_conn_state state)
{
	if (c->state == state)
		return;
	log_debug("ttrpc: connection %u: %s -> %s", c->id, conn_state_names[c->state],
		  conn_state_names[state]);
	c->state = state;
}

/* Called with server->lock held when the last reference goes. */
static void conn_destroy(struct ttrpc_conn *c)
{
	ttrpc_reader_destroy(&c->reader);
	if (c->fd >= 0)
		close(c->fd);
	pthread_mutex_destroy(&c->write_lock);
	free(c);
}

static void conn_unref_locked(struct ttrpc_conn *c)
{
	if (--c->refs == 0)
		conn_destroy(c);
}

/* Stop reading from c (EOF, error, server going away). Loop thread or
 * free(), with server->lock held. */
static void conn_close_locked(struct ttrpc_conn *c, bool shut)
{
	struct ttrpc_server *s = c->server;

	if (c->state == TTRPC_CONN_CLOSING)
		return;
	epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	if (shut)
		shutdown(c->fd, SHUT_RDWR); /* unblocks workers writing to it */
	conn_set_state(c, TTRPC_CONN_CLOSING);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	s->n_conns--;
	conn_unref_locked(c);
}

/* Writes one whole frame; any thread. A peer that does not read for
 * TTRPC_WRITE_TIMEOUT_MS is cut off (its connection is shut down and the
 * loop closes it). */
static int conn_send(struct ttrpc_conn *c, const uint8_t *buf, size_t len)
{
	struct timespec start, now;
	size_t off = 0;
	int r = 0;

	pthread_mutex_lock(&c->write_lock);
	if (c->write_broken) {
		r = -EPIPE;
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (off < len) {
		ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		long waited_ms;
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };

		if (n > 0) {
			off += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN) {
			r = -errno;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited_ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited_ms >= TTRPC_WRITE_TIMEOUT_MS) {
			r = -ETIMEDOUT;
			break;
		}
		if (poll(&pfd, 1, TTRPC_WRITE_TIMEOUT_MS - waited_ms) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
	}
	if (r < 0) {
		log_debug_errno(r, "ttrpc: connection %u: write failed", c->id);
		c->write_broken = true;
		shutdown(c->fd, SHUT_RDWR);
	}
out:
	pthread_mutex_unlock(&c->write_lock);
	return r;
}

static void send_status(struct ttrpc_conn *c, uint32_t stream_id, enum ttrpc_code code,
			const char *fmt, ...) _printf_(4, 5);

static void send_status(struct ttrpc_conn *c, uint32_t stream_id, enum ttrpc_code code,
			const char *fmt, ...)
{
	char msg[ERROR_MSG_MAX];
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("ttrpc: connection %u: stream %u: %s: %s", c->id, stream_id,
		  ttrpc_code_to_string(code), msg);
	if (ttrpc_response_pack(stream_id, code, msg, NULL, 0, &buf, &len) < 0)
		return;
	(void)conn_send(c, buf, len);
}

int ttrpc_call_reply(struct ttrpc_call *call, const ProtobufCMessage *response)
{
	size_t n;

	if (call->replied)
		return -EALREADY;
	n = response ? protobuf_c_message_get_packed_size(response) : 0;
	if (n > TTRPC_MESSAGE_LENGTH_MAX)
		return -EMSGSIZE;
	if (n) {
		call->reply = malloc(n);
		if (!call->reply)
			return -ENOMEM;
		protobuf_c_message_pack(response, call->reply);
	}
	call->reply_len = n;
	call->replied = true;
	return 0;
}

const char *ttrpc_call_metadata(const struct ttrpc_call *call, const char *key)
{
	return ttrpc_request_metadata(call->req, key);
}

void ttrpc_call_stop_server_after_reply(struct ttrpc_call *call)
{
	call->stop_after_reply = true;
}

static void call_free(struct ttrpc_call *call)
{
	if (!call)
		return;
	if (call->request)
		protobuf_c_message_free_unpacked(call->request, NULL);
	if (call->req)
		ttrpc__request__free_unpacked(call->req, NULL);
	free(call->reply);
	free(call);
}

static void *call_worker(void *arg)
{
	struct ttrpc_call *call = arg;
	struct ttrpc_conn *c = call->conn;
	struct ttrpc_server *s = c->server;
	struct error err = {};
	_cleanup_free_ uint8_t *buf = NULL;
	bool stop;
	size_t len;
	int r;

	r = call->method->fn(s->userdata, call, call->request, &err);
	if (r < 0) {
		enum ttrpc_code code = ttrpc_code_from_errno(r);

		log_debug("ttrpc: %s/%s: %s: %s", call->method->service, call->method->method,
			  ttrpc_code_to_string(code), err.msg[0] ? err.msg : strerror(-r));
		r = ttrpc_response_pack(call->stream_id, code, err.msg[0] ? err.msg : strerror(-r),
					NULL, 0, &buf, &len);
	} else {
		r = ttrpc_response_pack(call->stream_id, TTRPC_OK, NULL, call->reply,
					call->reply_len, &buf, &len);
		if (r == -EMSGSIZE)
			r = ttrpc_response_pack(call->stream_id, TTRPC_RESOURCE_EXHAUSTED,
						"response exceeds the maximum message size", NULL,
						0, &buf, &len);
	}
	if (r >= 0)
		(void)conn_send(c, buf, len);
	stop = call->stop_after_reply;
	call_free(call);
	if (stop)
		ttrpc_server_stop(s);

	pthread_mutex_lock(&s->lock);
	c->inflight--;
	if (c->inflight == 0 && c->state == TTRPC_CONN_ACTIVE)
		conn_set_state(c, TTRPC_CONN_IDLE);
	conn_unref_locked(c);
	if (--s->workers == 0)
		pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static const struct ttrpc_method *find_method(struct ttrpc_server *s, const char *service,
					      const char *method, bool *service_found)
{
	*service_found = false;
	for (size_t i = 0; i < s->n_methods; i++) {
		if (strcmp(s->methods[i].service, service) != 0)
			continue;
		*service_found = true;
		if (strcmp(s->methods[i].method, method) == 0)
			return &s->methods[i];
	}
	return NULL;
}

/* A complete frame from c; loop thread. Takes payload. */
static void handle_frame(struct ttrpc_conn *c, const struct ttrpc_header *h, uint8_t *payload)
{
	struct ttrpc_server *s = c->server;
	_cleanup_free_ uint8_t *p = payload;
	struct ttrpc_call *call = NULL;
	const struct ttrpc_method *m;
	struct error err = {};
	pthread_attr_t attr;
	bool service_found;
	pthread_t th;
	int r;

	if (h->type != TTRPC_MSG_REQUEST)
		return; /* ttrpc-go ignores other types for future compatibility */

	call = calloc(1, sizeof(*call));
	if (!call) {
		send_status(c, h->stream_id, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	call->conn = c;
	call->stream_id = h->stream_id;
	r = ttrpc_request_decode(p, h->length, &call->req, &err);
	if (r < 0) {
		send_status(c, h->stream_id, TTRPC_INVALID_ARGUMENT, "%s", err.msg);
		goto fail;
	}
	if (h->stream_id % 2 != 1) {
		send_status(c, h->stream_id, TTRPC_INVALID_ARGUMENT,
			    "StreamID must be odd for client initiated streams");
		goto fail;
	}
	m = find_method(s, call->req->service, call->req->method, &service_found);
	if (!m) {
		if (service_found)
			send_status(c, h->stream_id, TTRPC_UNIMPLEMENTED, "method %s",
				    call->req->method);
		else
			send_status(c, h->stream_id, TTRPC_UNIMPLEMENTED, "service %s",
				    call->req->service);
		goto fail;
	}
	call->method = m;
	call->request = protobuf_c_message_unpack(m->request, NULL, call->req->payload.len,
						  call->req->payload.data);
	if (!call->request) {
		send_status(c, h->stream_id, TTRPC_INVALID_ARGUMENT,
			    "unmarshal %s request: invalid protobuf", m->method);
		goto fail;
	}

	pthread_mutex_lock(&s->lock);
	if (c->inflight >= TTRPC_MAX_INFLIGHT_PER_CONN || s->workers >= TTRPC_MAX_WORKERS) {
		pthread_mutex_unlock(&s->lock);
		send_status(c, h->stream_id, TTRPC_RESOURCE_EXHAUSTED,
			    "too many requests in flight");
		goto fail;
	}
	c->inflight++;
	c->refs++;
	s->workers++;
	conn_set_state(c, TTRPC_CONN_ACTIVE);
	pthread_mutex_unlock(&s->lock);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, TTRPC_WORKER_STACK_SIZE);
	r = pthread_create(&th, &attr, call_worker, call);
	pthread_attr_destroy(&attr);
	if (r == 0)
		return;

	pthread_mutex_lock(&s->lock);
	c->inflight--;
	if (c->inflight == 0 && c->state == TTRPC_CONN_ACTIVE)
		conn_set_state(c, TTRPC_CONN_IDLE);
	c->refs--; /* the loop still holds its own */
	if (--s->workers == 0)
		pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	send_status(c, h->stream_id, TTRPC_RESOURCE_EXHAUSTED, "cannot start a worker: %s",
		    strerror(r));
fail:
	call_free(call);
}

/* Reads what is there; returns false when the connection must close. */
static bool conn_read(struct ttrpc_conn *c)
{
	struct ttrpc_server *s = c->server;

	for (int i = 0; i < READS_PER_WAKEUP; i++) {
		ssize_t n = recv(c->fd, s->rbuf, sizeof(s->rbuf), MSG_DONTWAIT);
		size_t off = 0;

		if (n == 0)
			return false;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return true;
			log_debug_errno(-errno, "ttrpc: connection %u: read", c->id);
			return false;
		}
		while (off < (size_t)n) {
			struct ttrpc_header h;
			uint8_t *payload = NULL;
			size_t used = 0;
			int r;

			r = ttrpc_reader_feed(&c->reader, s->rbuf + off, n - off, &used, &h, &payload);
			off += used;
			if (r < 0)
				return false;
			if (r == TTRPC_READ_FRAME)
				handle_frame(c, &h, payload);
			else if (r == TTRPC_READ_OVERSIZE)
				send_status(c, h.stream_id, TTRPC_RESOURCE_EXHAUSTED,
					    "message length %u exceed maximum message size of %u",
					    h.length, TTRPC_MESSAGE_LENGTH_MAX);
		}
	}
	return true;
}

static bool peer_allowed(struct ttrpc_server *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (s->opts.allow_any_peer)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_debug_errno(-errno, "ttrpc: SO_PEERCRED");
		return false;
	}
	if (cred.uid != geteuid() || cred.gid != getegid()) {
		log_warn("ttrpc: rejecting a connection from pid %d uid %u gid %u: "
			 "invalid credentials", cred.pid, cred.uid, cred.gid);
		return false;
	}
	return true;
}

static void do_accept(struct ttrpc_server *s)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
		struct ttrpc_conn *c;
		int fd;

		fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_debug_errno(-errno, "ttrpc: accept");
			return;
		}
		if (!peer_allowed(s, fd)) {
			close(fd);
			continue;
		}
		pthread_mutex_lock(&s->lock);
		if (s->n_conns >= TTRPC_MAX_CONNECTIONS) {
			pthread_mutex_unlock(&s->lock);
			log_warn("ttrpc: too many connections (%d), refusing one",
				 TTRPC_MAX_CONNECTIONS);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			pthread_mutex_unlock(&s->lock);
			close(fd);
			continue;
		}
		c->server = s;
		c->fd = fd;
		c->id = ++s->next_conn_id;
		c->refs = 1;
		c->state = TTRPC_CONN_IDLE;
		pthread_mutex_init(&c->write_lock, NULL);
		ttrpc_reader_init(&c->reader);
		ev.data.ptr = c;
		if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			conn_destroy(c);
			pthread_mutex_unlock(&s->lock);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->n_conns++;
		log_debug("ttrpc: connection %u: accepted", c->id);
		pthread_mutex_unlock(&s->lock);
	}
}

int ttrpc_server_new(const struct ttrpc_method *methods, size_t n_methods, void *userdata,
		     const struct ttrpc_server_options *opts, struct ttrpc_server **ret)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &wake_tag };
	struct ttrpc_server *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->methods = methods;
	s->n_methods = n_methods;
	s->userdata = userdata;
	if (opts)
		s->opts = *opts;
	s->listen_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->epoll_fd < 0 || s->wake_fd < 0) {
		r = -errno;
		goto fail;
	}
	if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->wake_fd, &ev) < 0) {
		r = -errno;
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	if (s->epoll_fd >= 0)
		close(s->epoll_fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	free(s);
	return r;
}

int ttrpc_server_listen_fd_take(struct ttrpc_server *s, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listen_tag };
	int flags;

	if (s->listen_fd >= 0) {
		close(fd);
		return -EBUSY;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	s->listen_fd = fd;
	return 0;
}

int ttrpc_server_listen(struct ttrpc_server *s, const char *path)
{
	struct sockaddr_un sa;
	socklen_t sa_len;
	int fd, r;

	r = ttrpc_address_parse(path, &sa, &sa_len);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sa.sun_path[0])
		(void)unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sa_len) < 0 ||
	    (sa.sun_path[0] && chmod(sa.sun_path, 0600) < 0) || listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (sa.sun_path[0]) {
		s->path = strdup(sa.sun_path);
		if (!s->path) {
			unlink(sa.sun_path);
			close(fd);
			return -ENOMEM;
		}
	}
	return ttrpc_server_listen_fd_take(s, fd);
}

int ttrpc_server_run(struct ttrpc_server *s)
{
	struct epoll_event events[EPOLL_BATCH];

	while (!atomic_load(&s->stopping)) {
		int n = epoll_wait(s->epoll_fd, events, EPOLL_BATCH, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			void *tag = events[i].data.ptr;
			struct ttrpc_conn *c = tag;
			uint64_t v;

			if (tag == &wake_tag) {
				(void)!read(s->wake_fd, &v, sizeof(v));
				continue;
			}
			if (tag == &listen_tag) {
				do_accept(s);
				continue;
			}
			/* Each fd appears once per batch, so c is still alive. */
			if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
				bool keep = !(events[i].events & EPOLLERR) && conn_read(c);

				if (!keep || (events[i].events & EPOLLHUP)) {
					pthread_mutex_lock(&s->lock);
					log_debug("ttrpc: connection %u: peer closed", c->id);
					conn_close_locked(c, false);
					pthread_mutex_unlock(&s->lock);
				}
			}
		}
	}
	return 0;
}

void ttrpc_server_stop(struct ttrpc_server *s)
{
	uint64_t one = 1;

	atomic_store(&s->stopping, true);
	(void)!write(s->wake_fd, &one, sizeof(one));
}

size_t ttrpc_server_connections(struct ttrpc_server *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->n_conns;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void ttrpc_server_free(struct ttrpc_server *s)
{
	struct timespec deadline;
	bool drained = true;

	if (!s)
		return;
	if (s->listen_fd >= 0) {
		epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, s->listen_fd, NULL);
		close(s->listen_fd);
		s->listen_fd = -1;
	}
	if (s->path) {
		(void)unlink(s->path);
		free(s->path);
		s->path = NULL;
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += TTRPC_DRAIN_TIMEOUT_MS / 1000;
	pthread_mutex_lock(&s->lock);
	while (s->conns)
		conn_close_locked(s->conns, true);
	while (s->workers > 0) {
		if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline) == ETIMEDOUT) {
			drained = false;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (!drained) {
		/* Handlers still use the server: leak it rather than free it
		 * under them (the process is exiting anyway). */
		log_warn("ttrpc: %u handler(s) still running after %d ms, not freeing the server",
			 s->workers, TTRPC_DRAIN_TIMEOUT_MS);
		return;
	}
	close(s->epoll_fd);
	close(s->wake_fd);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
