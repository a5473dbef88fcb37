/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request validators: every "limit:" of the .proto files, checked in one
 * place, so that a handler only ever sees requests within them. One function
 * per request type, dispatched on the message descriptor.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-proto/agent-proto.h"

static const char *str(const char *s)
{
	return s ? s : "";
}

int agent_proto_check_string(const char *field, const char *s, size_t max, struct error *err)
{
	size_t len = strnlen(str(s), max + 1);

	if (len > max)
		return error_set(err, -EINVAL, "%s: longer than %zu bytes", field, max);
	return 0;
}

static int check_nonempty(const char *field, const char *s, size_t max, struct error *err)
{
	if (!s || !*s)
		return error_set(err, -EINVAL, "%s: missing", field);
	return agent_proto_check_string(field, s, max, err);
}

static int check_count(const char *field, size_t n, size_t max, struct error *err)
{
	if (n > max)
		return error_set(err, -EINVAL, "%s: %zu entries, at most %zu allowed", field, n, max);
	return 0;
}

int agent_proto_check_id(const char *field, const char *id, int allow_empty, struct error *err)
{
	size_t len;

	id = str(id);
	len = strnlen(id, AGENT_MAX_ID + 1);
	if (len == 0)
		return allow_empty ? 0 : error_set(err, -EINVAL, "%s: missing", field);
	if (len > AGENT_MAX_ID)
		return error_set(err, -EINVAL, "%s: longer than %d bytes", field, AGENT_MAX_ID);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)id[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (alnum)
			continue;
		if ((c == '.' || c == '_' || c == '-') && i > 0 && i + 1 < len)
			continue;
		return error_set(err, -EINVAL,
				 "%s: \"%.*s\" is not an id ([A-Za-z0-9._-], starting and ending "
				 "with a letter or digit)", field, (int)len, id);
	}
	return 0;
}

int agent_proto_check_path(const char *field, const char *path, struct error *err)
{
	const char *p;
	int r = check_nonempty(field, path, AGENT_MAX_PATH, err);

	if (r < 0)
		return r;
	if (path[0] != '/')
		return error_set(err, -EINVAL, "%s: \"%.256s\" is not an absolute path", field, path);
	for (p = path; *p;) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return error_set(err, -EINVAL, "%s: \"%.256s\" has a \".\" or \"..\" component",
					 field, path);
		p += n;
	}
	return 0;
}

static int check_port(const char *field, uint32_t port, struct error *err)
{
	if (port != 0 && (port < AGENT_MIN_STDIO_PORT || port > AGENT_MAX_STDIO_PORT))
		return error_set(err, -EINVAL, "%s: %u is outside %u..%u", field, port,
				 AGENT_MIN_STDIO_PORT, AGENT_MAX_STDIO_PORT);
	return 0;
}

int agent_proto_check_stdio(const Nacelle__Agent__V1__Stdio *s, struct error *err)
{
	uint32_t ports[4];
	int r;

	if (!s)
		return 0;
	if ((r = check_port("stdio.stdin_port", s->stdin_port, err)) < 0 ||
	    (r = check_port("stdio.stdout_port", s->stdout_port, err)) < 0 ||
	    (r = check_port("stdio.stderr_port", s->stderr_port, err)) < 0 ||
	    (r = check_port("stdio.terminal_port", s->terminal_port, err)) < 0)
		return r;
	if (s->terminal && (s->stdin_port || s->stdout_port || s->stderr_port))
		return error_set(err, -EINVAL,
				 "stdio: with a terminal only terminal_port may be set");
	if (!s->terminal && s->terminal_port)
		return error_set(err, -EINVAL, "stdio: terminal_port set without terminal");
	ports[0] = s->stdin_port;
	ports[1] = s->stdout_port;
	ports[2] = s->stderr_port;
	ports[3] = s->terminal_port;
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			if (ports[i] && ports[i] == ports[j])
				return error_set(err, -EINVAL, "stdio: port %u given twice", ports[i]);
	return 0;
}

/* Printable ASCII without spaces and without any of `reject`. */
static int check_token(const char *field, const char *s, size_t min, size_t max,
		       const char *reject, struct error *err)
{
	size_t len = strnlen(str(s), max + 1);

	if (len < min || len > max)
		return error_set(err, -EINVAL, "%s: length %zu%s, expected %zu..%zu", field,
				 MIN(len, max), len > max ? "+" : "", min, max);
	for (size_t i = 0; i < len; i++)
		if (!isgraph((unsigned char)s[i]) || strchr(reject, s[i]))
			return error_set(err, -EINVAL, "%s: character %#x not allowed", field,
					 (unsigned char)s[i]);
	return 0;
}

static int check_no_newline(const char *field, const char *s, struct error *err)
{
	if (strpbrk(str(s), "\r\n"))
		return error_set(err, -EINVAL, "%s: contains a line break", field);
	return 0;
}

