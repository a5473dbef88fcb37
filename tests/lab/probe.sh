#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/lab/probe.sh [NACELLE_VMM_BINARY]
#
# Can this host's /dev/kvm run a stock kernel? Prints two lines: "host" or "lab", then the reason.
# It boots Debian's cloud kernel with a busybox initramfs whose /init prints a marker and powers
# off, with the given nacelle-vmm (or, without one, with qemu-system-x86_64 -accel kvm), for at
# most 15 s; marker seen -> host. The answer is cached per (uname -r, kvm_pvm loaded or not,
# VMM binary and its mtime). NACELLE_KVM=host|lab overrides everything. Without /dev/kvm, or
# with PVM's kvm_pvm loaded, the answer is "lab" at once.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"

vmm="${1:-}"
answer() { printf '%s\n%s\n' "$1" "$2"; exit 0; }

case "${NACELLE_KVM:-}" in
host | lab) answer "$NACELLE_KVM" "forced by NACELLE_KVM=$NACELLE_KVM" ;;
'') ;;
*) echo "probe.sh: NACELLE_KVM must be host or lab" >&2; exit 2 ;;
esac
[ -e /dev/kvm ] || answer lab "host /dev/kvm is absent"
# NACELLE_PROBE_BOOT=1 skips the short-cut below and really boots (to test the probe itself).
[ ! -e /sys/module/kvm_pvm ] || [ -n "${NACELLE_PROBE_BOOT:-}" ] ||
	answer lab "host /dev/kvm is PVM (kvm_pvm): it runs only PVM-enlightened guest kernels"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || answer lab "host /dev/kvm is not accessible to $(id -un)"

if [ -n "$vmm" ]; then
	[ -x "$vmm" ] || { echo "probe.sh: $vmm: not an executable" >&2; exit 2; }
	vmm="$(cd "$(dirname "$vmm")" && pwd -P)/$(basename "$vmm")"
	tool="$vmm"
else
	tool="$(command -v qemu-system-x86_64)" || answer lab "no nacelle-vmm given and no qemu-system-x86_64 to probe with"
fi
pvm=0
[ -e /sys/module/kvm_pvm ] && pvm=1
key="$(printf '%s\n' "$(uname -r)" "$pvm" "$tool" "$(stat -c %Y "$tool")" | sha256sum | cut -c1-16)"
memo="$NACELLE_CACHE_DIR/probe/$key"
if [ -s "$memo" ]; then
	cat "$memo"
	exit 0
fi

lab_kernel
tmp=''
pid=''
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	[ -z "$tmp" ] || rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
tmp="$(mktemp -d "${TMPDIR:-/tmp}/nacelle-probe.XXXXXX")"

marker="nacelle-probe-$$-ok"
cat >"$tmp/init" <<EOF
#!/bin/sh
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "$marker" >/dev/console
poweroff -f
EOF
lab_busybox_initramfs "$tmp/initramfs.cpio" "$tmp/init"

cmdline="console=ttyS0 panic=-1 reboot=t quiet"
# In a subshell, so that a VMM killed by a signal leaves its "Aborted" in the log, not on stderr.
(
	if [ -n "$vmm" ]; then
		timeout -k 2 15 "$vmm" --kernel "$NACELLE_KERNEL" --initramfs "$tmp/initramfs.cpio" \
			--cmdline "$cmdline" --cpus boot=1 --memory size=256M --serial tty --console off
	else
		timeout -k 2 15 "$tool" -accel kvm -M microvm,rtc=on -cpu host -m 256M -nodefaults \
			-no-user-config -no-reboot -display none -serial stdio \
			-kernel "$NACELLE_KERNEL" -initrd "$tmp/initramfs.cpio" -append "$cmdline"
	fi
) </dev/null >"$tmp/out" 2>&1 &
pid=$!
wait "$pid" || true
pid=''

if grep -q "$marker" "$tmp/out"; then
	result="host"$'\n'"a stock kernel booted on /dev/kvm with $(basename "$tool")"
else
	why="$(grep -m1 -iE 'error|fail' "$tmp/out" | cut -c1-160 || true)"
	result="lab"$'\n'"host /dev/kvm did not boot a stock kernel with $(basename "$tool")${why:+: $why}"
fi
mkdir -p "$NACELLE_CACHE_DIR/probe"
printf '%s\n' "$result" >"$memo.$$" && mv -f "$memo.$$" "$memo"
printf '%s\n' "$result"
