"""Benchmark the results file and the report at full-matrix scale: ``python -m benchmarks.report_build``.

Generates N records (default 250,000: every framework in one run) shaped like a real run's
(nine made-up frameworks with several entry points per op, four dtypes, forward and gradient,
about half of them ``unsupported`` with a reason, divergences, a few failures, convention and
setting records, repro snippets made of a preamble naming the case id and dtype and an
entry point's body, per-check tolerances, worst elements and output samples), or reads a
real results file (``--results PATH``, any version), then measures, each step in a fresh
process where memory is measured (peak resident set size of that process):

- the results file: written as the results plugin writes it (time, size; ``--v1`` also
  writes the version-1 form for comparison);
- loading it (``lossconform.reports.results.load_results``): time and peak memory;
- building the page (``python -m lossconform.reports build``): time, page size, peak memory;
- merging ``--runs`` runs (default 12: each a copy with its own run id) into one page;
- opening the page in headless Chromium (time until the matrix is interactive) and the time
  one filter change takes (a verdict unticked, then ticked again; a search), skipped where
  Chromium is missing.

Frameworks and entry points are made up ("alpha", "beta", ...): the report knows no framework
by name. Records are ``lossconform.record.CheckRecord``s, written as the results plugin writes
them. Timings depend on the machine and its load: say which when quoting them.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

from lossconform.dtypes import DTYPES
from lossconform.record import SCHEMA, SCHEMA_VERSION, CheckRecord
from lossconform.reports.compact import encode_records
from lossconform.reports.pytest_plugin import jsonable

#: Made-up frameworks and their versions (the report knows none by name).
VERSIONS = {"alpha": "2.13.0", "beta": "2.21.0 (gamma 3.15.1)", "gamma": "3.15.1",
            "delta": "0.10.2", "epsilon": "0.32.4", "zeta": "3.3.1", "eta": "1.23.2",
            "theta": "3.15.1 (delta 0.10.2)", "iota": "1.0.0"}
OPS = ("softmax", "log_softmax", "sigmoid", "cross_entropy", "binary_cross_entropy", "nll_loss")
#: Entry points per op and framework, e.g. alpha.nn.functional.softmax, alpha.nn.Softmax.
EP_FORMS = {"softmax": ("{fw}.softmax", "{fw}.nn.functional.softmax", "{fw}.nn.Softmax"),
            "log_softmax": ("{fw}.nn.functional.log_softmax", "{fw}.nn.LogSoftmax"),
            "sigmoid": ("{fw}.sigmoid", "{fw}.nn.functional.sigmoid"),
            "cross_entropy": ("{fw}.nn.functional.cross_entropy", "{fw}.nn.CrossEntropyLoss",
                              "{fw}.losses.CategoricalCrossentropy(from_logits=True)",
                              "{fw}.losses.SparseCategoricalCrossentropy(from_logits=True)"),
            "binary_cross_entropy": ("{fw}.nn.functional.binary_cross_entropy_with_logits",
                                     "{fw}.losses.BinaryCrossentropy(from_logits=True)"),
            "nll_loss": ("{fw}.nn.functional.nll_loss",)}
ENTRY_POINTS = {op: [(fw, form.format(fw=fw)) for fw in VERSIONS for form in forms]
                for op, forms in EP_FORMS.items()}
DIVERGENCE = "beta-clip-eps-1e-7"
DIVERGENCES = [DIVERGENCE, "gamma-log-clamp-100", "delta-mean-over-weights",
               "zeta-half-accumulation", "eta-label-smoothing-order"]
REGIMES = ("moderate", "large_logits", "tiny_probs", "saturated", "unnormalised_target",
           "nonfinite_logits", "many_classes")
OPTIONS = ({}, {"reduction": "mean"}, {"reduction": "sum"}, {"reduction": "none"},
           {"ignore_index": 1, "reduction": "mean"}, {"label_smoothing": 0.1, "reduction": "sum"},
           {"weight": "classes", "reduction": "mean"})
UNSUPPORTED = ("{ep} has no class weights; use sample_weight",
               "{ep} does not accept {dtype} inputs",
               "the sparse losses of {fw} have no label_smoothing",
               "{ep} has no ignore_index: mask the items yourself")


def _body(fw: str, ep: str, n_classes: int) -> str:
    """An entry point's part of a repro snippet (the same for every case but the class
    count, as the plug-ins write them)."""
    return "\n".join([
        "import numpy as np",
        f"import {fw}",
        f"x = {fw}.asarray(x, dtype=DTYPE)",
        f"t = {fw}.asarray(target)",
        "def loss_fn(x):",
        f"    return {ep}(x, t, num_classes={n_classes})",
        "",
        "def step(x, g):",
        f"    out, vjp = {fw}.vjp(loss_fn, x)",
        "    (grad,) = vjp(g.astype(out.dtype))",
        "    return out, grad",
        "",
        f"out, grad = step(x, {fw}.asarray(grad_output, dtype=DTYPE))",
        "print('forward', out.dtype, out)",
        "print('gradient', grad.dtype, grad)", ""])


def _preamble(case_id: str, dtype: str, seed: int) -> str:
    return ("# inputs exactly as the suite made them (needs only lossconform and the "
            "framework installed)\nfrom lossconform.cases import BY_ID\n"
            f"call = BY_ID[{case_id!r}].call({dtype!r}, seed={seed}, device='cpu')\n"
            "x, target, grad_output = call.x, call.target, call.grad_output\n")


def synthetic_results(n: int = 250_000, seed: int = 0, version_shift: float = 0.0
                      ) -> dict[str, Any]:
    """A results document with exactly ``n`` records (records as a list of objects)."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    case_no = 0
    extra_kinds = (("convention", 0.014), ("setting", 0.02))
    while len(records) < n:
        op = OPS[case_no % len(OPS)]
        regime = REGIMES[rng.randrange(len(REGIMES))]
        shape = [rng.choice((1, 4, 16, 64, 256)), rng.choice((2, 5, 10, 37, 1000))]
        options = OPTIONS[rng.randrange(len(OPTIONS))] if "entropy" in op or op == "nll_loss" \
            else {}
        opt_id = "-".join(f"{k}_{v}" for k, v in options.items())
        case_id = f"{op}-{regime}-{shape[0]}x{shape[1]}" + (f"-{opt_id}" if opt_id else "") \
            + f"-{case_no}"
        case = {"op": op, "shape": shape, "axis": -1, "regime": regime,
                "target_kind": "index" if "entropy" in op else None, "options": options,
                "note": ""}
        case_no += 1
        for fw, ep in ENTRY_POINTS[op]:
            nodeid = f"lossconform/suite/test_matrix.py::test_matrix[{fw}-{case_id}]"
            body = _body(fw, ep, shape[-1])
            for dtype in DTYPES:
                repro = _preamble(case_id, dtype, seed) + body.replace("DTYPE", repr(dtype))
                roll = rng.random()
                unsupported = roll < 0.52
                message = rng.choice(UNSUPPORTED).format(ep=ep, fw=fw, dtype=dtype) \
                    if unsupported else None
                tol = {"rtol": 2.0 ** -rng.choice((7, 10, 23, 52)) * 20,
                       "atol": 2.0 ** -rng.choice((7, 10, 23, 52)) * 20, "overrides": [],
                       "rel_ulp": 4.0, "sums": [shape[-1]], "rel_used": rng.random()}
                kinds = [("forward", None), ("gradient", None)]
                for kind, rate in extra_kinds:
                    if rng.random() < rate:
                        kinds.append((kind, rate))
                for kind, _ in kinds:
                    if len(records) >= n:
                        break
                    ulp = rng.choice((0.0, 0.5, 1.0, 2.0, 3.0, 17.0, 250.0)) * \
                        (1 + version_shift) * (1 + rng.random())
                    verdict, div, msg = "agree", None, message
                    if unsupported:
                        verdict, ulp = "unsupported", None
                    elif roll < 0.521:
                        verdict, msg = "fail", f"max ULP {ulp * 1e4:g} > tolerance"
                        ulp *= 1e4
                    elif roll < 0.68:
                        verdict, div = "divergence", DIVERGENCES[zlib.crc32(ep.encode()) % len(DIVERGENCES)]
                        ulp = 3e6
                    elif roll < 0.69:
                        ulp = float("inf")
                    ran = verdict != "unsupported"
                    expected = rng.random()
                    records.append(CheckRecord(
                        id=case_id, op=op, entry_point=ep, framework=fw,
                        framework_version=VERSIONS[fw], dtype=dtype, device="cpu",
                        kind=kind, verdict=verdict, case=case, nodeid=nodeid,
                        divergence=div,
                        max_abs_err=None if ulp is None else ulp * 1.19e-7 * rng.random(),
                        max_rel_err=None if ulp is None else ulp * 5.96e-8 * rng.random(),
                        max_ulp=ulp,
                        worst=None if ulp is None else {
                            "index": [rng.randrange(shape[0]), rng.randrange(shape[1])],
                            "expected": expected, "actual": expected + ulp * 1e-8},
                        message=msg,
                        output_dtype=dtype if ran else None,
                        tolerance=tol if ran else None,
                        tolerance_used=None if ulp is None else ulp / 300,
                        eval_seconds=(rng.random() * 1e-3 if kind == "forward" else 0.0)
                        if ran else None,
                        sample={"shape": shape, "values": [
                            round(rng.random(), 6) for _ in range(16)]}
                        if ran and kind == "forward" else None,
                        repro=repro,
                        max_rel_ulp_normal=ulp,
                        facets={"mode": "eager"} if kind == "setting" else None,
                        setting="eager" if kind == "setting" else None,
                        observed=f"forward identical; gradient differs at {rng.randrange(99)} "
                                 "elements" if kind in ("setting", "convention") else None,
                        pinned="axis -1" if kind == "convention" else None,
                        compile_seconds=0.0 if ran and kind == "forward" else None,
                        check_seconds=rng.random() * 1e-2 if ran and kind == "forward"
                        else None,
                    ).to_json())
    return {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "created": "2025-01-01T00:00:00+00:00", "status": "complete", "exitstatus": 0,
        "run_id": f"{seed:032x}",
        "environment": {"python": "3.11", "numpy": "2.4.6", "platform": "Linux", "cpu": "bench",
                        "hostname": f"bench-{seed}", "seed": seed, "gpus": [], "env": {}},
        "frameworks": {fw: {"version": v, "available": True, "reason": None,
                            "entry_points": []} for fw, v in VERSIONS.items()},
        "divergences": [{"id": d, "title": f"{d.split('-')[0].title()} clips probabilities",
                         "entry_points": [ep for fw, ep in ENTRY_POINTS["cross_entropy"]
                                          if fw == d.split("-")[0]],
                         "versions": ">=3", "trigger": "probabilities below 1e-7",
                         "explanation": "clip to [eps, 1-eps], eps=1e-7",
                         "link": f"https://github.com/{d.split('-')[0]}-project/x"}
                        for d in DIVERGENCES],
        "records": records,
    }


