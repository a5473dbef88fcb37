/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API server end to end over a real Unix socket: a fake main loop polls
 * vmm_api_server_fd() and dispatches to a handler that keeps a pretend VM's
 * state; clients are raw sockets, so what is checked is the bytes on the
 * wire: every endpoint (method, path, status, body), keep-alive, pipelining,
 * 404/405/400/501, limits, slow and silent clients, the connection limit,
 * a client that leaves mid-request, and shutdown.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/test.h"
#include "http.h"
#include "vmm/api.h"

struct fake_vmm {
	struct vmm_api_server *srv;
	pthread_t thread;
	int stop_fd;
	enum vmm_vm_state state;
	struct vmm_config *cfg;
	unsigned int handled;
	bool shutdown_vmm; /* vmm.shutdown was answered: stop the server, as the VMM will */
	unsigned int reboot_delay_ms;
};

static char sock_path[108];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void reply(struct vmm_api_reply *r, int status, char *body)
{
	r->http_status = status;
	r->body = body;
}

static void conflict(struct vmm_api_reply *r, const char *msg)
{
	reply(r, 409, vmm_api_json_error(msg));
}

#define FAIL(msg)                                                              \
	do {                                                                   \
		conflict(r, (msg));                                            \
		return;                                                        \
	} while (0)

/* What the VMM's handler does, on a pretend VM. */
static void handler(void *opaque, const struct vmm_api_request *req, struct vmm_api_reply *r)
{
	static const struct vmm_counter counters[] = { { "_disk0", "read_ops", 3 } };
	struct fake_vmm *vmm = opaque;

	vmm->handled++;
	switch (req->action) {
	case VMM_API_PING:
		reply(r, 200, vmm_api_json_ping());
		break;
	case VMM_API_SHUTDOWN_VMM:
		vmm->shutdown_vmm = true;
		reply(r, 204, NULL);
		break;
	case VMM_API_VM_CREATE:
		if (vmm->state != VMM_VM_NOT_CREATED) {
			vmm_config_free(req->config);
			free(req->config);
			conflict(r, "VM is already created");
			break;
		}
		vmm->cfg = req->config;
		vmm->state = VMM_VM_CREATED;
		reply(r, 204, NULL);
		break;
	case VMM_API_VM_BOOT:
		if (vmm->state != VMM_VM_CREATED)
			FAIL(vmm->state == VMM_VM_NOT_CREATED ? "VM is not created" :
									       "VM is already booted");
		vmm->state = VMM_VM_RUNNING;
		reply(r, 204, NULL);
		break;
	case VMM_API_VM_INFO:
		if (!vmm->cfg)
			FAIL("VM is not created");
		reply(r, 200, vmm_api_json_info(vmm->state, vmm->cfg, vmm->cfg->memory_size));
		break;
	case VMM_API_VM_COUNTERS:
		reply(r, 200, vmm_api_json_counters(counters, ARRAY_SIZE(counters)));
		break;
	case VMM_API_VM_PAUSE:
		if (vmm->state != VMM_VM_RUNNING)
			FAIL("VM is not running");
		vmm->state = VMM_VM_PAUSED;
		reply(r, 204, NULL);
		break;
	case VMM_API_VM_RESUME:
		if (vmm->state != VMM_VM_PAUSED)
			FAIL("VM is not paused");
		vmm->state = VMM_VM_RUNNING;
		reply(r, 204, NULL);
		break;
	case VMM_API_VM_REBOOT:
		usleep(vmm->reboot_delay_ms * 1000);
		/* fall through */
	case VMM_API_VM_POWER_BUTTON:
	case VMM_API_VM_SHUTDOWN:
		if (vmm->state != VMM_VM_RUNNING && vmm->state != VMM_VM_PAUSED)
			FAIL("VM is not running");
		if (req->action == VMM_API_VM_SHUTDOWN)
			vmm->state = VMM_VM_SHUTDOWN;
		reply(r, 204, NULL);
		break;
	case VMM_API_VM_DELETE:
		vmm_config_free(vmm->cfg);
		free(vmm->cfg);
		vmm->cfg = NULL;
		vmm->state = VMM_VM_NOT_CREATED;
		reply(r, 204, NULL);
		break;
	default:
		reply(r, 500, NULL);
		break;
	}
}

