/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP request parser: requests whole, split at every byte, pipelined;
 * every limit at and past its edge; and the malformed input it must refuse
 * with the right status (framing it would get wrong is how smuggling starts).
 */
#include <stdlib.h>
#include <string.h>

#include "common/test.h"
#include "http.h"

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* Feed all of s at once; returns the feed result. */
static int feed_all(struct http_parser *p, const char *s, size_t len, size_t *used)
{
	return http_parser_feed(p, s, len, used);
}

static int feed_str(struct http_parser *p, const char *s)
{
	size_t used;

	return feed_all(p, s, strlen(s), &used);
}

static void test_simple(void)
{
	static const char req[] = "GET /api/v1/vmm.ping HTTP/1.1\r\nHost: localhost\r\n\r\n";
	struct http_parser p;
	size_t used;

	http_parser_init(&p);
	CHECK_EQ(feed_all(&p, req, strlen(req), &used), 1);
	CHECK_EQ(used, strlen(req));
	CHECK(p.state == HTTP_PARSER_DONE);
	CHECK(p.req.method == HTTP_METHOD_GET);
	CHECK(streq(p.req.method_name, "GET"));
	CHECK(streq(p.req.path, "/api/v1/vmm.ping"));
	CHECK_EQ(p.req.minor_version, 1);
	CHECK(p.req.keep_alive);
	CHECK(!p.req.expect_continue && !p.req.body && p.req.body_len == 0);
	/* Done: more input is not taken. */
	CHECK_EQ(feed_all(&p, "GET", 3, &used), 1);
	CHECK_EQ(used, 0);
	http_parser_free(&p);

	/* A query is cut from the path; header names in any case; OWS trimmed. */
	http_parser_init(&p);
	CHECK_EQ(feed_str(&p, "PUT /api/v1/vm.create?x=1 HTTP/1.1\r\ncontent-LENGTH:   2  \r\n"
			      "\r\n{}"),
		 1);
	CHECK(streq(p.req.path, "/api/v1/vm.create"));
	CHECK(p.req.method == HTTP_METHOD_PUT && p.req.has_content_length);
	CHECK(p.req.body_len == 2 && streq(p.req.body, "{}"));
	http_parser_free(&p);
}

/* The same request, split at every possible byte, and fed a byte at a time. */
static void test_split(void)
{
	static const char req[] = "PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: 26"
				  "\r\nContent-Type: application/json\r\n\r\n"
				  "{\"payload\":{\"kernel\":\"/\"}}";
	size_t len = strlen(req), used;
	struct http_parser p;

	for (size_t cut = 0; cut <= len; cut++) {
		int r1, r2;

		http_parser_init(&p);
		r1 = feed_all(&p, req, cut, &used);
		CHECK_EQ(used, cut);
		CHECK(cut == len ? r1 == 1 : r1 == 0);
		r2 = feed_all(&p, req + cut, len - cut, &used);
		CHECK_EQ(r2, 1);
		CHECK_EQ(used, len - cut);
		CHECK(p.req.body_len == 26 && streq(p.req.body, "{\"payload\":{\"kernel\":\"/\"}}"));
		CHECK(streq(p.req.path, "/api/v1/vm.create"));
		http_parser_free(&p);
	}

	http_parser_init(&p);
	for (size_t i = 0; i < len; i++) {
		int r = feed_all(&p, req + i, 1, &used);

		CHECK_EQ(used, 1);
		CHECK_EQ(r, i == len - 1 ? 1 : 0);
	}
	CHECK(p.req.body_len == 26 && p.req.method == HTTP_METHOD_PUT);
	http_parser_free(&p);
}

/* Two requests in one buffer: the first stops where it ends, the second follows. */
static void test_pipelined(void)
{
	static const char two[] = "PUT /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
				  "GET /b HTTP/1.1\r\nConnection: close\r\n\r\n";
	size_t first = strlen("PUT /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"), used;
	struct http_parser p;

	http_parser_init(&p);
	CHECK_EQ(feed_all(&p, two, strlen(two), &used), 1);
	CHECK_EQ(used, first);
	CHECK(streq(p.req.path, "/a") && streq(p.req.body, "abc") && p.req.keep_alive);
	http_parser_reset(&p);
	CHECK_EQ(feed_all(&p, two + first, strlen(two) - first, &used), 1);
	CHECK_EQ(used, strlen(two) - first);
	CHECK(streq(p.req.path, "/b") && !p.req.keep_alive && p.req.body_len == 0);
	http_parser_free(&p);
}

static void test_keep_alive(void)
{
	static const struct {
		const char *req;
		bool keep;
	} cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", false },
		{ "GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true },
		{ "GET / HTTP/1.0\r\nconnection: foo ,keep-alive\r\n\r\n", true },
	};
	struct http_parser p;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		http_parser_init(&p);
		CHECK_EQ(feed_str(&p, cases[i].req), 1);
		CHECK_EQ(p.req.keep_alive, cases[i].keep);
		http_parser_free(&p);
	}
}

