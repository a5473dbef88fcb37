#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs where a usable KVM is (host or KVM lab; busybox sh compatible). BOOTS
# times: virtiofsd shares ./shared, agent-bench starts nacelle-vmm with the
# agent's image and measures (RESULT lines); then the peer, runc, when it is
# on PATH. The guest consoles of failed boots are printed as DIAG lines.
#   usage: inner.sh BOOTS ITERATIONS SLEEPERS KERNEL INITRAMFS
boots=$1 iters=$2 sleepers=$3 kernel=$4 initramfs=$5
# In the KVM lab the nested guest gets one vCPU (see tests/integration/inner-fs.sh).
cpus=2
[ "${NACELLE_KVM_KIND:-}" != lab ] || cpus=1
sock=$PWD/vsock.sock
i=1
while [ "$i" -le "$boots" ]; do
	rm -f vfs.sock "$sock" serial.log
	virtiofsd --socket-path="$PWD/vfs.sock" -o source="$PWD/shared" -o cache=none \
		-o sandbox=chroot >virtiofsd.log 2>&1 &
	vfs=$!
	j=0
	while [ ! -S vfs.sock ] && [ $j -lt 100 ]; do sleep 0.05; j=$((j + 1)); done
	if ! ./agent-bench vm --vsock "$sock" --share nacelle:/run/nacelle/shared \
		--rootfs /run/nacelle/shared/rootfs --iterations "$iters" --sleepers "$sleepers" -- \
		./nacelle-vmm --kernel "$kernel" --initramfs "$initramfs" \
		--cmdline "console=ttyS0 quiet panic=-1" --cpus boot="$cpus" \
		--memory size=1G,shared=on --fs tag=nacelle,socket="$PWD/vfs.sock" \
		--vsock cid=3,socket="$sock" --serial file=serial.log --console off 2>vmm.err; then
		echo "DIAG boot $i failed"
		sed 's/^/DIAG vmm: /' vmm.err | head -20
		tr -d '\r' <serial.log | sed 's/^/DIAG guest: /' | tail -40
	fi
	# Guest uptime (the agent's log stamps) when the agent started and listened.
	tr -d '\r' <serial.log | sed -n \
		-e 's/^nacelle-agent\[\([0-9.]*\)\] info: nacelle-agent .* starting.*/RESULT guest-start \1/p' \
		-e 's/^nacelle-agent\[\([0-9.]*\)\] info: listening on vsock.*/RESULT guest-listen \1/p' 
	kill "$vfs" 2>/dev/null
	wait "$vfs" 2>/dev/null
	i=$((i + 1))
done

# The peer: runc on this machine, the same rootfs, runc's default spec with `true`.
if command -v runc >/dev/null 2>&1; then
	# runc re-executes itself for the container's init with an environment of
	# its own, without LD_LIBRARY_PATH: in the lab, whose shipped libraries are
	# found only through it, the loader must find them in a default place.
	if [ "${NACELLE_KVM_KIND:-}" = lab ] && [ -n "${LD_LIBRARY_PATH:-}" ]; then
		mkdir -p /usr/lib/x86_64-linux-gnu
		for f in $(echo "$LD_LIBRARY_PATH" | tr ':' ' '); do
			for l in "$f"/*; do
				[ -e "/usr/lib/x86_64-linux-gnu/${l##*/}" ] || ln -s "$l" /usr/lib/x86_64-linux-gnu/
			done
		done
	fi
	mkdir -p bundle
	(cd bundle && runc spec)
	sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"$/"true"/' \
		-e "s|\"path\": \"rootfs\"|\"path\": \"$PWD/shared/rootfs\"|" bundle/config.json
	# The lab's root is its initramfs, from which pivot_root(2) refuses to move.
	nopivot=''
	[ "${NACELLE_KVM_KIND:-}" != lab ] || nopivot=--no-pivot
	./agent-bench cmd "$iters" -- runc run $nopivot --bundle bundle peer >runc.out 2>&1
	grep '^RESULT' runc.out
	grep -v '^RESULT' runc.out | head -10 | sed 's/^/DIAG runc: /'
fi
exit 0
