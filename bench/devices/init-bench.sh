#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# /init of the device benchmark guest: block I/O on vda with blkbench
# (O_DIRECT, queue depth 1), TCP both ways with nettool against the host at
# 192.168.249.1, one "BENCH name value" line each; then power off.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox mount -t tmpfs tmpfs /tmp
while read -r m; do insmod "/$m" 2>/dev/null; done </lib/modules/load.order
sleep 0.2
mb=64
for a in $(cat /proc/cmdline); do case $a in bench.mb=*) mb=${a#*=} ;; esac; done
b() { echo "BENCH $1 $(blkbench /dev/vda "$1" "$2" "$3")"; }
b seqwrite "$mb" 1048576
b seqread "$mb" 1048576
b randwrite 8 4096
b randread 8 4096
ip link set eth0 up
ip addr add 192.168.249.2/24 dev eth0
dd if=/dev/urandom of=/tmp/tx bs=1M count="$mb" 2>/dev/null
echo "BENCH tcp-guest-to-host $(nettool send 192.168.249.1 5001 /tmp/tx)"
rm -f /tmp/tx
echo "BENCH tcp-host-to-guest $(nettool recv 192.168.249.1 5002 /dev/null)"
poweroff -f
