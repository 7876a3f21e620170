#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs the whole suite
# (unit tests, then integration tests against real stubs and a real
# mosquitto), once as built and once under AddressSanitizer +
# UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test

echo "== build and test =="
scripts/build.sh
(cd build && ctest --output-on-failure)

echo "== the same suite under AddressSanitizer + UndefinedBehaviorSanitizer =="
scripts/build.sh --sanitize
(cd build-asan &&
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  GW_TEST_SLOWDOWN=2 \
  ctest --output-on-failure)
