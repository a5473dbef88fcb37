#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/devices: virtio-blk and virtio-net of nacelle-vmm vs QEMU's
# virtio-blk-pci and virtio-net-pci (no vhost), same guest, same kernel,
# same KVM (the host's or the KVM lab's), alternating in one run.
#   usage: bench/devices/run.sh [ROUNDS=3] [MIB=64]
set -euo pipefail
rounds=${1:-3} mb=${2:-64}
src=$(cd "$(dirname "$0")/../.." && pwd)
cd "$src"
ci/deps.sh bench
ci/build.sh >/dev/null
build=${BUILD_DIR:-build}
. tests/lab/lib.sh
lab_kernel

work=$(mktemp -d "${TMPDIR:-/tmp}/nacelle-bench-devices.XXXXXX")
trap '[ -n "${NACELLE_BENCH_KEEP:-}" ] || rm -rf "$work"' EXIT
cp "$build/vmm/nacelle-vmm" "$build/tests/tools/nettool" "$work/"
cp "$NACELLE_KERNEL" "$work/bzImage"
cp bench/devices/inner.sh "$work/"
lab_busybox_initramfs -m virtio_pci -m virtio_blk -m virtio_net "$work/initramfs.cpio" \
	bench/devices/init-bench.sh "$build/tests/tools/nettool:/bin/nettool" \
	"$build/tests/tools/blkbench:/bin/blkbench"
cp "$(command -v qemu-system-x86_64)" "$work/"
mkdir "$work/qemu-fw"
for f in bios-256k.bin linuxboot_dma.bin kvmvapic.bin; do
	cp -L "/usr/share/qemu/$f" "$work/qemu-fw/" 2>/dev/null || cp -L "/usr/share/seabios/$f" "$work/qemu-fw/"
done

"$src/tests/lab/run.sh" --timeout 3000 "$work" inner.sh "$rounds" "$mb" | tee "$work/out" |
	grep '^RESULT' >"$work/results" || true

echo "devices: $rounds rounds per VMM (alternating), 2 vCPUs, 768 MiB, raw disk O_DIRECT,"
echo "blkbench at queue depth 1 (sequential: ${mb} MiB in 1 MiB blocks; random: 8 MiB in 4 KiB),"
echo "TCP: ${mb} MiB with nettool over a tap; peer: $(qemu-system-x86_64 --version | head -n1) (no vhost)"
echo
awk '
	{ k = $3; v[$2, k] = v[$2, k] " " $4; if ($5 != "-") io[$2, k] = io[$2, k] " " $5; keys[k] = 1 }
	function median(s,   n, a, i, j, t) {
		n = split(s, a, " ")
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
		return n ? (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) : 0
	}
	END {
		printf "| metric | nacelle-vmm | QEMU | nacelle / QEMU |\n|---|---|---|---|\n"
		split("seqread seqwrite randread randwrite tcp-guest-to-host tcp-host-to-guest", order, " ")
		for (i = 1; i <= 6; i++) {
			k = order[i]
			if (!(k in keys)) continue
			isrand = k ~ /^rand/
			a = isrand ? median(io["nacelle-vmm", k]) : median(v["nacelle-vmm", k])
			b = isrand ? median(io["qemu", k]) : median(v["qemu", k])
			unit = isrand ? " IOPS" : " MB/s"
			printf "| %s | %s%s | %s%s | %.2fx |\n", k, a, unit, b, unit, (b > 0 ? a / b : 0)
		}
	}' "$work/results"
grep -q '^RESULT nacelle-vmm' "$work/results"
