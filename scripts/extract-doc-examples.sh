#!/usr/bin/env bash
# Extract every ```c block of the given Markdown files that is a complete
# program (contains "int main(") into OUT_DIR/<doc>_<n>.c. The build compiles
# each one against libcuprum and ctest runs it (docs must stay runnable).
set -eu
out=$1; shift
mkdir -p "$out"
rm -f "$out"/*.c
for md in "$@"; do
  base=$(basename "$md" .md | tr -c 'A-Za-z0-9_\n' '_')
  awk -v out="$out" -v base="$base" '
    /^```c[[:space:]]*$/ { inblock = 1; buf = ""; next }
    /^```/ && inblock {
      inblock = 0
      if (buf ~ /int main\(/) { n++; f = out "/" base "_" n ".c"; printf "%s", buf > f; close(f) }
      next
    }
    inblock { buf = buf $0 "\n" }
  ' "$md"
done
