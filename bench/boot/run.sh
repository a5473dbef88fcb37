#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/boot: time from process start to the guest init's first output line,
# nacelle-vmm vs QEMU microvm vs QEMU pc (-kernel), same kernel, initramfs,
# vCPUs and memory, interleaved in the same run on the same KVM (the host's or
# the KVM lab's). Also nacelle-vmm's RSS without guest memory.
#   usage: bench/boot/run.sh [RUNS=10] [VCPUS=1] [MEMORY_MIB=512]
set -euo pipefail
runs=${1:-10} cpus=${2:-1} mem=${3:-512}
src=$(cd "$(dirname "$0")/../.." && pwd)
cd "$src"
ci/deps.sh bench
ci/build.sh >/dev/null
. tests/lab/lib.sh
lab_kernel

work=$(mktemp -d "${TMPDIR:-/tmp}/nacelle-bench-boot.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "${BUILD_DIR:-build}/vmm/nacelle-vmm" "$work/"
cp "$NACELLE_KERNEL" "$work/bzImage"
cp bench/boot/inner.sh "$work/"
lab_busybox_initramfs "$work/initramfs.cpio" bench/boot/init-bench.sh
cp "$(command -v qemu-system-x86_64)" "$work/"
# QEMU's firmware: qboot for microvm, SeaBIOS + the linuxboot option ROM for pc.
mkdir "$work/qemu-fw"
for f in bios-microvm.bin bios-256k.bin linuxboot_dma.bin kvmvapic.bin; do
	cp -L "/usr/share/qemu/$f" "$work/qemu-fw/" 2>/dev/null || cp -L "/usr/share/seabios/$f" "$work/qemu-fw/"
done

"$src/tests/lab/run.sh" --timeout 1800 "$work" inner.sh "$runs" "$cpus" "$mem" | tr -d '\r' |
	tee "$work/out" | grep '^RESULT' >"$work/results" || true

qver=$(qemu-system-x86_64 --version | head -n1)
echo "boot: process start -> guest init's first line; $runs runs each, $cpus vCPU, $mem MiB,"
echo "Debian $(basename "$NACELLE_KERNEL" | sed 's/vmlinuz-//'), $(basename "$(dirname "$0")")/run.sh; peer: $qver"
echo
awk '
	$3 == "fail" { fails[$2]++; next }
	{ t[$2, ++n[$2]] = $3; if ($4 + 0 > 0) { r[$2] += $4; rn[$2]++ } }
	function median(name,   i, j, k, tmp, m) {
		m = n[name]
		for (i = 1; i <= m; i++) a[i] = t[name, i]
		for (i = 2; i <= m; i++) { tmp = a[i]; for (j = i - 1; j >= 1 && a[j] > tmp; j--) a[j + 1] = a[j]; a[j + 1] = tmp }
		mn[name] = a[1]; mx[name] = a[m]
		return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
	}
	END {
		split("nacelle-vmm qemu-microvm qemu-pc", names, " ")
		for (k = 1; k <= 3; k++) if (n[names[k]]) med[names[k]] = median(names[k])
		printf "| VMM | runs | median s | min s | max s | vs nacelle-vmm | RSS w/o guest RAM (mean, MiB) |\n"
		printf "|---|---|---|---|---|---|---|\n"
		for (k = 1; k <= 3; k++) {
			nm = names[k]
			if (!n[nm]) { printf "| %s | 0 (%d failed) | | | | | |\n", nm, fails[nm]; continue }
			ratio = med["nacelle-vmm"] ? med[nm] / med["nacelle-vmm"] : 0
			printf "| %s | %d%s | %.3f | %.3f | %.3f | %.2fx | %.1f |\n", nm, n[nm],
				fails[nm] ? " (" fails[nm] " failed)" : "", med[nm], mn[nm], mx[nm], ratio,
				rn[nm] ? r[nm] / rn[nm] / 1024 : 0
		}
	}' "$work/results"
grep -q 'RESULT nacelle-vmm [0-9]' "$work/results"
