/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An HTTP/1.1 request parser for the REST API: incremental (it takes bytes
 * as they arrive, in any split, and stops at the end of one request so that
 * pipelined bytes stay with the caller), bounded (every limit below is
 * enforced before memory is committed), and strict where leniency would
 * let two parsers disagree on where a request ends (no chunked bodies, no
 * conflicting Content-Length, no bare CR/LF, no obs-fold). It knows nothing
 * of sockets: the server feeds it, the fuzzer and tests feed it too.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macros.h"

/* Request line plus headers, up to and including the empty line. */
#define API_MAX_HEADER_BYTES (8 * 1024)
/* The largest body (vm.create's VmConfig is a few KiB). */
#define API_MAX_BODY_BYTES (1024 * 1024)
/* Clients served at once; one more is answered 503 and closed. */
#define API_MAX_CONNECTIONS 16
/*
 * A client has this long to send a whole request (from the moment the
 * connection is ready for one) and to take a whole response: a slow or
 * silent client (slowloris) holds a slot for no longer.
 */
#define API_CLIENT_TIMEOUT_MS 10000
/* Empty lines tolerated before a request line (RFC 9112 2.2: at least one). */
#define HTTP_MAX_LEADING_EMPTY_LINES 4
/* "OPTIONS" is the longest method we name; longer tokens are kept for messages only. */
#define HTTP_METHOD_MAX 16

enum http_method {
	HTTP_METHOD_GET,
	HTTP_METHOD_PUT,
	HTTP_METHOD_POST,
	HTTP_METHOD_DELETE,
	HTTP_METHOD_HEAD,
	HTTP_METHOD_PATCH,
	HTTP_METHOD_OPTIONS,
	HTTP_METHOD_OTHER, /* a valid token we do not know (CONNECT, TRACE, FOO) */
};

const char *http_method_to_string(enum http_method m); /* "GET"...; "OTHER" */

enum http_parser_state {
	HTTP_PARSER_HEAD,  /* request line and headers, up to the empty line */
	HTTP_PARSER_BODY,  /* Content-Length bytes */
	HTTP_PARSER_DONE,  /* one request is complete: read it, then http_parser_reset() */
	HTTP_PARSER_ERROR, /* malformed or over a limit: answer error_status, then close */
};

const char *http_parser_state_to_string(enum http_parser_state s);

struct http_request {
	enum http_method method;
	char method_name[HTTP_METHOD_MAX]; /* as sent (cut), for messages */
	char *path;	    /* origin-form path without the query; points into the parser */
	int minor_version;  /* HTTP/1.<minor>: 0 or 1 */
	bool keep_alive;    /* after Connection: and the version's default */
	bool expect_continue; /* Expect: 100-continue was sent */
	bool has_content_length;
	char *body;	    /* NUL-terminated (not counted), NULL when body_len == 0 */
	size_t body_len;
};

struct http_parser {
	enum http_parser_state state;
	struct http_request req;
	char head[API_MAX_HEADER_BYTES + 1];
	size_t head_len;
	unsigned int empty_lines; /* skipped before the request line */
	size_t body_cap;
	size_t content_length;
	int error_status;	    /* 400, 417, 505... in HTTP_PARSER_ERROR */
	char error_msg[160];
};

/* A fresh parser; nothing to free until a body arrives. */
void http_parser_init(struct http_parser *p);
/* Ready for the next request on the same connection. */
void http_parser_reset(struct http_parser *p);
void http_parser_free(struct http_parser *p);

/*
 * Feed `len` bytes. *ret_consumed says how many were used: all of them,
 * unless a request completed or an error stopped the parse first. Returns 0
 * when more bytes are needed, 1 when a request is complete (p->req), or -1
 * on a bad request (p->error_status and p->error_msg say why; the parser
 * stays in HTTP_PARSER_ERROR and the connection should be answered and
 * closed). Feeding a DONE or ERROR parser consumes nothing and returns the
 * same again.
 */
int http_parser_feed(struct http_parser *p, const void *data, size_t len,
		     size_t *ret_consumed) _wur_;

/* "Bad Request" for 400...; "Unknown" for codes we never send. */
const char *http_reason(int status);