static int check_ifname(const char *field, const char *name, struct error *err)
{
	int r = check_token(field, name, 1, AGENT_MAX_IFNAME, "/:", err);

	if (r < 0)
		return r;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return error_set(err, -EINVAL, "%s: \"%s\" is not an interface name", field, name);
	return 0;
}

static int check_mac(const char *field, const char *mac, struct error *err)
{
	mac = str(mac);
	if (strlen(mac) != AGENT_MAX_MAC)
		goto bad;
	for (int i = 0; i < AGENT_MAX_MAC; i++) {
		if (i % 3 == 2 ? mac[i] != ':' : !isxdigit((unsigned char)mac[i]))
			goto bad;
	}
	return 0;
bad:
	return error_set(err, -EINVAL, "%s: \"%.32s\" is not a MAC address (aa:bb:cc:dd:ee:ff)",
			 field, mac);
}

/* An IPv4 or IPv6 address, with "/prefix" if want_prefix. */
static int check_ip(const char *field, const char *s, bool want_prefix, struct error *err)
{
	char buf[AGENT_MAX_CIDR + 1];
	unsigned char addr[16];
	char *slash, *end;
	long prefix = -1;
	int family, r;

	if ((r = check_nonempty(field, s, AGENT_MAX_CIDR, err)) < 0)
		return r;
	memcpy(buf, s, strlen(s) + 1);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		errno = 0;
		prefix = strtol(slash + 1, &end, 10);
		if (!isdigit((unsigned char)slash[1]) || *end || errno)
			goto bad;
	}
	if (!!slash != want_prefix)
		goto bad;
	if (inet_pton(AF_INET, buf, addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, buf, addr) == 1)
		family = AF_INET6;
	else
		goto bad;
	if (prefix > (family == AF_INET ? 32 : 128))
		goto bad;
	return 0;
bad:
	return error_set(err, -EINVAL, "%s: \"%s\" is not an IP address%s", field, s,
			 want_prefix ? " with a prefix length (10.0.0.2/24, fd00::2/64)" : "");
}

static int check_timestamp(const char *field, const Nacelle__Agent__V1__Timestamp *t,
			   struct error *err)
{
	if (t && (t->nanos < 0 || t->nanos > 999999999))
		return error_set(err, -EINVAL, "%s.nanos: %d is outside 0..999999999", field,
				 t->nanos);
	return 0;
}

#define CHECK(expr)                                                            \
	do {                                                                   \
		int _r = (expr);                                               \
		if (_r < 0)                                                    \
			return _r;                                             \
	} while (0)

/* Fields named "prefix[i].name" in messages. */
#define FIELD(buf, prefix, i, name) (snprintf(buf, sizeof(buf), "%s[%zu].%s", prefix, i, name), buf)

static int v_health(const void *m, struct error *err)
{
	const Nacelle__Agent__V1__HealthRequest *r = m;

	return agent_proto_check_string("service", r->service, AGENT_MAX_NAME, err);
}

static int v_setup_sandbox(const void *m, struct error *err)
{
	const Nacelle__Agent__V1__SetupSandboxRequest *r = m;
	char f[64];

	CHECK(agent_proto_check_id("sandbox_id", r->sandbox_id, true, err));
	if (*str(r->hostname))
		CHECK(check_token("hostname", r->hostname, 1, AGENT_MAX_HOSTNAME, "/", err));
	CHECK(check_count("dns", r->n_dns, AGENT_MAX_DNS_LINES, err));
	for (size_t i = 0; i < r->n_dns; i++) {
		snprintf(f, sizeof(f), "dns[%zu]", i);
		CHECK(agent_proto_check_string(f, r->dns[i], AGENT_MAX_DNS_LINE, err));
		CHECK(check_no_newline(f, r->dns[i], err));
	}
	CHECK(check_timestamp("time", r->time, err));
	CHECK(check_count("shared_mounts", r->n_shared_mounts, AGENT_MAX_SHARED_MOUNTS, err));
	for (size_t i = 0; i < r->n_shared_mounts; i++) {
		const Nacelle__Agent__V1__SharedMount *sm = r->shared_mounts[i];

		CHECK(check_token(FIELD(f, "shared_mounts", i, "tag"), sm->tag, 1,
				  AGENT_MAX_FS_TAG, "", err));
		CHECK(agent_proto_check_path(FIELD(f, "shared_mounts", i, "mount_point"),
					     sm->mount_point, err));
		CHECK(check_count(FIELD(f, "shared_mounts", i, "options"), sm->n_options,
				  AGENT_MAX_MOUNT_OPTIONS, err));
		for (size_t j = 0; j < sm->n_options; j++)
			/* ',' would smuggle more options into the joined data. */
			CHECK(check_token(FIELD(f, "shared_mounts", i, "options"), sm->options[j],
					  1, AGENT_MAX_MOUNT_OPTION, ",", err));
	}
	return 0;
}

