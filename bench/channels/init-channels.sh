#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# /init of the bench/channels guest. bench.mode=vsock: listen for the host's
# one-way streams (port 5001: 1 stream, 5008: 8 streams), then send one-way
# streams to the host (port 6001: 1, 6008: 8); bench.mode=fs: mount the
# virtio-fs tag and read big.bin sequentially. Prints "RESULT ..." lines.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/$m" 2>/dev/null; done </lib/modules/load.order
echo "NACELLE-INIT-OK"
mode='' mb=256
for a in $(cat /proc/cmdline); do
	case $a in
	bench.mode=*) mode=${a#*=} ;;
	bench.mb=*) mb=${a#*=} ;;
	esac
done
up() { cut -d' ' -f1 /proc/uptime; }
case $mode in
vsock)
	vsocktool guest-listen 5001 1 >/tmp/l1 2>&1 &
	l1=$!
	vsocktool guest-listen 5008 8 >/tmp/l8 2>&1 &
	l8=$!
	sleep 0.3
	echo "GUEST-LISTENING"
	wait $l1
	wait $l8
	echo "RESULT guest-rx-1 $(tail -n1 /tmp/l1)"
	echo "RESULT guest-rx-8 $(tail -n1 /tmp/l8)"
	echo "RESULT g2h-1 $(vsocktool guest-connect 2 6001 1 $((mb * 1048576)) --oneway 2>&1 | tail -n1)"
	echo "RESULT g2h-8 $(vsocktool guest-connect 2 6008 8 $((mb * 131072)) --oneway 2>&1 | tail -n1)"
	;;
fs)
	mkdir -p /mnt
	if mount -t virtiofs hostshare /mnt; then
		t0=$(up)
		n=$(dd if=/mnt/big.bin of=/dev/null bs=1M 2>&1 | sed -n 's/^\([0-9]*\)+0 records in/\1/p')
		t1=$(up)
		echo "RESULT fs-read $n $(awk -v a="$t1" -v b="$t0" -v n="$n" 'BEGIN { printf "%.3f %.1f", a - b, n * 1.048576 / (a - b) }')"
	else
		echo "RESULT fs-read mount-failed"
	fi
	;;
esac
echo "POWEROFF-NOW"
poweroff -f
