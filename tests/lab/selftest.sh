#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/lab/selftest.sh — proves the KVM lab works, without nacelle-vmm:
#  1. in the lab: /dev/kvm exists, the CPU shows svm, and QEMU (-accel kvm, microvm) boots Debian's
#     cloud kernel with a tiny busybox initramfs whose init prints a marker; prints timings.
#  2. run.sh passes arguments (with spaces and quotes), stdout, stderr and the exit status through.
# Always uses the lab (NACELLE_KVM=lab). Exit 0 when all passed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"
export NACELLE_KVM=lab

tmp=''
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	[ -z "$tmp" ] || rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

tmp="$(mktemp -d "${TMPDIR:-/tmp}/nacelle-selftest.XXXXXX")"
payload="$tmp/pay load" # a space on purpose
mkdir -p "$payload/fw"

lab_kernel
cp "$NACELLE_KERNEL" "$payload/bzImage"
cat >"$tmp/tiny-init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
echo "nested-guest-up $(cut -d' ' -f1 /proc/uptime)"
poweroff -f
EOF
lab_busybox_initramfs "$payload/tiny.cpio" "$tmp/tiny-init"
qemu="$(command -v qemu-system-x86_64)"
cp "$qemu" "$payload/qemu-system-x86_64"
# Firmware QEMU looks for in its -L directory: microvm's qboot, pc's SeaBIOS, the option ROMs
# of -kernel (linuxboot, PVH).
for f in /usr/share/qemu/bios-microvm.bin /usr/share/qemu/qboot.rom /usr/share/qemu/linuxboot_dma.bin \
	/usr/share/qemu/linuxboot.bin /usr/share/qemu/pvh.bin /usr/share/qemu/kvmvapic.bin \
	/usr/share/seabios/bios-256k.bin /usr/share/seabios/bios.bin; do
	[ -e "$f" ] && cp -L "$f" "$payload/fw/"
done

cat >"$payload/guest.sh" <<'EOF'
# Runs inside the lab (busybox sh). Arguments: "a b" "it's".
t0="$(cut -d' ' -f1 /proc/uptime)"
fail() { echo "FAIL: $*"; exit 1; }
[ "$#" = 2 ] && [ "$1" = "a b" ] && [ "$2" = "it's" ] || fail "arguments: $*"
[ "$(pwd)" = "$NACELLE_PAYLOAD" ] || fail "cwd $(pwd) is not $NACELLE_PAYLOAD"
[ -c /dev/kvm ] || fail "no /dev/kvm"
grep -qw svm /proc/cpuinfo || fail "no svm in /proc/cpuinfo"
echo "ok: /dev/kvm, svm, cwd $(pwd)"
a="$(cut -d' ' -f1 /proc/uptime)"
./qemu-system-x86_64 --version >/dev/null || fail "qemu-system-x86_64 does not run"
b="$(cut -d' ' -f1 /proc/uptime)"
awk -v a="$a" -v b="$b" 'BEGIN { printf "ok: qemu-system-x86_64 --version took %.2fs (dynamic linking of 50 libraries under TCG)\n", b - a }'
t0="$(cut -d' ' -f1 /proc/uptime)"
./qemu-system-x86_64 -L ./fw -accel kvm -M microvm,rtc=on -cpu host -smp 1 -m 256M \
	-nodefaults -no-user-config -no-reboot -display none -serial stdio \
	-kernel bzImage -initrd tiny.cpio -append "console=ttyS0 panic=-1 reboot=t quiet" \
	</dev/null >/tmp/nested.out 2>&1 &
q=$!
# A guard: the lab's own timeout would also end it, but this says what happened.
( sleep 60; kill "$q" 2>/dev/null ) &
guard=$!
wait "$q"
qrc=$?
kill "$guard" 2>/dev/null
t1="$(cut -d' ' -f1 /proc/uptime)"
grep -q nested-guest-up /tmp/nested.out || { cat /tmp/nested.out; fail "nested guest did not start (qemu exit $qrc)"; }
[ "$qrc" = 0 ] || { cat /tmp/nested.out; fail "qemu exit $qrc"; }
up="$(sed -n 's/.*nested-guest-up \([0-9.]*\).*/\1/p' /tmp/nested.out)"
awk -v a="$t0" -v b="$t1" -v u="$up" 'BEGIN {
	printf "ok: nested guest (QEMU -accel kvm, microvm) ran %.2fs from QEMU start to power-off; its kernel reached init at %.2fs of its uptime\n", b - a, u
}'
EOF

echo "== selftest 1: KVM inside the lab, nested guest boot"
out="$tmp/out1" err="$tmp/err1"
rc=0
NACELLE_LAB_TIMES=1 "$here/run.sh" --timeout 300 "$payload" guest.sh "a b" "it's" >"$out" 2>"$err" || rc=$?
cat "$out"
cat "$err" >&2
[ "$rc" = 0 ] || { echo "selftest: FAILED (exit $rc)" >&2; exit 1; }
grep -q '^kvm: lab ' "$err" || { echo "selftest: FAILED: no 'kvm: lab' line" >&2; exit 1; }

echo "== selftest 2: exit status, stdout and stderr"
mkdir "$tmp/p2"
printf '%s\n' 'echo "out $*"' 'echo err >&2' 'exit 42' >"$tmp/p2/t.sh"
rc=0
"$here/run.sh" --timeout 120 "$tmp/p2" t.sh x >"$tmp/out2" 2>"$tmp/err2" || rc=$?
[ "$rc" = 42 ] || { cat "$tmp/err2" >&2; echo "selftest: FAILED: exit $rc, not 42" >&2; exit 1; }
[ "$(cat "$tmp/out2")" = "out x" ] || { echo "selftest: FAILED: stdout '$(cat "$tmp/out2")'" >&2; exit 1; }
[ "$(sed -n 2p "$tmp/err2")" = err ] || { echo "selftest: FAILED: stderr '$(cat "$tmp/err2")'" >&2; exit 1; }
echo "ok: exit status 42, stdout and stderr apart"
echo "selftest: 2 passed, 0 failed"
