/* SPDX-License-Identifier: Apache-2.0 */
/* The request validators: each limit of the .proto files, at and past its edge. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-proto/agent-proto.h"
#include "common/test.h"

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Expect the check to pass (want == NULL) or fail with `want` in the message. */
#define EXPECT(call, want)                                                                 \
	do {                                                                               \
		struct error _e = { 0 };                                                   \
		int _r = (call);                                                           \
		if ((want) == NULL) {                                                      \
			CHECK_EQ(_r, 0);                                                   \
			if (_r)                                                            \
				fprintf(stderr, "  unexpected: %s\n", _e.msg);            \
		} else {                                                                   \
			CHECK_EQ(_r, -EINVAL);                                             \
			if (!strstr(_e.msg, (want) ? (want) : "")) {                       \
				CHECK(!"message");                                         \
				fprintf(stderr, "  got \"%s\", want \"%s\"\n", _e.msg,    \
					(want) ? (want) : "");                             \
			}                                                                  \
		}                                                                          \
	} while (0)

#define OK NULL

static void test_ids(void)
{
	char *max = repeat('a', AGENT_MAX_ID), *over = repeat('a', AGENT_MAX_ID + 1);

	EXPECT(agent_proto_check_id("id", "c1", 0, &_e), OK);
	EXPECT(agent_proto_check_id("id", "a.b_c-D9", 0, &_e), OK);
	EXPECT(agent_proto_check_id("id", max, 0, &_e), OK);
	EXPECT(agent_proto_check_id("id", "", 1, &_e), OK);
	EXPECT(agent_proto_check_id("id", NULL, 1, &_e), OK);
	EXPECT(agent_proto_check_id("id", "", 0, &_e), "id: missing");
	EXPECT(agent_proto_check_id("id", over, 0, &_e), "longer than 76");
	EXPECT(agent_proto_check_id("id", "..", 0, &_e), "not an id");
	EXPECT(agent_proto_check_id("id", ".a", 0, &_e), "not an id");
	EXPECT(agent_proto_check_id("id", "a-", 0, &_e), "not an id");
	EXPECT(agent_proto_check_id("id", "a/b", 0, &_e), "not an id");
	EXPECT(agent_proto_check_id("id", "a b", 0, &_e), "not an id");
	free(max);
	free(over);
}

static void test_paths(void)
{
	char *long_path = repeat('a', AGENT_MAX_PATH);

	long_path[0] = '/';
	EXPECT(agent_proto_check_path("p", "/", &_e), OK);
	EXPECT(agent_proto_check_path("p", "/run/a.b/..c/", &_e), OK);
	EXPECT(agent_proto_check_path("p", long_path, &_e), OK);
	EXPECT(agent_proto_check_path("p", "", &_e), "p: missing");
	EXPECT(agent_proto_check_path("p", "run", &_e), "not an absolute path");
	EXPECT(agent_proto_check_path("p", "/run/../etc", &_e), "\"..\" component");
	EXPECT(agent_proto_check_path("p", "/run/.", &_e), "component");
	EXPECT(agent_proto_check_path("p", "/..", &_e), "component");
	free(long_path);
	long_path = repeat('a', AGENT_MAX_PATH + 1);
	long_path[0] = '/';
	EXPECT(agent_proto_check_path("p", long_path, &_e), "longer than");
	free(long_path);
}

static void test_stdio(void)
{
	Nacelle__Agent__V1__Stdio s = NACELLE__AGENT__V1__STDIO__INIT;

	EXPECT(agent_proto_check_stdio(NULL, &_e), OK);
	EXPECT(agent_proto_check_stdio(&s, &_e), OK);
	s.stdin_port = 1025;
	s.stdout_port = 0x7fffffff;
	EXPECT(agent_proto_check_stdio(&s, &_e), OK);
	s.stderr_port = 1025;
	EXPECT(agent_proto_check_stdio(&s, &_e), "port 1025 given twice");
	s.stderr_port = 1024;
	EXPECT(agent_proto_check_stdio(&s, &_e), "stdio.stderr_port: 1024 is outside");
	s.stderr_port = 0x80000000u;
	EXPECT(agent_proto_check_stdio(&s, &_e), "outside");
	s.stderr_port = 0;
	s.terminal = 1;
	EXPECT(agent_proto_check_stdio(&s, &_e), "only terminal_port");
	s.stdin_port = s.stdout_port = 0;
	s.terminal_port = 5000;
	EXPECT(agent_proto_check_stdio(&s, &_e), OK);
	s.terminal = 0;
	EXPECT(agent_proto_check_stdio(&s, &_e), "terminal_port set without terminal");
}

