#!/usr/bin/env bash
# The data-path benchmark in one command: installs what it needs (the test
# packages and perf, which counts the daemon's fsync calls), builds the
# gateway as the tests do, and prints its figures (tests/bench/bench_data_path.py).
# Not part of the test suite: it measures, it does not judge. About 4 minutes.
#   tests/bench/run.sh [SECONDS per live window, default 15] [PART...]
# PART: live-20 live-100 tcp-1000 ceiling idle demo backlog (default: all, in that order)
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-deps.sh --test
command -v perf >/dev/null && command -v strace >/dev/null || {
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -qq --no-install-recommends linux-perf strace >/dev/null
}
scripts/build.sh >/dev/null
echo "# commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $(date -u +%F)"
exec python3 tests/bench/bench_data_path.py "$@"
