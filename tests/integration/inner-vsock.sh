#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs where a usable KVM is (busybox sh): nacelle-vmm with --vsock; the host
# side of every stream goes through the hybrid socket; prints "HOST ..." lines.
#   usage: inner-vsock.sh STREAMS BYTES
# The KVM lab (QEMU TCG emulating SVM) now and then resets a nested guest
# with two vCPUs while a back-end thread writes its memory (QEMU as the
# nested VMM does the same: see bench/channels); one vCPU there avoids it.
cpus=2
[ "${NACELLE_KVM_KIND:-}" != lab ] || cpus=1
n=$1 bytes=$2
sock=$PWD/vsock.sock
rm -f "$sock" "${sock}_6000" serial.log
./vsocktool host-listen "${sock}_6000" "$n" >hostlisten.out 2>&1 &
hl=$!
./nacelle-vmm --kernel ./bzImage --initramfs ./initramfs.cpio \
	--cmdline "console=ttyS0 quiet panic=-1 vsock.n=$n vsock.bytes=$bytes" \
	--cpus boot="$cpus" --memory size=1G --vsock cid=3,socket="$sock" \
	--serial file=serial.log --console off 2>vmm.err &
vmm=$!
i=0
while ! grep -q GUEST-LISTENING serial.log 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
./vsocktool host-connect "$sock" 5000 "$n" "$bytes" >hostconnect.out 2>&1
echo "HOST host-connect $? $(tail -n1 hostconnect.out)"
./vsocktool host-connect "$sock" 5001 4 1048576 --stall 1 >stall.out 2>&1
echo "HOST stall $? $(grep -c ' ok' stall.out) $(grep -c stalled stall.out) $(tail -n1 stall.out)"
t0=$(date +%s)
VSOCKTOOL_CONNECT_SECONDS=1 ./vsocktool host-connect "$sock" 5999 1 1024 >nolisten.out 2>&1
rc=$?
echo "HOST no-listener $rc $(($(date +%s) - t0)) $(tail -n1 nolisten.out)"
# one empty stream tells the guest that the host is done: it powers off
./vsocktool host-connect "$sock" 5002 1 0 >done.out 2>&1
echo "HOST done $? $(tail -n1 done.out)"
i=0
while kill -0 "$vmm" 2>/dev/null && [ $i -lt 1800 ]; do sleep 0.1; i=$((i + 1)); done
kill "$vmm" 2>/dev/null
wait "$vmm"
echo "HOST vmm-exit $?"
wait "$hl"
echo "HOST host-listen $? $(tail -n1 hostlisten.out)"
[ -e "$sock" ] && echo "HOST socket-left yes"
sed 's/^/HOST vmm-stderr /' vmm.err | head -20
sed 's/^/SERIAL /' serial.log | tr -d '\r'
# the host tools' complaints, for a failure's report
for f in hostconnect.out stall.out nolisten.out done.out hostlisten.out; do
	grep '^vsocktool' "$f" | sed "s/^/HOST $f /" | head -10
done
exit 0
