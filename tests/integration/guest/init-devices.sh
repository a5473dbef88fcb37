#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# /init of the device test guest: load the virtio modules, then exercise
# every device and print one "RESULT name value" line per fact the host
# checks. Disks: vda read-write, vdb read-only. Network: eth0 toward the
# host's tap at 192.168.249.1. Then power off.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox mount -t tmpfs tmpfs /tmp
while read -r m; do insmod "/$m" 2>/dev/null; done </lib/modules/load.order
echo "NACELLE-INIT-OK"
sleep 0.2 # let udev-less device nodes appear
say() { echo "RESULT $*"; }

# --- disks
pattern_mb=8
dd if=/dev/urandom of=/tmp/pattern bs=1M count=$pattern_mb 2>/dev/null
say pattern-md5 "$(md5sum </tmp/pattern | cut -d' ' -f1)"
if dd if=/tmp/pattern of=/dev/vda bs=1M oflag=direct conv=fsync 2>/dev/null; then
	say vda-write ok
else
	say vda-write failed
fi
say vda-readback-md5 "$(dd if=/dev/vda bs=1M count=$pattern_mb iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)"
say vdb-ro "$(cat /sys/block/vdb/ro 2>/dev/null)"
say vdb-md5 "$(md5sum </dev/vdb | cut -d' ' -f1)"
# bypass the kernel's read-only flag: the device itself must refuse the write
blockdev --setrw /dev/vdb 2>/dev/null
if dd if=/tmp/pattern of=/dev/vdb bs=4096 count=1 oflag=direct conv=fsync 2>/dev/null; then
	say vdb-write succeeded
else
	say vdb-write refused
fi

# --- rng
say hwrng "$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)"
say hwrng-bytes "$(dd if=/dev/hwrng bs=4096 count=256 2>/dev/null | wc -c)"

# --- console
echo "hello from hvc0" >/dev/hvc0 && say hvc0 written

# --- network
ip link set eth0 up
ip addr add 192.168.249.2/24 dev eth0
say mac "$(cat /sys/class/net/eth0/address)"
if ping -c 3 -W 2 192.168.249.1 >/dev/null 2>&1; then say ping ok; else say ping failed; fi
mb=${NACELLE_NET_MB:-100}
for a in $(cat /proc/cmdline); do case $a in nacelle.net_mb=*) mb=${a#*=} ;; esac; done
# guest -> host: the host listens on 5001 and reports the md5 it received
dd if=/dev/urandom of=/tmp/tx bs=1M count="$mb" 2>/dev/null
say tx-md5 "$(md5sum </tmp/tx | cut -d' ' -f1)"
say tx-rate "$(nettool send 192.168.249.1 5001 /tmp/tx)"
rm -f /tmp/tx
# host -> guest: the host serves a file on 5002
say rx-rate "$(nettool recv 192.168.249.1 5002 /tmp/rx)"
say rx-md5 "$(md5sum </tmp/rx | cut -d' ' -f1)"
say rx-bytes "$(wc -c </tmp/rx)"
echo "POWEROFF-NOW"
poweroff -f
