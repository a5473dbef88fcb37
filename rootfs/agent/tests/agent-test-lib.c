/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host side of nacelle-agent for its tests and benchmarks (see
 * agent-test-lib.h).
 */
#include "agent-test-lib.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent-proto/agent-proto.h"
#include "agent-proto/pbjson.h"
#include "agent-proto/rpc.h"

#define MIN_SZ(a, b) ((a) < (b) ? (a) : (b))
/* The hybrid vsock handshake under a loaded nested lab can take seconds. */
#define DIAL_TIMEOUT_MS 30000

int atest_tests, atest_failed;

/* A gRPC client shared by the calls of every thread; freed when it went bad
 * (or was dropped) and no call uses it any more. */
struct client_ref {
	struct agent_rpc_client *client;
	unsigned int users;
	bool stale;
};

static struct {
	bool vsock;
	char path[108];	     /* the agent's Unix socket, or the hybrid vsock socket */
	char stdio_dir[256]; /* Unix mode: DIR of DIR/stdio-<port>.sock */
	unsigned int port;   /* vsock mode: the agent's port */
	char rootfs[256];
	pthread_mutex_t lock; /* cur, every client_ref, next_port */
	struct client_ref *cur;
	unsigned int next_port;
} conn = { .lock = PTHREAD_MUTEX_INITIALIZER, .next_port = ATEST_FIRST_PORT };

void atest_report(bool pass, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	atest_tests++;
	if (!pass)
		atest_failed++;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	/* One line per check (TAP): container output is shown with \n and \t. */
	printf("%s %d - ", pass ? "ok" : "not ok", atest_tests);
	for (const char *c = msg; *c; c++) {
		if (*c == '\n')
			fputs("\\n", stdout);
		else if (*c == '\t')
			fputs("\\t", stdout);
		else if (*c != '\r')
			putchar(*c);
	}
	printf("\n");
	fflush(stdout);
	free(msg);
}

double atest_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the connection ---- */

static void set_path(char *dst, size_t n, const char *src)
{
	if (strlen(src) >= n) {
		fprintf(stderr, "path too long: %s\n", src);
		abort();
	}
	strcpy(dst, src);
}

void atest_use_unix(const char *sock, const char *stdio_dir)
{
	atest_disconnect();
	conn.vsock = false;
	set_path(conn.path, sizeof(conn.path), sock);
	set_path(conn.stdio_dir, sizeof(conn.stdio_dir), stdio_dir);
}

void atest_use_vsock(const char *uds, unsigned int port)
{
	atest_disconnect();
	conn.vsock = true;
	set_path(conn.path, sizeof(conn.path), uds);
	conn.port = port;
}

bool atest_is_vsock(void)
{
	return conn.vsock;
}

void atest_set_rootfs(const char *path)
{
	set_path(conn.rootfs, sizeof(conn.rootfs), path);
}

const char *atest_rootfs(void)
{
	return conn.rootfs;
}

unsigned int atest_port(void)
{
	unsigned int p;

	pthread_mutex_lock(&conn.lock);
	p = conn.next_port++;
	pthread_mutex_unlock(&conn.lock);
	return p;
}

/* Free ref if it is stale and unused (conn.lock held). */
static void client_reap_locked(struct client_ref *ref)
{
	if (!ref->stale || ref->users)
		return;
	if (conn.cur == ref)
		conn.cur = NULL;
	agent_rpc_client_free(ref->client);
	free(ref);
}

/* The current client, dialing a new one if there is none; one more user.
 * Dials under the lock: every caller would wait for the same connection. */
static struct client_ref *client_get(char *why, size_t why_len, int *ret)
{
	struct client_ref *ref;
	struct error err = { 0 };
	int fd, r;

