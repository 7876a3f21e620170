# Cross-building for Debian's armhf (scripts/cross-build.sh armhf): the
# compiler from gcc-arm-linux-gnueabihf, the libraries from Debian's multiarch
# packages (libmodbus-dev:armhf, ...) under /usr/lib/arm-linux-gnueabihf.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# Unit tests run under qemu-user; the daemon's end-to-end test uses it too.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm)
set(GW_DEB_ARCH armhf)
