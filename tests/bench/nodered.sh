#!/usr/bin/env bash
# Side by side with Node-RED in one command: installs what the tests need,
# builds the gateway as they do, installs Node-RED from the npm registry
# outside the repository on first use, and prints both processes' CPU per
# delivered point and their ratio (tests/bench/bench_nodered.py). Not part
# of the test suite: it measures, it does not judge.
#   tests/bench/nodered.sh [SECONDS [DEVICES [INTERVAL_MS]]]   (15, 20, 100)
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-deps.sh --test
scripts/build.sh >/dev/null
command -v npm >/dev/null || { apt-get update -q && apt-get install -y -q npm; }
echo "# commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $(date -u +%F)"
exec python3 tests/bench/bench_nodered.py "$@"