	pthread_mutex_lock(&conn.lock);
	if (conn.cur && conn.cur->stale) {
		ref = conn.cur;
		conn.cur = NULL;
		client_reap_locked(ref);
	}
	if (!conn.cur) {
		/* A dead connection must give an error status, not kill the test. */
		signal(SIGPIPE, SIG_IGN);
		if (conn.vsock)
			fd = agent_rpc_dial_hybrid_vsock(conn.path, conn.port, DIAL_TIMEOUT_MS, &err);
		else
			fd = agent_rpc_dial_unix(conn.path, &err);
		if (fd < 0) {
			if (why)
				snprintf(why, why_len, "%s", err.msg);
			*ret = fd;
			pthread_mutex_unlock(&conn.lock);
			return NULL;
		}
		ref = calloc(1, sizeof(*ref));
		if (!ref)
			abort();
		r = agent_rpc_client_new_fd_take(fd, &ref->client);
		if (r < 0) {
			if (why)
				snprintf(why, why_len, "gRPC client: %s", strerror(-r));
			free(ref);
			*ret = r;
			pthread_mutex_unlock(&conn.lock);
			return NULL;
		}
		conn.cur = ref;
	}
	ref = conn.cur;
	ref->users++;
	pthread_mutex_unlock(&conn.lock);
	*ret = 0;
	return ref;
}

static void client_put(struct client_ref *ref, bool broken)
{
	pthread_mutex_lock(&conn.lock);
	if (broken)
		ref->stale = true;
	ref->users--;
	client_reap_locked(ref);
	pthread_mutex_unlock(&conn.lock);
}

int atest_connect(char *why, size_t why_len)
{
	int r;
	struct client_ref *ref = client_get(why, why_len, &r);

	if (ref)
		client_put(ref, false);
	return r;
}

void atest_disconnect(void)
{
	pthread_mutex_lock(&conn.lock);
	if (conn.cur) {
		struct client_ref *ref = conn.cur;

		ref->stale = true;
		conn.cur = NULL;
		/* freed now, or by the last call still using it */
		if (ref->users == 0) {
			agent_rpc_client_free(ref->client);
			free(ref);
		}
	}
	pthread_mutex_unlock(&conn.lock);
}

static const ProtobufCMethodDescriptor *find_method(const char *name)
{
	const ProtobufCServiceDescriptor *svc = AGENT_SERVICE_DESCRIPTOR;

	for (unsigned int i = 0; i < svc->n_methods; i++)
		if (!strcmp(svc->methods[i].name, name))
			return &svc->methods[i];
	fprintf(stderr, "no RPC %s\n", name);
	abort();
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	return s;
}

static int vctl(char **out, int timeout_s, const char *rpc, const char *fmt, va_list ap)
{
	const ProtobufCMethodDescriptor *m = find_method(rpc);
	struct agent_rpc_status st = { GRPC_STATUS_OK, "" };
	ProtobufCMessage *req = NULL, *resp = NULL;
	struct client_ref *ref;
	struct error err = { 0 };
	char path[256], why[ERROR_MSG_MAX] = "", *json = NULL, *text = NULL;
	int n, r;

	n = vasprintf(&json, fmt, ap);
	if (n < 0)
		abort();
	r = agent_pbjson_parse(m->input, json, (size_t)n, &req, &err);
	free(json);
	if (r < 0) {
		text = xasprintf("bad request: %s: %s", m->input->name, err.msg);
		r = ATEST_BAD_REQUEST;
		goto done;
	}
	ref = client_get(why, sizeof(why), &r);
	if (!ref) {
		text = xasprintf("UNAVAILABLE: %s", why);
		r = UNAVAILABLE;
		goto done;
	}
	snprintf(path, sizeof(path), "/%s/%s", AGENT_SERVICE_DESCRIPTOR->name, m->name);
	r = agent_rpc_call(ref->client, path, req, m->output, timeout_s * 1000, &resp, &st);
	client_put(ref, r < 0 && st.code == GRPC_STATUS_UNAVAILABLE);
	if (r < 0) {
		text = xasprintf("%s: %s", agent_rpc_status_code_to_string(st.code), st.message);
		r = (int)st.code;
		goto done;
	}
	if (agent_pbjson_format(resp, 0, &text, &err) < 0) {
		text = xasprintf("unprintable response: %s", err.msg);
		r = GRPC_STATUS_INTERNAL;
		goto done;
	}
	r = OK;
done:
	if (req)
		protobuf_c_message_free_unpacked(req, NULL);
	if (resp)
		protobuf_c_message_free_unpacked(resp, NULL);
	if (out)
		*out = text;
	else
		free(text);
	return r;
}

int atest_ctl(char **out, int timeout_s, const char *rpc, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vctl(out, timeout_s, rpc, fmt, ap);
	va_end(ap);
	return r;
}

static void *async_main(void *arg)
{
	struct atest_async *a = arg;

	a->code = atest_ctl(&a->out, a->timeout_s, a->rpc, "%s", a->json);
	return NULL;
}

