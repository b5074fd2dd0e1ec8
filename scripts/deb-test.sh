#!/usr/bin/env bash
# Build the Debian packages from a temporary copy of the tree, check them
# with lintian, unpack them into a temporary root and build and run the
# consumer and debian/tests/smoke against that root (ctest
# packaging.deb; `make package`).
#   scripts/deb-test.sh [WORKDIR]     (default build-deb/)
# The packages are NOT installed into the machine (dpkg -i): this machine
# is shared, and a failed run must not leave /usr changed. `dpkg -x` into
# WORKDIR/root gives the same files at the same paths under a prefix; the
# .pc files name /usr, so the consumer uses PKG_CONFIG_SYSROOT_DIR.
# The .deb files stay in WORKDIR for `dpkg -i` by whoever wants them.
# Exit 77 = skipped (tools missing), with the reason.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mkdir -p "${1:-$src/build-deb}" && cd "${1:-$src/build-deb}" && pwd)
for t in dpkg-buildpackage dh lintian fakeroot; do
  command -v $t >/dev/null || { echo "deb-test: SKIP: $t missing (dpkg-dev debhelper lintian fakeroot; scripts/deps.sh package)"; exit 77; }
done
missing=$(cd "$src" && dpkg-checkbuilddeps 2>&1 | sed -n 's/.*Unmet build dependencies: //p')
[ -z "$missing" ] || { echo "deb-test: SKIP: unmet build dependencies: $missing"; exit 77; }

rm -rf "$work/src" "$work/root" "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo
mkdir -p "$work/src/cuprum"
# The tracked files as they are in the worktree (committed or not).
(cd "$src" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$src" && xargs -0 cp --parents -t "$work/src/cuprum")
cd "$work/src/cuprum"
echo "deb-test: dpkg-buildpackage -us -uc -b (log: $work/build.log)"
if ! nice -n 10 dpkg-buildpackage -us -uc -b -j2 >"$work/build.log" 2>&1; then
  tail -n 60 "$work/build.log"; echo "deb-test: dpkg-buildpackage failed"; exit 1
fi
cd "$work/src"
mv ./*.deb ./*.changes ./*.buildinfo "$work/"
cd "$work"
ls -1 ./*.deb
for p in libcuprum0 libcuprum-otel0 libcuprum-dev cuprum; do
  ls ./${p}_*.deb >/dev/null 2>&1 || { echo "deb-test: package $p was not built"; exit 1; }
done

echo "deb-test: lintian"
# Errors and warnings fail; info/pedantic tags are printed. Overrides, each
# with its reason, live in debian/*.lintian-overrides.
lintian --fail-on error,warning --info ./*.changes | tee "$work/lintian.log"

echo "deb-test: unpacking into $work/root (dpkg -x)"
for d in ./*.deb; do dpkg -x "$d" "$work/root"; done
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
test -e "$work/root/usr/lib/$ma/libcuprum.so.0"
test -e "$work/root/usr/lib/$ma/pkgconfig/cuprum.pc"
test -e "$work/root/usr/lib/$ma/cmake/cuprum/cuprumConfig.cmake"
grep -qx "libdir=\${prefix}/lib/$ma" "$work/root/usr/lib/$ma/pkgconfig/cuprum.pc"
# The man pages (compressed by dh_compress) and the shell completion.
test -e "$work/root/usr/share/man/man1/cuprum.1.gz"
test -e "$work/root/usr/share/man/man3/cu_run.3.gz"
test -e "$work/root/usr/share/bash-completion/completions/cuprum"
test -e "$work/root/usr/share/zsh/vendor-completions/_cuprum"
# Listings captured first: `dpkg-deb -c | grep -q` under pipefail fails
# when grep exits at the first match and dpkg-deb's tar gets SIGPIPE.
list=$(dpkg-deb -c ./cuprum_*.deb)
grep -q 'usr/share/man/man1/cuprum.1' <<<"$list"
list=$(dpkg-deb -c ./libcuprum-dev_*.deb)
grep -q 'usr/share/man/man3/cu_parallel.3' <<<"$list"

echo "deb-test: debian/tests/smoke against the unpacked packages"
CUPRUM_ROOT="$work/root" sh "$src/debian/tests/smoke"

echo "deb-test: examples/consumer with find_package against the unpacked packages"
cmake -S "$src/examples/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/root/usr" \
  -DCONSUMER_OTEL=ON >"$work/consumer.log" 2>&1 && cmake --build "$work/consumer" >>"$work/consumer.log" 2>&1 ||
  { cat "$work/consumer.log"; echo "deb-test: consumer build failed"; exit 1; }
LD_LIBRARY_PATH="$work/root/usr/lib/$ma" "$work/consumer/consumer"
got=$(LD_LIBRARY_PATH="$work/root/usr/lib/$ma" ldd "$work/consumer/consumer" | sed -n 's/.*libcuprum\.so\.0 => \([^ ]*\).*/\1/p')
case "$got" in "$work/root/"*) echo "consumer loads $got" ;; *) echo "deb-test: consumer loads '$got'"; exit 1 ;; esac
echo "deb-test: ok"