static void test_methods(void)
{
	static const struct {
		const char *name;
		enum http_method m;
	} cases[] = {
		{ "GET", HTTP_METHOD_GET },	      { "PUT", HTTP_METHOD_PUT },
		{ "POST", HTTP_METHOD_POST },	      { "DELETE", HTTP_METHOD_DELETE },
		{ "HEAD", HTTP_METHOD_HEAD },	      { "PATCH", HTTP_METHOD_PATCH },
		{ "OPTIONS", HTTP_METHOD_OPTIONS },   { "get", HTTP_METHOD_OTHER },
		{ "CONNECT", HTTP_METHOD_OTHER },     { "FOO", HTTP_METHOD_OTHER },
		{ "GETGETGETGETGETGETGET", HTTP_METHOD_OTHER },
	};
	struct http_parser p;
	char req[128];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(req, sizeof(req), "%s / HTTP/1.1\r\n\r\n", cases[i].name);
		http_parser_init(&p);
		CHECK_EQ(feed_str(&p, req), 1);
		CHECK_EQ(p.req.method, cases[i].m);
		/* The name as sent, cut to fit, for "takes PUT, not FOO". */
		CHECK(strncmp(p.req.method_name, cases[i].name, HTTP_METHOD_MAX - 1) == 0);
		http_parser_free(&p);
	}
	CHECK(streq(http_method_to_string(HTTP_METHOD_PUT), "PUT"));
	CHECK(streq(http_method_to_string((enum http_method)99), "OTHER"));
	CHECK(streq(http_parser_state_to_string(HTTP_PARSER_BODY), "body"));
}

static void test_expect(void)
{
	struct http_parser p;
	size_t used;
	static const char head[] = "PUT /x HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\n";

	http_parser_init(&p);
	CHECK_EQ(feed_all(&p, head, strlen(head), &used), 0);
	CHECK(p.state == HTTP_PARSER_BODY && p.req.expect_continue);
	CHECK_EQ(feed_all(&p, "body", 4, &used), 1);
	http_parser_free(&p);

	/* Nothing to continue to without a body. */
	http_parser_init(&p);
	CHECK_EQ(feed_str(&p, "PUT /x HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"), 1);
	CHECK(!p.req.expect_continue);
	http_parser_free(&p);
}

