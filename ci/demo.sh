#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's main job, for now: build nacelle-vmm and boot Debian's cloud
# kernel with a tiny busybox init, showing the guest's console and the time
# from process start to the init's first line. Runs on the host's KVM when it
# can run a stock kernel, else inside the KVM lab (it prints which).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
ci/deps.sh demo
ci/build.sh >/dev/null
. tests/lab/lib.sh
lab_kernel

work=$(mktemp -d "${TMPDIR:-/tmp}/nacelle-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "${BUILD_DIR:-build}/vmm/nacelle-vmm" "$NACELLE_KERNEL" "$work/"
cp tests/integration/inner-vmm.sh "$work/"
lab_busybox_initramfs "$work/initramfs.cpio" tests/integration/guest/init-demo.sh
kernel=$(basename "$NACELLE_KERNEL")

echo "== nacelle-vmm --kernel $kernel --initramfs initramfs.cpio --cpus boot=2 --memory size=512M --serial tty"
"$src/tests/lab/run.sh" --timeout 300 "$work" inner-vmm.sh 120 \
	--kernel "./$kernel" --initramfs ./initramfs.cpio --cmdline "console=ttyS0 quiet panic=-1" \
	--cpus boot=2 --memory size=512M --serial tty --console off | tr -d '\r' | tee "$work/out" |
	sed -n 's/^[0-9.]* //p' | grep -v '^VMM-' || true
t_init=$(awk '$2 == "Hello" {print $1; exit}' "$work/out")
sed -n 's/^VMM-STDERR //p' "$work/out" >&2
read -r _ t_exit rc < <(grep '^VMM-EXIT' "$work/out" || echo "VMM-EXIT ? ?")
[ -n "$t_init" ] || { echo "demo: the guest did not reach init" >&2; cat "$work/out" >&2; exit 1; }
echo "== boot time: ${t_init} s from nacelle-vmm start to the guest init's first line"
echo "== nacelle-vmm exited with code $rc ${t_exit} s after it started (guest power-off)"
[ "$rc" = 0 ]
