/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nacelle-agentctl against an in-process agent (test handlers on the real
 * RPC server), reached through a Unix socket and through a fake VMM speaking
 * the hybrid vsock handshake: output, exit codes, request sources.
 * The binary's path comes from $NACELLE_AGENTCTL (set by CTest).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent-proto/agent-proto.h"
#include "agent-proto/rpc.h"
#include "common/test.h"

extern char **environ;

static grpc_status_code h_health(void *userdata, struct agent_rpc_ctx *ctx,
				 const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
				 struct agent_rpc_status *st)
{
	Nacelle__Agent__V1__HealthResponse *resp =
		(void *)agent_rpc_ctx_new(ctx, &nacelle__agent__v1__health_response__descriptor);

	if (!resp)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	resp->status = NACELLE__AGENT__V1__HEALTH_RESPONSE__SERVING_STATUS__SERVING_STATUS_SERVING;
	*ret_resp = &resp->base;
	return GRPC_STATUS_OK;
}

static grpc_status_code h_list(void *userdata, struct agent_rpc_ctx *ctx,
			       const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
			       struct agent_rpc_status *st)
{
	const Nacelle__Agent__V1__ListProcessesRequest *r = (const void *)req;
	Nacelle__Agent__V1__ListProcessesResponse *resp;
	static int32_t pids[] = { 1, 42, 4194304 };

	if (strcmp(r->container_id, "c1"))
		return agent_rpc_status_set(st, GRPC_STATUS_NOT_FOUND, "no container %s",
					    r->container_id);
	resp = (void *)agent_rpc_ctx_new(ctx, &nacelle__agent__v1__list_processes_response__descriptor);
	if (!resp)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	resp->n_pids = ARRAY_SIZE(pids);
	resp->pids = pids;
	*ret_resp = &resp->base;
	return GRPC_STATUS_OK;
}

/* Blocks until cancelled (the client's deadline). */
static grpc_status_code h_wait(void *userdata, struct agent_rpc_ctx *ctx,
			       const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
			       struct agent_rpc_status *st)
{
	struct pollfd p = { .fd = agent_rpc_ctx_cancel_fd(ctx), .events = POLLIN };

	while (p.fd >= 0 && poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	return agent_rpc_status_set(st, GRPC_STATUS_CANCELLED, "cancelled");
}

static grpc_status_code h_create(void *userdata, struct agent_rpc_ctx *ctx,
				 const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
				 struct agent_rpc_status *st)
{
	const Nacelle__Agent__V1__CreateContainerRequest *r = (const void *)req;
	Nacelle__Agent__V1__CreateContainerResponse *resp =
		(void *)agent_rpc_ctx_new(ctx, &nacelle__agent__v1__create_container_response__descriptor);

