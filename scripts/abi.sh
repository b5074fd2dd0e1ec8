#!/usr/bin/env bash
# The checked ABI of libcuprum and libcuprum-otel (libabigail, Debian
# abigail-tools). docs/design.md "Symbols, soname and the ABI baseline".
#
#   scripts/abi.sh check [WORKDIR]          build, abidiff against abi/*.abi
#   scripts/abi.sh deterministic [WORKDIR]  two builds in different
#                                           directories give identical abidw
#   scripts/abi.sh update [WORKDIR]         regenerate abi/*.abi on purpose
#   scripts/abi.sh selftest [WORKDIR]       in copies of the source: an
#                                           added function passes, a removed
#                                           one fails, a removed one with the
#                                           soname moved passes
#
# Every mode builds the libraries on its own in WORKDIR (default
# build-abi/): RelWithDebInfo with -g, no sanitizer, nothing but the
# libraries, so the baseline does not depend on the build type of whoever
# runs it. abidw keeps the public types only (--headers-dir include/cuprum,
# --drop-private-types) and no source locations or paths, so the file
# changes when the ABI does, not when a line moves.
#
# Policy (abidiff's exit status is a bit field): 1 = error, 2 = usage
# error, 4 = ABI change, 8 = incompatible ABI change. 8 fails unless the
# soname moved (then the baseline is stale: run `update` in the commit
# that moves it). 4 with only additions (new functions, variables, types)
# or fields appended to growable structs (abi/cuprum.abignore) passes and
# prints the report; `update` at release time records them. 4 with any
# removed or changed function or variable (a public type changed under
# it) counts as 8.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-check}
work=${2:-$src/build-abi}
libs="libcuprum:cuprum libcuprum-otel:cuprum_otel"
for t in abidw abidiff; do
  command -v $t >/dev/null || { echo "abi.sh: SKIP: $t missing (Debian abigail-tools, scripts/deps.sh test)"; exit 77; }
done
arch=$(uname -m)
if [ "$mode" != update ] && [ -f "$src/abi/ARCH" ] && [ "$(cat "$src/abi/ARCH")" != "$arch" ]; then
  echo "abi.sh: SKIP: the baseline is for $(cat "$src/abi/ARCH"), this is $arch"
  exit 77
fi

build() { # dir
  local dir=$1
  mkdir -p "$(dirname "$dir")"
  cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g -DNDEBUG" -DCMAKE_C_FLAGS= \
    -DCUPRUM_BUILD_TESTS=OFF -DCUPRUM_BUILD_CLI=OFF -DCUPRUM_BUILD_BENCH=OFF \
    -DCUPRUM_BUILD_EXAMPLES=OFF -DCUPRUM_SANITIZE=OFF -DCUPRUM_TSAN=OFF \
    -DCUPRUM_VALGRIND=OFF >"$dir.log" 2>&1 &&
  nice -n 10 cmake --build "$dir" -j 2 --target cuprum cuprum_otel >>"$dir.log" 2>&1 || {
    # libcuprum-otel is skipped without libcurl: build the core alone then.
    nice -n 10 cmake --build "$dir" -j 2 --target cuprum >>"$dir.log" 2>&1 ||
      { tail -n 40 "$dir.log"; echo "abi.sh: build in $dir failed"; exit 1; }
  }
}

dump() { # dir, lib, out
  abidw --headers-dir "$src/include/cuprum" --drop-private-types \
    --no-show-locs --no-corpus-path --no-comp-dir-path \
    "$1/$2.so" >"$3"
}

soname() { readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }

