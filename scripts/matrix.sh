#!/usr/bin/env bash
# The portability matrix (`make matrix`): the WHOLE ctest suite in each of
#   fork        CUPRUM_SPAWN_FORK (the fork+exec spawner), ASan
#   valgrind    memcheck, the library tests (not the CLI or compile-fail or lint
#               ones, nor those that build trees of their own; as scripts/test.sh)
#   aarch64     cross-compiled (gcc-aarch64-linux-gnu, multiarch arm64
#               cmocka/jansson) and run under qemu-aarch64 via
#               CMAKE_CROSSCOMPILING_EMULATOR and binfmt_misc
#   portable    CUPRUM_NO_PIDFD + CUPRUM_NO_SPLICE + CUPRUM_NO_CLOSEFROM, ASan
#   tsan        ThreadSanitizer, the thread tests (as scripts/test.sh)
#   musl        musl-gcc (Debian musl-tools); cmocka and jansson built for
#               musl from Debian's source packages into the build directory
#               (tests' slack 2000 ms: a plain Debug build run at -j2 on a
#               loaded machine; docs/portability.md)
#   gcc-O0 gcc-O2 clang-O0 clang-O2   warnings as errors, no sanitizer
# Usage: scripts/matrix.sh [config...]   (default: all, in the order above:
# the builds that `make test` does not cover, and the slowest, first, so a
# failure there shows early in a run of an hour or more)
# Build directories: build-matrix/<config> (MATRIX_OUT overrides
# build-matrix); the summary, one line per configuration plus the wall
# time, ends the output and is kept in build-matrix/summary.txt. Any
# failing configuration fails the run.
# Nice to a shared machine: nice -n 15, MATRIX_JOBS (default 2) jobs.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${MATRIX_OUT:-$ROOT/build-matrix}
JOBS=${MATRIX_JOBS:-2}
ALL="fork valgrind aarch64 portable tsan musl gcc-O0 gcc-O2 clang-O0 clang-O2"
configs=${*:-$ALL}
mkdir -p "$OUT"
: >"$OUT/summary.txt"
status=0
start=$(date +%s)
load0=$(cut -d' ' -f1-3 /proc/loadavg)

say() { echo "$*" | tee -a "$OUT/summary.txt"; }

# configure + build; the build log is kept, shown on failure.
build() { # config, cmake args...
  local name=$1 dir=$OUT/$1; shift
  rm -rf "$dir"
  nice -n 15 cmake -S . -B "$dir" -DCUPRUM_BUILD_BENCH=OFF -DCUPRUM_WERROR=ON \
      "$@" >"$dir.configure.log" 2>&1 &&
    nice -n 15 cmake --build "$dir" -j "$JOBS" >"$dir.build.log" 2>&1 || {
      tail -n 60 "$dir.configure.log" "$dir.build.log"
      say "$name: BUILD FAILED (logs: $dir.configure.log, $dir.build.log)"
      return 1; }
}

# ctest in the build; prints the failures and records the summary line.
check() { # config, ctest args...
  local name=$1 dir=$OUT/$1; shift
  local t0 t1 rc
  t0=$(date +%s)
  (cd "$dir" && nice -n 15 ctest -j "$JOBS" --output-on-failure \
     --no-label-summary "$@" >ctest.log 2>&1)
  rc=$?
  t1=$(date +%s)
  grep -E '^[0-9]+/[0-9]+ Test +#[0-9]+: .*(\*\*\*|Not Run)|Failed  ' "$dir/ctest.log" | head -n 60
  local line skipped
  line=$(grep -E 'tests passed' "$dir/ctest.log" | tail -n 1)
  skipped=$(grep -c '(Skipped)$' "$dir/ctest.log")
  say "$name: ${line:-no summary (see $dir/ctest.log)}; skipped $skipped; ctest $((t1 - t0)) s${*:+ (ctest $*)}"
  return $rc
}

