/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A minimal HTTP/1.1 client for nacelle-vmm's (cloud-hypervisor's) REST API
 * over its Unix socket: one request per connection ("Connection: close"),
 * a JSON body or none, the status line, Content-Length framing (or EOF),
 * every size bounded and the whole exchange under one deadline.
 */
#pragma once

#include <stddef.h>

#include "common/error.h"
#include "common/macros.h"

/* Status line plus headers of a response. */
#define VMM_CLIENT_MAX_HEAD (8u * 1024)
/* A response body (vm.info is a few KiB). */
#define VMM_CLIENT_MAX_BODY (1024u * 1024)
/* A request body (vm.create's VmConfig; the server takes up to 1 MiB). */
#define VMM_CLIENT_MAX_REQUEST_BODY (1024u * 1024)
/* When the caller gives no timeout. */
#define VMM_CLIENT_TIMEOUT_MS 10000
/* Interim (1xx) responses skipped before the real one. */
#define VMM_CLIENT_MAX_INTERIM 4

enum vmm_client_method {
	VMM_CLIENT_GET,
	VMM_CLIENT_PUT,
};
const char *vmm_client_method_to_string(enum vmm_client_method m);

struct vmm_response {
	int status;	/* 100..599 */
	char *body;	/* malloc'd, NUL-terminated (not counted); NULL if none */
	size_t body_len;
};

void vmm_response_clear(struct vmm_response *resp);

/*
 * Send `method /api/v1/<endpoint>` with body (NULL = none; a PUT then says
 * Content-Length: 0) and read the response, all within timeout_ms (<= 0:
 * VMM_CLIENT_TIMEOUT_MS). Returns 0 with *ret filled for any HTTP status;
 * -ETIMEDOUT, -EPROTO (not HTTP, chunked, over a limit), -E2BIG, or the
 * connect/IO errno otherwise, with a message in err.
 */
int vmm_client_request(const char *socket_path, enum vmm_client_method method,
		       const char *endpoint, const char *body, int timeout_ms,
		       struct vmm_response *ret, struct error *err) _wur_;

/*
 * The same, and a non-2xx status becomes an error: 400 -EINVAL, 404 -ENOENT,
 * 405 -EOPNOTSUPP, 409 -EBUSY, 501 -ENOSYS, 503 -EAGAIN, 408/504
 * -ETIMEDOUT, anything else -EIO; the message carries the endpoint, the
 * status and the server's {"error": "..."} text. *ret_body (may be NULL)
 * gets the body of a 2xx answer (NULL if none).
 */
int vmm_client_call(const char *socket_path, enum vmm_client_method method,
		    const char *endpoint, const char *body, int timeout_ms, char **ret_body,
		    struct error *err) _wur_;
