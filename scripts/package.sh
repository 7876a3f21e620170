#!/usr/bin/env bash
# Builds the Debian package of this machine's architecture into build-pkg/:
# sensor-gateway_<version>_<arch>.deb (a Release build, stripped, its
# dependencies computed from the shared libraries it links).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test >/dev/null
cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-pkg -j "$(nproc)" --target sensor-gateway man changelog >/dev/null
(cd build-pkg && cpack -G DEB >/dev/null)
ls build-pkg/sensor-gateway_*.deb
