#!/usr/bin/env bash
# Build and run examples/consumer against an INSTALLED cuprum (ctest label
# `packaging`, tests/packaging.cmake).
#   scripts/test-consumer.sh MODE BUILD_DIR WORK_DIR
# MODE: pkgconfig  `cmake --install --prefix`, then plain cc with
#                  pkg-config's flags (cuprum, cuprum-otel when installed)
#       cmake      the same install, find_package(cuprum CONFIG), shared
#                  (+ component otel) and static targets
#       meson      the same install, meson's dependency('cuprum')
#       destdir    DESTDIR=... --prefix /usr: the staged tree a package is
#                  made from; pkg-config with PKG_CONFIG_SYSROOT_DIR
#       subproject add_subdirectory(<source>) with the same target names
# CONSUMER_CFLAGS (environment) is added to every compile and link: the
# sanitizer flags of the build whose libraries are installed.
# Exit 77 = skipped (ctest SKIP_RETURN_CODE), with the reason printed.
set -euo pipefail
mode=$1 build=$(cd "$2" && pwd) work=$3
src=$(cd "$(dirname "$0")/.." && pwd)
cflags=${CONSUMER_CFLAGS:-}
cc=${CC:-cc}
rm -rf "$work" && mkdir -p "$work"
log=$work/log

run() { echo "+ $*" >>"$log"; "$@" >>"$log" 2>&1 || { cat "$log"; echo "test-consumer: failed: $*"; exit 1; }; }

