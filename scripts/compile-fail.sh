#!/usr/bin/env bash
# One compile-fail test: compile-fail.sh CC INCLUDE_DIR FILE.c
#
# FILE.c holds a misuse of the public API under #ifdef CU_MISUSE and the
# correct form in the #else branch, plus one line "/* expect: REGEX */".
# The test passes only when
#   1. the file compiles cleanly (-Wall -Wextra -Werror) without CU_MISUSE:
#      the positive control, so a broken include path or a typo cannot
#      make the misuse "fail" for an unrelated reason;
#   2. it does not compile with -DCU_MISUSE; and
#   3. the compiler's message matches REGEX (grep -E, case-insensitive):
#      it failed for the reason the test is about.
# Exit 77 (ctest SKIP_RETURN_CODE) when the compiler is not installed.
set -u
if [ $# -ne 3 ]; then
  echo "usage: $0 CC INCLUDE_DIR FILE.c" >&2
  exit 2
fi
cc=$1 inc=$2 file=$3
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "SKIP: compiler '$cc' is not installed (scripts/deps.sh installs it)"
  exit 77
fi
expect=$(sed -n 's|^/\* expect: \(.*\) \*/$|\1|p' "$file" | head -n 1)
if [ -z "$expect" ]; then
  echo "FAIL: $file has no '/* expect: REGEX */' line"
  exit 1
fi
# -c, not -fsyntax-only: GCC reports -Wunused-result only when it lowers
# the code (gimplification), after the syntax pass.
flags=(-std=c17 -Wall -Wextra -Werror -c -o /dev/null -I "$inc")
if ! out=$("$cc" "${flags[@]}" "$file" 2>&1); then
  echo "FAIL: the control (misuse removed) does not compile with $cc:"
  printf '%s\n' "$out"
  exit 1
fi
if out=$("$cc" "${flags[@]}" -DCU_MISUSE "$file" 2>&1); then
  echo "FAIL: $cc accepts the misuse in $file"
  exit 1
fi
# Only the diagnostics themselves, without the file name (which may hold
# the very word the test looks for).
errors=$(printf '%s\n' "$out" | grep -i 'error' | sed "s|$file||g")
if ! printf '%s\n' "$errors" | grep -Eqi -- "$expect"; then
  echo "FAIL: $cc rejects $file, but not with /$expect/:"
  printf '%s\n' "$out"
  exit 1
fi
echo "ok: $cc rejects the misuse in $(basename "$file"):"
printf '%s\n' "$errors" | grep -Ei -- "$expect" | head -n 3
