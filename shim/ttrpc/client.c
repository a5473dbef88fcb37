/* SPDX-License-Identifier: Apache-2.0 */
#include "ttrpc/client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define CLIENT_READ_CHUNK (64u << 10)
#define CLIENT_WRITE_TIMEOUT_MS 5000
#define NAMESPACE_KEY "containerd-namespace-ttrpc"

struct pending {
	uint32_t stream_id;
	bool done;
	int result; /* 0, or -errno for a transport failure */
	int code;
	char *message;
	uint8_t *payload;
	size_t len;
	struct pending *next;
};

struct ttrpc_client {
	int fd;
	pthread_t reader;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_mutex_t write_lock;
	uint32_t next_id; /* under lock */
	bool broken;	  /* under lock */
	size_t n_pending;
	struct pending *pending;
	char *ns;
};

static struct pending *pending_take_locked(struct ttrpc_client *c, uint32_t id)
{
	for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
		struct pending *p = *pp;

		if (p->stream_id == id) {
			*pp = p->next;
			p->next = NULL;
			c->n_pending--;
			return p;
		}
	}
	return NULL;
}

static void mark_broken_locked(struct ttrpc_client *c, int result)
{
	struct pending *p;

	c->broken = true;
	while ((p = c->pending)) {
		c->pending = p->next;
		p->next = NULL;
		p->done = true;
		p->result = result;
	}
	c->n_pending = 0;
	pthread_cond_broadcast(&c->cond);
}

/* Completed entries are taken off the list; their callers find them by pointer. */
static void complete(struct ttrpc_client *c, uint32_t id, int code, const char *message,
		     const uint8_t *payload, size_t len)
{
	struct pending *p;

	pthread_mutex_lock(&c->lock);
	p = pending_take_locked(c, id);
	if (!p) {
		pthread_mutex_unlock(&c->lock);
		log_debug("ttrpc client: response for unknown stream %u dropped", id);
		return;
	}
	p->code = code;
	p->message = message ? strdup(message) : NULL;
	if (len) {
		p->payload = malloc(len);
		if (p->payload) {
			memcpy(p->payload, payload, len);
			p->len = len;
		} else {
			p->result = -ENOMEM;
		}
	}
	p->done = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void handle_frame(struct ttrpc_client *c, const struct ttrpc_header *h,
			 const uint8_t *data)
{
	Ttrpc__Response *resp;

	if (h->type != TTRPC_MSG_RESPONSE)
		return;
	resp = ttrpc__response__unpack(NULL, h->length, data);
	if (!resp) {
		complete(c, h->stream_id, TTRPC_INTERNAL, "undecodable response", NULL, 0);
		return;
	}
	if (resp->status && resp->status->code != TTRPC_OK)
		complete(c, h->stream_id, resp->status->code, resp->status->message, NULL, 0);
	else
		complete(c, h->stream_id, TTRPC_OK, NULL, resp->payload.data, resp->payload.len);
	ttrpc__response__free_unpacked(resp, NULL);
}

static void *reader_main(void *arg)
{
	struct ttrpc_client *c = arg;
	struct ttrpc_reader rd;
	uint8_t *buf;
	int result = -ECONNRESET;

	ttrpc_reader_init(&rd);
	buf = malloc(CLIENT_READ_CHUNK);
	if (!buf) {
		result = -ENOMEM;
		goto out;
	}
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		ssize_t n;
		size_t off = 0;

		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			result = -errno;
			break;
		}
		n = recv(c->fd, buf, CLIENT_READ_CHUNK, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			result = -errno;
			break;
		}
		while (off < (size_t)n) {
			struct ttrpc_header h;
			uint8_t *payload = NULL;
			size_t used = 0;
			int r;

			r = ttrpc_reader_feed(&rd, buf + off, n - off, &used, &h, &payload);
			off += used;
			if (r < 0) {
				result = r;
				goto out;
			}
			if (r == TTRPC_READ_FRAME)
				handle_frame(c, &h, payload);
			else if (r == TTRPC_READ_OVERSIZE)
				complete(c, h.stream_id, TTRPC_RESOURCE_EXHAUSTED,
					 "response exceeds the maximum message size", NULL, 0);
			free(payload);
		}
	}
