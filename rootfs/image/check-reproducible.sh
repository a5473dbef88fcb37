#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# rootfs/image/check-reproducible.sh — rootfs/build-image.sh gives byte-identical images from the
# same inputs, and the images hold what they should. Builds the image twice (different output
# directories, temporary directories, umask and agent path and mtime), compares every output's
# sha256, then checks the archive: entries owned by 0:0 with mtime SOURCE_DATE_EPOCH, /init -> the
# agent, the dynamic loader and libraries, every module modules.dep names, no busybox unless
# --debug; a gzip image unpacks to the same archive as the lz4 one. Takes a few seconds.
#
# Until the real nacelle-agent exists the "agent" is a small dynamically linked C program (linked
# with zlib when it can be, for a library reached through a symlink), or /bin/true.
# Exit status: 0 pass, 1 fail, 77 skipped (no kernel: tests/lab/lib.sh cannot fetch it).
set -euo pipefail
export LC_ALL=C
unset SOURCE_DATE_EPOCH # the builder's default, 0, which the header check below expects

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/../build-image.sh"
# shellcheck source=../../tests/lab/lib.sh disable=SC1091
. "$here/../../tests/lab/lib.sh"

fails=0
fail() { printf 'check-reproducible: FAIL: %s\n' "$*"; fails=$((fails + 1)); }
ok() { printf 'check-reproducible: ok: %s\n' "$*"; }

if ! lab_kernel >/dev/null 2>&1; then
	echo "check-reproducible: skipped: no guest kernel (tests/lab/lib.sh lab_kernel failed)"
	exit 77
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/nacelle-repro.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# The stand-in agent.
cat >"$tmp/agent.c" <<'AGENT'
#include <stdio.h>
#include <zlib.h>
int main(void) { puts(zlibVersion()); return 0; }
AGENT
if cc -O2 -o "$tmp/agent" "$tmp/agent.c" -lz 2>/dev/null; then
	:
else
	cp /bin/true "$tmp/agent"
fi
mkdir "$tmp/elsewhere"
cp "$tmp/agent" "$tmp/elsewhere/nacelle-agent"
touch -d '2001-02-03 04:05:06' "$tmp/elsewhere/nacelle-agent"

outputs=(bzImage initramfs.cpio.lz4 initramfs.manifest image.env)
mkdir "$tmp/t1" "$tmp/t2"
TMPDIR="$tmp/t1" "$build" --agent "$tmp/agent" --out "$tmp/a" >"$tmp/a.log" 2>&1 ||
	{ cat "$tmp/a.log" >&2; fail "first build"; exit 1; }
(umask 077 && TMPDIR="$tmp/t2" "$build" --agent "$tmp/elsewhere/nacelle-agent" \
	--out "$tmp/b/deeper") >"$tmp/b.log" 2>&1 ||
	{ cat "$tmp/b.log" >&2; fail "second build"; exit 1; }
cat "$tmp/a.log"
for f in "${outputs[@]}"; do
	[ -s "$tmp/a/$f" ] || { fail "no $f"; continue; }
	a="$(sha256sum <"$tmp/a/$f")" b="$(sha256sum <"$tmp/b/deeper/$f")"
	if [ "$a" = "$b" ]; then ok "$f identical (${a%% *})"; else fail "$f differs between builds"; fi
done

