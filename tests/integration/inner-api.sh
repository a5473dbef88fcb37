#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs where a usable KVM is (busybox sh). Drives nacelle-vmm through its
# REST API with nacelle-remote: a full VM lifecycle, state errors, counters,
# the power button, malformed requests on the raw socket; prints
# "STEP name rc output" lines for the caller to check.
sock=$PWD/api.sock
rm -f "$sock" serial.log
./nacelle-vmm --api-socket path="$sock" -v 2>vmm.err &
vmm=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
step() { # NAME ARGS...: run nacelle-remote, one line of result
	name=$1
	shift
	out=$(./nacelle-remote --api-socket "$sock" "$@" 2>&1)
	rc=$?
	echo "STEP $name $rc $(echo "$out" | tr '\n' ' ')"
}
raw() { # NAME BYTES: send raw bytes, print the status line
	printf "$2" | NETTOOL_TIMEOUT_SECONDS=5 ./nettool unix "$sock" >raw.out 2>&1
	echo "RAW $1 $(head -n1 raw.out | tr -d '\r')"
}
cat >vm.json <<JSON
{
  "payload": {"kernel": "$PWD/bzImage", "initramfs": "$PWD/initramfs.cpio",
              "cmdline": "console=ttyS0 quiet panic=-1"},
  "cpus": {"boot_vcpus": 2, "max_vcpus": 2},
  "memory": {"size": 536870912},
  "rng": {"src": "/dev/urandom"},
  "serial": {"mode": "File", "file": "$PWD/serial.log"},
  "console": {"mode": "Off"}
}
JSON
step ping ping
step info-before info
step boot-before-create boot
step create create vm.json
step create-twice create vm.json
step boot boot
i=0
while ! grep -q NACELLE-INIT-OK serial.log 2>/dev/null && [ $i -lt 400 ]; do sleep 0.1; i=$((i + 1)); done
step info-running info
# let the guest tick a couple of times first, so a pause has something to stop
i=0
while [ "$(grep -c TICK serial.log)" -lt 2 ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
step pause pause
step pause-twice pause
t1=$(grep -c TICK serial.log)
sleep 2
t2=$(grep -c TICK serial.log)
echo "PAUSED-TICKS $t1 $t2"
step info-paused info
step resume resume
step resume-twice resume
sleep 2
echo "RESUMED-TICKS $(grep -c TICK serial.log)"
step counters counters
step power-button power-button
i=0
while ! grep -q POWER-BUTTON-SEEN serial.log && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
echo "POWER-BUTTON $(grep -c POWER-BUTTON-SEEN serial.log) $(grep GED-IRQ serial.log | tr -d '\r')"
raw garbage 'GARBAGE\r\n\r\n'
raw unknown-path 'GET /api/v1/vm.frobnicate HTTP/1.1\r\nHost: x\r\n\r\n'
raw wrong-method 'DELETE /api/v1/vm.info HTTP/1.1\r\nHost: x\r\n\r\n'
raw bad-json 'PUT /api/v1/vm.create HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{oops'
raw not-implemented 'PUT /api/v1/vm.snapshot HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}'
step ping-after-garbage ping
step shutdown shutdown
step info-shutdown info
step reboot-shutdown-vm reboot
step delete delete
step info-deleted info
step shutdown-vmm shutdown-vmm
i=0
while kill -0 "$vmm" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
wait "$vmm"
echo "VMM-EXIT $?"
[ -e "$sock" ] && echo "SOCKET-LEFT yes"
sed 's/^/VMM-LOG /' vmm.err | grep -i "error\|warn" | head -20
exit 0
