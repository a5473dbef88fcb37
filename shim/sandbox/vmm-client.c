/* SPDX-License-Identifier: Apache-2.0 */
#include "vmm-client.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "json-util.h"

#define API_PREFIX "/api/v1/"
/* The longest endpoint name we would send ("vm.add-generic-vhost-user"). */
#define VMM_CLIENT_MAX_ENDPOINT 64

static const char *const method_names[] = {
	[VMM_CLIENT_GET] = "GET",
	[VMM_CLIENT_PUT] = "PUT",
};

const char *vmm_client_method_to_string(enum vmm_client_method m)
{
	return (size_t)m < ARRAY_SIZE(method_names) ? method_names[m] : NULL;
}

void vmm_response_clear(struct vmm_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	resp->status = 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 0 when fd is ready for events, -ETIMEDOUT at the deadline. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n > 0)
			return 0;
	}
}

static int connect_unix(const char *path, int64_t deadline, struct error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	socklen_t len = sizeof(int);
	int r, soerr = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return error_set(err, -ENAMETOOLONG, "%s: socket path too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return error_set(err, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return TAKE_FD(fd);
	if (errno != EINPROGRESS && errno != EAGAIN)
		return error_set(err, -errno, "connecting to %s: %s", path, strerror(errno));
	/* A full backlog: the server is busy; wait as for any other step. */
	r = wait_fd(fd, POLLOUT, deadline);
	if (r < 0)
		return error_set(err, r, "connecting to %s: %s", path, strerror(-r));
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return error_set(err, -errno, "connecting to %s: %s", path, strerror(errno));
	if (soerr)
		return error_set(err, -soerr, "connecting to %s: %s", path, strerror(soerr));
	return TAKE_FD(fd);
}

static bool endpoint_valid(const char *e)
{
	size_t n = strlen(e);

	if (n == 0 || n > VMM_CLIENT_MAX_ENDPOINT)
		return false;
	for (; *e; e++)
		if (!islower((unsigned char)*e) && *e != '.' && *e != '-')
			return false;
	return true;
}

/* Send all of buf; -EPIPE etc. when the server went away. */
static int send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		int r;

		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- response parsing ---- */

struct http_head {
	int status;
	bool has_length;
	size_t length;
};

/* Trim optional whitespace (SP / HTAB) at both ends of [*s, *e). */
static void trim_ows(const char **s, const char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
		(*e)--;
}

static bool name_is(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

/* Parse [head, head+len) (up to, not including, the empty line). */
static int parse_head(const char *head, size_t len, struct http_head *h, struct error *err)
{
	const char *end = head + len, *line = head, *eol;
	int status = 0;

	memset(h, 0, sizeof(*h));
	eol = memmem(line, (size_t)(end - line), "\r\n", 2);
	if (!eol)
		eol = end;
	/* "HTTP/1.x NNN[ reason]" */
	if (eol - line < 12 || memcmp(line, "HTTP/1.", 7) != 0 ||
	    (line[7] != '0' && line[7] != '1') || line[8] != ' ')
		return error_set(err, -EPROTO, "not an HTTP/1.x response: \"%.*s\"",
				 (int)MIN(eol - line, 40), line);
	for (int i = 9; i < 12; i++) {
		if (!isdigit((unsigned char)line[i]))
			return error_set(err, -EPROTO, "bad status line: \"%.*s\"",
					 (int)MIN(eol - line, 40), line);
		status = status * 10 + (line[i] - '0');
	}
	if (status < 100 || status > 599 || (eol - line > 12 && line[12] != ' '))
		return error_set(err, -EPROTO, "bad status line: \"%.*s\"",
				 (int)MIN(eol - line, 40), line);
	h->status = status;

	for (line = eol + 2; line < end; line = eol + 2) {
		const char *colon, *vs, *ve;

		eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		if (!eol)
			eol = end;
		colon = memchr(line, ':', (size_t)(eol - line));
		if (!colon || colon == line)
			return error_set(err, -EPROTO, "malformed header line: \"%.*s\"",
					 (int)MIN(eol - line, 40), line);
		vs = colon + 1;
		ve = eol;
		trim_ows(&vs, &ve);
		if (name_is(line, (size_t)(colon - line), "Transfer-Encoding"))
			return error_set(err, -EPROTO,
					 "response uses Transfer-Encoding, which is not supported");
		if (name_is(line, (size_t)(colon - line), "Content-Length")) {
			size_t n = 0;

			if (vs == ve)
				return error_set(err, -EPROTO, "empty Content-Length");
			for (const char *p = vs; p < ve; p++) {
				if (!isdigit((unsigned char)*p))
					return error_set(err, -EPROTO, "bad Content-Length: \"%.*s\"",
							 (int)MIN(ve - vs, 24), vs);
				if (n > VMM_CLIENT_MAX_BODY)
					break;
				n = n * 10 + (size_t)(*p - '0');
			}
			if (n > VMM_CLIENT_MAX_BODY)
				return error_set(err, -E2BIG,
						 "response body larger than %u bytes",
						 VMM_CLIENT_MAX_BODY);
			if (h->has_length && h->length != n)
				return error_set(err, -EPROTO, "conflicting Content-Length headers");
			h->has_length = true;
			h->length = n;
		}
	}
	return 0;
}

/* 1xx, 204 and 304 carry no body whatever their headers say. */
static bool status_has_body(int status)
{
	return status >= 200 && status != 204 && status != 304;
}

static int read_response(int fd, int64_t deadline, struct vmm_response *ret, struct error *err)
{
	size_t cap = VMM_CLIENT_MAX_HEAD + VMM_CLIENT_MAX_BODY + 1;
	_cleanup_free_ char *buf = malloc(cap);
	size_t len = 0, head_len = 0, interim = 0;
	struct http_head h = { 0 };
	bool eof = false, have_head = false;
	int r;

	if (!buf)
		return error_set(err, -ENOMEM, "out of memory");
	for (;;) {
		if (!have_head) {
			char *sep = len >= 4 ? memmem(buf, len, "\r\n\r\n", 4) : NULL;

			if (sep) {
				head_len = (size_t)(sep - buf);
				r = parse_head(buf, head_len, &h, err);
				if (r < 0)
					return r;
				head_len += 4;
				if (h.status < 200) {
					/* 100 Continue and friends: the answer follows. */
					if (++interim > VMM_CLIENT_MAX_INTERIM)
						return error_set(err, -EPROTO,
								 "too many interim responses");
					memmove(buf, buf + head_len, len - head_len);
					len -= head_len;
					continue;
				}
				have_head = true;
				continue;
			}
			if (len > VMM_CLIENT_MAX_HEAD)
				return error_set(err, -EPROTO, "response head larger than %u bytes",
						 VMM_CLIENT_MAX_HEAD);
			if (eof)
				return error_set(err, -EPROTO, "%s",
						 len ? "connection closed in the middle of the response head"
						     : "connection closed without a response");
		} else {
			size_t have = len - head_len;

			if (!status_has_body(h.status))
				break;
			if (h.has_length && have >= h.length)
				break;
			if (!h.has_length && have > VMM_CLIENT_MAX_BODY)
				return error_set(err, -E2BIG, "response body larger than %u bytes",
						 VMM_CLIENT_MAX_BODY);
			if (eof) {
				if (h.has_length)
					return error_set(err, -EPROTO,
							 "connection closed after %zu of %zu body bytes",
							 have, h.length);
				break; /* no length: the body ends with the connection */
			}
		}
		if (len >= cap - 1)
			return error_set(err, -E2BIG, "response larger than %zu bytes", cap - 1);

		r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			return error_set(err, r, "%s",
					 r == -ETIMEDOUT ? "no complete response in time"
							 : strerror(-r));
		{
			ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);

			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n < 0 && errno != ECONNRESET)
				return error_set(err, -errno, "reading the response: %s",
						 strerror(errno));
			if (n <= 0)
				eof = true;
			else
				len += (size_t)n;
		}
	}

	ret->status = h.status;
	ret->body = NULL;
	ret->body_len = 0;
	if (status_has_body(h.status)) {
		size_t blen = h.has_length ? h.length : len - head_len;

		if (blen > 0) {
			char *body = malloc(blen + 1);

			if (!body)
				return error_set(err, -ENOMEM, "out of memory");
			memcpy(body, buf + head_len, blen);
			body[blen] = '\0';
			ret->body = body;
			ret->body_len = blen;
		}
	}
	return 0;
}

