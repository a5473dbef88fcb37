#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Hybrid vsock end to end: host->guest through "CONNECT <port>" and
# guest->host to "<socket>_<port>", STREAMS concurrent streams of BYTES each
# way in each direction with every byte checked, a host peer that stops
# reading does not stall the other streams, CONNECT to a port with no
# listener fails cleanly (the guest stays up until the host says it is done),
# and the socket file is gone after exit.
#   usage: vsock.sh NACELLE_VMM VSOCKTOOL [STREAMS=64] [BYTES=10485760]
set -euo pipefail
vmm=$1 tool=$2
n=${3:-64} bytes=${4:-10485760}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
. "$src/tests/lab/lib.sh"
lab_kernel

work=$(mktemp -d "${TMPDIR:-/tmp}/nacelle-vsock.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$vmm" "$work/nacelle-vmm"
cp "$tool" "$work/vsocktool"
cp "$NACELLE_KERNEL" "$work/bzImage"
cp "$here/inner-vsock.sh" "$work/"
lab_busybox_initramfs -m virtio_pci -m vmw_vsock_virtio_transport "$work/initramfs.cpio" \
	"$here/guest/init-vsock.sh" "$tool:/bin/vsocktool"

out="$work/out.txt"
"$src/tests/lab/run.sh" --timeout 1200 --memory 3G "$work" inner-vsock.sh "$n" "$bytes" |
	tr -d '\r' >"$out" || true

fail() {
	echo "FAIL (vsock): $*" >&2
	cat "$out" >&2
	exit 1
}
line() { grep "^$1 " "$out" | head -n1; }

grep -q 'SERIAL NACELLE-INIT-OK' "$out" || fail "the guest never reached init"
line "HOST host-connect 0" | grep -q "streams=$n .* ok" || fail "host->guest streams: $(line 'HOST host-connect')"
line "SERIAL RESULT guest-listen 0" | grep -q "ok" || fail "guest side of host->guest: $(line 'SERIAL RESULT guest-listen')"
line "SERIAL RESULT guest-connect 0" | grep -q "streams=$n .* ok" ||
	fail "guest->host streams: $(line 'SERIAL RESULT guest-connect')"
line "HOST host-listen 0" | grep -q "ok" || fail "host side of guest->host: $(line 'HOST host-listen')"
read -r _ _ _ oks stalled _ < <(line "HOST stall")
[ "$oks" -ge 3 ] && [ "$stalled" -ge 1 ] || fail "a stalled peer held up the others: $(line 'HOST stall')"
read -r _ _ rc secs _ < <(line "HOST no-listener")
[ "$rc" != 0 ] || fail "CONNECT to a port with no listener succeeded"
# VSOCKTOOL_CONNECT_SECONDS=1: refused at once and retried for 1 s, not left to time out
[ "$secs" -lt 10 ] || fail "CONNECT to a port with no listener took ${secs}s to fail"
line "HOST done 0" | grep -q " ok" || fail "the guest was gone before the host was done: $(line 'HOST done')"
[ "$(line 'HOST vmm-exit' | cut -d' ' -f3)" = 0 ] || fail "nacelle-vmm did not exit 0"
grep -q '^HOST socket-left' "$out" && fail "the vsock socket file was left behind"
echo "ok (vsock): $n streams x $bytes bytes each way, both directions;" \
	"host->guest: $(line 'HOST host-connect' | grep -o 'MBps=[0-9.]*')," \
	"guest->host: $(line 'SERIAL RESULT guest-connect' | grep -o 'MBps=[0-9.]*');" \
	"stalled peer isolated; no-listener refused"
