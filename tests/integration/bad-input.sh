#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bad input to nacelle-vmm: each case must exit non-zero with exactly one
# line on stderr ("nacelle-vmm: error: ..."), nothing on stdout, no signal
# death (no core dump), before any guest runs. No usable KVM is needed.
#   usage: bad-input.sh NACELLE_VMM
set -uo pipefail
vmm=$1
here=$(cd "$(dirname "$0")" && pwd)
# the Debian kernel, for the cases that must get past loading
. "$here/../lab/lib.sh"
lab_kernel >/dev/null 2>&1 || true
work=$(mktemp -d "${TMPDIR:-/tmp}/nacelle-bad.XXXXXX")
trap 'rm -rf "$work"' EXIT
head -c 65536 /dev/urandom >"$work/random.bin"
printf 'not a kernel\n' >"$work/text.txt"
: >"$work/empty"
kernel="$work/random.bin"
failures=0

check() {
	local name=$1 want=$2
	shift 2
	local rc lines
	(cd "$work" && ulimit -c 0 && exec timeout 20 "$vmm" "$@") >"$work/out" 2>"$work/err"
	rc=$?
	lines=$(wc -l <"$work/err")
	if [ "$rc" -eq 0 ] || [ "$rc" -ge 124 ]; then
		echo "FAIL $name: exit code $rc (want 1; 124+ = timeout or signal)"
	elif [ "$lines" -ne 1 ] || ! grep -q '^nacelle-vmm: error: ' "$work/err"; then
		echo "FAIL $name: want exactly one 'nacelle-vmm: error:' line, got $lines:"
		sed 's/^/    /' "$work/err"
	elif [ -s "$work/out" ]; then
		echo "FAIL $name: unexpected stdout: $(head -c 200 "$work/out")"
	elif ! grep -qi -- "$want" "$work/err"; then
		echo "FAIL $name: message does not mention '$want': $(cat "$work/err")"
	else
		echo "ok   $name: $(cat "$work/err")"
		return 0
	fi
	failures=$((failures + 1))
}

check missing-kernel "no such file" --kernel "$work/does-not-exist"
check not-a-kernel "not a bzImage" --kernel "$work/random.bin"
check text-kernel "not a bzImage" --kernel "$work/text.txt"
check empty-kernel "not a bzImage" --kernel "$work/empty"
check kernel-is-dir "kernel" --kernel "$work"
check missing-initramfs "no such file" --kernel "$kernel" --initramfs "$work/nope.cpio"
check no-kernel "--kernel is required" --memory size=512M
check memory-zero "size" --kernel "$kernel" --memory size=0
check memory-nonsense "size" --kernel "$kernel" --memory size=lots
check memory-suffix "size" --kernel "$kernel" --memory size=12Q
check memory-tiny "size" --kernel "$kernel" --memory size=1M
check memory-unknown-key "bogus" --kernel "$kernel" --memory size=512M,bogus=1
check cpus-zero "boot" --kernel "$kernel" --cpus boot=0
check cpus-junk "boot" --kernel "$kernel" --cpus boot=two
check cpus-too-many "boot" --kernel "$kernel" --cpus boot=4096
check unknown-option "unknown option" --kernel "$kernel" --frobnicate
check missing-value "--kernel" --kernel
check bad-serial "serial" --kernel "$kernel" --serial sideways
check positional "argument" --kernel "$kernel" stray
check log-file-dir "log-file" --kernel "$kernel" --log-file /proc/nonexistent/dir/log

# devices: refused before the guest runs (the kernel must load for the
# device files to be opened)
realk=${NACELLE_KERNEL:-$kernel}
check disk-missing "no such file" --kernel "$realk" --disk path="$work/nope.img"
check disk-is-dir "directory" --kernel "$realk" --disk path="$work"
check disk-no-path "path" --kernel "$kernel" --disk readonly=on
check disk-queue-size "queue_size" --kernel "$kernel" --disk path="$work/empty",queue_size=100
check net-bad-mac "MAC" --kernel "$kernel" --net tap=t0,mac=52:54:00:zz:00:01
check net-multicast-mac "MAC" --kernel "$kernel" --net tap=t0,mac=01:00:5e:00:00:01
check net-queue-size "queue_size" --kernel "$kernel" --net tap=t0,queue_size=3
check net-bad-mask "mask" --kernel "$kernel" --net tap=t0,ip=192.0.2.1,mask=255.0.255.0
check rng-missing-src "no such file" --kernel "$realk" --rng src="$work/no-entropy"
# A tap that cannot be created: root without CAP_NET_ADMIN gets EPERM from
# TUNSETIFF. The kernel must be a real one so that loading gets that far.
if command -v setpriv >/dev/null && [ -n "${NACELLE_KERNEL:-}" ] && [ -e /dev/net/tun ]; then
	vmm_real=$vmm
	vmm="setpriv"
	check tap-no-permission "not permitted" --bounding-set -net_admin --inh-caps -net_admin -- \
		"$vmm_real" --kernel "$NACELLE_KERNEL" --net tap=nacelle-noperm
	vmm=$vmm_real
else
	echo "skip tap-no-permission: needs setpriv, /dev/net/tun and NACELLE_KERNEL"
fi

echo "bad-input: $failures failure(s)"
[ "$failures" -eq 0 ]
