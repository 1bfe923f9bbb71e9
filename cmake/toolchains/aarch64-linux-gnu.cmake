# Cross-build for 64-bit ARM (Debian arm64) on a Debian 12 amd64 host with multiarch -dev
# packages (tools/cross installs them). Compilers from crossbuild-essential-arm64; libraries and
# pkg-config files from /usr/lib/aarch64-linux-gnu; protoc stays the host's /usr/bin/protoc (it
# only generates C++). Test binaries run under qemu-user (no binfmt_misc needed): ctest prefixes
# each with CMAKE_CROSSCOMPILING_EMULATOR (debian-multiarch.cmake).
set(PORTIER_CROSS_TRIPLET aarch64-linux-gnu)
set(PORTIER_CROSS_QEMU qemu-aarch64-static)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
