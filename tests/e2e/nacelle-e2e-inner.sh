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
# then, with a detached nacelle task, reads the host-side memory of the pod's processes.
# Prints "KEY value" lines for nacelle-e2e.sh to check; exits 0 unless its own set-up failed.
#   usage: nacelle-e2e-inner.sh IMAGE_NAME
image=$1
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
pcd_on_exit() { :; }
pcd_trap

say "HOST-UNAME $(uname -a)"
say "HOST-RELEASE $(uname -r)"
say "HOST-CMDLINE $(cat /proc/cmdline)"
say "KVM-KIND ${NACELLE_KVM_KIND:-?}"
pcd_start "$here/ctd" || { say "ERROR containerd did not start"; dump_logs; exit 1; }
say "CRI $(pcd_ctr plugins ls 2>/dev/null | awk '$1 == "io.containerd.grpc.v1" && $2 == "cri" { print $NF }')"
pcd_ctr image import "$here/busybox.tar" >/dev/null 2>&1 || { say "ERROR ctr image import"; dump_logs; exit 1; }

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

# ---- the pod's host-side memory, with a container running in it ----
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
if [ "${NACELLE_E2E_RSS:-1}" = 1 ]; then
	if pcd_ctr run -d --runtime io.containerd.nacelle.v2 "$image" RSS sleep 600 >"$here/out.RSS" 2>&1; then
		sleep 3
		say "RSS-TASK $(pcd_ctr tasks ls | awk '$1 == "RSS" { print $3 }')"
		for _v in $(pids_named RSS nacelle-vmm); do
			say "RSS-VMM-KB $(vmrss_kb "$_v")"
			say "RSS-VMM-OUTSIDE-GUEST-KB $(rss_outside_kb "$_v" $((512 * 1024 * 1024)))"
		done
		for _v in $(pids_named RSS virtiofsd); do say "RSS-VIRTIOFSD-KB $(vmrss_kb "$_v")"; done
		for _v in $(pids_named "-id RSS" containerd-shim-nacelle-v2); do say "RSS-SHIM-KB $(vmrss_kb "$_v")"; done
		pcd_ctr tasks kill -s SIGKILL RSS >/dev/null 2>&1
		_i=0
		while [ "$_i" -lt 600 ] && pcd_ctr tasks ls | awk '$1 == "RSS" && $3 != "STOPPED" { f = 1 } END { exit !f }'; do
			sleep 0.1
			_i=$((_i + 1))
		done
		pcd_ctr tasks delete RSS >/dev/null 2>&1 || say "RSS-DELETE failed"
		pcd_ctr containers rm RSS >/dev/null 2>&1
	else
		say "RSS-RUN failed: $(cat "$here/out.RSS")"
		dump_logs
	fi
fi
pcd_stop
say "POD-DIRS-AFTER-STOP $(ls /run/nacelle 2>/dev/null | wc -l)"
say "DONE"
exit 0
