#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# A private containerd for end-to-end tests: its own root, state, sockets, config and plugin
# directories under one directory, started in the background with a log, and stopped and
# cleaned up completely (tasks, containers, shims, mounts under its root, cgroups it made,
# the directory). POSIX sh: it also runs under busybox sh in the KVM lab.
#
# As a library (". tests/e2e/private-containerd.sh"):
#   pcd_start DIR        write DIR/config.toml, start containerd, wait for its socket; sets
#                        PCD_DIR, PCD_SOCK, PCD_PID, PCD_LOG, PCD_NS
#   pcd_ctr ARGS...      ctr --address $PCD_SOCK --namespace $PCD_NS ARGS...
#   pcd_stop             kill and delete every task and container of PCD_NS, stop containerd
#                        (SIGTERM, then SIGKILL), kill shims still serving its address, unmount
#                        everything under DIR, remove the namespace's empty cgroups and DIR
#   pcd_trap             run pcd_stop (then the function pcd_on_exit, if defined) on exit,
#                        SIGINT, SIGTERM and SIGHUP
# As a command:
#   tests/e2e/private-containerd.sh DIR COMMAND [ARGS...]
#                        start, run COMMAND with CONTAINERD_ADDRESS and CONTAINERD_NAMESPACE
#                        set (ctr reads both), stop; exits with COMMAND's status
#
# Environment:
#   PCD_NS               namespace (default nacelle-e2e)
#   PCD_CRI=0            disable the CRI plugin (default: enabled; it serves on containerd's
#                        private socket, its streaming server on 127.0.0.1, a random port, CNI
#                        configuration from DIR/cni; it checks the runtime tables below parse)
#   PCD_PATH             directories put first on containerd's PATH (where it finds shims)
#   PCD_EXTRA_TOML       a file appended to the config
#   PCD_WAIT             seconds to wait for the socket (default 60)
#   PCD_CONTAINERD, PCD_CTR   the binaries (default: containerd and ctr on PATH)
#
# The config: version 2, snapshotter overlayfs, cgroupfs (runc's SystemdCgroup = false), and
# CRI runtime tables for runc (io.containerd.runc.v2) and nacelle (io.containerd.nacelle.v2).
# `ctr run --runtime NAME` does not go through CRI's tables: it resolves NAME to a shim
# binary on containerd's PATH (containerd-shim-nacelle-v2), hence PCD_PATH.
#
# Shared with the host's other containerd, if any: /run/containerd/s (shim sockets, named by a
# hash of this instance's socket path, so they never clash), /run/containerd/fifo (ctr's) and
# runc's state under /run/containerd/runc/$PCD_NS (removed when empty; /run/containerd too
# when pcd_start found none).

pcd_log() { echo "private-containerd: $*" >&2; }

pcd_ctr() {
	"${PCD_CTR:-ctr}" --address "$PCD_SOCK" --namespace "$PCD_NS" "$@"
}

pcd_write_config() { # DIR
	_d=$1
	_cri_disabled='"io.containerd.grpc.v1.cri"'
	[ "${PCD_CRI:-1}" = 0 ] || _cri_disabled=''
	cat >"$_d/config.toml" <<EOF
# A private containerd for nacelle's end-to-end tests (tests/e2e/private-containerd.sh).
version = 2
root = "$_d/root"
state = "$_d/state"
plugin_dir = "$_d/plugins"
disabled_plugins = [$_cri_disabled]

[grpc]
  address = "$_d/containerd.sock"

[ttrpc]
  address = "$_d/containerd.sock.ttrpc"

[debug]
  level = "info"

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$_d/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_selinux = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$_d/cni"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nacelle]
        runtime_type = "io.containerd.nacelle.v2"
        pod_annotations = ["io.nacelle.*"]
        privileged_without_host_devices = true
EOF
	if [ -n "${PCD_EXTRA_TOML:-}" ]; then
		cat "$PCD_EXTRA_TOML" >>"$_d/config.toml" || return 1
	fi
}

pcd_start() { # DIR
	[ $# -eq 1 ] || { pcd_log "usage: pcd_start DIR"; return 2; }
	mkdir -p "$1" || return 1
	PCD_DIR=$(cd "$1" && pwd -P) || return 1
	PCD_NS=${PCD_NS:-nacelle-e2e}
	PCD_SOCK="$PCD_DIR/containerd.sock"
	PCD_LOG="$PCD_DIR/containerd.log"
	PCD_PID=''
	# /run/containerd (shim sockets, ctr's FIFOs, runc's state) is removed again by pcd_stop,
	# when empty, if it did not exist before.
	PCD_RUN_NEW=0
	[ -e /run/containerd ] || PCD_RUN_NEW=1
	# A Unix socket path holds at most 107 bytes (+ ".ttrpc").
	[ "${#PCD_SOCK}" -le 100 ] || { pcd_log "$PCD_SOCK: path too long for a socket"; return 1; }
	mkdir -p "$PCD_DIR/root" "$PCD_DIR/state" "$PCD_DIR/plugins" "$PCD_DIR/opt" "$PCD_DIR/cni" &&
		chmod 0711 "$PCD_DIR" && pcd_write_config "$PCD_DIR" || return 1
	_path=$PATH
	[ -z "${PCD_PATH:-}" ] || _path="$PCD_PATH:$PATH"
	PATH=$_path "${PCD_CONTAINERD:-containerd}" --config "$PCD_DIR/config.toml" \
		</dev/null >"$PCD_LOG" 2>&1 &
	PCD_PID=$!
	_i=0 _max=$((${PCD_WAIT:-60} * 10))
	while [ "$_i" -lt "$_max" ]; do
		if ! kill -0 "$PCD_PID" 2>/dev/null; then
			pcd_log "containerd exited during start-up; its log:"
			tail -n 30 "$PCD_LOG" >&2
			PCD_PID=''
			return 1
		fi
		if [ -S "$PCD_SOCK" ] && pcd_ctr version >/dev/null 2>&1; then
			pcd_log "containerd $PCD_PID serving $PCD_SOCK (namespace $PCD_NS, log $PCD_LOG)"
			return 0
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
	pcd_log "containerd did not answer on $PCD_SOCK within ${PCD_WAIT:-60} s; its log:"
	tail -n 30 "$PCD_LOG" >&2
	return 1
}

# Processes whose command line names this instance's socket (the shims it started:
# "-address $PCD_SOCK"), one pid a line.
pcd_shim_pids() {
	for _p in /proc/[0-9]*; do
		_c=$( { tr '\0' ' ' <"$_p/cmdline"; } 2>/dev/null) || continue
		case "$_c" in
		*"-address $PCD_SOCK "*) echo "${_p#/proc/}" ;;
		esac
	done
}

