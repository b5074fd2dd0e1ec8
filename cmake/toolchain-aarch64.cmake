# Cross-compiling for aarch64 (arm64) Linux with Debian's cross toolchain
# (gcc-aarch64-linux-gnu) and running the result under qemu-user (Debian
# qemu-user). Libraries come from Debian multiarch (libcmocka-dev:arm64,
# libjansson-dev:arm64; scripts/deps.sh matrix). ctest runs every test
# command through CMAKE_CROSSCOMPILING_EMULATOR; children the tests exec
# (test helpers, the CLI) need binfmt_misc (scripts/matrix.sh registers it).
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
find_program(CU_QEMU_AARCH64 qemu-aarch64 REQUIRED)
# No -L: libc6:arm64 from multiarch puts the loader at
# /lib/ld-linux-aarch64.so.1, where the binaries look for it.
set(CMAKE_CROSSCOMPILING_EMULATOR ${CU_QEMU_AARCH64})
# Headers and libraries of the target only; programs (python3, nm via the
# compiler prefix) from the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# pkg-config: the arm64 .pc files only.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
