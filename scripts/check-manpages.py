#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks of the man pages and the shell completion (ctest label `docs`).

  drift      every subcommand `cuprum --help` lists has a section in
             man/cuprum.1.scd and docs/cli.md, and every long option each
             `cuprum SUB --help` prints appears in both, and in the bash and
             zsh completion, so none can drift from the CLI.
  scdoc      every man/*.scd converts with scdoc, and the output is clean
             under `groff -man -ww -z` (and `man --warnings -l` if present).
  bash       the bash completion, sourced in `bash --norc`, completes
             subcommands, options and catalogue program names.
  zsh        `zsh -n` parses the zsh completion.

Exit 77 (ctest SKIP_RETURN_CODE) with the reason when a tool is missing.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, check=False,
                          timeout=60, **kw)


def subcommands(cuprum):
    out = run([cuprum, "--help"]).stdout
    block = out.split("Subcommands:", 1)[1].split("\n\n", 1)[0]
    subs = [ln.split()[0] for ln in block.splitlines() if ln.strip()]
    if not subs:
        sys.exit("no subcommands found in `cuprum --help`")
    return subs


# A long option of the help text: not one inside another option's value
# (`--slurm-opt=--mem=1G`) nor an srun option quoted in prose.
OPT = re.compile(r"(?<![=\w-])(?<!srun )--[a-z][a-z0-9-]*")


def long_options(cuprum, sub):
    p = run([cuprum, sub, "--help"], stdin=subprocess.DEVNULL)
    return sorted(set(OPT.findall(p.stdout + p.stderr)))


def has_option(text, opt):
    return re.search(re.escape(opt) + r"(?![a-z0-9-])", text) is not None


def drift(a):
    man = open(a.man).read()
    cli = open(a.cli_md).read()
    comps = {p: open(p).read() for p in a.completion}
    errors = []
    for sub in subcommands(a.cuprum):
        if not re.search(rf"^# {re.escape(sub.upper())}$", man, re.M):
            errors.append(f"{a.man}: no '# {sub.upper()}' section")
        if not re.search(rf"^##+ `cuprum {re.escape(sub)}`", cli, re.M):
            errors.append(f"{a.cli_md}: no '## `cuprum {sub}`' section")
        for p, text in comps.items():
            if not re.search(rf"\b{re.escape(sub)}\b", text):
                errors.append(f"{p}: no subcommand {sub}")
        for opt in long_options(a.cuprum, sub):
            for path, text in [(a.man, man), (a.cli_md, cli), *comps.items()]:
                if not has_option(text, opt):
                    errors.append(f"{path}: `cuprum {sub}` option {opt} "
                                  "is missing")
    for e in errors:
        print(e)
    print(f"checked {a.man}, {a.cli_md} and {len(comps)} completion files")
    return 1 if errors else 0


def scdoc(a):
    tool = shutil.which("scdoc")
    if not tool:
        skip("scdoc is not installed (Debian package scdoc)")
    groff = shutil.which("groff")
    man = shutil.which("man")
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for src in sorted(a.pages):
            page = os.path.join(tmp, os.path.basename(src)[:-4])
            with open(src) as fin, open(page, "w") as fout:
                p = subprocess.run([tool], stdin=fin, stdout=fout,
                                   stderr=subprocess.PIPE, text=True,
                                   check=False, timeout=60)
            if p.returncode != 0:
                print(f"{src}: scdoc failed: {p.stderr.strip()}")
                bad += 1
                continue
            if os.path.getsize(page) == 0:
                print(f"{src}: scdoc wrote nothing")
                bad += 1
                continue
            checks = []
            if groff:
                checks.append([groff, "-man", "-ww", "-z", page])
            if man:
                checks.append([man, "--warnings", "-l", page])
            for argv in checks:
                env = dict(os.environ, MANPAGER="cat", PAGER="cat",
                           MANWIDTH="80")
                p = run(argv, env=env)
                if p.returncode != 0 or p.stderr.strip():
                    print(f"{src}: {' '.join(argv[:-1])}: rc {p.returncode}"
                          f"\n{p.stderr.strip()}")
                    bad += 1
            print(f"{src}: ok ({len(checks)} formatter checks)")
        if not groff and not man:
            print("note: neither groff nor man is installed: only scdoc ran")
    if len(a.pages) < 2:
        print("expected cuprum.1 and the section-3 pages")
        bad += 1
    return 1 if bad else 0


BASH_DRIVER = r'''
source "$1"
t() {
  COMP_WORDS=("${@:2}"); COMP_CWORD=$(($# - 2)); COMPREPLY=()
  _cuprum
  printf '%s\t%s\n' "$1" "${COMPREPLY[*]}"
}
t subs cuprum ''
t sub_ca cuprum ca
t run_prog cuprum run -- ca
t run_prog_noddash cuprum run --timeout 3 ec
t run_opt cuprum run --wait
t par_opt cuprum parallel --fail
t par_prog cuprum parallel --args items.txt -- gre
t cat_opt cuprum catalogue --na
t log_val cuprum run --log j
t allow_prog cuprum run --allow "$2" -- cupr
t cat_file cuprum run --catalogue "$3" -- only
'''


def bash(a):
    sh = shutil.which("bash")
    if not sh:
        skip("bash is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        # A catalogue file of one program: completion must honour it.
        catfile = os.path.join(tmp, "cat.json")
        with open(catfile, "w") as f:
            f.write('{"projects": [{"name": "t", "programs": '
                    '[{"name": "onlyecho", "path": "/bin/echo"}]}]}\n')
        driver = os.path.join(tmp, "driver.sh")
        with open(driver, "w") as f:
            f.write(BASH_DRIVER)
        env = dict(os.environ,
                   PATH=os.path.dirname(os.path.abspath(a.cuprum)) + ":"
                   + os.environ.get("PATH", "/usr/bin:/bin"))
        p = run([sh, "--norc", "--noprofile", driver, a.script,
                 os.path.abspath(a.cuprum), catfile], env=env)
        print(p.stdout + p.stderr)
        got = dict(ln.split("\t", 1) for ln in p.stdout.splitlines()
                   if "\t" in ln)
        names = run([a.cuprum, "catalogue", "--catalogue", catfile,
                     "--names"]).stdout.split()
    want = {
        "subs": "run parallel catalogue exec-item doctor",
        "sub_ca": "catalogue",
        "run_prog": "cat",
        "run_prog_noddash": "echo",
        "run_opt": "--wait-all",
        "par_opt": "--fail-fast",
        "par_prog": "grep",
        "cat_opt": "--names",
        "log_val": "json",
        "allow_prog": "cuprum",
        "cat_file": "onlyecho" if names == ["onlyecho"] else "<catalogue "
                    f"file not understood: {names}>",
    }
    bad = 0
    for k, v in want.items():
        if got.get(k) != v:
            print(f"{k}: want {v!r}, got {got.get(k)!r}")
            bad += 1
    return 1 if bad or p.returncode != 0 else 0


def zsh(a):
    z = shutil.which("zsh")
    if not z:
        skip("zsh is not installed (Debian package zsh)")
    p = run([z, "-n", a.script])
    print(p.stdout + p.stderr)
    first = open(a.script).readline().strip()
    if first != "#compdef cuprum":
        print(f"{a.script}: first line is {first!r}, not '#compdef cuprum'")
        return 1
    return p.returncode


def main():
    ap = argparse.ArgumentParser()
    sp = ap.add_subparsers(dest="mode", required=True)
    d = sp.add_parser("drift")
    d.add_argument("--cuprum", required=True)
    d.add_argument("--man", required=True)
    d.add_argument("--cli-md", required=True)
    d.add_argument("--completion", nargs="*", default=[])
    s = sp.add_parser("scdoc")
    s.add_argument("pages", nargs="+")
    b = sp.add_parser("bash")
    b.add_argument("--cuprum", required=True)
    b.add_argument("script")
    z = sp.add_parser("zsh")
    z.add_argument("script")
    a = ap.parse_args()
    sys.exit({"drift": drift, "scdoc": scdoc, "bash": bash,
              "zsh": zsh}[a.mode](a))


if __name__ == "__main__":
    main()
