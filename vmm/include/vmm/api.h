/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The REST API (cloud-hypervisor compatible): HTTP/1.1 over a Unix socket,
 * JSON bodies. The server runs on its own thread and owns every client
 * connection (parsing, limits, timeouts, writing responses), so a slow or
 * hostile client never touches a vCPU or the VMM's main loop. Requests it
 * has parsed are queued for the main thread, which owns the VM: the main
 * loop polls vmm_api_server_fd() and calls vmm_api_server_dispatch(), which
 * runs the VMM's handler for each queued request and hands the reply back
 * to the server thread.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/macros.h"
#include "vmm/config.h"

enum vmm_api_action {
	VMM_API_PING,		/* GET  /api/v1/vmm.ping */
	VMM_API_SHUTDOWN_VMM,	/* PUT  /api/v1/vmm.shutdown */
	VMM_API_VM_CREATE,	/* PUT  /api/v1/vm.create (body: VmConfig) */
	VMM_API_VM_BOOT,	/* PUT  /api/v1/vm.boot */
	VMM_API_VM_INFO,	/* GET  /api/v1/vm.info */
	VMM_API_VM_COUNTERS,	/* GET  /api/v1/vm.counters */
	VMM_API_VM_SHUTDOWN,	/* PUT  /api/v1/vm.shutdown */
	VMM_API_VM_REBOOT,	/* PUT  /api/v1/vm.reboot */
	VMM_API_VM_PAUSE,	/* PUT  /api/v1/vm.pause */
	VMM_API_VM_RESUME,	/* PUT  /api/v1/vm.resume */
	VMM_API_VM_POWER_BUTTON,/* PUT  /api/v1/vm.power-button */
	VMM_API_VM_DELETE,	/* PUT  /api/v1/vm.delete */
	VMM_API__MAX,
};

const char *vmm_api_action_to_string(enum vmm_api_action a);

/* cloud-hypervisor's VmState strings */
enum vmm_vm_state {
	VMM_VM_NOT_CREATED,
	VMM_VM_CREATED,
	VMM_VM_RUNNING,
	VMM_VM_SHUTDOWN,
	VMM_VM_PAUSED,
	VMM_VM_BREAKPOINT,
};

const char *vmm_vm_state_to_string(enum vmm_vm_state s); /* "Created", "Running", ... */

/* One counter of one device, for vm.counters: {"<device>": {"<name>": value}} */
struct vmm_counter {
	const char *device;
	const char *name;
	uint64_t value;
};

struct vmm_api_request {
	enum vmm_api_action action;
	/*
	 * VM_CREATE: the parsed, validated VmConfig (malloc'd); ownership passes
	 * to the handler, which releases it with vmm_config_free() + free(). NULL
	 * for every other action.
	 */
	struct vmm_config *config;
};

struct vmm_api_reply {
	int http_status;	/* 200, 204, 400, 404, 405, 500, 501... */
	char *body;		/* malloc'd JSON (or NULL for no body); freed by the server */
};

/*
 * Runs on the main thread, one request at a time. The reply starts zeroed;
 * status codes, following cloud-hypervisor where it has one:
 *   200 + body   vmm.ping (vmm_api_json_ping), vm.info (vmm_api_json_info),
 *                vm.counters (vmm_api_json_counters)
 *   204, no body every successful action: vm.create, vm.boot, vm.shutdown,
 *                vm.reboot, vm.pause, vm.resume, vm.power-button, vm.delete,
 *                vmm.shutdown (the VMM then stops the server; the 204 is
 *                still delivered)
 *   409 + error  the VM is in the wrong state for the action: boot, info,
 *                pause... without a created VM; create when one exists;
 *                pause when not running, resume when not paused
 *   400 + error  the request is valid HTTP/JSON but cannot be applied
 *   500 + error  the VMM failed doing it (the VM could not be built/booted)
 * Error bodies are vmm_api_json_error(message). A status outside 200..599
 * becomes 500; an error status without a body gets {"error": "<reason>"};
 * a 204's body is dropped. The server itself answers 400 (malformed request,
 * bad or invalid VmConfig, a body where none is taken, over a limit), 404
 * (unknown path), 405 (wrong method, with Allow), 408 (request not complete
 * in time), 417 (Expect other than 100-continue), 501 (a cloud-hypervisor
 * endpoint or VmConfig feature nacelle lacks), 503 (too many connections),
 * 505 (HTTP version); those never reach the handler.
 */
typedef void (*vmm_api_handler)(void *opaque, const struct vmm_api_request *req,
				struct vmm_api_reply *reply);

struct vmm_api_server;

/*
 * Bind PATH (0600, a stale socket file is replaced; a live one, -EADDRINUSE,
 * or a non-socket, -EEXIST, is not), start the server thread.
 */
int vmm_api_server_start(const char *path, struct vmm_api_server **ret, struct error *err) _wur_;
/* Stop the thread, close every connection, unlink the socket. NULL ok. */
void vmm_api_server_stop(struct vmm_api_server *server);
/* Readable when requests wait for the main thread. */
int vmm_api_server_fd(const struct vmm_api_server *server);
void vmm_api_server_dispatch(struct vmm_api_server *server, vmm_api_handler handler, void *opaque);

/* JSON bodies the handler builds (malloc'd; NULL on allocation failure). */
char *vmm_api_json_error(const char *message);				/* {"error": "..."} */
char *vmm_api_json_ping(void);						/* VmmPingResponse */
char *vmm_api_json_info(enum vmm_vm_state state, const struct vmm_config *cfg,
			uint64_t memory_actual_size);			/* VmInfo */
char *vmm_api_json_counters(const struct vmm_counter *c, unsigned int n);

/* VmConfig JSON <-> struct vmm_config (cloud-hypervisor field names). */
int vmm_config_from_json(const char *json, size_t len, struct vmm_config *ret,
			 struct error *err) _wur_;
char *vmm_config_to_json(const struct vmm_config *cfg);