/* The VMM's main loop, reduced to the API. */
static void *main_loop(void *arg)
{
	struct fake_vmm *vmm = arg;

	for (;;) {
		struct pollfd fds[2] = {
			{ .fd = vmm_api_server_fd(vmm->srv), .events = POLLIN },
			{ .fd = vmm->stop_fd, .events = POLLIN },
		};

		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents)
			break;
		if (fds[0].revents & POLLIN)
			vmm_api_server_dispatch(vmm->srv, handler, vmm);
		if (vmm->shutdown_vmm) {
			vmm_api_server_stop(vmm->srv);
			vmm->srv = NULL;
			break;
		}
	}
	return NULL;
}

/* --- a raw client --- */

struct resp {
	int status;
	char head[4096];
	char body[65536];
	size_t body_len;
};

static int client_connect(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 15 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(addr.sun_path, sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static bool send_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n <= 0)
			return false;
		s += n;
		len -= (size_t)n;
	}
	return true;
}

/* One response; -1 on EOF or timeout before a whole one. */
static int read_response(int fd, struct resp *r)
{
	size_t len = 0, cl = 0;
	const char *h;

	memset(r, 0, sizeof(*r));
	while (len < sizeof(r->head) - 1) {
		if (recv(fd, r->head + len, 1, 0) != 1)
			return -1;
		len++;
		if (len >= 4 && memcmp(r->head + len - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
		return -1;
	h = strcasestr(r->head, "\r\nContent-Length: ");
	if (h)
		cl = strtoul(h + 18, NULL, 10);
	if (cl >= sizeof(r->body))
		return -1;
	while (r->body_len < cl) {
		ssize_t n = recv(fd, r->body + r->body_len, cl - r->body_len, 0);

		if (n <= 0)
			return -1;
		r->body_len += (size_t)n;
	}
	return 0;
}

static bool at_eof(int fd)
{
	char c;

	return recv(fd, &c, 1, 0) == 0;
}

/* One request on a fresh connection. */
static int req_raw(const char *raw, struct resp *r)
{
	int fd = client_connect(), ret = -1;

	if (fd >= 0 && send_all(fd, raw, strlen(raw)))
		ret = read_response(fd, r);
	if (fd >= 0)
		close(fd);
	return ret;
}

static int req(const char *method, const char *path, const char *body, struct resp *r)
{
	char raw[8192];

	if (body)
		snprintf(raw, sizeof(raw),
			 "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\n\r\n%s",
			 method, path, strlen(body), body);
	else
		snprintf(raw, sizeof(raw), "%s %s HTTP/1.1\r\nHost: localhost\r\n\r\n", method,
			 path);
	return req_raw(raw, r);
}

static void expect_at(int line, const char *method, const char *path, const char *body,
		      int status, const char *needle)
{
	struct resp r;
	int ok = req(method, path, body, &r);

	CHECK_EQ(ok, 0);
	CHECK_EQ(r.status, status);
	CHECK(needle == NULL || strstr(r.body, needle) != NULL);
	if (ok != 0 || r.status != status || (needle && !strstr(r.body, needle)))
		fprintf(stderr, "  line %d: %s %s -> %d '%s'\n", line, method, path, r.status,
			r.body);
}

#define EXPECT(method, path, body, st, needle) expect_at(__LINE__, method, path, body, st, needle)

#define V1 "/api/v1/"

static const char vm_json[] = "{\"payload\":{\"kernel\":\"/boot/vmlinuz\",\"cmdline\":\"quiet\"},"
			      "\"cpus\":{\"boot_vcpus\":2,\"max_vcpus\":2},"
			      "\"memory\":{\"size\":268435456}}";

static void test_endpoints(struct fake_vmm *vmm)
{
	struct resp r;

	EXPECT("GET", V1 "vmm.ping", NULL, 200, "\"version\":\"" NACELLE_VERSION "\"");
	EXPECT("GET", V1 "vm.info", NULL, 409, "{\"error\":\"VM is not created\"}");
	EXPECT("PUT", V1 "vm.boot", NULL, 409, "VM is not created");
	EXPECT("PUT", V1 "vm.create", vm_json, 204, NULL);
	EXPECT("PUT", V1 "vm.create", vm_json, 409, "already created");
	EXPECT("GET", V1 "vm.info", NULL, 200, "\"state\":\"Created\"");
	EXPECT("GET", V1 "vm.info", NULL, 200, "\"boot_vcpus\":2");
	EXPECT("GET", V1 "vm.info", NULL, 200, "\"memory_actual_size\":268435456");
	EXPECT("PUT", V1 "vm.pause", NULL, 409, "not running");
	EXPECT("PUT", V1 "vm.boot", NULL, 204, NULL);
	EXPECT("PUT", V1 "vm.boot", NULL, 409, "already booted");
	EXPECT("GET", V1 "vm.info", NULL, 200, "\"state\":\"Running\"");
	EXPECT("GET", V1 "vm.counters", NULL, 200, "{\"_disk0\":{\"read_ops\":3}}");
	EXPECT("PUT", V1 "vm.pause", NULL, 204, NULL);
	EXPECT("PUT", V1 "vm.pause", NULL, 409, "not running");
	EXPECT("GET", V1 "vm.info", NULL, 200, "\"state\":\"Paused\"");
	EXPECT("PUT", V1 "vm.resume", NULL, 204, NULL);
	EXPECT("PUT", V1 "vm.resume", NULL, 409, "not paused");
	EXPECT("PUT", V1 "vm.power-button", NULL, 204, NULL);
	EXPECT("PUT", V1 "vm.reboot", NULL, 204, NULL);
	EXPECT("PUT", V1 "vm.shutdown", NULL, 204, NULL);
	EXPECT("PUT", V1 "vm.delete", NULL, 204, NULL);
	EXPECT("GET", V1 "vm.info", NULL, 409, "not created");
	CHECK(vmm->state == VMM_VM_NOT_CREATED);

	/* 204: no body, no Content-Length; 200: JSON with its length. */
	CHECK_EQ(req("PUT", V1 "vm.create", vm_json, &r), 0);
	CHECK(strncmp(r.head, "HTTP/1.1 204 No Content\r\n", 25) == 0);
	CHECK(!strcasestr(r.head, "Content-Length") && !strcasestr(r.head, "Content-Type"));
	CHECK_EQ(req("GET", V1 "vmm.ping", NULL, &r), 0);
	CHECK(strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0);
	CHECK(strstr(r.head, "\r\nContent-Type: application/json\r\n") != NULL);
	CHECK(r.body_len > 0 && r.body[0] == '{' && strstr(r.body, "\"features\":[]"));
	EXPECT("PUT", V1 "vm.delete", NULL, 204, NULL);
}

static void test_errors(void)
{
	static const char *const not_implemented[] = {
		"vm.resize",	   "vm.resize-disk",     "vm.resize-zone",	    "vm.add-device",
		"vm.remove-device", "vm.add-disk",	  "vm.add-fs",		    "vm.add-generic-vhost-user",
		"vm.add-pmem",	   "vm.add-net",	  "vm.add-vsock",	    "vm.add-vdpa",
		"vm.add-user-device", "vm.snapshot",	  "vm.coredump",	    "vm.nmi",
		"vm.restore",	   "vm.receive-migration", "vm.send-migration",
	};
	struct resp r;
	char path[64], msg[96];

	EXPECT("GET", V1 "vm.bogus", NULL, 404, "no such endpoint: /api/v1/vm.bogus");
	EXPECT("GET", "/", NULL, 404, "no such endpoint");
	EXPECT("GET", "/api/v2/vmm.ping", NULL, 404, "no such endpoint");
	EXPECT("GET", V1 "vmm.ping/", NULL, 404, "no such endpoint");
	/* The query is not part of the route. */
	EXPECT("GET", V1 "vmm.ping?x=1", NULL, 200, "\"version\"");

	CHECK_EQ(req("GET", V1 "vm.boot", NULL, &r), 0);
	CHECK_EQ(r.status, 405);
	CHECK(strstr(r.head, "\r\nAllow: PUT\r\n") != NULL);
	CHECK(strstr(r.body, "vm.boot takes PUT, not GET") != NULL);
	CHECK_EQ(req("PUT", V1 "vmm.ping", NULL, &r), 0);
	CHECK(r.status == 405 && strstr(r.head, "\r\nAllow: GET\r\n"));
	EXPECT("POST", V1 "vm.create", vm_json, 405, "vm.create takes PUT, not POST");
	EXPECT("DELETE", V1 "vm.delete", NULL, 405, "takes PUT");
	EXPECT("FOO", V1 "vm.boot", NULL, 405, "not FOO");

	for (size_t i = 0; i < ARRAY_SIZE(not_implemented); i++) {
		snprintf(path, sizeof(path), V1 "%s", not_implemented[i]);
		snprintf(msg, sizeof(msg), "{\"error\":\"%s is not implemented in nacelle yet\"}",
			 not_implemented[i]);
		EXPECT("PUT", path, "{}", 501, msg);
	}
	EXPECT("GET", V1 "vm.snapshot", NULL, 405, "takes PUT");

	/* Bodies: where none is taken, and vm.create's VmConfig. */
	EXPECT("PUT", V1 "vm.boot", "{}", 400, "vm.boot takes no request body");
	EXPECT("PUT", V1 "vm.create", NULL, 400, "empty body");
	EXPECT("PUT", V1 "vm.create", "{\"payload\":", 400, "vm.create: invalid JSON");
	EXPECT("PUT", V1 "vm.create", "not json", 400, "invalid JSON");
	EXPECT("PUT", V1 "vm.create", "{\"payload\":{\"kernel\":\"/k\"},\"bogus\":1}", 400,
	       "unknown field 'bogus'");
	EXPECT("PUT", V1 "vm.create", "{}", 400, "payload.kernel is required");
	EXPECT("PUT", V1 "vm.create", "{\"payload\":{\"kernel\":\"/k\"},\"iommu\":true}", 501,
	       "iommu is not supported by nacelle yet");
	EXPECT("PUT", V1 "vm.create",
	       "{\"payload\":{\"kernel\":\"/k\"},\"cpus\":{\"boot_vcpus\":300}}", 400,
	       "between 1 and 254");

	/* Malformed requests: 400 (or 505), and the connection closes. */
	{
		static const struct {
			const char *raw;
			int status;
		} bad[] = {
			{ "GARBAGE\r\n\r\n", 400 },
			{ "GET / HTTP/2.0\r\n\r\n", 505 },
			{ "GET /api/v1/vmm.ping HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
			{ "GET /api/v1/vmm.ping HTTP/1.1\nHost: x\n\n", 400 },
			{ "PUT /api/v1/vm.boot HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
			  400 },
		};

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			int fd = client_connect();

			CHECK(fd >= 0);
			if (fd < 0)
				continue;
			CHECK(send_all(fd, bad[i].raw, strlen(bad[i].raw)));
			CHECK_EQ(read_response(fd, &r), 0);
			CHECK_EQ(r.status, bad[i].status);
			CHECK(strstr(r.head, "Connection: close") && strstr(r.body, "{\"error\":"));
			CHECK(at_eof(fd));
			close(fd);
		}
	}
}

static void test_limits(void)
{
	size_t big = API_MAX_HEADER_BYTES + 100;
	char *raw = malloc(API_MAX_BODY_BYTES + 200);
	struct resp r;
	int fd;

	if (!raw)
		return;
	/* An oversized head: 400, closed, and the server goes on. */
	memcpy(raw, "GET /api/v1/vmm.ping HTTP/1.1\r\nX: ", 34);
	memset(raw + 34, 'a', big - 34);
	raw[big] = '\0';
	CHECK_EQ(req_raw(raw, &r), 0);
	CHECK(r.status == 400 && strstr(r.body, "request head too large"));
	EXPECT("GET", V1 "vmm.ping", NULL, 200, "version");

	/* An oversized body is refused on its Content-Length, before it is sent. */
	CHECK_EQ(req_raw("PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", &r),
		 0);
	CHECK(r.status == 400 && strstr(r.body, "request body too large"));
	EXPECT("GET", V1 "vmm.ping", NULL, 200, "version");

	/* A body at the limit is read whole (and is no VmConfig). */
	fd = client_connect();
	if (fd >= 0) {
		int n = snprintf(raw, 200, "PUT /api/v1/vm.create HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
				 API_MAX_BODY_BYTES);

		memset(raw + n, ' ', API_MAX_BODY_BYTES);
		CHECK(send_all(fd, raw, (size_t)n + API_MAX_BODY_BYTES));
		CHECK_EQ(read_response(fd, &r), 0);
		CHECK(r.status == 400 && strstr(r.body, "invalid JSON"));
		close(fd);
	}
	free(raw);
}

/* Two requests on one connection, one after the other and then pipelined. */
static void test_keep_alive(void)
{
	static const char ping[] = "GET /api/v1/vmm.ping HTTP/1.1\r\n\r\n";
	static const char pipelined[] = "GET /api/v1/vmm.ping HTTP/1.1\r\n\r\n"
					"PUT /api/v1/vm.bogus HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
					"GET /api/v1/vmm.ping HTTP/1.1\r\nConnection: close\r\n\r\n";
	struct resp r;
	int fd = client_connect();

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(send_all(fd, ping, strlen(ping)));
	CHECK(read_response(fd, &r) == 0 && r.status == 200);
	CHECK(!strstr(r.head, "Connection: close"));
	CHECK(send_all(fd, ping, strlen(ping)));
	CHECK(read_response(fd, &r) == 0 && r.status == 200);
	CHECK(send_all(fd, pipelined, strlen(pipelined)));
	CHECK(read_response(fd, &r) == 0 && r.status == 200);
	CHECK(read_response(fd, &r) == 0 && r.status == 404);
	CHECK(read_response(fd, &r) == 0 && r.status == 200);
	CHECK(strstr(r.head, "Connection: close") != NULL);
	CHECK(at_eof(fd));
	close(fd);

	/* HTTP/1.0: closed unless asked otherwise. */
	CHECK_EQ(req_raw("GET /api/v1/vmm.ping HTTP/1.0\r\n\r\n", &r), 0);
	CHECK(r.status == 200 && strstr(r.head, "Connection: close"));
	fd = client_connect();
	if (fd >= 0) {
		static const char ka[] = "GET /api/v1/vmm.ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";

		CHECK(send_all(fd, ka, strlen(ka)));
		CHECK(read_response(fd, &r) == 0 && strstr(r.head, "Connection: keep-alive"));
		CHECK(send_all(fd, ka, strlen(ka)));
		CHECK(read_response(fd, &r) == 0 && r.status == 200);
		close(fd);
	}

	/* Expect: 100-continue gets the interim response, then the real one. */
	fd = client_connect();
	if (fd >= 0) {
		char head[] = "PUT /api/v1/vm.create HTTP/1.1\r\nExpect: 100-continue\r\n"
			      "Content-Length: 2\r\n\r\n";

		CHECK(send_all(fd, head, strlen(head)));
		CHECK(read_response(fd, &r) == 0 && r.status == 100);
		CHECK(send_all(fd, "{}", 2));
		CHECK(read_response(fd, &r) == 0 && r.status == 400);
		close(fd);
	}
}

/* 16 clients are served; the 17th is told why and closed; a freed slot serves again. */
static void test_connection_limit(void)
{
	static const char ping[] = "GET /api/v1/vmm.ping HTTP/1.1\r\n\r\n";
	int fds[API_MAX_CONNECTIONS];
	struct resp r;
	int extra;

	for (int i = 0; i < API_MAX_CONNECTIONS; i++) {
		fds[i] = client_connect();
		CHECK(fds[i] >= 0);
		if (fds[i] >= 0) {
			CHECK(send_all(fds[i], ping, strlen(ping)));
			CHECK(read_response(fds[i], &r) == 0 && r.status == 200);
		}
	}
	extra = client_connect();
	CHECK(extra >= 0);
	if (extra >= 0) {
		CHECK(read_response(extra, &r) == 0 && r.status == 503);
		CHECK(strstr(r.body, "too many connections (the limit is 16)") != NULL);
		CHECK(at_eof(extra));
		close(extra);
	}
	/* The 16 still work. */
	for (int i = 0; i < API_MAX_CONNECTIONS; i++) {
		if (fds[i] < 0)
			continue;
		CHECK(send_all(fds[i], ping, strlen(ping)));
		CHECK(read_response(fds[i], &r) == 0 && r.status == 200);
	}
	close(fds[0]);
	usleep(100 * 1000); /* the server sees the EOF */
	EXPECT("GET", V1 "vmm.ping", NULL, 200, "version");
	for (int i = 1; i < API_MAX_CONNECTIONS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	usleep(100 * 1000);
}

/* A client that leaves while its request is with the main thread. */
static void test_hangup(struct fake_vmm *vmm)
{
	static const char reboot[] = "PUT /api/v1/vm.reboot HTTP/1.1\r\n\r\n";
	unsigned int before = vmm->handled;
	int fd = client_connect();

	EXPECT("PUT", V1 "vm.create", vm_json, 204, NULL);
	EXPECT("PUT", V1 "vm.boot", NULL, 204, NULL);
	vmm->reboot_delay_ms = 300;
	if (fd >= 0) {
		CHECK(send_all(fd, reboot, strlen(reboot)));
		usleep(50 * 1000);
		close(fd);
	}
	usleep(400 * 1000);
	vmm->reboot_delay_ms = 0;
	EXPECT("GET", V1 "vmm.ping", NULL, 200, "version");
	CHECK(vmm->handled >= before + 4);
	EXPECT("PUT", V1 "vm.delete", NULL, 204, NULL);
}

/*
 * A silent client and a slow one hold a slot each but block nobody; after
 * API_CLIENT_TIMEOUT_MS the slow one hears 408 and both are closed.
 */
static void test_slow_clients(void)
{
	int silent = client_connect(), slow = client_connect();
	uint64_t start = now_ms(), took;
	struct resp r;

	CHECK(silent >= 0 && slow >= 0);
	if (silent < 0 || slow < 0)
		return;
	CHECK(send_all(slow, "GET /api/v1/vmm.pi", 18));
	EXPECT("GET", V1 "vmm.ping", NULL, 200, "version");
	CHECK(now_ms() - start < 1000);

	CHECK_EQ(read_response(slow, &r), 0);
	took = now_ms() - start;
	CHECK_EQ(r.status, 408);
	CHECK(strstr(r.body, "request not complete within 10000 ms") != NULL);
	CHECK(took >= API_CLIENT_TIMEOUT_MS - 100 && took < API_CLIENT_TIMEOUT_MS + 2000);
	CHECK(at_eof(slow));
	/* The silent one is closed too, without a word. */
	CHECK(at_eof(silent));
	close(slow);
	close(silent);
}

static void test_start_errors(void)
{
	struct vmm_api_server *srv = NULL;
	char path[200], file[128];
	struct error err;
	int fd;

	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	CHECK_EQ(vmm_api_server_start(path, &srv, &err), -ENAMETOOLONG);
	CHECK_EQ(vmm_api_server_start("", &srv, &err), -EINVAL);

	/* A file that is not a socket is not replaced. */
	snprintf(file, sizeof(file), "%s.file", sock_path);
	fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK_EQ(vmm_api_server_start(file, &srv, &err), -EEXIST);
	CHECK(strstr(err.msg, "is not a socket") != NULL);
	unlink(file);

	/* A live socket (ours, running) is not taken over. */
	CHECK_EQ(vmm_api_server_start(sock_path, &srv, &err), -EADDRINUSE);
	CHECK(strstr(err.msg, "another process") != NULL);
	CHECK(srv == NULL);

	/* A stale one (bound, nobody listening) is replaced. */
	snprintf(file, sizeof(file), "%s.stale", sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		struct sockaddr_un addr = { .sun_family = AF_UNIX };

		strcpy(addr.sun_path, file);
		CHECK(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
		close(fd);
	}
	CHECK_EQ(vmm_api_server_start(file, &srv, &err), 0);
	vmm_api_server_stop(srv);
	CHECK(access(file, F_OK) < 0);
	vmm_api_server_stop(NULL);
	CHECK(vmm_api_server_fd(NULL) < 0);
}

int main(void)
{
	struct fake_vmm vmm = { .state = VMM_VM_NOT_CREATED };
	struct error err = { 0 };
	struct stat st;
	struct resp r;
	int idle;

	snprintf(sock_path, sizeof(sock_path), "/tmp/nacelle-api-test.%d.sock", (int)getpid());
	if (vmm_api_server_start(sock_path, &vmm.srv, &err) < 0) {
		fprintf(stderr, "server-test: cannot start the server: %s\n", err.msg);
		return 1;
	}
	CHECK(stat(sock_path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
	vmm.stop_fd = eventfd(0, EFD_CLOEXEC);
	pthread_create(&vmm.thread, NULL, main_loop, &vmm);

	test_endpoints(&vmm);
	test_errors();
	test_limits();
	test_keep_alive();
	test_connection_limit();
	test_hangup(&vmm);
	test_start_errors();
	test_slow_clients();

	/* vmm.shutdown: the reply leaves even though the server stops right after it. */
	idle = client_connect();
	CHECK_EQ(req("PUT", V1 "vmm.shutdown", NULL, &r), 0);
	CHECK_EQ(r.status, 204);
	pthread_join(vmm.thread, NULL);
	CHECK(vmm.srv == NULL);
	CHECK(access(sock_path, F_OK) < 0);
	if (idle >= 0) {
		CHECK(at_eof(idle));
		close(idle);
	}
	close(vmm.stop_fd);
	vmm_config_free(vmm.cfg);
	free(vmm.cfg);
	printf("server-test: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
