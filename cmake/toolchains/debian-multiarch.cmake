# Shared part of the Debian multiarch toolchain files: the including file sets
# PORTIER_CROSS_TRIPLET (GNU triplet), PORTIER_CROSS_QEMU (qemu-user binary) and
# CMAKE_SYSTEM_PROCESSOR.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${PORTIER_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${PORTIER_CROSS_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${PORTIER_CROSS_TRIPLET})

# Without multiarch packages (e.g. a mirror that cannot serve the target's index): a directory
# with the target's Debian packages unpacked (dpkg-deb -x), given as -DPORTIER_CROSS_SYSROOT=DIR.
set(PORTIER_CROSS_SYSROOT "" CACHE PATH "unpacked target packages instead of multiarch ones")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES PORTIER_CROSS_SYSROOT)
if(PORTIER_CROSS_SYSROOT)
  set(CMAKE_SYSROOT ${PORTIER_CROSS_SYSROOT})
  set(CMAKE_FIND_ROOT_PATH ${PORTIER_CROSS_SYSROOT})
  set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
  set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
  set(ENV{PKG_CONFIG_SYSROOT_DIR} ${PORTIER_CROSS_SYSROOT})
  set(ENV{PKG_CONFIG_LIBDIR}
    ${PORTIER_CROSS_SYSROOT}/usr/lib/${PORTIER_CROSS_TRIPLET}/pkgconfig:${PORTIER_CROSS_SYSROOT}/usr/share/pkgconfig)
  set(ENV{PKG_CONFIG_PATH} "")
  set(Protobuf_PROTOC_EXECUTABLE /usr/bin/protoc CACHE FILEPATH "host protoc")
  find_program(PORTIER_QEMU_PROGRAM ${PORTIER_CROSS_QEMU} REQUIRED)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${PORTIER_QEMU_PROGRAM} -L ${PORTIER_CROSS_SYSROOT})
  return()
endif()

# Headers are shared (/usr/include, /usr/include/<triplet>), libraries are per architecture in
# /usr/lib/<triplet>: no sysroot, but never the host's /usr/lib/x86_64-linux-gnu.
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu)

# pkg-config (CppUTest, libmicrohttpd) must read the target's .pc files only.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${PORTIER_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# The host's protoc (same protobuf version as the target's libprotobuf).
set(Protobuf_PROTOC_EXECUTABLE /usr/bin/protoc CACHE FILEPATH "host protoc")

# Target programs (unit tests, the benchmark) run under qemu-user with the target's dynamic
# loader and libc from the multiarch libc6:<arch> (/lib/ld-linux-*.so.*, /lib/<triplet>), hence
# -L /. Not -L /usr/<triplet>: that loader is libc6-<arch>-cross's, a different glibc build
# than the libc.so.6 it then loads from /lib/<triplet>, and the pair hangs in pthread_create.
find_program(PORTIER_QEMU_PROGRAM ${PORTIER_CROSS_QEMU} REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${PORTIER_QEMU_PROGRAM} -L /)
