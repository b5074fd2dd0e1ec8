#!/usr/bin/env bash
# Install the Debian packages Cuprum's build, tests, demo and benchmarks need,
# when they are missing. As root it runs apt-get; otherwise it prints the
# exact command to run and fails.
#   scripts/deps.sh build   compiler, cmake, pkg-config, jansson (CLI),
#                           cmocka (the default build configures the tests,
#                           and `make demo` uses a test helper program)
#   scripts/deps.sh test    + valgrind, python3 (the layers check)
#   scripts/deps.sh fuzz    + clang (libFuzzer)
#   scripts/deps.sh bench   + hyperfine, libpipeline (peer), python3
set -eu
what=${1:-build}
pkgs="gcc make cmake pkg-config libjansson-dev libcmocka-dev"
case "$what" in
  test) pkgs="$pkgs valgrind python3" ;;
  fuzz) pkgs="$pkgs clang" ;;
  bench) pkgs="$pkgs hyperfine libpipeline-dev python3" ;;
  build) ;;
  *) echo "usage: $0 build|test|bench|fuzz" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing="$missing $p"
done
# python3 may come from elsewhere (pyenv); accept any python3 on PATH.
case " $missing " in *" python3 "*) command -v python3 >/dev/null && missing=${missing/ python3/} ;; esac
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "deps: missing packages:$missing" >&2
  echo "deps: run: sudo apt-get install -y$missing" >&2
  exit 1
fi
