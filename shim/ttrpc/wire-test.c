/* SPDX-License-Identifier: Apache-2.0 */
/* ttrpc framing: header round trips, frames split at every byte, several
 * frames in one read, oversize frames skipped, garbage requests. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/test.h"
#include "ttrpc/wire.h"

static void test_header(void)
{
	struct ttrpc_header h = { .length = 0x01020304, .stream_id = 0xa0b0c0d1, .type = 2, .flags = 5 }, d;
	uint8_t b[TTRPC_HEADER_SIZE];
	static const uint8_t want[] = { 1, 2, 3, 4, 0xa0, 0xb0, 0xc0, 0xd1, 2, 5 };

	ttrpc_header_encode(&h, b);
	CHECK(memcmp(b, want, sizeof(want)) == 0);
	ttrpc_header_decode(b, &d);
	CHECK_EQ(d.length, h.length);
	CHECK_EQ(d.stream_id, h.stream_id);
	CHECK_EQ(d.type, 2);
	CHECK_EQ(d.flags, 5);
}

static uint8_t *request_frame(uint32_t id, const char *service, const char *method,
			      const char *payload, size_t *ret_len)
{
	Ttrpc__Request req = TTRPC__REQUEST__INIT;
	Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT;
	Ttrpc__KeyValue *md[] = { &kv };
	uint8_t *buf;

	req.service = (char *)service;
	req.method = (char *)method;
	req.payload.data = (uint8_t *)payload;
	req.payload.len = payload ? strlen(payload) : 0;
	kv.key = (char *)"containerd-namespace-ttrpc";
	kv.value = (char *)"k8s.io";
	req.metadata = md;
	req.n_metadata = 1;
	if (ttrpc_frame_pack(id, TTRPC_MSG_REQUEST, &req.base, &buf, ret_len) < 0)
		abort();
	return buf;
}

/* Feeds `data` in chunks of `step` bytes, collects up to 8 frames. */
struct collected {
	int n;
	struct ttrpc_header h[8];
	uint8_t *p[8];
	int oversize;
	struct ttrpc_header oh;
};

static void feed_all(const uint8_t *data, size_t len, size_t step, struct collected *out)
{
	struct ttrpc_reader rd;
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	ttrpc_reader_init(&rd);
	while (pos < len) {
		size_t chunk = MIN(step, len - pos), off = 0;

		while (off < chunk) {
			struct ttrpc_header h;
			uint8_t *p = NULL;
			size_t used = 0;
			int r = ttrpc_reader_feed(&rd, data + pos + off, chunk - off, &used, &h, &p);

			CHECK(r >= 0);
			off += used;
			if (r == TTRPC_READ_FRAME && out->n < 8) {
				out->h[out->n] = h;
				out->p[out->n++] = p;
			} else if (r == TTRPC_READ_FRAME) {
				free(p);
			} else if (r == TTRPC_READ_OVERSIZE) {
				out->oversize++;
				out->oh = h;
			}
			if (r == TTRPC_READ_MORE)
				CHECK_EQ(off, chunk);
		}
		pos += chunk;
	}
	CHECK_EQ(rd.state, TTRPC_READER_HEADER);
	ttrpc_reader_destroy(&rd);
}

static void collected_free(struct collected *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->p[i]);
}

static void test_split_reads(void)
{
	size_t l1, l2;
	uint8_t *f1 = request_frame(1, "containerd.task.v2.Task", "Create", "abc", &l1);
	uint8_t *f2 = request_frame(3, "containerd.task.v2.Task", "Wait", NULL, &l2);
	uint8_t *both = malloc(l1 + l2);
	struct collected c;

	memcpy(both, f1, l1);
	memcpy(both + l1, f2, l2);
	for (size_t step = 1; step <= l1 + l2; step++) {
		feed_all(both, l1 + l2, step, &c);
		CHECK_EQ(c.n, 2);
		CHECK_EQ(c.h[0].stream_id, 1);
		CHECK_EQ(c.h[1].stream_id, 3);
		CHECK_EQ(c.h[0].length, l1 - TTRPC_HEADER_SIZE);
		if (c.n == 2) {
			Ttrpc__Request *req = NULL;
			struct error err = {};

			CHECK(ttrpc_request_decode(c.p[0], c.h[0].length, &req, &err) == 0);
			if (req) {
				CHECK(strcmp(req->service, "containerd.task.v2.Task") == 0);
				CHECK(strcmp(req->method, "Create") == 0);
				CHECK_EQ(req->payload.len, 3);
				CHECK(strcmp(ttrpc_request_metadata(req, "Containerd-Namespace-TTRPC"),
					     "k8s.io") == 0);
				CHECK(ttrpc_request_metadata(req, "other") == NULL);
				ttrpc__request__free_unpacked(req, NULL);
			}
		}
		collected_free(&c);
	}
	free(both);
	free(f1);
	free(f2);
}

