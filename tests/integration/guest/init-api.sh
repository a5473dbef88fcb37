#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# /init of the API test guest: count seconds on the console (so a paused VM
# is visible as a gap), report the ACPI power button when it is pressed,
# and otherwise idle until the VMM stops it.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
echo "NACELLE-INIT-OK"
ged_count() { awk 'tolower($0) ~ /ged/ { n = 0; for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) n += $i; print n; exit }' /proc/interrupts; }
echo "GED-IRQ $(grep -ci ged /proc/interrupts)"
base=$(ged_count)
i=0
while :; do
	now=$(ged_count)
	if [ "${now:-0}" != "${base:-0}" ]; then
		echo "POWER-BUTTON-SEEN"
		base=$now
	fi
	echo "TICK $i"
	i=$((i + 1))
	sleep 0.5
done
