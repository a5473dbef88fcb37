#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# rootfs/build-image.sh — the guest image of a nacelle pod VM, reproducibly: Debian's cloud kernel
# (the one the tests use, from tests/lab/lib.sh's cache) and an initramfs holding nacelle-agent as
# /init, the kernel modules it loads at boot with their dependencies, and the shared libraries the
# agent needs. The same inputs give byte-identical outputs (rootfs/image/check-reproducible.sh).
# See rootfs/README.md for what is in the image and why.
#
#   rootfs/build-image.sh [--debug] [--compress lz4|gzip|none] [--kernel-format bzimage|vmlinux]
#                         [--modules "MOD ..."] --agent PATH/nacelle-agent --out DIR
#
# Writes DIR/bzImage (or DIR/vmlinux), DIR/initramfs.cpio.lz4 (or .gz, or .cpio),
# DIR/initramfs.manifest (every entry: path, mode, size, sha256) and DIR/image.env (what was
# built, as KEY=VALUE lines for scripts), then prints the sizes.
#
# Reproducibility: one sorted file list, every mtime SOURCE_DATE_EPOCH (default 0), owner 0:0,
# modes set explicitly, cpio --reproducible (no inode or device numbers), gzip -n (no name, no
# time), lz4 legacy frames (the only LZ4 format the kernel unpacks), LC_ALL=C, umask 022.
#
# Needs: bash, coreutils, cpio, gzip or lz4, ldd, and what lab_kernel needs (apt-get, dpkg-deb,
# lz4, flock, depmod) the first time; --debug needs busybox-static.
set -euo pipefail
umask 022
export LC_ALL=C

ROOTFS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../tests/lab/lib.sh disable=SC1091
. "$ROOTFS_DIR/../tests/lab/lib.sh"

# The modules the agent loads at boot (their dependencies come from modules.dep). ext4 is built
# into Debian's cloud kernel (CONFIG_EXT4_FS=y), so is cgroup2; see rootfs/README.md.
DEFAULT_MODULES="virtio_pci virtio_blk virtio_net virtio_console virtio_rng \
vmw_vsock_virtio_transport virtiofs overlay veth bridge"
# Busybox applets linked in --debug images.
DEBUG_APPLETS="sh ls cat echo ps top free df mount umount dmesg ip ping nc grep find head tail \
mkdir rm cp mv ln uname lsmod hexdump stat vi less"

die() { printf 'build-image: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'build-image: %s\n' "$*" >&2; }

usage() {
	sed -n '/^#   rootfs\/build-image.sh/,/^$/p' "$0" | sed 's/^# \{0,3\}//' >&2
	exit 2
}

debug=0 agent="" out="" compress="" kformat=bzimage modules="$DEFAULT_MODULES"
while [ $# -gt 0 ]; do
	case "$1" in
	--debug) debug=1 ;;
	--agent) agent="${2:?--agent needs a path}"; shift ;;
	--out) out="${2:?--out needs a directory}"; shift ;;
	--compress) compress="${2:?--compress needs lz4, gzip or none}"; shift ;;
	--kernel-format) kformat="${2:?--kernel-format needs bzimage or vmlinux}"; shift ;;
	--modules) modules="${2?--modules needs a list}"; shift ;;
	-h | --help) usage ;;
	*) printf 'build-image: unknown argument %s\n' "$1" >&2; usage ;;
	esac
	shift
done
if [ -z "$agent" ] || [ -z "$out" ]; then usage; fi
if [ ! -f "$agent" ] || [ ! -x "$agent" ]; then die "$agent: not an executable file"; fi
read -ra modlist <<<"$modules"
case "$kformat" in bzimage | vmlinux) ;; *) die "--kernel-format: bzimage or vmlinux" ;; esac
: "${SOURCE_DATE_EPOCH:=0}"
case "$SOURCE_DATE_EPOCH" in '' | *[!0-9]*) die "SOURCE_DATE_EPOCH must be seconds" ;; esac

