#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run one libFuzzer target for NACELLE_FUZZ_SECONDS (default 60) starting
# from its checked-in corpus; new inputs go to a temporary directory so the
# repository is not modified. A crash, leak or timeout fails the test and
# leaves the reproducer in the build directory.
#   usage: run-fuzzer.sh FUZZER CORPUS_DIR
set -euo pipefail
fuzzer=$1
corpus=$2
secs=${NACELLE_FUZZ_SECONDS:-60}
work=$(mktemp -d "${TMPDIR:-/tmp}/nacelle-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$corpus"
artifacts="$(dirname "$fuzzer")/artifacts-$(basename "$fuzzer")/"
mkdir -p "$artifacts"
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$artifacts" "$work" "$corpus" 2>&1 | tail -n 25
