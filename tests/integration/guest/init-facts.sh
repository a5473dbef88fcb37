#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# /init of the test guest: print a marker and the facts the tests check, then
# power off through ACPI (busybox poweroff -f = reboot(RB_POWER_OFF)).
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
echo "NACELLE-INIT-OK"
echo "nproc=$(grep -c '^processor' /proc/cpuinfo)"
echo "online=$(cat /sys/devices/system/cpu/online)"
echo "memtotal_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
# RAM as the firmware (our e820 map) described it to the kernel
ram=0
for d in /sys/firmware/memmap/*; do
	[ "$(cat "$d/type")" = "System RAM" ] && ram=$((ram + $(cat "$d/end") - $(cat "$d/start") + 1))
done
echo "ram_kb=$((ram / 1024))"
# what the kernel's own image takes out of MemTotal
echo "kernel_image_kb=$(dmesg | sed -n 's/.*available (\([0-9]*\)K kernel code, \([0-9]*\)K rwdata, \([0-9]*\)K rodata, \([0-9]*\)K init, \([0-9]*\)K bss.*/\1 \2 \3 \4 \5/p' | awk '{print $1 + $2 + $3 + $4 + $5}')"
echo "cmdline=$(cat /proc/cmdline)"
echo "rtc=$(cat /sys/class/rtc/rtc0/name 2>/dev/null || echo none)"
echo "year=$(date -u +%Y)"
# nacelle.action= on the command line picks how the guest ends
case " $(cat /proc/cmdline) " in
*" nacelle.action=reboot "*)
	echo "REBOOT-NOW"
	reboot -f
	;;
*" nacelle.action=idle "*)
	echo "IDLE-NOW"
	exec sleep 100000
	;;
esac
echo "POWEROFF-NOW"
poweroff -f
echo "NACELLE-POWEROFF-FAILED"
sleep 1000
