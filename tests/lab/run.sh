#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/lab/run.sh [--timeout SECONDS] [--memory SIZE] DIR SCRIPT [ARGS...]
#
# Runs `sh SCRIPT ARGS...` with cwd DIR on a KVM that runs stock kernels, and exits with the
# script's exit status. probe.sh decides where: on the host when its /dev/kvm works, otherwise in
# the lab (QEMU TCG machine with nested SVM, see README.md). The first line on stderr says which.
#
# SCRIPT is resolved relative to DIR first, then to the current directory. --timeout 0: none.
# Exit status: the script's; 124 on timeout; 125 when the lab itself failed (the console log's
# tail is then printed on stderr); 2 for usage errors.
# Environment: NACELLE_KVM=host|lab forces the path; NACELLE_VMM=BINARY is handed to probe.sh;
# NACELLE_LAB_TOOLS=PATH:PATH... puts host programs (with their libraries) on PATH in the lab (and
# on the host path too); NACELLE_LAB_VERBOSE=1 prints the lab's console and timings on stderr,
# NACELLE_LAB_TIMES=1 only the timings; NACELLE_LAB_DISK_EXTRA (MiB, default 256) is the free
# space of the payload disk in the lab; NACELLE_LAB_MACHINE=microvm|pc overrides the machine;
# NACELLE_LAB_APPEND adds to the lab kernel's command line.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# The lab machine itself (QEMU TCG emulating SVM, with a nested KVM) now and
# then dies under a test: the emulated machine crashes or resets, which is
# not the test's result (exit 125 below). Run
# the whole thing once more then, saying so. Stdout is the last attempt's,
# passed on when it ends; stderr goes through as it comes.
if [ -z "${NACELLE_LAB_ATTEMPT:-}" ]; then
	attempt_out="$(mktemp "${TMPDIR:-/tmp}/nacelle-run-out.XXXXXX")"
	child='' stop=''
	trap 'stop=1; [ -z "$child" ] || kill -TERM "$child" 2>/dev/null' TERM INT HUP
	for attempt in 1 2; do
		rc=0
		NACELLE_LAB_ATTEMPT=$attempt "$here/run.sh" "$@" >"$attempt_out" &
		child=$!
		wait "$child" || rc=$?
		# a trapped signal ends wait early: wait for the child's own exit
		while [ -n "$stop" ] && kill -0 "$child" 2>/dev/null; do wait "$child" || rc=$?; done
		child=''
		[ "$rc" = 125 ] && [ "$attempt" = 1 ] && [ -z "$stop" ] || break
		echo "run.sh: the lab machine itself failed (not the script); running it once more" >&2
	done
	cat "$attempt_out"
	rm -f "$attempt_out"
	exit "$rc"
fi
# shellcheck source=tests/lab/lib.sh
. "$here/lib.sh"

usage() {
	echo "usage: $0 [--timeout SECONDS] [--memory SIZE] DIR SCRIPT [ARGS...]" >&2
	exit 2
}

timeout_s=600
memory=3G
while [ $# -gt 0 ]; do
	case "$1" in
	--timeout) [ $# -ge 2 ] || usage; timeout_s="$2"; shift 2 ;;
	--timeout=*) timeout_s="${1#*=}"; shift ;;
	--memory) [ $# -ge 2 ] || usage; memory="$2"; shift 2 ;;
	--memory=*) memory="${1#*=}"; shift ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -ge 2 ] || usage
