"""Benchmark of the conformance matrix (not a timed test): checks per second, wall time at
-n 0 and -n 2, and the share of worker time spent inside framework calls.

    .venv/bin/python -m benchmarks.matrix [--jobs 0,2] [-- extra pytest args]

Each run is a real `pytest lossconform/suite/test_matrix.py` in a subprocess (framework
imports included) writing its own results file; the numbers come from those records.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(jobs: int, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.json"
        cmd = [sys.executable, "-m", "pytest", "lossconform/suite/test_matrix.py", "-q", "-p", "no:cacheprovider",
               "--results", str(results), *(["-n", str(jobs)] if jobs else ["-p", "no:xdist"]), *extra]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if not results.exists():
            sys.exit(f"pytest wrote no results (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        data = json.loads(results.read_text())
    records = data["records"]
    checked = [r for r in records if r["verdict"] != "unsupported"]
    eval_s = sum(r.get("eval_seconds") or 0.0 for r in records)
    per_test = [r.get("eval_seconds") for r in records if r.get("eval_seconds")]
    return {
        "jobs": jobs,
        "exit": proc.returncode,
        "wall_s": wall,
        "records": len(records),
        "checks": len(checked),
        "verdicts": dict(Counter(r["verdict"] for r in records)),
        "checks_per_s": len(checked) / wall,
        "framework_s": eval_s,
        "framework_share": eval_s / (wall * max(1, jobs)),
        "median_call_ms": 1e3 * statistics.median(per_test) if per_test else float("nan"),
        "by_framework_call_ms": {
            fw: 1e3 * statistics.median([r["eval_seconds"] for r in records
                                         if r["framework"] == fw and r.get("eval_seconds")] or [float("nan")])
            for fw in sorted({r["framework"] for r in records})
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", default="0,2", help="comma-separated xdist worker counts (0 = no xdist)")
    ap.add_argument("extra", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args()
    rows = [run(int(j), args.extra) for j in args.jobs.split(",")]
    for r in rows:
        print(
            f"-n {r['jobs']}: wall {r['wall_s']:.1f} s, {r['checks']} checks ({r['records']} records), "
            f"{r['checks_per_s']:.0f} checks/s, framework calls {r['framework_s']:.1f} s "
            f"= {100 * r['framework_share']:.0f}% of worker time, median call "
            + ", ".join(f"{k} {v:.2f} ms" for k, v in r["by_framework_call_ms"].items())
            + f", verdicts {r['verdicts']}, exit {r['exit']}"
        )
    if len(rows) == 2 and rows[1]["wall_s"]:
        print(f"speed-up -n {rows[1]['jobs']} vs -n {rows[0]['jobs']}: {rows[0]['wall_s'] / rows[1]['wall_s']:.2f}x")


if __name__ == "__main__":
    main()
