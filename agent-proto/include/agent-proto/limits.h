/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The limits of the agent API (nacelle.agent.v1), one constant per "limit:"
 * comment in the .proto files. The agent enforces them on every request
 * (INVALID_ARGUMENT); the shim checks them before sending so its errors name
 * the field. Lengths are in bytes and exclude the terminating NUL.
 */
#pragma once

#include <stdint.h>

/* The API version Version answers; compatible additions keep it. */
#define AGENT_API_VERSION 1
/* The vsock port the agent's gRPC server listens on. */
#define AGENT_VSOCK_PORT 1024

/* Any gRPC message, either direction. gRPC core enforces it on receive
 * (RESOURCE_EXHAUSTED), and the server refuses to send a larger response. */
#define AGENT_MAX_MESSAGE (4u << 20)

/* container_id, exec_id, sandbox_id: containerd's identifier limit. */
#define AGENT_MAX_ID 76
/* HealthRequest.service and similar names. */
#define AGENT_MAX_NAME 256
/* Absolute guest paths (PATH_MAX - 1). */
#define AGENT_MAX_PATH 4095
/* HOST_NAME_MAX. */
#define AGENT_MAX_HOSTNAME 64

/* CreateContainerRequest.spec: an OCI config.json. */
#define AGENT_MAX_SPEC (1u << 20)
/* ExecProcessRequest.process: an OCI process object. */
#define AGENT_MAX_PROCESS (1u << 20)
/* UpdateContainerRequest.resources: an OCI LinuxResources object. */
#define AGENT_MAX_RESOURCES (64u << 10)

/* SetupSandboxRequest. */
#define AGENT_MAX_DNS_LINES 64
#define AGENT_MAX_DNS_LINE 512
#define AGENT_MAX_SHARED_MOUNTS 64
/* virtio-fs tag field size (struct virtio_fs_config.tag). */
#define AGENT_MAX_FS_TAG 36
#define AGENT_MAX_MOUNT_OPTIONS 32
#define AGENT_MAX_MOUNT_OPTION 256

/* Stdio ports: above the control port, below the 2^31 host-side ports of
 * hybrid vsock (so a port number never looks like one of those). */
#define AGENT_MIN_STDIO_PORT 1025u
#define AGENT_MAX_STDIO_PORT 0x7fffffffu
/* How long the agent keeps listening for the host's stdio connections after
 * the RPC that named the ports returned; afterwards stdin reads EOF and
 * output is discarded. */
#define AGENT_STDIO_CONNECT_TIMEOUT_MS 60000

/* SignalProcessRequest.signal: 1..SIGRTMAX. */
#define AGENT_MAX_SIGNAL 64
/* ResizePtyRequest width/height (struct winsize fields are unsigned short). */
#define AGENT_MAX_PTY_SIZE 65535
/* RemoveContainerRequest.timeout_ms: default and maximum. */
#define AGENT_REMOVE_TIMEOUT_MS 10000
#define AGENT_MAX_REMOVE_TIMEOUT_MS 600000
/* ListProcessesResponse.pids entries. */
#define AGENT_MAX_PIDS 65536
/* OOM events queued while no GetOOMEvent call waits. */
#define AGENT_MAX_PENDING_OOM_EVENTS 64

/* UpdateInterface / UpdateRoutes / AddARPNeighbors. */
#define AGENT_MAX_IFNAME 15 /* IFNAMSIZ - 1 */
#define AGENT_MAX_MAC 17    /* "aa:bb:cc:dd:ee:ff" */
#define AGENT_MIN_MTU 68
#define AGENT_MAX_MTU 65535
#define AGENT_MAX_CIDR 64
#define AGENT_MAX_ADDRESSES 32
#define AGENT_MAX_ROUTES 256
#define AGENT_MAX_NEIGHBORS 256

/* Server side: calls running at once (each has its own thread, as handlers
 * such as WaitProcess block); the next one is answered RESOURCE_EXHAUSTED.
 * A pod with many exec'd processes (probes) has one WaitProcess each. */
#define AGENT_MAX_CONCURRENT_CALLS 256
