#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs where a usable KVM is (host or KVM lab; busybox sh). Boots the
# benchmark guest ROUNDS times under each VMM, alternating, with the same
# kernel, initramfs, vCPUs, memory, a 256 MiB raw disk opened O_DIRECT and a
# tap NIC at 192.168.249.1; prints "RESULT vmm metric MBps iops".
#   usage: inner.sh ROUNDS MIB
rounds=$1 mb=$2
append="console=ttyS0 quiet panic=-1 bench.mb=$mb"
dd if=/dev/zero of=disk.img bs=1M count=256 2>/dev/null
dd if=/dev/urandom of=serve.bin bs=1M count="$mb" 2>/dev/null

collect() { # VMM LOG
	sed -n 's/.*BENCH //p' "$2" | tr -d '\r' | while read -r metric rest; do
		mbps=$(echo "$rest" | sed -n 's/.*MBps=\([0-9.]*\).*/\1/p')
		iops=$(echo "$rest" | sed -n 's/.*iops=\([0-9]*\).*/\1/p')
		echo "RESULT $1 $metric ${mbps:-0} ${iops:--}"
	done
}

listeners() {
	./nettool sink 5001 /dev/null >/dev/null &
	./nettool serve 5002 serve.bin >/dev/null &
}

run_nacelle() {
	listeners
	timeout 600 ./nacelle-vmm --kernel ./bzImage --initramfs ./initramfs.cpio --cmdline "$append" \
		--cpus boot=2 --memory size=768M --disk path=disk.img,direct=on \
		--net tap=ntap0,mac=52:54:00:12:34:56,ip=192.168.249.1,mask=255.255.255.0 \
		--serial tty --console off >nacelle.log 2>&1
	wait
	collect nacelle-vmm nacelle.log
}

run_qemu() {
	listeners
	# QEMU creates the tap; its host side is configured once it exists.
	./qemu-system-x86_64 -L ./qemu-fw -accel kvm -cpu host -smp 2 -m 768M -M pc \
		-nodefaults -no-user-config -nographic -serial stdio -no-reboot \
		-kernel ./bzImage -initrd ./initramfs.cpio -append "$append" \
		-drive file=disk.img,if=none,id=d0,format=raw,cache=none,aio=threads \
		-device virtio-blk-pci,drive=d0 \
		-netdev tap,id=n0,ifname=qtap0,script=no,downscript=no,vhost=off \
		-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,romfile= >qemu.log 2>&1 &
	q=$!
	i=0
	while ! ip link show qtap0 >/dev/null 2>&1 && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	ip addr add 192.168.249.1/24 dev qtap0
	ip link set qtap0 up
	wait "$q"
	wait
	collect qemu qemu.log
}

r=0
while [ "$r" -lt "$rounds" ]; do
	run_nacelle
	run_qemu
	r=$((r + 1))
done
