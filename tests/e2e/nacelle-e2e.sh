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
# Then the task API through containerd 1.6 and the shim: a detached task (ctr task ls,
# exec, ps, pause, resume, metrics, kill, rm: nothing left), containers in its pod (its VM)
# whose exit status, stdin, stdout, stderr, 1 MiB of output and terminal must pass, and the
# order of the /tasks/* events `ctr events` saw meanwhile.
# Needs root, containerd, runc and virtiofsd (exit 77 = skipped without them).
# NACELLE_E2E_OWN_VMS=1: the short containers boot VMs of their own (~11 s each in the lab)
# instead of joining the detached task's pod.
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
# util-linux script(1): the terminal that `ctr run -t` wants (that check is skipped without it).
if command -v script >/dev/null 2>&1; then tools="$tools:script"; fi
rc=0
NACELLE_LAB_TOOLS="$tools" "$src/tests/lab/run.sh" --timeout 1500 --memory 3G "$work" \
	nacelle-e2e-inner.sh "$image" "${NACELLE_E2E_OWN_VMS:-0}" >"$work/out.raw" 2>"$work/err" || rc=$?
tr -d '\r' <"$work/out.raw" >"$work/out"
kind="$(sed -n 's/^kvm: \([a-z]*\).*/\1/p' "$work/err" | head -n1)"
[ "$rc" = 0 ] || fail "the inner script exited $rc (kvm: ${kind:-?})"
grep -qx DONE "$work/out" || fail "the inner script did not finish"

v() { sed -n "s/^$1 //p" "$work/out" | head -n1; }
va() { sed -n "s/^$1 //p" "$work/out"; }         # every line of KEY
vl() { va "$1" | tail -n "${2:-3}" | tr '\n' ' '; } # the last lines of KEY, on one line
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
# ---- the task API through containerd (nacelle-e2e-inner.sh: DETACHED and its pod) ----
rt=io.containerd.nacelle.v2
[ "$(v DETACHED-RUN-RC)" = 0 ] ||
	fail "ctr run -d --runtime $rt ... DETACHED sleep 1000 failed: $(vl DETACHED-RUN-OUT)"
[ "$(v DETACHED-LS)" = RUNNING ] || fail "detached: ctr task ls shows '$(v DETACHED-LS)' after ctr run -d, not RUNNING"
[ "$(v EXEC-RC)" = 0 ] && [ "$(va EXEC-OUT)" = exec-ok ] ||
	fail "ctr task exec --exec-id e1 DETACHED sh -c 'echo exec-ok' exited $(v EXEC-RC) and printed '$(vl EXEC-OUT)' (stderr: $(vl EXEC-ERR))"
task_pid="$(v DETACHED-PID)"
[ "$(v PS-RC)" = 0 ] && [ -n "$(v PS-PIDS)" ] ||
	fail "ctr task ps DETACHED exited $(v PS-RC) and listed no pids: $(vl PS-OUT)"
case " $(v PS-PIDS) " in
*" $task_pid "*) ;;
*) fail "ctr task ps DETACHED lists pids '$(v PS-PIDS)', not the task's pid '$task_pid' (ctr task ls)" ;;
esac
[ "$(v PAUSE-RC)" = 0 ] && [ "$(v PAUSED-LS)" = PAUSED ] ||
	fail "ctr task pause DETACHED exited $(v PAUSE-RC), then ctr task ls showed '$(v PAUSED-LS)', not PAUSED: $(vl PAUSE-OUT)"
[ "$(v RESUME-RC)" = 0 ] && [ "$(v RESUMED-LS)" = RUNNING ] ||
	fail "ctr task resume DETACHED exited $(v RESUME-RC), then ctr task ls showed '$(v RESUMED-LS)', not RUNNING: $(vl RESUME-OUT)"
# ctr prints io.containerd.cgroups.v2.Metrics as pids.*, cpu.* and memory.* rows.
metric() { va METRIC | awk -v k="$1" '$1 == k { print $2; exit }'; }
[ "$(v METRICS-RC)" = 0 ] || fail "ctr task metrics DETACHED exited $(v METRICS-RC): $(vl METRICS-OUT 5)"
m_pids="$(metric pids.current)" m_mem="$(metric memory.usage)" m_cpu="$(metric cpu.usage_usec)"
[ -n "$m_mem" ] && [ -n "$m_cpu" ] ||
	fail "ctr task metrics DETACHED: no cgroup v2 memory.usage and cpu.usage_usec rows: $(va METRICS-OUT | tr '\n' ' ')"
[ "${m_pids:-0}" -ge 1 ] && [ "$m_mem" -gt 0 ] && [ "$m_cpu" -gt 0 ] ||
	fail "ctr task metrics DETACHED: pids.current ${m_pids:-?}, memory.usage $m_mem, cpu.usage_usec $m_cpu (a running sleep has a pid, memory and CPU time)"

# Short containers in the pod: ctr run --rm.
[ "$(v EXIT3-RC)" = 3 ] ||
	fail "ctr run --rm --runtime $rt ... sh -c 'exit 3' exited $(v EXIT3-RC), not with the container's 3 (ctr's stderr: $(vl EXIT3-ERR))"
[ "$(v STDIN-RC)" = 0 ] && [ "$(va STDIN-OUT)" = hello ] ||
	fail "ctr run --rm --runtime $rt ... cat, 'hello' on ctr's stdin, exited $(v STDIN-RC) and printed '$(vl STDIN-OUT)', not 'hello' (ctr's stderr: $(vl STDIN-ERR))"
