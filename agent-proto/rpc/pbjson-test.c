/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON <-> protobuf-c: every field type (pbjson-test.proto) and the Agent's
 * own requests; round trips through JSON and the wire format; every error
 * path of the parser names the field.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-proto/agent-proto.h"
#include "agent-proto/pbjson.h"
#include "common/test.h"
#include "pbjson-test.pb-c.h"

static ProtobufCMessage *parse(const ProtobufCMessageDescriptor *d, const char *json,
			       struct error *err)
{
	ProtobufCMessage *m = NULL;

	error_clear(err);
	if (agent_pbjson_parse(d, json, strlen(json), &m, err) < 0)
		return NULL;
	return m;
}

/* Serialize to the wire format, for comparing two messages. */
static char *packed(const ProtobufCMessage *m, size_t *len)
{
	char *buf;

	*len = protobuf_c_message_get_packed_size(m);
	buf = malloc(*len + 1);
	if (buf)
		protobuf_c_message_pack(m, (uint8_t *)buf);
	return buf;
}

/* JSON -> message -> JSON -> message: both messages serialize the same. */
static void check_round_trip(const ProtobufCMessageDescriptor *d, const char *json)
{
	struct error err;
	ProtobufCMessage *a = parse(d, json, &err), *b = NULL;
	char *text = NULL, *pa = NULL, *pb = NULL;
	size_t la = 0, lb = 0;

	CHECK(a != NULL);
	if (!a) {
		fprintf(stderr, "parse: %s\n", err.msg);
		return;
	}
	CHECK_EQ(agent_pbjson_format(a, 0, &text, &err), 0);
	if (text)
		b = parse(d, text, &err);
	CHECK(b != NULL);
	if (b) {
		pa = packed(a, &la);
		pb = packed(b, &lb);
		CHECK(pa && pb && la == lb && memcmp(pa, pb, la) == 0);
	}
	free(pa);
	free(pb);
	free(text);
	protobuf_c_message_free_unpacked(a, NULL);
	protobuf_c_message_free_unpacked(b, NULL);
}

static void test_all_types(void)
{
	const char *json =
		"{\"i32\": -5, \"s32\": -2147483648, \"sf32\": 7, \"u32\": 4294967295,"
		" \"f32\": \"12\", \"i64\": -9223372036854775808, \"s64\": \"-3\","
		" \"sf64\": 9, \"u64\": 18446744073709551615, \"f64\": 1,"
		" \"fl\": 1.5, \"db\": -2.25e10, \"flag\": true, \"color\": \"COLOR_BLUE\","
		" \"text\": \"h\\u00e9llo \\\"q\\\"\", \"blob\": \"AAEC/w==\","
		" \"inner\": {\"name\": \"n\", \"values\": [1, -2, 3]},"
		" \"names\": [\"a\", \"\", \"c\"], \"inners\": [{}, {\"name\": \"x\"}],"
		" \"big\": [0, 18446744073709551615], \"blobs\": [\"\", \"Zm9v\", \"Zm8\"],"
		" \"colors\": [\"COLOR_RED\", 2], \"flags\": [false, true],"
		" \"doubles\": [0.5], \"choiceInner\": {\"name\": \"c\"}}";
	struct error err;
	ProtobufCMessage *m = parse(&nacelle__test__all_types__descriptor, json, &err);
	Nacelle__Test__AllTypes *t = (void *)m;
	char *out = NULL;

	CHECK(m != NULL);
	if (!m) {
		fprintf(stderr, "parse: %s\n", err.msg);
		return;
	}
	CHECK_EQ(t->i32, -5);
	CHECK_EQ(t->s32, INT32_MIN);
	CHECK_EQ(t->u32, UINT32_MAX);
	CHECK_EQ(t->f32, 12);
	CHECK(t->i64 == INT64_MIN);
	CHECK_EQ(t->s64, -3);
	CHECK(t->u64 == UINT64_MAX);
	CHECK(t->fl == 1.5f);
	CHECK(t->db == -2.25e10);
	CHECK_EQ(t->flag, 1);
	CHECK_EQ(t->color, NACELLE__TEST__COLOR__COLOR_BLUE);
	CHECK(!strcmp(t->text, "h\xc3\xa9llo \"q\""));
	CHECK_EQ(t->blob.len, 4);
	CHECK(t->blob.data && !memcmp(t->blob.data, "\x00\x01\x02\xff", 4));
	CHECK(t->inner && !strcmp(t->inner->name, "n") && t->inner->n_values == 3 &&
	      t->inner->values[1] == -2);
	CHECK_EQ(t->n_names, 3);
	CHECK(t->n_names == 3 && !strcmp(t->names[2], "c"));
	CHECK_EQ(t->n_inners, 2);
	CHECK(t->n_big == 2 && t->big[1] == UINT64_MAX);
	CHECK(t->n_blobs == 3 && t->blobs[2].len == 2 && !memcmp(t->blobs[2].data, "fo", 2));
	CHECK(t->n_colors == 2 && t->colors[1] == NACELLE__TEST__COLOR__COLOR_BLUE);
	CHECK_EQ(t->choice_case, NACELLE__TEST__ALL_TYPES__CHOICE_CHOICE_INNER);

	CHECK_EQ(agent_pbjson_format(m, 0, &out, &err), 0);
	if (out) {
		CHECK(strstr(out, "\"u64\":18446744073709551615") != NULL);
		CHECK(strstr(out, "\"i64\":-9223372036854775808") != NULL);
		CHECK(strstr(out, "\"color\":\"COLOR_BLUE\"") != NULL);
		CHECK(strstr(out, "\"blob\":\"AAEC/w==\"") != NULL);
		CHECK(strstr(out, "\"blobs\":[\"\",\"Zm9v\",\"Zm8=\"]") != NULL);
		CHECK(strstr(out, "\"choice_inner\":{") != NULL);
		CHECK(strstr(out, "choice_text") == NULL);
		printf("%s\n", out);
		free(out);
	}
	protobuf_c_message_free_unpacked(m, NULL);

	check_round_trip(&nacelle__test__all_types__descriptor, json);
	check_round_trip(&nacelle__test__all_types__descriptor, "{}");
	check_round_trip(&nacelle__test__all_types__descriptor, "{\"choice_number\": 0}");
	check_round_trip(&nacelle__test__all_types__descriptor, "{\"choice_text\": \"t\"}");
}

