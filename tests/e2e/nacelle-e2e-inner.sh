#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The part of tests/e2e/nacelle-e2e.sh that runs where a KVM runs stock kernels: the host, or
# the KVM lab (busybox sh; NACELLE_KVM_KIND=lab). cwd = the payload directory that
# nacelle-e2e.sh prepared:
#   d/usr/local/...          a staged deploy/install.sh (binaries, guest image, config)
#   busybox.tar              the OCI image (make-busybox-image.sh)
#   private-containerd.sh    the private containerd library
# Starts a private containerd whose PATH has the staged containerd-shim-nacelle-v2 and whose
# environment names a nacelle config (NACELLE_CONFIG, inherited by the shim) for this place,
# imports the image and runs
#   ctr run --rm --runtime io.containerd.nacelle.v2 IMAGE ID sh -c 'uname -a; ...'
#   ctr run --rm --runtime io.containerd.runc.v2   IMAGE ID sh -c 'uname -a; ...'
# then `ctr run -d ... DETACHED sleep 1000`: the host-side memory of the pod's processes,
# ctr tasks exec/ps/pause/resume/metrics, short `ctr run --rm` containers in its pod (exit
# status, stdin, stdout+stderr, 1 MiB of output, a terminal), kill, rm, nothing left; and
# `ctr events` all along (the /tasks/* topics of NACELLE, DETACHED and EXIT3).
# Prints "KEY value" lines for nacelle-e2e.sh to check; exits 0 unless its own set-up failed.
#   usage: nacelle-e2e-inner.sh IMAGE_NAME [OWN_VMS]
# OWN_VMS=1: the short containers get VMs of their own instead of joining DETACHED's pod.
image=$1
own_vms=${2:-${NACELLE_E2E_OWN_VMS:-0}}
here=$PWD
. ./private-containerd.sh

lab=0
[ "${NACELLE_KVM_KIND:-}" != lab ] || lab=1
say() { echo "$*"; }

