/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/1.1 request parsing (RFC 9112), the subset a local REST API needs.
 * Where the RFC lets a server choose between leniency and refusal, this
 * refuses: bare CR or LF, obs-fold, whitespace before the colon, a
 * Transfer-Encoding, or two different Content-Lengths are how request
 * smuggling starts, and no client of ours sends them.
 */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const method_names[] = {
	[HTTP_METHOD_GET] = "GET",	   [HTTP_METHOD_PUT] = "PUT",
	[HTTP_METHOD_POST] = "POST",	   [HTTP_METHOD_DELETE] = "DELETE",
	[HTTP_METHOD_HEAD] = "HEAD",	   [HTTP_METHOD_PATCH] = "PATCH",
	[HTTP_METHOD_OPTIONS] = "OPTIONS", [HTTP_METHOD_OTHER] = "OTHER",
};

const char *http_method_to_string(enum http_method m)
{
	if ((unsigned int)m >= ARRAY_SIZE(method_names))
		return "OTHER";
	return method_names[m];
}

static const char *const state_names[] = {
	[HTTP_PARSER_HEAD] = "head",
	[HTTP_PARSER_BODY] = "body",
	[HTTP_PARSER_DONE] = "done",
	[HTTP_PARSER_ERROR] = "error",
};

const char *http_parser_state_to_string(enum http_parser_state s)
{
	if ((unsigned int)s >= ARRAY_SIZE(state_names))
		return "?";
	return state_names[s];
}

