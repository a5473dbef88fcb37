#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's test command: install what is needed, build, run every test
# (unit tests, then integration tests on a KVM that can run a stock kernel:
# the host's, or the KVM lab's; the harness prints which).
set -euo pipefail
cd "$(dirname "$0")/.."
ci/deps.sh test
ci/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"${NACELLE_TEST_JOBS:-2}" "$@"
