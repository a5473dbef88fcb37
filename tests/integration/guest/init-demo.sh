#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# /init of the demo guest: say hello from inside the microVM, power off.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
echo "Hello from a nacelle microVM"
echo "  kernel:  $(uname -srm)"
echo "  cpus:    $(grep -c '^processor' /proc/cpuinfo)"
echo "  memory:  $(awk '/^MemTotal:/ {print $2 " kB"}' /proc/meminfo)"
echo "  uptime:  $(cut -d' ' -f1 /proc/uptime) s (guest clock at init)"
echo "  rtc:     $(cat /sys/class/rtc/rtc0/name 2>/dev/null || echo none), $(date -u)"
poweroff -f