# The archive.
lz4 -dc "$tmp/a/initramfs.cpio.lz4" >"$tmp/a.cpio"
cpio -it --quiet <"$tmp/a.cpio" >"$tmp/names" 2>/dev/null
# Owners and mtimes straight from the newc headers (extracting would not keep directory mtimes).
bytes() { dd if="$tmp/a.cpio" iflag=skip_bytes,count_bytes skip="$1" count="$2" status=none; }
off=0 entries=0 bad=""
size_all="$(stat -c %s "$tmp/a.cpio")"
while [ "$off" -lt "$size_all" ]; do
	hdr="$(bytes "$off" 110)"
	[ "${hdr:0:6}" = 070701 ] || { bad="bad header at $off"; break; }
	uid=$((16#${hdr:22:8})) gid=$((16#${hdr:30:8})) mtime=$((16#${hdr:46:8}))
	fsize=$((16#${hdr:54:8})) namesize=$((16#${hdr:94:8}))
	name="$(bytes $((off + 110)) $((namesize - 1)))"
	[ "$name" = 'TRAILER!!!' ] && break
	entries=$((entries + 1))
	[ "$uid" = 0 ] && [ "$gid" = 0 ] || bad="$name owned by $uid:$gid"
	[ "$mtime" = 0 ] || bad="$name has mtime $mtime"
	off=$(((off + 110 + namesize + 3) / 4 * 4))
	off=$(((off + fsize + 3) / 4 * 4))
done
if [ -z "$bad" ] && [ "$entries" -gt 0 ]; then ok "$entries entries, all 0:0 with mtime 0"; else
	fail "archive headers: ${bad:-no entries}"; fi
if [ "$(sort "$tmp/names")" = "$(cat "$tmp/names")" ]; then ok "archive sorted"; else
	fail "archive not sorted"; fi
mkdir "$tmp/x"
(cd "$tmp/x" && cpio -idm --quiet --no-absolute-filenames <"$tmp/a.cpio")
x="$tmp/x"
if [ "$(readlink "$x/init")" = usr/bin/nacelle-agent ] &&
	cmp -s "$x/usr/bin/nacelle-agent" "$tmp/agent"; then
	ok "/init is the agent"
else
	fail "/init is not the agent"
fi
if [ -s "$x/etc/nacelle-modules" ]; then ok "/etc/nacelle-modules"; else
	fail "no /etc/nacelle-modules"; fi
interp="$(readelf -l "$tmp/agent" 2>/dev/null |
	sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')"
if [ -n "$interp" ]; then
	# Resolve inside the image (its absolute symlinks point into the image, not the host).
	p="$interp" hops=0
	while [ -L "$x$p" ] && [ "$hops" -lt 10 ]; do
		t="$(readlink "$x$p")"
		case "$t" in /*) p="$t" ;; *) p="$(dirname "$p")/$t" ;; esac
		hops=$((hops + 1))
	done
	if [ -f "$x$p" ]; then ok "loader $interp present"; else fail "loader $interp missing"; fi
fi
while read -r lib; do
	# /lib is a symlink in the image: look the path up under it
	if [ -e "$x$lib" ] || [ -e "$x/usr$lib" ]; then ok "library $lib"; else
		fail "library $lib missing"; fi
done < <(ldd "$tmp/agent" 2>/dev/null | awk '$2 == "=>" { print $3 }')
mdir="$(find "$x/usr/lib/modules" -mindepth 1 -maxdepth 1 -type d)"
nmods=0
while read -r ko; do
	nmods=$((nmods + 1))
	[ -f "$mdir/$ko" ] || fail "module $ko in modules.dep but not in the image"
done < <(awk '{ sub(/:$/, "", $1); print $1 }' "$mdir/modules.dep")
if [ "$nmods" -gt 0 ]; then ok "$nmods modules, all present"; else fail "no modules"; fi
if grep -q '^kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko:' "$mdir/modules.dep"; then
	ok "vsock transport in modules.dep"
else
	fail "no vsock transport"
fi
if [ ! -e "$x/usr/bin/busybox" ]; then ok "no busybox in the normal image"; else
	fail "busybox in the normal image"; fi

# gzip: the same archive, another compression.
"$build" --compress gzip --agent "$tmp/agent" --out "$tmp/g" >/dev/null 2>&1 || fail "gzip build"
if gzip -dc "$tmp/g/initramfs.cpio.gz" | cmp -s - "$tmp/a.cpio"; then
	ok "gzip image = lz4 image"
else
	fail "gzip image unpacks to another archive"
fi
[ ! -e "$tmp/g/initramfs.cpio.lz4" ] || fail "stale lz4 image left next to the gzip one"

# --debug: busybox and its applets.
"$build" --debug --agent "$tmp/agent" --out "$tmp/d" >/dev/null 2>&1 || fail "--debug build"
lz4 -dc "$tmp/d/initramfs.cpio.lz4" | cpio -it --quiet 2>/dev/null >"$tmp/dnames"
if grep -qx usr/bin/busybox "$tmp/dnames" && grep -qx usr/bin/sh "$tmp/dnames"; then
	ok "--debug has busybox and sh"
else
	fail "--debug image lacks busybox"
fi

if [ "$fails" -gt 0 ]; then
	echo "check-reproducible: $fails failures"
	exit 1
fi
echo "check-reproducible: pass"
