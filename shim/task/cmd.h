/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The containerd-shim-nacelle-v2 binary: flags, the three actions (one file
 * each: cmd-start.c, cmd-delete.c, cmd-serve.c) and the bundle and socket
 * address helpers they share (bundle.c).
 */
#pragma once

#include <stdbool.h>

#include "common/error.h"
#include "common/macros.h"
#include "shim/runtime.h"

#define SHIM_DEFAULT_STATE_DIR "/run/containerd" /* containerd's defaults.DefaultStateDir */
/* Tests put shim sockets elsewhere; containerd never sets this. */
#define SHIM_SOCKET_DIR_ENV "NACELLE_SHIM_SOCKET_DIR"
/* `start` hands the serve process a pipe on this fd number (named by this
 * variable) and waits for one byte on it: the shim is serving. */
#define SHIM_READY_FD_ENV "NACELLE_SHIM_READY_FD"
#define SHIM_START_TIMEOUT_MS 10000
#define SHIM_CONFIG_JSON_MAX (16u << 20)
#define SHIM_ADDRESS_FILE "address"
#define SHIM_LOG_FIFO "log"

/* CRI annotations (containerd pkg/cri/annotations) and dockershim's. */
#define ANNOTATION_CONTAINER_TYPE "io.kubernetes.cri.container-type"
#define ANNOTATION_SANDBOX_ID "io.kubernetes.cri.sandbox-id"
#define ANNOTATION_DOCKER_TYPE "io.kubernetes.docker.type"
#define ANNOTATION_DOCKER_SANDBOX_ID "io.kubernetes.sandbox.id"

struct shim_flags {
	bool debug;
	bool version;
	const char *ns;
	const char *id;
	const char *address;	    /* containerd's GRPC socket path */
	const char *publish_binary; /* default "containerd" */
	const char *socket;	    /* serve: listen here instead of fd 3 */
	const char *bundle;	    /* delete; else the working directory */
	const char *action;	    /* "start", "delete" or NULL (serve) */
	const char *argv0;
};

int cmd_start(const struct shim_flags *f, const struct shim_runtime_ops *ops);
int cmd_delete(const struct shim_flags *f, const struct shim_runtime_ops *ops);
int cmd_serve(const struct shim_flags *f, const struct shim_runtime_ops *ops);

/* Go flag-package parsing of containerd's command line. Returns 0, or
 * -EINVAL with the message in err (exit status 2, as Go's flag package). */
int shim_flags_parse(int argc, char **argv, struct shim_flags *ret, struct error *err) _wur_;

/* The pod a task belongs to, from <bundle>/config.json: for a CRI (or
 * dockershim) container its sandbox id, else the task's own id (a sandbox,
 * or a task outside Kubernetes). *ret_joins = true when the task must join
 * an existing pod shim. A missing config.json means the task's own id. */
int shim_bundle_group(const char *bundle, const char *id, char **ret_group, bool *ret_joins,
		      struct error *err) _wur_;
/* "unix://<state>/s/<hex sha256(<address>/<ns>/<group>)>", containerd's
 * shim.SocketAddress (path socket, as 1.6 does; not abstract). */
int shim_socket_address(const char *containerd_address, const char *ns, const char *group,
			char **ret, struct error *err) _wur_;
/* <bundle>/address, written atomically (.address + rename), no newline. */
int shim_write_address(const char *bundle, const char *address, struct error *err) _wur_;
/* Is a server accepting connections at this address? */
bool shim_address_alive(const char *address);
/* The working directory (malloc'ed). */
int shim_getcwd(char **ret) _wur_;
/* Opens the bundle's `log` FIFO for writing if containerd holds it open
 * (never blocks); -ENXIO without a reader, -ENOENT without the FIFO. */
int shim_open_log_fifo(const char *bundle) _wur_;