static int v_create_container(const void *m, struct error *err)
{
	const Nacelle__Agent__V1__CreateContainerRequest *r = m;

	CHECK(agent_proto_check_id("container_id", r->container_id, false, err));
	CHECK(check_nonempty("spec", r->spec, AGENT_MAX_SPEC, err));
	CHECK(agent_proto_check_path("rootfs", r->rootfs, err));
	return agent_proto_check_stdio(r->stdio, err);
}

static int v_container_only(const char *id, struct error *err)
{
	return agent_proto_check_id("container_id", id, false, err);
}

static int v_start_container(const void *m, struct error *err)
{
	return v_container_only(((const Nacelle__Agent__V1__StartContainerRequest *)m)->container_id,
				err);
}

static int v_exec_process(const void *m, struct error *err)
{
	const Nacelle__Agent__V1__ExecProcessRequest *r = m;

	CHECK(agent_proto_check_id("container_id", r->container_id, false, err));
	CHECK(agent_proto_check_id("exec_id", r->exec_id, false, err));
	CHECK(check_nonempty("process", r->process, AGENT_MAX_PROCESS, err));
	return agent_proto_check_stdio(r->stdio, err);
}

static int v_process(const char *container_id, const char *exec_id, struct error *err)
{
	CHECK(agent_proto_check_id("container_id", container_id, false, err));
	return agent_proto_check_id("exec_id", exec_id, true, err);
}

static int v_signal_process(const void *m, struct error *err)
{
	const Nacelle__Agent__V1__SignalProcessRequest *r = m;

	CHECK(v_process(r->container_id, r->exec_id, err));
	if (r->signal < 1 || r->signal > AGENT_MAX_SIGNAL)
		return error_set(err, -EINVAL, "signal: %u is outside 1..%d", r->signal,
				 AGENT_MAX_SIGNAL);
	if (r->all && *str(r->exec_id))
		return error_set(err, -EINVAL, "all: only with exec_id \"\"");
	return 0;
}

static int v_wait_process(const void *m, struct error *err)
{
	const Nacelle__Agent__V1__WaitProcessRequest *r = m;

	return v_process(r->container_id, r->exec_id, err);
}

static int v_close_stdin(const void *m, struct error *err)
{
	const Nacelle__Agent__V1__CloseStdinRequest *r = m;

	return v_process(r->container_id, r->exec_id, err);
}

static int v_resize_pty(const void *m, struct error *err)
{
	const Nacelle__Agent__V1__ResizePtyRequest *r = m;

	CHECK(v_process(r->container_id, r->exec_id, err));
	if (r->width < 1 || r->width > AGENT_MAX_PTY_SIZE || r->height < 1 ||
	    r->height > AGENT_MAX_PTY_SIZE)
		return error_set(err, -EINVAL, "width, height: %ux%u is outside 1..%d", r->width,
				 r->height, AGENT_MAX_PTY_SIZE);
	return 0;
}

static int v_pause_container(const void *m, struct error *err)
{
	return v_container_only(((const Nacelle__Agent__V1__PauseContainerRequest *)m)->container_id,
				err);
}

static int v_resume_container(const void *m, struct error *err)
{
	return v_container_only(
		((const Nacelle__Agent__V1__ResumeContainerRequest *)m)->container_id, err);
}

static int v_update_container(const void *m, struct error *err)
{
	const Nacelle__Agent__V1__UpdateContainerRequest *r = m;

	CHECK(v_container_only(r->container_id, err));
	return check_nonempty("resources", r->resources, AGENT_MAX_RESOURCES, err);
}

static int v_stats_container(const void *m, struct error *err)
{
	return v_container_only(((const Nacelle__Agent__V1__StatsContainerRequest *)m)->container_id,
				err);
}

static int v_list_processes(const void *m, struct error *err)
{
	return v_container_only(((const Nacelle__Agent__V1__ListProcessesRequest *)m)->container_id,
				err);
}

static int v_remove_container(const void *m, struct error *err)
{
	const Nacelle__Agent__V1__RemoveContainerRequest *r = m;

	CHECK(v_container_only(r->container_id, err));
	if (r->timeout_ms > AGENT_MAX_REMOVE_TIMEOUT_MS)
		return error_set(err, -EINVAL, "timeout_ms: %u exceeds %d", r->timeout_ms,
				 AGENT_MAX_REMOVE_TIMEOUT_MS);
	return 0;
}

