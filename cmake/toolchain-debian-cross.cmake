# Cross-building for a Raspberry Pi's Debian architecture, GW_DEB_ARCH =
# arm64 or armhf (scripts/cross-build.sh sets it): Debian's cross gcc for
# it, and the target's libraries from a sysroot (CMAKE_SYSROOT) that holds
# Debian's packages for that architecture, unpacked.
# try_compile's projects read this file again: they need the choice too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES GW_DEB_ARCH)
if(GW_DEB_ARCH STREQUAL "arm64")
  set(triplet aarch64-linux-gnu)
  set(CMAKE_SYSTEM_PROCESSOR aarch64)
  set(qemu qemu-aarch64)
elseif(GW_DEB_ARCH STREQUAL "armhf")
  set(triplet arm-linux-gnueabihf)
  set(CMAKE_SYSTEM_PROCESSOR arm)
  set(qemu qemu-arm)
else()
  message(FATAL_ERROR "GW_DEB_ARCH must be arm64 or armhf, not '${GW_DEB_ARCH}'")
endif()
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${triplet}-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE ${triplet})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# Unit tests run under qemu-user (QEMU_LD_PREFIX points it at the sysroot).
set(CMAKE_CROSSCOMPILING_EMULATOR ${qemu})