# Mount points at or under DIR, deepest first (mountinfo field 5; octal escapes as written).
pcd_mounts_under() {
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print length($5) " " $5 }' \
		/proc/self/mountinfo | sort -rn | cut -d' ' -f2-
}

pcd_stop() {
	[ -n "${PCD_DIR:-}" ] || return 0
	if [ -n "${PCD_PID:-}" ] && kill -0 "$PCD_PID" 2>/dev/null; then
		# Tasks first (their shims clean up runc state, mounts and cgroups), then containers.
		for _t in $(pcd_ctr tasks ls -q 2>/dev/null); do
			pcd_ctr tasks kill -s SIGKILL "$_t" >/dev/null 2>&1
		done
		for _t in $(pcd_ctr tasks ls -q 2>/dev/null); do
			pcd_ctr tasks delete -f "$_t" >/dev/null 2>&1 ||
				pcd_log "ctr tasks delete -f $_t failed"
		done
		for _c in $(pcd_ctr containers ls -q 2>/dev/null); do
			pcd_ctr containers rm "$_c" >/dev/null 2>&1 || pcd_log "ctr containers rm $_c failed"
		done
		kill -TERM "$PCD_PID" 2>/dev/null
		_i=0
		while kill -0 "$PCD_PID" 2>/dev/null && [ "$_i" -lt 100 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		if kill -0 "$PCD_PID" 2>/dev/null; then
			pcd_log "containerd $PCD_PID did not stop on SIGTERM: SIGKILL"
			kill -KILL "$PCD_PID" 2>/dev/null
		fi
		wait "$PCD_PID" 2>/dev/null
	fi
	PCD_PID=''
	# Shims left serving this address (a task that could not be deleted), and their sockets
	# under /run/containerd/s (named sha256("<address>/<namespace>/<id>"), as containerd does).
	for _p in $(pcd_shim_pids); do
		_c=$( { tr '\0' '\n' <"/proc/$_p/cmdline"; } 2>/dev/null | awk '
			$0 == "-namespace" { getline; ns = $0 } $0 == "-id" { getline; id = $0 }
			END { print ns "/" id }')
		pcd_log "killing leftover shim $_p ($_c)"
		kill -KILL "$_p" 2>/dev/null
		_h=$(printf '%s' "$PCD_SOCK/$_c" | sha256sum | cut -d' ' -f1)
		rm -f "/run/containerd/s/$_h"
	done
	# Mounts under the root and state (snapshots, task rootfs): deepest first, lazily if busy.
	pcd_mounts_under "$PCD_DIR" | while read -r _m; do
		umount "$_m" 2>/dev/null || umount -l "$_m" 2>/dev/null || pcd_log "cannot unmount $_m"
	done
	# The namespace's cgroups (ctr's default cgroupsPath is /NAMESPACE/ID), if empty.
	for _g in /sys/fs/cgroup/"$PCD_NS" /sys/fs/cgroup/*/"$PCD_NS"; do
		[ -d "$_g" ] || continue
		find "$_g" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	rmdir "/run/containerd/runc/$PCD_NS" 2>/dev/null
	if [ "${PCD_RUN_NEW:-0}" = 1 ]; then
		rmdir /run/containerd/fifo /run/containerd/runc /run/containerd/s /run/containerd 2>/dev/null
	fi
	[ "${PCD_KEEP:-0}" = 1 ] || rm -rf "$PCD_DIR"
	PCD_DIR=''
	return 0
}

pcd_trap() {
	trap '_rc=$?; trap - EXIT; pcd_stop; if command -v pcd_on_exit >/dev/null 2>&1; then pcd_on_exit; fi; exit $_rc' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

# As a command: DIR COMMAND [ARGS...]
case "${0##*/}" in
private-containerd.sh)
	if [ $# -lt 2 ]; then
		echo "usage: $0 DIR COMMAND [ARGS...]" >&2
		exit 2
	fi
	_dir=$1
	shift
	pcd_trap
	pcd_start "$_dir" || exit 1
	CONTAINERD_ADDRESS=$PCD_SOCK CONTAINERD_NAMESPACE=$PCD_NS "$@"
	exit $?
	;;
esac
