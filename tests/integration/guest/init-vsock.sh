#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# /init of the vsock test guest: listen for the host's streams (port 5000:
# N streams; port 5001: the stalled-peer case; port 5002: one empty stream,
# the host's "all done"), connect N streams out to the host (port 6000),
# report each tool's summary, power off once the host is done (the stall and
# no-listener cases run after the main streams and need a live guest).
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/$m" 2>/dev/null; done </lib/modules/load.order
echo "NACELLE-INIT-OK"
n=64 bytes=10485760
for a in $(cat /proc/cmdline); do
	case $a in
	vsock.n=*) n=${a#*=} ;;
	vsock.bytes=*) bytes=${a#*=} ;;
	esac
done
vsocktool guest-listen 5000 "$n" >/tmp/listen.out 2>&1 &
l1=$!
vsocktool guest-listen 5001 4 >/tmp/stall.out 2>&1 &
l2=$!
vsocktool guest-listen 5002 1 >/tmp/done.out 2>&1 &
l3=$!
sleep 0.3
echo "GUEST-LISTENING"
vsocktool guest-connect 2 6000 "$n" "$bytes" >/tmp/connect.out 2>&1
echo "RESULT guest-connect $? $(tail -n1 /tmp/connect.out)"
wait "$l1"
echo "RESULT guest-listen $? $(tail -n1 /tmp/listen.out)"
# the host closes the stalled stream last: one stream fails here, as asked
wait "$l2"
echo "RESULT guest-stall $? $(grep -c ' ok$' /tmp/stall.out) $(tail -n1 /tmp/stall.out)"
wait "$l3"
echo "RESULT guest-done $? $(tail -n1 /tmp/done.out)"
echo "POWEROFF-NOW"
poweroff -f
