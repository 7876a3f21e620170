#!/usr/bin/env bash
# Cross-builds the daemon, stubs and tests for a Raspberry Pi's Debian
# architecture, runs the unit tests under qemu-user, and packages the .deb:
#   scripts/cross-build.sh arm64|armhf     -> build-<arch>/, build-<arch>/*.deb
#
# The compiler is Debian's cross gcc. The target's libraries come from
# Debian's packages for that architecture, unpacked into a sysroot
# (build-sysroot-<arch>/) rather than installed with multiarch: multiarch
# needs the same version of e.g. libc6 and libssl3 for both architectures,
# and a mirror's indexes for them are not always in step.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-}
case "$arch" in
  arm64) triplet=aarch64-linux-gnu qemu=qemu-aarch64 ;;
  armhf) triplet=arm-linux-gnueabihf qemu=qemu-arm ;;
  *) echo "usage: $0 arm64|armhf" >&2; exit 2 ;;
esac
scripts/install-deps.sh --test >/dev/null
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
  $SUDO dpkg --add-architecture "$arch"
  $SUDO apt-get update -qq || echo "cross-build: apt-get update reported errors" >&2
fi
need=(gcc-$triplet qemu-user)
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      "${need[@]}" >/dev/null
done

sysroot=$PWD/build-sysroot-$arch
if [ ! -f "$sysroot/.complete" ]; then
  rm -rf "$sysroot" && mkdir -p "$sysroot/debs"
  dev=(libc6-dev libmodbus-dev libpaho-mqtt-dev libsqlite3-dev libinih-dev libsystemd-dev
       libjson-c-dev libssl-dev libcmocka-dev)
  # The -dev packages and everything they need, of this architecture.
  mapfile -t pkgs < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "${dev[@]/%/:$arch}" 2>/dev/null |
    grep -E "^[a-z0-9].*:$arch\$" | sort -u)
  if [ ${#pkgs[@]} -lt ${#dev[@]} ]; then
    # Exit 3: not this tree's fault; scripts/test.sh reports it as skipped.
    echo "cross-build: Debian's $arch package lists are not available here (apt-get update" \
      "for $arch failed): cannot build for $arch" >&2
    exit 3
  fi
  # Owned by _apt for the download (apt warns about root-owned targets).
  chown _apt "$sysroot/debs" 2>/dev/null || true
  (cd "$sysroot/debs" && apt-get download "${pkgs[@]}" >/dev/null)
  for deb in "$sysroot"/debs/*.deb; do dpkg-deb -x "$deb" "$sysroot"; done
  touch "$sysroot/.complete"
fi

export PKG_CONFIG_SYSROOT_DIR=$sysroot
export PKG_CONFIG_LIBDIR=$sysroot/usr/lib/$triplet/pkgconfig:$sysroot/usr/share/pkgconfig
cmake --no-warn-unused-cli -S . -B "build-$arch" \
  -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-debian-cross.cmake -DGW_DEB_ARCH="$arch" \
  -DCMAKE_SYSROOT="$sysroot" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGW_WERROR=ON >/dev/null
cmake --build "build-$arch" -j "$(nproc)" >/dev/null
echo "build-$arch: $(file -b "build-$arch/sensor-gateway" | cut -d, -f1-2)"
(cd "build-$arch" && QEMU_LD_PREFIX=$sysroot ctest --output-on-failure -R '^unit_')

# The end-to-end pipeline test with the foreign daemon under qemu-user,
# against this machine's broker and stubs.
scripts/build.sh >/dev/null
GW_BUILD_DIR=$PWD/build GW_GATEWAY_BINARY=$PWD/build-$arch/sensor-gateway \
  GW_TEST_WRAPPER="$qemu -L $sysroot" GW_TEST_SLOWDOWN=4 \
  python3 tests/integration/test_pipeline.py

(cd "build-$arch" && cpack -G DEB >/dev/null)
deb=$(ls "build-$arch"/sensor-gateway_*_"$arch".deb)
echo "FIGURE cross $arch: unit tests and the pipeline test passed under $qemu;" \
  "$(basename "$deb"), $(stat -c %s "$deb") bytes"
echo "$deb"
