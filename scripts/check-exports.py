#!/usr/bin/env python3
"""Check a shared library's dynamic symbol table against its public API.

  check-exports.py --lib libcuprum.so --node CUPRUM_0 --prefix cu_ \
      --cc cc --nm nm --include include cuprum/cuprum.h
  check-exports.py --self-test --cc cc --nm nm

Fails when the library exports (nm -D --defined-only) any name that is not
a public one (prefix, and not prefix + '_', the internals' cu__), any name
outside the versioned node, or when a function declared by the public
header (preprocessed by --cc) is missing: a new public header left out of
cuprum/cuprum.h would otherwise be hidden by -fvisibility=hidden
(src/base/export.h). docs/design.md "Symbols, soname and the ABI baseline".
"""
import argparse, os, re, subprocess, sys, tempfile


def exports(nm, lib):
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        syms.append((parts[1], parts[2]))
    return syms


def declared(cc, include, header, prefix):
    src = f"#include <{header}>\n"
    out = subprocess.run([cc, "-E", "-P", "-D_GNU_SOURCE", "-I", include, "-x", "c", "-"],
                         input=src, check=True, capture_output=True, text=True).stdout
    names = set(re.findall(r"(?<!\w)(%s[A-Za-z0-9_]+)\s*\(" % re.escape(prefix), out))
    static = set(re.findall(r"\bstatic\b[^;{}]*?\b(%s[A-Za-z0-9_]+)\s*\(" % re.escape(prefix), out))
    return {n for n in names - static if not n.startswith(prefix + "_")}


def check(lib, node, prefix, nm, cc=None, include=None, headers=()):
    errors = []
    names = set()
    for kind, sym in exports(nm, lib):
        # The version node itself: GNU nm prints "CUPRUM_0", llvm-nm (what
        # CMake picks with clang) "CUPRUM_0@@CUPRUM_0".
        if kind == "A" and sym.partition("@")[0] == node:
            continue
        name, _, version = sym.partition("@")
        version = version.lstrip("@")
        names.add(name)
        if not name.startswith(prefix) or name.startswith(prefix + "_"):
            errors.append(f"exports a non-public symbol: {sym} ({kind})")
        elif version != node:
            errors.append(f"exports {name} outside the version node {node}: {sym}")
    want = set()
    for h in headers:
        want |= declared(cc, include, h, prefix)
    for name in sorted(want - names):
        errors.append(f"declared in the public headers but not exported: {name}")
    for e in errors:
        print(f"{os.path.basename(lib)}: {e}")
    if not errors:
        print(f"{os.path.basename(lib)}: {len(names)} symbols, all {prefix}* in {node}"
              + (f", every one of the {len(want)} declared functions exported" if headers else ""))
    return not errors


def self_test(cc, nm):
    """The check must fail on a leaked internal, an unversioned export and a
    declared function the library lacks, and pass on a clean library."""
    with tempfile.TemporaryDirectory() as d:
        inc = os.path.join(d, "inc")
        os.makedirs(os.path.join(inc, "t"))
        with open(os.path.join(inc, "t", "t.h"), "w") as f:
            f.write("int t_ok(void);\nint t_missing(void);\n")
        c = os.path.join(d, "t.c")
        with open(c, "w") as f:
            f.write("int t_ok(void){return 0;}\nint t__internal(void){return 1;}\n"
                    "int helper(void){return 2;}\n")
        good = os.path.join(d, "good.map")
        with open(good, "w") as f:
            f.write("T_0 { global: t_[!_]*; local: *; };\n")
        leaky = os.path.join(d, "leaky.map")
        with open(leaky, "w") as f:
            f.write("T_0 { global: *; };\n")

        def build(name, flags):
            so = os.path.join(d, name)
            subprocess.run([cc, "-shared", "-fPIC", "-o", so, c] + flags, check=True)
            return so
        ok = build("good.so", ["-Wl,--version-script=" + good])
        bad = build("leaky.so", ["-Wl,--version-script=" + leaky])
        plain = build("plain.so", [])
        cases = [
            ("clean library", check(ok, "T_0", "t_", nm), True),
            ("leaked internals", check(bad, "T_0", "t_", nm), False),
            ("no version node", check(plain, "T_0", "t_", nm), False),
            ("declared, not exported", check(ok, "T_0", "t_", nm, cc, inc, ["t/t.h"]), False),
        ]
        failed = [n for n, got, want in cases if got != want]
        for n in failed:
            print(f"self-test: the check got '{n}' wrong")
        return not failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib")
    ap.add_argument("--node")
    ap.add_argument("--prefix", default="cu_")
    ap.add_argument("--nm", default="nm")
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--include")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("headers", nargs="*")
    a = ap.parse_args()
    if a.self_test:
        return 0 if self_test(a.cc, a.nm) else 1
    return 0 if check(a.lib, a.node, a.prefix, a.nm, a.cc, a.include, a.headers) else 1


if __name__ == "__main__":
    sys.exit(main())
