#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configure and build into ${BUILD_DIR:-build}. Warnings are errors in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
werror=OFF
[ -n "${CI:-}" ] && werror=ON
cmake -S . -B "$BUILD_DIR" -DNACELLE_WERROR="$werror" ${NACELLE_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
