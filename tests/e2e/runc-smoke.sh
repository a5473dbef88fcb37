#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/e2e/runc-smoke.sh — the end-to-end plumbing without a VM: a private containerd
# (tests/e2e/private-containerd.sh), the busybox OCI image (tests/e2e/make-busybox-image.sh)
# imported with `ctr image import`, then
#   ctr run --rm --runtime io.containerd.runc.v2 docker.io/library/busybox:nacelle ID uname -a
# which prints the host's kernel (runc shares it). Checks the output, that the task and
# container are gone afterwards, and that stopping containerd leaves no mount, process or
# directory behind. Needs root, containerd and runc (exit 77 = skipped without them).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (containerd)"
for t in containerd ctr runc containerd-shim-runc-v2; do
	command -v "$t" >/dev/null 2>&1 || skip "$t is not installed (ci/deps.sh test installs containerd and runc)"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/nacelle-runc-smoke.XXXXXX")"
# shellcheck source=tests/e2e/private-containerd.sh
. "$here/private-containerd.sh"
pcd_on_exit() { rm -rf "$work"; }
pcd_trap
export PCD_NS=nacelle-e2e-$$
image=docker.io/library/busybox:nacelle
id=runc-smoke-$$

fail() {
	echo "FAIL (runc-smoke): $*" >&2
	[ -z "${PCD_LOG:-}" ] || { echo "--- containerd log (tail)" >&2; tail -n 40 "$PCD_LOG" >&2; }
	exit 1
}

"$here/make-busybox-image.sh" --name "$image" "$work/busybox.tar" >/dev/null
pcd_start "$work/containerd" || fail "containerd did not start"
# The CRI plugin parsed both runtime tables (runc and nacelle) of the private config.
pcd_ctr plugins ls >"$work/plugins"
grep -Eq '^io\.containerd\.grpc\.v1 +cri +.* ok *$' "$work/plugins" ||
	fail "the CRI plugin did not load: $(grep ' cri ' "$work/plugins")"
pcd_ctr image import "$work/busybox.tar" >"$work/import.out" 2>&1 || fail "ctr image import: $(cat "$work/import.out")"
pcd_ctr image ls -q | grep -qx "$image" || fail "ctr image import did not create $image: $(pcd_ctr image ls -q)"

start=$EPOCHREALTIME
pcd_ctr run --rm --runtime io.containerd.runc.v2 "$image" "$id" uname -a >"$work/out" 2>"$work/err" ||
	fail "ctr run exited $?: $(cat "$work/err")"
t=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
out="$(tr -d '\r' <"$work/out")"
echo "runc: $out"
read -r sys _ release _ <<<"$out"
[ "$sys" = Linux ] || fail "unexpected uname output: '$out'"
[ "$release" = "$(uname -r)" ] || fail "the container's kernel '$release' is not the host's '$(uname -r)'"
[ -z "$(pcd_ctr tasks ls -q)" ] || fail "a task is left: $(pcd_ctr tasks ls -q)"
[ -z "$(pcd_ctr containers ls -q)" ] || fail "a container is left (--rm): $(pcd_ctr containers ls -q)"

dir="$PCD_DIR"
pid="$PCD_PID"
pcd_stop
[ ! -e "$dir" ] || fail "pcd_stop left $dir"
! kill -0 "$pid" 2>/dev/null || fail "containerd $pid still runs after pcd_stop"
! grep -qF " $dir" /proc/self/mountinfo || fail "mounts left under $dir"
for p in /proc/[0-9]*; do
	if { tr "\0" " " <"$p/cmdline"; } 2>/dev/null | grep -qF -- "-address $dir/"; then
		fail "a shim of the private containerd still runs: ${p#/proc/}"
	fi
done
echo "ok (runc-smoke): ctr run --runtime io.containerd.runc.v2 printed the host's kernel $release in ${t}s; containerd, shims, mounts and $dir gone"
