/* SPDX-License-Identifier: Apache-2.0 */
/* ttrpc server and client over a real Unix socket: calls, errors, unknown
 * methods, concurrent and out-of-order responses, oversize frames in both
 * directions, garbage, even stream ids, split writes, peer credentials, the
 * client's view of a dead server, and Shutdown-style stop after a reply. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>

#include "common/test.h"
#include "ttrpc/client.h"
#include "ttrpc/server.h"

#define SERVICE "nacelle.test.Echo"

static pthread_mutex_t block_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t block_cond = PTHREAD_COND_INITIALIZER;
static int released;
static int blocked;

static int m_echo(void *ud, struct ttrpc_call *call, const ProtobufCMessage *req,
		  struct error *err)
{
	const Ttrpc__KeyValue *kv = (const Ttrpc__KeyValue *)req;

	if (strcmp(kv->key, "fail") == 0)
		return error_set(err, -ENOENT, "no such thing: %s", kv->value);
	if (strcmp(kv->key, "big") == 0) {
		Ttrpc__KeyValue out = TTRPC__KEY_VALUE__INIT;
		size_t n = TTRPC_MESSAGE_LENGTH_MAX + 16;
		char *v = malloc(n + 1);
		int r;

		memset(v, 'v', n);
		v[n] = 0;
		out.key = (char *)"big";
		out.value = v;
		/* The packed reply itself is refused... */
		r = ttrpc_call_reply(call, &out.base);
		free(v);
		return r < 0 ? error_set(err, r, "reply too large") : 0;
	}
	return ttrpc_call_reply(call, req);
}

static int m_block(void *ud, struct ttrpc_call *call, const ProtobufCMessage *req,
		   struct error *err)
{
	pthread_mutex_lock(&block_lock);
	blocked++;
	pthread_cond_broadcast(&block_cond);
	while (!released)
		pthread_cond_wait(&block_cond, &block_lock);
	pthread_mutex_unlock(&block_lock);
	return ttrpc_call_reply(call, req);
}

static int m_release(void *ud, struct ttrpc_call *call, const ProtobufCMessage *req,
		     struct error *err)
{
	pthread_mutex_lock(&block_lock);
	released = 1;
	pthread_cond_broadcast(&block_cond);
	pthread_mutex_unlock(&block_lock);
	return 0;
}

static int m_stop(void *ud, struct ttrpc_call *call, const ProtobufCMessage *req,
		  struct error *err)
{
	ttrpc_call_stop_server_after_reply(call);
	return 0;
}

static const struct ttrpc_method methods[] = {
	{ SERVICE, "Echo", &ttrpc__key_value__descriptor, m_echo },
	{ SERVICE, "Block", &ttrpc__key_value__descriptor, m_block },
	{ SERVICE, "Release", &google__protobuf__empty__descriptor, m_release },
	{ SERVICE, "Stop", &google__protobuf__empty__descriptor, m_stop },
};

static struct ttrpc_server *server;
static char sock_path[108];

static int server_result = -1;

/* No CHECK here: the counters are not thread-safe. */
static void *server_main(void *arg)
{
	server_result = ttrpc_server_run(server);
	return NULL;
}