case "$timeout_s" in '' | *[!0-9]*) echo "run.sh: --timeout wants whole seconds" >&2; exit 2 ;; esac
dir_arg="$1" script_arg="$2"
shift 2
[ -d "$dir_arg" ] || { echo "run.sh: $dir_arg: not a directory" >&2; exit 2; }
dir="$(cd "$dir_arg" && pwd -P)"
case "$script_arg" in
/*) script="$script_arg" ;;
*) if [ -f "$dir/$script_arg" ]; then script="$dir/$script_arg"; else script="$PWD/$script_arg"; fi ;;
esac
[ -f "$script" ] || { echo "run.sh: $script_arg: no such script (in $dir or $PWD)" >&2; exit 2; }
script="$(cd "$(dirname "$script")" && pwd -P)/$(basename "$script")"

# ---------------------------------------------------------------------------------------------
# Where to run.
probe_out="$("$here/probe.sh" "${NACELLE_VMM:-}")" || { echo "run.sh: probe.sh failed" >&2; exit 125; }
kind="${probe_out%%$'\n'*}"
reason="$(printf '%s\n' "$probe_out" | sed -n '2p')"

pid=''
tmp=''
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	for p in ${readers:-}; do kill "$p" 2>/dev/null || true; done
	[ -z "$tmp" ] || rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [ "$kind" = host ]; then
	echo "kvm: host (/dev/kvm runs stock kernels${reason:+; $reason})" >&2
	export NACELLE_PAYLOAD="$dir" NACELLE_KVM_KIND=host
	if [ -n "${NACELLE_LAB_TOOLS:-}" ]; then
		tmp="$(mktemp -d "${TMPDIR:-/tmp}/nacelle-run.XXXXXX")"
		IFS=: read -r -a tools <<<"$NACELLE_LAB_TOOLS"
		for t in "${tools[@]}"; do
			[ -z "$t" ] || ln -s "$(command -v "$t")" "$tmp/" ||
				{ echo "run.sh: NACELLE_LAB_TOOLS: $t not found" >&2; exit 2; }
		done
		export PATH="$tmp:$PATH"
	fi
	# timeout(1) runs the script in a process group of its own and signals all of it.
	(cd "$dir" && exec timeout -k 10 "$timeout_s" sh "$script" "$@") &
	pid=$!
	set +e
	wait "$pid"
	rc=$?
	set -e
	pid=''
	[ "$rc" != 124 ] || echo "run.sh: timed out after ${timeout_s}s" >&2
	exit "$rc"
fi

echo "kvm: lab (QEMU TCG with nested SVM; ${reason:-host /dev/kvm cannot run stock kernels})" >&2

t0=$EPOCHREALTIME
lab_kernel
# tun: the tap devices of nacelle-vmm's virtio-net tests; vhost_vsock: QEMU's vsock, the
# peer in bench/channels; overlay: containerd's overlayfs snapshotter (tests/e2e).
# microvm (qboot, virtio-mmio, no PCI) boots ~1 s faster than pc under TCG, but has no timer
# to calibrate the TSC against: use it when the host's TSC rate is known (see lib.sh).
tsc_khz="$(lab_host_tsc_khz)"
machine="${NACELLE_LAB_MACHINE:-}"
if [ -z "$machine" ]; then
	if [ -n "$tsc_khz" ]; then machine=microvm; else machine=pc; fi
fi
if [ "$machine" = microvm ]; then
	lab_modules=(kvm_amd virtio_mmio virtio_blk tun vhost_vsock overlay)
	blkdev=virtio-blk-device
	machine_args=(-M "microvm,acpi=on,rtc=on,pit=on,pic=on,isa-serial=on")
else
	lab_modules=(kvm_amd virtio_pci virtio_blk tun vhost_vsock overlay)
	blkdev=virtio-blk-pci
	machine_args=(-M "$machine")
fi
# The lab's initramfs: cached per kernel, init script, busybox and module list.
key="$( (cat "$here/lab-init.sh"; printf '%s\n' "${lab_modules[@]}" "v1"; cat "$(command -v busybox)") |
	sha256sum | cut -c1-16)"
labdir="$NACELLE_CACHE_DIR/lab/$NACELLE_KERNEL_VERSION-$key"
if [ ! -s "$labdir/initramfs.cpio" ]; then
	# Initramfs builds of other init scripts or kernels not used for two weeks go.
	find "$NACELLE_CACHE_DIR/lab" -mindepth 1 -maxdepth 1 -type d -mtime +14 -exec rm -rf {} + 2>/dev/null || true
	mkdir -p "$labdir"
	(
		flock 9
		if [ ! -s "$labdir/initramfs.cpio" ]; then
			mods=()
			for m in "${lab_modules[@]}"; do mods+=(-m "$m"); done
			lab_busybox_initramfs "${mods[@]}" "$labdir/initramfs.cpio" "$here/lab-init.sh"
		fi
	) 9>"$labdir/.lock"
fi

touch "$labdir"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/nacelle-lab.XXXXXX")"
mkdir "$tmp/ctl" "$tmp/ctl/lib"

# Mount the payload at the same absolute path in the lab, unless that path is one the lab itself
# needs; then at /payload. Scripts find it in $NACELLE_PAYLOAD either way.
mount_at="$dir"
case "$dir" in
/ | /bin | /bin/* | /sbin | /sbin/* | /lib | /lib/* | /lib64 | /lib64/* | /usr | /usr/bin | /usr/bin/* | \
	/usr/sbin | /usr/sbin/* | /dev | /dev/* | /proc | /proc/* | /sys | /sys/* | /etc | /etc/* | \
	/nacelle-lab | /nacelle-lab/* | /init | /run | /tmp) mount_at=/payload ;;
esac

# The script, if it does not live in DIR.
case "$script" in
"$dir"/*) lab_script="$mount_at/${script#"$dir"/}" ;;
*)
	mkdir "$tmp/ctl/script"
	cp "$script" "$tmp/ctl/script/"
	lab_script="/nacelle-lab/script/$(basename "$script")"
	;;
esac

# Shared libraries of every dynamically linked ELF executable or .so in DIR (one ldd call).
elfs=()
# NACELLE_LAB_TOOLS: host programs (a colon-separated list of paths) to put on PATH in the lab.
if [ -n "${NACELLE_LAB_TOOLS:-}" ]; then
	mkdir "$tmp/ctl/bin"
	IFS=: read -r -a tools <<<"$NACELLE_LAB_TOOLS"
	for t in "${tools[@]}"; do
		[ -n "$t" ] || continue
		p="$(command -v "$t")" || { echo "run.sh: NACELLE_LAB_TOOLS: $t not found" >&2; exit 2; }
		cp -L "$p" "$tmp/ctl/bin/"
		elfs+=("$tmp/ctl/bin/$(basename "$p")")
	done
fi
while IFS= read -r -d '' f; do
	case "$f" in *.so | *.so.*) ;; *) [ -x "$f" ] || continue ;; esac
	magic=''
	LC_ALL=C read -r -n 4 magic <"$f" 2>/dev/null || true
	[ "$magic" = $'\x7fELF' ] && elfs+=("$f")
done < <(find "$dir" -type f -size +63c -print0)
if [ "${#elfs[@]}" -gt 0 ]; then
	# "libfoo.so.1 => /path/libfoo.so.1 (0x...)", and the loader as "/lib64/ld-linux-x86-64.so.2 (0x...)".
	# shellcheck disable=SC2016
	(ldd "${elfs[@]}" 2>/dev/null || true) | awk '
		$2 == "=>" && $3 ~ /^\// { print $1 "\t" $3 }
		$1 ~ /^\// && $1 ~ /ld-linux/ && $2 ~ /^\(/ { n = $1; sub(/.*\//, "", n); print n "\t" $1 }
		$2 == "=>" && $3 == "not" { print "missing\t" $1 > "/dev/stderr" }' |
		sort -u | while IFS=$'\t' read -r name path; do
		[ -e "$tmp/ctl/lib/$name" ] || cp -L "$path" "$tmp/ctl/lib/$name"
	done
fi

q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
inner_timeout=$((timeout_s > 60 ? timeout_s - 30 : timeout_s / 2))
[ "$inner_timeout" -ge 1 ] || [ "$timeout_s" = 0 ] || inner_timeout=1 # --timeout 0: none
{
	echo "LAB_MOUNT=$(q "$mount_at")"
	echo "LAB_SCRIPT=$(q "$lab_script")"
	echo "LAB_TIMEOUT=$inner_timeout"
	if [ -e "$dir/lost+found" ]; then echo LAB_LOST_FOUND=1; else echo LAB_LOST_FOUND=0; fi
	printf 'set --'
	for a in "$@"; do printf ' %s' "$(q "$a")"; done
	echo
} >"$tmp/ctl/run.conf"

# ext4 images: content + margin, no journal (cache=unsafe anyway), lazy inode tables (the lab
# mounts with noinit_itable so no kernel thread zeroes them under TCG).
mkimg() { # SRC IMG EXTRA_MiB
	local kb
	kb="$(du -sk "$1" | cut -f1)"
	kb=$((kb + kb / 4 + $3 * 1024 + 4096))
	truncate -s "${kb}K" "$2"
	mkfs.ext4 -q -F -O ^has_journal -E lazy_itable_init=1,root_owner=0:0 -m 0 -i 8192 -L nacelle \
		-d "$1" "$2"
}
mkimg "$tmp/ctl" "$tmp/ctl.img" 8
mkimg "$dir" "$tmp/payload.img" "${NACELLE_LAB_DISK_EXTRA:-256}"
rm -rf "$tmp/ctl"

mkfifo "$tmp/out" "$tmp/err" "$tmp/status"
readers=''
cat "$tmp/out" &
readers+=" $!"
cat "$tmp/err" >&2 &
readers+=" $!"
# Status lines with the host's time of arrival (bash builtins only: no fork per line).
(
	while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done <"$tmp/status" >"$tmp/status.log"
) &
readers+=" $!"

esc() { printf '%s' "${1//,/,,}"; } # QEMU option values: a comma is written ",,"
append="console=ttyS0 panic=-1 reboot=t mitigations=off tsc=reliable no_timer_check i8042.noaux i8042.nokbd i8042.nopnp"
# The bzImage's LZ4 decompression costs ~0.3 s under TCG: QEMU boots the ELF vmlinux directly
# (PVH entry point, CONFIG_PVH=y) on both machine types.
lab_kernel_image="$NACELLE_VMLINUX"
append+=" cryptomgr.notests"
[ "$machine" != microvm ] || [ -z "$tsc_khz" ] || append+=" tsc_early_khz=$tsc_khz"
if [ -n "${NACELLE_LAB_VERBOSE:-}" ]; then append+=" ignore_loglevel printk.time=1"; else append+=" quiet loglevel=1"; fi
append+="${NACELLE_LAB_APPEND:+ $NACELLE_LAB_APPEND}"
t1=$EPOCHREALTIME
timeout -k 5 "$timeout_s" qemu-system-x86_64 \
	-accel tcg,thread=multi -smp 2 -cpu EPYC,+svm,+npt -m "$memory" "${machine_args[@]}" \
	-nodefaults -no-user-config -no-reboot -display none \
	-kernel "$lab_kernel_image" -initrd "$labdir/initramfs.cpio" -append "$append" \
	-chardev "file,id=s0,path=$(esc "$tmp/console.log")" -serial chardev:s0 \
	-chardev "file,id=s1,path=$(esc "$tmp/out")" -device isa-serial,chardev=s1,index=1 \
	-chardev "file,id=s2,path=$(esc "$tmp/err")" -device isa-serial,chardev=s2,index=2 \
	-chardev "file,id=s3,path=$(esc "$tmp/status")" -device isa-serial,chardev=s3,index=3 \
	-drive "file=$(esc "$tmp/ctl.img"),if=none,id=ctl,format=raw,cache=unsafe" \
	-device "$blkdev,drive=ctl",serial=nacelle-ctl \
	-drive "file=$(esc "$tmp/payload.img"),if=none,id=payload,format=raw,cache=unsafe" \
	-device "$blkdev,drive=payload",serial=nacelle-payload \
	</dev/null >"$tmp/qemu.log" 2>&1 &
pid=$!
set +e
wait "$pid"
qrc=$?
set -e
pid=''
t2=$EPOCHREALTIME
# If QEMU never opened a FIFO (it failed early), its reader still waits in open(): a writer that
# comes and goes lets it see end-of-file.
for f in out err status; do exec 3<>"$tmp/$f" && exec 3>&-; done
for p in $readers; do wait "$p" 2>/dev/null || true; done
readers=''

start_line="$(grep ' start ' "$tmp/status.log" | head -n1 || true)"
end_line="$(grep -E ' (exit|timeout|error) ' "$tmp/status.log" | tail -n1 || true)"
exit_line="$(grep ' exit ' "$tmp/status.log" | tail -n1 || true)"

if [ -n "${NACELLE_LAB_VERBOSE:-}" ]; then
	echo "---- lab console ----" >&2
	cat "$tmp/console.log" >&2 || true
	echo "---- end of lab console ----" >&2
fi
if [ -n "${NACELLE_LAB_VERBOSE:-}" ] || [ -n "${NACELLE_LAB_TIMES:-}" ]; then
	ts="${start_line%% *}" te="${exit_line%% *}"
	awk -v a="$t0" -v b="$t1" -v s="${ts:-0}" -v e="${te:-0}" -v c="$t2" -v up="$(echo "$start_line" | awk '{print $3}')" 'BEGIN {
		if (s > 0 && e > 0)
			printf "lab: times: prepare %.2fs, qemu start to script start %.2fs (guest uptime %ss), script %.2fs, power-off %.2fs, total %.2fs\n", b - a, s - b, up, e - s, c - e, c - a
		else
			printf "lab: times: prepare %.2fs, qemu %.2fs\n", b - a, c - b
	}' >&2
fi

timeout_line="$(grep ' timeout ' "$tmp/status.log" | head -n1 || true)"
if [ -n "$timeout_line" ]; then
	echo "run.sh: script timed out in the lab after ${timeout_line##* }s" >&2
	exit 124
fi
case "$end_line" in
*" exit "*) exit "${end_line##* }" ;;
esac
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "run.sh: lab timed out after ${timeout_s}s" >&2
	exit 124
fi
echo "run.sh: the lab failed (qemu exit $qrc${end_line:+, ${end_line#* }})" >&2
grep -v "TCG doesn't support requested feature" "$tmp/qemu.log" | tail -n 5 >&2 || true
echo "---- tail of lab console ----" >&2
tail -n 40 "$tmp/console.log" >&2 || true
exit 125