int vmm_client_request(const char *socket_path, enum vmm_client_method method,
		       const char *endpoint, const char *body, int timeout_ms,
		       struct vmm_response *ret, struct error *err)
{
	int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : VMM_CLIENT_TIMEOUT_MS);
	size_t body_len = body ? strlen(body) : 0;
	char head[256];
	_cleanup_close_ int fd = -1;
	int n, r, send_r;

	if (!endpoint_valid(endpoint))
		return error_set(err, -EINVAL, "bad endpoint name \"%.64s\"", endpoint);
	if (!vmm_client_method_to_string(method))
		return error_set(err, -EINVAL, "bad method");
	if (body_len > VMM_CLIENT_MAX_REQUEST_BODY)
		return error_set(err, -E2BIG, "%s: request body larger than %u bytes", endpoint,
				 VMM_CLIENT_MAX_REQUEST_BODY);
	if (body || method == VMM_CLIENT_PUT)
		n = snprintf(head, sizeof(head),
			     "%s " API_PREFIX "%s HTTP/1.1\r\nHost: localhost\r\n"
			     "Accept: application/json\r\nContent-Type: application/json\r\n"
			     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			     method_names[method], endpoint, body_len);
	else
		n = snprintf(head, sizeof(head),
			     "%s " API_PREFIX "%s HTTP/1.1\r\nHost: localhost\r\n"
			     "Accept: application/json\r\nConnection: close\r\n\r\n",
			     method_names[method], endpoint);
	if (n < 0 || (size_t)n >= sizeof(head))
		return error_set(err, -EINVAL, "request head too long");

	fd = connect_unix(socket_path, deadline, err);
	if (fd < 0)
		return error_wrap(err, "%s %s", method_names[method], endpoint);
	send_r = send_all(fd, head, (size_t)n, deadline);
	if (send_r >= 0 && body_len)
		send_r = send_all(fd, body, body_len, deadline);
	if (send_r == -ETIMEDOUT)
		return error_set(err, send_r, "%s %s: could not send the request in time",
				 method_names[method], endpoint);
	/* A server may answer (an error) and close before taking the whole
	 * request: read what it said before blaming the broken pipe. No
	 * half-close after sending: a server may take EOF as the client
	 * leaving and drop the answer. */
	r = read_response(fd, deadline, ret, err);
	if (r < 0 && send_r < 0)
		return error_set(err, send_r, "%s %s: sending the request: %s",
				 method_names[method], endpoint, strerror(-send_r));
	if (r < 0)
		return error_wrap(err, "%s %s", method_names[method], endpoint);
	log_debug("vmm-client: %s %s -> %d", method_names[method], endpoint, ret->status);
	return 0;
}