# cmocka and jansson for musl, from Debian's source packages (the binary
# packages are built for glibc). apt-get works on private copies of its
# source list and state under build-matrix/musl-deps, so the machine's apt
# configuration is untouched; apt checks the files against the signed
# Release. Third-party source stays in the build directory, never committed.
musl_deps() {
  local d=$OUT/musl-deps pfx=$OUT/musl-deps/prefix
  [ -f "$pfx/.done" ] && return 0
  rm -rf "$d"; mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/src"
  # The source lines for the suites the machine's binary lines use.
  local suite
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  echo "deb-src http://deb.debian.org/debian $suite main" >"$d/sources.list"
  local o=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/dev/null
           -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache"
           -o APT::Sandbox::User=root)
  (cd "$d/src" && apt-get "${o[@]}" -qq update && apt-get "${o[@]}" -qq source cmocka jansson) \
    >"$d/apt.log" 2>&1 || { cat "$d/apt.log"; echo "matrix: fetching cmocka/jansson sources failed"; return 1; }
  local cm js
  cm=$(find "$d/src" -maxdepth 1 -type d -name 'cmocka-*' | head -n 1)
  js=$(find "$d/src" -maxdepth 1 -type d -name 'jansson-*' | head -n 1)
  { CC=musl-gcc nice -n 15 cmake -S "$cm" -B "$d/b-cmocka" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_INSTALL_PREFIX="$pfx" -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF &&
    nice -n 15 cmake --build "$d/b-cmocka" -j "$JOBS" && cmake --install "$d/b-cmocka" &&
    CC=musl-gcc nice -n 15 cmake -S "$js" -B "$d/b-jansson" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_INSTALL_PREFIX="$pfx" -DJANSSON_BUILD_DOCS=OFF -DJANSSON_WITHOUT_TESTS=ON \
      -DJANSSON_EXAMPLES=OFF -DJANSSON_BUILD_SHARED_LIBS=OFF &&
    nice -n 15 cmake --build "$d/b-jansson" -j "$JOBS" && cmake --install "$d/b-jansson"
  } >"$d/build.log" 2>&1 || { tail -n 40 "$d/build.log"; echo "matrix: building cmocka/jansson for musl failed"; return 1; }
  # Link cmocka statically: no musl libcmocka.so to find at run time.
  rm -f "$pfx"/lib/libcmocka.so*
  ln -sf libcmocka-static.a "$pfx/lib/libcmocka.a"
  touch "$pfx/.done"
}

# The kernel's UAPI headers (linux/landlock.h and what it includes) for
# musl-gcc, which sees only musl's own include directory: links to the
# machine's linux-libc-dev headers, as a musl distribution's kernel-headers
# package provides them (Alpine's linux-headers).
musl_kernel_headers() {
  local k=$OUT/musl-deps/kernel-include ma
  ma=$(gcc -print-multiarch)
  mkdir -p "$k"
  ln -sfn /usr/include/linux "$k/linux"
  ln -sfn /usr/include/asm-generic "$k/asm-generic"
  ln -sfn "/usr/include/$ma/asm" "$k/asm"
  echo "$k"
}

