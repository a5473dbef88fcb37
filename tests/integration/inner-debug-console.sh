#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs where a usable KVM is: boots the debug image and sends a command to
# the agent's debug console (vsock port 1026) through the hybrid vsock.
#   usage: inner-debug-console.sh KERNEL INITRAMFS
rm -f v.sock
./nacelle-vmm --kernel "$1" --initramfs "$2" --cmdline "console=ttyS0 quiet panic=1" \
	--cpus boot=1 --memory size=512M --vsock cid=3,socket="$PWD/v.sock" \
	--serial file=serial.log --console off 2>vmm.err &
vm=$!
i=0 reply=''
while [ $i -lt 300 ] && kill -0 "$vm" 2>/dev/null; do
	# shellcheck disable=SC2016 # expanded by the guest's shell (whose prompt may
	# precede the output on the same line)
	reply=$(printf 'CONNECT 1026\necho hi-$((40 + 2)) $(uname -r)\nexit\n' |
		./nettool unix "$PWD/v.sock" 2>/dev/null | grep -o 'hi-42 .*' | head -n1)
	[ -z "$reply" ] || break
	sleep 0.3
	i=$((i + 1))
done
echo "HOST reply $reply"
kill "$vm"
wait "$vm"
echo "HOST vmm-exit $?"
sed 's/^/HOST vmm-stderr /' vmm.err
tr -d '\r' <serial.log | sed 's/^/SERIAL /'