	if (!resp)
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	/* Echo something of the request back, to show it arrived whole. */
	resp->pid = (int32_t)(strlen(r->spec) + (r->stdio ? r->stdio->stdout_port : 0));
	*ret_resp = &resp->base;
	return GRPC_STATUS_OK;
}

#define M(name, in, out, h)                                                                  \
	{ AGENT_METHOD(name), &nacelle__agent__v1__##in##__descriptor,                      \
	  &nacelle__agent__v1__##out##__descriptor, h, agent_proto_validate, 0 }

static const struct agent_rpc_method methods[] = {
	M("Health", health_request, health_response, h_health),
	M("ListProcesses", list_processes_request, list_processes_response, h_list),
	M("WaitProcess", wait_process_request, wait_process_response, h_wait),
	M("CreateContainer", create_container_request, create_container_response, h_create),
};

/* ---- the agent's side: a Unix socket and a fake VMM ---- */

struct listener {
	int fd;
	bool hybrid; /* expect "CONNECT <port>\n"; answer OK for 1024 only */
	struct agent_rpc_server *server;
	pthread_t thread;
};

static void serve_hybrid(struct listener *l, int fd)
{
	char line[64];
	size_t n = 0;

	while (n + 1 < sizeof(line) && read(fd, line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	if (strcmp(line, "CONNECT 1024") || write(fd, "OK 1073741825\n", 14) != 14) {
		close(fd); /* no listener on that port: the VMM closes */
		return;
	}
	if (agent_rpc_server_add_fd_take(l->server, fd) < 0)
		fprintf(stderr, "cannot serve a connection\n");
}

static void *listener_thread(void *arg)
{
	struct listener *l = arg;

	for (;;) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL; /* shut down */
		}
		if (l->hybrid)
			serve_hybrid(l, fd);
		else if (agent_rpc_server_add_fd_take(l->server, fd) < 0)
			fprintf(stderr, "cannot serve a connection\n");
	}
}

static int listener_start(struct listener *l, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(l->fd, 16) < 0)
		return -errno;
	return -pthread_create(&l->thread, NULL, listener_thread, l);
}

static void listener_stop(struct listener *l)
{
	shutdown(l->fd, SHUT_RDWR); /* wakes accept() */
	pthread_join(l->thread, NULL);
	close(l->fd);
}

/* ---- running the binary ---- */

static const char *agentctl;

struct result {
	int status; /* exit code, or 128 + signal */
	char out[8192];
	char err[8192];
};

static void read_fd(int fd, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < size && (r = read(fd, buf + n, size - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
}

/* Run agentctl with args (NULL-terminated), stdin from `input` (or /dev/null). */
static void run(struct result *res, const char *input, const char *const *args)
{
	int out[2], err[2], in[2];
	posix_spawn_file_actions_t fa;
	const char *argv[16];
	size_t n = 0;
	pid_t pid;
	int status;

	argv[n++] = agentctl;
	while (*args && n + 1 < ARRAY_SIZE(argv))
		argv[n++] = *args++;
	argv[n] = NULL;
	memset(res, 0, sizeof(*res));
	res->status = -1;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(in, O_CLOEXEC) < 0)
		return;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	if (posix_spawn(&pid, agentctl, &fa, NULL, (char *const *)argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (input && write(in[1], input, strlen(input)) < 0)
		perror("write");
	close(in[1]);
	/* Outputs are small: reading one pipe after the other cannot block the child. */
	read_fd(out[0], res->out, sizeof(res->out));
	read_fd(err[0], res->err, sizeof(res->err));
	close(out[0]);
	close(err[0]);
	if (waitpid(pid, &status, 0) == pid)
		res->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define RUN(res, input, ...)                                                                 \
	do {                                                                                 \
		const char *const _args[] = { __VA_ARGS__, NULL };                           \
		run((res), (input), _args);                                                  \
	} while (0)

static void expect(const struct result *r, int status, const char *out, const char *err)
{
	CHECK_EQ(r->status, status);
	if (out)
		CHECK(strstr(r->out, out) != NULL);
	if (err)
		CHECK(strstr(r->err, err) != NULL);
	if (r->status != status || (out && !strstr(r->out, out)) || (err && !strstr(r->err, err)))
		fprintf(stderr, "  status %d\n  stdout: %s\n  stderr: %s\n", r->status, r->out,
			r->err);
}

int main(void)
{
	char dir[] = "/tmp/agentctl-test-XXXXXX", sock[64], vsock[64], req[64];
	struct agent_rpc_server *server = NULL;
	struct listener ul = { 0 }, vl = { 0 };
	struct result r;
	FILE *f;

	agentctl = getenv("NACELLE_AGENTCTL");
	if (!agentctl || access(agentctl, X_OK) < 0) {
		printf("skipped: $NACELLE_AGENTCTL does not name the nacelle-agentctl binary\n");
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/agent.sock", dir);
	snprintf(vsock, sizeof(vsock), "%s/vsock.sock", dir);
	snprintf(req, sizeof(req), "%s/req.json", dir);
	if (agent_rpc_server_new(methods, ARRAY_SIZE(methods), NULL, &server) < 0)
		return 1;
	ul.server = vl.server = server;
	vl.hybrid = true;
	if (listener_start(&ul, sock) < 0 || listener_start(&vl, vsock) < 0)
		return 1;

	RUN(&r, NULL, "--list");
	expect(&r, 0, "CreateContainer  nacelle.agent.v1.CreateContainerRequest -> "
		      "nacelle.agent.v1.CreateContainerResponse", NULL);
	RUN(&r, NULL, "--unix", sock, "Health");
	expect(&r, 0, "\"status\": \"SERVING_STATUS_SERVING\"", NULL);
	RUN(&r, NULL, "--vsock", vsock, "health");
	expect(&r, 0, "SERVING_STATUS_SERVING", NULL);
	RUN(&r, NULL, "--vsock", vsock, "--port", "1024", "--compact",
	    "/nacelle.agent.v1.Agent/ListProcesses", "{\"containerId\": \"c1\"}");
	expect(&r, 0, "{\"pids\":[1,42,4194304]}\n", NULL);

	/* The agent's status: its code is the exit status. */
	RUN(&r, NULL, "--unix", sock, "list-processes", "{\"container_id\": \"c2\"}");
	expect(&r, GRPC_STATUS_NOT_FOUND, NULL, "ListProcesses: NOT_FOUND: no container c2");
	RUN(&r, NULL, "--unix", sock, "ListProcesses", "{\"container_id\": \"../c\"}");
	expect(&r, GRPC_STATUS_INVALID_ARGUMENT, NULL, "INVALID_ARGUMENT: container_id");
	RUN(&r, NULL, "--unix", sock, "Version");
	expect(&r, GRPC_STATUS_UNIMPLEMENTED, NULL, "unknown method /nacelle.agent.v1.Agent/Version");
	RUN(&r, NULL, "--unix", sock, "--timeout", "1", "WaitProcess",
	    "{\"container_id\": \"c1\"}");
	expect(&r, GRPC_STATUS_DEADLINE_EXCEEDED, NULL, "DEADLINE_EXCEEDED");

	/* Requests from stdin and from a file. */
	RUN(&r, "{\"container_id\": \"c1\", \"spec\": \"{}\", \"rootfs\": \"/r\","
		" \"stdio\": {\"stdout_port\": 2000}}",
	    "--unix", sock, "CreateContainer", "-");
	expect(&r, 0, "\"pid\": 2002", NULL);
	f = fopen(req, "we");
	if (f) {
		fputs("{\"container_id\": \"c1\", \"spec\": \"{\\\"a\\\": 1}\", \"rootfs\": \"/r\"}",
		      f);
		fclose(f);
	}
	{
		char at[80];

		snprintf(at, sizeof(at), "@%s", req);
		RUN(&r, NULL, "--unix", sock, "CreateContainer", at);
		expect(&r, 0, "\"pid\": 8", NULL);
	}

	/* Failures before the call. */
	RUN(&r, NULL, "--unix", sock, "NoSuchRpc");
	expect(&r, 64, NULL, "no RPC NoSuchRpc");
	RUN(&r, NULL, "Health");
	expect(&r, 64, NULL, "Usage:");
	RUN(&r, NULL, "--unix", sock, "Health", "{\"service\": ");
	expect(&r, 65, NULL, "invalid JSON");
	RUN(&r, NULL, "--unix", sock, "Health", "{\"servise\": \"x\"}");
	expect(&r, 65, NULL, "servise: no such field in nacelle.agent.v1.HealthRequest");
	RUN(&r, NULL, "--vsock", vsock, "--port", "1025", "Health");
	expect(&r, 69, NULL, "connection closed after CONNECT 1025");
	RUN(&r, NULL, "--unix", req, "Health");
	expect(&r, 69, NULL, "connecting to");

	listener_stop(&ul);
	listener_stop(&vl);
	agent_rpc_server_free(server);
	unlink(sock);
	unlink(vsock);
	unlink(req);
	rmdir(dir);
	printf("agentctl-test: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