static void test_empty_frame(void)
{
	struct ttrpc_header h = { .length = 0, .stream_id = 7, .type = TTRPC_MSG_REQUEST };
	uint8_t b[TTRPC_HEADER_SIZE];
	struct collected c;
	Ttrpc__Request *req = NULL;
	struct error err = {};

	ttrpc_header_encode(&h, b);
	feed_all(b, sizeof(b), 3, &c);
	CHECK_EQ(c.n, 1);
	CHECK(c.p[0] == NULL);
	/* An empty Request has no service: rejected. */
	CHECK_EQ(ttrpc_request_decode(c.p[0], 0, &req, &err), -EINVAL);
	CHECK(strstr(err.msg, "unmarshal request error") != NULL);
	collected_free(&c);
}

static void test_oversize(void)
{
	struct ttrpc_header h = { .length = TTRPC_MESSAGE_LENGTH_MAX + 1, .stream_id = 5, .type = 1 };
	size_t l2, total;
	uint8_t *f2 = request_frame(9, "s", "m", "x", &l2);
	uint8_t *buf;
	struct collected c;

	total = TTRPC_HEADER_SIZE + h.length + l2;
	buf = calloc(1, total);
	ttrpc_header_encode(&h, buf);
	memset(buf + TTRPC_HEADER_SIZE, 0xee, h.length);
	memcpy(buf + TTRPC_HEADER_SIZE + h.length, f2, l2);
	feed_all(buf, total, 100000, &c);
	CHECK_EQ(c.oversize, 1);
	CHECK_EQ(c.oh.stream_id, 5);
	CHECK_EQ(c.oh.length, TTRPC_MESSAGE_LENGTH_MAX + 1);
	CHECK_EQ(c.n, 1); /* the frame after the skipped one is intact */
	CHECK_EQ(c.h[0].stream_id, 9);
	collected_free(&c);

	/* Exactly the maximum is allowed. */
	h.length = TTRPC_MESSAGE_LENGTH_MAX;
	ttrpc_header_encode(&h, buf);
	feed_all(buf, TTRPC_HEADER_SIZE + h.length, 1 << 20, &c);
	CHECK_EQ(c.oversize, 0);
	CHECK_EQ(c.n, 1);
	CHECK_EQ(c.h[0].length, TTRPC_MESSAGE_LENGTH_MAX);
	collected_free(&c);
	free(buf);
	free(f2);
}

static void test_garbage(void)
{
	static const uint8_t junk[][6] = {
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		{ 0x0a, 0x80, 0x80, 0x80, 0x80, 0x10 }, /* string length overflows */
		{ 0x0a, 0x05, 'a', 'b', 0, 0 },		/* truncated string */
	};
	struct error err = {};

	for (size_t i = 0; i < ARRAY_SIZE(junk); i++) {
		Ttrpc__Request *req = NULL;

		CHECK_EQ(ttrpc_request_decode(junk[i], sizeof(junk[i]), &req, &err), -EINVAL);
		CHECK(req == NULL);
	}
}

