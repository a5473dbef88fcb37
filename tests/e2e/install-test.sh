#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/e2e/install-test.sh BUILD_DIR — deploy/install.sh into a staging directory (DESTDIR):
# the files it installs, the containerd config merge (a missing file, a sample config with
# other tables and no final newline, an empty file, a version 1 and a version 3 file, a file
# that already has the runtime), `containerd config dump` accepting the results when
# containerd is installed, and idempotency (a second run changes no byte and no mtime).
# The guest image is built when tests/lab/lib.sh can get the kernel (else --no-image, said).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
build="${1:?usage: install-test.sh BUILD_DIR}"
build="$(cd "$build" && pwd)"
install="$src/deploy/install.sh"

work="$(mktemp -d "${TMPDIR:-/tmp}/nacelle-install-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); echo "ok - $*"; }
bad() { fails=$((fails + 1)); echo "FAIL - $*"; }
check() { # DESCRIPTION COMMAND...
	local d="$1"
	shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}
# A listing of a tree that changes when any byte, mode or mtime does.
snapshot() {
	(cd "$1" && find . -printf '%p %y %m %s %T@ %l\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}
run_install() { # LOG ARGS... (environment: DESTDIR, PREFIX)
	local log="$1"
	shift
	BUILD_DIR="$build" "$install" --no-build "$@" >"$log" 2>&1
}
ctd_dump_ok() { # FILE: containerd accepts it (or containerd is not installed)
	command -v containerd >/dev/null 2>&1 || return 0
	containerd --config "$1" config dump >"$work/dump.out" 2>"$work/dump.err"
}
count_tables() {
	grep -c '^\[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nacelle\]' "$1" || true
}

image_args=()
# shellcheck disable=SC1091
if ! (. "$src/tests/lab/lib.sh" && lab_kernel) >/dev/null 2>&1; then
	echo "# the kernel cannot be fetched here: --no-image (the guest image is not checked)"
	image_args=(--no-image)
fi

# ---- 1. a staged install with the default containerd config path (missing) ----
dest="$work/dest"
export DESTDIR="$dest" PREFIX=/usr/local
if run_install "$work/run1.log" "${image_args[@]}"; then ok "first install"; else
	bad "first install"; cat "$work/run1.log"; exit 1; fi
for b in containerd-shim-nacelle-v2 nacelle-vmm nacelle-remote nacelle-agentctl; do
	check "bin/$b installed, executable, same bytes as the build" \
		test -x "$dest/usr/local/bin/$b" -a -f "$dest/usr/local/bin/$b"
	f="$(find "$build" -name "$b" -type f -perm -u+x | head -n1)"
	check "bin/$b matches $f" cmp -s "$f" "$dest/usr/local/bin/$b"
done
share="$dest/usr/local/share/nacelle"
check "runtimeclass.yaml installed" cmp -s "$src/deploy/runtimeclass.yaml" "$share/runtimeclass.yaml"
if [ "${#image_args[@]}" = 0 ]; then
	for f in bzImage initramfs.cpio.lz4 initramfs.manifest image.env; do
		check "share/nacelle/$f installed" test -s "$share/$f"
	done
	check "the initramfs has the agent as /init" grep -q '^init l -> usr/bin/nacelle-agent$' "$share/initramfs.manifest"
	check "the installed agent is the build's" grep -q "^usr/bin/nacelle-agent f 755 .* $(sha256sum <"$build/rootfs/agent/nacelle-agent" | cut -d' ' -f1)\$" "$share/initramfs.manifest"
fi
cfg="$dest/etc/nacelle/config.json"
check "etc/nacelle/config.json written" test -s "$cfg"
check "config.json names the installed kernel" grep -q '"kernel": "/usr/local/share/nacelle/bzImage"' "$cfg"
check "config.json names the installed initramfs" grep -q '"initramfs": "/usr/local/share/nacelle/initramfs.cpio.lz4"' "$cfg"
check "config.json names the installed nacelle-vmm" grep -q '"vmm_path": "/usr/local/bin/nacelle-vmm"' "$cfg"
if command -v python3 >/dev/null 2>&1; then
	check "config.json is valid JSON" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$cfg"
fi
toml="$dest/etc/containerd/config.toml"
check "containerd config.toml created" test -s "$toml"
check "it is version 2" grep -qx 'version = 2' "$toml"
check "it has the nacelle runtime table once" test "$(count_tables "$toml")" = 1
check "with runtime_type io.containerd.nacelle.v2" grep -qx '  runtime_type = "io.containerd.nacelle.v2"' "$toml"
check "containerd accepts it" ctd_dump_ok "$toml"

# ---- 2. idempotency: a second run changes nothing, a hand-edited config.json stays ----
snapshot "$dest" >"$work/snap1"
if run_install "$work/run2.log" "${image_args[@]}"; then ok "second install"; else
	bad "second install"; cat "$work/run2.log"; fi
snapshot "$dest" >"$work/snap2"
check "second run: no byte, mode or mtime changed" cmp -s "$work/snap1" "$work/snap2" ||
	diff "$work/snap1" "$work/snap2" | head -n 20
check "second run says nothing to change" grep -q 'nothing to change' "$work/run2.log"
echo '{ "memory_mib": 1024 }' >"$cfg"
run_install "$work/run3.log" --no-image || true
check "an existing config.json is left alone" test "$(cat "$cfg")" = '{ "memory_mib": 1024 }'

# ---- 3. merging into a sample config with other tables (no newline at the end) ----
sample="$work/sample.toml"
{
	cat <<'EOF'
# a node's containerd config
version = 2
root = "/var/lib/containerd"
oom_score = -999

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "registry.k8s.io/pause:3.6"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "/etc/cni/net.d"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = true
  [plugins."io.containerd.internal.v1.opt"]
    path = "/var/lib/containerd/opt"
EOF
	printf '[metrics]\n  address = "127.0.0.1:1338"'
} >"$sample"
cp "$sample" "$work/sample.orig"
chmod 600 "$sample"
if run_install "$work/run4.log" --no-image --containerd-config "$sample"; then ok "merge into a sample config"; else
	bad "merge into a sample config"; cat "$work/run4.log"; fi
check "the sample's bytes are kept, in front" cmp -s "$work/sample.orig" <(head -c "$(stat -c %s "$work/sample.orig")" "$sample")
check "the nacelle table was appended once" test "$(count_tables "$sample")" = 1
check "the file's mode is kept (600)" test "$(stat -c %a "$sample")" = 600
check "no second version key" test "$(grep -c '^version' "$sample")" = 1
check "the last line of the sample got its newline" grep -qx '  address = "127.0.0.1:1338"' "$sample"
if command -v containerd >/dev/null 2>&1; then
	check "containerd accepts the merged sample" ctd_dump_ok "$sample"
	check "containerd sees the nacelle runtime" awk '
		/runtimes.nacelle\]/ { t = 1; next } /^ *\[/ { t = 0 }
		t && /runtime_type = "io.containerd.nacelle.v2"/ { f = 1 } END { exit !f }' "$work/dump.out"
	check "containerd still sees runc with SystemdCgroup = true" awk '
		/runtimes.runc.options\]/ { t = 1; next } /^ *\[/ { t = 0 }
		t && /SystemdCgroup = true/ { f = 1 } END { exit !f }' "$work/dump.out"
	check "containerd still sees the sample's settings" grep -q 'sandbox_image = "registry.k8s.io/pause:3.6"' "$work/dump.out"
	check "containerd still sees the sample's metrics address" grep -q 'address = "127.0.0.1:1338"' "$work/dump.out"
else
	echo "# containerd is not installed: the merged files are not checked by containerd itself"
fi
cp "$sample" "$work/sample.merged"
touch -d @1000000000 "$sample"
run_install "$work/run5.log" --no-image --containerd-config "$sample" || true
check "merging again changes nothing (bytes)" cmp -s "$work/sample.merged" "$sample"
check "merging again changes nothing (mtime)" test "$(stat -c %Y "$sample")" = 1000000000

# ---- 4. other starting points ----
: >"$work/empty.toml"
run_install "$work/run6.log" --no-image --containerd-config "$work/empty.toml" || true
check "an empty file becomes version 2 with the table" \
	test "$(grep -cx 'version = 2' "$work/empty.toml")-$(count_tables "$work/empty.toml")" = 1-1
check "containerd accepts it" ctd_dump_ok "$work/empty.toml"

printf '# only a comment\n\n' >"$work/comments.toml"
run_install "$work/run7.log" --no-image --containerd-config "$work/comments.toml" || true
check "a comment-only file keeps its comment and gets version 2 and the table" \
	test "$(head -n1 "$work/comments.toml")-$(grep -cx 'version = 2' "$work/comments.toml")-$(count_tables "$work/comments.toml")" = "# only a comment-1-1"
check "containerd accepts it" ctd_dump_ok "$work/comments.toml"

printf '[plugins.cri]\n  sandbox_image = "k8s.gcr.io/pause:3.2"\n' >"$work/v1.toml"
cp "$work/v1.toml" "$work/v1.orig"
if DESTDIR="$work/dest-v1" run_install "$work/run8.log" --no-image --containerd-config "$work/v1.toml"; then
	bad "a version 1 config is refused"; else ok "a version 1 config is refused"; fi
check "the refusal comes before anything is installed" test ! -e "$work/dest-v1"
check "the version 1 config is unchanged" cmp -s "$work/v1.orig" "$work/v1.toml"
check "the refusal says version 1" grep -q 'version 1' "$work/run8.log"

printf 'version = 3\n' >"$work/v3.toml"
if run_install "$work/run9.log" --no-image --containerd-config "$work/v3.toml"; then
	bad "a version 3 config is refused"; else ok "a version 3 config is refused"; fi
check "the version 3 config is unchanged" test "$(cat "$work/v3.toml")" = "version = 3"

cat >"$work/has.toml" <<'EOF'
version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes."nacelle"]
  runtime_type = "io.containerd.nacelle.v2"
EOF
cp "$work/has.toml" "$work/has.orig"
run_install "$work/run10.log" --no-image --containerd-config "$work/has.toml" || true
check "a file that already has the runtime (quoted key) is unchanged" cmp -s "$work/has.orig" "$work/has.toml"

cat >"$work/dotted.toml" <<'EOF'
version = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  runtimes.nacelle.runtime_type = "io.containerd.nacelle.v2"
EOF
cp "$work/dotted.toml" "$work/dotted.orig"
run_install "$work/run11.log" --no-image --containerd-config "$work/dotted.toml" || true
check "a file with the runtime as dotted keys is unchanged" cmp -s "$work/dotted.orig" "$work/dotted.toml"

# ---- 5. another prefix: runtime_path names the shim ----
DESTDIR="$work/dest2" PREFIX=/opt/nacelle run_install "$work/run12.log" --no-image || {
	bad "install with PREFIX=/opt/nacelle"; cat "$work/run12.log"; }
check "PREFIX=/opt/nacelle: binaries under opt/nacelle/bin" test -x "$work/dest2/opt/nacelle/bin/containerd-shim-nacelle-v2"
check "PREFIX=/opt/nacelle: runtime_path in config.toml" \
	grep -qx '  runtime_path = "/opt/nacelle/bin/containerd-shim-nacelle-v2"' "$work/dest2/etc/containerd/config.toml"
check "PREFIX=/opt/nacelle: config.json names the kernel there" \
	grep -q '"kernel": "/opt/nacelle/share/nacelle/bzImage"' "$work/dest2/etc/nacelle/config.json"
check "containerd accepts it" ctd_dump_ok "$work/dest2/etc/containerd/config.toml"

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
