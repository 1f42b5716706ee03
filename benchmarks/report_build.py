"""Benchmark the report builder on synthetic results: ``python -m benchmarks.report_build``.

Generates N records (default 100,000) shaped like a real run (two frameworks, several
entry points per op, four dtypes, forward and gradient, a few failures and divergences,
repro snippets, tolerance used, output samples for the pairwise view), writes them as a
results file, builds the report and prints the times. Frameworks and entry points are made
up ("alpha", "beta"): the report knows no framework by name. Records are
``lossconform.record.CheckRecord``s, written as the results plugin writes them.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from lossconform.dtypes import DTYPES
from lossconform.record import SCHEMA, SCHEMA_VERSION, CheckRecord
from lossconform.reports.pytest_plugin import jsonable

ENTRY_POINTS = {
    "softmax": [("alpha", "alpha.softmax"), ("alpha", "alpha.nn.functional.softmax"),
                ("beta", "beta.nn.softmax"), ("beta", "beta.ops.softmax")],
    "log_softmax": [("alpha", "alpha.nn.functional.log_softmax"),
                    ("beta", "beta.nn.log_softmax")],
    "sigmoid": [("alpha", "alpha.sigmoid"), ("beta", "beta.math.sigmoid")],
    "cross_entropy": [("alpha", "alpha.nn.cross_entropy"),
                      ("alpha", "alpha.nn.CrossEntropyLoss"),
                      ("beta", "beta.nn.softmax_cross_entropy_with_logits"),
                      ("beta", "beta.losses.CategoricalCrossentropy(from_logits=False)")],
    "binary_cross_entropy": [("alpha", "alpha.nn.functional.binary_cross_entropy"),
                             ("beta", "beta.losses.binary_crossentropy")],
}
VERSIONS = {"alpha": "2.13.0", "beta": "2.21.0"}
DIVERGENCE = "beta-clip-eps-1e-7"


def synthetic_results(n: int = 100_000, seed: int = 0, version_shift: float = 0.0
                      ) -> dict[str, Any]:
    """A results document with exactly ``n`` records."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    ops = list(ENTRY_POINTS)
    case_no = 0
    while len(records) < n:
        op = ops[case_no % len(ops)]
        regime = rng.choice(("normal", "large_logits", "tiny_probs", "saturated"))
        shape = [rng.randint(1, 64), rng.randint(2, 1000)]
        case = {"shape": shape, "axis": -1, "regime": regime,
                "target_kind": "index" if "cross" in op else None,
                "options": {"reduction": rng.choice(("mean", "sum", "none"))}}
        case_id = f"{op}-{regime}-{case['options']['reduction']}-{shape[0]}x{shape[1]}-{case_no}"
        case_no += 1
        for fw, ep in ENTRY_POINTS[op]:
            for dtype in DTYPES:
                for kind in ("forward", "gradient"):
                    # shape and first 16 values of the output, as the suite records them
                    sample = {"shape": shape, "values": [
                        round(rng.random(), 6 if dtype == "float64" else 3) for _ in range(16)]}
                    if len(records) >= n:
                        break
                    ulp = rng.choice((0.0, 0.5, 1.0, 2.0, 3.0, 17.0, 250.0)) * (1 + version_shift)
                    roll = rng.random()
                    verdict, div, msg = "agree", None, None
                    if roll < 0.01:
                        verdict, msg = "fail", f"max ULP {ulp * 1e4:g} > tolerance"
                        ulp *= 1e4
                    elif roll < 0.05:
                        verdict, div = "divergence", DIVERGENCE
                        ulp = 3e6
                    elif roll < 0.07:
                        verdict, msg, ulp = "unsupported", f"{ep} has no ignore_index", None
                    elif roll < 0.08:
                        ulp = float("inf")
                    records.append(CheckRecord(
                        id=case_id, op=op, entry_point=ep, framework=fw,
                        framework_version=VERSIONS[fw], dtype=dtype, device="cpu",
                        kind=kind, verdict=verdict,
                        max_abs_err=None if ulp is None else ulp * 1.19e-7,
                        max_rel_err=None if ulp is None else ulp * 5.96e-8,
                        max_ulp=ulp,
                        divergence=div,
                        # one snippet per check, repeated on its forward and gradient records
                        repro=(f"import numpy as np\nimport {fw}\n"
                               f"rng = np.random.default_rng({case_no})\n"
                               f"x = rng.standard_normal({tuple(shape)}).astype('{dtype}')\n"
                               f"print({ep}(x))\n"),
                        tolerance_used=None if ulp is None else ulp / 300,
                        # checks that ran: output dtype, time, samples (the suite's fields)
                        **({} if verdict == "unsupported" else {
                            "output_dtype": dtype,
                            "eval_seconds": rng.random() * 1e-3 if kind == "forward" else 0.0,
                            "sample": sample if kind == "forward" else None}),
                        case=case, tolerance={"atol": 1e-6, "rtol": 1e-5},
                        worst=None if ulp is None else {"index": [0, rng.randint(0, 9)],
                                                        "expected": 0.25, "actual": 0.2500001},
                        message=msg,
                        nodeid=("lossconform/suite/test_matrix.py::"
                                f"test_forward[{fw}-{case_id}-{dtype}]"),
                    ).to_json())
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "created": "2025-01-01T00:00:00+00:00", "status": "complete",
        "environment": {"python": "3.11", "numpy": "2.4.6", "platform": "Linux", "cpu": "bench",
                        "hostname": f"bench-{seed}", "seed": seed, "gpus": [], "env": {}},
        "frameworks": {fw: {"version": v, "available": True, "reason": None,
                            "conventions": {"class_axis": -1, "default_reduction": "mean"},
                            "entry_points": []} for fw, v in VERSIONS.items()},
        "divergences": [{"id": DIVERGENCE, "title": "Beta clips probabilities",
                         "entry_points": ["beta.losses.CategoricalCrossentropy(from_logits=False)"],
                         "versions": ">=3", "trigger": "probabilities below 1e-7",
                         "explanation": "clip to [eps, 1-eps], eps=1e-7",
                         "link": "https://github.com/beta-project/beta"}],
        "records": records,
    }


def main(argv: list[str] | None = None) -> None:
    from lossconform.reports.build import build

    parser = argparse.ArgumentParser(prog="python -m benchmarks.report_build", description=__doc__)
    parser.add_argument("-n", type=int, default=100_000, help="records (default 100000)")
    parser.add_argument("--runs", type=int, default=1, help="results files to merge (default 1)")
    parser.add_argument("--keep", metavar="DIR", help="keep the results and report in DIR")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(args.keep or tmp)
        where.mkdir(parents=True, exist_ok=True)
        paths = []
        for k in range(args.runs):
            t0 = time.perf_counter()
            path = where / f"bench-results-{k}.json"
            # written as the plugin writes real results: non-finite floats as strings
            path.write_text(json.dumps(jsonable(synthetic_results(args.n, seed=k, version_shift=k * 0.5)),
                                       separators=(",", ":"), allow_nan=False))
            paths.append(path)
            print(f"generated {path.name}: {args.n} records, "
                  f"{path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t0:.2f} s")
        out = where / "bench-report.html"
        t0, c0 = time.perf_counter(), time.process_time()
        result = build(paths, out)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert not result.errors, result.errors
        print(f"built {out.name} from {args.n * args.runs} records in {elapsed:.2f} s wall, "
              f"{cpu:.2f} s CPU (load + render + write); page {os.path.getsize(out) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