mkdir -p "$work"
case "$mode" in
  update)
    build "$work/a"
    mkdir -p "$src/abi"
    for l in $libs; do
      lib=${l%%:*}
      [ -f "$work/a/$lib.so" ] || { echo "abi.sh: $lib.so not built (libcurl missing?)"; exit 1; }
      dump "$work/a" "$lib" "$src/abi/$lib.abi"
      echo "abi.sh: wrote abi/$lib.abi ($(soname "$work/a/$lib.so"))"
    done
    echo "$arch" >"$src/abi/ARCH"
    ;;
  check)
    build "$work/a"
    status=0
    for l in $libs; do
      lib=${l%%:*}
      if [ ! -f "$work/a/$lib.so" ]; then echo "abi.sh: $lib.so not built here (libcurl missing): not checked"; continue; fi
      dump "$work/a" "$lib" "$work/$lib.abi"
      set +e
      # Both sides are abixml already reduced to the public types (abidw
      # above); abidiff 2.2 asserts when given --headers-dir2 with abixml.
      abidiff --suppressions "$src/abi/cuprum.abignore" \
        "$src/abi/$lib.abi" "$work/$lib.abi" >"$work/$lib.abidiff" 2>&1
      rc=$?
      # abidiff sets 8 for removed symbols only; a changed public type (a
      # field moved, retyped, inserted, an enum renumbered) sets 4 and shows
      # as "N Changed" in the summary. What abi/cuprum.abignore lets through
      # (fields appended to growable structs) is "filtered out"; any other
      # change or removal counts as incompatible.
      if [ $((rc & 4)) -ne 0 ] &&
         grep -E '^(Functions|Variables) changes summary' "$work/$lib.abidiff" |
           grep -qE '(^|[^0-9])[1-9][0-9]* (Removed|Changed)'; then
        rc=$((rc | 8))
      fi
      set -e
      # Frozen structs: any size change is incompatible (abi/frozen-structs.txt).
      while read -r t; do
        case "$t" in ''|'#'*) continue ;; esac
        a=$(grep -m1 -o "class-decl name='$t' size-in-bits='[0-9]*'" "$src/abi/$lib.abi" || true)
        b=$(grep -m1 -o "class-decl name='$t' size-in-bits='[0-9]*'" "$work/$lib.abi" || true)
        if [ "$a" != "$b" ]; then
          echo "frozen struct $t changed: ${a:-absent} -> ${b:-absent}" >>"$work/$lib.abidiff"
          rc=$((rc | 8))
        fi
      done <"$src/abi/frozen-structs.txt"
      new=$(soname "$work/a/$lib.so")
      old=$(sed -n 's/.*soname=.\([^"'\'']*\).*/\1/p' "$src/abi/$lib.abi" | head -n 1)
      if [ $((rc & 3)) -ne 0 ]; then
        cat "$work/$lib.abidiff"; echo "abi.sh: abidiff failed on $lib (exit $rc)"; status=1
      elif [ $((rc & 8)) -ne 0 ]; then
        cat "$work/$lib.abidiff"
        if [ "$new" != "$old" ]; then
          echo "abi.sh: $lib: incompatible change, but the soname moved ($old -> $new): allowed; run scripts/abi.sh update to record the new baseline"
        else
          echo "abi.sh: $lib: INCOMPATIBLE ABI change with the soname still $new: keep the ABI or move the soname (docs/design.md)"
          status=1
        fi
      elif [ $((rc & 4)) -ne 0 ]; then
        cat "$work/$lib.abidiff"
        echo "abi.sh: $lib: compatible ABI changes (additions) against the baseline: passed; scripts/abi.sh update records them"
      else
        echo "abi.sh: $lib ($new): no ABI change against abi/$lib.abi beyond what abi/cuprum.abignore allows"
      fi
    done
    exit $status
    ;;
  deterministic)
    build "$work/a"
    build "$work/second-tree/b"
    status=0
    for l in $libs; do
      lib=${l%%:*}
      [ -f "$work/a/$lib.so" ] || continue
      dump "$work/a" "$lib" "$work/$lib.a.abi"
      dump "$work/second-tree/b" "$lib" "$work/$lib.b.abi"
      if cmp -s "$work/$lib.a.abi" "$work/$lib.b.abi"; then
        echo "abi.sh: $lib: abidw output identical across two build trees ($(wc -l <"$work/$lib.a.abi") lines)"
      else
        diff "$work/$lib.a.abi" "$work/$lib.b.abi" | head -n 40
        echo "abi.sh: $lib: abidw output differs between two builds of the same source"
        status=1
      fi
    done
    exit $status
    ;;
  selftest)
    # Each case: a copy of the committed tree (git archive of HEAD plus the
    # baseline as it is here), one edit, then `check` in the copy.
    status=0
    one() { # name, expected (pass|fail), edit command run in the copy
      local name=$1 want=$2 edit=$3 copy=$work/self-$1 rc=0
      rm -rf "$copy" && mkdir -p "$copy"
      git -C "$src" archive HEAD | tar -x -C "$copy"
      cp "$src"/abi/* "$copy/abi/"
      (cd "$copy" && eval "$edit")
      bash "$copy/scripts/abi.sh" check "$copy/build-abi" >"$copy.log" 2>&1 || rc=$?
      if { [ "$want" = pass ] && [ $rc -eq 0 ]; } || { [ "$want" = fail ] && [ $rc -eq 1 ]; }; then
        echo "abi.sh selftest: $name: $want, as it should ($(tail -n 1 "$copy.log"))"
      else
        tail -n 30 "$copy.log"; echo "abi.sh selftest: $name: expected $want, check exited $rc"; status=1
      fi
    }
    one added pass 'printf "int cu_abi_selftest_added(void);\n" >>include/cuprum/error.h &&
      printf "int cu_abi_selftest_added(void) { return 1; }\n" >>src/base/version.c'
    one appended-to-options pass 'sed -i "0,/^} cu_run_opts;/s//  int abi_selftest_tail;\n} cu_run_opts;/" include/cuprum/run.h'
    one inserted-in-result fail 'sed -i "0,/^typedef struct cu_result {/s//typedef struct cu_result {\n  int abi_selftest_head;/" include/cuprum/run.h'
    one appended-to-frozen fail 'sed -i "0,/^} cu_output_opts;/s//  int abi_selftest_tail;\n} cu_output_opts;/" include/cuprum/run.h'
    one removed fail 'sed -i "s/^  local:$/  local:\n    cu_version;/" src/cuprum.map'
    one removed-soname-moved pass 'sed -i "s/^  local:$/  local:\n    cu_version;/" src/cuprum.map &&
      sed -i "0,/VERSION 0\.1\.0/s//VERSION 1.0.0/" CMakeLists.txt'
    exit $status
    ;;
  *) echo "usage: $0 check|deterministic|update|selftest [WORKDIR]" >&2; exit 2 ;;
esac
