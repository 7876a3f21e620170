#!/usr/bin/env bash
# The county-side benchmark in one command: installs what the tests need,
# builds the gateway as they do, and prints its figures
# (tests/bench/bench_county.py). Not part of the test suite: it measures,
# it does not judge. About 3 minutes.
#   tests/bench/county.sh [GATEWAYS [MESSAGES per gateway]]   (300, 100)
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-deps.sh --test
scripts/build.sh >/dev/null
echo "# commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $(date -u +%F)"
exec /usr/bin/python3 tests/bench/bench_county.py "$@"