static int status_to_errno(int status)
{
	switch (status) {
	case 400:
		return -EINVAL;
	case 404:
		return -ENOENT;
	case 405:
		return -EOPNOTSUPP;
	case 408:
	case 504:
		return -ETIMEDOUT;
	case 409:
		return -EBUSY;
	case 501:
		return -ENOSYS;
	case 503:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

/* The server's {"error": "..."}, else the body's first printable bytes. */
static void error_text(const struct vmm_response *resp, char *out, size_t size)
{
	yajl_val v = NULL;
	size_t o = 0;

	out[0] = '\0';
	if (!resp->body)
		return;
	if (sjson_parse(resp->body, resp->body_len, VMM_CLIENT_MAX_BODY, "body", &v, NULL) >= 0) {
		const char *msg = sjson_get_string(v, "error");

		if (msg) {
			snprintf(out, size, "%s", msg);
			yajl_tree_free(v);
			return;
		}
		yajl_tree_free(v);
	}
	for (size_t i = 0; i < resp->body_len && o + 1 < size && i < 200; i++) {
		unsigned char c = (unsigned char)resp->body[i];

		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
	}
	out[o] = '\0';
}

int vmm_client_call(const char *socket_path, enum vmm_client_method method,
		    const char *endpoint, const char *body, int timeout_ms, char **ret_body,
		    struct error *err)
{
	struct vmm_response resp = { 0 };
	char text[256];
	int r;

	r = vmm_client_request(socket_path, method, endpoint, body, timeout_ms, &resp, err);
	if (r < 0)
		return r;
	if (resp.status < 200 || resp.status > 299) {
		error_text(&resp, text, sizeof(text));
		r = error_set(err, status_to_errno(resp.status), "%s %s: HTTP %d%s%s",
			      method_names[method], endpoint, resp.status, text[0] ? ": " : "",
			      text);
		vmm_response_clear(&resp);
		return r;
	}
	if (ret_body)
		*ret_body = TAKE_PTR(resp.body);
	vmm_response_clear(&resp);
	return 0;
}
