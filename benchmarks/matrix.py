"""Benchmark of the conformance matrix (not a timed test): per framework, checks per second,
time inside framework calls, compile time, and the engine's overhead as a ratio to the raw
framework-call time; for the whole run, wall time at each worker count and where the
workers' time goes.

    .venv/bin/python -m benchmarks.matrix [--jobs 0,2] [--frameworks a,b] [-- extra pytest args]

Each run is a real ``pytest lossconform/suite/test_matrix.py`` in a subprocess (framework
imports included) writing its own results file; the numbers come from those records
(``eval_seconds``: the adapter's call, forward and gradient together; ``compile_seconds``: the
part of it spent compiling, as the adapter reports it; ``check_seconds``: the whole check:
inputs, reference, call, comparison, records) and from the processes' CPU time (the pytest
controller's own, read from /proc while it runs, and the whole process tree's).

Per framework:
  checks/s      its checks per second of check time (sum of check_seconds)
  calls s       time inside its framework calls, compile included
  compile s     of that, compiling (and how many calls compiled)
  overhead      check time / (call time - compile time): 1.0 would be a free engine
  median ms     the median call

For the run: the workers' time (wall x workers) is split into checks (of which framework
calls and compiling) and pytest's own per-test work (collection, fixtures, reports,
imports), and the controller's CPU time is shown beside it: on a 2-core machine the
controller and the two workers share the cores, which is why a second worker does not
double the speed.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from lossconform.reports.results import load_results

ROOT = Path(__file__).resolve().parent.parent
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_of(pid: int) -> float | None:
    """User + system CPU seconds of one process so far (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


_SPIN = "import time\nt = time.perf_counter()\nn = 0\nwhile n < 6_000_000: n += 1\nprint(time.perf_counter() - t)"


def machine_parallelism(runs: int = 2) -> dict:
    """How much a second process gets from this machine: the same CPU-bound loop alone and
    two at once (a machine whose two vCPUs share a physical core, or that is busy, gives a
    ratio well below 2)."""
    def timed(n: int) -> float:
        procs = [subprocess.Popen([sys.executable, "-c", _SPIN], stdout=subprocess.PIPE, text=True)
                 for _ in range(n)]
        return max(float(p.communicate()[0]) for p in procs)

    alone = min(timed(1) for _ in range(runs))
    two = min(timed(2) for _ in range(runs))
    return {"alone_s": alone, "two_s": two, "throughput_ratio": 2 * alone / two,
            "load": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}


def run(jobs: int, extra: list[str], frameworks: str | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.json"
        cmd = [sys.executable, "-m", "pytest", "lossconform/suite/test_matrix.py", "-q",
               "-p", "no:cacheprovider", "--results", str(results),
               *(["-n", str(jobs)] if jobs else ["-p", "no:xdist"]),
               *([f"--lc-frameworks={frameworks}"] if frameworks else []), *extra]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        controller = 0.0
        out_chunks: list[str] = []
        # read output in a thread-free way: poll the controller's CPU while draining stdout
        os.set_blocking(proc.stdout.fileno(), False)
        while proc.poll() is None:
            controller = _cpu_of(proc.pid) or controller
            try:
                chunk = proc.stdout.read()
            except (BlockingIOError, TypeError):
                chunk = None
            if chunk:
                out_chunks.append(chunk)
            time.sleep(0.2)
        rest = proc.stdout.read()
        if rest:
            out_chunks.append(rest)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        tree_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        output = "".join(out_chunks)
        if not results.exists():
            sys.exit(f"pytest wrote no results (exit {proc.returncode}):\n{output[-4000:]}")
        data = load_results(results)
    return summarise(data["records"], jobs=jobs, wall=wall, exit=proc.returncode,
                     controller_cpu=controller if jobs else None, tree_cpu=tree_cpu)


def summarise(records: list[dict], *, jobs: int, wall: float, exit: int = 0,
              controller_cpu: float | None = None, tree_cpu: float | None = None) -> dict:
    """The benchmark's figures from a run's records (pure: tested on made-up records)."""
    per: dict[str, dict] = defaultdict(lambda: {"checks": 0, "eval": 0.0, "compile": 0.0,
                                               "compiled": 0, "check": 0.0, "calls": []})
    verdicts: Counter = Counter()
    for r in records:
        verdicts[r["verdict"]] += 1
        f = per[r["framework"]]
        if r["verdict"] != "unsupported":
            f["checks"] += 1
        if r["kind"] != "forward" or r.get("eval_seconds") is None:
            continue
        f["eval"] += r["eval_seconds"] or 0.0
        c = r.get("compile_seconds") or 0.0
        f["compile"] += c
        f["compiled"] += c > 0
        f["check"] += r.get("check_seconds") or 0.0
        if r["eval_seconds"]:
            f["calls"].append(r["eval_seconds"])
    frameworks = {}
    for fw, f in sorted(per.items()):
        compute = f["eval"] - f["compile"]
        frameworks[fw] = {
            "checks": f["checks"],
            "checks_per_s": f["checks"] / f["check"] if f["check"] else float("nan"),
            "call_s": f["eval"], "compile_s": f["compile"], "compiled_calls": f["compiled"],
            "check_s": f["check"],
            "overhead_ratio": f["check"] / compute if compute > 0 else float("nan"),
            "median_call_ms": 1e3 * statistics.median(f["calls"]) if f["calls"] else float("nan"),
        }
    checks = sum(f["checks"] for f in per.values())
    check_s = sum(f["check"] for f in per.values())
    eval_s = sum(f["eval"] for f in per.values())
    compile_s = sum(f["compile"] for f in per.values())
    worker_s = wall * max(1, jobs)
    return {
        "jobs": jobs, "exit": exit, "wall_s": wall, "records": len(records), "checks": checks,
        "verdicts": dict(verdicts), "checks_per_s": checks / wall if wall else float("nan"),
        "worker_s": worker_s, "check_s": check_s, "framework_s": eval_s, "compile_s": compile_s,
        "framework_share": eval_s / worker_s if worker_s else float("nan"),
        "pytest_s": worker_s - check_s, "controller_cpu_s": controller_cpu,
        "tree_cpu_s": tree_cpu, "frameworks": frameworks,
    }


def table(row: dict) -> str:
    lines = [f"{'framework':<14}{'checks':>8}{'checks/s':>10}{'calls s':>9}{'compile s':>11}"
             f"{'compiled':>10}{'overhead':>10}{'median ms':>11}"]
    for fw, f in row["frameworks"].items():
        lines.append(f"{fw:<14}{f['checks']:>8}{f['checks_per_s']:>10.0f}{f['call_s']:>9.1f}"
                     f"{f['compile_s']:>11.1f}{f['compiled_calls']:>10}"
                     f"{f['overhead_ratio']:>9.1f}x{f['median_call_ms']:>11.2f}")
    return "\n".join(lines)


def describe(row: dict) -> str:
    ctl = row["controller_cpu_s"]
    tree = row["tree_cpu_s"]
    return (f"-n {row['jobs']}: wall {row['wall_s']:.1f} s, {row['checks']} checks "
            f"({row['records']} records), {row['checks_per_s']:.0f} checks/s, exit {row['exit']}\n"
            f"  worker time {row['worker_s']:.1f} s = checks {row['check_s']:.1f} s (framework "
            f"calls {row['framework_s']:.1f} s = {100 * row['framework_share']:.0f}%, of which "
            f"compiling {row['compile_s']:.1f} s) + pytest per-test work and start-up "
            f"{row['pytest_s']:.1f} s"
            + (f"\n  controller CPU {ctl:.1f} s" if ctl is not None else "")
            + (f"; CPU of the whole process tree {tree:.1f} s" if tree is not None else "")
            + f"\n  verdicts {row['verdicts']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", default="0,2", help="comma-separated xdist worker counts (0 = no xdist)")
    ap.add_argument("--frameworks", default=None, help="--lc-frameworks for the runs (default: all)")
    ap.add_argument("extra", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args()
    m = machine_parallelism()
    print(f"machine: a CPU-bound loop takes {m['alone_s']:.2f} s alone and {m['two_s']:.2f} s "
          f"with a second copy beside it: 2 processes get {m['throughput_ratio']:.2f}x the "
          f"throughput of 1 (load average {m['load']:.2f} before the runs)")
    rows = [run(int(j), args.extra, args.frameworks) for j in args.jobs.split(",")]
    for r in rows:
        print(describe(r))
        print(table(r))
    if len(rows) == 2 and rows[1]["wall_s"]:
        print(f"speed-up -n {rows[1]['jobs']} vs -n {rows[0]['jobs']}: "
              f"{rows[0]['wall_s'] / rows[1]['wall_s']:.2f}x")


if __name__ == "__main__":
    main()