# -- measuring ------------------------------------------------------------------------------
def write_results(doc: dict[str, Any], path: Path, compact: bool = True) -> float:
    """Write ``doc`` as the results plugin does (compact records unless ``compact`` is
    false); the seconds it took."""
    t0 = time.perf_counter()
    out = dict(doc)
    records = [jsonable(r) for r in doc["records"]]  # as the plugin does, in either form
    if compact:
        out["records"] = encode_records(records)
    else:
        out.update(schema_version=1, records=records)
    text = json.dumps(out, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    return time.perf_counter() - t0


def copies(path: Path, k: int, where: Path) -> list[Path]:
    """``k`` copies of a results file, each with its own run id (so that a merge takes each
    as a run of its own): the file's bytes with the run id replaced, or one added first."""
    raw = path.read_bytes()
    found = re.search(rb'"run_id":\s*"[0-9a-f]{32}"', raw)
    out = []
    for i in range(k):
        run_id = b'"run_id":"%032x"' % (i + 1)
        if found:
            data = raw[:found.start()] + run_id + raw[found.end():]
        else:
            data = raw[:raw.index(b"{") + 1] + run_id + b"," + raw[raw.index(b"{") + 1:]
        p = where / f"copy-{i + 1}.json"
        p.write_bytes(data)
        out.append(p)
    return out


def measured(argv: list[str]) -> tuple[float, float, str]:
    """Run ``argv`` (a Python module command) in a fresh process: (wall seconds, peak
    resident memory in MB, its output); ``LAST_CPU`` holds its CPU seconds (user + system,
    its waited-for children's included)."""
    global LAST_CPU
    t0 = time.perf_counter()
    limit = MEMORY_LIMIT_GB

    def cap() -> None:  # a merge that needs more fails here instead of starving the machine
        if limit:
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (int(limit * 2**30),) * 2)

    proc = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=cap if limit else None)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    LAST_CPU = usage.ru_utime + usage.ru_stime
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{out[-2000:]}")
    return wall, usage.ru_maxrss / 1024, out


