#!/usr/bin/env python3
"""Check that libcuprum's layers depend on each other in one direction only.

    scripts/check-layers.py [--src DIR] [--nm NM] [--doc FILE] [--graph] OBJECT...
    scripts/check-layers.py --self-test [--cc CC] [--nm NM]

Every folder of src/ is a layer; LAYERS below declares their order. The real
dependency graph between files is derived from two sources:

  * `#include "layer/file.h"` lines in every .c and .h of src/ (types and
    inline code are dependencies too), and
  * the object files' symbols (`nm`): an object that needs (U) a symbol
    another object defines depends on that object, even when the call goes
    through a declaration in a public header; a weak definition overridden
    by a strong one elsewhere depends on the overriding file.

It fails (exit 1) on:
  * an edge from a file of layer A to a file of layer B where B is not
    strictly below A (upward, or sideways between layers of the same rank);
  * a file-level cycle whose files belong to more than one layer, and a
    cycle inside one layer unless ALLOWED_CYCLES declares it (the event
    loop and its jobs);
  * a folder of src/ that is not a declared layer, or a .c file for which
    no object was given (so the symbol check cannot silently see nothing);
  * with --doc (docs/design.md): a file of src/ the document does not name
    as `layer/file` in its file map.

ctest runs it as the test `layers` on the library's objects of the build
being tested, and `layers.selftest` proves it catches violations.
"""
import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

# The declared order: a layer may depend only on layers of a lower rank.
# Layers of the same rank are independent of each other.
LAYERS = {
    "base": 0,       # errors, allocation, fds, clocks, text formatting
    "stream": 1,     # moving and decoding bytes: pumps, capture, lines
    "catalogue": 1,  # what may run: catalogues, resolution, commands
    "spawn": 1,      # how one process starts and ends: posix_spawn, pidfd
    "context": 2,    # scopes, hooks, policy, events, logging
    "runtime": 3,    # jobs on an event loop: run, pipelines, parallel
    "telemetry": 3,  # metrics and traces: observers of the context layer
}

# File-level cycles allowed inside one layer. Any other cycle, inside a
# layer or across layers, fails: an event loop and its jobs need each other
# (loop.c dispatches events to jobs, jobs register their fds with the loop;
# job_setup.c and job.c are one state machine split for size), nothing else
# should.
ALLOWED_CYCLES = [
    {"runtime/loop.c", "runtime/job.c", "runtime/job_setup.c"},
]

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(rel):
    return rel.split("/", 1)[0] if "/" in rel else None


def scan_sources(src):
    """Relative paths of every .c/.h under src, and problems found."""
    files, problems = [], []
    for entry in sorted(os.listdir(src)):
        full = os.path.join(src, entry)
        if os.path.isdir(full):
            if entry not in LAYERS:
                problems.append(f"src/{entry}/ is not a declared layer "
                                f"(declare it in LAYERS in {sys.argv[0]})")
                continue
            for root, _, names in os.walk(full):
                for n in sorted(names):
                    if n.endswith((".c", ".h")):
                        files.append(os.path.relpath(os.path.join(root, n), src))
        elif entry.endswith((".c", ".h")):
            problems.append(f"src/{entry} is outside every layer folder")
    return files, problems


def include_edges(src, files):
    """{(from, to): evidence} for includes of another src file."""
    edges = {}
    known = set(files)
    for rel in files:
        with open(os.path.join(src, rel), encoding="utf-8") as f:
            text = f.read()
        for m in INCLUDE_RE.finditer(text):
            target = m.group(1)
            if target in known and target != rel:
                line = text.count("\n", 0, m.start()) + 1
                edges.setdefault((rel, target), []).append(
                    f'{rel}:{line}: #include "{target}"')
    return edges


def object_source(obj, src):
    """src-relative .c path an object was compiled from (CMake names objects
    <...>/src/<layer>/<file>.c.o)."""
    path = os.path.abspath(obj).replace(os.sep, "/")
    m = re.search(r"/src/([^/]+/[^/]+\.c)\.o(bj)?$", path)
    return m.group(1) if m else None