# ---- the kernel: tests/lab's cache (fetched with apt-get download the first time) ----
lab_kernel || die "cannot get the kernel (tests/lab/lib.sh lab_kernel)"
kdir="$(dirname "$NACELLE_MODULES")"
kconfig="$kdir/config"
kconf() { [ -r "$kconfig" ] && grep -qx "$1=y" "$kconfig"; }

# The initramfs compression: LZ4 unpacks several times faster than gzip (it matters under TCG and
# on small VMs); only if the kernel was built with it.
if [ -z "$compress" ]; then
	if kconf CONFIG_RD_LZ4; then compress=lz4; else compress=gzip; fi
fi
case "$compress" in
lz4) kconf CONFIG_RD_LZ4 || die "the kernel has no CONFIG_RD_LZ4" ; suffix=.cpio.lz4 ;;
gzip) kconf CONFIG_RD_GZIP || die "the kernel has no CONFIG_RD_GZIP"; suffix=.cpio.gz ;;
none) suffix=.cpio ;;
*) die "--compress: lz4, gzip or none" ;;
esac

stage="$(mktemp -d "${TMPDIR:-/tmp}/nacelle-image.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
root="$stage/root"

# ---- skeleton: merged /usr, like Debian 12 and later, whatever the host's layout ----
mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,etc,dev,proc,sys,run,tmp,root,mnt}
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"

