#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a
# bounded time, starting from its seed corpus in tests/fuzz/corpus.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 30)
# A crash stops the run with the input saved in build-fuzz/crashes/; once
# the bug is fixed, copy that file into tests/fuzz/regressions/TARGET/ so the
# replay test in ctest keeps it from coming back.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
targets=(config decode modbus_reply command)

CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DGW_FUZZ=ON -DGW_WERROR=ON >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null
mkdir -p build-fuzz/crashes

for t in "${targets[@]}"; do
  work="build-fuzz/corpus-$t"   # grows across runs; the seeds stay untouched
  mkdir -p "$work"
  echo "== fuzz_$t for ${seconds}s =="
  log="build-fuzz/fuzz_$t.log"
  # detect_leaks stays on: a leak is a finding like a crash.
  if ! ASAN_OPTIONS=detect_leaks=1 \
      "build-fuzz/tests/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="build-fuzz/crashes/$t-" -print_final_stats=1 \
        "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz_$t found a crash: see build-fuzz/crashes/ and $log" >&2
    exit 1
  fi
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+ +DONE" "$log"
done
