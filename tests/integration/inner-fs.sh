#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs where a usable KVM is (busybox sh): Debian's virtiofsd shares ./shared,
# nacelle-vmm boots the guest with --fs, and virtiofsd is killed once the
# guest says it is done; prints "HOST name value" facts.
#   usage: inner-fs.sh BIG_MB
# The KVM lab (QEMU TCG emulating SVM) now and then resets a nested guest
# with two vCPUs while a back-end thread writes its memory (QEMU as the
# nested VMM does the same: see bench/channels); one vCPU there avoids it.
cpus=2
[ "${NACELLE_KVM_KIND:-}" != lab ] || cpus=1
mb=$1
rm -rf shared && mkdir shared
dd if=/dev/urandom of=shared/big.bin bs=1M count="$mb" 2>/dev/null
echo "HOST big-md5 $(md5sum <shared/big.bin | cut -d' ' -f1)"
echo "delete me" >shared/delete-me.txt
rm -f vfs.sock serial.log
virtiofsd --socket-path="$PWD/vfs.sock" -o source="$PWD/shared" -o cache=none -o sandbox=chroot \
	>virtiofsd.log 2>&1 &
vfs=$!
i=0
while [ ! -S vfs.sock ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
./nacelle-vmm --kernel ./bzImage --initramfs ./initramfs.cpio --cmdline "console=ttyS0 quiet panic=-1" \
	--cpus boot="$cpus" --memory size=1G,shared=on --fs tag=hostshare,socket="$PWD/vfs.sock" \
	--serial file=serial.log --console off 2>vmm.err &
vmm=$!
# 200 MiB read 4 KiB at a time (cache=none) takes ~1 min in the TCG lab
# when idle and over 3 min when it is shared: wait up to ~7 min, but stop
# waiting as soon as nacelle-vmm is gone (a dead guest fails below anyway).
i=0
while ! grep -q READY-FOR-KILL serial.log 2>/dev/null && [ $i -lt 4000 ] &&
	kill -0 "$vmm" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
echo "HOST created $(cat shared/created.txt 2>/dev/null)"
echo "HOST renamed $([ -e shared/dir/after.txt ] && [ ! -e shared/dir/before.txt ] && echo yes)"
echo "HOST deleted $([ ! -e shared/delete-me.txt ] && echo yes)"
kill -9 "$vfs"
wait "$vfs" 2>/dev/null
echo "HOST virtiofsd-killed yes"
i=0
while kill -0 "$vmm" 2>/dev/null && [ $i -lt 900 ]; do sleep 0.1; i=$((i + 1)); done
kill "$vmm" 2>/dev/null
wait "$vmm"
echo "HOST vmm-exit $?"
sed 's/^/HOST vmm-stderr /' vmm.err
sed 's/^/SERIAL /' serial.log | tr -d '\r'
exit 0
