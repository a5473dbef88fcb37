# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
#
# tests/lab/lib.sh — shared helpers of the KVM lab (sourced by run.sh, probe.sh, selftest.sh
# and by tests that need the guest kernel or a busybox initramfs).
#
#   lab_kernel                  Debian's cloud kernel, fetched with apt-get download and unpacked
#                               once into the cache (never installed on the host). Exports
#                               NACELLE_KERNEL (bzImage), NACELLE_VMLINUX (ELF), NACELLE_MODULES
#                               (lib/modules/VERSION) and NACELLE_KERNEL_VERSION.
#   lab_modules_closure MOD...  the .ko files MOD... need, dependencies first, one path a line.
#   lab_busybox_initramfs [-m MODULE]... [-z] OUT INIT [FILE:DEST]...
#                               a newc cpio: static busybox + applet links, /init, extra files,
#                               kernel modules (+ dependencies) listed in /lib/modules/load.order.
#
# Needs: bash, coreutils, apt-get/apt-cache/dpkg-deb, lz4, cpio, busybox-static, flock
# (util-linux); kmod's depmod is used when present, else busybox's.

# Cache root; everything the lab keeps between runs lives under it.
NACELLE_CACHE_DIR="${NACELLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nacelle}"
export NACELLE_CACHE_DIR

# The Debian meta-package whose dependency names the kernel to use.
: "${NACELLE_KERNEL_PACKAGE:=linux-image-cloud-amd64}"

lab_log() { printf 'lab: %s\n' "$*" >&2; }
lab_die() { printf 'lab: error: %s\n' "$*" >&2; return 1; }

# Resolve linux-image-cloud-amd64 -> linux-image-VERSION. apt-cache takes ~0.7 s, so the answer is
# cached and reused until apt's package cache changes (apt-get update).
_lab_kernel_version() {
	if [ -n "${NACELLE_KERNEL_VERSION:-}" ]; then
		printf '%s\n' "$NACELLE_KERNEL_VERSION"
		return 0
	fi
	local memo="$NACELLE_CACHE_DIR/kernel/resolved-$NACELLE_KERNEL_PACKAGE" stamp v=""
	stamp=/var/cache/apt/pkgcache.bin
	[ -e "$stamp" ] || stamp=/var/lib/apt/lists
	if [ -s "$memo" ] && [ "$memo" -nt "$stamp" ]; then
		cat "$memo"
		return 0
	fi
	v="$(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances "$NACELLE_KERNEL_PACKAGE" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { sub(/^linux-image-/, "", $2); print $2; exit }')"
	if [ -z "$v" ]; then
		# Offline or no package lists: fall back to the newest kernel already in the cache.
		v="$(find "$NACELLE_CACHE_DIR/kernel" -mindepth 2 -maxdepth 2 -name ready 2>/dev/null |
			sed 's|/ready$||; s|.*/||' | sort -V | tail -n1)"
		[ -n "$v" ] || lab_die "cannot resolve $NACELLE_KERNEL_PACKAGE (run apt-get update?)" || return 1
		lab_log "apt-cache cannot resolve $NACELLE_KERNEL_PACKAGE; using cached kernel $v"
		printf '%s\n' "$v"
		return 0
	fi
	mkdir -p "$NACELLE_CACHE_DIR/kernel"
	printf '%s\n' "$v" >"$memo.$$" && mv -f "$memo.$$" "$memo"
	printf '%s\n' "$v"
}