void atest_ctl_async(struct atest_async *a, int timeout_s, const char *rpc, const char *fmt, ...)
{
	va_list ap;

	memset(a, 0, sizeof(*a));
	a->timeout_s = timeout_s;
	a->rpc = rpc;
	va_start(ap, fmt);
	if (vasprintf(&a->json, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (pthread_create(&a->th, NULL, async_main, a) != 0)
		abort();
	a->started = true;
}

int atest_ctl_join(struct atest_async *a, char **out)
{
	if (a->started)
		pthread_join(a->th, NULL);
	a->started = false;
	free(a->json);
	a->json = NULL;
	if (out)
		*out = a->out;
	else
		free(a->out);
	a->out = NULL;
	return a->code;
}

bool atest_expect(int want, const char *what, const char *rpc, const char *fmt, ...)
{
	char *out = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vctl(&out, 30, rpc, fmt, ap);
	va_end(ap);
	atest_report(r == want, "%s: %s -> %d (want %d)%s%.300s", what, rpc, r, want,
		     r == want ? "" : ": ", r == want ? "" : out);
	free(out);
	return r == want;
}

/* ---- JSON text ---- */

char *atest_json_str(const char *s)
{
	size_t len = strlen(s), o = 0;
	char *r = malloc(len * 6 + 3);

	if (!r)
		abort();
	r[o++] = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			r[o++] = '\\';
			r[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)sprintf(r + o, "\\u%04x", c);
		} else {
			r[o++] = (char)c;
		}
	}
	r[o++] = '"';
	r[o] = '\0';
	return r;
}

long atest_json_uint(const char *json, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = json ? strstr(json, pat) : NULL;
	if (!p)
		return -1;
	return strtol(p + strlen(pat), NULL, 10);
}

/* ---- specs and containers ---- */

char *atest_make_spec_ns(bool terminal, const char *args, const char *process_extra,
			 const char *linux_extra, const char *namespaces,
			 const char *mounts_extra)
{
	return xasprintf(
		"{ \"ociVersion\": \"1.1.0\","
		"  \"process\": { \"terminal\": %s, \"args\": %s,"
		"    \"env\": [ \"PATH=/bin\", \"TERM=xterm\" ], \"cwd\": \"/\" %s },"
		"  \"root\": { \"path\": \"replaced-by-the-agent\" },"
		"  \"hostname\": \"nacelle-test\","
		"  \"mounts\": ["
		"    { \"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\" },"
		"    { \"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
		"      \"options\": [ \"nosuid\", \"mode=755\", \"size=1024k\" ] },"
		"    { \"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\","
		"      \"options\": [ \"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\","
		"                   \"mode=0620\" ] } %s ],"
		"  \"linux\": {"
		"    \"namespaces\": %s,"
		"    \"maskedPaths\": [ \"/proc/kcore\" ],"
		"    \"readonlyPaths\": [ \"/proc/sys\" ] %s } }",
		terminal ? "true" : "false", args, process_extra ? process_extra : "",
		mounts_extra ? mounts_extra : "", namespaces ? namespaces : ATEST_DEFAULT_NAMESPACES,
		linux_extra ? linux_extra : "");
}

char *atest_make_spec(bool terminal, const char *args, const char *process_extra,
		      const char *linux_extra)
{
	return atest_make_spec_ns(terminal, args, process_extra, linux_extra, NULL, NULL);
}

int atest_create(const char *id, const char *spec, const char *stdio, char **out)
{
	char *js = atest_json_str(spec);
	int r = atest_ctl(out, 30, "CreateContainer",
			  "{ \"container_id\": \"%s\", \"spec\": %s, \"rootfs\": \"%s\", "
			  "\"stdio\": %s }",
			  id, js, conn.rootfs, stdio ? stdio : "{}");

	free(js);
	return r;
}

long atest_wait(const char *id, const char *exec_id, int timeout_s)
{
	char *out = NULL;
	int r = atest_ctl(&out, timeout_s, "WaitProcess",
			  "{ \"container_id\": \"%s\", \"exec_id\": \"%s\" }", id, exec_id);
	long v = r == OK ? atest_json_uint(out, "exit_status") : -r;

	if (r != OK && r != DEADLINE_EXCEEDED)
		fprintf(stderr, "# WaitProcess %s/%s: %d %s\n", id, exec_id, r, out);
	free(out);
	return v;
}

