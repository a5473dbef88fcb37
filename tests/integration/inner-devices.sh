#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs where a usable KVM is (host or KVM lab; busybox sh compatible). Boots
# the device test guest with two disks (one read-only), a NIC on a tap, rng
# and a console to a file; serves/receives the TCP transfers on the tap;
# then prints host-side facts as "HOST name value" lines.
#   usage: inner-devices.sh NET_MB
mb=$1
set -u
dd if=/dev/zero of=rw.img bs=1M count=16 2>/dev/null
dd if=/dev/urandom of=ro.img bs=1M count=4 2>/dev/null
echo "HOST ro-md5-before $(md5sum <ro.img | cut -d' ' -f1)"
dd if=/dev/urandom of=serve.bin bs=1M count="$mb" 2>/dev/null
echo "HOST serve-md5 $(md5sum <serve.bin | cut -d' ' -f1)"
rm -f recv.bin console.log
# the listeners start before the guest; they bind 0.0.0.0, the tap gets its
# address from nacelle-vmm (ip=/mask=)
./nettool sink 5001 recv.bin >/dev/null &
l1=$!
./nettool serve 5002 serve.bin >/dev/null &
l2=$!
timeout 600 ./nacelle-vmm --kernel ./bzImage --initramfs ./initramfs.cpio \
	--cmdline "console=ttyS0 quiet panic=-1 nacelle.net_mb=$mb" --cpus boot=2 --memory size=768M \
	--disk path=rw.img --disk path=ro.img,readonly=on \
	--net tap=ntap0,mac=52:54:00:12:34:56,ip=192.168.249.1,mask=255.255.255.0 \
	--rng --console file=console.log --serial tty 2>vmm.err
echo "HOST vmm-exit $?"
kill "$l1" "$l2" 2>/dev/null
wait "$l1" "$l2" 2>/dev/null
sed 's/^/HOST vmm-stderr /' vmm.err
echo "HOST recv-md5 $(md5sum <recv.bin | cut -d' ' -f1)"
echo "HOST rw-md5 $(dd if=rw.img bs=1M count=8 2>/dev/null | md5sum | cut -d' ' -f1)"
echo "HOST ro-md5-after $(md5sum <ro.img | cut -d' ' -f1)"
grep -q "hello from hvc0" console.log && echo "HOST console ok"
ip link show ntap0 >/dev/null 2>&1 && echo "HOST tap-left-behind yes"
exit 0
