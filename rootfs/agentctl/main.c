/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nacelle-agentctl: call any RPC of nacelle-agent from the host, with the
 * request and the response as JSON. It knows no RPC by itself: the method,
 * its request and response types come from the Agent service descriptor, and
 * agent_pbjson_*() map JSON to the messages by walking their descriptors.
 *
 *   nacelle-agentctl --vsock /run/nacelle/<id>/vsock.sock Health
 *   nacelle-agentctl --vsock S SignalProcess '{"container_id": "c1", "signal": 15}'
 *   nacelle-agentctl --vsock S CreateContainer @request.json
 *   nacelle-agentctl --unix /tmp/agent.sock --timeout 0 WaitProcess - < req.json
 *   nacelle-agentctl --list
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "agent-proto/agent-proto.h"
#include "agent-proto/pbjson.h"
#include "agent-proto/rpc.h"
#include "common/log.h"

/* Exit codes: a status from the agent exits with its gRPC code (1..16);
 * failures before the call reached it use sysexits.h's numbers. */
#define EXIT_USAGE 64       /* EX_USAGE */
#define EXIT_DATA 65        /* EX_DATAERR: the request JSON */
#define EXIT_UNAVAILABLE 69 /* EX_UNAVAILABLE: cannot connect */
#define EXIT_SOFTWARE 70    /* EX_SOFTWARE: the response could not be printed */

#define DEFAULT_TIMEOUT_S 30

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: nacelle-agentctl (--vsock PATH [--port N] | --unix PATH) [--timeout S]\n"
		"                        [--compact] RPC [JSON | @FILE | -]\n"
		"       nacelle-agentctl --list\n"
		"\n"
		"Calls one RPC of nacelle-agent (service %s) and prints the response as JSON.\n"
		"The request is JSON text, a file (@FILE) or stdin (-); {} if omitted. Fields\n"
		"use the .proto names (agent-proto/nacelle/agent/v1/*.proto).\n"
		"\n"
		"  --vsock PATH   the VMM's hybrid vsock socket; connects with \"CONNECT <port>\"\n"
		"  --port N       the agent's vsock port (default %d)\n"
		"  --unix PATH    a Unix socket the agent serves directly (tests)\n"
		"  --timeout S    seconds to wait for the answer, 0 = forever (default %d)\n"
		"  --compact      print the response on one line\n"
		"  --list         list the RPCs with their request and response types\n"
		"  --debug        log what happens to stderr\n"
		"\n"
		"Exit status: 0 success; 1..16 the gRPC status code the agent answered;\n"
		"64 usage, 65 bad request JSON, 69 cannot connect, 70 bad response.\n",
		AGENT_SERVICE, AGENT_VSOCK_PORT, DEFAULT_TIMEOUT_S);
}

/* "CreateContainer", "createcontainer", "create-container", "create_container"
 * and the full path all name the same method. */
static bool method_matches(const ProtobufCMethodDescriptor *m, const char *name)
{
	const char *a = m->name, *b = name;
	char path[256];

	snprintf(path, sizeof(path), "/%s/%s", AGENT_SERVICE_DESCRIPTOR->name, m->name);
	if (!strcmp(name, path))
		return true;
	for (;;) {
		while (*b == '-' || *b == '_')
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
		a++;
		b++;
	}
}

static const ProtobufCMethodDescriptor *find_method(const char *name)
{
	const ProtobufCServiceDescriptor *svc = AGENT_SERVICE_DESCRIPTOR;

	for (unsigned int i = 0; i < svc->n_methods; i++)
		if (method_matches(&svc->methods[i], name))
			return &svc->methods[i];
	return NULL;
}

static void list_methods(void)
{
	const ProtobufCServiceDescriptor *svc = AGENT_SERVICE_DESCRIPTOR;

	for (unsigned int i = 0; i < svc->n_methods; i++)
		printf("%-16s %s -> %s\n", svc->methods[i].name, svc->methods[i].input->name,
		       svc->methods[i].output->name);
}