# stage_host_file PATH — PATH from the host at the same place in the image: the file at its
# directory's real path, and each symlink on the way (libfoo.so.1 -> libfoo.so.1.2) as a symlink.
stage_host_file() {
	local p="$1" rdir base dst hops=0 t
	while [ "$hops" -lt 16 ]; do
		rdir="$(realpath -e "$(dirname "$p")")" || die "$p: no such directory"
		base="$(basename "$p")"
		dst="$root$rdir/$base"
		# Already staged (with the rest of its chain): never write through an existing entry.
		[ -e "$dst" ] || [ -L "$dst" ] && return 0
		mkdir -p "$root$rdir"
		if [ -L "$p" ]; then
			t="$(readlink "$p")"
			ln -s "$t" "$dst"
			case "$t" in /*) p="$t" ;; *) p="$rdir/$t" ;; esac
		else
			[ -f "$p" ] || die "$p: not a regular file"
			cp "$p" "$dst"
			if [ -x "$p" ]; then chmod 0755 "$dst"; else chmod 0644 "$dst"; fi
			return 0
		fi
		hops=$((hops + 1))
	done
	die "$1: too many symlinks"
}

# ---- the agent, as /init ----
cp "$agent" "$root/usr/bin/nacelle-agent"
chmod 0755 "$root/usr/bin/nacelle-agent"
ln -s usr/bin/nacelle-agent "$root/init"

# ---- its shared libraries: ldd's closure, with the dynamic loader ----
# ldd prints "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" for libraries,
# "/lib64/ld-linux-x86-64.so.2 (0x...)" for the loader and "linux-vdso.so.1 (0x...)" for the vDSO.
libs=()
if ldd_out="$(ldd "$agent" 2>&1)"; then
	if grep -q 'not found' <<<"$ldd_out"; then
		die "$agent: missing libraries: $(grep 'not found' <<<"$ldd_out" | tr -s ' \t' ' ')"
	fi
	mapfile -t libs < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' \
		<<<"$ldd_out" | sort -u)
elif grep -q 'not a dynamic executable' <<<"$ldd_out"; then
	log "$agent is statically linked: no libraries"
else
	die "ldd $agent: $ldd_out"
fi
for lib in "${libs[@]}"; do
	stage_host_file "$lib"
done

# ---- kernel modules: the closure of $modules over modules.dep, stored uncompressed ----
kos=()
if [ "${#modlist[@]}" -gt 0 ]; then
	closure="$(lab_modules_closure "${modlist[@]}")" || die "resolving modules: ${modlist[*]}"
	mapfile -t kos <<<"$closure"
fi
mdir="$root/usr/lib/modules/$NACELLE_KERNEL_VERSION"
mkdir -p "$mdir"
: >"$stage/names"
for ko in "${kos[@]}"; do
	[ -n "$ko" ] || continue
	rel="${ko#"$NACELLE_MODULES"/}"
	# A kernel that stores modules compressed may lack CONFIG_MODULE_DECOMPRESS: unpack here.
	case "$rel" in
	*.ko.xz) dst="${rel%.xz}"; dec="xz -dc" ;;
	*.ko.zst) dst="${rel%.zst}"; dec="zstd -qdc" ;;
	*.ko.gz) dst="${rel%.gz}"; dec="gzip -dc" ;;
	*.ko) dst="$rel"; dec="" ;;
	*) die "$ko: not a kernel module" ;;
	esac
	mkdir -p "$mdir/$(dirname "$dst")"
	if [ -n "$dec" ]; then $dec "$ko" >"$mdir/$dst"; else cp "$ko" "$mdir/$dst"; fi
	chmod 0644 "$mdir/$dst"
	printf '%s %s\n' "$rel" "$dst" >>"$stage/names"
done
# modules.dep and modules.alias keep the lines of the modules in the image (with the paths
# of the uncompressed files), so every path the agent reads exists; modules.builtin whole:
# the agent takes a built-in module as loaded.
awk -v names="$stage/names" '
	BEGIN { while ((getline l < names) > 0) { split(l, f, " "); map[f[1]] = f[2] } }
	{ p = $1; sub(/:$/, "", p); if (!(p in map)) next
	  line = map[p] ":"; for (i = 2; i <= NF; i++) line = line " " (($i in map) ? map[$i] : $i)
	  print line }' "$NACELLE_MODULES/modules.dep" >"$mdir/modules.dep"
awk -v names="$stage/names" '
	function norm(p) {
		sub(/.*\//, "", p); sub(/\.ko(\.[a-z]+)?$/, "", p); gsub(/-/, "_", p); return p
	}
	BEGIN { while ((getline l < names) > 0) { split(l, f, " "); keep[norm(f[2])] = 1 } }
	$1 == "alias" && ($NF in keep)' "$NACELLE_MODULES/modules.alias" >"$mdir/modules.alias"
cp "$NACELLE_MODULES/modules.builtin" "$mdir/modules.builtin"
chmod 0644 "$mdir"/modules.*
# Every dependency of a module in the image is in the image.
awk '{ for (i = 2; i <= NF; i++) print $i }' "$mdir/modules.dep" | sort -u |
	while read -r d; do [ -f "$mdir/$d" ] || die "modules.dep: $d missing from the image"; done

# ---- /etc ----
{
	echo "# Kernel modules nacelle-agent loads at boot, in this order; their dependencies"
	echo "# come from /lib/modules/$NACELLE_KERNEL_VERSION/modules.dep."
	echo "# Written by rootfs/build-image.sh."
	for m in "${modlist[@]}"; do echo "$m"; done
} >"$root/etc/nacelle-modules"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
# gid 5 "tty" owns the ptys (the agent mounts devpts with gid=5)
printf 'root:x:0:\ntty:x:5:\n' >"$root/etc/group"
{
	echo "NACELLE_IMAGE_KERNEL=$NACELLE_KERNEL_VERSION"
	echo "NACELLE_IMAGE_DEBUG=$debug"
	echo "NACELLE_IMAGE_SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
} >"$root/etc/nacelle-release"
chmod 0644 "$root"/etc/*

# ---- --debug: busybox and a few applets ----
if [ "$debug" = 1 ]; then
	bb="$(command -v busybox)" || die "--debug needs busybox (install busybox-static)"
	ldd "$bb" >/dev/null 2>&1 && die "$bb is dynamically linked (install busybox-static)"
	cp "$bb" "$root/usr/bin/busybox"
	chmod 0755 "$root/usr/bin/busybox"
	applets="$("$bb" --list)"
	for a in $DEBUG_APPLETS; do
		if grep -qx "$a" <<<"$applets"; then ln -s busybox "$root/usr/bin/$a"; fi
	done
fi

# ---- modes, times, archive ----
chmod 0755 "$root" "$root"/usr "$root"/usr/*
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
find "$root" -type d ! -path "$root/tmp" ! -path "$root/root" -exec chmod 0755 {} +
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$out"
tmp_out="$out/.initramfs.tmp.$$"
(
	cd "$root"
	find . -mindepth 1 | sed 's|^\./||' | sort |
		cpio -o -H newc -R 0:0 --reproducible --quiet |
		case "$compress" in
		lz4) lz4 -l -9 -q -c ;;
		gzip) gzip -n -9 -c ;;
		none) cat ;;
		esac
) >"$tmp_out" || { rm -f "$tmp_out"; die "writing the archive failed"; }
rm -f "$out/initramfs.cpio" "$out/initramfs.cpio.gz" "$out/initramfs.cpio.lz4"
mv -f "$tmp_out" "$out/initramfs$suffix"

(
	cd "$root"
	find . -mindepth 1 | sed 's|^\./||' | sort | while read -r f; do
		if [ -L "$f" ]; then
			printf '%s l -> %s\n' "$f" "$(readlink "$f")"
		elif [ -d "$f" ]; then
			printf '%s d %s\n' "$f" "$(stat -c %a "$f")"
		else
			printf '%s f %s %s %s\n' "$f" "$(stat -c %a "$f")" "$(stat -c %s "$f")" \
				"$(sha256sum <"$f" | cut -d' ' -f1)"
		fi
	done
) >"$out/initramfs.manifest"

rm -f "$out/bzImage" "$out/vmlinux"
if [ "$kformat" = vmlinux ]; then kernel_out="$out/vmlinux"; src="$NACELLE_VMLINUX"; else
	kernel_out="$out/bzImage"; src="$NACELLE_KERNEL"; fi
cp --reflink=auto "$src" "$kernel_out"
chmod 0644 "$kernel_out" "$out/initramfs$suffix" "$out/initramfs.manifest"

nmods="$(find "$mdir" -name '*.ko' | wc -l)"
nlibs="${#libs[@]}"
{
	echo "NACELLE_IMAGE_KERNEL_VERSION=$NACELLE_KERNEL_VERSION"
	echo "NACELLE_IMAGE_KERNEL=$(basename "$kernel_out")"
	echo "NACELLE_IMAGE_INITRAMFS=initramfs$suffix"
	echo "NACELLE_IMAGE_COMPRESSION=$compress"
	echo "NACELLE_IMAGE_DEBUG=$debug"
	echo "NACELLE_IMAGE_MODULES=\"${modlist[*]}\""
	echo "NACELLE_IMAGE_SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
} >"$out/image.env"
touch -h -d "@$SOURCE_DATE_EPOCH" "$kernel_out" "$out/initramfs$suffix" "$out/initramfs.manifest" \
	"$out/image.env"

printf 'image: %s (kernel %s)\n' "$out" "$NACELLE_KERNEL_VERSION"
printf '  %-22s %10d bytes\n' "$(basename "$kernel_out")" "$(stat -c %s "$kernel_out")"
printf '  %-22s %10d bytes (%s; %d bytes unpacked)\n' "initramfs$suffix" \
	"$(stat -c %s "$out/initramfs$suffix")" "$compress" "$(du -sb --apparent-size "$root" | cut -f1)"
printf '  %-22s %10d (+ modules.dep, modules.alias, modules.builtin)\n' "kernel modules" "$nmods"
printf '  %-22s %10d (ldd closure, loader included)\n' "shared libraries" "$nlibs"
printf '  %-22s %10s\n' "busybox (--debug)" "$([ "$debug" = 1 ] && echo yes || echo no)"
