#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# deploy/install.sh — install nacelle on a containerd node (see deploy/README.md).
#
#   [BUILD_DIR=build] [PREFIX=/usr/local] [DESTDIR=] deploy/install.sh
#       [--containerd-config PATH | --no-containerd-config] [--no-image] [--no-build]
#
#   1. builds BUILD_DIR (cmake, -DCMAKE_INSTALL_PREFIX=$PREFIX) when it lacks a binary
#      (--no-build: fail instead);
#   2. installs containerd-shim-nacelle-v2, nacelle-vmm, nacelle-remote and nacelle-agentctl
#      into $DESTDIR$PREFIX/bin;
#   3. builds the guest image (rootfs/build-image.sh: Debian's cloud kernel + an initramfs with
#      $BUILD_DIR/rootfs/agent/nacelle-agent as /init) into $DESTDIR$PREFIX/share/nacelle/
#      (bzImage, initramfs.cpio.lz4, initramfs.manifest, image.env: the shim's default paths),
#      unless --no-image; runtimeclass.yaml goes there too;
#   4. writes $DESTDIR/etc/nacelle/config.json (the shim's configuration) only if it is absent;
#   5. adds the runtime to containerd's config (default $DESTDIR/etc/containerd/config.toml; a
#      PATH given is used as it is): appends
#        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nacelle]
#          runtime_type = "io.containerd.nacelle.v2"  (+ pod_annotations, privileged_without_host_devices)
#      when the file lacks that table and touches nothing else; creates a minimal version = 2
#      file when it is missing or empty; refuses a version 1 (or 3) file. When containerd is
#      installed, `containerd config dump` must accept the result before it replaces the file.
#
# Idempotent: a second run changes no file (binaries and image are replaced only when their
# bytes differ; the image build is reproducible). containerd is not restarted: do it yourself.
set -euo pipefail
umask 022

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
PREFIX="${PREFIX:-/usr/local}"
DESTDIR="${DESTDIR:-}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$src/$BUILD_DIR" ;; esac

RUNTIME_TABLE='[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nacelle]'
BINARIES=(
	"shim/task/containerd-shim-nacelle-v2"
	"vmm/nacelle-vmm"
	"vmm/remote/nacelle-remote"
	"rootfs/agentctl/nacelle-agentctl"
)
AGENT="rootfs/agent/nacelle-agent"

log() { printf 'install: %s\n' "$*" >&2; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }
usage() {
	sed -n '/^#   \[BUILD_DIR/,/^#$/p' "$0" | sed 's/^# \{0,3\}//' >&2
	exit 2
}

ctd_config="" ctd_config_given=0 do_ctd=1 do_image=1 do_build=1
while [ $# -gt 0 ]; do
	case "$1" in
	--containerd-config) [ $# -ge 2 ] || usage; ctd_config="$2"; ctd_config_given=1; shift ;;
	--containerd-config=*) ctd_config="${1#*=}"; ctd_config_given=1 ;;
	--no-containerd-config) do_ctd=0 ;;
	--no-image) do_image=0 ;;
	--no-build) do_build=0 ;;
	-h | --help) usage ;;
	*) printf 'install: unknown argument %s\n' "$1" >&2; usage ;;
	esac
	shift
