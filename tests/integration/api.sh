#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The REST API end to end: nacelle-vmm started with only --api-socket, a VM
# created from JSON and driven through nacelle-remote (boot, info, pause,
# resume, counters, power button, shutdown, delete, shutdown-vmm), state
# errors answered as errors, malformed requests from a raw socket answered
# 400/404/405/501 while the VMM keeps serving.
#   usage: api.sh NACELLE_VMM NACELLE_REMOTE NETTOOL
set -euo pipefail
vmm=$1 remote=$2 nettool=$3
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
. "$src/tests/lab/lib.sh"
lab_kernel

work=$(mktemp -d "${TMPDIR:-/tmp}/nacelle-api.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$vmm" "$work/nacelle-vmm"
cp "$remote" "$work/nacelle-remote"
cp "$nettool" "$work/nettool"
cp "$NACELLE_KERNEL" "$work/bzImage"
cp "$here/inner-api.sh" "$work/"
lab_busybox_initramfs "$work/initramfs.cpio" "$here/guest/init-api.sh"

out="$work/out.txt"
"$src/tests/lab/run.sh" --timeout 600 "$work" inner-api.sh | tr -d '\r' >"$out" || true

fail() {
	echo "FAIL (api): $*" >&2
	cat "$out" >&2
	exit 1
}
# step NAME WANT_RC [PATTERN]: the nacelle-remote call's exit code and output
step() {
	local line rc
	line=$(grep "^STEP $1 " "$out" | head -n1) || fail "step $1 did not run"
	rc=$(echo "$line" | cut -d' ' -f3)
	[ "$rc" = "$2" ] || fail "step $1: exit code $rc, want $2 ($line)"
	[ -z "${3:-}" ] || echo "$line" | grep -qE "$3" || fail "step $1: output lacks /$3/ ($line)"
}
raw() { grep "^RAW $1 " "$out" | grep -q "HTTP/1.1 $2" || fail "raw $1: want HTTP $2 ($(grep "^RAW $1 " "$out"))"; }

step ping 0 '"version"'
step info-before 1 'error'
step boot-before-create 1 'error'
step create 0
step create-twice 1 'already'
step boot 0
step info-running 0 '"state": ?"Running"'
step pause 0
step pause-twice 1 'error'
step info-paused 0 '"state": ?"Paused"'
read -r _ t1 t2 < <(grep '^PAUSED-TICKS ' "$out")
[ "$t1" -ge 2 ] || fail "the guest was paused before it ticked ($t1 ticks)"
[ "$t1" = "$t2" ] || fail "the guest kept running while paused ($t1 -> $t2 ticks)"
read -r _ t3 < <(grep '^RESUMED-TICKS ' "$out")
[ "$t3" -gt "$t2" ] || fail "the guest did not run again after resume ($t2 -> $t3 ticks)"
step resume 0
step resume-twice 1 'error'
step counters 0 'rng|read_bytes|bytes'
step power-button 0
grep -q '^POWER-BUTTON [1-9]' "$out" || fail "the guest never saw the power button"
raw garbage 400
raw unknown-path 404
raw wrong-method 405
raw bad-json 400
raw not-implemented 501
step ping-after-garbage 0 '"version"'
step shutdown 0
step info-shutdown 0 '"state": ?"Shutdown"'
step reboot-shutdown-vm 1 'error'
step delete 0
step info-deleted 1 'error'
step shutdown-vmm 0
grep -q '^VMM-EXIT 0' "$out" || fail "nacelle-vmm did not exit 0 after vmm.shutdown"
grep -q '^SOCKET-LEFT' "$out" && fail "the API socket file was left behind"
echo "ok (api): full lifecycle through nacelle-remote; pause held the guest ($t1 = $t2 ticks)," \
	"state errors and malformed requests answered, power button seen"
