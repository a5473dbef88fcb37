#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's main job: a container in a microVM, through containerd.
# Builds nacelle, installs containerd and runc from Debian, stages the install
# (deploy/install.sh: shim, nacelle-vmm, the guest image) and a busybox OCI
# image made from busybox-static (no registry), starts a private containerd
# (its own root, state and socket in a temporary directory; a system
# containerd is not touched), and runs
#   ctr run --rm --runtime io.containerd.nacelle.v2 docker.io/library/busybox:nacelle ID uname -a
# which prints the guest kernel's uname, then the same with runc for contrast.
# On a host whose KVM cannot run a stock kernel all of it runs in the KVM lab
# (it prints "kvm: lab"). containerd needs root: the script re-runs itself
# with sudo when it is not root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	exec sudo -E bash "$0" "$@"
fi
ci/deps.sh demo
ci/build.sh >/dev/null
echo "== ctr run --rm --runtime io.containerd.nacelle.v2 docker.io/library/busybox:nacelle demo uname -a"
echo "== ctr run --rm --runtime io.containerd.runc.v2    docker.io/library/busybox:nacelle demo uname -a"
tests/e2e/nacelle-e2e.sh "${BUILD_DIR:-build}"