# lab_extract_vmlinux BZIMAGE OUT — the ELF vmlinux inside a bzImage whose payload is LZ4.
lab_extract_vmlinux() {
	local bz="$1" out="$2" setup_sects off len start
	setup_sects="$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')"
	off="$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')"
	len="$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')"
	[ "$setup_sects" != 0 ] || setup_sects=4
	start=$(((setup_sects + 1) * 512 + off))
	# The payload is an LZ4 legacy frame followed by the 4-byte decompressed size that the
	# kernel's build appends (size_append); lz4 rejects those 4 bytes, so leave them out.
	if [ "$(dd if="$bz" bs=1M iflag=skip_bytes,count_bytes skip="$start" count=4 status=none |
		od -An -tx1 | tr -d ' ')" != 02214c18 ]; then
		lab_die "$bz: payload is not an LZ4 legacy frame"
		return 1
	fi
	dd if="$bz" bs=1M iflag=skip_bytes,count_bytes skip="$start" count=$((len - 4)) status=none |
		lz4 -dc >"$out" || { lab_die "$bz: lz4 failed"; return 1; }
	[ "$(head -c4 "$out" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
		{ lab_die "$out: not an ELF file"; return 1; }
}

# _lab_kernel_build VERSION DEST — download, unpack, depmod, extract vmlinux into DEST.
_lab_kernel_build() {
	local ver="$1" dest="$2" tmp deb
	tmp="$(mktemp -d "$NACELLE_CACHE_DIR/kernel/.build.XXXXXX")" && chmod 0755 "$tmp" || return 1
	# apt-get download drops privileges to _apt: give it a directory it may write to.
	mkdir "$tmp/dl"
	if id _apt >/dev/null 2>&1; then chown _apt "$tmp/dl" 2>/dev/null || chmod 0777 "$tmp/dl"; fi
	lab_log "downloading linux-image-$ver (once; cached in $NACELLE_CACHE_DIR/kernel)"
	if ! (cd "$tmp/dl" && apt-get download -q=2 "linux-image-$ver") >&2; then
		rm -rf "$tmp"
		lab_die "apt-get download linux-image-$ver failed"
		return 1
	fi
	deb="$(find "$tmp/dl" -name '*.deb' | head -n1)"
	mkdir "$tmp/root"
	dpkg-deb -x "$deb" "$tmp/root" &&
		{
			if command -v depmod >/dev/null 2>&1; then
				depmod -b "$tmp/root" "$ver"
			else
				busybox depmod -b "$tmp/root" "$ver"
			fi
		} &&
		[ -s "$tmp/root/lib/modules/$ver/modules.dep" ] &&
		lab_extract_vmlinux "$tmp/root/boot/vmlinuz-$ver" "$tmp/vmlinux" || {
		rm -rf "$tmp"
		lab_die "unpacking linux-image-$ver failed"
		return 1
	}
	mv "$tmp/root/boot/vmlinuz-$ver" "$tmp/bzImage"
	mv "$tmp/root/lib/modules/$ver" "$tmp/modules"
	cp "$tmp/root/boot/config-$ver" "$tmp/config" 2>/dev/null || true
	rm -rf "$tmp/root" "$tmp/dl"
	: >"$tmp/ready"
	mv "$tmp" "$dest" # atomic: nobody sees a half-built kernel directory
}

lab_kernel() {
	local ver dir
	ver="$(_lab_kernel_version)" || return 1
	dir="$NACELLE_CACHE_DIR/kernel/$ver"
	if [ ! -e "$dir/ready" ]; then
		mkdir -p "$NACELLE_CACHE_DIR/kernel"
		(
			flock 9
			if [ ! -e "$dir/ready" ]; then
				# Under the lock, any build directory left is from a process that was killed.
				rm -rf "$dir" "$NACELLE_CACHE_DIR"/kernel/.build.*
				_lab_kernel_build "$ver" "$dir"
			fi
		) 9>"$NACELLE_CACHE_DIR/kernel/.lock" || return 1
	fi
	NACELLE_KERNEL_VERSION="$ver"
	NACELLE_KERNEL="$dir/bzImage"
	NACELLE_VMLINUX="$dir/vmlinux"
	NACELLE_MODULES="$dir/modules"
	export NACELLE_KERNEL_VERSION NACELLE_KERNEL NACELLE_VMLINUX NACELLE_MODULES
}

# lab_modules_closure MODULE... — absolute .ko paths, each after everything it depends on.
# Module names may use - or _. Built-in modules are skipped silently; unknown ones fail.
lab_modules_closure() {
	[ -n "${NACELLE_MODULES:-}" ] || lab_kernel || return 1
	awk -v dir="$NACELLE_MODULES" -v builtin="$NACELLE_MODULES/modules.builtin" '
		function norm(p,   n) { n = p; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); gsub(/-/, "_", n); return n }
		function visit(n,   i, k, d) {
			if (n in done) return
			if (!(n in path)) {
				if (n in isbuiltin) { done[n] = 1; return }
				printf "unknown module: %s\n", n > "/dev/stderr"; bad = 1; return
			}
			if (n in active) return
			active[n] = 1
			k = split(deps[n], d, " ")
			for (i = 1; i <= k; i++) visit(norm(d[i]))
			done[n] = 1
			print dir "/" path[n]
		}
		BEGIN {
			while ((getline line < builtin) > 0) isbuiltin[norm(line)] = 1
		}
		{
			f = $1; sub(/:$/, "", f); n = norm(f); path[n] = f
			$1 = ""; deps[n] = $0
		}
		END {
			k = split(want, w, " ")
			for (i = 1; i <= k; i++) visit(norm(w[i]))
			exit bad
		}' want="$*" "$NACELLE_MODULES/modules.dep"
}

