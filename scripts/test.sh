#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs the whole suite
# (unit tests, then integration tests against real stubs and a real
# mosquitto), once as built and once under AddressSanitizer +
# UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test

# ctest shows a test's output only when it fails; the figures each test
# reached (cycles, readings, losses, rates) are collected from its log.
show_figures() {
  echo "-- figures ($1) --"
  grep -h -E "^FIGURE |inputs replayed" "$2/Testing/Temporary/LastTest.log" || true
}

echo "== build and test =="
scripts/build.sh
(cd build && ctest --output-on-failure)
show_figures "as built" build

echo "== the packagers' build types compile clean (warnings as errors) =="
for type in Release MinSizeRel; do
  cmake -S . -B "build-$type" -DCMAKE_BUILD_TYPE=$type -DGW_WERROR=ON >/dev/null
  cmake --build "build-$type" -j "$(nproc)" --target sensor-gateway >/dev/null
  echo "$type: ok"
done

echo "== the .deb: lintian, install, unit verified and scored, purge =="
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO tests/packaging/test_deb.sh

echo "== cross-built for the Raspberry Pi: arm64 and armhf, tested under qemu-user =="
for arch in arm64 armhf; do
  rc=0
  scripts/cross-build.sh "$arch" || rc=$?
  if [ $rc -eq 3 ]; then
    echo "SKIPPED: the $arch cross-build (its Debian package lists could not be fetched)"
  elif [ $rc -ne 0 ]; then
    exit $rc
  fi
done

echo "== the same suite under AddressSanitizer + UndefinedBehaviorSanitizer =="
scripts/build.sh --sanitize
(cd build-asan &&
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  GW_TEST_SLOWDOWN=2 \
  ctest --output-on-failure -E '^integration_county_ingest$')
# Skipped here: test_county_ingest adds no C path (the gateway does there
# what test_reference_consumer already runs under the sanitizers; the rest
# is Python and PostgreSQL).
show_figures "ASan + UBSan" build-asan

echo "== the end-to-end pipeline test with the daemon under valgrind memcheck =="
# Any memory error or definite leak makes valgrind exit 99, which the test
# reports as a failed stop of the gateway.
(cd build &&
  GW_TEST_WRAPPER="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-origins=yes" \
  GW_TEST_SLOWDOWN=4 \
  ctest --output-on-failure -R '^integration_pipeline$')
show_figures "valgrind" build

echo "== fuzzing: each libFuzzer target for ${GW_FUZZ_SECONDS:=30}s =="
scripts/fuzz.sh "$GW_FUZZ_SECONDS"
