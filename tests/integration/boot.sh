#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Boot Debian's cloud kernel with nacelle-vmm on a KVM that can run it (the
# host's or the KVM lab's; tests/lab/run.sh decides and says which) and check
# what the guest's init reports.
#   usage: boot.sh CASE NACELLE_VMM
# CASE: cpus1 cpus4 mem256m mem2g cmdline pvh poweroff
set -euo pipefail
case_name=$1
vmm=$2
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source=../lab/lib.sh
. "$src/tests/lab/lib.sh"
lab_kernel

work=$(mktemp -d "${TMPDIR:-/tmp}/nacelle-boot-$case_name.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$vmm" "$work/nacelle-vmm"
cp "$here/inner-vmm.sh" "$work/"
lab_busybox_initramfs "$work/initramfs.cpio" "$here/guest/init-facts.sh"

kernel=bzImage
cp "$NACELLE_KERNEL" "$work/bzImage"
cpus=1 mem=512M expect_mem_mb=512
cmdline="console=ttyS0 quiet panic=-1"
case $case_name in
cpus1) ;;
cpus4) cpus=4 ;;
mem256m) mem=256M expect_mem_mb=256 ;;
mem2g) mem=2G expect_mem_mb=2048 ;;
cmdline) cmdline="$cmdline nacelle.test=hello-$$ another=x" ;;
pvh) cp "$NACELLE_VMLINUX" "$work/vmlinux"; kernel=vmlinux ;;
poweroff) cpus=2 ;;
*) echo "unknown case $case_name" >&2; exit 2 ;;
esac

out="$work/out.txt"
"$src/tests/lab/run.sh" --timeout 300 "$work" inner-vmm.sh 120 \
	--kernel "./$kernel" --initramfs ./initramfs.cpio --cmdline "$cmdline" \
	--cpus "boot=$cpus" --memory "size=$mem" --serial tty --console off \
	| tr -d '\r' >"$out" || true

fail() {
	echo "FAIL ($case_name): $*" >&2
	echo "---- output ----" >&2
	cat "$out" >&2
	exit 1
}
field() { sed -n "s/^[0-9.]* $1=//p" "$out" | head -n1; }

grep -q '^VMM-EXIT ' "$out" || fail "nacelle-vmm did not finish"
read -r _ t_exit rc < <(grep '^VMM-EXIT ' "$out")
t_init=$(awk '$2 == "NACELLE-INIT-OK" {print $1; exit}' "$out")
[ -n "$t_init" ] || fail "the guest never reached init"
[ "$rc" = 0 ] || fail "nacelle-vmm exited with $rc (expected 0 after the guest's power-off)"
grep -q '^[0-9.]* NACELLE-POWEROFF-FAILED' "$out" && fail "the guest could not power off"

nproc=$(field nproc)
[ "$nproc" = "$cpus" ] || fail "guest sees $nproc CPUs, expected $cpus"
[ "$(field online)" = "$([ "$cpus" = 1 ] && echo 0 || echo "0-$((cpus - 1))")" ] ||
	fail "online CPUs '$(field online)' for $cpus vCPUs"
mem_kb=$(field memtotal_kb)
ram_kb=$(field ram_kb)
image_kb=$(field kernel_image_kb)
# The e820 map must hand the guest (almost) all of its RAM: only the EBDA
# and the ACPI/BIOS area below 1 MiB are reserved.
awk -v got="$ram_kb" -v want="$expect_mem_mb" \
	'BEGIN { exit !(got >= want * 1024 * 0.99 && got <= want * 1024) }' ||
	fail "firmware memory map has ${ram_kb} kB of RAM, not within 1% of ${expect_mem_mb} MiB"
# MemTotal excludes what the kernel takes for itself. Its image alone (about
# 33 MB for Debian's cloud kernel, 13% of 256 MiB) is beyond any VMM's reach,
# so it is added back; everything else must be within 10% of the size.
[ -n "$image_kb" ] || fail "no 'Memory: ... kernel code' line in the guest's dmesg"
awk -v got="$((mem_kb + image_kb))" -v want="$expect_mem_mb" \
	'BEGIN { exit !(got >= want * 1024 * 0.9 && got <= want * 1024) }' ||
	fail "MemTotal ${mem_kb} kB + kernel image ${image_kb} kB is not within 10% of ${expect_mem_mb} MiB"
[ "$(field cmdline)" = "$cmdline" ] || fail "command line '$(field cmdline)' != '$cmdline'"
case "$(field rtc)" in rtc_cmos*) ;; *) false ;; esac || fail "no CMOS RTC in the guest (rtc0 = '$(field rtc)')"
[ "$(field year)" = "$(date -u +%Y)" ] || fail "guest clock year $(field year) != host's"

t_off=$(awk '$2 == "POWEROFF-NOW" {print $1; exit}' "$out")
awk -v a="$t_off" -v b="$t_exit" 'BEGIN { exit !(b - a < 1.0) }' ||
	fail "power-off took $(awk -v a="$t_off" -v b="$t_exit" 'BEGIN{print b-a}') s (limit 1 s)"

echo "ok ($case_name): kernel=$kernel cpus=$nproc RAM=${ram_kb}kB MemTotal=${mem_kb}kB (+${image_kb}kB image) init at ${t_init}s," \
	"exit 0 $(awk -v a="$t_off" -v b="$t_exit" 'BEGIN{printf "%.2f", b-a}') s after power-off"