static void test_requests(void)
{
	Nacelle__Agent__V1__CreateContainerRequest cc = NACELLE__AGENT__V1__CREATE_CONTAINER_REQUEST__INIT;
	Nacelle__Agent__V1__SignalProcessRequest sig = NACELLE__AGENT__V1__SIGNAL_PROCESS_REQUEST__INIT;
	Nacelle__Agent__V1__ResizePtyRequest rp = NACELLE__AGENT__V1__RESIZE_PTY_REQUEST__INIT;
	Nacelle__Agent__V1__SetupSandboxRequest sb = NACELLE__AGENT__V1__SETUP_SANDBOX_REQUEST__INIT;
	Nacelle__Agent__V1__SharedMount sm = NACELLE__AGENT__V1__SHARED_MOUNT__INIT, *smp = &sm;
	Nacelle__Agent__V1__Timestamp ts = NACELLE__AGENT__V1__TIMESTAMP__INIT;
	Nacelle__Agent__V1__UpdateInterfaceRequest ui = NACELLE__AGENT__V1__UPDATE_INTERFACE_REQUEST__INIT;
	Nacelle__Agent__V1__UpdateRoutesRequest ur = NACELLE__AGENT__V1__UPDATE_ROUTES_REQUEST__INIT;
	Nacelle__Agent__V1__Route rt = NACELLE__AGENT__V1__ROUTE__INIT, *rtp = &rt;
	Nacelle__Agent__V1__AddARPNeighborsRequest an = NACELLE__AGENT__V1__ADD_ARPNEIGHBORS_REQUEST__INIT;
	Nacelle__Agent__V1__ARPNeighbor nb = NACELLE__AGENT__V1__ARPNEIGHBOR__INIT, *nbp = &nb;
	Nacelle__Agent__V1__RemoveContainerRequest rm = NACELLE__AGENT__V1__REMOVE_CONTAINER_REQUEST__INIT;
	Nacelle__Agent__V1__VersionRequest ver = NACELLE__AGENT__V1__VERSION_REQUEST__INIT;
	Nacelle__Agent__V1__HealthRequest hr = NACELLE__AGENT__V1__HEALTH_REQUEST__INIT;
	char *dns[2] = { (char *)"nameserver 10.0.0.1", (char *)"search a" };
	char *opts[2] = { (char *)"ro", (char *)"nosuid" };
	char *addrs[2] = { (char *)"10.1.0.5/24", (char *)"fd00::5/64" };
	char *big;

	EXPECT(agent_proto_validate(&ver.base, &_e), OK);
	EXPECT(agent_proto_validate(NULL, &_e), "no request");
	big = repeat('x', AGENT_MAX_NAME + 1);
	hr.service = big;
	EXPECT(agent_proto_validate(&hr.base, &_e), "service: longer than 256");
	free(big);

	EXPECT(agent_proto_validate(&cc.base, &_e), "container_id: missing");
	cc.container_id = (char *)"c1";
	EXPECT(agent_proto_validate(&cc.base, &_e), "spec: missing");
	cc.spec = (char *)"{}";
	EXPECT(agent_proto_validate(&cc.base, &_e), "rootfs: missing");
	cc.rootfs = (char *)"/run/c1/rootfs";
	EXPECT(agent_proto_validate(&cc.base, &_e), OK);
	big = repeat(' ', AGENT_MAX_SPEC + 1);
	cc.spec = big;
	EXPECT(agent_proto_validate(&cc.base, &_e), "spec: longer than 1048576");
	free(big);

	sig.container_id = (char *)"c1";
	EXPECT(agent_proto_validate(&sig.base, &_e), "signal: 0 is outside 1..64");
	sig.signal = 64;
	EXPECT(agent_proto_validate(&sig.base, &_e), OK);
	sig.signal = 65;
	EXPECT(agent_proto_validate(&sig.base, &_e), "signal: 65");
	sig.signal = 9;
	sig.all = 1;
	sig.exec_id = (char *)"e1";
	EXPECT(agent_proto_validate(&sig.base, &_e), "all: only with exec_id");

	rp.container_id = (char *)"c1";
	rp.width = 80;
	rp.height = 24;
	EXPECT(agent_proto_validate(&rp.base, &_e), OK);
	rp.height = 65536;
	EXPECT(agent_proto_validate(&rp.base, &_e), "is outside 1..65535");

	rm.container_id = (char *)"c1";
	rm.timeout_ms = AGENT_MAX_REMOVE_TIMEOUT_MS + 1;
	EXPECT(agent_proto_validate(&rm.base, &_e), "timeout_ms");

	sb.hostname = (char *)"pod-1";
	sb.n_dns = 2;
	sb.dns = dns;
	ts.seconds = 1700000000;
	sb.time = &ts;
	sm.tag = (char *)"shared";
	sm.mount_point = (char *)"/run/nacelle/shared";
	sm.n_options = 2;
	sm.options = opts;
	sb.n_shared_mounts = 1;
	sb.shared_mounts = &smp;
	EXPECT(agent_proto_validate(&sb.base, &_e), OK);
	dns[1] = (char *)"search a\nnameserver 6.6.6.6";
	EXPECT(agent_proto_validate(&sb.base, &_e), "dns[1]: contains a line break");
	dns[1] = (char *)"search a";
	ts.nanos = 1000000000;
	EXPECT(agent_proto_validate(&sb.base, &_e), "time.nanos");
	ts.nanos = 0;
	sm.tag = (char *)"0123456789012345678901234567890123456";
	EXPECT(agent_proto_validate(&sb.base, &_e), "shared_mounts[0].tag");
	sm.tag = (char *)"shared";
	opts[1] = (char *)"ro,exec";
	EXPECT(agent_proto_validate(&sb.base, &_e), "shared_mounts[0].options");
	opts[1] = (char *)"nosuid";
	sb.hostname = (char *)"a/b";
	EXPECT(agent_proto_validate(&sb.base, &_e), "hostname");
	sb.hostname = (char *)"";
	EXPECT(agent_proto_validate(&sb.base, &_e), OK);

	ui.name = (char *)"eth0";
	ui.mac = (char *)"02:00:CA:fe:00:01";
	ui.mtu = 1500;
	ui.n_addresses = 2;
	ui.addresses = addrs;
	EXPECT(agent_proto_validate(&ui.base, &_e), OK);
	ui.mtu = 67;
	EXPECT(agent_proto_validate(&ui.base, &_e), "mtu: 67");
	ui.mtu = 0;
	ui.mac = (char *)"02:00:ca:fe:00";
	EXPECT(agent_proto_validate(&ui.base, &_e), "not a MAC address");
	ui.mac = (char *)"02:00:ca:fe:00:0g";
	EXPECT(agent_proto_validate(&ui.base, &_e), "not a MAC address");
	ui.mac = (char *)"02:00:ca:fe:00:01";
	addrs[1] = (char *)"10.1.0.5";
	EXPECT(agent_proto_validate(&ui.base, &_e), "addresses[1]");
	addrs[1] = (char *)"10.1.0.5/33";
	EXPECT(agent_proto_validate(&ui.base, &_e), "addresses[1]");
	addrs[1] = (char *)"fd00::1/129";
	EXPECT(agent_proto_validate(&ui.base, &_e), "addresses[1]");
	addrs[1] = (char *)"fd00::1/64";
	ui.name = (char *)"eth0123456789abc";
	EXPECT(agent_proto_validate(&ui.base, &_e), "name: length");
	ui.name = (char *)"eth:0";
	EXPECT(agent_proto_validate(&ui.base, &_e), "name: character");

	ur.n_routes = 1;
	ur.routes = &rtp;
	EXPECT(agent_proto_validate(&ur.base, &_e), "needs a gateway or a device");
	rt.dest = (char *)"default";
	rt.gateway = (char *)"10.1.0.1";
	EXPECT(agent_proto_validate(&ur.base, &_e), OK);
	rt.dest = (char *)"10.96.0.0/12";
	rt.device = (char *)"eth0";
	rt.gateway = (char *)"";
	rt.scope = 253;
	EXPECT(agent_proto_validate(&ur.base, &_e), OK);
	rt.gateway = (char *)"10.1.0.1/24";
	EXPECT(agent_proto_validate(&ur.base, &_e), "routes[0].gateway");
	rt.gateway = (char *)"";
	rt.scope = 256;
	EXPECT(agent_proto_validate(&ur.base, &_e), "scope");

	nb.ip_address = (char *)"10.1.0.1";
	nb.mac = (char *)"02:00:ca:fe:00:01";
	nb.device = (char *)"eth0";
	an.n_neighbors = 1;
	an.neighbors = &nbp;
	EXPECT(agent_proto_validate(&an.base, &_e), OK);
	an.n_neighbors = AGENT_MAX_NEIGHBORS + 1;
	EXPECT(agent_proto_validate(&an.base, &_e), "257 entries, at most 256");
}

int main(void)
{
	test_ids();
	test_paths();
	test_stdio();
	test_requests();
	printf("validate-test: %d checks, %d failures\n", checks, failures);
	return failures ? 1 : 0;
}
