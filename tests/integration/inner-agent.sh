#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs where a usable KVM is (busybox sh): virtiofsd shares ./shared,
# nacelle-vmm boots the agent's image with --fs and --vsock, and
# agent-host-test drives the agent through the hybrid vsock socket; prints
# "HOST name value" facts, the test's lines as "TEST ..." and the guest's
# console (the agent's log) as "SERIAL ...".
#   usage: inner-agent.sh KERNEL INITRAMFS
# The KVM lab (QEMU TCG emulating SVM) now and then resets a nested guest
# with two vCPUs while a back-end thread writes its memory (see
# inner-fs.sh); one vCPU there avoids it.
kernel=$1 initramfs=$2
cpus=2
[ "${NACELLE_KVM_KIND:-}" != lab ] || cpus=1
sock=$PWD/vsock.sock
rm -f vfs.sock "$sock" serial.log
virtiofsd --socket-path="$PWD/vfs.sock" -o source="$PWD/shared" -o cache=none -o sandbox=chroot \
	>virtiofsd.log 2>&1 &
vfs=$!
i=0
while [ ! -S vfs.sock ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
# "-- --debug": the agent's own arguments (it logs to the console)
./nacelle-vmm --kernel "$kernel" --initramfs "$initramfs" \
	--cmdline "console=ttyS0 quiet panic=-1 -- --debug" \
	--cpus boot="$cpus" --memory size=1G,shared=on --fs tag=nacelle,socket="$PWD/vfs.sock" \
	--vsock cid=3,socket="$sock" --serial file=serial.log --console off 2>vmm.err &
vmm=$!
t0=$(date +%s)
./agent-host-test --vsock "$sock" --share nacelle:/run/nacelle/shared \
	--rootfs /run/nacelle/shared/rootfs --log serial.log >test.out 2>&1
echo "HOST test-exit $?"
echo "HOST test-seconds $(($(date +%s) - t0))"
# Shutdown powers the guest off: nacelle-vmm exits by itself
i=0
while kill -0 "$vmm" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
kill "$vmm" 2>/dev/null
wait "$vmm"
echo "HOST vmm-exit $?"
kill "$vfs" 2>/dev/null
wait "$vfs" 2>/dev/null
sed 's/^/TEST /' test.out
sed 's/^/HOST vmm-stderr /' vmm.err | head -40
sed 's/^/HOST virtiofsd /' virtiofsd.log | head -20
sed 's/^/SERIAL /' serial.log | tr -d '\r'
exit 0
