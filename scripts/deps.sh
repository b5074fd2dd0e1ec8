#!/usr/bin/env bash
# Install the Debian packages Cuprum's build, tests, demo and benchmarks need,
# when they are missing. As root it runs apt-get; otherwise it prints the
# exact command to run and fails.
#   scripts/deps.sh build   compiler, cmake, pkg-config, jansson (CLI),
#                           cmocka (the default build configures the tests,
#                           and `make demo` uses a test helper program),
#                           libcurl (libcuprum-otel: OTLP/HTTP traces),
#                           scdoc (the man pages; without it: no pages)
#   scripts/deps.sh test    + valgrind, python3 (the layers check), clang
#                           (a compile-only stage; with libclang-rt-dev
#                           the fuzz targets, ctest label fuzz); the real
#                           telemetry consumers the tests drive: promtool
#                           and prometheus, node_exporter, node + npm, and
#                           the pinned OpenTelemetry JS packages (tests/otel,
#                           npm ci); clang (the compile-fail suite
#                           compiles with gcc and clang), clang-tidy and
#                           cppcheck (the lint tests); abigail-tools, meson and ninja for
#                           the packaging tests (ABI baseline, the Meson
#                           consumer); dpkg-dev, debhelper, lintian,
#                           fakeroot for the Debian packages (packaging.deb);
#                           zsh and groff-base (docs.completion_zsh parses
#                           the zsh completion, docs.man_scdoc formats the
#                           pages with groff -ww); python3-dev,
#                           python3-pytest and python3-setuptools for the
#                           Python package (cuprum._native is built against
#                           the system Python's headers, pytest runs it,
#                           setuptools builds it as users do:
#                           python.setuptools; python3-venv and python3-pip
#                           for its pip-into-a-venv install)
#   scripts/deps.sh package + dpkg-dev, debhelper, lintian, fakeroot
#                           (`make package`)
#   scripts/deps.sh fuzz    + clang and its libFuzzer runtime
#                           (libclang-rt-dev), time (GNU time: the CPU
#                           figures of scripts/fuzz-long.sh)
#   scripts/deps.sh bench   + hyperfine, libpipeline (peer), python3
#   scripts/deps.sh matrix  + what `make matrix` (scripts/matrix.sh) needs:
#                           clang, musl-tools, dpkg-dev (apt-get source
#                           unpacks cmocka and jansson for musl), the aarch64
#                           cross compiler, qemu-user, and cmocka/jansson for
#                           arm64 through Debian multiarch (adds the arm64
#                           architecture), valgrind, python3
set -eu
what=${1:-build}
pkgs="gcc make cmake pkg-config libjansson-dev libcmocka-dev libcurl4-openssl-dev scdoc"
case "$what" in
  test) pkgs="$pkgs valgrind python3 parallel clang libclang-rt-dev prometheus prometheus-node-exporter nodejs npm curl git rsync tar gzip bzip2 xz-utils abigail-tools meson ninja-build dpkg-dev debhelper lintian fakeroot slurmctld slurmd slurm-client munge iproute2 util-linux clang-tidy cppcheck zsh groff-base python3-dev python3-pytest python3-setuptools python3-venv python3-pip" ;;
  package) pkgs="$pkgs dpkg-dev debhelper lintian fakeroot" ;;
  fuzz) pkgs="$pkgs clang libclang-rt-dev time" ;;
  bench) pkgs="$pkgs hyperfine libpipeline-dev python3 parallel time slurmctld slurmd slurm-client munge iproute2 util-linux" ;;
  matrix) pkgs="$pkgs clang musl-tools dpkg-dev gcc-aarch64-linux-gnu qemu-user
                libcmocka-dev:arm64 libjansson-dev:arm64 valgrind python3" ;;
  build) ;;
  *) echo "usage: $0 build|test|bench|fuzz|matrix|package" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing="$missing $p"
done
# python3 may come from elsewhere (pyenv); accept any python3 on PATH.
case " $missing " in *" python3 "*) command -v python3 >/dev/null && missing=${missing/ python3/} ;; esac
# node and npm may come from elsewhere too (NodeSource's nodejs bundles npm).
for p in nodejs npm; do
  case " $missing " in *" $p "*) command -v node >/dev/null && command -v npm >/dev/null && missing=${missing/ $p/} ;; esac
done
# The OpenTelemetry JS packages the trace tests decode with, exactly as
# tests/otel/package-lock.json pins them, into tests/otel/node_modules.
npm_deps() {
  [ "$what" = test ] || return 0
  local dir
  dir="$(cd "$(dirname "$0")/.." && pwd)/tests/otel"
  command -v npm >/dev/null || return 0
  # Up to date when the lock file we copied after the last install matches.
  cmp -s "$dir/package-lock.json" "$dir/node_modules/.cuprum-lock" 2>/dev/null && return 0
  echo "deps: installing the OpenTelemetry JS test packages (tests/otel)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) &&
    cp "$dir/package-lock.json" "$dir/node_modules/.cuprum-lock"
}
if [ -z "$missing" ]; then
  npm_deps
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  echo "deps: installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  # arm64 packages need the architecture added before the package lists.
  case "$missing" in *:arm64*)
    dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64 ;;
  esac
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
  npm_deps
else
  echo "deps: missing packages:$missing" >&2
  echo "deps: run: sudo apt-get install -y$missing" >&2
  exit 1
fi
