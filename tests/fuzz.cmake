# The libFuzzer targets (fuzz/), built on their own with clang and run
# briefly over their committed seeds: a crash, leak, UB, hang or runaway
# allocation fails the test (docs/reliability.md "Fuzzing"). Label `fuzz`,
# and `ownbuild` (the build is the same whatever this build's options, so
# scripts/test.sh runs them in its last build only).
#   CUPRUM_FUZZ_SECONDS  seconds each target runs (default 10)
set(CUPRUM_FUZZ_SECONDS 10 CACHE STRING
    "seconds each fuzz target runs over its seeds under ctest")
set(cu_fuzz_build ${PROJECT_BINARY_DIR}/fuzz-build)
add_test(NAME fuzz.build
         COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/fuzz-run.sh build
                 ${PROJECT_SOURCE_DIR} ${cu_fuzz_build})
set_tests_properties(fuzz.build PROPERTIES TIMEOUT 1200 SKIP_RETURN_CODE 77
  FIXTURES_SETUP cu_fuzz_build LABELS "fuzz;ownbuild")
file(GLOB cu_fuzz_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/fuzz/fuzz_*.c)
foreach(src ${cu_fuzz_sources})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" short ${name})
  add_test(NAME fuzz.${short}
           COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/fuzz-run.sh run
                   ${cu_fuzz_build}/fuzz/${name}
                   ${PROJECT_SOURCE_DIR}/fuzz/corpus/${short}
                   ${cu_fuzz_build}/work/${short} ${CUPRUM_FUZZ_SECONDS})
  set_tests_properties(fuzz.${short} PROPERTIES TIMEOUT 600
    SKIP_RETURN_CODE 77 FIXTURES_REQUIRED cu_fuzz_build
    LABELS "fuzz;ownbuild")
endforeach()
