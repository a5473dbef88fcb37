#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs where a usable KVM is (host or KVM lab; busybox sh compatible). For
# each of RUNS rounds and each VMM (nacelle-vmm, QEMU): a vsock VM (one-way
# streams host->guest and guest->host, 1 and 8 streams, MB MiB in all each
# time) and a virtio-fs VM (sequential read of an MB MiB file through
# Debian's virtiofsd, cache=none, 1024-entry queues in both). Prints "RESULT vmm metric MBps" lines.
#   usage: inner.sh RUNS MB
runs=$1 mb=$2
# In the KVM lab both VMMs' nested guests get one vCPU: with two, the lab's
# emulated SVM now and then resets a guest whose memory a back-end thread is
# writing (both VMMs alike); see tests/integration/inner-fs.sh.
cpus=2
[ "${NACELLE_KVM_KIND:-}" != lab ] || cpus=1
kernel=./bzImage initrd=./initramfs.cpio
append="console=ttyS0 quiet panic=-1"
qemu="./qemu-system-x86_64 -L ./qemu-fw -M pc -accel kvm -cpu host -smp $cpus -m 1G -nodefaults
 -no-user-config -nographic -display none -no-reboot -kernel $kernel -initrd $initrd"

mkdir -p shared
dd if=/dev/urandom of=shared/big.bin bs=1M count="$mb" 2>/dev/null
mbps() { sed -n 's/.*MBps=\([0-9.]*\) ok.*/\1/p' | head -n1; }
wait_line() { # LINE FILE PID: until LINE is in FILE or PID is gone (120 s at most)
	i=0
	while ! grep -q "$1" "$2" 2>/dev/null && kill -0 "$3" 2>/dev/null && [ $i -lt 1200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}
wait_exit() { # PID: up to 300 s, then kill
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 3000 ]; do sleep 0.1; i=$((i + 1)); done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
result() { # VMM METRIC VALUE
	echo "RESULT $1 $2 ${3:-fail}"
}

vsock_run() { # VMM
	rm -f serial.log v.sock v.sock_*
	if [ "$1" = nacelle-vmm ]; then
		./vsocktool host-listen "$PWD/v.sock_6001" 1 >h1 2>&1 &
		l1=$!
		./vsocktool host-listen "$PWD/v.sock_6008" 8 >h8 2>&1 &
		l8=$!
		./nacelle-vmm --kernel "$kernel" --initramfs "$initrd" --cpus boot="$cpus" --memory size=1G \
			--cmdline "$append bench.mode=vsock bench.mb=$mb" --vsock cid=3,socket="$PWD/v.sock" \
			--serial file=serial.log --console off 2>vmm.err &
	else
		./vsocktool guest-listen 6001 1 >h1 2>&1 &
		l1=$!
		./vsocktool guest-listen 6008 8 >h8 2>&1 &
		l8=$!
		$qemu -append "$append bench.mode=vsock bench.mb=$mb" -device vhost-vsock-pci,guest-cid=3 \
			-serial file:serial.log >vmm.err 2>&1 &
	fi
	vm=$!
	wait_line GUEST-LISTENING serial.log "$vm"
	if [ "$1" = nacelle-vmm ]; then
		h1=$(./vsocktool host-connect "$PWD/v.sock" 5001 1 $((mb * 1048576)) --oneway 2>&1)
		h8=$(./vsocktool host-connect "$PWD/v.sock" 5008 8 $((mb * 131072)) --oneway 2>&1)
	else
		h1=$(./vsocktool guest-connect 3 5001 1 $((mb * 1048576)) --oneway 2>&1)
		h8=$(./vsocktool guest-connect 3 5008 8 $((mb * 131072)) --oneway 2>&1)
	fi
	wait_exit "$vm"
	kill "$l1" "$l8" 2>/dev/null
	wait "$l1" "$l8" 2>/dev/null
	result "$1" vsock-h2g-1 "$(echo "$h1" | mbps)"
	result "$1" vsock-h2g-8 "$(echo "$h8" | mbps)"
	result "$1" vsock-g2h-1 "$(tr -d '\r' <serial.log | grep 'RESULT g2h-1' | mbps)"
	result "$1" vsock-g2h-8 "$(tr -d '\r' <serial.log | grep 'RESULT g2h-8' | mbps)"
	grep -q ' ok' serial.log || { echo "DIAG $1 vsock:"; tail -n5 serial.log vmm.err; echo "$h1" | tail -n2; }
}

fs_run() { # VMM
	rm -f serial.log vfs.sock
	virtiofsd --socket-path="$PWD/vfs.sock" -o source="$PWD/shared" -o cache=none \
		-o sandbox=chroot >virtiofsd.log 2>&1 &
	vfs=$!
	i=0
	while [ ! -S vfs.sock ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	if [ "$1" = nacelle-vmm ]; then
		./nacelle-vmm --kernel "$kernel" --initramfs "$initrd" --cpus boot="$cpus" \
			--memory size=1G,shared=on --cmdline "$append bench.mode=fs" \
			--fs tag=hostshare,socket="$PWD/vfs.sock" --serial file=serial.log \
			--console off 2>vmm.err &
	else
		$qemu -append "$append bench.mode=fs" \
			-object memory-backend-memfd,id=mem,size=1G,share=on -numa node,memdev=mem \
			-chardev socket,id=vfs,path="$PWD/vfs.sock" \
			-device vhost-user-fs-pci,chardev=vfs,tag=hostshare,queue-size=1024 \
			-serial file:serial.log >vmm.err 2>&1 &
	fi
	vm=$!
	wait_exit "$vm"
	kill -9 "$vfs" 2>/dev/null
	wait "$vfs" 2>/dev/null
	v=$(tr -d '\r' <serial.log | sed -n 's/^RESULT fs-read [0-9]* [0-9.]* \([0-9.]*\)$/\1/p')
	result "$1" fs-read "$v"
	[ -n "$v" ] || { echo "DIAG $1 fs:"; tail -n5 serial.log vmm.err; }
}

r=0
while [ $r -lt "$runs" ]; do
	for vmm in nacelle-vmm qemu; do
		vsock_run $vmm
		fs_run $vmm
	done
	r=$((r + 1))
done
