#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs where a usable KVM is (busybox sh compatible): boot a guest that idles
# after init, send SIGNAL to nacelle-vmm once init has printed, and report
# how long the VMM took to exit and with which code:
#   "SIGNAL-EXIT <seconds> <rc>"
#   usage: inner-signal.sh SIGNAL NACELLE_VMM_ARGS...
sig=$1
shift
up() { cut -d' ' -f1 /proc/uptime; }
rm -f fifo
mkfifo fifo
./nacelle-vmm "$@" >fifo 2>vmm.err &
pid=$!
seen=""
while IFS= read -r line; do
	echo "$line"
	case $line in *IDLE-NOW*) seen=1; break ;; esac
done <fifo
if [ -z "$seen" ]; then
	wait "$pid"
	echo "SIGNAL-EXIT never-idle $?"
	cat vmm.err
	exit 0
fi
cat fifo >/dev/null &
t0=$(up)
kill -s "$sig" "$pid"
wait "$pid"
rc=$?
t1=$(up)
cat vmm.err
echo "SIGNAL-EXIT $(awk -v a="$t1" -v b="$t0" 'BEGIN{printf "%.2f", a-b}') $rc"