const char *http_reason(int status)
{
	static const struct {
		int status;
		const char *reason;
	} reasons[] = {
		{ 100, "Continue" },
		{ 200, "OK" },
		{ 201, "Created" },
		{ 202, "Accepted" },
		{ 204, "No Content" },
		{ 400, "Bad Request" },
		{ 401, "Unauthorized" },
		{ 403, "Forbidden" },
		{ 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 408, "Request Timeout" },
		{ 409, "Conflict" },
		{ 413, "Content Too Large" },
		{ 415, "Unsupported Media Type" },
		{ 417, "Expectation Failed" },
		{ 422, "Unprocessable Content" },
		{ 429, "Too Many Requests" },
		{ 500, "Internal Server Error" },
		{ 501, "Not Implemented" },
		{ 503, "Service Unavailable" },
		{ 505, "HTTP Version Not Supported" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(reasons); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Unknown";
}

void http_parser_init(struct http_parser *p)
{
	p->state = HTTP_PARSER_HEAD;
	p->req = (struct http_request){ 0 };
	p->head_len = 0;
	p->head[0] = '\0';
	p->empty_lines = 0;
	p->body_cap = 0;
	p->content_length = 0;
	p->error_status = 0;
	p->error_msg[0] = '\0';
}

void http_parser_free(struct http_parser *p)
{
	if (!p)
		return;
	free(p->req.body);
	p->req.body = NULL;
	p->req.body_len = 0;
	p->body_cap = 0;
}

void http_parser_reset(struct http_parser *p)
{
	http_parser_free(p);
	http_parser_init(p);
}

_printf_(3, 4) static int http_fail(struct http_parser *p, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->error_msg, sizeof(p->error_msg), fmt, ap);
	va_end(ap);
	p->error_status = status;
	p->state = HTTP_PARSER_ERROR;
	return -1;
}

/* RFC 9110 5.6.2 tchar */
static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Header field values: VCHAR, obs-text, SP, HTAB. */
static bool is_field_char(unsigned char c)
{
	return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

static enum http_method method_from_token(const char *s, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(method_names); i++)
		if (i != HTTP_METHOD_OTHER && strlen(method_names[i]) == len &&
		    memcmp(method_names[i], s, len) == 0)
			return (enum http_method)i;
	return HTTP_METHOD_OTHER;
}

/* method SP request-target SP HTTP-version; `line` is NUL-terminated. */
static int parse_request_line(struct http_parser *p, char *line)
{
	struct http_request *req = &p->req;
	char *target, *version, *q;
	size_t mlen = 0;

	while (is_tchar((unsigned char)line[mlen]))
		mlen++;
	if (mlen == 0 || line[mlen] != ' ')
		return http_fail(p, 400, "malformed request line (expected METHOD /path HTTP/1.1)");
	req->method = method_from_token(line, mlen);
	snprintf(req->method_name, sizeof(req->method_name), "%.*s", (int)mlen, line);

	target = line + mlen + 1;
	version = strchr(target, ' ');
	if (!version || version == target)
		return http_fail(p, 400, "malformed request line (expected METHOD /path HTTP/1.1)");
	*version++ = '\0';
	/* origin-form only: absolute-form and '*' are for proxies and OPTIONS. */
	if (target[0] != '/')
		return http_fail(p, 400, "the request target must be a path starting with '/'");
	for (q = target; *q; q++)
		if ((unsigned char)*q < 0x21 || (unsigned char)*q > 0x7e || *q == '#')
			return http_fail(p, 400, "invalid character in the request target");
	q = strchr(target, '?');
	if (q)
		*q = '\0';
	req->path = target;

	if (strcmp(version, "HTTP/1.1") == 0) {
		req->minor_version = 1;
	} else if (strcmp(version, "HTTP/1.0") == 0) {
		req->minor_version = 0;
	} else if (strlen(version) == 8 && strncmp(version, "HTTP/", 5) == 0 &&
		   version[5] >= '0' && version[5] <= '9' && version[6] == '.' &&
		   version[7] >= '0' && version[7] <= '9') {
		return http_fail(p, 505, "HTTP version %s is not supported (use HTTP/1.1)",
				 version);
	} else {
		return http_fail(p, 400, "malformed request line (expected METHOD /path HTTP/1.1)");
	}
	return 0;
}

/* Does the comma-separated list `value` hold `token` (any case)? */
static bool list_has(const char *value, const char *token)
{
	size_t tlen = strlen(token);

	while (*value) {
		size_t n;

		value += strspn(value, " \t,");
		n = strcspn(value, ",");
		/* trim trailing OWS of this element */
		while (n && (value[n - 1] == ' ' || value[n - 1] == '\t'))
			n--;
		if (n == tlen && strncasecmp(value, token, tlen) == 0)
			return true;
		value += strcspn(value, ",");
	}
	return false;
}

struct head_flags {
	bool conn_close;
	bool conn_keep_alive;
};

/* One "name: value" line, NUL-terminated. */
static int parse_header(struct http_parser *p, char *line, struct head_flags *flags)
{
	struct http_request *req = &p->req;
	size_t nlen = 0;
	char *value, *end;

	while (is_tchar((unsigned char)line[nlen]))
		nlen++;
	/* Covers obs-fold (a leading space) and whitespace before the colon. */
	if (nlen == 0 || line[nlen] != ':')
		return http_fail(p, 400, "malformed header line");
	line[nlen] = '\0';
	value = line + nlen + 1;
	for (const char *c = value; *c; c++)
		if (!is_field_char((unsigned char)*c))
			return http_fail(p, 400, "invalid character in header %s", line);
	value += strspn(value, " \t");
	end = value + strlen(value);
	while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';

	if (strcasecmp(line, "Content-Length") == 0) {
		size_t n = 0, digits = strspn(value, "0123456789");

		if (digits == 0 || value[digits] != '\0')
			return http_fail(p, 400, "invalid Content-Length");
		for (size_t i = 0; i < digits; i++) {
			/* Anything past the limit is refused, so stop before overflowing. */
			if (n > API_MAX_BODY_BYTES)
				break;
			n = n * 10 + (size_t)(value[i] - '0');
		}
		if (n > API_MAX_BODY_BYTES)
			return http_fail(p, 400, "request body too large (the limit is %d bytes)",
					 API_MAX_BODY_BYTES);
		if (req->has_content_length && p->content_length != n)
			return http_fail(p, 400, "conflicting Content-Length headers");
		req->has_content_length = true;
		p->content_length = n;
	} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
		return http_fail(p, 400,
				 "Transfer-Encoding is not supported; send the body with Content-Length");
	} else if (strcasecmp(line, "Connection") == 0) {
		if (list_has(value, "close"))
			flags->conn_close = true;
		if (list_has(value, "keep-alive"))
			flags->conn_keep_alive = true;
	} else if (strcasecmp(line, "Expect") == 0) {
		if (strcasecmp(value, "100-continue") != 0)
			return http_fail(p, 417, "only Expect: 100-continue is supported");
		req->expect_continue = true;
	}
	return 0;
}