done
case "$PREFIX" in /*) ;; *) die "PREFIX must be an absolute path (got '$PREFIX')" ;; esac
[ -n "$ctd_config" ] || ctd_config="$DESTDIR/etc/containerd/config.toml"

# Files written only when their content changes (same bytes: not touched at all).
changed=0
put_file() { # SRC DST MODE
	if [ -f "$2" ] && cmp -s "$1" "$2"; then
		[ "$(stat -c %a "$2")" = "$3" ] || { chmod "$3" "$2"; changed=$((changed + 1)); }
		return 0
	fi
	mkdir -p "$(dirname "$2")"
	install -m "$3" "$1" "$2.nacelle-new"
	mv -f "$2.nacelle-new" "$2"
	changed=$((changed + 1))
	log "installed $2"
}

# ---- containerd's config.toml: the table, the checks, the merge (step 5) ----
# The table install.sh appends. runtime_path only when containerd would not find the shim
# on the PATH its service runs with.
runtime_snippet() {
	echo "# nacelle: pods in microVMs (added by nacelle's deploy/install.sh; see its deploy/README.md)"
	echo "$RUNTIME_TABLE"
	echo "  runtime_type = \"io.containerd.nacelle.v2\""
	case "$PREFIX" in
	/usr/local | /usr | /) ;;
	*) echo "  runtime_path = \"$PREFIX/bin/containerd-shim-nacelle-v2\"" ;;
	esac
	echo "  # io.nacelle.vcpus and io.nacelle.memory_mib pod annotations size the pod's VM"
	echo "  pod_annotations = [\"io.nacelle.*\"]"
	echo "  # a privileged container is privileged inside the VM, without the host's devices"
	echo "  privileged_without_host_devices = true"
}

# What the file says, outside comments and strings we do not need to parse:
#   empty       nothing but blank lines and comments
#   vN          the top-level version key's value (before the first table header)
#   v1          no version key: containerd reads such a file as version 1
# and whether a nacelle runtime is defined already (its table header, a dotted key
# runtimes.nacelle..., or a "nacelle" key in a [...runtimes] table).
toml_facts() { # FILE -> "VERSION HAS_NACELLE"
	awk '
	function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }
	function nospace(s) { gsub(/[ \t]/, "", s); return s }
	{
		line = $0; sub(/^[ \t]+/, "", line)
		if (line == "" || line ~ /^#/) next
		content = 1
		if (line ~ /^\[/) {
			intable = 1
			h = nospace(line); sub(/#.*$/, "", h)
			if (h == "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nacelle]" ||
			    h == "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.\"nacelle\"]" ||
			    index(h, "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nacelle.") == 1)
				has = 1
			inruntimes = (h == "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes]")
			next
		}
		k = nospace(line)
		if (k ~ /runtimes\."?nacelle"?[.=]/) has = 1
		if (inruntimes && k ~ /^"?nacelle"?[.=]/) has = 1
		if (!intable && k ~ /^version=/) { v = k; sub(/^version=/, "", v); sub(/#.*$/, "", v); version = v }
	}
	END {
		if (!content) version = "empty"
		else if (version == "") version = "v1"
		else version = "v" version
		print version, (has ? 1 : 0)
	}' "$1"
}

# Sets ctd_version (missing, empty or v2) and ctd_has (1: the runtime is there), or refuses.
check_containerd_config() { # FILE
	local f="$1" facts
	if [ -e "$f" ] && [ ! -f "$f" ]; then die "$f: not a regular file"; fi
	if [ -f "$f" ]; then facts="$(toml_facts "$f")"; else facts="missing 0"; fi
	ctd_version="${facts% *}" ctd_has="${facts#* }"
	local version="$ctd_version"
	case "$version" in
	missing | empty | v2) ;;
	v1)
		log "$f is a version 1 containerd config (it has no 'version = 2'), and this"
		log "installer writes version 2 tables. Convert the file to version 2 (compare with"
		log "'containerd config default') and run install.sh again, or add the runtime yourself"
		log "in version 1's spelling:"
		printf '    [plugins.cri.containerd.runtimes.nacelle]\n      runtime_type = "io.containerd.nacelle.v2"\n' >&2
		die "refusing to change a version 1 containerd config"
		;;
	*)
		die "$f: containerd config version ${version#v} (this installer writes version 2 tables" \
			"for containerd 1.6/1.7; add the nacelle runtime yourself)"
		;;
	esac
}

merge_containerd_config() { # FILE
	local f="$1" version has dir tmp
	check_containerd_config "$f"
	version="$ctd_version" has="$ctd_has"
	if [ "$has" = 1 ]; then
		log "$f already defines the nacelle runtime: left as it is"
		if ! awk -v t="$RUNTIME_TABLE" '
			{ l = $0; gsub(/[ \t]/, "", l) } l == t { in_t = 1; next } /^[ \t]*\[/ { in_t = 0 }
			in_t && l ~ /^runtime_type="io\.containerd\.nacelle\.v2"/ { ok = 1 }
			END { exit !ok }' "$f"; then
			log "warning: $f: its nacelle runtime does not say runtime_type = \"io.containerd.nacelle.v2\""
		fi
		return 0
	fi
	dir="$(dirname "$f")"
	mkdir -p "$dir"
	tmp="$(mktemp "$dir/.config.toml.nacelle.XXXXXX")"
	if [ -f "$f" ]; then
		cp -p "$f" "$tmp" # keeps the owner and mode
		# Keep every byte; a last line without a newline gets one.
		[ ! -s "$tmp" ] || [ -z "$(tail -c 1 "$tmp")" ] || echo >>"$tmp"
	else
		chmod 644 "$tmp"
	fi
	if [ "$version" != v2 ]; then
		if [ -s "$tmp" ]; then echo >>"$tmp"; fi
		echo "version = 2" >>"$tmp"
	fi
	{
		echo
		runtime_snippet
	} >>"$tmp"
	if command -v containerd >/dev/null 2>&1; then
		if ! out="$(containerd --config "$tmp" config dump 2>&1 >/dev/null)"; then
			rm -f "$tmp"
			die "containerd does not accept $f with the nacelle runtime added: $out"
		fi
	fi
	mv -f "$tmp" "$f"
	changed=$((changed + 1))
	case "$version" in
	missing) log "wrote $f (version 2, the nacelle runtime)" ;;
	empty) log "$f had no settings: added version = 2 and the nacelle runtime" ;;
	v2) log "added the nacelle runtime to $f (nothing else changed)" ;;
	esac
	log "restart containerd to use it (systemctl restart containerd)"
}

# Refuse a containerd config we would not change before anything else is touched.
[ "$do_ctd" = 0 ] || check_containerd_config "$ctd_config"

# ---- 1. build ----
need=()
for b in "${BINARIES[@]}" "$AGENT"; do
	[ -x "$BUILD_DIR/$b" ] || need+=("$(basename "$b")")
done
if [ "${#need[@]}" -gt 0 ]; then
	[ "$do_build" = 1 ] || die "$BUILD_DIR lacks ${need[*]} (and --no-build was given)"
	log "building ${need[*]} in $BUILD_DIR (cmake, CMAKE_INSTALL_PREFIX=$PREFIX)"
	cmake -S "$src" -B "$BUILD_DIR" -DCMAKE_INSTALL_PREFIX="$PREFIX" >/dev/null
	targets=()
	for b in "${BINARIES[@]}" "$AGENT"; do targets+=(--target "$(basename "$b")"); done
	cmake --build "$BUILD_DIR" -j"$(nproc)" "${targets[@]}" >/dev/null
	for b in "${BINARIES[@]}" "$AGENT"; do
		[ -x "$BUILD_DIR/$b" ] || die "the build did not produce $BUILD_DIR/$b"
	done
fi
# The shim compiles its default kernel, initramfs and nacelle-vmm paths from the build's
# install prefix; config.json below names them explicitly, so another prefix still works.
built_prefix="$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)"
if [ -n "$built_prefix" ] && [ "$built_prefix" != "$PREFIX" ]; then
	log "note: $BUILD_DIR was configured with CMAKE_INSTALL_PREFIX=$built_prefix, not $PREFIX:" \
		"the shim's built-in defaults point there; /etc/nacelle/config.json names the real paths"
fi

# ---- 2. binaries ----
bindir="$DESTDIR$PREFIX/bin"
for b in "${BINARIES[@]}"; do
	put_file "$BUILD_DIR/$b" "$bindir/$(basename "$b")" 755
done

# ---- 3. guest image and the RuntimeClass manifest ----
sharedir="$DESTDIR$PREFIX/share/nacelle"
kernel_name=bzImage initramfs_name=initramfs.cpio.lz4
if [ "$do_image" = 1 ]; then
	stage="$(mktemp -d "${TMPDIR:-/tmp}/nacelle-install.XXXXXX")"
	trap 'rm -rf "$stage"' EXIT
	log "building the guest image (rootfs/build-image.sh)"
	"$src/rootfs/build-image.sh" --agent "$BUILD_DIR/$AGENT" --out "$stage/image" >"$stage/build.log" 2>&1 ||
		{ cat "$stage/build.log" >&2; die "rootfs/build-image.sh failed"; }
	# shellcheck disable=SC1091
	. "$stage/image/image.env"
	kernel_name="$NACELLE_IMAGE_KERNEL" initramfs_name="$NACELLE_IMAGE_INITRAMFS"
	for f in "$kernel_name" "$initramfs_name" initramfs.manifest image.env; do
		put_file "$stage/image/$f" "$sharedir/$f" 644
	done
	# Another compression's initramfs from an earlier install would only confuse.
	for f in initramfs.cpio initramfs.cpio.gz initramfs.cpio.lz4; do
		[ "$f" = "$initramfs_name" ] || [ ! -e "$sharedir/$f" ] || { rm -f "$sharedir/$f"; changed=$((changed + 1)); }
	done
	log "guest image: kernel $NACELLE_IMAGE_KERNEL_VERSION, $initramfs_name"
fi
put_file "$src/deploy/runtimeclass.yaml" "$sharedir/runtimeclass.yaml" 644

# ---- 4. /etc/nacelle/config.json, only if absent ----
# Defaults from the shim's own header, so the file shows what the shim would do anyway.
cfg_h="$src/shim/sandbox/config.h"
hdef() { sed -n "s/^#define $1 \\([0-9][0-9]*\\).*/\\1/p" "$cfg_h" 2>/dev/null | head -n1; }
vcpus="$(hdef SANDBOX_DEFAULT_VCPUS)"
memory_mib="$(hdef SANDBOX_DEFAULT_MEMORY_MIB)"
boot_timeout="$(hdef SANDBOX_DEFAULT_BOOT_TIMEOUT)"
config_json="$DESTDIR/etc/nacelle/config.json"
json_str() { # a JSON string for a path (no control characters in paths here)
	local s="${1//\\/\\\\}"
	printf '"%s"' "${s//\"/\\\"}"
}
if [ -e "$config_json" ]; then
	log "$config_json exists: left as it is"
