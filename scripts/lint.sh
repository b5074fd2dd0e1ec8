#!/usr/bin/env bash
# Static checks over Cuprum's own C (src/, tools/, otel/):
#   lint.sh clang-tidy BUILD_DIR   .clang-tidy, with BUILD_DIR's
#                                  compile_commands.json
#   lint.sh cppcheck               .cppcheck-suppressions, each explained
# Any finding fails (exit 1). Exit 77 (ctest SKIP_RETURN_CODE) with the
# reason when the tool is not installed. JOBS (default 2) runs in parallel.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tool=${1:-}
jobs=${JOBS:-2}
need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "SKIP: $1 is not installed (scripts/deps.sh test installs it)"
    exit 77
  fi
}
case "$tool" in
clang-tidy)
  need clang-tidy
  need python3
  build=${2:?usage: $0 clang-tidy BUILD_DIR}
  # Our own files only, and without GCC-only flags clang does not know
  # (-fanalyzer in a CUPRUM_ANALYZER build).
  db=$(mktemp -d)
  trap 'rm -rf "$db"' EXIT
  python3 - "$build/compile_commands.json" "$db/compile_commands.json" \
    "$root" <<'PY' || exit 1
import json, sys
src, dst, root = sys.argv[1:]
keep = [root + "/" + d + "/" for d in ("src", "tools", "otel")]
out = []
for e in json.load(open(src)):
    if any(e["file"].startswith(k) for k in keep):
        e["command"] = " ".join(w for w in e["command"].split()
                                if not w.startswith("-fanalyzer"))
        out.append(e)
json.dump(out, open(dst, "w"))
print(f"clang-tidy: {len(out)} files", file=sys.stderr)
PY
  python3 -c 'import json,sys; [print(e["file"]) for e in json.load(open(sys.argv[1]))]' \
    "$db/compile_commands.json" | sort -u |
    xargs -P "$jobs" -n 4 clang-tidy -p "$db" --quiet 2>&1 |
    grep -v '^[0-9]* warnings\? generated\.$' | tee "$db/out"
  if grep -q -E '(error|warning):' "$db/out"; then
    echo "lint: clang-tidy reported findings (see above)"
    exit 1
  fi
  echo "lint: clang-tidy clean"
  ;;
cppcheck)
  need cppcheck
  cd "$root" || exit 1
  # One job: cppcheck's whole-program (CTU) checks run only without -j, and
  # the result must not depend on the machine.
  cppcheck -q --std=c11 --library=posix \
    --enable=warning,style,portability,performance --inline-suppr \
    --error-exitcode=1 -D_GNU_SOURCE -DCUPRUM_BUILDING -D__linux__ \
    -D__GNUC__=12 -Iinclude -Isrc --suppress=missingIncludeSystem \
    --suppressions-list=.cppcheck-suppressions src tools otel || {
    echo "lint: cppcheck reported findings (see above)"
    exit 1
  }
  echo "lint: cppcheck clean"
  ;;
*)
  echo "usage: $0 clang-tidy BUILD_DIR | cppcheck" >&2
  exit 2
  ;;
esac