[ "$(v OUTERR-RC)" = 0 ] || fail "ctr run --rm ... sh -c 'echo out; echo err >&2' exited $(v OUTERR-RC) (stderr: $(vl OUTERR-ERR))"
[ "$(va OUTERR-OUT)" = out ] || fail "sh -c 'echo out; echo err >&2': ctr's stdout is '$(vl OUTERR-OUT)', not 'out'"
[ "$(va OUTERR-ERR)" = err ] || fail "sh -c 'echo out; echo err >&2': ctr's stderr is '$(vl OUTERR-ERR)', not 'err'"
[ "$(v BIG-RC)" = 0 ] || fail "ctr run --rm ... dd if=/dev/zero bs=1k count=1024 exited $(v BIG-RC) (stderr: $(vl BIG-ERR))"
[ "$(v BIG-OUT-BYTES)" = 1048576 ] ||
	fail "ctr run --rm ... dd if=/dev/zero bs=1k count=1024: $(v BIG-OUT-BYTES) bytes reached ctr's stdout, not 1048576"
# md5 of 1 MiB of zeros
[ "$(v BIG-OUT-MD5)" = b6d81b360a5672d80c27430f39153e2c ] ||
	fail "ctr run --rm ... dd if=/dev/zero bs=1k count=1024: 1 MiB arrived, but not all zeros (md5 $(v BIG-OUT-MD5))"
if [ -n "$(v TTY-SKIP)" ]; then
	tty_result="skipped: $(v TTY-SKIP)"
else
	[ "$(v TTY-RC)" = 0 ] ||
		fail "script -qec 'ctr run --rm -t ...' exited $(v TTY-RC): $(vl TTY-OUT 5) $(vl TTY-ERR 5)"
	va TTY-OUT | grep -q TTY-YES || fail "ctr run -t: the container's stdin and stdout are not a terminal: $(vl TTY-OUT 5)"
	tty_size="$(va TTY-OUT | sed -n 's/.*TTY-SIZE //p' | head -n1)"
	[ "$tty_size" = "37 101" ] ||
		fail "ctr run -t: stty size in the container says '$tty_size', not ctr's terminal's '37 101' (ResizePty)"
	tty_result="a terminal of 37x101 (ResizePty)"
fi

[ "$(v KILL-RC)" = 0 ] || fail "ctr task kill -s SIGKILL DETACHED exited $(v KILL-RC): $(vl KILL-OUT)"
[ "$(v STOPPED-LS)" = STOPPED ] || fail "after SIGKILL ctr task ls shows DETACHED '$(v STOPPED-LS)', not STOPPED (within 60 s)"
[ "$(v TASK-RM-RC)" = 0 ] || fail "ctr task rm DETACHED exited $(v TASK-RM-RC): $(vl TASK-RM-OUT)"
[ "$(v CONTAINER-RM-RC)" = 0 ] || fail "ctr container rm DETACHED exited $(v CONTAINER-RM-RC): $(vl CONTAINER-RM-OUT)"
[ "$(v API-TASKS-LEFT)" = 0 ] && [ "$(v API-CONTAINERS-LEFT)" = 0 ] ||
	fail "after ctr task rm / container rm: $(v API-TASKS-LEFT) task(s), $(v API-CONTAINERS-LEFT) container(s) left"
[ "$(v API-POD-DIRS-LEFT)" = 0 ] || fail "the detached pod's directory is left under /run/nacelle after its removal"
[ "$(v POD-PROCS-LEFT)" = 0 ] ||
	fail "$(v POD-PROCS-LEFT) process(es) of the detached pod (nacelle-vmm, virtiofsd, shim) still run 10 s after its removal: $(v POD-PROCS-LEFT-LIST)"

# Events, in containerd's order (runtime/v2/README.md): create, start, exit, delete; exec-added
# and exec-started before the exec's exit; paused and resumed. Each exactly once.
check_events() { # ID EXPECTED
	local got
	got="$(v "EVENTS-$1")"
	[ "$got" = "$2" ] || fail "ctr events: the /tasks/* topics of $1 came as '$got', not '$2'"
}
check_events NACELLE "create start exit:NACELLE:0 delete"
check_events DETACHED "create start exec-added:e1 exec-started:e1 exit:e1:0 paused resumed exit:DETACHED:137 delete"
check_events EXIT3 "create start exit:EXIT3:3 delete"

echo "task API: ctr run -d, task exec, ps (pids $(v PS-PIDS | sed 's/ *$//')), pause -> PAUSED, resume -> RUNNING, metrics (pids.current $m_pids, memory.usage $m_mem B, cpu.usage_usec $m_cpu), kill -> STOPPED, task rm, container rm: VM, virtiofsd and shim gone"
where="in its pod"
[ "${NACELLE_E2E_OWN_VMS:-0}" = 0 ] || where="each in its own VM"
echo "$where: ctr run --rm: exit 3 -> 3, stdin 'hello', stdout 'out' + stderr 'err', 1 MiB of stdout in $(v BIG-SECONDS) s, $tty_result"
echo "events: create, start, exit, delete in order for NACELLE and EXIT3 (exit status 3); DETACHED's: $(v EVENTS-DETACHED)"
echo "times:   task API checks $(v API-SECONDS) s (DETACHED's boot $(v DETACHED-RUN-SECONDS) s; exit3 $(v EXIT3-SECONDS), stdin $(v STDIN-SECONDS), out+err $(v OUTERR-SECONDS), 1 MiB $(v BIG-SECONDS), tty $(v TTY-SECONDS) s; removal to pod gone $(v POD-GONE-SECONDS) s)"
echo "ok (nacelle-e2e): the nacelle container ran on the guest kernel $guest_release, the runc one on the machine's $machine_release"
