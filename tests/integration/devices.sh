#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue-3 devices end to end: a Debian-kernel guest with two disks (one
# read-only), a NIC on a tap (host side configured by ip=/mask=), rng and a
# console to a file. Checks the disk pattern and the read-only image from the
# host side, ping and NET_MB MiB of TCP each way with matching checksums,
# 1 MiB from /dev/hwrng, and the console's output in its file.
#   usage: devices.sh NACELLE_VMM NETTOOL [NET_MB=100]
set -euo pipefail
vmm=$1
nettool=$2
mb=${3:-${NACELLE_NET_MB:-100}}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
. "$src/tests/lab/lib.sh"
lab_kernel

work=$(mktemp -d "${TMPDIR:-/tmp}/nacelle-devices.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$vmm" "$work/nacelle-vmm"
cp "$nettool" "$work/nettool"
cp "$NACELLE_KERNEL" "$work/bzImage"
cp "$here/inner-devices.sh" "$work/"
lab_busybox_initramfs -m virtio_pci -m virtio_blk -m virtio_net -m virtio-rng -m virtio_console \
	"$work/initramfs.cpio" "$here/guest/init-devices.sh" "$nettool:/bin/nettool"

out="$work/out.txt"
"$src/tests/lab/run.sh" --timeout 900 --memory 3G "$work" inner-devices.sh "$mb" |
	tr -d '\r' >"$out" || true

fail() {
	echo "FAIL (devices): $*" >&2
	cat "$out" >&2
	exit 1
}
guest() { sed -n "s/^[0-9.]* *RESULT $1 //p; s/^RESULT $1 //p" "$out" | head -n1; }
host() { sed -n "s/^HOST $1 //p" "$out" | head -n1; }

grep -q 'NACELLE-INIT-OK' "$out" || fail "the guest never reached init"
[ "$(host vmm-exit)" = 0 ] || fail "nacelle-vmm exited with '$(host vmm-exit)'"
# disks
[ "$(guest vda-write)" = ok ] || fail "writing the pattern to vda failed in the guest"
[ "$(guest vda-readback-md5)" = "$(guest pattern-md5)" ] || fail "vda read-back differs from the pattern"
[ "$(host rw-md5)" = "$(guest pattern-md5)" ] || fail "rw.img on the host does not hold the guest's pattern"
[ "$(guest vdb-ro)" = 1 ] || fail "vdb is not read-only in the guest"
[ "$(guest vdb-write)" = refused ] || fail "a write to the read-only disk succeeded"
[ "$(host ro-md5-before)" = "$(host ro-md5-after)" ] || fail "ro.img changed on the host"
[ "$(guest vdb-md5)" = "$(host ro-md5-before)" ] || fail "the guest reads ro.img differently"
# rng
[ "$(guest hwrng)" = "virtio_rng.0" ] || fail "hwrng is '$(guest hwrng)', not virtio_rng.0"
[ "$(guest hwrng-bytes)" = 1048576 ] || fail "read $(guest hwrng-bytes) bytes from /dev/hwrng, not 1 MiB"
# console
[ "$(host console)" = ok ] || fail "hvc0 output did not reach the console file"
# network
[ "$(guest mac)" = "52:54:00:12:34:56" ] || fail "guest MAC is '$(guest mac)'"
[ "$(guest ping)" = ok ] || fail "the guest cannot ping the host over the tap"
[ "$(guest tx-md5)" = "$(host recv-md5)" ] || fail "guest->host TCP: checksums differ"
[ "$(guest rx-md5)" = "$(host serve-md5)" ] || fail "host->guest TCP: checksums differ"
[ "$(guest rx-bytes)" = $((mb * 1024 * 1024)) ] || fail "host->guest TCP: $(guest rx-bytes) bytes"
[ -z "$(host tap-left-behind)" ] || fail "the tap is still there after nacelle-vmm exited"
echo "ok (devices): disks (pattern, read-only), ping, ${mb} MiB TCP each way" \
	"($(guest tx-rate); $(guest rx-rate)), 1 MiB hwrng, hvc0 -> file"
