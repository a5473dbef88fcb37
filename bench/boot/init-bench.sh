#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# /init of the boot benchmark guest: the first line is the marker the timer
# waits for; the guest then idles a moment so the VMM's RSS can be read while
# it runs, and powers off.
echo "BENCH-INIT"
/bin/busybox sleep 1
/bin/busybox poweroff -f
