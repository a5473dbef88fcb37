#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Host<->guest channel throughput, nacelle-vmm beside QEMU in the same run
# (host or KVM lab): vsock one-way streams host->guest and guest->host with 1
# and 8 streams (nacelle: hybrid vsock over a Unix socket; QEMU:
# vhost-vsock-pci, the kernel's own vsock), and virtio-fs sequential read
# through the same Debian virtiofsd (QEMU: vhost-user-fs-pci).
#   usage: bench/channels/run.sh [RUNS=3] [MB=128]   (BUILD_DIR=build)
set -euo pipefail
runs=${1:-3} mb=${2:-128}
src=$(cd "$(dirname "$0")/../.." && pwd)
cd "$src"
. tests/lab/lib.sh
lab_kernel
build=${BUILD_DIR:-build}
virtiofsd=/usr/lib/qemu/virtiofsd

work=$(mktemp -d "${TMPDIR:-/tmp}/nacelle-bench-channels.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$build/vmm/nacelle-vmm" "$build/tests/tools/vsocktool" "$work/"
cp "$NACELLE_KERNEL" "$work/bzImage"
cp bench/channels/inner.sh "$work/"
lab_busybox_initramfs -m virtio_pci -m vmw_vsock_virtio_transport -m virtiofs \
	"$work/initramfs.cpio" bench/channels/init-channels.sh "$build/tests/tools/vsocktool:/bin/vsocktool"
cp "$(command -v qemu-system-x86_64)" "$work/"
mkdir "$work/qemu-fw"
for f in bios-256k.bin linuxboot_dma.bin kvmvapic.bin; do
	cp -L "/usr/share/qemu/$f" "$work/qemu-fw/" 2>/dev/null || cp -L "/usr/share/seabios/$f" "$work/qemu-fw/"
done

NACELLE_LAB_TOOLS="$virtiofsd" tests/lab/run.sh --timeout 3600 --memory 3G "$work" inner.sh "$runs" "$mb" |
	tr -d '\r' | tee "$work/out" | grep '^RESULT' >"$work/results" || true

echo "channels: $runs runs, $mb MiB per measurement, 1 GiB guests (1 vCPU in the KVM lab, else 2); MB/s, median (min-max)"
echo "peer: $(qemu-system-x86_64 --version | head -n1) (vhost-vsock-pci, vhost-user-fs-pci)"
echo
awk '
	{ v[$2, $3] = v[$2, $3] " " $4; if (!($3 in seen)) { seen[$3] = 1; order[++m] = $3 } }
	function stats(s,   a, n, i, j, t, ok, f) {
		delete b; n = split(s, a, " "); ok = 0; f = 0
		for (i = 1; i <= n; i++) if (a[i] == "fail") f++; else b[++ok] = a[i] + 0
		if (!ok) return "fail"
		for (i = 1; i <= ok; i++) for (j = i + 1; j <= ok; j++) if (b[j] < b[i]) { t = b[i]; b[i] = b[j]; b[j] = t }
		med = ok % 2 ? b[(ok + 1) / 2] : (b[ok / 2] + b[ok / 2 + 1]) / 2
		return sprintf("%.1f (%.1f-%.1f)%s", med, b[1], b[ok], f ? " " f " failed" : "")
	}
	END {
		printf "| %-12s | %-24s | %-24s | %s |\n", "metric", "nacelle-vmm", "QEMU", "nacelle/QEMU"
		printf "|---|---|---|---|\n"
		for (k = 1; k <= m; k++) {
			x = order[k]; sn = stats(v["nacelle-vmm", x]); mn = med
			sq = stats(v["qemu", x]); mq = med
			ratio = (sn != "fail" && sq != "fail" && mq > 0) ? sprintf("%.2fx", mn / mq) : "-"
			printf "| %-12s | %-24s | %-24s | %s |\n", x, sn, sq, ratio
		}
	}' "$work/results"
grep '^DIAG' -A6 "$work/out" >&2 || true