static int echo(struct ttrpc_client *c, const char *key, const char *value, char **ret_value,
		int *ret_code, struct error *err)
{
	Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT;
	ProtobufCMessage *resp = NULL;
	int r;

	kv.key = (char *)key;
	kv.value = (char *)value;
	r = ttrpc_client_call(c, SERVICE, "Echo", &kv.base, &ttrpc__key_value__descriptor, &resp,
			      5000, ret_code, err);
	if (r == 0) {
		if (ret_value)
			*ret_value = strdup(((Ttrpc__KeyValue *)resp)->value);
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	return r;
}

static void test_calls(struct ttrpc_client *c)
{
	struct error err = {};
	char *v = NULL;
	int code;

	CHECK_EQ(echo(c, "k", "hello", &v, &code, &err), 0);
	CHECK_EQ(code, TTRPC_OK);
	CHECK(v && strcmp(v, "hello") == 0);
	free(v);

	CHECK_EQ(echo(c, "fail", "x", NULL, &code, &err), -ENOENT);
	CHECK_EQ(code, TTRPC_NOT_FOUND);
	CHECK(strcmp(err.msg, "no such thing: x") == 0);

	CHECK(echo(c, "big", "", NULL, &code, &err) < 0);
	CHECK_EQ(code, TTRPC_RESOURCE_EXHAUSTED);

	CHECK(ttrpc_client_call(c, SERVICE, "Nope", NULL, NULL, NULL, 5000, &code, &err) < 0);
	CHECK_EQ(code, TTRPC_UNIMPLEMENTED);
	CHECK(strcmp(err.msg, "method Nope") == 0);
	CHECK(ttrpc_client_call(c, "no.Such", "Echo", NULL, NULL, NULL, 5000, &code, &err) < 0);
	CHECK_EQ(code, TTRPC_UNIMPLEMENTED);
	CHECK(strcmp(err.msg, "service no.Such") == 0);

	/* A payload that does not decode as the method's request. */
	CHECK(ttrpc_client_call_raw(c, SERVICE, "Echo", (const uint8_t *)"\xff\xff", 2, NULL, NULL,
				    5000, &code, &err) < 0);
	CHECK_EQ(code, TTRPC_INVALID_ARGUMENT);

	/* Too large to send: refused locally, the connection stays usable. */
	{
		size_t n = TTRPC_MESSAGE_LENGTH_MAX + 1;
		char *big = malloc(n + 1);

		memset(big, 'b', n);
		big[n] = 0;
		CHECK_EQ(echo(c, "k", big, NULL, &code, &err), -EMSGSIZE);
		free(big);
	}
	CHECK_EQ(echo(c, "k", "still", NULL, &code, &err), 0);
}

struct block_arg {
	struct ttrpc_client *c;
	int r;
};

static void *block_thread(void *arg)
{
	struct block_arg *a = arg;
	Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT;
	struct error err = {};

	kv.key = (char *)"b";
	kv.value = (char *)"b";
	a->r = ttrpc_client_call(a->c, SERVICE, "Block", &kv.base, NULL, NULL, 10000, NULL, &err);
	return NULL;
}

struct many_arg {
	struct ttrpc_client *c;
	int id;
	int bad;
};

static void *many_thread(void *arg)
{
	struct many_arg *a = arg;
	char val[32], *got;
	struct error err = {};

	for (int i = 0; i < 50; i++) {
		snprintf(val, sizeof(val), "%d-%d", a->id, i);
		got = NULL;
		if (echo(a->c, "k", val, &got, NULL, &err) != 0 || !got || strcmp(got, val))
			a->bad++;
		free(got);
	}
	return NULL;
}

static void test_concurrency(struct ttrpc_client *c)
{
	struct block_arg ba[4];
	pthread_t th[8];
	struct many_arg ma[8];
	struct error err = {};
	int n;

	/* Four calls block in handlers; the connection keeps serving others. */
	for (int i = 0; i < 4; i++) {
		ba[i] = (struct block_arg){ .c = c, .r = -1 };
		pthread_create(&th[i], NULL, block_thread, &ba[i]);
	}
	pthread_mutex_lock(&block_lock);
	while (blocked < 4)
		pthread_cond_wait(&block_cond, &block_lock);
	pthread_mutex_unlock(&block_lock);
	CHECK_EQ(echo(c, "k", "while blocked", NULL, NULL, &err), 0);
	CHECK_EQ(ttrpc_client_call(c, SERVICE, "Release", NULL, NULL, NULL, 5000, NULL, &err), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ(ba[i].r, 0);
	}

	n = 8;
	for (int i = 0; i < n; i++) {
		ma[i] = (struct many_arg){ .c = c, .id = i };
		pthread_create(&th[i], NULL, many_thread, &ma[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ(ma[i].bad, 0);
	}
}

/* Raw socket helpers for what the client never sends. */
static int raw_connect(void)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = 5 };

	if (ttrpc_address_parse(sock_path, &sa, &len) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, len) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int read_full(int fd, uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = read(fd, buf + off, len - off);

		if (n <= 0)
			return -1;
		off += n;
	}
	return 0;
}

/* Reads one response frame; returns its status code, -1 on EOF. */
static int raw_response(int fd, uint32_t *ret_id)
{
	uint8_t hb[TTRPC_HEADER_SIZE], *p;
	struct ttrpc_header h;
	Ttrpc__Response *resp;
	int code;

	if (read_full(fd, hb, sizeof(hb)) < 0)
		return -1;
	ttrpc_header_decode(hb, &h);
	CHECK_EQ(h.type, TTRPC_MSG_RESPONSE);
	p = malloc(h.length + 1);
	if (read_full(fd, p, h.length) < 0) {
		free(p);
		return -1;
	}
	resp = ttrpc__response__unpack(NULL, h.length, p);
	free(p);
	CHECK(resp && resp->status);
	code = resp && resp->status ? resp->status->code : -2;
	ttrpc__response__free_unpacked(resp, NULL);
	*ret_id = h.stream_id;
	return code;
}

static void raw_request(int fd, uint32_t id, const char *method, bool byte_by_byte)
{
	Ttrpc__Request req = TTRPC__REQUEST__INIT;
	Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT;
	uint8_t kvbuf[64], *frame;
	size_t len;

	kv.key = (char *)"k";
	kv.value = (char *)"v";
	req.service = (char *)SERVICE;
	req.method = (char *)method;
	req.payload.data = kvbuf;
	req.payload.len = ttrpc__key_value__pack(&kv, kvbuf);
	CHECK(ttrpc_frame_pack(id, TTRPC_MSG_REQUEST, &req.base, &frame, &len) == 0);
	if (byte_by_byte) {
		for (size_t i = 0; i < len; i++) {
			CHECK_EQ(write(fd, frame + i, 1), 1);
			if (i % 7 == 0)
				usleep(1000);
		}
	} else {
		CHECK_EQ(write(fd, frame, len), (ssize_t)len);
	}
	free(frame);
}

static void test_raw(void)
{
	int fd = raw_connect();
	uint8_t hb[TTRPC_HEADER_SIZE];
	struct ttrpc_header h = { .stream_id = 5, .type = TTRPC_MSG_REQUEST };
	uint32_t id = 0;
	uint8_t *junk;

	CHECK(fd >= 0);
	/* Split at every byte. */
	raw_request(fd, 1, "Echo", true);
	CHECK_EQ(raw_response(fd, &id), TTRPC_OK);
	CHECK_EQ(id, 1);

	/* Even stream ids are refused on their stream. */
	raw_request(fd, 2, "Echo", false);
	CHECK_EQ(raw_response(fd, &id), TTRPC_INVALID_ARGUMENT);
	CHECK_EQ(id, 2);

	/* Garbage in a request frame. */
	h.length = 4;
	ttrpc_header_encode(&h, hb);
	CHECK_EQ(write(fd, hb, sizeof(hb)), (ssize_t)sizeof(hb));
	CHECK_EQ(write(fd, "\xff\xff\xff\xff", 4), 4);
	CHECK_EQ(raw_response(fd, &id), TTRPC_INVALID_ARGUMENT);
	CHECK_EQ(id, 5);

	/* A response frame and a data frame from the client are ignored. */
	h.type = TTRPC_MSG_RESPONSE;
	h.length = 0;
	h.stream_id = 7;
	ttrpc_header_encode(&h, hb);
	CHECK_EQ(write(fd, hb, sizeof(hb)), (ssize_t)sizeof(hb));
	h.type = TTRPC_MSG_DATA;
	ttrpc_header_encode(&h, hb);
	CHECK_EQ(write(fd, hb, sizeof(hb)), (ssize_t)sizeof(hb));

	/* Oversize: RESOURCE_EXHAUSTED on its stream, the payload is skipped,
	 * and the connection goes on. */
	h.type = TTRPC_MSG_REQUEST;
	h.stream_id = 9;
	h.length = TTRPC_MESSAGE_LENGTH_MAX + 100;
	ttrpc_header_encode(&h, hb);
	CHECK_EQ(write(fd, hb, sizeof(hb)), (ssize_t)sizeof(hb));
	CHECK_EQ(raw_response(fd, &id), TTRPC_RESOURCE_EXHAUSTED);
	CHECK_EQ(id, 9);
	junk = calloc(1, h.length);
	for (size_t off = 0; off < h.length;) {
		ssize_t n = write(fd, junk + off, h.length - off);

		CHECK(n > 0);
		if (n <= 0)
			break;
		off += n;
	}
	free(junk);
	raw_request(fd, 11, "Echo", false);
	CHECK_EQ(raw_response(fd, &id), TTRPC_OK);
	CHECK_EQ(id, 11);
	close(fd);
}

static void test_peer_creds(void)
{
	pid_t pid;
	int status;

	if (geteuid() != 0) {
		printf("peer credentials: skipped (needs root to connect as another user)\n");
		return;
	}
	pid = fork();
	if (pid == 0) {
		uint32_t id;
		int fd;

		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(3);
		fd = raw_connect();
		if (fd < 0)
			_exit(4);
		raw_request(fd, 1, "Echo", false);
		/* The server closes without an answer. */
		_exit(raw_response(fd, &id) == -1 ? 0 : 5);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
}

/* The client against a peer that dies: calls fail, the client says broken. */
static void test_client_broken(const char *dir)
{
	char path[108];
	struct sockaddr_un sa;
	socklen_t len;
	struct ttrpc_client *c = NULL;
	struct error err = {};
	int lfd, afd, code = 0;
	uint8_t buf[256];

	snprintf(path, sizeof(path), "%s/dead.sock", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(ttrpc_address_parse(path, &sa, &len) == 0);
	CHECK(bind(lfd, (struct sockaddr *)&sa, len) == 0);
	CHECK(listen(lfd, 1) == 0);
	CHECK(ttrpc_client_connect(path, &c, &err) == 0);
	afd = accept(lfd, NULL, NULL);
	CHECK(afd >= 0);
	CHECK(!ttrpc_client_broken(c));
	/* Take the request, then hang up without answering. */
	if (fork() == 0) {
		(void)!read(afd, buf, sizeof(buf));
		_exit(0);
	}
	close(afd);
	CHECK(ttrpc_client_call(c, SERVICE, "Echo", NULL, NULL, NULL, 5000, &code, &err) < 0);
	CHECK_EQ(code, -1);
	wait(NULL);
	CHECK(ttrpc_client_broken(c));
	CHECK(ttrpc_client_call(c, SERVICE, "Echo", NULL, NULL, NULL, 5000, &code, &err) == -ENOTCONN);
	ttrpc_client_free(c);
	close(lfd);
	CHECK(ttrpc_client_connect(path, &c, &err) == -ECONNREFUSED);
	unlink(path);
}

int main(void)
{
	char dir[] = "/tmp/ttrpc-test-XXXXXX";
	struct ttrpc_client *c = NULL;
	struct error err = {};
	struct stat st;
	pthread_t th;

	signal(SIGPIPE, SIG_IGN);
	CHECK(mkdtemp(dir) != NULL);
	chmod(dir, 0755);
	snprintf(sock_path, sizeof(sock_path), "%s/s.sock", dir);
	CHECK(ttrpc_server_new(methods, ARRAY_SIZE(methods), NULL, NULL, &server) == 0);
	CHECK(ttrpc_server_listen(server, sock_path) == 0);
	CHECK(stat(sock_path, &st) == 0 && (st.st_mode & 0777) == 0600);
	pthread_create(&th, NULL, server_main, NULL);

	CHECK(ttrpc_client_connect(sock_path, &c, &err) == 0);
	CHECK(ttrpc_client_set_namespace(c, "k8s.io") == 0);
	test_calls(c);
	test_concurrency(c);
	test_raw();
	chmod(sock_path, 0666);
	test_peer_creds();
	CHECK_EQ(echo(c, "k", "after all that", NULL, NULL, &err), 0);

	/* Stop after the reply: the caller still gets its answer. */
	CHECK_EQ(ttrpc_client_call(c, SERVICE, "Stop", NULL, NULL, NULL, 5000, NULL, &err), 0);
	pthread_join(th, NULL);
	CHECK_EQ(server_result, 0);
	ttrpc_client_free(c);
	ttrpc_server_free(server);
	CHECK(access(sock_path, F_OK) < 0 && errno == ENOENT);

	test_client_broken(dir);
	rmdir(dir);
	printf("%d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
