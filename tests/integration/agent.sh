#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# nacelle-agent as PID 1 of a real VM: the guest image of rootfs/build-image.sh
# (Debian's cloud kernel, the agent as /init), a busybox root filesystem shared
# by Debian's virtiofsd, nacelle-vmm with --fs and --vsock, and the agent's test
# program (agent-host-test --vsock) driving it through the hybrid vsock socket:
# Health, SetupSandbox mounting the share, exit codes and stdout/stderr, 10 MiB
# of output, exec, signals, a terminal, seccomp, capabilities, an OOM kill under
# a memory limit, two containers in one network namespace, bad requests, and
# Shutdown powering the VM off (nacelle-vmm exits 0).
#   usage: agent.sh NACELLE_VMM NACELLE_AGENT AGENT_HOST_TEST
set -euo pipefail
vmm=$1 agent=$2 test=$3
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
virtiofsd=''
for v in /usr/libexec/virtiofsd /usr/lib/qemu/virtiofsd; do
	[ -x "$v" ] && { virtiofsd=$v; break; }
done
[ -n "$virtiofsd" ] || { echo "SKIP: no virtiofsd (package virtiofsd or qemu-system-common)"; exit 77; }
bb=$(command -v busybox) || { echo "SKIP: no busybox (busybox-static)"; exit 77; }
if ldd "$bb" >/dev/null 2>&1; then echo "SKIP: $bb is dynamically linked (install busybox-static)"; exit 77; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/nacelle-agent.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The image, built once per run into the run directory (the kernel comes from
# tests/lab's cache).
"$src/rootfs/build-image.sh" --agent "$agent" --out "$work/image" >"$work/image.log" 2>&1 ||
	{ cat "$work/image.log" >&2; echo "FAIL (agent): rootfs/build-image.sh failed" >&2; exit 1; }
. "$work/image/image.env"
# The containers' root filesystem: static busybox with every applet.
rootfs="$work/shared/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/proc" "$rootfs/dev" "$rootfs/sys" "$rootfs/etc" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
cp "$bb" "$rootfs/bin/busybox"
for a in $("$bb" --list); do [ "$a" = busybox ] || ln -s busybox "$rootfs/bin/$a"; done
cp "$vmm" "$work/nacelle-vmm"
cp "$test" "$work/agent-host-test"
cp "$here/inner-agent.sh" "$work/"

out="$work/out.txt" err="$work/err.txt"
NACELLE_LAB_TOOLS="$virtiofsd" "$src/tests/lab/run.sh" --timeout 1200 --memory 3G "$work" \
	inner-agent.sh "image/$NACELLE_IMAGE_KERNEL" "image/$NACELLE_IMAGE_INITRAMFS" \
	2>"$err" | tr -d '\r' >"$out" || true

fail() {
	echo "FAIL (agent): $*" >&2
	cat "$err" "$out" >&2
	exit 1
}
host() { sed -n "s/^HOST $1 //p" "$out" | head -n1; }

grep -q '^SERIAL .*nacelle-agent.*listening on vsock port 1024' "$out" ||
	fail "the agent never listened on vsock port 1024"
summary=$(sed -n 's/^TEST \(# [0-9]* tests, .*\)/\1/p' "$out" | tail -n1)
[ -n "$summary" ] || fail "the test program did not finish"
[ "$(host test-exit)" = 0 ] || fail "the test program failed: $summary"
grep -q '^TEST not ok' "$out" && fail "a check failed although the program exited 0"
[ "$(host vmm-exit)" = 0 ] ||
	fail "nacelle-vmm exited with '$(host vmm-exit)' (want 0: the agent powers off on Shutdown)"
sed -n 's/^TEST //p' "$out"
# What the agent warned about on the way, for the record.
sed -n 's/^SERIAL \(nacelle-agent\[[0-9.]*\] \(warn\|error\): .*\)/# guest: \1/p' "$out" | head -n 20
echo "ok (agent): ${summary#\# } in $(host test-seconds) s, then Shutdown powered the VM off" \
	"(nacelle-vmm exit 0); $(grep -o '^kvm: [a-z]*' "$err" | head -n1)"
