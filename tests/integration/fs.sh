#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# virtio-fs end to end with Debian's virtiofsd: the guest mounts the tag,
# reads a BIG_MB file (checksum), creates, renames and deletes files the host
# then sees; killing virtiofsd makes guest I/O fail and the VMM log one line,
# and nacelle-vmm keeps running and exits cleanly.
#   usage: fs.sh NACELLE_VMM [BIG_MB=200]
set -euo pipefail
vmm=$1
mb=${2:-200}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
. "$src/tests/lab/lib.sh"
lab_kernel
virtiofsd=/usr/lib/qemu/virtiofsd
[ -x "$virtiofsd" ] || { echo "SKIP: $virtiofsd (qemu-system-common) is not installed"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/nacelle-fs.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$vmm" "$work/nacelle-vmm"
cp "$NACELLE_KERNEL" "$work/bzImage"
cp "$here/inner-fs.sh" "$work/"
lab_busybox_initramfs -m virtio_pci -m virtiofs "$work/initramfs.cpio" "$here/guest/init-fs.sh"

out="$work/out.txt"
NACELLE_LAB_TOOLS="$virtiofsd" "$src/tests/lab/run.sh" --timeout 900 --memory 3G "$work" \
	inner-fs.sh "$mb" | tr -d '\r' >"$out" || true

fail() {
	echo "FAIL (fs): $*" >&2
	cat "$out" >&2
	exit 1
}
guest() { sed -n "s/^SERIAL RESULT $1 //p" "$out" | head -n1; }
host() { sed -n "s/^HOST $1 //p" "$out" | head -n1; }

grep -q 'SERIAL NACELLE-INIT-OK' "$out" || fail "the guest never reached init"
[ "$(guest mount)" = ok ] || fail "mount -t virtiofs failed in the guest"
[ "$(guest big-md5)" = "$(host big-md5)" ] || fail "the guest read big.bin differently"
[ "$(host created)" = "created by the guest" ] || fail "the host does not see the guest's new file"
[ "$(host renamed)" = yes ] || fail "the host does not see the rename"
[ "$(host deleted)" = yes ] || fail "the host still has the deleted file"
case "$(guest after-kill)" in
failed:*) ;;
*) fail "after virtiofsd died a guest read did not fail: '$(guest after-kill)'" ;;
esac
[ "$(host vmm-exit)" = 0 ] || fail "nacelle-vmm exited with '$(host vmm-exit)' (want 0 after the guest's power-off)"
n=$(grep -c 'HOST vmm-stderr.*vhost-user backend disconnected' "$out" || true)
[ "$n" = 1 ] || fail "want exactly one 'backend disconnected' line from the VMM, got $n"
echo "ok (fs): ${mb} MiB read with matching checksum, create/rename/delete seen by the host," \
	"after killing virtiofsd: guest read $(guest after-kill), one VMM log line, clean exit"