/* Each case: the input, the status, and part of the message. */
static void test_errors(void)
{
	static const struct {
		const char *req;
		int status;
		const char *msg;
	} cases[] = {
		{ "GET\r\n\r\n", 400, "malformed request line" },
		{ "GET /\r\n\r\n", 400, "malformed request line" },
		{ "GET  / HTTP/1.1\r\n\r\n", 400, "malformed request line" },
		{ " GET / HTTP/1.1\r\n\r\n", 400, "malformed request line" },
		{ "GET / HTTP/1.1 \r\n\r\n", 400, "malformed request line" },
		{ "GET / HTTP/1.1\tx\r\n\r\n", 400, "malformed request line" },
		{ "G(T / HTTP/1.1\r\n\r\n", 400, "malformed request line" },
		{ "GET http://localhost/ HTTP/1.1\r\n\r\n", 400, "starting with '/'" },
		{ "GET * HTTP/1.1\r\n\r\n", 400, "starting with '/'" },
		{ "GET /a#b HTTP/1.1\r\n\r\n", 400, "invalid character" },
		{ "GET /a\x7f HTTP/1.1\r\n\r\n", 400, "invalid character" },
		{ "GET /\xc3\xa9 HTTP/1.1\r\n\r\n", 400, "invalid character" },
		{ "GET / HTTP/2.0\r\n\r\n", 505, "not supported" },
		{ "GET / HTTP/0.9\r\n\r\n", 505, "not supported" },
		{ "GET / HTTX/1.1\r\n\r\n", 400, "malformed request line" },
		{ "GET / http/1.1\r\n\r\n", 400, "malformed request line" },
		{ "GET / HTTP/1.10\r\n\r\n", 400, "malformed request line" },
		{ "GET / HTTP/1.1\nHost: x\r\n\r\n", 400, "bare CR, LF" },
		{ "GET / HTTP/1.1\r\nHost: x\n\r\n\r\n", 400, "bare CR, LF" },
		{ "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400, "bare CR, LF" },
		{ "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400, "malformed header" },
		{ "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400, "malformed header" },
		{ "GET / HTTP/1.1\r\n: x\r\n\r\n", 400, "malformed header" },
		{ "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400, "malformed header" },
		{ "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", 400, "invalid character in header A" },
		{ "GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n", 400, "invalid character" },
		{ "PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
		  "Transfer-Encoding is not supported" },
		{ "PUT / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
		  "Transfer-Encoding" },
		{ "PUT / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400, "invalid Content-Length" },
		{ "PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "invalid Content-Length" },
		{ "PUT / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400, "invalid Content-Length" },
		{ "PUT / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400, "invalid Content-Length" },
		{ "PUT / HTTP/1.1\r\nContent-Length: 1,1\r\n\r\n", 400, "invalid Content-Length" },
		{ "PUT / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400, "invalid Content-Length" },
		{ "PUT / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400, "invalid Content-Length" },
		{ "PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400,
		  "conflicting Content-Length" },
		{ "PUT / HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", 400, "body too large" },
		{ "PUT / HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 400,
		  "body too large" },
		{ "PUT / HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\n", 417,
		  "100-continue" },
		{ "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", 400, "too many empty lines" },
		{ "\r\r\n\r\n", 400, "bare CR" },
	};
	struct http_parser p;
	size_t used;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r;

		http_parser_init(&p);
		r = feed_str(&p, cases[i].req);
		CHECK_EQ(r, -1);
		CHECK(p.state == HTTP_PARSER_ERROR);
		CHECK_EQ(p.error_status, cases[i].status);
		CHECK(strstr(p.error_msg, cases[i].msg) != NULL);
		if (r != -1 || !strstr(p.error_msg, cases[i].msg))
			fprintf(stderr, "  case %zu: r=%d status=%d msg='%s'\n", i, r,
				p.error_status, p.error_msg);
		/* An errored parser takes nothing more. */
		CHECK_EQ(http_parser_feed(&p, "x", 1, &used), -1);
		CHECK_EQ(used, 0);
		http_parser_free(&p);
	}

	/* A NUL anywhere in the head. */
	http_parser_init(&p);
	CHECK_EQ(feed_all(&p, "GET /\0 HTTP/1.1\r\n\r\n", 20, &used), -1);
	CHECK_EQ(p.error_status, 400);
	http_parser_free(&p);
	http_parser_init(&p);
	CHECK_EQ(feed_all(&p, "GET / HTTP/1.1\r\nA: \0\r\n\r\n", 24, &used), -1);
	http_parser_free(&p);

	/* Up to four empty lines before a request are fine. */
	http_parser_init(&p);
	CHECK_EQ(feed_str(&p, "\r\n\r\n\r\n\r\nGET /x HTTP/1.1\r\n\r\n"), 1);
	CHECK(streq(p.req.path, "/x"));
	http_parser_free(&p);
	/* The same Content-Length twice is one. */
	http_parser_init(&p);
	CHECK_EQ(feed_str(&p, "PUT / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nx"), 1);
	http_parser_free(&p);
}

static void test_limits(void)
{
	struct http_parser p;
	size_t used, n;
	char *big = malloc(API_MAX_BODY_BYTES + 256);
	char head[API_MAX_HEADER_BYTES + 64];
	const char *start = "GET / HTTP/1.1\r\nX: ";
	int r;

	if (!big)
		return;
	/* A head of exactly API_MAX_HEADER_BYTES is accepted; one byte more is not. */
	for (int extra = 0; extra <= 1; extra++) {
		n = strlen(start);
		memcpy(head, start, n);
		memset(head + n, 'a', API_MAX_HEADER_BYTES - n - 4 + (size_t)extra);
		memcpy(head + API_MAX_HEADER_BYTES - 4 + extra, "\r\n\r\n", 4);
		http_parser_init(&p);
		r = feed_all(&p, head, API_MAX_HEADER_BYTES + (size_t)extra, &used);
		CHECK_EQ(r, extra ? -1 : 1);
		if (extra) {
			CHECK_EQ(p.error_status, 400);
			CHECK(strstr(p.error_msg, "head too large") != NULL);
			CHECK_EQ(used, API_MAX_HEADER_BYTES);
		}
		http_parser_free(&p);
	}
	/* Never ending header lines hit the same limit. */
	http_parser_init(&p);
	memset(head, 'a', sizeof(head));
	memcpy(head, "GET / HTTP/1.1\r\n", 16);
	r = 0;
	for (int i = 0; i < 4 && r == 0; i++)
		r = feed_all(&p, head, sizeof(head), &used);
	CHECK_EQ(r, -1);
	http_parser_free(&p);

	/* A body of exactly API_MAX_BODY_BYTES. */
	n = (size_t)snprintf(big, 256, "PUT / HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
			     API_MAX_BODY_BYTES);
	memset(big + n, 'b', API_MAX_BODY_BYTES);
	http_parser_init(&p);
	CHECK_EQ(feed_all(&p, big, n + API_MAX_BODY_BYTES, &used), 1);
	CHECK_EQ(p.req.body_len, API_MAX_BODY_BYTES);
	CHECK(p.req.body[API_MAX_BODY_BYTES] == '\0');
	http_parser_free(&p);
	free(big);
}

static void test_reasons(void)
{
	CHECK(streq(http_reason(200), "OK"));
	CHECK(streq(http_reason(204), "No Content"));
	CHECK(streq(http_reason(400), "Bad Request"));
	CHECK(streq(http_reason(404), "Not Found"));
	CHECK(streq(http_reason(405), "Method Not Allowed"));
	CHECK(streq(http_reason(409), "Conflict"));
	CHECK(streq(http_reason(501), "Not Implemented"));
	CHECK(streq(http_reason(799), "Unknown"));
}

int main(void)
{
	test_simple();
	test_split();
	test_pipelined();
	test_keep_alive();
	test_methods();
	test_expect();
	test_errors();
	test_limits();
	test_reasons();
	printf("api-test: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
