/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM API client against a tiny fake HTTP server thread: the request it
 * sends, status codes and bodies, responses split into single bytes,
 * interim 100s, close-delimited bodies, and every malformed or oversized
 * answer, a silent server (timeout) and a missing socket.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/test.h"
#include "vmm-client.h"
#include "vmm/api.h"

static char dir[] = "/tmp/nacelle-vmmc-test.XXXXXX";
static char sock_path[256];

struct fake {
	int listen_fd;
	const char *response; /* sent as is; NULL = never answer */
	size_t response_len;  /* 0 = strlen(response) */
	size_t chunk;	      /* bytes per write, 0 = all at once */
	char request[64 * 1024];
	size_t request_len;
	pthread_t thread;
};

/* Read one request: head and Content-Length body. */
static void read_request(int fd, struct fake *f)
{
	size_t need = 0;
	bool head_done = false;

	f->request_len = 0;
	while (f->request_len < sizeof(f->request) - 1) {
		ssize_t n;
		char *sep;

		if (head_done && f->request_len >= need)
			break;
		n = read(fd, f->request + f->request_len, sizeof(f->request) - 1 - f->request_len);
		if (n <= 0)
			break;
		f->request_len += (size_t)n;
		f->request[f->request_len] = '\0';
		if (!head_done && (sep = strstr(f->request, "\r\n\r\n"))) {
			const char *cl = strcasestr(f->request, "Content-Length:");

			head_done = true;
			need = (size_t)(sep - f->request) + 4;
			if (cl && cl < sep)
				need += strtoul(cl + 15, NULL, 10);
		}
	}
	f->request[f->request_len] = '\0';
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->listen_fd, NULL, NULL);
	size_t len, off = 0;

	if (fd < 0)
		return NULL;
	read_request(fd, f);
	if (!f->response) {
		/* Silent: wait for the client to give up. */
		char c;

		while (read(fd, &c, 1) > 0)
			;
		close(fd);
		return NULL;
	}
	len = f->response_len ? f->response_len : strlen(f->response);
	while (off < len) {
		size_t n = f->chunk ? MIN(f->chunk, len - off) : len - off;
		ssize_t w = write(fd, f->response + off, n);

		if (w <= 0)
			break;
		off += (size_t)w;
		if (f->chunk)
			usleep(200);
	}
	close(fd);
	return NULL;
}

