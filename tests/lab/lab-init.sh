#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# /init of the KVM lab (busybox sh, PID 1 in the QEMU TCG machine started by run.sh).
#
# Channels (all 16550 UARTs; the host's run.sh reads them):
#   ttyS0  kernel console and this init's own messages (a log file on the host)
#   ttyS1  the test script's stdout
#   ttyS2  the test script's stderr
#   ttyS3  status: "start UPTIME", then "exit RC" or "timeout SECONDS" / "error MESSAGE"
# Disks (virtio-blk, found by serial): nacelle-ctl (run.conf, shared libraries, maybe the
# script) is mounted at /nacelle-lab; nacelle-payload (the test directory) at $LAB_MOUNT.

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/null >/dev/console 2>&1

# Loading kvm.ko takes ~0.5 s under TCG: do it on the other vCPU while this one sets up the rest.
# load.order lists modules dependencies first; the KVM chain and the rest are independent.
kvm_modules='/kvm/|/irqbypass\.ko$'
grep -E "$kvm_modules" /lib/modules/load.order | while read -r m; do
	insmod "/$m" || { echo "lab-init: insmod $m failed"; exit 1; }
done &
kvm_loader=$!

status() { echo "$*" >/dev/ttyS3; }
fail() {
	echo "lab-init: $*"
	status "error $*"
	poweroff -f
	exit 1
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ip link set lo up 2>/dev/null
echo 'root:x:0:0:root:/root:/bin/sh' >/etc/passwd
echo 'root:x:0:' >/etc/group
echo lab >/proc/sys/kernel/hostname

# Output channels: raw, so that bytes pass unchanged (no \n -> \r\n).
for t in 1 2 3; do
	stty -F "/dev/ttyS$t" raw -echo 2>/dev/null || fail "no /dev/ttyS$t"
done


grep -v -E "$kvm_modules" /lib/modules/load.order | while read -r m; do
	insmod "/$m" || { echo "lab-init: insmod $m failed"; exit 1; }
done || fail "loading modules"

ctl='' payload=''
for _ in 1 2 3 4 5 6 7 8 9 10; do
	for b in /sys/block/vd*; do
		[ -e "$b/serial" ] || continue
		case "$(cat "$b/serial")" in
		nacelle-ctl) ctl="/dev/${b##*/}" ;;
		nacelle-payload) payload="/dev/${b##*/}" ;;
		esac
	done
	[ -n "$ctl" ] && [ -n "$payload" ] && [ -b "$ctl" ] && [ -b "$payload" ] && break
	usleep 20000
done
[ -n "$ctl" ] && [ -n "$payload" ] || fail "virtio disks not found"
mkdir -p /nacelle-lab
mount -t ext4 -o noinit_itable "$ctl" /nacelle-lab || fail "cannot mount $ctl"

# run.conf sets LAB_MOUNT, LAB_SCRIPT, LAB_TIMEOUT, LAB_LOST_FOUND and the script's arguments.
. /nacelle-lab/run.conf || fail "bad run.conf"
mkdir -p "$LAB_MOUNT"
mount -t ext4 -o noinit_itable "$payload" "$LAB_MOUNT" || fail "cannot mount $payload"
[ "$LAB_LOST_FOUND" = 1 ] || rmdir "$LAB_MOUNT/lost+found" 2>/dev/null

wait "$kvm_loader" || fail "loading the KVM modules"
[ -c /dev/kvm ] || mknod /dev/kvm c 10 232
chmod 0666 /dev/kvm

# Dynamically linked programs from the payload: the host's loader and libraries.
if [ -e /nacelle-lab/lib/ld-linux-x86-64.so.2 ]; then
	mkdir -p /lib64 /lib/x86_64-linux-gnu
	ln -sf /nacelle-lab/lib/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2
	ln -sf /nacelle-lab/lib/ld-linux-x86-64.so.2 /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
fi

[ ! -d /nacelle-lab/bin ] || PATH="/nacelle-lab/bin:$PATH"
export LD_LIBRARY_PATH=/nacelle-lab/lib
export NACELLE_PAYLOAD="$LAB_MOUNT" NACELLE_KVM_KIND=lab HOME=/root TMPDIR=/tmp
NACELLE_LAB_START_UPTIME="$(cut -d' ' -f1 /proc/uptime)"
export NACELLE_LAB_START_UPTIME
cd "$LAB_MOUNT" || fail "cannot cd to $LAB_MOUNT"

status "start $NACELLE_LAB_START_UPTIME"
sh "$LAB_SCRIPT" "$@" </dev/null >/dev/ttyS1 2>/dev/ttyS2 &
pid=$!
[ "$LAB_TIMEOUT" -gt 0 ] && (
	sleep "$LAB_TIMEOUT"
	status "timeout $LAB_TIMEOUT"
	kill -TERM "$pid"
	sleep 2
	kill -KILL "$pid"
) </dev/null >/dev/null 2>&1 &
wd=$!
[ "$LAB_TIMEOUT" -gt 0 ] || wd=''
wait "$pid"
rc=$?
[ -z "$wd" ] || kill "$wd" 2>/dev/null
# stty sets the mode with TCSADRAIN: it returns once the script's output has left the UARTs.
stty -F /dev/ttyS1 raw -echo
stty -F /dev/ttyS2 raw -echo
status "exit $rc"
stty -F /dev/ttyS3 raw -echo
cd /
# No sync: the disks are per-run copies that the host throws away.
poweroff -f