bool atest_remove(const char *id)
{
	char *out = NULL;
	int r = atest_ctl(&out, 30, "RemoveContainer", "{ \"container_id\": \"%s\" }", id);

	if (r != OK)
		fprintf(stderr, "# RemoveContainer %s: %d %s\n", id, r, out);
	free(out);
	return r == OK;
}

static void *stream_main(void *arg)
{
	struct atest_stream *s = arg;
	char buf[65536];

	if (s->input) {
		size_t len = strlen(s->input), off = 0;

		while (off < len) {
			ssize_t w = write(s->fd, s->input + off, len - off);

			if (w <= 0) {
				s->error = errno;
				break;
			}
			off += (size_t)w;
		}
	}
	if (s->shut_wr)
		shutdown(s->fd, SHUT_WR);
	for (;;) {
		ssize_t n = read(s->fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			s->error = errno;
		if (n <= 0)
			break;
		if (s->kept < ATEST_KEEP_MAX) {
			size_t k = MIN_SZ((size_t)n, ATEST_KEEP_MAX - s->kept);

			memcpy(s->keep + s->kept, buf, k);
			s->kept += k;
		}
		s->total += (uint64_t)n;
	}
	s->keep[s->kept] = '\0';
	return NULL;
}

/* Unix mode: the agent's test-mode socket for port. */
static int dial_stdio_unix(unsigned int port, char *why, size_t why_len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%.*s/stdio-%u.sock",
			     (int)(sizeof(sun.sun_path) - 20), conn.stdio_dir,
			     port) >= sizeof(sun.sun_path)) {
		snprintf(why, why_len, "%s: path too long", conn.stdio_dir);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		snprintf(why, why_len, "connect %s: %s", sun.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

bool atest_stream_open(struct atest_stream *s, unsigned int port, const char *input,
		       bool shut_wr)
{
	struct timeval tv = { .tv_sec = ATEST_STREAM_TIMEOUT_S };
	char why[ERROR_MSG_MAX] = "";

	memset(s, 0, sizeof(*s));
	s->port = port;
	s->input = input;
	s->shut_wr = shut_wr;
	if (conn.vsock) {
		struct error err = { 0 };

		s->fd = agent_rpc_dial_hybrid_vsock(conn.path, port, DIAL_TIMEOUT_MS, &err);
		if (s->fd < 0)
			snprintf(why, sizeof(why), "%s", err.msg);
	} else {
		s->fd = dial_stdio_unix(port, why, sizeof(why));
	}
	if (s->fd < 0) {
		fprintf(stderr, "# stdio port %u: %s\n", port, why);
		s->fd = -1;
		return false;
	}
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (pthread_create(&s->th, NULL, stream_main, s) != 0)
		abort();
	s->started = true;
	return true;
}

void atest_stream_join(struct atest_stream *s)
{
	if (s->started)
		pthread_join(s->th, NULL);
	s->started = false;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

bool atest_run(const char *id, const char *spec, struct atest_run_result *res)
{
	unsigned int po = atest_port(), pe = atest_port();
	char stdio[128], *out = NULL;
	int r;

	memset(res, 0, sizeof(*res));
	res->status = -1;
	res->out.fd = res->err.fd = -1;
	snprintf(stdio, sizeof(stdio), "{ \"stdout_port\": %u, \"stderr_port\": %u }", po, pe);
	r = atest_create(id, spec, stdio, &out);
	if (r != OK) {
		fprintf(stderr, "# CreateContainer %s: %d %s\n", id, r, out);
		free(out);
		return false;
	}
	free(out);
	if (!atest_stream_open(&res->out, po, NULL, true) ||
	    !atest_stream_open(&res->err, pe, NULL, true)) {
		/* removing the process ends the stream that did connect */
		atest_remove(id);
		atest_stream_join(&res->out);
		atest_stream_join(&res->err);
		return false;
	}
	r = atest_ctl(&out, 30, "StartContainer", "{ \"container_id\": \"%s\" }", id);
	if (r != OK)
		fprintf(stderr, "# StartContainer %s: %d %s\n", id, r, out);
	free(out);
	res->status = atest_wait(id, "", 120);
	atest_stream_join(&res->out);
	atest_stream_join(&res->err);
	return atest_remove(id) && r == OK;
}