/* Read all of f, at most AGENT_PBJSON_MAX_INPUT bytes. */
static int read_all(FILE *f, char **ret, size_t *ret_len)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		size_t n;

		if (len == cap) {
			char *nb;

			if (cap > AGENT_PBJSON_MAX_INPUT) {
				free(buf);
				return -E2BIG;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f)) {
				free(buf);
				return -EIO;
			}
			break;
		}
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int load_request(const char *arg, char **ret, size_t *ret_len)
{
	FILE *f;
	int r;

	if (!arg) {
		*ret = strdup("{}");
		*ret_len = 2;
		return *ret ? 0 : -ENOMEM;
	}
	if (!strcmp(arg, "-"))
		return read_all(stdin, ret, ret_len);
	if (arg[0] == '@') {
		f = fopen(arg + 1, "re");
		if (!f)
			return -errno;
		r = read_all(f, ret, ret_len);
		fclose(f);
		return r;
	}
	*ret = strdup(arg);
	*ret_len = strlen(arg);
	return *ret ? 0 : -ENOMEM;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end || errno || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "vsock", required_argument, NULL, 'v' },
		{ "port", required_argument, NULL, 'p' },
		{ "unix", required_argument, NULL, 'u' },
		{ "timeout", required_argument, NULL, 't' },
		{ "compact", no_argument, NULL, 'c' },
		{ "list", no_argument, NULL, 'l' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *vsock = NULL, *unix_path = NULL;
	unsigned long port = AGENT_VSOCK_PORT, timeout_s = DEFAULT_TIMEOUT_S;
	unsigned int flags = AGENT_PBJSON_PRETTY;
	const ProtobufCMethodDescriptor *method;
	ProtobufCMessage *req = NULL, *resp = NULL;
	struct agent_rpc_client *client = NULL;
	struct agent_rpc_status st = { GRPC_STATUS_OK, "" };
	struct error err = { 0 };
	char path[256], *json = NULL, *out = NULL;
	size_t json_len = 0;
	int c, fd, r, timeout_ms;

	while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (c) {
		case 'v':
			vsock = optarg;
			break;
		case 'u':
			unix_path = optarg;
			break;
		case 'p':
			if (parse_uint(optarg, UINT32_MAX, &port) < 0) {
				fprintf(stderr, "nacelle-agentctl: bad --port %s\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 't':
			if (parse_uint(optarg, INT32_MAX / 1000, &timeout_s) < 0) {
				fprintf(stderr, "nacelle-agentctl: bad --timeout %s\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'c':
			flags &= ~AGENT_PBJSON_PRETTY;
			break;
		case 'l':
			list_methods();
			return 0;
		case 'd':
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!!vsock == !!unix_path || optind >= argc || argc - optind > 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	method = find_method(argv[optind]);
	if (!method) {
		fprintf(stderr, "nacelle-agentctl: no RPC %s (see --list)\n", argv[optind]);
		return EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/%s/%s", AGENT_SERVICE_DESCRIPTOR->name, method->name);

	r = load_request(argc - optind == 2 ? argv[optind + 1] : NULL, &json, &json_len);
	if (r < 0) {
		fprintf(stderr, "nacelle-agentctl: reading the request: %s\n", strerror(-r));
		return EXIT_DATA;
	}
	r = agent_pbjson_parse(method->input, json, json_len, &req, &err);
	free(json);
	if (r < 0) {
		fprintf(stderr, "nacelle-agentctl: %s: %s\n", method->input->name, err.msg);
		return EXIT_DATA;
	}

	/* A dead connection must give an error status, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	timeout_ms = (int)timeout_s * 1000;
	if (vsock)
		fd = agent_rpc_dial_hybrid_vsock(vsock, (uint32_t)port,
						 timeout_ms ? MIN(timeout_ms,
								  AGENT_RPC_HANDSHAKE_TIMEOUT_MS)
							    : 0,
						 &err);
	else
		fd = agent_rpc_dial_unix(unix_path, &err);
	if (fd < 0) {
		fprintf(stderr, "nacelle-agentctl: %s\n", err.msg);
		protobuf_c_message_free_unpacked(req, NULL);
		return EXIT_UNAVAILABLE;
	}
	r = agent_rpc_client_new_fd_take(fd, &client);
	if (r < 0) {
		fprintf(stderr, "nacelle-agentctl: cannot set up gRPC: %s\n", strerror(-r));
		protobuf_c_message_free_unpacked(req, NULL);
		return EXIT_UNAVAILABLE;
	}
	r = agent_rpc_call(client, path, req, method->output, timeout_ms, &resp, &st);
	protobuf_c_message_free_unpacked(req, NULL);
	agent_rpc_client_free(client);
	if (r < 0) {
		fprintf(stderr, "nacelle-agentctl: %s: %s: %s\n", method->name,
			agent_rpc_status_code_to_string(st.code), st.message);
		return st.code > 0 && st.code <= GRPC_STATUS_UNAUTHENTICATED ? (int)st.code
									      : EXIT_SOFTWARE;
	}
	r = agent_pbjson_format(resp, flags, &out, &err);
	protobuf_c_message_free_unpacked(resp, NULL);
	if (r < 0) {
		fprintf(stderr, "nacelle-agentctl: %s\n", err.msg);
		return EXIT_SOFTWARE;
	}
	printf("%s\n", out);
	free(out);
	return fflush(stdout) == 0 ? 0 : EXIT_SOFTWARE;
}