_lab_stage_initramfs() { # STAGE INIT [FILE:DEST]... ; modules in the array _lab_mods
	local stage="$1" init="$2" spec src dst ko applet
	shift 2
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc,mnt,lib/modules} &&
		cp "$_lab_bb" "$stage/bin/busybox" &&
		cp "$init" "$stage/init" && chmod 0755 "$stage/init" || return 1
	while read -r applet; do
		[ -e "$stage/$applet" ] || ln -s /bin/busybox "$stage/$applet" || return 1
	done < <("$_lab_bb" --list-full)
	for spec in "$@"; do
		src="${spec%:*}" dst="${spec##*:}"
		[ "$src" != "$spec" ] && [ -n "$dst" ] || { lab_die "bad FILE:DEST '$spec'"; return 1; }
		dst="$stage/${dst#/}"
		mkdir -p "$(dirname "$dst")" && cp -L "$src" "$dst" || return 1
	done
	: >"$stage/lib/modules/load.order"
	[ "${#_lab_mods[@]}" -gt 0 ] || return 0
	lab_modules_closure "${_lab_mods[@]}" >"$stage/.mods" || return 1
	while read -r ko; do
		dst="lib/modules/${ko#"$NACELLE_MODULES"/}"
		mkdir -p "$stage/$(dirname "$dst")" && cp "$ko" "$stage/$dst" || return 1
		printf '%s\n' "$dst" >>"$stage/lib/modules/load.order"
	done <"$stage/.mods"
	rm -f "$stage/.mods"
}

# lab_busybox_initramfs [-m MODULE]... [-z] OUT INIT_SCRIPT [FILE:DEST]...
#   -m MODULE  add a kernel module (and its dependencies) of the lab kernel; the modules are
#              stored under /lib/modules/ and listed, dependencies first, in
#              /lib/modules/load.order (paths relative to /), for the init to insmod in order.
#   -z         gzip the archive. The default is uncompressed: under TCG the kernel inflates
#              slowly and QEMU loads an uncompressed initrd just as fast (see README.md).
# Busybox and its applet links go to /bin, /sbin, /usr/bin, /usr/sbin. FILE:DEST splits at the
# last colon; FILE is copied with symlinks followed.
lab_busybox_initramfs() {
	local gzip=0 out init stage rc=0 opt
	_lab_mods=()
	OPTIND=1
	while getopts 'm:z' opt; do
		case "$opt" in
		m) _lab_mods+=("$OPTARG") ;;
		z) gzip=1 ;;
		*) lab_die "lab_busybox_initramfs: bad option"; return 1 ;;
		esac
	done
	shift $((OPTIND - 1))
	[ $# -ge 2 ] || { lab_die "usage: lab_busybox_initramfs [-m MOD]... [-z] OUT INIT [FILE:DEST]..."; return 1; }
	out="$1" init="$2"
	shift 2
	_lab_bb="$(command -v busybox)" || { lab_die "busybox not found (install busybox-static)"; return 1; }
	if ldd "$_lab_bb" >/dev/null 2>&1; then
		lab_die "$_lab_bb is dynamically linked (install busybox-static)"
		return 1
	fi
	stage="$(mktemp -d "${TMPDIR:-/tmp}/nacelle-initramfs.XXXXXX")" || return 1
	_lab_stage_initramfs "$stage" "$init" "$@" || rc=1
	if [ "$rc" = 0 ]; then
		(
			cd "$stage" || exit 1
			find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet |
				if [ "$gzip" = 1 ]; then gzip -6; else cat; fi
		) >"$out.tmp.$$" || rc=1
	fi
	rm -rf "$stage"
	if [ "$rc" = 0 ]; then
		mv -f "$out.tmp.$$" "$out"
	else
		rm -f "$out.tmp.$$"
		lab_die "building $out failed"
	fi
	return "$rc"
}

# lab_host_tsc_khz — the host's TSC frequency in kHz, when /proc/cpuinfo's "cpu MHz" is known to be
# it: an invariant TSC and neither APERF/MPERF nor a cpufreq driver (then the kernel shows
# cpu_khz, its calibrated TSC rate: typical of VMs such as CI's). Prints nothing otherwise.
# Under TCG the guest's TSC runs at the host's rate; the lab's microvm has no HPET or PM timer to
# calibrate against, and calibrating against the PIT fails now and then under TCG (the kernel then
# hangs), so the lab hands the rate in with tsc_early_khz=.
lab_host_tsc_khz() {
	[ -n "${NACELLE_LAB_TSC_KHZ:-}" ] && { printf '%s\n' "$NACELLE_LAB_TSC_KHZ"; return 0; }
	[ -e /sys/devices/system/cpu/cpufreq/policy0 ] && return 0
	awk -F': *' '
		$1 ~ /^flags/ && !f { f = " " $2 " " }
		$1 ~ /^cpu MHz/ && !m { m = $2 }
		END {
			if (f ~ / constant_tsc / && f ~ / nonstop_tsc / && f !~ / aperfmperf / && m > 0)
				printf "%d\n", m * 1000 + 0.5
		}' /proc/cpuinfo
}
