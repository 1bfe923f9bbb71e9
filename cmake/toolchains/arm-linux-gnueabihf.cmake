# Cross-build for 32-bit ARM with hardware floating point (Debian armhf) on a Debian 12 amd64
# host; see aarch64-linux-gnu.cmake. Packages from crossbuild-essential-armhf; tests run under
# qemu-arm-static.
set(PORTIER_CROSS_TRIPLET arm-linux-gnueabihf)
set(PORTIER_CROSS_QEMU qemu-arm-static)
set(CMAKE_SYSTEM_PROCESSOR arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
