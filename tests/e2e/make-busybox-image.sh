#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/e2e/make-busybox-image.sh [--name REF] OUT.tar
#
# Writes an OCI image archive (OCI image layout in a tar: oci-layout, index.json,
# blobs/sha256/...) holding one layer: a root filesystem made of the host's static busybox
# (busybox-static) as /bin/busybox, a symlink for each of its applets where `busybox
# --list-full` puts them, /etc/passwd and /etc/group, and the usual empty directories. The
# image config has PATH, Cmd ["sh"], amd64/linux and the layer's diff_id. Nothing is pulled
# from a registry.
#
# The index names the image (default docker.io/library/busybox:nacelle) twice:
# io.containerd.image.name (what `ctr image import` uses, whatever --base-name it gets) and
# org.opencontainers.image.ref.name (the OCI one), so `ctr image import OUT.tar` creates it
# under that name.
#
# Reproducible: the same busybox and SOURCE_DATE_EPOCH (default 0) give the same bytes (one
# sorted file list, fixed mtimes, owner 0:0, fixed modes, GNU tar format with no atime/ctime,
# gzip -n).
set -euo pipefail
umask 022
export LC_ALL=C

name=docker.io/library/busybox:nacelle
usage() {
	echo "usage: $0 [--name REF] OUT.tar" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case "$1" in
	--name) [ $# -ge 2 ] || usage; name="$2"; shift 2 ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || usage
out="$1"
: "${SOURCE_DATE_EPOCH:=0}"
case "$SOURCE_DATE_EPOCH" in '' | *[!0-9]*) echo "make-busybox-image: SOURCE_DATE_EPOCH must be seconds" >&2; exit 2 ;; esac

die() { echo "make-busybox-image: error: $*" >&2; exit 1; }
bb="$(command -v busybox)" || die "no busybox (install busybox-static)"
if ldd "$bb" >/dev/null 2>&1; then die "$bb is dynamically linked (install busybox-static)"; fi

work="$(mktemp -d "${TMPDIR:-/tmp}/nacelle-bbimage.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,tmp,root,var,run,home}
cp "$bb" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
# busybox --list-full: "bin/sh", "usr/bin/env", "sbin/ip", ... (paths without the leading /)
"$bb" --list-full | sort -u | while read -r p; do
	case "$p" in '' | bin/busybox | /* | *..*) continue ;; esac
	dir="$(dirname "$p")"
	mkdir -p "$root/$dir"
	# A relative link to /bin/busybox from the applet's directory.
	rel="$(realpath -m --relative-to="/$dir" /bin/busybox)"
	[ -e "$root/$p" ] || [ -L "$root/$p" ] || ln -s "$rel" "$root/$p"
done
[ -L "$root/bin/sh" ] || die "busybox has no sh applet"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
	>"$root/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' >"$root/etc/group"
chmod 0644 "$root/etc/passwd" "$root/etc/group"
find "$root" -type d -exec chmod 0755 {} +
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

# ---- the layer ----
layer_tar="$work/layer.tar"
(cd "$root" && find . -mindepth 1 | sed 's|^\./||' | sort) >"$work/files"
tar --format=gnu --no-recursion --numeric-owner --owner=0 --group=0 \
	--mtime="@$SOURCE_DATE_EPOCH" -C "$root" -cf "$layer_tar" -T "$work/files"
diff_id="$(sha256sum <"$layer_tar" | cut -d' ' -f1)"
gzip -n -9 -c "$layer_tar" >"$work/layer.tar.gz"

blobs="$work/layout/blobs/sha256"
mkdir -p "$blobs"
# put FILE -> prints "DIGEST SIZE" and stores FILE as a blob
put() {
	local d s
	d="$(sha256sum <"$1" | cut -d' ' -f1)"
	s="$(stat -c %s "$1")"
	cp "$1" "$blobs/$d"
	echo "$d $s"
}
read -r layer_digest layer_size < <(put "$work/layer.tar.gz")

created="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
# JSON strings below hold only fixed text, digests and the image name (checked here).
case "$name" in *[\"\\]* | *[[:cntrl:]]*) die "--name: no quotes, backslashes or control characters" ;; esac
printf '%s' '{"architecture":"amd64","os":"linux",'\
'"config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"],"WorkingDir":"/"},'\
'"rootfs":{"type":"layers","diff_ids":["sha256:'"$diff_id"'"]},'\
'"created":"'"$created"'",'\
'"history":[{"created":"'"$created"'","created_by":"tests/e2e/make-busybox-image.sh (busybox-static)"}]}' \
	>"$work/config.json"
read -r config_digest config_size < <(put "$work/config.json")

printf '%s' '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'\
'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'"$config_digest"'","size":'"$config_size"'},'\
'"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:'"$layer_digest"'","size":'"$layer_size"'}]}' \
	>"$work/manifest.json"
read -r manifest_digest manifest_size < <(put "$work/manifest.json")

printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$work/layout/oci-layout"
printf '%s' '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":['\
'{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:'"$manifest_digest"'","size":'"$manifest_size"','\
'"platform":{"architecture":"amd64","os":"linux"},'\
'"annotations":{"io.containerd.image.name":"'"$name"'","org.opencontainers.image.ref.name":"'"$name"'"}}]}' \
	>"$work/layout/index.json"

# ---- the archive ----
find "$work/layout" -type d -exec chmod 0755 {} +
find "$work/layout" -type f -exec chmod 0644 {} +
find "$work/layout" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$work/layout" && find . -mindepth 1 | sed 's|^\./||' | sort) >"$work/layout-files"
tar --format=gnu --no-recursion --numeric-owner --owner=0 --group=0 \
	--mtime="@$SOURCE_DATE_EPOCH" -C "$work/layout" -cf "$work/out.tar" -T "$work/layout-files"
mv -f "$work/out.tar" "$out"
echo "image: $out ($name, manifest sha256:$manifest_digest, layer $layer_size bytes)"
