/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host side of nacelle-agent for its tests and benchmarks: what the shim
 * will do, written plainly. One gRPC connection to the agent, either
 *  - a Unix socket the agent serves itself (--listen unix:PATH, host tests;
 *    its stdio "ports" are then Unix sockets DIR/stdio-<port>.sock), or
 *  - the VMM's hybrid vsock socket (a real VM: "CONNECT 1024" for the
 *    control connection, "CONNECT <port>" for each stdio stream),
 * calls made in-process with the request and response as JSON (the same
 * mapping nacelle-agentctl uses, agent_pbjson_*), container specs, stdio
 * streams read on threads of their own, and TAP-style reporting.
 *
 * Test code: a failure to allocate aborts.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* gRPC codes as atest_ctl() returns them. */
enum {
	OK = 0,
	CANCELLED = 1,
	INVALID_ARGUMENT = 3,
	DEADLINE_EXCEEDED = 4,
	NOT_FOUND = 5,
	ALREADY_EXISTS = 6,
	PERMISSION_DENIED = 7,
	RESOURCE_EXHAUSTED = 8,
	FAILED_PRECONDITION = 9,
	UNIMPLEMENTED = 12,
	UNAVAILABLE = 14,
};
/* atest_ctl(): the request JSON does not map to the RPC's message (never sent;
 * nacelle-agentctl's exit status for the same, EX_DATAERR). */
#define ATEST_BAD_REQUEST 65

/* Bytes of each stream's output kept for the assertions (the rest is counted). */
#define ATEST_KEEP_MAX (64u << 10)
/* A stream that gets nothing for this long fails (SO_RCVTIMEO). */
#define ATEST_STREAM_TIMEOUT_S 120
/* First stdio port handed out by atest_port(). */
#define ATEST_FIRST_PORT 2000

/* ---- reporting (TAP) ---- */

extern int atest_tests, atest_failed;
void atest_report(bool pass, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Seconds since an arbitrary point (CLOCK_MONOTONIC). */
double atest_now(void);

/* ---- the connection ---- */

/* Serve through the agent's own Unix socket; stdio sockets in stdio_dir. */
void atest_use_unix(const char *sock, const char *stdio_dir);
/* Serve through a hybrid vsock socket, the agent on port. */
void atest_use_vsock(const char *uds, unsigned int port);
bool atest_is_vsock(void);
/* Connect now (calls connect lazily otherwise); 0 or a negative errno, with
 * the reason in why (may be NULL). */
int atest_connect(char *why, size_t why_len);
/* Drop the connection (the next call reconnects; calls still running on it
 * finish first). Calls may come from any thread. */
void atest_disconnect(void);
/* Container root filesystems: the path the agent sees. */
void atest_set_rootfs(const char *path);
const char *atest_rootfs(void);
/* A fresh stdio port. */
unsigned int atest_port(void);

/*
 * Call rpc ("CreateContainer") with the JSON request (printf format), at most
 * timeout_s seconds (0 = no deadline). Returns the gRPC code, or
 * ATEST_BAD_REQUEST; *out (if not NULL, malloc'd) gets the compact JSON
 * response, or "CODE: message". A connection that failed (UNAVAILABLE) is
 * dropped: the next call dials again.
 */
int atest_ctl(char **out, int timeout_s, const char *rpc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* atest_ctl() on a thread of its own over the same connection, as the shim
 * runs WaitProcess and GetOOMEvent: start it, later join it. */
struct atest_async {
	pthread_t th;
	bool started;
	const char *rpc;
	char *json;
	int timeout_s;
	int code;
	char *out;
};
void atest_ctl_async(struct atest_async *a, int timeout_s, const char *rpc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Wait for the call; its code, and its output in *out (malloc'd) if not NULL. */
int atest_ctl_join(struct atest_async *a, char **out);
/* atest_ctl() expecting a code; reports it. */
bool atest_expect(int want, const char *what, const char *rpc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- JSON text ---- */

/* s as a JSON string literal (malloc'd). */
char *atest_json_str(const char *s);
/* The integer after "key": in compact JSON, or -1. */
long atest_json_uint(const char *json, const char *key);

/* ---- specs and containers ---- */

/* The namespaces of atest_make_spec(): a container of its own. */
#define ATEST_DEFAULT_NAMESPACES                                                    \
	"[ { \"type\": \"pid\" }, { \"type\": \"mount\" }, { \"type\": \"ipc\" }, " \
	"{ \"type\": \"uts\" }, { \"type\": \"network\" } ]"

/* A config.json running args (a JSON array) with /proc, /dev, /dev/pts;
 * extras go inside "process" and "linux" (each starting with a comma). */
char *atest_make_spec(bool terminal, const char *args, const char *process_extra,
		      const char *linux_extra);
/* The same with the "namespaces" array given (NULL = ATEST_DEFAULT_NAMESPACES)
 * and extra "mounts" entries (a leading comma). */
char *atest_make_spec_ns(bool terminal, const char *args, const char *process_extra,
			 const char *linux_extra, const char *namespaces,
			 const char *mounts_extra);

/* CreateContainer with a spec, atest_rootfs() and a stdio object ("{}" if
 * NULL); returns the code. */
int atest_create(const char *id, const char *spec, const char *stdio, char **out);
/* WaitProcess: the exit status, or -code. */
long atest_wait(const char *id, const char *exec_id, int timeout_s);
bool atest_remove(const char *id);

/* One host side of a stdio stream: connect, send input, read to EOF. */
struct atest_stream {
	unsigned int port;
	int fd;
	pthread_t th;
	bool started;
	const char *input; /* sent first (NULL: nothing) */
	bool shut_wr;	   /* then half-close */
	char keep[ATEST_KEEP_MAX + 1];
	size_t kept;
	uint64_t total;
	int error;
};

/* Connect to the stream of port (the agent listens once the RPC that named
 * it returned) and start reading it on a thread. */
bool atest_stream_open(struct atest_stream *s, unsigned int port, const char *input,
		       bool shut_wr);
/* Wait until the stream ended, close it. */
void atest_stream_join(struct atest_stream *s);

struct atest_run_result {
	long status;
	struct atest_stream out, err;
};

/* Create with stdout and stderr streams, connect them, start, wait, read both
 * to EOF, remove. res is large: allocate it. */
bool atest_run(const char *id, const char *spec, struct atest_run_result *res);
