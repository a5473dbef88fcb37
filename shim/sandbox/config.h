/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The runtime's configuration: one JSON file (README.md documents every
 * key), found at the runtime options' ConfigPath, else $NACELLE_CONFIG,
 * else /etc/nacelle/config.json; a missing default file means built-in
 * defaults, a missing file someone named is an error. Unknown keys and
 * wrong types are refused by name. A pod may override a few keys with
 * io.nacelle.* annotations on its sandbox container.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/macros.h"

#ifndef NACELLE_PREFIX
#define NACELLE_PREFIX "/usr/local"
#endif

#define SANDBOX_CONFIG_DEFAULT_PATH "/etc/nacelle/config.json"
#define SANDBOX_CONFIG_ENV "NACELLE_CONFIG"
/* The installed guest image (rootfs/build-image.sh's output). */
#define SANDBOX_DEFAULT_KERNEL NACELLE_PREFIX "/share/nacelle/bzImage"
#define SANDBOX_DEFAULT_INITRAMFS NACELLE_PREFIX "/share/nacelle/initramfs.cpio.lz4"
#define SANDBOX_DEFAULT_VIRTIOFSD "/usr/lib/qemu/virtiofsd"
#define SANDBOX_VMM_NAME "nacelle-vmm"

/* Limits of the file and its values. */
#define SANDBOX_CONFIG_MAX_BYTES (64u * 1024)
#define SANDBOX_MIN_VCPUS 1
#define SANDBOX_MAX_VCPUS 254 /* nacelle-vmm's limit */
#define SANDBOX_MIN_MEMORY_MIB 64
#define SANDBOX_MAX_MEMORY_MIB (1024u * 1024)
#define SANDBOX_MIN_BOOT_TIMEOUT 1
#define SANDBOX_MAX_BOOT_TIMEOUT 600
#define SANDBOX_MAX_KERNEL_PARAMS 1024
#define SANDBOX_MAX_CONFIG_PATH 4095

/* Defaults. */
#define SANDBOX_DEFAULT_VCPUS 1
/* The agent, gRPC and the guest kernel need ~60 MiB; the rest is the pod's. */
#define SANDBOX_DEFAULT_MEMORY_MIB 512
#define SANDBOX_DEFAULT_BOOT_TIMEOUT 30

/* virtiofsd -o cache=... */
enum sandbox_fs_cache {
	SANDBOX_FS_CACHE_AUTO,
	SANDBOX_FS_CACHE_ALWAYS,
	SANDBOX_FS_CACHE_NONE,
};
const char *sandbox_fs_cache_to_string(enum sandbox_fs_cache c);

/* virtiofsd -o sandbox=... */
enum sandbox_fs_sandbox {
	SANDBOX_FS_SANDBOX_CHROOT,
	SANDBOX_FS_SANDBOX_NAMESPACE,
};
const char *sandbox_fs_sandbox_to_string(enum sandbox_fs_sandbox s);

struct sandbox_config {
	char *kernel;
	char *initramfs;
	char *kernel_params;	/* appended to the guest command line; "" = none */
	char *vmm_path;
	char *virtiofsd_path;
	enum sandbox_fs_cache virtiofsd_cache;
	enum sandbox_fs_sandbox virtiofsd_sandbox;
	unsigned int vcpus;
	unsigned int memory_mib;
	unsigned int boot_timeout_seconds;
	bool debug;
	char *source;		/* the file read, or NULL: built-in defaults */
};

/*
 * Load the configuration: config_path (the runtime options' ConfigPath) if
 * non-empty, else $NACELLE_CONFIG if set and non-empty, else the default
 * path. Fills *ret (sandbox_config_free() it) only on success.
 */
int sandbox_config_load(const char *config_path, struct sandbox_config *ret,
			struct error *err) _wur_;
/* Built-in defaults (the vmm path resolved: next to this program, on $PATH,
 * or under NACELLE_PREFIX). */
int sandbox_config_defaults(struct sandbox_config *ret) _wur_;
/* Apply a JSON document to cfg; `where` names it in messages. */
int sandbox_config_parse(struct sandbox_config *cfg, const char *json, size_t len,
			 const char *where, struct error *err) _wur_;
/*
 * Per-pod overrides from the sandbox container's annotations: only
 * io.nacelle.vcpus and io.nacelle.memory_mib (decimal); another io.nacelle.*
 * key is an error naming it. Annotations outside io.nacelle. are ignored.
 */
int sandbox_config_apply_annotations(struct sandbox_config *cfg, const char *const *keys,
				     const char *const *values, size_t n,
				     struct error *err) _wur_;
void sandbox_config_free(struct sandbox_config *cfg);
