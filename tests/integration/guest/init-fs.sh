#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# /init of the virtio-fs test guest: mount the tag, read the host's big file,
# create/rename/delete files the host then checks; then wait for the host to
# kill virtiofsd and report what a read does afterwards.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
while read -r m; do insmod "/$m" 2>/dev/null; done </lib/modules/load.order
echo "NACELLE-INIT-OK"
say() { echo "RESULT $*"; }
mkdir -p /mnt
if mount -t virtiofs hostshare /mnt; then say mount ok; else say mount failed; fi
say big-md5 "$(md5sum </mnt/big.bin | cut -d' ' -f1)"
echo "created by the guest" >/mnt/created.txt
mkdir /mnt/dir && echo moved >/mnt/dir/before.txt && mv /mnt/dir/before.txt /mnt/dir/after.txt
rm /mnt/delete-me.txt
sync
say fs-ops done
echo "READY-FOR-KILL"
# the host kills virtiofsd as soon as it sees the line above (it polls
# every 0.1 s); give it ample time
sleep 5
if timeout -s KILL 20 cat /mnt/created.txt >/dev/null 2>/tmp/err; then
	say after-kill read-succeeded
else
	say after-kill "failed: $(cat /tmp/err | head -n1)"
fi
echo "POWEROFF-NOW"
poweroff -f
