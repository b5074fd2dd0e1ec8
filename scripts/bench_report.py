#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turn bench/results/*.json into markdown tables.

  bench_report.py RESULTS_DIR [PERFORMANCE_MD]

Writes RESULTS_DIR/summary.md, and when PERFORMANCE_MD is given replaces
the text between its "<!-- bench:begin -->" and "<!-- bench:end -->"
markers with the same tables. Each goal row is computed from figures of
the same `make bench` run: a ratio from one program is a paired ratio
(median of same-round ratios); a ratio across programs (Cuprum against
Python) is a ratio of medians.
"""
import glob
import json
import os
import sys

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def load(results):
    data = {}
    for path in sorted(glob.glob(os.path.join(results, "*.json"))):
        try:
            with open(path) as f:
                data[os.path.basename(path)[:-5]] = json.load(f)
        except (OSError, ValueError) as e:
            print(f"bench_report: {path}: {e}", file=sys.stderr)
    return data


def figure(data, bench, name):
    for fig in data.get(bench, {}).get("figures", []):
        if fig["name"] == name:
            return fig["median"]
    return None


def derived(data, bench, prefix):
    for d in data.get(bench, {}).get("derived", []):
        if d["name"].startswith(prefix):
            return d["value"]
    return None


def python_peer(data, prefer="3.12"):
    """The Python subprocess results: 3.12 when present, else any."""
    names = sorted(k for k in data if k.startswith("peer_python-"))
    for k in names:
        if k.split("-", 1)[1].startswith(prefer):
            return k
    return names[0] if names else None


def paired_or(data, prefix, fallback):
    """The same-round ratio from bench_peers, else the ratio of medians."""
    value = derived(data, "peers", prefix)
    return value if value is not None else fallback


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def goal_rows(data):
    pmib = data.get("python_pkg", {}).get("mib", 100)
    py = python_peer(data)
    sp, cap, pip = "spawn", "capture", "pipeline"
    rows = [
        ("Spawn /bin/true: cu_run (inherit) / raw posix_spawn", "<= 1.05",
         derived(data, sp, "cu_run_inherit / raw"), "x"),
        ("Spawn: cu_run (default capture) / raw posix_spawn", "",
         derived(data, sp, "cu_run_capture / raw"), "x"),
        ("Spawn: raw posix_spawn with cu_run's attributes / plain raw", "",
         derived(data, sp, "raw with cu_run's spawn attributes"), "x"),
        ("Spawn, parent 1 GiB: cu_run (inherit) / raw posix_spawn", "<= 1.05",
         derived(data, sp, "gib: cu_run_inherit"), "x"),
        ("Spawn, 1 GiB parent / small parent: cu_run capture", "<= 1.10",
         derived(data, sp, "gib_cu_run_capture / cu_run_capture"), "x"),
        ("Spawn, parent 1 GiB: fork+exec+waitpid, ms", "(contrast)",
         ratio(figure(data, sp, "gib_fork_exec"), 1000.0), "ms"),
        ("Spawn, parent 1 GiB: cu_run capture, ms", "",
         ratio(figure(data, sp, "gib_cu_run_capture"), 1000.0), "ms"),
        ("Spawn /bin/true with one rlimit (clone3 path) / unconfined", "",
         derived(data, "contain", "rlimit (clone3 path)"), "x"),
        ("Spawn /bin/true contained (own cgroup) / unconfined", "<= 1.2",
         derived(data, "contain", "contained / unconfined"), "x"),
        ("Spawn, captured: cu_run vs Python subprocess.run (speed)", "",
         paired_or(data, "run_true_capture: cuprum vs py_subprocess",
                   ratio(figure(data, py, "py_subprocess_run_true_capture"),
                         figure(data, sp, "cu_run_capture"))), "x"),
        ("Capture 100 MiB from cat, GB/s", ">= 1.0",
         figure(data, cap, "cu_run_capture"), "GB/s"),
        ("Capture 100 MiB: raw posix_spawn + read loop, 64 KiB pipe, GB/s", "",
         figure(data, cap, "raw_read_loop_capture"), "GB/s"),
        ("Capture 100 MiB: the same raw loop, pipe raised to 1 MiB, GB/s", "",
         figure(data, cap, "raw_read_loop_capture_1m_pipe"), "GB/s"),
        ("Capture 100 MiB: cu_run / raw loop with 1 MiB pipe (speed)", "",
         derived(data, cap, "cu_run_capture / raw read loop with a 1 MiB"),
         "x"),
        ("Capture 100 MiB: memcpy of the payload (ceiling), GB/s", "",
         figure(data, cap, "memcpy_ceiling"), "GB/s"),
        ("Capture: splice / readwrite speed, 100 MiB · 1 MiB · 1 KB", "",
         ("100 MiB: splice", "1 MiB: splice", "1 KB: splice"), "multi"),
        ("100 MiB echo · tee to /dev/null: splice / readwrite speed", "",
         ("echo to /dev/null: splice", "tee to /dev/null: splice"), "multi"),
        ("Capture 100 MiB: cu_run vs Python subprocess.run(capture_output)",
         ">= 1.5", paired_or(data, "capture_100m: cuprum vs py_subprocess",
                             ratio(figure(data, cap, "cu_run_capture"),
                                   figure(data, py, "py_capture_cat"))), "x"),
        ("Capture with one no-op line observer: time / without", "<= 1.5",
         derived(data, cap, "line observer"), "x"),
        ("4-stage cat, kernel 64 KiB pipes, vs bash (speed)", ">= 0.95",
         derived(data, pip, "cu_4stage_discard_kernel64k vs bash"), "x"),
        ("4-stage cat, 256 KiB pipes, vs bash (speed)", ">= 0.95",
         derived(data, pip, "cu_4stage_discard_256k vs bash"), "x"),
        ("4-stage cat, 1 MiB pipes (default), vs bash (speed)", ">= 0.95",
         derived(data, pip, "cu_4stage_discard_1m vs bash"), "x"),
        ("4-stage cat, captured, 1 MiB pipes, GB/s", "",
         figure(data, pip, "cu_4stage_capture_1m"), "GB/s"),
        ("2-stage captured vs Python Popen with a kernel pipe (speed)",
         ">= 1.5", paired_or(data, "2stage_capture: cuprum vs py_popen",
                             ratio(figure(data, pip, "cu_2stage_capture_1m"),
                                   figure(data, py, "py_popen_2stage_capture"))),
         "x"),
        ("2-stage captured, kernel pipe between the stages, vs Python Popen",
         "", derived(data, "peers", "2stage_capture_kernel_pipe: cuprum"),
         "x"),
        ("2-stage captured: 1 MiB · 256 KiB pipes vs kernel pipes (speed)", "",
         ("2stage capture: 1m vs", "2stage capture: 256k vs"), "multi:pipeline"),
        ("4-stage cat to /dev/null: 1 MiB pipes vs kernel pipes (speed)", "",
         derived(data, pip, "4stage discard: 1m vs kernel"), "x"),
        ("2-stage captured vs the Python cuprum (speed)", ">= 10",
         paired_or(data, "2stage_capture: cuprum vs pycuprum",
                   ratio(figure(data, pip, "cu_2stage_capture_1m"),
                         figure(data, "peer_pycuprum",
                                "pycuprum_2stage_capture"))), "x"),
        ("4-stage cat to /dev/null vs libpipeline (speed)", "",
         derived(data, "peer_libpipeline", "cu 4stage"), "x"),
        ("2-stage captured vs libpipeline (speed)", "",
         derived(data, "peer_libpipeline", "cu 2stage"), "x"),
        ("1,000 /bin/true, limit 2: cu_parallel_run vs xargs -P2 (speed)",
         ">= 1", derived(data, pip, "cu_parallel vs xargs"), "x"),
        (f"Python package: {pmib} MiB through `cat \\| cat`, captured, vs "
         "the Python cuprum", ">= 10",
         derived(data, "python_pkg", "py_pipe_vs_pycuprum"), "x"),
        (f"Python package: {pmib} MiB of line events to a Python observer "
         "vs the Python cuprum", ">= 3",
         derived(data, "python_pkg", "py_lines_vs_pycuprum"), "x"),
        ("Python package: 1,000 `true`, run_concurrent limit 2, vs the "
         "Python cuprum", ">= 1",
         derived(data, "python_pkg", "py_true_vs_pycuprum"), "x"),
        ("Python package: 1,000 `true`, run_concurrent limit 2, vs "
         "subprocess.run + ThreadPoolExecutor(2)", ">= 1",
         derived(data, "python_pkg", "py_true_vs_subprocess"), "x"),
        ("10,000 /bin/true: log + metrics + tracer / no adapter", "<= 1.05",
         data.get("telemetry", {}).get("all_ratio"), "x"),
        ("100 MiB lines: metrics + span events / line observer alone",
         "<= 1.3", data.get("telemetry", {}).get("lines_ratio"), "x"),
        ("10,000 /bin/true, tracer over OTLP/HTTP, dead endpoint / file", "",
         data.get("telemetry", {}).get("dead_ratio"), "x"),
        ("10,000 /bin/true, tracer over OTLP/HTTP, slow (5 s) endpoint / file",
         "", data.get("telemetry", {}).get("slow_ratio"), "x"),
    ]
    return rows


def multi(data, prefixes, bench="capture"):
    vals = [derived(data, bench, p) for p in prefixes]
    if any(v is None for v in vals):
        return "—"
    return " · ".join(f"{v:.2f}×" for v in vals)


def met(goal, value):
    if not goal or goal.startswith("("):
        return ""
    if value is None:
        return "not measured"
    op, bound = goal.split()
    ok = value <= float(bound) if op == "<=" else value >= float(bound)
    return "met" if ok else "**not met**"


def fmt(value, unit):
    if value is None:
        return "—"
    if unit == "x":
        return f"{value:.2f}×"
    return f"{value:.3g} {unit}"


def goals_table(data):
    out = ["| Measure | Goal | Measured | Status |",
           "|---|---|---|---|"]
    for name, goal, value, unit in goal_rows(data):
        if unit.startswith("multi"):
            bench = unit.split(":", 1)[1] if ":" in unit else "capture"
            shown, status = multi(data, value, bench), ""
        else:
            shown, status = fmt(value, unit), met(goal, value)
        out.append(f"| {name} | {goal.replace('<=', '≤').replace('>=', '≥')} "
                   f"| {shown} | {status} |")
    return out


def figures_table(data):
    out = ["| Program | Figure | Median | Min | Max | n |",
           "|---|---|---|---|---|---|"]
    for bench, d in data.items():
        for fig in d.get("figures", []):
            out.append(f"| {bench} | {fig['name']} | {fig['median']:.4g} "
                       f"{fig['unit']} | {fig['min']:.4g} | {fig['max']:.4g} "
                       f"| {fig['n']} |")
    return out


def hyperfine_table(data):
    hf = data.get("hyperfine_e2e")
    if not hf:
        return []
    out = ["| Command (end to end, hyperfine) | Median | Mean ± σ | Runs |",
           "|---|---|---|---|"]
    for r in hf.get("results", []):
        cmd = r["command"].replace("|", "\\|")
        out.append(f"| {cmd} | {r['median'] * 1e3:.1f} ms | "
                   f"{r['mean'] * 1e3:.1f} ± {r['stddev'] * 1e3:.1f} ms | "
                   f"{len(r.get('times', []))} |")
    return out


def cli_table(data):
    groups = data.get("cli", {}).get("cli_groups", [])
    if not groups:
        return []
    out = ["| Group | Command | Median | Mean ± σ | Runs | peer / cuprum "
           "| cuprum / peer |", "|---|---|---|---|---|---|---|"]
    for g in groups:
        for i, r in enumerate(g["rows"]):
            cmd = r["command"].replace("|", "\\|")
            ratio = ("(peer)", "") if i == 0 else (
                f"{r['peer_over_cuprum']:.2f}×", f"{r['cuprum_over_peer']:.2f}×")
            out.append(f"| {g['group']} | {cmd} | {r['median'] * 1e3:.2f} ms "
                       f"| {r['mean'] * 1e3:.2f} ± {r['stddev'] * 1e3:.2f} ms "
                       f"| {r['runs']} | {ratio[0]} | {ratio[1]} |")
    return out


E2E_COLS = [("cu-splice", "plain", "Cuprum splice"),
            ("cu-readwrite", "plain", "Cuprum readwrite"),
            ("cu-splice", "lines", "splice + lines"),
            ("cu-readwrite", "lines", "readwrite + lines"),
            ("bare", "plain", "bare pipes (ceiling)"),
            ("bash", "plain", "bash"),
            ("python", "plain", "Python subprocess"),
            ("libpipeline", "plain", "libpipeline"),
            ("pycuprum", "plain", "Python cuprum")]
E2E_VS = [("splice / readwrite", "cu-readwrite", "plain"),
          ("lines cost (time)", "cu-splice", "lines"),
          ("vs bare pipes", "bare", "plain"), ("vs bash", "bash", "plain"),
          ("vs Python", "python", "plain"),
          ("vs libpipeline", "libpipeline", "plain"),
          ("vs Python cuprum", "pycuprum", "plain")]


def e2e_medians(data):
    """{(payload, impl, stages, out, observer): median seconds}."""
    out = {}
    for r in data.get("e2e_matrix", {}).get("results", []):
        key = tuple(r["command"].split())
        if len(key) == 5:
            out[key] = r["median"]
    return out


def e2e_rows(data):
    """(payload, stages, out) in the order measured."""
    rows = []
    for r in data.get("e2e_matrix", {}).get("results", []):
        f = r["command"].split()
        if len(f) == 5 and f[1] == "cu-splice" and (f[0], f[2], f[3]) not in rows:
            rows.append((f[0], f[2], f[3]))
    return rows


def ms(secs):
    if secs is None:
        return "—"
    return f"{secs * 1e3:.2f}" if secs < 0.01 else f"{secs * 1e3:.1f}" \
        if secs < 1 else f"{secs * 1e3:.0f}"


def e2e_what(stages, out):
    what = "`cat F`" if stages == "1" else "`cat F \\| cat \\| cat`"
    return f"{what} {'captured' if out == 'capture' else 'to /dev/null'}"


def e2e_tables(data):
    """Median times per cell, then speed ratios of Cuprum (splice, no
    observer) against each column: time(other) / time(Cuprum)."""
    med, rows = e2e_medians(data), e2e_rows(data)
    if not rows:
        return []
    out = ["Median wall time in ms per run, process start-up included "
           "(hyperfine; `bench/results/e2e_matrix.json`). With output "
           "discarded no line events exist (the last stage writes to "
           "/dev/null itself), so the `+ lines` cells there measure only "
           "the observer's scope.", "",
           "| Payload | Pipeline | " + " | ".join(c[2] for c in E2E_COLS)
           + " |", "|---|---|" + "---|" * len(E2E_COLS)]
    for pay, st, o in rows:
        cells = [ms(med.get((pay, impl, st, o, obs))) for impl, obs, _ in E2E_COLS]
        out.append(f"| {pay} | {e2e_what(st, o)} | " + " | ".join(cells) + " |")
    out += ["", "Cuprum (splice, no observer) against each: time(other) ÷ "
            "time(Cuprum), so > 1 means Cuprum is faster; the lines column "
            "is time with the observer ÷ without (> 1 = slower). Ratios of "
            "medians.", "",
            "| Payload | Pipeline | " + " | ".join(v[0] for v in E2E_VS)
            + " |", "|---|---|" + "---|" * len(E2E_VS)]
    for pay, st, o in rows:
        base = med.get((pay, "cu-splice", st, o, "plain"))
        cells = [fmt(ratio(med.get((pay, impl, st, o, obs)), base), "x")
                 for _, impl, obs in E2E_VS]
        out.append(f"| {pay} | {e2e_what(st, o)} | " + " | ".join(cells) + " |")
    pays = sorted({r[0] for r in rows}, key=lambda p: rows.index(
        next(r for r in rows if r[0] == p)))
    extra = [f"{p}: bare `cat F \\| cat` to /dev/null "
             f"{ms(med.get((p, 'bare', '2', 'discard', 'plain')))} ms, "
             f"mmap + memcpy of the payload "
             f"{ms(med.get((p, 'memcpy', '1', 'capture', 'plain')))} ms"
             for p in pays]
    mc = figure(data, "capture", "memcpy_ceiling")
    if mc is not None:
        extra.append(f"memcpy in process, warm buffers (bench_capture): "
                     f"{mc:.3g} GB/s")
    return out + ["", "Ceilings per process: " + "; ".join(extra) + "."]


def meta_line(data):
    m = data.get("meta", {})
    backends = sorted({d.get("backend") for d in data.values()
                       if d.get("backend")})
    engine = m.get("stream_engine", "?")
    return (f"Run {m.get('date', '?')} at commit {m.get('commit', '?')}: "
            f"{m.get('cpu', '?')}, {m.get('ncpu', '?')} CPUs, kernel "
            f"{m.get('kernel', '?')}, load average {m.get('loadavg', 0):.1f} "
            f"at the start. Stream backend: {', '.join(backends) or '?'}"
            f"{' (stub engine)' if engine == 'stub' else ''}.")


def render(data):
    lines = [meta_line(data), "", "### Goals", ""] + goals_table(data)
    lines += ["", "### Every figure", ""] + figures_table(data)
    e2e = e2e_tables(data)
    if e2e:
        lines += ["", "### End-to-end matrix (hyperfine)", ""] + e2e
    cli = cli_table(data)
    if cli:
        lines += ["", "### The CLI against the shell (hyperfine, same-run "
                  "ratios)", ""] + cli
    hf = hyperfine_table(data)
    if hf:
        lines += ["", "### End to end (hyperfine)", ""] + hf
    return "\n".join(lines) + "\n"


def splice_into(path, text):
    with open(path) as f:
        doc = f.read()
    if BEGIN not in doc or END not in doc:
        print(f"bench_report: no {BEGIN} … {END} markers in {path}",
              file=sys.stderr)
        return False
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n" + text + END + tail)
    return True


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    data = load(sys.argv[1])
    text = render(data)
    with open(os.path.join(sys.argv[1], "summary.md"), "w") as f:
        f.write(text)
    print(text)
    if len(sys.argv) > 2 and not splice_into(sys.argv[2], text):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
