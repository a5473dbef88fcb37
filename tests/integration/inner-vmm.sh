#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs where a usable KVM is (host or KVM lab; busybox sh compatible): starts
# nacelle-vmm with the given arguments and prefixes each console line with
# the time since the VMM started (from /proc/uptime, 10 ms resolution), so
# the caller can measure boot and power-off times. Prints "VMM-EXIT <t> <rc>"
# when the VMM has exited.
#   usage: inner-vmm.sh TIMEOUT_SECONDS NACELLE_VMM_ARGS...
timeout_s=$1
shift
up() { cut -d' ' -f1 /proc/uptime; }
t0=$(up)
rm -f vmm.rc vmm.err
{
	timeout "$timeout_s" ./nacelle-vmm "$@" 2>vmm.err
	echo $? >vmm.rc
} | while IFS= read -r line; do
	printf '%s %s\n' "$(awk -v a="$(up)" -v b="$t0" 'BEGIN{printf "%.2f", a-b}')" "$line"
done
t1=$(awk -v a="$(up)" -v b="$t0" 'BEGIN{printf "%.2f", a-b}')
sed 's/^/VMM-STDERR /' vmm.err
echo "VMM-EXIT $t1 $(cat vmm.rc)"
