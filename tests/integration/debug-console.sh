#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The debug image's console: rootfs/build-image.sh --debug adds busybox, and
# the agent (PID 1) then serves a shell on vsock port 1026 to the host; a
# command sent through the hybrid vsock ("CONNECT 1026") runs in the guest.
#   usage: debug-console.sh NACELLE_VMM NACELLE_AGENT NETTOOL
set -euo pipefail
vmm=$1 agent=$2 nettool=$3
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
bb=$(command -v busybox) || { echo "SKIP: no busybox (busybox-static)"; exit 77; }
if ldd "$bb" >/dev/null 2>&1; then echo "SKIP: $bb is dynamically linked (install busybox-static)"; exit 77; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/nacelle-debug-console.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$src/rootfs/build-image.sh" --debug --agent "$agent" --out "$work/image" >"$work/image.log" 2>&1 ||
	{ cat "$work/image.log" >&2; echo "FAIL (debug-console): rootfs/build-image.sh failed" >&2; exit 1; }
. "$work/image/image.env"
cp "$vmm" "$work/nacelle-vmm"
cp "$nettool" "$work/nettool"
cp "$here/inner-debug-console.sh" "$work/"

out="$work/out.txt"
"$src/tests/lab/run.sh" --timeout 600 "$work" inner-debug-console.sh \
	"image/$NACELLE_IMAGE_KERNEL" "image/$NACELLE_IMAGE_INITRAMFS" | tr -d '\r' >"$out" || true

fail() {
	echo "FAIL (debug-console): $*" >&2
	cat "$out" >&2
	exit 1
}
host() { sed -n "s/^HOST $1 //p" "$out" | head -n1; }
case "$(host reply)" in
*"hi-42 $NACELLE_IMAGE_KERNEL_VERSION"*) ;;
*) fail "the debug console did not run the command: '$(host reply)'" ;;
esac
[ "$(host vmm-exit)" = 0 ] || fail "nacelle-vmm exited with '$(host vmm-exit)' after SIGTERM"
echo "ok (debug-console): a shell on vsock port 1026 of the debug image answered '$(host reply)'"
