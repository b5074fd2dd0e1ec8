# Thin wrapper over CMake/CTest. See README.md.
#   make          build (release with debug info) into build/
#   make test     build and run the whole suite in four builds (portable
#                 ASan, valgrind, TSan thread tests, default ASan) plus a
#                 clang compile-only build (scripts/test.sh)
#   make demo     the main job: a short real demonstration
#   make bench    benchmarks; results in bench/results/, docs/performance.md
#   make soak     soak and scale run (SOAK_SCALE=1 by default; 0.1 = quick)
#   make soak-sanitize  the long sanitizer runs: the whole suite under TSan,
#                 the CLI tests under valgrind (scripts/soak-sanitize.sh)
#   make matrix   the portability matrix: the whole suite with gcc and clang
#                 at -O0 and -O2, on musl, on aarch64 under qemu-user, and
#                 with the forced fallbacks (scripts/matrix.sh; MATRIX="musl
#                 aarch64" for a subset; docs/portability.md)
#   make install  PREFIX=/usr/local by default
#   make package  Debian packages into build-deb/ (lintian-checked, smoke-
#                 tested against a temporary root; scripts/deb-test.sh)
#   make fuzz     every libFuzzer target (fuzz/) for FUZZ_SECONDS each
#                 (FUZZ_SECONDS=60 by default; needs clang, installed if missing)
PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
# Warnings are errors in the developer build (and in scripts/test.sh, CI);
# `make WERROR=OFF` or a plain cmake configure (see README) builds a release
# without it.
WERROR ?= ON

.PHONY: all build deps test demo bench install clean fuzz package soak soak-sanitize matrix

all: build

deps:
	@scripts/deps.sh build

build: deps
	@echo "building into build/ (log: build/build.log)"
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DCUPRUM_WERROR=$(WERROR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j $(JOBS) >build/build.log 2>&1 || { tail -n 60 build/build.log; exit 1; }

test:
	@scripts/deps.sh test
	@scripts/test.sh

demo: build
	@scripts/demo.sh

bench:
	@scripts/deps.sh bench
	@scripts/bench.sh

soak:
	@scripts/deps.sh build
	@scripts/soak.sh

soak-sanitize:
	@scripts/deps.sh test
	@scripts/soak-sanitize.sh

MATRIX ?=
matrix:
	@scripts/deps.sh test
	@scripts/deps.sh matrix
	@scripts/matrix.sh $(MATRIX)

install: build
	@cmake --install build

package:
	@scripts/deps.sh package
	@scripts/deb-test.sh build-deb

FUZZ_SECONDS ?= 60
# Every libFuzzer target (fuzz/), FUZZ_SECONDS each over its seeds; what
# they find stays in build-fuzz/work/NAME/corpus. Long runs:
# scripts/fuzz-long.sh (docs/reliability.md "Fuzzing").
fuzz:
	@scripts/deps.sh fuzz
	@scripts/fuzz-run.sh build . build-fuzz >/dev/null
	@for src in fuzz/fuzz_*.c; do \
	  t=$$(basename $$src .c); t=$${t#fuzz_}; echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
	  scripts/fuzz-run.sh run build-fuzz/fuzz/fuzz_$$t fuzz/corpus/$$t \
	    build-fuzz/work/$$t $(FUZZ_SECONDS) || exit 1; \
	done

clean:
	rm -rf build build-*