LAST_CPU = 0.0
#: Address-space limit of each measured process in GB (``--memory-limit``; 0: none).
MEMORY_LIMIT_GB = 0.0
LOAD = ("import sys, time; t = time.perf_counter(); "
        "from lossconform.reports.results import load_results; "
        "d = load_results(sys.argv[1]); print(len(d['records']), time.perf_counter() - t)")


def browser_times(page: Path, repeat: int = 2) -> dict[str, float] | str:
    """Seconds to open ``page`` in headless Chromium until the matrix is interactive (the
    best of ``repeat``), and the milliseconds of a verdict filter change (untick, tick) and
    a search; a string saying why when Chromium cannot be driven here."""
    try:
        from tests.report.test_browser import CHROMIUM, INSTALL_HINT, Chromium
    except ImportError as exc:  # an installed package without the tests
        return f"no browser client ({exc})"
    if CHROMIUM is None:
        return INSTALL_HINT
    chrome = Chromium(CHROMIUM)
    try:
        chrome.open_page()
        opens = []
        for _ in range(repeat):
            chrome.drain()
            t0 = time.perf_counter()
            chrome.send("Page.navigate", {"url": page.as_uri()})
            if not chrome.wait_for("document.body !== null && "
                                   "document.body.getAttribute('data-ready') === '1'", 120):
                return f"the page did not get ready: {chrome.errors()[:3]}"
            opens.append(time.perf_counter() - t0)
        times = chrome.evaluate("""(function () {
            var boxes = document.querySelectorAll('fieldset[data-facet="v"] input');
            var top = null, n = 0;
            for (var i = 0; i < boxes.length; i++) { top = boxes[i]; }
            var agree = Array.prototype.filter.call(boxes, function (b) {
                return b.parentNode.textContent.trim() === 'agree'; })[0] || top;
            var t0 = performance.now(); agree.click();
            var t1 = performance.now(); agree.click();
            var t2 = performance.now();
            var s = document.getElementById('search');
            s.value = 'entropy'; s.dispatchEvent(new Event('input'));
            return [t1 - t0, t2 - t1];
        })()""")
        time.sleep(0.4)  # the search box waits 150 ms for typing to pause
        search = chrome.evaluate("window.__lcLastRefreshMs || null")
        errors = chrome.errors()
        if errors:
            return f"page errors: {errors[:3]}"
        return {"open_s": min(opens), "filter_ms": max(times), "search_ms": search or 0.0}
    finally:
        chrome.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report_build",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=250_000, help="records (default 250000)")
    parser.add_argument("--results", metavar="PATH",
                        help="measure this results file (any version) instead of synthetic "
                             "records")
    parser.add_argument("--runs", type=int, default=12,
                        help="runs to merge into one page (default 12; 0: no merge)")
    parser.add_argument("--v1", action="store_true",
                        help="also write the version-1 form of the records and report its size")
    parser.add_argument("--no-browser", action="store_true", help="skip Chromium")
    parser.add_argument("--memory-limit", type=float, default=0.0, metavar="GB",
                        help="cap each measured process's address space (a merge that needs "
                             "more fails with MemoryError, and is reported as not fitting)")
    parser.add_argument("--keep", metavar="DIR", help="keep the files in DIR")
    parser.add_argument("--generate", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--v1-to", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    global MEMORY_LIMIT_GB
    MEMORY_LIMIT_GB = args.memory_limit
    if args.generate:  # the generating child: write the file(s), print the times as JSON
        doc = synthetic_results(args.n)
        times = {"write_s": write_results(doc, Path(args.generate))}
        if args.v1_to:
            times["write_v1_s"] = write_results(doc, Path(args.v1_to), compact=False)
        print(json.dumps(times))
        return 0
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(args.keep or tmp)
        where.mkdir(parents=True, exist_ok=True)
        if args.results:
            path = Path(args.results)
            figures["input"] = str(path)
        else:  # in a process of its own: this one stays small (its size is inherited)
            path = where / "bench-results.json"
            v1 = where / "bench-results-v1.json" if args.v1 else None
            _, _, out = measured(["-m", "benchmarks.report_build", "--generate", str(path),
                                  "-n", str(args.n)] + (["--v1-to", str(v1)] if v1 else []))
            figures.update(json.loads(out.strip().splitlines()[-1]))
            figures["input"] = f"synthetic, {args.n:,} records"
            if v1 is not None:
                figures["results_v1_mb"] = v1.stat().st_size / 1e6
                if not args.keep:
                    v1.unlink()
        figures["results_mb"] = path.stat().st_size / 1e6
        wall, rss, out = measured(["-c", LOAD, str(path)])
        n, load_s = out.split()[-2:]
        figures.update(records=int(n), load_s=float(load_s), load_rss_mb=rss)
        page = where / "bench-report.html"
        wall, rss, _ = measured(["-m", "lossconform.reports", "build", str(path), "-o",
                                 str(page)])
        figures.update(build_s=wall, build_cpu_s=LAST_CPU, build_rss_mb=rss,
                       page_mb=page.stat().st_size / 1e6)
        if args.runs > 1:
            paths = copies(path, args.runs, where)
            merged = where / "bench-merged.html"
            try:
                wall, rss, _ = measured(["-m", "lossconform.reports", "merge",
                                         *map(str, paths), "-o", str(merged)])
                figures.update(merge_runs=args.runs, merge_s=wall, merge_cpu_s=LAST_CPU,
                               merge_rss_mb=rss, merge_page_mb=merged.stat().st_size / 1e6)
            except RuntimeError as exc:
                figures.update(merge_runs=args.runs,
                               merge_failed=str(exc).strip().splitlines()[-1][:200])
            for p in paths:
                p.unlink()
        if not args.no_browser:
            times = browser_times(page)
            if isinstance(times, str):
                figures["browser"] = times
            else:
                figures.update(times)
    print(describe(figures))
    return 0


def describe(f: dict[str, Any]) -> str:
    """The figures as lines of text (absent ones left out)."""
    lines = [f"input: {f['input']}"]
    if "write_s" in f:
        lines.append(f"results written in {f['write_s']:.2f} s")
    if "results_v1_mb" in f:
        lines.append(f"results, version 1 form: {f['results_v1_mb']:.1f} MB "
                     f"(written in {f['write_v1_s']:.2f} s)")
    lines.append(f"results file: {f['results_mb']:.1f} MB, {f['records']:,} records; loaded in "
                 f"{f['load_s']:.2f} s, peak memory {f['load_rss_mb']:.0f} MB")
    lines.append(f"page built in {f['build_s']:.2f} s wall, {f['build_cpu_s']:.2f} s CPU (a "
                 f"fresh process: start, load, render, write; two processes share the work), "
                 f"page {f['page_mb']:.1f} MB, peak memory {f['build_rss_mb']:.0f} MB")
    if "merge_s" in f:
        lines.append(f"merge of {f['merge_runs']} runs ({f['merge_runs'] * f['records']:,} "
                     f"records) in {f['merge_s']:.2f} s wall, {f['merge_cpu_s']:.2f} s CPU, "
                     f"page {f['merge_page_mb']:.1f} MB, "
                     f"peak memory {f['merge_rss_mb']:.0f} MB")
    if "merge_failed" in f:
        lines.append(f"merge of {f['merge_runs']} runs: did not complete ({f['merge_failed']})")
    if "open_s" in f:
        lines.append(f"headless Chromium: matrix interactive {f['open_s']:.2f} s after "
                     f"navigation; a filter change {f['filter_ms']:.0f} ms, a search "
                     f"{f['search_ms']:.0f} ms")
    elif "browser" in f:
        lines.append(f"headless Chromium: not measured ({f['browser']})")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