def symbol_edges(objects, src, nm):
    """{(from, to): evidence} from defined/undefined symbols, and the set of
    sources that had an object."""
    rel_of = {}
    for o in objects:
        rel = object_source(o, src)
        if rel is None:
            sys.exit(f"check-layers: cannot tell which src/ file {o} comes from")
        rel_of[os.path.abspath(o)] = rel
    if not objects:
        return {}, set()
    out = subprocess.run([nm, "-A", "-P"] + objects, check=True,
                         capture_output=True, text=True).stdout
    strong, weak = collections.defaultdict(set), collections.defaultdict(set)
    uses = collections.defaultdict(set)
    for line in out.splitlines():
        head, _, rest = line.partition(": ")
        parts = rest.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        rel = rel_of.get(os.path.abspath(head))
        if rel is None:
            continue
        if kind in ("U", "w", "v"):
            uses[rel].add(name)
        elif kind in ("W", "V"):
            weak[name].add(rel)
        elif kind.isupper():
            strong[name].add(rel)
    edges = {}
    for rel, names in uses.items():
        for name in sorted(names):
            for d in strong.get(name, set()) | weak.get(name, set()):
                if d != rel:
                    edges.setdefault((rel, d), []).append(name)
    for name, files in weak.items():
        for w in files:
            for s in strong.get(name, set()):
                if s != w:
                    edges.setdefault((w, s), []).append(
                        f"{name} (weak here, overridden there)")
    evidence = {k: [f"{k[0]} uses {', '.join(v[:6])}"
                    + (f" and {len(v) - 6} more" if len(v) > 6 else "")
                    + f" from {k[1]}"] for k, v in edges.items()}
    return evidence, set(rel_of.values())


