#!/usr/bin/env bash
# Builds the Debian package of this machine's architecture into build-pkg/:
# sensor-gateway_<version>_<arch>.deb (a Release build, stripped, its
# dependencies computed from the shared libraries it links).
#   scripts/package.sh          this machine's architecture
#   scripts/package.sh --all    and arm64 and armhf (scripts/cross-build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test >/dev/null
cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-pkg -j "$(nproc)" --target sensor-gateway man changelog >/dev/null
(cd build-pkg && cpack -G DEB >/dev/null)
if [ "${1:-}" = "--all" ]; then
  for arch in arm64 armhf; do
    scripts/cross-build.sh "$arch" >/dev/null
    ls "build-$arch"/sensor-gateway_*_"$arch".deb
  done
fi
ls build-pkg/sensor-gateway_*.deb