/* head[0..head_len) ends in CRLF CRLF; split it into lines and read them. */
static int parse_head(struct http_parser *p)
{
	struct head_flags flags = { false, false };
	char *line = p->head, *end = p->head + p->head_len - 2; /* the final empty line */
	bool first = true;
	int r;

	p->head[p->head_len] = '\0';
	while (line < end) {
		char *eol = line;

		/* A line ends at CRLF; a lone CR, LF or NUL inside one is refused. */
		while (*eol != '\r' && *eol != '\n' && *eol != '\0')
			eol++;
		if (eol >= end || eol[0] != '\r' || eol[1] != '\n')
			return http_fail(p, 400, "bare CR, LF or NUL in the request head");
		*eol = '\0';
		r = first ? parse_request_line(p, line) : parse_header(p, line, &flags);
		if (r < 0)
			return r;
		first = false;
		line = eol + 2;
	}
	if (first)
		return http_fail(p, 400, "empty request");

	p->req.keep_alive = p->req.minor_version == 1 ? !flags.conn_close :
							 flags.conn_keep_alive && !flags.conn_close;
	if (p->content_length > 0) {
		p->state = HTTP_PARSER_BODY;
	} else {
		/* Without a body there is nothing to continue to. */
		p->req.expect_continue = false;
		p->state = HTTP_PARSER_DONE;
	}
	return 0;
}

/* Body bytes; the buffer grows as they arrive, not on the header's promise. */
static int take_body(struct http_parser *p, const unsigned char *d, size_t n)
{
	struct http_request *req = &p->req;
	size_t want = MIN(n, p->content_length - req->body_len);

	if (req->body_len + want > p->body_cap) {
		size_t cap = MAX(req->body_len + want, MIN(p->content_length, MAX((size_t)4096,
										 p->body_cap * 2)));
		char *b = realloc(req->body, cap + 1);

		if (!b)
			return http_fail(p, 500, "out of memory for the request body");
		req->body = b;
		p->body_cap = cap;
	}
	memcpy(req->body + req->body_len, d, want);
	req->body_len += want;
	req->body[req->body_len] = '\0';
	if (req->body_len == p->content_length)
		p->state = HTTP_PARSER_DONE;
	return (int)want;
}

int http_parser_feed(struct http_parser *p, const void *data, size_t len, size_t *ret_consumed)
{
	const unsigned char *d = data;
	size_t i = 0;
	int r;

	while (i < len && (p->state == HTTP_PARSER_HEAD || p->state == HTTP_PARSER_BODY)) {
		if (p->state == HTTP_PARSER_BODY) {
			r = take_body(p, d + i, len - i);
			if (r < 0)
				break;
			i += (size_t)r;
			continue;
		}

		/* Empty lines before the request line are skipped (RFC 9112 2.2). */
		if (p->head_len == 1 && p->head[0] == '\r' && d[i] == '\n') {
			i++;
			p->head_len = 0;
			if (++p->empty_lines > HTTP_MAX_LEADING_EMPTY_LINES) {
				http_fail(p, 400, "too many empty lines before the request");
				break;
			}
			continue;
		}
		if (p->head_len == API_MAX_HEADER_BYTES) {
			http_fail(p, 400, "request head too large (the limit is %d bytes)",
				  API_MAX_HEADER_BYTES);
			break;
		}
		/* Refused at once, not when the head ends: a bare-LF client would never end it. */
		if (d[i] == '\0' || (d[i] == '\n' && (p->head_len == 0 || p->head[p->head_len - 1] != '\r')) ||
		    (p->head_len > 0 && p->head[p->head_len - 1] == '\r' && d[i] != '\n')) {
			http_fail(p, 400, "bare CR, LF or NUL in the request head");
			break;
		}
		p->head[p->head_len++] = (char)d[i++];
		if (p->head_len >= 4 && memcmp(p->head + p->head_len - 4, "\r\n\r\n", 4) == 0 &&
		    parse_head(p) < 0)
			break;
	}
	*ret_consumed = i;
	if (p->state == HTTP_PARSER_DONE)
		return 1;
	if (p->state == HTTP_PARSER_ERROR)
		return -1;
	return 0;
}
