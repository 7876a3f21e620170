#!/usr/bin/env bash
# The line benchmark in one command: installs what the tests need, builds
# the gateway as they do, and prints its figures (tests/bench/bench_rs485_line.py).
# Not part of the test suite: it measures, it does not judge. About 5 minutes.
#   tests/bench/rs485_line.sh [SECONDS per run, default 30]
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-deps.sh --test
scripts/build.sh >/dev/null
echo "# commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $(date -u +%F)"
exec python3 tests/bench/bench_rs485_line.py "$@"