out:
	free(buf);
	ttrpc_reader_destroy(&rd);
	pthread_mutex_lock(&c->lock);
	mark_broken_locked(c, result);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int ttrpc_client_connect(const char *address, struct ttrpc_client **ret, struct error *err)
{
	struct ttrpc_client *c;
	struct sockaddr_un sa;
	socklen_t sa_len;
	int fd, r;

	r = ttrpc_address_parse(address, &sa, &sa_len);
	if (r < 0)
		return error_set(err, r, "bad ttrpc address '%s'", address ? address : "");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, -errno, "socket: %m");
	/* A Unix connect completes at once; non-blocking only afterwards. */
	if (connect(fd, (struct sockaddr *)&sa, sa_len) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		r = -errno;
		close(fd);
		return error_set(err, r, "connect %s: %s", address, strerror(-r));
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return error_set(err, -ENOMEM, "out of memory");
	}
	c->fd = fd;
	c->next_id = 1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_mutex_init(&c->write_lock, NULL);
	r = pthread_create(&c->reader, NULL, reader_main, c);
	if (r) {
		close(fd);
		free(c);
		return error_set(err, -r, "cannot start the ttrpc reader thread");
	}
	*ret = c;
	return 0;
}

int ttrpc_client_set_namespace(struct ttrpc_client *c, const char *ns)
{
	char *copy = NULL;

	if (ns) {
		copy = strdup(ns);
		if (!copy)
			return -ENOMEM;
	}
	free(c->ns);
	c->ns = copy;
	return 0;
}

static int send_all(struct ttrpc_client *c, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	int r = 0;

	pthread_mutex_lock(&c->write_lock);
	while (off < len) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
		ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);

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
		n = poll(&pfd, 1, CLIENT_WRITE_TIMEOUT_MS);
		if (n == 0) {
			r = -ETIMEDOUT;
			break;
		}
		if (n < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
	}
	pthread_mutex_unlock(&c->write_lock);
	return r;
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