static int v_update_interface(const void *m, struct error *err)
{
	const Nacelle__Agent__V1__UpdateInterfaceRequest *r = m;
	char f[64];

	CHECK(check_ifname("name", r->name, err));
	CHECK(check_mac("mac", r->mac, err));
	if (r->mtu != 0 && (r->mtu < AGENT_MIN_MTU || r->mtu > AGENT_MAX_MTU))
		return error_set(err, -EINVAL, "mtu: %u is outside %d..%d", r->mtu, AGENT_MIN_MTU,
				 AGENT_MAX_MTU);
	CHECK(check_count("addresses", r->n_addresses, AGENT_MAX_ADDRESSES, err));
	for (size_t i = 0; i < r->n_addresses; i++) {
		snprintf(f, sizeof(f), "addresses[%zu]", i);
		CHECK(check_ip(f, r->addresses[i], true, err));
	}
	return 0;
}

static int v_update_routes(const void *m, struct error *err)
{
	const Nacelle__Agent__V1__UpdateRoutesRequest *r = m;
	char f[64];

	CHECK(check_count("routes", r->n_routes, AGENT_MAX_ROUTES, err));
	for (size_t i = 0; i < r->n_routes; i++) {
		const Nacelle__Agent__V1__Route *rt = r->routes[i];

		if (*str(rt->dest) && strcmp(rt->dest, "default"))
			CHECK(check_ip(FIELD(f, "routes", i, "dest"), rt->dest, true, err));
		if (*str(rt->gateway))
			CHECK(check_ip(FIELD(f, "routes", i, "gateway"), rt->gateway, false, err));
		if (*str(rt->source))
			CHECK(check_ip(FIELD(f, "routes", i, "source"), rt->source, false, err));
		if (*str(rt->device))
			CHECK(check_ifname(FIELD(f, "routes", i, "device"), rt->device, err));
		if (!*str(rt->device) && !*str(rt->gateway))
			return error_set(err, -EINVAL, "routes[%zu]: needs a gateway or a device", i);
		if (rt->scope > 255)
			return error_set(err, -EINVAL, "routes[%zu].scope: %u exceeds 255", i,
					 rt->scope);
	}
	return 0;
}

static int v_add_arp_neighbors(const void *m, struct error *err)
{
	const Nacelle__Agent__V1__AddARPNeighborsRequest *r = m;
	char f[64];

	CHECK(check_count("neighbors", r->n_neighbors, AGENT_MAX_NEIGHBORS, err));
	for (size_t i = 0; i < r->n_neighbors; i++) {
		const Nacelle__Agent__V1__ARPNeighbor *n = r->neighbors[i];

		CHECK(check_ip(FIELD(f, "neighbors", i, "ip_address"), n->ip_address, false, err));
		CHECK(check_mac(FIELD(f, "neighbors", i, "mac"), n->mac, err));
		CHECK(check_ifname(FIELD(f, "neighbors", i, "device"), n->device, err));
	}
	return 0;
}

static const struct {
	const ProtobufCMessageDescriptor *desc;
	int (*check)(const void *msg, struct error *err);
} validators[] = {
	{ &nacelle__agent__v1__health_request__descriptor, v_health },
	{ &nacelle__agent__v1__setup_sandbox_request__descriptor, v_setup_sandbox },
	{ &nacelle__agent__v1__create_container_request__descriptor, v_create_container },
	{ &nacelle__agent__v1__start_container_request__descriptor, v_start_container },
	{ &nacelle__agent__v1__exec_process_request__descriptor, v_exec_process },
	{ &nacelle__agent__v1__signal_process_request__descriptor, v_signal_process },
	{ &nacelle__agent__v1__wait_process_request__descriptor, v_wait_process },
	{ &nacelle__agent__v1__close_stdin_request__descriptor, v_close_stdin },
	{ &nacelle__agent__v1__resize_pty_request__descriptor, v_resize_pty },
	{ &nacelle__agent__v1__pause_container_request__descriptor, v_pause_container },
	{ &nacelle__agent__v1__resume_container_request__descriptor, v_resume_container },
	{ &nacelle__agent__v1__update_container_request__descriptor, v_update_container },
	{ &nacelle__agent__v1__stats_container_request__descriptor, v_stats_container },
	{ &nacelle__agent__v1__list_processes_request__descriptor, v_list_processes },
	{ &nacelle__agent__v1__remove_container_request__descriptor, v_remove_container },
	{ &nacelle__agent__v1__update_interface_request__descriptor, v_update_interface },
	{ &nacelle__agent__v1__update_routes_request__descriptor, v_update_routes },
	{ &nacelle__agent__v1__add_arpneighbors_request__descriptor, v_add_arp_neighbors },
	/* VersionRequest, ShutdownRequest, GetOOMEventRequest: no fields. */
};

int agent_proto_validate(const ProtobufCMessage *req, struct error *err)
{
	if (!req)
		return error_set(err, -EINVAL, "no request");
	for (size_t i = 0; i < ARRAY_SIZE(validators); i++)
		if (validators[i].desc == req->descriptor)
			return validators[i].check(req, err);
	return 0;
}
