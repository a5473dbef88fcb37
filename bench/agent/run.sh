#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/agent: nacelle-agent as PID 1 of the guest image (rootfs/build-image.sh),
# on the host's KVM or in the KVM lab:
#  - boot -> agent ready: nacelle-vmm started -> first Health answered through
#    the hybrid vsock (polled every 10 ms); with the guest's uptime (the
#    agent's log stamps) when the agent started and when it listened;
#  - container cycle of `true` (busybox rootfs on virtio-fs): CreateContainer +
#    StartContainer + WaitProcess, then RemoveContainer, ITERATIONS per boot;
#    peer in the same run: `runc run` of `true` on the VM's host (the lab
#    machine, or the host) from the same rootfs directory, when runc is there;
#  - the agent's RSS (/proc/1/status, read by a container without a PID
#    namespace) after boot, idle after the cycles, and with SLEEPERS containers
#    running `sleep 1000` with their stdout and stderr streams connected.
#    RssShmem is the agent's binary and libraries: the initramfs is a tmpfs,
#    so their pages count as shared memory, not as file pages.
#   usage: bench/agent/run.sh [BOOTS=3] [ITERATIONS=20] [SLEEPERS=10]
#   env: BUILD_DIR (default build); IMAGE_ARGS, more rootfs/build-image.sh options
#        (e.g. "--kernel-format vmlinux" for a PVH boot, "--compress none")
set -euo pipefail
boots=${1:-3} iters=${2:-20} sleepers=${3:-10}
src=$(cd "$(dirname "$0")/../.." && pwd)
cd "$src"
build=${BUILD_DIR:-build}
for b in vmm/nacelle-vmm rootfs/agent/nacelle-agent rootfs/agent/tests/agent-bench; do
	[ -x "$build/$b" ] || { echo "bench/agent: $build/$b is not built (BUILD_DIR=$build)" >&2; exit 1; }
done
virtiofsd=''
for v in /usr/libexec/virtiofsd /usr/lib/qemu/virtiofsd; do [ -x "$v" ] && { virtiofsd=$v; break; }; done
[ -n "$virtiofsd" ] || { echo "bench/agent: no virtiofsd" >&2; exit 1; }
bb=$(command -v busybox) || { echo "bench/agent: no busybox (busybox-static)" >&2; exit 1; }
tools=$virtiofsd
runc=$(command -v runc || true)
[ -z "$runc" ] || tools+=":$runc"

work=$(mktemp -d "${TMPDIR:-/tmp}/nacelle-bench-agent.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck disable=SC2086
rootfs/build-image.sh ${IMAGE_ARGS:-} --agent "$build/rootfs/agent/nacelle-agent" --out "$work/image" \
	>"$work/image.log" 2>&1 ||
	{ cat "$work/image.log" >&2; exit 1; }
. "$work/image/image.env"
r="$work/shared/rootfs"
mkdir -p "$r/bin" "$r/proc" "$r/dev" "$r/sys" "$r/etc" "$r/tmp"
chmod 1777 "$r/tmp"
cp "$bb" "$r/bin/busybox"
for a in $("$bb" --list); do [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"; done
cp "$build/vmm/nacelle-vmm" "$build/rootfs/agent/tests/agent-bench" bench/agent/inner.sh "$work/"

NACELLE_LAB_TOOLS="$tools" tests/lab/run.sh --timeout 3600 --memory 3G "$work" inner.sh \
	"$boots" "$iters" "$sleepers" "image/$NACELLE_IMAGE_KERNEL" "image/$NACELLE_IMAGE_INITRAMFS" \
	2>"$work/err" | tr -d '\r' >"$work/out" || true
grep '^RESULT' "$work/out" >"$work/results" || true
kind=$(grep -o '^kvm: [a-z]*' "$work/err" | head -n1 || true)

echo "agent: $boots boots of the guest image ($NACELLE_IMAGE_KERNEL $NACELLE_IMAGE_KERNEL_VERSION," \
	"initramfs $NACELLE_IMAGE_COMPRESSION, the agent as PID 1), $iters cycles and $sleepers sleepers per boot," \
	"1 GiB guest (1 vCPU in the KVM lab, else 2); ${kind:-kvm: ?}"
if [ -n "$runc" ]; then
	echo "peer: $("$runc" --version | head -n1), on the VM's host (the same rootfs; runc's default spec with \`true\`)"
else
	echo "peer: none (runc is not installed)"
fi
echo
awk -v iters="$iters" '
	function stats(key, scale,   n, i, j, t, a) {
		n = cnt[key]
		if (!n) return "| - | - | - | 0 |"
		for (i = 1; i <= n; i++) a[i] = val[key, i] * scale
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		med[key] = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		return sprintf("| %.1f | %.1f | %.1f | %d |", med[key], a[1], a[n], n)
	}
	function add(key, v) { val[key, ++cnt[key]] = v }
	$2 == "ready" { add("ready", $3) }
	$2 == "guest-start" { add("gstart", $3) }
	$2 == "guest-listen" { add("glisten", $3) }
	$2 == "cycle" { add("csw", $3); add("rm", $4); add("full", $3 + $4) }
	$2 == "cmd" { add("runc", $3) }
	$2 == "rss" { add("rss-" $3, $4); add("anon-" $3, $5); add("shm-" $3, $6); add("thr-" $3, $7); add("fd-" $3, $8) }
	$2 == "vmm-exit" { add("exit", $3); if ($3 != 0) bad++ }
	END {
		print "| metric | median | min | max | n |"
		print "|---|---|---|---|---|"
		print "| boot -> agent ready (ms) " stats("ready", 1000)
		print "| (guest uptime when the agent starts as PID 1, ms) " stats("gstart", 1000)
		print "| (guest uptime when it listens on vsock 1024, ms) " stats("glisten", 1000)
		print "| create+start+wait `true` (ms) " stats("csw", 1000)
		print "| remove (ms) " stats("rm", 1000)
		print "| whole cycle (ms) " stats("full", 1000)
		print "| peer: runc run `true` (ms) " stats("runc", 1000)
		print ""
		print "| agent (PID 1) | VmRSS MiB | RssAnon MiB | RssShmem MiB | threads | open fds |"
		print "|---|---|---|---|---|---|"
		split("boot idle busy", st, " ")
		split("after boot (+ the probe container)|idle after the cycles (+ probe)|" \
			"with the sleepers running (+ probe)", label, "|")
		for (k = 1; k <= 3; k++) {
			s = st[k]
			if (!cnt["rss-" s]) { printf "| %s | - | - | - | - | - |\n", label[k]; continue }
			stats("rss-" s, 1 / 1024); stats("anon-" s, 1 / 1024); stats("shm-" s, 1 / 1024); stats("thr-" s, 1); stats("fd-" s, 1)
			printf "| %s | %.1f | %.1f | %.1f | %d | %d |\n", label[k], med["rss-" s], med["anon-" s], med["shm-" s], med["thr-" s], med["fd-" s]
		}
		if (bad) printf "\n%d boot(s) where nacelle-vmm did not exit 0 after Shutdown\n", bad
	}' "$work/results"
if ! grep -q '^RESULT ready' "$work/results"; then
	echo "bench/agent: no measurement; the run said:" >&2
	cat "$work/err" "$work/out" >&2
	exit 1
fi
grep '^DIAG' "$work/out" >&2 || true