else
	mkdir -p "$(dirname "$config_json")"
	{
		echo "{"
		echo "  \"kernel\": $(json_str "$PREFIX/share/nacelle/$kernel_name"),"
		echo "  \"initramfs\": $(json_str "$PREFIX/share/nacelle/$initramfs_name"),"
		echo "  \"vmm_path\": $(json_str "$PREFIX/bin/nacelle-vmm"),"
		echo "  \"virtiofsd_path\": \"/usr/lib/qemu/virtiofsd\","
		echo "  \"vcpus\": ${vcpus:-1},"
		echo "  \"memory_mib\": ${memory_mib:-512},"
		echo "  \"boot_timeout_seconds\": ${boot_timeout:-30},"
		echo "  \"debug\": false"
		echo "}"
	} >"$config_json.nacelle-new"
	chmod 644 "$config_json.nacelle-new"
	mv -f "$config_json.nacelle-new" "$config_json"
	changed=$((changed + 1))
	log "wrote $config_json"
fi

# ---- 5. containerd's config.toml ----
if [ "$do_ctd" = 1 ]; then
	if [ "$ctd_config_given" = 0 ] && [ -z "$DESTDIR" ] && ! command -v containerd >/dev/null 2>&1; then
		log "note: containerd is not installed (apt-get install containerd); configuring $ctd_config anyway"
	fi
	merge_containerd_config "$ctd_config"
fi

if [ "$changed" = 0 ]; then
	log "nothing to change: nacelle is installed in $DESTDIR$PREFIX"
else
	log "done: $changed file(s) changed under ${DESTDIR:-/}"
fi
