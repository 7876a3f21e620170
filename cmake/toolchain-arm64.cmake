# Cross-building for Debian's arm64 (scripts/cross-build.sh arm64): the
# compiler from gcc-aarch64-linux-gnu, the libraries from Debian's multiarch
# packages (libmodbus-dev:arm64, ...) under /usr/lib/aarch64-linux-gnu.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# Unit tests run under qemu-user; the daemon's end-to-end test uses it too.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
set(GW_DEB_ARCH arm64)