static void test_response(void)
{
	uint8_t *buf;
	size_t len;
	struct ttrpc_header h;
	Ttrpc__Response *resp;

	CHECK(ttrpc_response_pack(11, TTRPC_NOT_FOUND, "no such task", NULL, 0, &buf, &len) == 0);
	ttrpc_header_decode(buf, &h);
	CHECK_EQ(h.stream_id, 11);
	CHECK_EQ(h.type, TTRPC_MSG_RESPONSE);
	CHECK_EQ(h.length, len - TTRPC_HEADER_SIZE);
	resp = ttrpc__response__unpack(NULL, h.length, buf + TTRPC_HEADER_SIZE);
	CHECK(resp && resp->status);
	if (resp && resp->status) {
		CHECK_EQ(resp->status->code, TTRPC_NOT_FOUND);
		CHECK(strcmp(resp->status->message, "no such task") == 0);
	}
	ttrpc__response__free_unpacked(resp, NULL);
	free(buf);

	/* OK responses carry a status too (code 0) and the payload. */
	CHECK(ttrpc_response_pack(1, TTRPC_OK, NULL, (const uint8_t *)"\x08\x2a", 2, &buf, &len) == 0);
	resp = ttrpc__response__unpack(NULL, len - TTRPC_HEADER_SIZE, buf + TTRPC_HEADER_SIZE);
	CHECK(resp && resp->status && resp->status->code == 0 && resp->payload.len == 2);
	ttrpc__response__free_unpacked(resp, NULL);
	free(buf);
}

static void test_codes_and_addresses(void)
{
	struct sockaddr_un sa;
	socklen_t len;

	CHECK_EQ(ttrpc_code_from_errno(-ENOENT), TTRPC_NOT_FOUND);
	CHECK_EQ(ttrpc_code_from_errno(-EEXIST), TTRPC_ALREADY_EXISTS);
	CHECK_EQ(ttrpc_code_from_errno(-EBUSY), TTRPC_FAILED_PRECONDITION);
	CHECK_EQ(ttrpc_code_from_errno(-EALREADY), TTRPC_FAILED_PRECONDITION);
	CHECK_EQ(ttrpc_code_from_errno(-ENOSYS), TTRPC_UNIMPLEMENTED);
	CHECK_EQ(ttrpc_code_from_errno(-EOPNOTSUPP), TTRPC_UNIMPLEMENTED);
	CHECK_EQ(ttrpc_code_from_errno(-ETIMEDOUT), TTRPC_DEADLINE_EXCEEDED);
	CHECK_EQ(ttrpc_code_from_errno(-EIO), TTRPC_INTERNAL);
	CHECK_EQ(ttrpc_code_from_errno(-EINVAL), TTRPC_INVALID_ARGUMENT);
	CHECK_EQ(ttrpc_code_from_errno(-E2BIG), TTRPC_UNKNOWN);
	for (int c = 0; c <= TTRPC_UNAUTHENTICATED; c++)
		CHECK(strcmp(ttrpc_code_to_string(c), "CODE_UNKNOWN") != 0);
	CHECK_EQ(ttrpc_code_to_errno(TTRPC_NOT_FOUND), -ENOENT);

	CHECK(ttrpc_address_parse("unix:///run/containerd/s/abc", &sa, &len) == 0);
	CHECK(strcmp(sa.sun_path, "/run/containerd/s/abc") == 0);
	CHECK(ttrpc_address_parse("/run/containerd/containerd.sock.ttrpc", &sa, &len) == 0);
	CHECK(strcmp(sa.sun_path, "/run/containerd/containerd.sock.ttrpc") == 0);
	CHECK(ttrpc_address_parse("/containerd-shim/k8s.io/x/shim.sock", &sa, &len) == 0);
	CHECK(ttrpc_address_parse("containerd-shim/abc.sock", &sa, &len) == 0);
	CHECK(sa.sun_path[0] == 0 && strcmp(sa.sun_path + 1, "containerd-shim/abc.sock") == 0);
	CHECK(ttrpc_address_parse("", &sa, &len) < 0);
	CHECK(ttrpc_address_parse("unix://", &sa, &len) < 0);
	{
		char longp[200];

		memset(longp, 'a', sizeof(longp) - 1);
		longp[0] = '/';
		longp[sizeof(longp) - 1] = 0;
		CHECK_EQ(ttrpc_address_parse(longp, &sa, &len), -ENAMETOOLONG);
	}
}

int main(void)
{
	test_header();
	test_split_reads();
	test_empty_frame();
	test_oversize();
	test_garbage();
	test_response();
	test_codes_and_addresses();
	printf("%d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