prefix="$here/d/usr/local"
cpus=2
boot_timeout=60
# The lab's emulated SVM now and then resets nested guests with two vCPUs under back-end
# memory writes (tests/integration/inner-fs.sh); its TCG boots are slow too.
if [ "$lab" = 1 ]; then cpus=1 boot_timeout=180; fi
# The lab finds the host's libraries through LD_LIBRARY_PATH=/nacelle-lab/lib, but runc
# starts `runc init` with an environment of its own (no LD_LIBRARY_PATH): without libseccomp
# where the loader looks by default, runc init dies at once ("can't copy bootstrap data to
# pipe: write init-p: broken pipe"). Link the lab's libraries there (the lab's root is its
# own initramfs, thrown away at the end).
if [ "$lab" = 1 ] && [ -d /nacelle-lab/lib ]; then
	mkdir -p /lib/x86_64-linux-gnu
	for _l in /nacelle-lab/lib/*; do
		[ -e "/lib/x86_64-linux-gnu/${_l##*/}" ] || ln -s "$_l" "/lib/x86_64-linux-gnu/${_l##*/}"
	done
fi
virtiofsd=$(command -v virtiofsd 2>/dev/null || echo /usr/lib/qemu/virtiofsd)
cat >"$here/nacelle-config.json" <<EOF
{
  "kernel": "$prefix/share/nacelle/bzImage",
  "initramfs": "$prefix/share/nacelle/initramfs.cpio.lz4",
  "vmm_path": "$prefix/bin/nacelle-vmm",
  "virtiofsd_path": "$virtiofsd",
  "vcpus": $cpus,
  "memory_mib": 512,
  "boot_timeout_seconds": $boot_timeout,
  "debug": true
}
EOF
export NACELLE_CONFIG="$here/nacelle-config.json"
export PCD_PATH="$prefix/bin" PCD_NS=nacelle-e2e PCD_WAIT=120

dump_logs() {
	echo "---- containerd log (with the shims' logs), tail" >&2
	[ -z "${PCD_LOG:-}" ] || tail -n 80 "$PCD_LOG" >&2
	for f in /run/nacelle/*/console.log /run/nacelle/*/vmm.log /run/nacelle/*/virtiofsd.log; do
		[ -f "$f" ] || continue
		echo "---- $f" >&2
		tail -n 40 "$f" >&2
	done
}
events_pid=''
pcd_on_exit() { [ -z "$events_pid" ] || kill "$events_pid" 2>/dev/null; }
pcd_trap

say "HOST-UNAME $(uname -a)"
say "HOST-RELEASE $(uname -r)"
say "HOST-CMDLINE $(cat /proc/cmdline)"
say "KVM-KIND ${NACELLE_KVM_KIND:-?}"
pcd_start "$here/ctd" || { say "ERROR containerd did not start"; dump_logs; exit 1; }
say "CRI $(pcd_ctr plugins ls 2>/dev/null | awk '$1 == "io.containerd.grpc.v1" && $2 == "cri" { print $NF }')"
# Every event of the namespace from here on (checked at the end): the image import's
# /images/create says the subscription is in place.
"${PCD_CTR:-ctr}" --address "$PCD_SOCK" --namespace "$PCD_NS" events >"$here/events.log" 2>&1 &
events_pid=$!
pcd_ctr image import "$here/busybox.tar" >/dev/null 2>&1 || { say "ERROR ctr image import"; dump_logs; exit 1; }
_i=0
while [ "$_i" -lt 100 ] && ! grep -q ' /images/' "$here/events.log"; do
	sleep 0.1
	_i=$((_i + 1))
done
grep -q ' /images/' "$here/events.log" || say "EVENTS-SUBSCRIBE no /images/ event after the import"

# One container, its output on stdout. $1 = runtime, $2 = id, the rest: ctr run options.
probe='uname -a; echo "MEMTOTAL $(grep MemTotal /proc/meminfo)"; echo "CMDLINE $(cat /proc/cmdline)"; echo "NPROC $(grep -c ^processor /proc/cpuinfo)"'
run_one() {
	_rt=$1 _id=$2
	shift 2
	_t0=$(cut -d' ' -f1 /proc/uptime)
	timeout 600 "${PCD_CTR:-ctr}" --address "$PCD_SOCK" --namespace "$PCD_NS" \
		run --rm --runtime "$_rt" "$@" "$image" "$_id" sh -c "$probe" >"$here/out.$_id" 2>"$here/err.$_id"
	_rc=$?
	_t1=$(cut -d' ' -f1 /proc/uptime)
	say "$_id-RC $_rc"
	say "$_id-SECONDS $(awk -v a="$_t0" -v b="$_t1" 'BEGIN { printf "%.2f", b - a }')"
	tr -d '\r' <"$here/out.$_id" | sed "s/^/$_id-OUT /"
	sed "s/^/$_id-ERR /" "$here/err.$_id"
	[ "$_rc" = 0 ] || dump_logs
	say "$_id-TASKS-LEFT $(pcd_ctr tasks ls -q | wc -l)"
	say "$_id-CONTAINERS-LEFT $(pcd_ctr containers ls -q | wc -l)"
}

run_one io.containerd.nacelle.v2 NACELLE
if [ "$lab" = 1 ]; then
	# The lab's root is its initramfs: pivot_root(2) refuses to move it.
	run_one io.containerd.runc.v2 RUNC --no-pivot
else
	run_one io.containerd.runc.v2 RUNC
fi
say "POD-DIRS-LEFT $(ls /run/nacelle 2>/dev/null | wc -l)"

# ---- helpers: the host-side memory of the pod's processes ----
# RSS of a process outside its guest RAM: every mapping smaller than the guest's RAM
# (bench/boot/inner.sh's measure).
rss_outside_kb() { # PID GUEST_RAM_BYTES
	awk -v ram="$2" '
		function hex(s,   i, v) {
			v = 0
			for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
			return v
		}
		/^[0-9a-f]+-[0-9a-f]+ / { split($1, r, "-"); guest = (hex(r[2]) - hex(r[1])) >= ram; next }
		/^Rss:/ && !guest { sum += $2 }
		END { print sum + 0 }' "/proc/$1/smaps" 2>/dev/null
}
# "VmRSS RssAnon RssFile RssShmem" in kB
vmrss_kb() { awk '/^(VmRSS|RssAnon|RssFile|RssShmem):/ { printf "%s ", $2 } END { print "" }' "/proc/$1/status" 2>/dev/null; }
# pids of processes whose command line contains $1 and whose program is named $2
pids_named() {
	for _p in /proc/[0-9]*; do
		_c=$( { tr '\0' ' ' <"$_p/cmdline"; } 2>/dev/null) || continue
		case "$_c" in *"$1"*) ;; *) continue ;; esac
		_e=$(readlink "$_p/exe" 2>/dev/null)
		[ "${_e##*/}" = "$2" ] && echo "${_p#/proc/}"
	done
}
# ---- the task API through containerd: a detached task, and short containers in its pod ----
# DETACHED (`ctr run -d ... sleep 1000`) boots a VM; the pod's host-side memory is read
# while it runs, then exec, ps, pause/resume and metrics go to it. The short `ctr run --rm`
# containers (exit status, stdin, stdout+stderr, 1 MiB, terminal) join its pod through the
# CRI annotations the shim groups containers by, so that they share its VM: a boot costs
# ~11 s in the lab. OWN_VMS=1 gives each its own VM instead. Then SIGKILL,
# STOPPED, task and container removal, and nothing may be left: no pod directory, no
# nacelle-vmm, virtiofsd or shim of the pod.
now() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# ctr with a time limit: a hang is a failure, not the lab's timeout.
tctr() { timeout 120 "${PCD_CTR:-ctr}" --address "$PCD_SOCK" --namespace "$PCD_NS" "$@"; }
task_status() { pcd_ctr tasks ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
# wait_status ID STATUS... : until ctr tasks ls shows one of them (60 s at most; while
# $wait_pid, if set, runs)
wait_status() {
	_ws_id=$1
	shift
	_ws_end=$(awk -v t="$(now)" 'BEGIN { print t + 60 }')
	while awk -v t="$(now)" -v e="$_ws_end" 'BEGIN { exit !(t < e) }'; do
		_st=$(task_status "$_ws_id")
		for _w in "$@"; do [ "$_st" != "$_w" ] || return 0; done
		[ -z "${wait_pid:-}" ] || kill -0 "$wait_pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# Processes of the pod: nacelle-vmm and virtiofsd name the pod directory, its shim "-id POD".
pod_procs() {
	{
		pids_named "/run/nacelle/$1/" nacelle-vmm
		pids_named "/run/nacelle/$1/" virtiofsd
		pids_named "-id $1 " containerd-shim-nacelle-v2
	} | wc -l
}
# Print a file as "KEY line" lines (carriage returns and NULs of a terminal dropped), or
# only its size and MD5 when it is large.
say_file() { # KEY FILE
	_n=$(wc -c <"$2")
	say "$1-BYTES $_n"
	if [ "$_n" -le 4096 ]; then
		tr -d '\015\000' <"$2" | sed "s/^/$1 /"
	else
		say "$1-MD5 $(md5sum <"$2" | cut -d' ' -f1)"
	fi
}
pod=DETACHED
pod_args="--annotation io.kubernetes.cri.container-type=container --annotation io.kubernetes.cri.sandbox-id=$pod"
[ "$own_vms" = 0 ] || pod_args=''
# run_in_pod EXPECTED_RC ID COMMAND... : ctr run --rm in the pod, stdin from the caller.
run_in_pod() {
	_want=$1 _id=$2
	shift 2
	_t0=$(now)
	# shellcheck disable=SC2086 # pod_args: words
	tctr run --rm --runtime io.containerd.nacelle.v2 $pod_args "$image" "$_id" "$@" \
		>"$here/out.$_id" 2>"$here/err.$_id"
	_rc=$?
	say "$_id-RC $_rc"
	say "$_id-SECONDS $(since "$_t0")"
	say_file "$_id-OUT" "$here/out.$_id"
	say_file "$_id-ERR" "$here/err.$_id"
	[ "$_rc" = "$_want" ] || dump_logs
}

api_t0=$(now)
_t0=$api_t0
if tctr run -d --runtime io.containerd.nacelle.v2 "$image" "$pod" sleep 1000 >"$here/out.$pod" 2>&1; then
	say "DETACHED-RUN-RC 0"
	say "DETACHED-RUN-SECONDS $(since "$_t0")"
	say "DETACHED-LS $(task_status "$pod")"
	detached_pid=$(pcd_ctr tasks ls 2>/dev/null | awk -v id="$pod" '$1 == id { print $2 }')
	say "DETACHED-PID $detached_pid"

	# The pod's host-side memory, a busybox sleep running in it.
	if [ "${NACELLE_E2E_RSS:-1}" = 1 ]; then
		sleep 3
		say "RSS-TASK $(task_status "$pod")"
		for _v in $(pids_named "/run/nacelle/$pod/" nacelle-vmm); do
			say "RSS-VMM-KB $(vmrss_kb "$_v")"
			say "RSS-VMM-OUTSIDE-GUEST-KB $(rss_outside_kb "$_v" $((512 * 1024 * 1024)))"
		done
		for _v in $(pids_named "/run/nacelle/$pod/" virtiofsd); do say "RSS-VIRTIOFSD-KB $(vmrss_kb "$_v")"; done
		for _v in $(pids_named "-id $pod " containerd-shim-nacelle-v2); do say "RSS-SHIM-KB $(vmrss_kb "$_v")"; done
	fi

	# exec: ctr's stdin is the script's (/dev/null in the lab).
	_t0=$(now)
	tctr tasks exec --exec-id e1 "$pod" sh -c 'echo exec-ok' >"$here/out.exec" 2>"$here/err.exec"
	_rc=$?
	say "EXEC-RC $_rc"
	say "EXEC-SECONDS $(since "$_t0")"
	say_file EXEC-OUT "$here/out.exec"
	say_file EXEC-ERR "$here/err.exec"

	# ps: "PID INFO" lines; the guest's pids
	tctr tasks ps "$pod" >"$here/out.ps" 2>&1
	say "PS-RC $?"
	say "PS-PIDS $(awk 'NR > 1 && $1 ~ /^[0-9]+$/ { printf "%s ", $1 }' "$here/out.ps")"
	say_file PS-OUT "$here/out.ps"

	tctr tasks pause "$pod" >"$here/out.pause" 2>&1
	say "PAUSE-RC $?"
	say "PAUSED-LS $(task_status "$pod")"
	say_file PAUSE-OUT "$here/out.pause"
	tctr tasks resume "$pod" >"$here/out.resume" 2>&1
	say "RESUME-RC $?"
	say "RESUMED-LS $(task_status "$pod")"
	say_file RESUME-OUT "$here/out.resume"

	# metrics: ctr prints io.containerd.cgroups.v2.Metrics as "METRIC VALUE" lines
	tctr tasks metrics "$pod" >"$here/out.metrics" 2>&1
	say "METRICS-RC $?"
	awk '$1 ~ /^(pids|cpu|memory)\./ && NF == 2 { print "METRIC " $1 " " $2 }' "$here/out.metrics"
	say_file METRICS-OUT "$here/out.metrics"

	# Short containers in the pod.
	run_in_pod 3 EXIT3 sh -c 'exit 3'
	# ctr 1.6 always forwards its stdin (it has no -i) and calls CloseIO when it reads EOF,
	# but only once NewTask has returned: an EOF that comes earlier is never passed on and
	# `cat` waits forever (a race in ctr). So stdin is a FIFO held open until the task runs.
	rm -f "$here/stdin.fifo"
	mkfifo "$here/stdin.fifo"
	run_in_pod 0 STDIN cat <"$here/stdin.fifo" &
	wait_pid=$!
	exec 3>"$here/stdin.fifo"
	echo hello >&3
	wait_status STDIN RUNNING STOPPED
	exec 3>&-
	wait "$wait_pid"
	wait_pid=''
	run_in_pod 0 OUTERR sh -c 'echo out; echo err >&2'
	run_in_pod 0 BIG dd if=/dev/zero bs=1k count=1024
	# A terminal: ctr -t wants one on its side; util-linux script(1) makes it. ctr sends its
	# terminal's size (ResizePty) after Start: the container waits for it (5 s at most).
	if command -v script >/dev/null 2>&1; then
		cat >"$here/tty.sh" <<-TTY
			stty rows 37 cols 101
			exec timeout 120 "${PCD_CTR:-ctr}" --address "$PCD_SOCK" --namespace "$PCD_NS" run --rm -t \\
				--runtime io.containerd.nacelle.v2 $pod_args "$image" TTY sh -c '
				i=0
				until stty size 2>/dev/null | grep -q "^[1-9]" || [ \$i -ge 50 ]; do sleep 0.1; i=\$((i + 1)); done
				[ -t 0 ] && [ -t 1 ] && echo TTY-YES
				echo "TTY-SIZE \$(stty size 2>&1)"'
		TTY
		_t0=$(now)
		script -qec "sh $here/tty.sh" /dev/null </dev/null >"$here/out.TTY" 2>"$here/err.TTY"
		_rc=$?
		say "TTY-RC $_rc"
		say "TTY-SECONDS $(since "$_t0")"
		say_file TTY-OUT "$here/out.TTY"
		say_file TTY-ERR "$here/err.TTY"
		[ "$_rc" = 0 ] || dump_logs
	else
		say "TTY-SKIP util-linux script(1) is not available"
	fi

	# The end of the pod.
	tctr tasks kill -s SIGKILL "$pod" >"$here/out.kill" 2>&1
	say "KILL-RC $?"
	say_file KILL-OUT "$here/out.kill"
	_t0=$(now)
	wait_status "$pod" STOPPED
	say "STOPPED-LS $(task_status "$pod")"
	say "STOPPED-SECONDS $(since "$_t0")"
	_t0=$(now)
	tctr tasks rm "$pod" >"$here/out.taskrm" 2>&1
	say "TASK-RM-RC $?"
	say_file TASK-RM-OUT "$here/out.taskrm"
	tctr containers rm "$pod" >"$here/out.ctrrm" 2>&1
	say "CONTAINER-RM-RC $?"
	say_file CONTAINER-RM-OUT "$here/out.ctrrm"
	# The VM goes with the last container's removal; wait for its processes (10 s at most).
	_i=0
	while [ "$_i" -lt 100 ] && [ "$(pod_procs "$pod")" != 0 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	say "POD-GONE-SECONDS $(since "$_t0")"
	say "POD-PROCS-LEFT $(pod_procs "$pod")"
	say "POD-PROCS-LEFT-LIST $(ps -o pid,args 2>/dev/null | grep -e nacelle-vmm -e virtiofsd -e containerd-shim-nacelle | grep -v grep | tr '\n' ';')"
	say "API-TASKS-LEFT $(pcd_ctr tasks ls -q | wc -l)"
	say "API-CONTAINERS-LEFT $(pcd_ctr containers ls -q | wc -l)"
	say "API-POD-DIRS-LEFT $(ls /run/nacelle 2>/dev/null | wc -l)"
else
	say "DETACHED-RUN-RC failed"
	say_file DETACHED-RUN-OUT "$here/out.$pod"
	dump_logs
fi
say "API-SECONDS $(since "$api_t0")"

# ---- events: the /tasks/* topics of a container, in the order ctr events printed them ----
# Lines: "DATE TIME ZONE ZONE NAMESPACE TOPIC JSON". exit is "exit:PROCESS:STATUS", exec-*
# "exec-...:EXEC_ID".
events_of() {
	awk -v id="$1" '
		function str(k,   s) {
			if (!match($0, "\"" k "\":\"[^\"]*\"")) return ""
			s = substr($0, RSTART + length(k) + 4, RLENGTH - length(k) - 5)
			return s
		}
		function num(k,   s) {
			if (!match($0, "\"" k "\":[0-9]+")) return 0
			return substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3)
		}
		{
			t = ""
			for (i = 1; i <= NF; i++) if ($i ~ /^\/tasks\//) { t = $i; break }
			if (t == "" || str("container_id") != id) next
			sub(/^\/tasks\//, "", t)
			if (t == "exit") t = t ":" str("id") ":" num("exit_status")
			else if (t ~ /^exec-/) t = t ":" str("exec_id")
			printf "%s%s", sep, t
			sep = " "
		}
		END { print "" }' "$here/events.log"
}
# The shim forwards events after its replies: wait for the last one (5 s at most).
_i=0
while [ "$_i" -lt 50 ] && ! grep -q "/tasks/delete {\"container_id\":\"$pod\"" "$here/events.log"; do
	sleep 0.1
	_i=$((_i + 1))
done
kill "$events_pid" 2>/dev/null
wait "$events_pid" 2>/dev/null
events_pid=''
for _c in NACELLE "$pod" EXIT3; do say "EVENTS-$_c $(events_of "$_c")"; done
pcd_stop
say "POD-DIRS-AFTER-STOP $(ls /run/nacelle 2>/dev/null | wc -l)"
say "DONE"
exit 0