def sccs(nodes, adj):
    """Tarjan's strongly connected components (iterative)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(adj.get(root, ()))))]
        index[root] = low[root] = counter[0]; counter[0] += 1
        stack.append(root); on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]; counter[0] += 1
                    stack.append(w); on.add(w)
                    work.append((w, iter(sorted(adj.get(w, ())))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop(); on.discard(w); comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def undocumented(src, doc):
    """Files of src/ (any kind) the document does not mention in backquotes."""
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    missing = []
    for root, _, names in os.walk(src):
        for n in sorted(names):
            rel = os.path.relpath(os.path.join(root, n), src).replace(os.sep, "/")
            if f"`{rel}`" not in text and f"`src/{rel}`" not in text:
                missing.append(rel)
    return missing


def check(src, objects, nm, show_graph=False, quiet=False, doc=None):
    files, problems = scan_sources(src)
    if doc:
        for rel in undocumented(src, doc):
            problems.append(f"src/{rel} is missing from the file map in {doc}")
    edges = include_edges(src, files)
    sym, covered = symbol_edges(objects, src, nm)
    for k, v in sym.items():
        edges.setdefault(k, []).extend(v)
    if objects:
        for rel in files:
            if rel.endswith(".c") and rel not in covered:
                problems.append(f"no object given for src/{rel}: its symbols "
                                "were not checked")
    layer_edges = collections.defaultdict(list)
    for (a, b), ev in sorted(edges.items()):
        la, lb = layer_of(a), layer_of(b)
        if la != lb:
            layer_edges[(la, lb)].extend(ev)
    for (la, lb), ev in sorted(layer_edges.items()):
        if LAYERS[lb] >= LAYERS[la]:
            how = "upward" if LAYERS[lb] > LAYERS[la] else "between peers"
            problems.append(f"layer {la} depends on {lb} ({how}; declared "
                            f"order: {order_text()}):\n    "
                            + "\n    ".join(ev))
    adj = collections.defaultdict(set)
    for a, b in edges:
        adj[a].add(b)
    for comp in sccs(files, adj):
        layers = sorted({layer_of(f) for f in comp})
        if len(comp) > 1 and len(layers) > 1:
            problems.append("file-level cycle across layers "
                            f"{', '.join(layers)}: {' <-> '.join(comp)}")
        elif len(comp) > 1 and not any(set(comp) <= ok
                                       for ok in ALLOWED_CYCLES):
            problems.append(f"file-level cycle inside layer {layers[0]} "
                            f"(not in ALLOWED_CYCLES): {' <-> '.join(comp)}")
    if show_graph:
        for (la, lb), ev in sorted(layer_edges.items()):
            print(f"{la} -> {lb} ({len(ev)} reasons)")
    for p in problems:
        print(f"check-layers: {p}")
    if not quiet:
        n_sym = sum(1 for v in sym.values())
        print(f"check-layers: {len(files)} files, {len(objects)} objects, "
              f"{len(edges)} file edges ({n_sym} from symbols), "
              f"{len(layer_edges)} layer edges: "
              + ("FAIL" if problems else "OK"))
    return not problems


def order_text():
    ranks = collections.defaultdict(list)
    for name, r in LAYERS.items():
        ranks[r].append(name)
    return " <- ".join(", ".join(ranks[r]) for r in sorted(ranks))


def self_test(cc, nm):
    """The checker must pass a clean tree and fail each kind of violation."""
    cases = {
        "clean": ({
            "base/a.c": "int cu__a(void);\nint cu__a(void) { return 1; }\n",
            "runtime/b.c": '#include "base/a.h"\nint cu__b(void);\n'
                           "int cu__b(void) { return cu__a(); }\n",
            "base/a.h": "int cu__a(void);\n",
        }, True),
        # base calls into runtime through a declaration of its own: only
        # the symbols show it.
        "upward call": ({
            "base/a.c": "int cu__b(void);\nint cu__a(void);\n"
                        "int cu__a(void) { return cu__b(); }\n",
            "runtime/b.c": "int cu__b(void);\nint cu__b(void) { return 1; }\n",
        }, False),
        # a weak default in base that runtime overrides.
        "weak override": ({
            "base/a.c": "void cu__hook(void);\n"
                        "__attribute__((weak)) void cu__hook(void) {}\n",
            "runtime/b.c": "void cu__hook(void);\nvoid cu__hook(void) {}\n",
        }, False),
        # peers: stream includes a catalogue header.
        "peer include": ({
            "stream/s.c": '#include "catalogue/c.h"\nint cu__s(void);\n'
                          "int cu__s(void) { return 0; }\n",
            "catalogue/c.h": "struct cu__c { int x; };\n",
        }, False),
        "undeclared folder": ({"extra/e.c": "int cu__e(void);\n"
                               "int cu__e(void) { return 0; }\n"}, False),
        # two files of one layer calling each other, not declared allowed.
        "cycle in a layer": ({
            "stream/a.c": "int cu__b(void);\nint cu__a(void);\n"
                          "int cu__a(void) { return cu__b(); }\n",
            "stream/b.c": "int cu__a(void);\nint cu__b(void);\n"
                          "int cu__b(void) { return cu__a(); }\n",
        }, False),
    }
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name, (tree, want) in cases.items():
            src = os.path.join(tmp, name.replace(" ", "_"), "src")
            objs = []
            for rel, text in tree.items():
                path = os.path.join(src, rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
            for rel in tree:
                if rel.endswith(".c"):
                    obj = os.path.join(src, rel + ".o")
                    subprocess.run([cc, "-c", "-I", src, "-o", obj,
                                    os.path.join(src, rel)], check=True)
                    objs.append(obj)
            got = check(src, objs, nm, quiet=True)
            verdict = "ok" if got == want else "WRONG"
            print(f"self-test: {name}: {'passes' if got else 'fails'} "
                  f"(expected to {'pass' if want else 'fail'}): {verdict}")
            ok &= got == want
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "src"))
    ap.add_argument("--nm", default=os.environ.get("NM", "nm"))
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--doc", help="design document whose file map must "
                    "name every file of src/")
    ap.add_argument("--graph", action="store_true",
                    help="print the layer edges found")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("objects", nargs="*")
    args = ap.parse_args()
    if args.self_test:
        return 0 if self_test(args.cc, args.nm) else 1
    return 0 if check(os.path.normpath(args.src), args.objects, args.nm,
                      args.graph, doc=args.doc) else 1


if __name__ == "__main__":
    sys.exit(main())