int ttrpc_client_call_raw(struct ttrpc_client *c, const char *service, const char *method,
			  const uint8_t *payload, size_t len, uint8_t **ret_payload,
			  size_t *ret_len, int timeout_ms, int *ret_code, struct error *err)
{
	Ttrpc__Request req = TTRPC__REQUEST__INIT;
	Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT;
	Ttrpc__KeyValue *md[1] = { &kv };
	_cleanup_free_ uint8_t *frame = NULL;
	struct pending *p;
	struct timespec deadline;
	size_t frame_len;
	int r;

	if (ret_code)
		*ret_code = -1;
	p = calloc(1, sizeof(*p));
	if (!p)
		return error_set(err, -ENOMEM, "out of memory");

	req.service = (char *)service;
	req.method = (char *)method;
	req.payload.data = (uint8_t *)payload;
	req.payload.len = payload ? len : 0;
	if (timeout_ms > 0)
		req.timeout_nano = (int64_t)timeout_ms * 1000000;
	if (c->ns) {
		kv.key = (char *)NAMESPACE_KEY;
		kv.value = c->ns;
		req.metadata = md;
		req.n_metadata = 1;
	}

	pthread_mutex_lock(&c->lock);
	if (c->broken) {
		pthread_mutex_unlock(&c->lock);
		free(p);
		return error_set(err, -ENOTCONN, "ttrpc connection closed");
	}
	if (c->n_pending >= TTRPC_CLIENT_MAX_PENDING || c->next_id > UINT32_MAX - 2) {
		pthread_mutex_unlock(&c->lock);
		free(p);
		return error_set(err, -EBUSY, "too many ttrpc calls on one connection");
	}
	p->stream_id = c->next_id;
	c->next_id += 2;
	r = ttrpc_frame_pack(p->stream_id, TTRPC_MSG_REQUEST, &req.base, &frame, &frame_len);
	if (r < 0) {
		pthread_mutex_unlock(&c->lock);
		free(p);
		return error_set(err, r, "%s/%s: cannot encode the request: %s", service, method,
				 strerror(-r));
	}
	p->next = c->pending;
	c->pending = p;
	c->n_pending++;
	pthread_mutex_unlock(&c->lock);

	r = send_all(c, frame, frame_len);
	pthread_mutex_lock(&c->lock);
	if (r < 0) {
		/* A half-written frame leaves the stream unusable. */
		shutdown(c->fd, SHUT_RDWR);
		if (!p->done)
			(void)pending_take_locked(c, p->stream_id);
		p->done = true;
		p->result = r;
	}
	if (timeout_ms > 0)
		deadline_after(&deadline, timeout_ms);
	while (!p->done) {
		int w = timeout_ms > 0 ? pthread_cond_timedwait(&c->cond, &c->lock, &deadline)
				       : pthread_cond_wait(&c->cond, &c->lock);

		if (w == ETIMEDOUT && !p->done) {
			(void)pending_take_locked(c, p->stream_id);
			p->done = true;
			p->result = -ETIMEDOUT;
		}
	}
	pthread_mutex_unlock(&c->lock);

	if (p->result < 0) {
		r = error_set(err, p->result, "%s/%s: %s", service, method, strerror(-p->result));
	} else if (p->code != TTRPC_OK) {
		if (ret_code)
			*ret_code = p->code;
		r = error_set(err, ttrpc_code_to_errno(p->code), "%s",
			      p->message ? p->message : ttrpc_code_to_string(p->code));
	} else {
		if (ret_code)
			*ret_code = TTRPC_OK;
		if (ret_payload) {
			*ret_payload = TAKE_PTR(p->payload);
			*ret_len = p->len;
		}
		r = 0;
	}
	free(p->message);
	free(p->payload);
	free(p);
	return r;
}

int ttrpc_client_call(struct ttrpc_client *c, const char *service, const char *method,
		      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
		      ProtobufCMessage **ret_resp, int timeout_ms, int *ret_code,
		      struct error *err)
{
	_cleanup_free_ uint8_t *in = NULL, *out = NULL;
	size_t in_len = req ? protobuf_c_message_get_packed_size(req) : 0, out_len = 0;
	ProtobufCMessage *resp;
	int r;

	if (in_len > TTRPC_MESSAGE_LENGTH_MAX)
		return error_set(err, -EMSGSIZE, "%s/%s: request too large", service, method);
	if (in_len) {
		in = malloc(in_len);
		if (!in)
			return error_set(err, -ENOMEM, "out of memory");
		protobuf_c_message_pack(req, in);
	}
	r = ttrpc_client_call_raw(c, service, method, in, in_len, &out, &out_len, timeout_ms,
				  ret_code, err);
	if (r < 0 || !resp_desc)
		return r;
	resp = protobuf_c_message_unpack(resp_desc, NULL, out_len, out);
	if (!resp)
		return error_set(err, -EBADMSG, "%s/%s: undecodable response", service, method);
	*ret_resp = resp;
	return 0;
}

bool ttrpc_client_broken(struct ttrpc_client *c)
{
	bool b;

	pthread_mutex_lock(&c->lock);
	b = c->broken;
	pthread_mutex_unlock(&c->lock);
	return b;
}

void ttrpc_client_free(struct ttrpc_client *c)
{
	if (!c)
		return;
	shutdown(c->fd, SHUT_RDWR);
	pthread_join(c->reader, NULL);
	close(c->fd);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->write_lock);
	free(c->ns);
	free(c);
}