static void test_agent_requests(void)
{
	const char *create =
		"{\"container_id\": \"c1\", \"spec\": \"{\\\"ociVersion\\\": \\\"1.0.2\\\"}\","
		" \"rootfs\": \"/run/nacelle/shared/c1/rootfs\","
		" \"stdio\": {\"stdin_port\": 2000, \"stdoutPort\": 2001, \"stderr_port\": null}}";
	const char *setup =
		"{\"hostname\": \"pod\", \"dns\": [\"nameserver 10.0.0.1\", \"search a.b\"],"
		" \"time\": {\"seconds\": -1, \"nanos\": 5},"
		" \"shared_mounts\": [{\"tag\": \"shared\", \"mount_point\": \"/run/s\","
		" \"options\": [\"ro\"]}]}";
	struct error err;
	ProtobufCMessage *m;

	m = parse(&nacelle__agent__v1__create_container_request__descriptor, create, &err);
	CHECK(m != NULL);
	if (m) {
		Nacelle__Agent__V1__CreateContainerRequest *r = (void *)m;

		CHECK(!strcmp(r->spec, "{\"ociVersion\": \"1.0.2\"}"));
		CHECK(r->stdio && r->stdio->stdin_port == 2000 && r->stdio->stdout_port == 2001 &&
		      r->stdio->stderr_port == 0);
		CHECK_EQ(agent_proto_validate(m, &err), 0);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	check_round_trip(&nacelle__agent__v1__create_container_request__descriptor, create);
	check_round_trip(&nacelle__agent__v1__setup_sandbox_request__descriptor, setup);
	check_round_trip(&nacelle__agent__v1__version_request__descriptor, "{}");
	check_round_trip(&nacelle__agent__v1__version_request__descriptor, "null");
	check_round_trip(&nacelle__agent__v1__signal_process_request__descriptor,
			 "{\"container_id\": \"c\", \"signal\": \"9\", \"all\": false}");
	check_round_trip(&nacelle__agent__v1__health_response__descriptor,
			 "{\"status\": \"SERVING_STATUS_NOT_SERVING\"}");
	check_round_trip(&nacelle__agent__v1__health_response__descriptor, "{\"status\": 1}");
}

static void test_errors(void)
{
	static const struct {
		const char *json;
		const char *msg; /* expected in the error message */
	} cases[] = {
		{ "{\"nope\": 1}", "nope: no such field in nacelle.test.AllTypes" },
		{ "{\"u32\": -1}", "u32: expected a number" },
		{ "{\"u32\": 4294967296}", "u32: expected a number" },
		{ "{\"i32\": 2147483648}", "i32: expected a number" },
		{ "{\"i32\": 1.5}", "i32: expected a number" },
		{ "{\"u64\": \"12x\"}", "u64: expected a number" },
		{ "{\"i32\": \"\"}", "i32: expected a number" },
		{ "{\"flag\": 1}", "flag: expected true or false" },
		{ "{\"color\": \"GREEN\"}", "color: \"GREEN\" is not a nacelle.test.Color" },
		{ "{\"text\": 5}", "text: expected a string" },
		{ "{\"blob\": \"!!\"}", "blob: invalid base64" },
		{ "{\"blob\": \"A\"}", "blob: invalid base64" },
		{ "{\"inner\": 3}", "inner: expected an object for nacelle.test.Inner" },
		{ "{\"inner\": {\"values\": [1, \"a\"]}}", "inner.values[1]: expected a number" },
		{ "{\"names\": \"a\"}", "names: expected an array" },
		{ "{\"names\": [\"a\", null]}", "names[1]: null in an array" },
		{ "{\"inners\": [{}, {\"name\": 1}]}", "inners[1].name: expected a string" },
		{ "{\"text\": \"a\", \"text\": \"b\"}", "text: given twice" },
		{ "{\"text\": \"a\", \"text\": null}", "text: given twice" },
		{ "{\"choice_text\": \"a\", \"choice_number\": 1}", "another field of its oneof" },
		{ "{\"text\": \"a\\u0000b\"}", "\\u0000" },
		{ "[1]", "expected an object" },
		{ "\"x\"", "expected an object" },
		{ "{\"text\": ", "invalid JSON" },
		{ "", "invalid JSON" },
		{ "{} {}", "invalid JSON" },
		{ "{\"text\": \"\xff\"}", "invalid JSON" },
	};
	char deep[200];
	struct error err;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		ProtobufCMessage *m = parse(&nacelle__test__all_types__descriptor, cases[i].json,
					    &err);

		CHECK(m == NULL);
		if (m) {
			fprintf(stderr, "accepted: %s\n", cases[i].json);
			protobuf_c_message_free_unpacked(m, NULL);
			continue;
		}
		CHECK(err.code < 0);
		if (!strstr(err.msg, cases[i].msg)) {
			CHECK(!"error message");
			fprintf(stderr, "for %s: got \"%s\", expected \"%s\"\n", cases[i].json,
				err.msg, cases[i].msg);
		}
	}

	/* Nesting beyond AGENT_PBJSON_MAX_DEPTH is refused before yajl sees it. */
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	CHECK(parse(&nacelle__test__all_types__descriptor, deep, &err) == NULL);
	CHECK(strstr(err.msg, "nested deeper") != NULL);
	/* An embedded NUL byte. */
	{
		ProtobufCMessage *m = NULL;

		CHECK_EQ(agent_pbjson_parse(&nacelle__test__all_types__descriptor, "{}\0{}", 5, &m,
					    &err),
			 -EINVAL);
	}
}

