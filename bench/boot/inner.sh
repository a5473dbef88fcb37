#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs where a usable KVM is (host or KVM lab; busybox sh compatible).
# For each VMM, RUNS times: time from process start to the guest init's first
# line, and the VMM's RSS without guest memory (sum of Rss over every mapping
# smaller than guest RAM, read from /proc/PID/smaps while the guest idles).
#   usage: inner.sh RUNS VCPUS MEMORY_MIB
runs=$1 cpus=$2 mem=$3
kernel=./bzImage initrd=./initramfs.cpio append="console=ttyS0 quiet panic=-1"
up() { cut -d' ' -f1 /proc/uptime; }

rss_kb() { # PID GUEST_RAM_BYTES
	awk -v ram="$2" '
		function hex(s,   i, v) {
			v = 0
			for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
			return v
		}
		/^[0-9a-f]+-[0-9a-f]+ / {
			split($1, r, "-")
			size = hex(r[2]) - hex(r[1])
			guest = size >= ram
			next
		}
		/^Rss:/ && !guest { sum += $2 }
		END { print sum + 0 }' "/proc/$1/smaps" 2>/dev/null
}

one() { # NAME CMD...
	name=$1
	shift
	rm -f fifo
	mkfifo fifo
	t0=$(up)
	"$@" >fifo 2>&1 &
	pid=$!
	t1="" rss=""
	while IFS= read -r line; do
		case $line in
		*BENCH-INIT*)
			t1=$(up)
			rss=$(rss_kb "$pid" $((mem * 1024 * 1024)))
			break
			;;
		esac
	done <fifo
	cat fifo >/dev/null
	wait "$pid"
	rc=$?
	if [ -z "$t1" ]; then
		echo "RESULT $name fail - rc=$rc"
	else
		echo "RESULT $name $(awk -v a="$t1" -v b="$t0" 'BEGIN{printf "%.3f", a-b}') $rss rc=$rc"
	fi
}

qemu="./qemu-system-x86_64 -L ./qemu-fw -accel kvm -cpu host -smp $cpus -m ${mem}M -nodefaults -no-user-config -nographic -serial stdio -no-reboot -kernel $kernel -initrd $initrd"
i=0
while [ "$i" -lt "$runs" ]; do
	one nacelle-vmm ./nacelle-vmm --kernel "$kernel" --initramfs "$initrd" --cmdline "$append" \
		--cpus boot="$cpus" --memory size="${mem}M" --serial tty --console off
	# shellcheck disable=SC2086
	one qemu-microvm $qemu -M microvm,rtc=on -append "$append"
	# shellcheck disable=SC2086
	one qemu-pc $qemu -M pc -append "$append"
	i=$((i + 1))
done