libdir_of() { sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$build/CMakeCache.txt"; }
have_otel() { grep -q '^CURL_FOUND:.*=\(ON\|TRUE\|1\)' "$build/CMakeCache.txt" 2>/dev/null || [ -e "$build/libcuprum-otel.so" ]; }

# The consumer must print its line and load libcuprum from where we say.
check_run() { # exe, expected libcuprum path prefix (or "static")
  local exe=$1 where=$2 out
  out=$("$exe") || { echo "$out"; echo "test-consumer: $exe failed"; exit 1; }
  echo "$out"
  grep -q '^cuprum .*: consumer-ok$' <<<"$out" || { echo "test-consumer: unexpected output"; exit 1; }
  if [ "$where" = static ]; then
    if ldd "$exe" | grep -q 'libcuprum\.so'; then echo "test-consumer: $exe should not load libcuprum.so"; exit 1; fi
  else
    local got
    got=$(ldd "$exe" | sed -n 's/.*libcuprum\.so\.0 => \([^ ]*\).*/\1/p')
    case "$got" in "$where"/*) echo "$exe loads $got" ;;
      *) echo "test-consumer: $exe loads libcuprum from '$got', not under $where"; exit 1 ;; esac
  fi
}

install_prefix() {
  run cmake --install "$build" --prefix "$work/prefix"
  prefix=$work/prefix
  libdir=$prefix/$(libdir_of)
  export PKG_CONFIG_PATH=$libdir/pkgconfig
  unset PKG_CONFIG_SYSROOT_DIR
}

case "$mode" in
  pkgconfig)
    install_prefix
    [ "$(pkg-config --variable=libdir cuprum)" = "$libdir" ] ||
      { echo "test-consumer: cuprum.pc libdir $(pkg-config --variable=libdir cuprum) != $libdir"; exit 1; }
    [ "$(pkg-config --variable=includedir cuprum)" = "$prefix/include" ] ||
      { echo "test-consumer: cuprum.pc includedir is wrong"; exit 1; }
    pcs=cuprum defs=
    if have_otel; then pcs="cuprum cuprum-otel" defs=-DCONSUMER_OTEL; fi
    # shellcheck disable=SC2046,SC2086
    run $cc $cflags $defs -o "$work/consumer" "$src/examples/consumer/consumer.c" \
      $(pkg-config --cflags --libs $pcs) -Wl,-rpath,"$(pkg-config --variable=libdir cuprum)"
    check_run "$work/consumer" "$libdir"
    ;;
  cmake)
    install_prefix
    otel=OFF; have_otel && otel=ON
    run cmake -S "$src/examples/consumer" -B "$work/shared" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_C_FLAGS="$cflags" -DCONSUMER_OTEL=$otel
    run cmake --build "$work/shared"
    check_run "$work/shared/consumer" "$libdir"
    run cmake -S "$src/examples/consumer" -B "$work/static" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_C_FLAGS="$cflags" -DCONSUMER_LINK=static -DCONSUMER_OTEL=$otel
    run cmake --build "$work/static"
    check_run "$work/static/consumer" static
    # A version the package does not satisfy must be refused.
    mkdir -p "$work/v9"
    printf 'cmake_minimum_required(VERSION 3.20)\nproject(v LANGUAGES C)\nfind_package(cuprum 9.0 CONFIG REQUIRED)\n' >"$work/v9/CMakeLists.txt"
    if cmake -S "$work/v9" -B "$work/v9/b" -DCMAKE_PREFIX_PATH="$prefix" >>"$log" 2>&1; then
      echo "test-consumer: find_package(cuprum 9.0) was satisfied by $(cat "$build/CMakeCache.txt" | sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p')"; exit 1
    fi
    echo "find_package(cuprum 9.0) refused, as it should be"
    ;;
  meson)
    command -v meson >/dev/null && command -v ninja >/dev/null ||
      { echo "test-consumer: SKIP: meson or ninja missing (Debian meson, ninja-build; scripts/deps.sh test)"; exit 77; }
    install_prefix
    otel=false; have_otel && otel=true
    CFLAGS="$cflags" LDFLAGS="$cflags" run meson setup "$work/meson" "$src/examples/consumer" \
      -Dotel=$otel -Dc_link_args=-Wl,-rpath,"$libdir"
    run ninja -C "$work/meson"
    check_run "$work/meson/consumer" "$libdir"
    ;;
  destdir)
    run env DESTDIR="$work/root" cmake --install "$build" --prefix /usr
    ld=$(libdir_of)
    pc=$work/root/usr/$ld/pkgconfig/cuprum.pc
    grep -qx 'prefix=/usr' "$pc" && grep -qx "libdir=\${prefix}/$ld" "$pc" ||
      { cat "$pc"; echo "test-consumer: $pc does not name /usr/$ld"; exit 1; }
    grep -q "$work" "$pc" && { echo "test-consumer: $pc names the staging directory"; exit 1; }
    export PKG_CONFIG_SYSROOT_DIR=$work/root PKG_CONFIG_PATH=$work/root/usr/$ld/pkgconfig
    # shellcheck disable=SC2046,SC2086
    run $cc $cflags -o "$work/consumer" "$src/examples/consumer/consumer.c" \
      $(pkg-config --cflags --libs cuprum) -Wl,-rpath,"$work/root/usr/$ld"
    check_run "$work/consumer" "$work/root/usr/$ld"
    ;;
  pc_dirs)
    # The generator alone, for the two layouts a distribution and a local
    # install use.
    for layout in "/usr lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu" \
                  "/usr/local lib /usr/local/lib" "/opt/cu /opt/cu/lib64 /opt/cu/lib64"; do
      set -- $layout
      run cmake -DIN="$src/cuprum.pc.in" -DOUT="$work/cuprum.pc" -DPREFIX="$1" -DLIBDIR="$2" \
        -DINCLUDEDIR=include -DVERSION=0.1.0 -DDESCRIPTION=x -P "$src/cmake/cuprum-pc.cmake"
      got=$(PKG_CONFIG_PATH=$work pkg-config --variable=libdir cuprum)
      inc=$(PKG_CONFIG_PATH=$work pkg-config --cflags cuprum | sed "s/ *$//")
      [ "$got" = "$3" ] || { echo "test-consumer: prefix $1 libdir $2: pkg-config says libdir=$got, want $3"; exit 1; }
      case "$1" in /usr) [ -z "$inc" ] || [ "$inc" = "-I/usr/include" ] ;; *) [ "$inc" = "-I$1/include" ] ;; esac ||
        { echo "test-consumer: prefix $1: cflags '$inc'"; exit 1; }
      echo "prefix $1, libdir $2: libdir=$got cflags='$inc'"
    done
    ;;
  subproject)
    run cmake -S "$src/examples/consumer/subproject" -B "$work/sub" -DCUPRUM_SOURCE_DIR="$src" \
      -DCMAKE_C_FLAGS="$cflags" -DCMAKE_BUILD_TYPE=RelWithDebInfo
    run nice -n 10 cmake --build "$work/sub" -j 2 --target consumer consumer_static
    check_run "$work/sub/consumer" "$work/sub/cuprum"
    check_run "$work/sub/consumer_static" static
    ;;
  *) echo "usage: $0 pkgconfig|cmake|meson|destdir|pc_dirs|subproject BUILD WORK" >&2; exit 2 ;;
esac
echo "test-consumer: $mode: ok"
