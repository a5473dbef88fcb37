#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's test command: install what is needed, build, run every test:
# unit tests, integration tests on a KVM that can run a stock kernel (the
# host's, or the KVM lab's; the harness prints which), then each libFuzzer
# target for NACELLE_FUZZ_SECONDS (default 60) from a clang build.
set -euo pipefail
cd "$(dirname "$0")/.."
ci/deps.sh test
ci/build.sh
jobs=${NACELLE_TEST_JOBS:-2}
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure -j"$jobs" "$@")

if [ "${NACELLE_SKIP_FUZZ:-}" = 1 ]; then
	echo "fuzz: skipped (NACELLE_SKIP_FUZZ=1)"
	exit 0
fi
fuzz_dir=${FUZZ_BUILD_DIR:-build-fuzz}
CC=clang BUILD_DIR="$fuzz_dir" NACELLE_CMAKE_ARGS="-DNACELLE_FUZZ=ON -DNACELLE_WERROR=OFF" ci/build.sh >/dev/null
(cd "$fuzz_dir" && ctest --output-on-failure -j"$jobs" -L fuzz)
