#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/e2e/nacelle-e2e.sh BUILD_DIR — containerd runs a container in a nacelle microVM:
#   ctr run --rm --runtime io.containerd.nacelle.v2 docker.io/library/busybox:nacelle ID uname -a
# prints the guest kernel's uname (Debian's cloud kernel from the guest image), and the same
# with io.containerd.runc.v2 prints the kernel of the machine containerd runs on.
#
# Here: deploy/install.sh staged into the payload directory (DESTDIR; no containerd config, no
# /etc touched), the busybox image (make-busybox-image.sh). Then nacelle-e2e-inner.sh runs a
# private containerd with the staged shim on its PATH, on the host's KVM when it runs stock
# kernels, else in the KVM lab (tests/lab/run.sh: containerd, ctr, runc, its shim and
# virtiofsd are carried in with NACELLE_LAB_TOOLS). Checks what it printed: the nacelle
# container saw the image's kernel, the guest's memory and command line, not the machine's;
# the runc one saw the machine's; nothing was left behind (tasks, containers, pod
# directories). Prints the pod's host-side memory (nacelle-vmm, virtiofsd, shim).
# Needs root, containerd, runc and virtiofsd (exit 77 = skipped without them).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
build="${1:?usage: nacelle-e2e.sh BUILD_DIR}"
build="$(cd "$build" && pwd)"

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (containerd)"
for t in containerd ctr runc containerd-shim-runc-v2; do
	command -v "$t" >/dev/null 2>&1 || skip "$t is not installed (ci/deps.sh test installs containerd and runc)"
done
virtiofsd=/usr/lib/qemu/virtiofsd
[ -x "$virtiofsd" ] || skip "$virtiofsd (qemu-system-common) is not installed"

work="$(mktemp -d "${TMPDIR:-/tmp}/nacelle-e2e.XXXXXX")"
trap 'rm -rf "$work"' EXIT
image=docker.io/library/busybox:nacelle

fail() {
	echo "FAIL (nacelle-e2e): $*" >&2
	[ ! -s "$work/out" ] || { echo "---- what the inner script printed" >&2; cat "$work/out" >&2; }
	[ ! -s "$work/err" ] || { echo "---- its stderr (tail)" >&2; tail -n 150 "$work/err" >&2; }
	exit 1
}

# ---- the payload ----
if ! DESTDIR="$work/d" PREFIX=/usr/local BUILD_DIR="$build" "$src/deploy/install.sh" --no-build \
	--no-containerd-config >"$work/install.log" 2>&1; then
	if grep -q 'cannot get the kernel' "$work/install.log"; then
		skip "the guest kernel cannot be fetched (rootfs/build-image.sh)"
	fi
	cat "$work/install.log" >&2
	fail "deploy/install.sh failed"
fi
# shellcheck disable=SC1091
. "$work/d/usr/local/share/nacelle/image.env"
guest_release="$NACELLE_IMAGE_KERNEL_VERSION"
"$here/make-busybox-image.sh" --name "$image" "$work/busybox.tar" >/dev/null
cp "$here/private-containerd.sh" "$here/nacelle-e2e-inner.sh" "$work/"

# ---- run ----
tools="containerd:ctr:runc:containerd-shim-runc-v2:$virtiofsd"
rc=0
NACELLE_LAB_TOOLS="$tools" "$src/tests/lab/run.sh" --timeout 1500 --memory 3G "$work" \
	nacelle-e2e-inner.sh "$image" >"$work/out.raw" 2>"$work/err" || rc=$?
tr -d '\r' <"$work/out.raw" >"$work/out"
kind="$(sed -n 's/^kvm: \([a-z]*\).*/\1/p' "$work/err" | head -n1)"
[ "$rc" = 0 ] || fail "the inner script exited $rc (kvm: ${kind:-?})"
grep -qx DONE "$work/out" || fail "the inner script did not finish"

v() { sed -n "s/^$1 //p" "$work/out" | head -n1; }
# ---- check ----
machine_release="$(v HOST-RELEASE)"
[ "$(v NACELLE-RC)" = 0 ] || fail "ctr run --runtime io.containerd.nacelle.v2 exited $(v NACELLE-RC)"
nacelle_uname="$(v NACELLE-OUT)"
echo "nacelle: $nacelle_uname"
read -r sys _ release _ <<<"$nacelle_uname"
[ "$sys" = Linux ] || fail "nacelle: unexpected uname output '$nacelle_uname'"
[ "$release" = "$guest_release" ] || fail "nacelle: kernel '$release' is not the guest image's '$guest_release'"
# The lab runs the same Debian kernel as the guest image: the guest's memory and kernel
# command line tell the VM from the machine.
mem_kb="$(v NACELLE-OUT\ MEMTOTAL | awk '{ print $2 }')"
[ -n "$mem_kb" ] && [ "$mem_kb" -le $((512 * 1024)) ] && [ "$mem_kb" -gt $((256 * 1024)) ] ||
	fail "nacelle: MemTotal ${mem_kb:-?} kB is not a 512 MiB guest's"
guest_cmdline="$(v NACELLE-OUT\ CMDLINE)"
[ -n "$guest_cmdline" ] && [ "$guest_cmdline" != "$(v HOST-CMDLINE)" ] ||
	fail "nacelle: the container saw the machine's kernel command line"
[ "$(v NACELLE-TASKS-LEFT)" = 0 ] && [ "$(v NACELLE-CONTAINERS-LEFT)" = 0 ] ||
	fail "nacelle: ctr run --rm left a task or container"

[ "$(v RUNC-RC)" = 0 ] || fail "ctr run --runtime io.containerd.runc.v2 exited $(v RUNC-RC)"
runc_uname="$(v RUNC-OUT)"
echo "runc:    $runc_uname"
read -r sys _ release _ <<<"$runc_uname"
[ "$release" = "$machine_release" ] || fail "runc: kernel '$release' is not the machine's '$machine_release'"
[ "$(v RUNC-OUT\ CMDLINE)" = "$(v HOST-CMDLINE)" ] || fail "runc: the container's kernel command line is not the machine's"
[ "$(v POD-DIRS-LEFT)" = 0 ] || fail "a pod directory is left under /run/nacelle"
[ "$(v POD-DIRS-AFTER-STOP)" = 0 ] || fail "a pod directory is left under /run/nacelle after containerd stopped"

echo "guest:   MemTotal ${mem_kb} kB, $(v NACELLE-OUT\ NPROC) vCPU(s), cmdline '$guest_cmdline'"
echo "times:   nacelle $(v NACELLE-SECONDS) s, runc $(v RUNC-SECONDS) s (ctr run to exit; kvm: ${kind:-?})"
if [ -n "$(v RSS-VMM-KB)" ]; then
	echo "pod memory on the host, a busybox sleep running (kB: VmRSS = RssAnon + RssFile + RssShmem):"
	read -r a b c d <<<"$(v RSS-VMM-KB)"
	echo "  nacelle-vmm                 $a = $b + $c + $d; outside guest RAM $(v RSS-VMM-OUTSIDE-GUEST-KB)"
	read -r a b c d <<<"$(v RSS-VIRTIOFSD-KB)"
	echo "  virtiofsd                   $a = $b + $c + $d"
	read -r a b c d <<<"$(v RSS-SHIM-KB)"
	echo "  containerd-shim-nacelle-v2  $a = $b + $c + $d"
fi
echo "ok (nacelle-e2e): the nacelle container ran on the guest kernel $guest_release, the runc one on the machine's $machine_release"
