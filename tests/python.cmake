# The Python package's pytest suite, one ctest entry per interpreter
# (python/CMakeLists.txt found them), label `python`. It runs against this
# build's libcuprum: in a sanitizer build python itself is not
# instrumented, so libasan is preloaded (the first DSO, as ASan requires)
# and leak checking is left to the C tests (the interpreter keeps memory
# until exit by design). ThreadSanitizer cannot be preloaded into an
# uninstrumented interpreter: there the entries skip (scripts/python-test.sh).
set(cu_py_env "")
if(CUPRUM_SANITIZE)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE cu_asan OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(cu_py_env "LD_PRELOAD=${cu_asan};ASAN_OPTIONS=detect_leaks=0:detect_odr_violation=0;CU_PY_SANITIZED=1")
endif()
if(CUPRUM_TSAN)
  set(cu_py_env "CU_PY_SKIP=ThreadSanitizer build: the interpreter cannot load a TSan library")
endif()
foreach(tag ${CU_PYTHON_TAGS})
  add_test(NAME python.${tag}
           COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/python-test.sh
                   ${CU_PYTHON_EXE_${tag}} ${PROJECT_BINARY_DIR}/python/${tag}
                   ${CU_PYTHON_HAS_H_${tag}})
  set_tests_properties(python.${tag} PROPERTIES
    ENVIRONMENT "${cu_py_env};CU_TEST_SLACK_MS=${CU_TEST_SLACK_MS}"
    TIMEOUT 900 SKIP_RETURN_CODE 77 LABELS python)
endforeach()
if(NOT CU_PYTHON_TAGS)
  add_test(NAME python.none COMMAND bash -c "echo 'no Python interpreter found'; exit 77")
  set_tests_properties(python.none PROPERTIES SKIP_RETURN_CODE 77 LABELS python)
endif()

# The user's way in: libcuprum installed, the module built by setuptools
# from python/pyproject.toml against it (pkg-config). Its own Release build,
# hence ownbuild (scripts/test.sh runs those in one build only) and heavy.
add_test(NAME python.setuptools
         COMMAND bash ${PROJECT_SOURCE_DIR}/scripts/python-setuptools-test.sh
                 ${PROJECT_BINARY_DIR}/python-setuptools)
set_tests_properties(python.setuptools PROPERTIES TIMEOUT 1200
  SKIP_RETURN_CODE 77 LABELS "python;ownbuild;heavy")

# In a valgrind build: the extension's paths under memcheck, driven by the
# system Python (PYTHONMALLOC=malloc so memcheck sees every allocation;
# leaks are not checked: the interpreter keeps memory until exit).
if(CUPRUM_VALGRIND AND "py3.11" IN_LIST CU_PYTHON_TAGS)
  add_test(NAME python.valgrind
           COMMAND valgrind -q --error-exitcode=9 ${CU_PYTHON_EXE_py3.11}
                   ${PROJECT_SOURCE_DIR}/python/tests/valgrind_smoke.py)
  set_tests_properties(python.valgrind PROPERTIES
    ENVIRONMENT "PYTHONMALLOC=malloc;PYTHONPATH=${PROJECT_BINARY_DIR}/python/py3.11"
    TIMEOUT 900 LABELS python)
endif()
