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

/* Devices from the command line: all of them fit on one PCI bus (32 slots). */
#define VMM_MAX_DISKS 16
#define VMM_MAX_NETS 8
/* Per-device virtqueue limits: the virtio spec's largest queue is 32768. */
#define VMM_MAX_QUEUE_SIZE 32768
#define VMM_MAX_DISK_QUEUES 16
#define VMM_MAX_NET_QUEUES 16 /* 8 rx/tx pairs */
/* virtio-blk VIRTIO_BLK_T_GET_ID answers in 20 bytes, no terminator required. */
#define VMM_DISK_SERIAL_MAX 20
#define VMM_TAP_NAME_MAX 15 /* IFNAMSIZ - 1 */

/* cloud-hypervisor's defaults, shared with the REST API's vm.create. */
#define VMM_DEFAULT_DISK_QUEUES 1
#define VMM_DEFAULT_DISK_QUEUE_SIZE 128
#define VMM_DEFAULT_NET_QUEUES 2 /* one rx/tx pair */
#define VMM_DEFAULT_NET_QUEUE_SIZE 256
#define VMM_DEFAULT_NET_MASK "255.255.255.0" /* when ip= comes without mask= */
#define VMM_DEFAULT_RNG_SRC "/dev/urandom"

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

/* cloud-hypervisor's DiskConfig (--disk), the part nacelle implements. */
struct vmm_disk_config {
	char *path;          /* image file or block device; never NULL */
	bool readonly;       /* open O_RDONLY and offer VIRTIO_BLK_F_RO */
	bool direct;         /* open O_DIRECT */
	uint16_t num_queues; /* 1..VMM_MAX_DISK_QUEUES; default 1 */
	uint16_t queue_size; /* power of two, 2..32768; default 128 */
	char *id;            /* NULL: the VMM names it (cloud-hypervisor: _disk<N>) */
	char *serial;        /* NULL or 1..VMM_DISK_SERIAL_MAX bytes, for GET_ID */
};

/* cloud-hypervisor's NetConfig (--net), tap backend only. */
struct vmm_net_config {
	char *tap;      /* NULL: the kernel names a new tap ("tap%d") */
	uint8_t mac[6]; /* guest MAC, valid only if mac_set */
	/* false: the VMM picks a random locally administered unicast MAC, as
	 * cloud-hypervisor does */
	bool mac_set;
	/*
	 * Host-side IPv4 address of the tap, dotted quad, and its netmask. Both
	 * NULL unless ip= was given (mask then defaults to 255.255.255.0): nacelle
	 * then assigns no host address and leaves the tap for the caller (a
	 * bridge, a CNI plugin) to wire up. Cloud Hypervisor's OpenAPI still lists
	 * 192.168.249.1/24 as the default, but its own parser no longer applies
	 * it, and putting an address on the host nobody asked for can shadow a
	 * real route.
	 */
	char *ip;
	char *mask;
	uint16_t num_queues; /* rx+tx, even, 2..VMM_MAX_NET_QUEUES; default 2 (one pair) */
	uint16_t queue_size; /* power of two, 2..32768; default 256 */
	char *id;            /* NULL: the VMM names it (cloud-hypervisor: _net<N>) */
};

/* cloud-hypervisor's RngConfig (--rng). */
struct vmm_rng_config {
	/* Off unless --rng is given. cloud-hypervisor always adds one; nacelle
	 * keeps its default device set minimal (the guest kernel seeds itself
	 * from RDRAND/RDSEED and jitter without it). */
	bool enabled;
	char *src; /* when enabled: VMM_DEFAULT_RNG_SRC unless src=; else NULL */
};

/* --fs tag=TAG,socket=PATH[,num_queues=1][,queue_size=N][,id=ID] (vhost-user virtio-fs) */
#define VMM_MAX_FS 8
#define VMM_DEFAULT_FS_QUEUE_SIZE 1024
struct vmm_fs_config {
	char *tag;	      /* at most 36 bytes (virtio_fs_config.tag) */
	char *socket;	      /* virtiofsd's vhost-user socket */
	uint16_t num_queues;  /* request queues; 1 (Debian's virtiofsd serves one) */
	uint16_t queue_size;
	char *id;
};

/* --vsock cid=N,socket=PATH[,id=ID] (hybrid vsock, one device) */
struct vmm_vsock_config {
	bool enabled;
	uint64_t cid;	      /* >= 3 */
	char *socket;	      /* host Unix socket; guest->host port P goes to "<socket>_P" */
	char *id;
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
	/* serial (8250 at 0x3f8) and console (virtio-console) */
	struct vmm_output serial;
	struct vmm_output console;
	/* virtio devices, in command-line order; keep it when creating them, as
	 * users expect the first --disk to be the guest's vda */
	struct vmm_disk_config *disks;
	unsigned int nr_disks; /* <= VMM_MAX_DISKS */
	struct vmm_net_config *nets;
	unsigned int nr_nets; /* <= VMM_MAX_NETS */
	struct vmm_rng_config rng;
	struct vmm_fs_config *fs;
	unsigned int nr_fs;
	struct vmm_vsock_config vsock;
	/* --api-socket path=PATH or --api-socket PATH */
	char *api_socket;
	/* process */
	char *log_file;
	int verbosity; /* number of -v */
	bool show_version;
	bool show_help;
};

/*
 * Defaults as cloud-hypervisor: 1 vCPU, 512 MiB, serial null, no disks or
 * nets. Two differ: console off (cloud-hypervisor's is tty, which with
 * "--serial tty" would leave two devices fighting over one terminal), and no
 * rng unless --rng is given. vmm_config_init cannot fail: rng.src is set
 * only when --rng is parsed.
 */
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
