# Packaging checks (label `packaging`): the exported symbols, the ABI
# against the committed baseline, and examples/consumer built against an
# installed tree. docs/design.md "Symbols, soname and the ABI baseline",
# docs/building.md.
find_package(Python3 COMPONENTS Interpreter)
# The scripts run on the build machine: ${Python3_EXECUTABLE}, not the
# imported target Python3::Interpreter, which ctest would run through
# CMAKE_CROSSCOMPILING_EMULATOR in a cross build (qemu-aarch64 cannot run
# the host's python3).
# Every public header of libcuprum (otel.h is libcuprum-otel's): a header
# src/base/export.h does not include would have its functions hidden.
file(GLOB cu_pk_headers RELATIVE ${PROJECT_SOURCE_DIR}/include
     CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/cuprum/*.h)
list(REMOVE_ITEM cu_pk_headers cuprum/otel.h)
if(Python3_Interpreter_FOUND)
  add_test(NAME abi.exports COMMAND ${Python3_EXECUTABLE}
           ${PROJECT_SOURCE_DIR}/scripts/check-exports.py
           --lib $<TARGET_FILE:cuprum> --node CUPRUM_0 --prefix cu_
           --nm ${CMAKE_NM} --cc ${CMAKE_C_COMPILER}
           --include ${PROJECT_SOURCE_DIR}/include ${cu_pk_headers})
  add_test(NAME abi.exports.selftest COMMAND ${Python3_EXECUTABLE}
           ${PROJECT_SOURCE_DIR}/scripts/check-exports.py --self-test
           --nm ${CMAKE_NM} --cc ${CMAKE_C_COMPILER})
  set(cu_pk_tests abi.exports abi.exports.selftest)
  if(CUPRUM_HAVE_OTEL)
    add_test(NAME abi.exports.otel COMMAND ${Python3_EXECUTABLE}
             ${PROJECT_SOURCE_DIR}/scripts/check-exports.py
             --lib $<TARGET_FILE:cuprum_otel> --node CUPRUM_OTEL_0 --prefix cu_otel_
             --nm ${CMAKE_NM} --cc ${CMAKE_C_COMPILER}
             --include ${PROJECT_SOURCE_DIR}/include cuprum/otel.h)
    list(APPEND cu_pk_tests abi.exports.otel)
  endif()
  set_tests_properties(${cu_pk_tests} PROPERTIES TIMEOUT 120
                       LABELS "packaging;abi")
endif()

# The ABI: its own RelWithDebInfo build of the libraries (whatever this
# build's type), abidw, abidiff against abi/*.abi (scripts/abi.sh).
set(cu_pk_work ${PROJECT_BINARY_DIR}/packaging)
add_test(NAME abi.baseline COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/abi.sh
         check ${cu_pk_work}/abi-check)
add_test(NAME abi.deterministic COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/abi.sh
         deterministic ${cu_pk_work}/abi-det)
# The policy itself, on edited copies of the tree (heavy: six builds; about
# three minutes on two quiet cores, much longer on a loaded machine, hence
# the long timeout).
add_test(NAME abi.selftest COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/abi.sh
         selftest ${cu_pk_work}/abi-self)
# Label ownbuild: they build on their own whatever this build's options
# are, so scripts/test.sh runs them in one of its builds only.
# packaging.deb: the Debian packages from a copy of the tree, lintian,
# unpacked into a temporary root (never installed into /usr), the consumer
# and debian/tests/smoke against them (scripts/deb-test.sh).
add_test(NAME packaging.deb COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/deb-test.sh
         ${cu_pk_work}/deb)
set_tests_properties(abi.baseline abi.deterministic abi.selftest packaging.deb PROPERTIES TIMEOUT 2400
  SKIP_RETURN_CODE 77 LABELS "packaging;abi;heavy;ownbuild")

# examples/consumer against an installed tree (scripts/test-consumer.sh).
# The consumer gets this build's sanitizer flags: its libraries are
# instrumented.
set(cu_consumer_cflags "")
if(CUPRUM_SANITIZE)
  set(cu_consumer_cflags "-fsanitize=address,undefined")
elseif(CUPRUM_TSAN)
  set(cu_consumer_cflags "-fsanitize=thread")
endif()
# The consumer builds compile, link and `ldd` a program for the build
# machine's glibc: in a cross build (aarch64 under qemu) ldd cannot read the
# target's executables ("not a dynamic executable"), and on musl glibc's ldd
# does not list musl's loads, nor does the subproject build get the kernel
# headers the matrix hands musl-gcc. There they are not registered
# (docs/portability.md); pc_dirs only reads the .pc files and stays.
include(CheckSymbolExists)
check_symbol_exists(__GLIBC__ features.h CU_PK_GLIBC)
set(cu_consumer_modes pc_dirs)
if(CU_PK_GLIBC AND NOT CMAKE_CROSSCOMPILING)
  list(APPEND cu_consumer_modes pkgconfig cmake meson destdir subproject)
endif()
foreach(mode ${cu_consumer_modes})
  add_test(NAME packaging.consumer.${mode}
           COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/test-consumer.sh ${mode}
                   ${PROJECT_BINARY_DIR} ${cu_pk_work}/consumer-${mode})
  set(labels "packaging")
  if(mode STREQUAL "subproject")
    set(labels "packaging;heavy")
  endif()
  set_tests_properties(packaging.consumer.${mode} PROPERTIES TIMEOUT 900
    SKIP_RETURN_CODE 77 LABELS "${labels}"
    ENVIRONMENT "CONSUMER_CFLAGS=${cu_consumer_cflags};CC=${CMAKE_C_COMPILER};ASAN_OPTIONS=detect_leaks=1")
endforeach()
