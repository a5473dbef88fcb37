/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OCI spec as containerd wrote it (a host's view) turned into the one
 * the agent runs in the guest:
 *   - root.path: the container's rootfs on the virtio-fs share;
 *   - bind mounts of host files and directories (volumes, /etc/hosts,
 *     /etc/resolv.conf...) become shares: the runtime bind-mounts each into
 *     the shared directory and the spec names its guest path; host sockets,
 *     FIFOs and device nodes cannot cross into a VM and are dropped;
 *   - /dev/shm: the pod's is the sandbox container's tmpfs (reached in the
 *     guest through /proc/<sandbox pid>/root/dev/shm); the sandbox
 *     container gets a fresh tmpfs;
 *   - namespaces: no network namespace (the pod's network is the VM's, in
 *     the guest's root namespace); a namespace path is kept only when it is
 *     /proc/<pid>/ns/<type> of a container of this pod (those pids are guest
 *     pids: the runtime reported them to containerd), other host paths are
 *     dropped (a new namespace);
 *   - dropped: hooks (they would run on the host), linux.resources.devices
 *     (host device numbers), AppArmor/SELinux labels, intelRdt;
 *   - linux.cgroupsPath: /nacelle/<container-id> in the guest's cgroup tree.
 * Everything else is passed through unchanged (numbers as written).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#include "common/error.h"
#include "common/macros.h"

/* Largest config.json read from a bundle. */
#define SPEC_MAX_BYTES (4u * 1024 * 1024)
/* Bind mounts shared per container. */
#define SPEC_MAX_SHARES 256

/* One host file or directory to bind into the shared directory. */
struct spec_share {
	char *source;	/* absolute host path */
	char *rel;	/* under the shared directory: "<id>/mounts/<n>" */
	bool recursive;	/* rbind */
	bool readonly;
};

struct spec_guest {
	const char *container_id;
	const char *bundle;		/* relative paths are relative to it */
	const char *guest_shared;	/* where the share is mounted in the guest */
	const uint32_t *ns_pids;	/* guest pids of this pod's containers */
	size_t n_ns_pids;
	uint32_t sandbox_pid;		/* the pod's sandbox container; 0: this is it */
};

struct spec_result {
	char *json;			/* the guest's spec */
	size_t json_len;
	char *rootfs;			/* its root: <guest_shared>/<id>/rootfs */
	struct spec_share *shares;
	size_t n_shares;
};

/* Read and parse <bundle>/config.json (an object). */
int spec_load(const char *bundle, yajl_val *ret, struct error *err) _wur_;
/* annotations[key] if a string, else NULL. */
const char *spec_annotation(yajl_val spec, const char *key);
/* Every string annotation, as parallel arrays pointing into the tree
 * (*ret_keys and *ret_values malloc'd). */
int spec_annotations(yajl_val spec, const char ***ret_keys, const char ***ret_values,
		     size_t *ret_n) _wur_;
/* root.path on the host, resolved against the bundle (malloc'd). */
int spec_host_root(yajl_val spec, const char *bundle, char **ret, struct error *err) _wur_;
/* Rewrite spec (in place) for the guest; see above. */
int spec_for_guest(yajl_val spec, const struct spec_guest *g, struct spec_result *ret,
		   struct error *err) _wur_;
void spec_result_free(struct spec_result *r);
/* An OCI LinuxResources object for UpdateContainer: without "devices". */
int spec_resources_for_guest(const char *json, size_t len, char **ret, size_t *ret_len,
			     struct error *err) _wur_;
