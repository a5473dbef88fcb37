#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# How a running nacelle-vmm ends: a guest reboot request exits with code 3,
# SIGTERM and SIGINT tear down cleanly (exit 0) within a second. Runs on the
# host's KVM or in the KVM lab (tests/lab/run.sh says which).
#   usage: lifecycle.sh reboot|sigterm|sigint NACELLE_VMM
set -euo pipefail
case_name=$1
vmm=$2
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
. "$src/tests/lab/lib.sh"
lab_kernel

work=$(mktemp -d "${TMPDIR:-/tmp}/nacelle-life-$case_name.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$vmm" "$work/nacelle-vmm"
cp "$NACELLE_KERNEL" "$work/bzImage"
cp "$here/inner-vmm.sh" "$here/inner-signal.sh" "$work/"
lab_busybox_initramfs "$work/initramfs.cpio" "$here/guest/init-facts.sh"
args=(--kernel ./bzImage --initramfs ./initramfs.cpio --cpus boot=2 --memory size=512M
	--serial tty --console off)
base="console=ttyS0 quiet panic=-1"
out="$work/out.txt"
fail() {
	echo "FAIL ($case_name): $*" >&2
	cat "$out" >&2
	exit 1
}

case $case_name in
reboot)
	"$src/tests/lab/run.sh" --timeout 300 "$work" inner-vmm.sh 120 "${args[@]}" \
		--cmdline "$base nacelle.action=reboot" | tr -d '\r' >"$out" || true
	grep -q ' REBOOT-NOW' "$out" || fail "the guest did not get to its reboot"
	read -r _ _ rc < <(grep '^VMM-EXIT ' "$out") || fail "nacelle-vmm did not finish"
	[ "$rc" = 3 ] || fail "exit code $rc after a guest reboot request (want 3)"
	echo "ok (reboot): guest reboot request -> nacelle-vmm exit code 3"
	;;
sigterm | sigint)
	sig=${case_name#sig}
	sig=${sig^^}
	"$src/tests/lab/run.sh" --timeout 300 "$work" inner-signal.sh "$sig" "${args[@]}" \
		--cmdline "$base nacelle.action=idle" | tr -d '\r' >"$out" || true
	read -r _ t rc < <(grep '^SIGNAL-EXIT ' "$out") || fail "no result"
	[ "$t" != never-idle ] || fail "the guest never reached its idle init"
	[ "$rc" = 0 ] || fail "exit code $rc after SIG$sig (want 0)"
	awk -v t="$t" 'BEGIN { exit !(t < 1.0) }' || fail "teardown took $t s after SIG$sig"
	grep -qi 'error' "$out" && fail "an error was logged during teardown"
	echo "ok ($case_name): SIG$sig -> clean exit 0 after $t s"
	;;
*) echo "unknown case $case_name" >&2; exit 2 ;;
esac