# aarch64 binaries exec'd by the tests (helpers, the CLI, tests re-running
# themselves) need the kernel to hand them to qemu: binfmt_misc. Registered
# here when missing (root only; the same entry Debian's qemu-user-binfmt
# makes, with P to keep argv[0] and F to open qemu now).
binfmt_aarch64() {
  local bm=/proc/sys/fs/binfmt_misc
  [ -e "$bm/qemu-aarch64" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "matrix: aarch64 needs binfmt_misc for qemu-aarch64; as root run scripts/matrix.sh aarch64 once, or install qemu-user-binfmt"
    return 1
  fi
  [ -e "$bm/register" ] || mount -t binfmt_misc binfmt_misc "$bm" || return 1
  printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64:PF' \
    >"$bm/register"
}

# The static checks (ctest label lint: clang-tidy, cppcheck, GCC's
# -fanalyzer) read the sources, not the build's options (tests/CMakeLists.txt),
# and the ownbuild tests (ABI baseline and policy, the Debian packages) make
# builds of their own whatever this build's options are (tests/packaging.cmake):
# both run once, in gcc-O2, as scripts/test.sh runs them once. Everything
# else runs in every configuration.
run() { # config
  local c=$1 sane=(-DCMAKE_BUILD_TYPE=Debug) nolint=(-LE 'lint|ownbuild')
  echo; echo "=== $c"
  case $c in
    gcc-O0)   build "$c" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug && check "$c" "${nolint[@]}" ;;
    gcc-O2)   build "$c" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo && check "$c" ;;
    clang-O0) build "$c" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug && check "$c" "${nolint[@]}" ;;
    clang-O2) build "$c" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo && check "$c" "${nolint[@]}" ;;
    musl)
      musl_deps || { say "musl: DEPENDENCIES FAILED"; return 1; }
      # libcurl is glibc's: libcuprum-otel (which dlopens it) is not built.
      # The machine's Python interpreters are glibc programs: an extension
      # built with musl could not load into them, so cuprum._native is not
      # built either (its tests run in every glibc configuration).
      PKG_CONFIG_LIBDIR=$OUT/musl-deps/prefix/lib/pkgconfig PKG_CONFIG_PATH= \
        build "$c" -DCMAKE_C_COMPILER=musl-gcc -DCMAKE_BUILD_TYPE=Debug \
          -DCMAKE_C_FLAGS="-isystem $(musl_kernel_headers)" \
          -DCUPRUM_BUILD_OTEL=OFF -DCUPRUM_BUILD_PYTHON=OFF -DCUPRUM_TEST_TIMEOUT=300 -DCUPRUM_TEST_SLACK_MS=2000 && check "$c" "${nolint[@]}" ;;
    aarch64)
      binfmt_aarch64 || { say "aarch64: binfmt_misc NOT AVAILABLE"; return 1; }
      # No arm64 libcurl is installed: libcuprum-otel is not built; nor is
      # cuprum._native (no arm64 Python; CMake also defaults it off when
      # cross-compiling).
      build "$c" -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/toolchain-aarch64.cmake" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCUPRUM_BUILD_OTEL=OFF -DCUPRUM_BUILD_PYTHON=OFF && check "$c" "${nolint[@]}" ;;
    portable) build "$c" "${sane[@]}" -DCUPRUM_SANITIZE=ON -DCUPRUM_NO_PIDFD=ON \
                -DCUPRUM_NO_SPLICE=ON -DCUPRUM_NO_CLOSEFROM=ON -DCUPRUM_NO_CLONE3=ON &&
                check "$c" "${nolint[@]}" ;;
    fork)     build "$c" "${sane[@]}" -DCUPRUM_SANITIZE=ON -DCUPRUM_SPAWN_FORK=ON && check "$c" "${nolint[@]}" ;;
    valgrind) build "$c" "${sane[@]}" -DCUPRUM_VALGRIND=ON && check "$c" -E 'cli|compile_fail|lint' -LE ownbuild ;;
    tsan)     build "$c" "${sane[@]}" -DCUPRUM_TSAN=ON && check "$c" -L threads ;;
    *) echo "matrix: unknown configuration '$c' (known: $ALL)"; return 2 ;;
  esac
}

for c in $configs; do
  run "$c" || status=1
done
say "matrix: $(git rev-parse --short HEAD) $(date -u +%Y-%m-%dT%H:%MZ), wall $(( $(date +%s) - start )) s, load average $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end, $( [ $status = 0 ] && echo passed || echo FAILED)"
echo; echo "=== summary (build-matrix/summary.txt)"; cat "$OUT/summary.txt"
exit $status
