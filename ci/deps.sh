#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install the Debian 12 packages nacelle needs, idempotently: nothing is
# fetched when everything is already installed. Usage: ci/deps.sh build|test|demo|bench
set -euo pipefail

# The agent and the shim: gRPC core (agent API over vsock), protobuf-c and
# protoc-c (agent API and ttrpc messages), libseccomp and libcap-ng (the
# in-guest OCI runtime).
build_pkgs=(build-essential cmake pkg-config clang libyajl-dev
	libgrpc-dev protobuf-c-compiler libprotobuf-c-dev libseccomp-dev libcap-ng-dev libssl-dev)
# The KVM lab and the guest images: QEMU (TCG machine with emulated SVM, and
# the QEMU peer in benchmarks), busybox-static (initramfs), e2fsprogs (payload
# disks), lz4 (vmlinux out of Debian's LZ4 bzImage), kmod (depmod), cpio.
lab_pkgs=(qemu-system-x86 busybox-static cpio e2fsprogs lz4 kmod util-linux)
# iasl disassembles our ACPI tables in acpi-test (an independent check of the AML).
check_pkgs=(acpica-tools)
# Fuzzing with libFuzzer needs clang's runtime.
fuzz_pkgs=(libclang-rt-14-dev)
# End-to-end tests (tests/e2e): a private containerd 1.6 with ctr, and runc as the peer runtime.
e2e_pkgs=(containerd runc)

want=("${build_pkgs[@]}")
case "${1:-test}" in
build) ;;
test) want+=("${lab_pkgs[@]}" "${check_pkgs[@]}" "${fuzz_pkgs[@]}" "${e2e_pkgs[@]}") ;;
bench) want+=("${lab_pkgs[@]}" "${check_pkgs[@]}" "${fuzz_pkgs[@]}") ;;
demo) want+=("${lab_pkgs[@]}" "${e2e_pkgs[@]}") ;;
*) echo "usage: $0 build|test|demo|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