static void fake_start(struct fake *f, const char *response, size_t chunk)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(f, 0, sizeof(*f));
	f->response = response;
	f->chunk = chunk;
	unlink(sock_path);
	strcpy(sa.sun_path, sock_path);
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(f->listen_fd >= 0);
	CHECK_EQ(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_EQ(listen(f->listen_fd, 4), 0);
	CHECK_EQ(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
	pthread_join(f->thread, NULL);
	close(f->listen_fd);
	unlink(sock_path);
}

static void test_put_no_content(void)
{
	struct fake f;
	struct vmm_response resp = { 0 };
	struct error err = { 0 };

	fake_start(&f, "HTTP/1.1 204 No Content\r\n\r\n", 0);
	CHECK_EQ(vmm_client_request(sock_path, VMM_CLIENT_PUT, "vm.boot", NULL, 2000, &resp, &err),
		 0);
	fake_stop(&f);
	CHECK_EQ(resp.status, 204);
	CHECK(resp.body == NULL);
	CHECK(strncmp(f.request, "PUT /api/v1/vm.boot HTTP/1.1\r\n", 30) == 0);
	CHECK(strstr(f.request, "\r\nContent-Length: 0\r\n") != NULL);
	CHECK(strstr(f.request, "\r\nConnection: close\r\n") != NULL);
	CHECK(strstr(f.request, "\r\nHost: localhost\r\n") != NULL);
	vmm_response_clear(&resp);
}

static void test_put_body(void)
{
	static const char body[] = "{\"payload\": {\"kernel\": \"/k\"}, \"memory\": {\"size\": 1}}";
	struct fake f;
	struct error err = { 0 };
	char *out = (char *)"unchanged";

	fake_start(&f, "HTTP/1.1 204 \r\n\r\n", 0);
	CHECK_EQ(vmm_client_call(sock_path, VMM_CLIENT_PUT, "vm.create", body, 2000, &out, &err),
		 0);
	fake_stop(&f);
	CHECK(out == NULL);
	CHECK(strstr(f.request, "\r\nContent-Type: application/json\r\n") != NULL);
	CHECK(strstr(f.request, "\r\nContent-Length: 52\r\n") != NULL);
	CHECK(f.request_len > strlen(body) &&
	      strcmp(f.request + f.request_len - strlen(body), body) == 0);
}

static void test_get_body_split(void)
{
	static const char resp_text[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
					"content-length:   14 \r\n\r\n{\"state\":\"Ok\"}";
	struct fake f;
	struct vmm_response resp = { 0 };
	struct error err = { 0 };

	/* One byte per write: every split of head and body. */
	fake_start(&f, resp_text, 1);
	CHECK_EQ(vmm_client_request(sock_path, VMM_CLIENT_GET, "vm.info", NULL, 5000, &resp, &err),
		 0);
	fake_stop(&f);
	CHECK(strncmp(f.request, "GET /api/v1/vm.info HTTP/1.1\r\n", 30) == 0);
	CHECK(strstr(f.request, "Content-Length") == NULL);
	CHECK_EQ(resp.status, 200);
	CHECK_EQ(resp.body_len, 14);
	CHECK(resp.body && strcmp(resp.body, "{\"state\":\"Ok\"}") == 0);
	vmm_response_clear(&resp);
}

static void test_close_delimited_and_continue(void)
{
	struct fake f;
	struct vmm_response resp = { 0 };
	struct error err = { 0 };
	char *body = NULL;

	fake_start(&f, "HTTP/1.0 200 OK\r\n\r\n{\"pong\": 1}", 0);
	CHECK_EQ(vmm_client_request(sock_path, VMM_CLIENT_GET, "vmm.ping", NULL, 2000, &resp, &err),
		 0);
	fake_stop(&f);
	CHECK_EQ(resp.status, 200);
	CHECK(resp.body && strcmp(resp.body, "{\"pong\": 1}") == 0);
	vmm_response_clear(&resp);

	fake_start(&f, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 3);
	CHECK_EQ(vmm_client_call(sock_path, VMM_CLIENT_GET, "vmm.ping", NULL, 2000, &body, &err), 0);
	fake_stop(&f);
	CHECK(body && strcmp(body, "ok") == 0);
	free(body);
}

struct status_case {
	const char *response;
	int expect;
	const char *in_message;
};

static const struct status_case status_cases[] = {
	{ "HTTP/1.1 409 Conflict\r\nContent-Length: 33\r\n\r\n{\"error\":\"the VM is not running\"}",
	  -EBUSY, "HTTP 409: the VM is not running" },
	{ "HTTP/1.1 400 Bad Request\r\nContent-Length: 29\r\n\r\n{\"error\":\"fs: unknown field\"}",
	  -EINVAL, "fs: unknown field" },
	{ "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", -ENOENT, "HTTP 404" },
	{ "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 11\r\n\r\nboot failed", -EIO,
	  "HTTP 500: boot failed" },
	{ "HTTP/1.1 501 Not Implemented\r\n\r\n", -ENOSYS, "HTTP 501" },
	{ "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", -EAGAIN, "HTTP 503" },
	{ "HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n", -EIO, "HTTP 302" },
};

static void test_status_codes(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(status_cases); i++) {
		struct fake f;
		struct error err = { 0 };
		char *body = NULL;
		int r;

		fake_start(&f, status_cases[i].response, 0);
		r = vmm_client_call(sock_path, VMM_CLIENT_PUT, "vm.shutdown", NULL, 2000, &body,
				    &err);
		fake_stop(&f);
		CHECK_EQ(r, status_cases[i].expect);
		CHECK(body == NULL);
		if (!strstr(err.msg, status_cases[i].in_message)) {
			fprintf(stderr, "  case %zu: \"%s\" lacks \"%s\"\n", i, err.msg,
				status_cases[i].in_message);
			CHECK(0);
		}
		CHECK(strstr(err.msg, "PUT vm.shutdown") != NULL);
	}
}

static const struct status_case bad_cases[] = {
	{ "HTTP/2 200 OK\r\n\r\n", -EPROTO, "not an HTTP/1.x response" },
	{ "SSH-2.0-OpenSSH\r\n\r\n", -EPROTO, "not an HTTP/1.x response" },
	{ "HTTP/1.1 2x0 OK\r\n\r\n", -EPROTO, "bad status line" },
	{ "HTTP/1.1 999 What\r\n\r\n", -EPROTO, "bad status line" },
	{ "HTTP/1.1 200OK\r\n\r\n", -EPROTO, "bad status line" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", -EPROTO,
	  "Transfer-Encoding" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", -E2BIG, "larger than" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", -EPROTO, "bad Content-Length" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", -EPROTO,
	  "conflicting Content-Length" },
	{ "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", -EPROTO, "malformed header" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", -EPROTO, "5 of 10 body bytes" },
	{ "HTTP/1.1 200 OK\r\nContent-Len", -EPROTO, "in the middle of the response head" },
	{ "", -EPROTO, "without a response" },
	{ "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
	  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 OK\r\n\r\n",
	  -EPROTO, "too many interim responses" },
};

static void test_bad_responses(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		struct fake f;
		struct vmm_response resp = { 0 };
		struct error err = { 0 };
		int r;

		fake_start(&f, bad_cases[i].response, 0);
		r = vmm_client_request(sock_path, VMM_CLIENT_GET, "vm.info", NULL, 2000, &resp,
				       &err);
		fake_stop(&f);
		CHECK_EQ(r, bad_cases[i].expect);
		if (r == 0)
			vmm_response_clear(&resp);
		if (!strstr(err.msg, bad_cases[i].in_message)) {
			fprintf(stderr, "  case %zu: \"%s\" lacks \"%s\"\n", i, err.msg,
				bad_cases[i].in_message);
			CHECK(0);
		}
	}
}

static void test_oversized(void)
{
	size_t n = VMM_CLIENT_MAX_HEAD + 512;
	char *big = malloc(n + 1);
	struct fake f;
	struct vmm_response resp = { 0 };
	struct error err = { 0 };

	/* A head that never ends. */
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	memset(big + 20, 'a', n - 20);
	big[n] = '\0';
	fake_start(&f, big, 0);
	CHECK_EQ(vmm_client_request(sock_path, VMM_CLIENT_GET, "vm.info", NULL, 2000, &resp, &err),
		 -EPROTO);
	fake_stop(&f);
	CHECK(strstr(err.msg, "head larger than") != NULL);
	free(big);

	/* A close-delimited body beyond the limit. */
	n = VMM_CLIENT_MAX_BODY + 4096;
	big = malloc(n + 1);
	memcpy(big, "HTTP/1.1 200 OK\r\n\r\n", 19);
	memset(big + 19, 'b', n - 19);
	big[n] = '\0';
	fake_start(&f, big, 0);
	CHECK_EQ(vmm_client_request(sock_path, VMM_CLIENT_GET, "vm.info", NULL, 5000, &resp, &err),
		 -E2BIG);
	fake_stop(&f);
	free(big);

	/* Request bodies are bounded too. */
	big = malloc(VMM_CLIENT_MAX_REQUEST_BODY + 2);
	memset(big, ' ', VMM_CLIENT_MAX_REQUEST_BODY + 1);
	big[VMM_CLIENT_MAX_REQUEST_BODY + 1] = '\0';
	CHECK_EQ(vmm_client_request(sock_path, VMM_CLIENT_PUT, "vm.create", big, 100, &resp, &err),
		 -E2BIG);
	free(big);
}

static void test_timeout_and_errors(void)
{
	struct fake f;
	struct vmm_response resp = { 0 };
	struct error err = { 0 };
	struct timespec a, b;
	long ms;

	fake_start(&f, NULL, 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK_EQ(vmm_client_request(sock_path, VMM_CLIENT_GET, "vm.info", NULL, 300, &resp, &err),
		 -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	fake_stop(&f); /* the client closed: the silent server's read ends */
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	CHECK(ms >= 290 && ms < 2000);
	CHECK(strstr(err.msg, "in time") != NULL);

	/* No server. */
	CHECK_EQ(vmm_client_request(sock_path, VMM_CLIENT_GET, "vm.info", NULL, 300, &resp, &err),
		 -ENOENT);
	CHECK(strstr(err.msg, sock_path) != NULL);
	/* Names we would never send. */
	CHECK_EQ(vmm_client_request(sock_path, VMM_CLIENT_GET, "../etc", NULL, 300, &resp, &err),
		 -EINVAL);
	CHECK_EQ(vmm_client_request(sock_path, VMM_CLIENT_GET, "vm info", NULL, 300, &resp, &err),
		 -EINVAL);
	CHECK_EQ(vmm_client_request(sock_path, VMM_CLIENT_GET, "", NULL, 300, &resp, &err),
		 -EINVAL);
}

/* ---- against nacelle-vmm's own API server ---- */

static volatile int real_stop;

static void real_handler(void *opaque, const struct vmm_api_request *req,
			 struct vmm_api_reply *reply)
{
	switch (req->action) {
	case VMM_API_PING:
		reply->http_status = 200;
		reply->body = vmm_api_json_ping();
		break;
	case VMM_API_VM_CREATE:
		vmm_config_free(req->config);
		free(req->config);
		reply->http_status = 204;
		break;
	default:
		reply->http_status = 409;
		reply->body = vmm_api_json_error("the VM is not running");
		break;
	}
}

static void *real_loop(void *arg)
{
	struct vmm_api_server *srv = arg;

	while (!real_stop) {
		struct pollfd p = { .fd = vmm_api_server_fd(srv), .events = POLLIN };

		if (poll(&p, 1, 20) > 0)
			vmm_api_server_dispatch(srv, real_handler, NULL);
	}
	return NULL;
}

static void test_real_server(void)
{
	struct vmm_api_server *srv = NULL;
	struct error err = { 0 };
	pthread_t t;
	char *body = NULL;

	CHECK_EQ(vmm_api_server_start(sock_path, &srv, &err), 0);
	if (!srv)
		return;
	real_stop = 0;
	CHECK_EQ(pthread_create(&t, NULL, real_loop, srv), 0);

	CHECK_EQ(vmm_client_call(sock_path, VMM_CLIENT_GET, "vmm.ping", NULL, 2000, &body, &err), 0);
	CHECK(body && strstr(body, "\"version\"") != NULL);
	free(body);
	body = NULL;
	CHECK_EQ(vmm_client_call(sock_path, VMM_CLIENT_PUT, "vm.shutdown", NULL, 2000, &body, &err),
		 -EBUSY);
	CHECK(strstr(err.msg, "HTTP 409: the VM is not running") != NULL);
	/* The server's own checks: a VmConfig it refuses, a path it lacks. */
	CHECK_EQ(vmm_client_call(sock_path, VMM_CLIENT_PUT, "vm.create", "{\"bogus\": 1}", 2000,
				 &body, &err),
		 -EINVAL);
	CHECK(strstr(err.msg, "bogus") != NULL);
	CHECK_EQ(vmm_client_call(sock_path, VMM_CLIENT_GET, "vm.nothing", NULL, 2000, &body, &err),
		 -ENOENT);
	CHECK_EQ(vmm_client_call(sock_path, VMM_CLIENT_GET, "vm.boot", NULL, 2000, &body, &err),
		 -EOPNOTSUPP);

	real_stop = 1;
	pthread_join(t, NULL);
	vmm_api_server_stop(srv);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/api.sock", dir);
	test_put_no_content();
	test_put_body();
	test_get_body_split();
	test_close_delimited_and_continue();
	test_status_codes();
	test_bad_responses();
	test_oversized();
	test_timeout_and_errors();
	test_real_server();
	unlink(sock_path);
	rmdir(dir);
	fprintf(stderr, "%d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
