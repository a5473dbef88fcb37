/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM configuration, filled from the cloud-hypervisor-compatible command
 * line (and, later, from the REST API's vm.create JSON). Field names follow
 * cloud-hypervisor's VmConfig where one exists.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "common/macros.h"

#define VMM_MAX_VCPUS 254 /* xAPIC ids; 255 is broadcast */
#define VMM_MIN_MEMORY (32 * MiB)
#define VMM_MAX_MEMORY (1024 * GiB)
#define VMM_MAX_CMDLINE 4096

/* Cloud Hypervisor's ConsoleOutputMode */
enum vmm_output_mode {
	VMM_OUTPUT_OFF,
	VMM_OUTPUT_NULL,
	VMM_OUTPUT_TTY,
	VMM_OUTPUT_FILE,
	VMM_OUTPUT_PTY,
	VMM_OUTPUT_SOCKET,
};

const char *vmm_output_mode_to_string(enum vmm_output_mode mode);

struct vmm_output {
	enum vmm_output_mode mode;
	char *file; /* VMM_OUTPUT_FILE / SOCKET */
};

struct vmm_config {
	/* payload */
	char *kernel;
	char *initramfs;
	char *cmdline;
	/* cpus */
	uint32_t boot_vcpus;
	uint32_t max_vcpus;
	/* memory */
	uint64_t memory_size;
	bool memory_shared;
	/* serial (8250 at 0x3f8) and console (virtio-console, later) */
	struct vmm_output serial;
	struct vmm_output console;
	/* process */
	char *log_file;
	int verbosity; /* number of -v */
	bool show_version;
	bool show_help;
};

/* Defaults as cloud-hypervisor: 1 vCPU, 512 MiB, serial null, console off
 * (virtio-console is not built yet; cloud-hypervisor's default is tty). */
void vmm_config_init(struct vmm_config *cfg);
void vmm_config_free(struct vmm_config *cfg);

/*
 * Parse argv (argv[0] is the program). On failure returns -EINVAL (or
 * -ENOSYS for a recognised but unimplemented option) with one clear message
 * in err. Does not check files exist; the loader does.
 */
int vmm_cli_parse(int argc, char *const argv[], struct vmm_config *cfg, struct error *err) _wur_;
void vmm_cli_usage(FILE *out);
/* "512M", "2G", "1048576", "64K": bytes; -EINVAL on junk, 0 or overflow. */
int vmm_parse_size(const char *s, uint64_t *ret) _wur_;