static void test_format(void)
{
	Nacelle__Test__AllTypes t = NACELLE__TEST__ALL_TYPES__INIT;
	Nacelle__Agent__V1__StatsContainerResponse stats =
		NACELLE__AGENT__V1__STATS_CONTAINER_RESPONSE__INIT;
	Nacelle__Agent__V1__MemoryStats mem = NACELLE__AGENT__V1__MEMORY_STATS__INIT;
	struct error err;
	char *out = NULL;

	/* Invalid UTF-8 from the other side is replaced, not refused. */
	t.text = (char *)"a\xff" "b\xc3";
	t.color = 7; /* not a known value: printed as a number */
	CHECK_EQ(agent_pbjson_format(&t.base, 0, &out, &err), 0);
	if (out) {
		CHECK(strstr(out, "\"text\":\"a\xef\xbf\xbd" "b\xef\xbf\xbd\"") != NULL);
		CHECK(strstr(out, "\"color\":7") != NULL);
		/* Defaults are printed, unset messages are not. */
		CHECK(strstr(out, "\"i32\":0") != NULL);
		CHECK(strstr(out, "\"names\":[]") != NULL);
		CHECK(strstr(out, "\"inner\"") == NULL);
		free(out);
	}

	mem.limit = UINT64_MAX;
	stats.memory = &mem;
	CHECK_EQ(agent_pbjson_format(&stats.base, AGENT_PBJSON_PRETTY, &out, &err), 0);
	if (out) {
		CHECK(strstr(out, "\"limit\": 18446744073709551615") != NULL);
		CHECK(strchr(out, '\n') != NULL);
		CHECK(strstr(out, "\"cpu\"") == NULL);
		free(out);
	}
}

int main(void)
{
	test_all_types();
	test_agent_requests();
	test_errors();
	test_format();
	printf("pbjson-test: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
