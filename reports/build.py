"""Build the self-contained HTML report from one or more results files.

The page is one file that opens offline: CSS, JS and plots (inline SVG) are inlined, and
the per-check data travel as compact columnar JSON (strings interned in one table) in a
``<script type="application/json">`` block; the JS builds the matrix lazily from it.
Summaries that stay small (header, conventions, divergences, pairwise, accuracy plots,
changes between runs) are rendered by Jinja2 with autoescape on.
"""
from __future__ import annotations

import json
import math
from bisect import bisect_left
import statistics
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import resources
from operator import itemgetter
from pathlib import Path
from typing import Any, Iterable, Sequence

import jinja2
from markupsafe import Markup

from reports.results import VERDICTS, ResultsError, gc_paused, load_results, number

DTYPE_ORDER = ("float16", "bfloat16", "float32", "float64")
SEVERITY = {v: i for i, v in enumerate(("agree", "unsupported", "raises", "divergence", "fail"))}
#: Record keys that get their own column in the embedded data; the rest pass through.
KNOWN_KEYS = frozenset((
    "id", "op", "entry_point", "framework", "framework_version", "dtype", "device", "kind",
    "verdict", "max_abs_err", "max_rel_err", "max_ulp", "divergence", "repro", "case",
    "tolerance", "worst", "message", "nodeid"))
#: Histogram bins of max ULP for the accuracy plots: (label, upper bound inclusive).
ULP_BINS: tuple[tuple[str, float], ...] = (
    ("0", 0.0), ("≤1", 1.0), ("≤10", 10.0), ("≤10²", 1e2), ("≤10³", 1e3), ("≤10⁴", 1e4),
    ("≤10⁶", 1e6), (">10⁶", math.inf))
CHANGES_SHOWN = 300  # rows per change category in the page; the count is always exact


@dataclass
class Run:
    path: str
    doc: dict[str, Any]
    label: str = ""
    short: str = ""

    @property
    def records(self) -> list[dict[str, Any]]:
        return self.doc["records"]


@dataclass
class BuildResult:
    runs: list[Run]
    errors: list[ResultsError] = field(default_factory=list)
    html: str = ""


# -- loading ------------------------------------------------------------------------------
def load_runs(paths: Sequence[str | Path], labels: Sequence[str] = ()
              ) -> tuple[list[Run], list[ResultsError]]:
    """Every readable file becomes a Run; each unreadable one becomes a ResultsError."""
    runs: list[Run] = []
    errors: list[ResultsError] = []
    for path in paths:
        try:
            runs.append(Run(str(path), load_results(path)))
        except ResultsError as exc:
            errors.append(exc)
    for i, run in enumerate(runs):
        run.label = labels[i] if i < len(labels) and labels[i] else default_label(run)
        run.short = f"R{i + 1}" if len(runs) > 1 else ""
    seen: Counter[str] = Counter(r.label for r in runs)
    for i, run in enumerate(runs):
        if seen[run.label] > 1:
            run.label = f"{run.label} #{i + 1}"
    return runs, errors


def default_label(run: Run) -> str:
    """framework versions + device(s) + host, from the file itself."""
    versions = []
    for name, info in sorted(run.doc["frameworks"].items()):
        if isinstance(info, dict) and info.get("version"):
            versions.append(f"{name} {info['version']}")
    if not versions:
        seen = {(r["framework"], r.get("framework_version") or "") for r in run.records[:5000]}
        versions = [f"{f} {v}".strip() for f, v in sorted(seen)]
    devices = sorted({str(r.get("device") or "cpu") for r in run.records[:5000]}) or ["cpu"]
    env = run.doc["environment"]
    gpus = env.get("gpus") or []
    host = env.get("hostname") or Path(run.path).name
    device = ", ".join(devices)
    if gpus and any(d != "cpu" for d in devices):
        device += f" ({'; '.join(map(str, gpus))})"
    return " · ".join(x for x in (", ".join(versions), device, str(host)) if x)


# -- embedded data ------------------------------------------------------------------------
@dataclass
class _Interned:
    ids: list[int]
    table: list[Any]


def _intern_objects(objs: Sequence[Any], hints: Iterable[Any]) -> _Interned:
    """Intern JSON-able objects (case, tolerance dicts): equal objects under the same hint
    (e.g. the case id) share one entry, found by identity or ``==`` at C speed."""
    last: dict[Any, tuple[Any, int]] = {}
    table: list[Any] = []
    ids: list[int] = []
    append = ids.append
    for obj, hint in zip(objs, hints):
        if not obj:
            append(-1)
            continue
        seen = last.get(hint)
        if seen is not None and (seen[0] is obj or seen[0] == obj):
            append(seen[1])
            continue
        i = len(table)
        table.append(obj)
        last[hint] = (obj, i)
        append(i)
    return _Interned(ids, table)


def _fmt_col(values: list[Any], spec: str) -> list[Any]:
    """Floats as short decimal strings (JS parses them); None and "inf"/"nan" kept."""
    return [v if v is None or v.__class__ is str else format(v, spec) for v in values]


def embedded_data(runs: Sequence[Run]) -> dict[str, Any]:
    index: dict[Any, int] = {None: -1}
    table: list[str] = []

    def strings(values: list[Any]) -> list[int]:
        for v in dict.fromkeys(values):
            if v not in index:
                index[v] = len(table)
                table.append(v if isinstance(v, str) else json.dumps(v, default=str))
        return [index[v] for v in values]

    recs = [rec for run in runs for rec in run.records]
    run_col = [i for i, run in enumerate(runs) for _ in run.records]
    verdict_code = {v: i for i, v in enumerate(VERDICTS)}
    names = ("id", "op", "entry_point", "framework", "framework_version", "dtype", "device",
             "kind", "verdict", "max_ulp", "max_abs_err", "max_rel_err", "divergence", "repro",
             "message", "worst", "nodeid", "case", "tolerance")
    # One C-speed pass turns the records into columns.
    columns = list(zip(*map(itemgetter(*names), recs))) if recs else [()] * len(names)
    col = dict(zip(names, columns))
    cases = _intern_objects(col["case"], zip(run_col, col["op"], col["id"]))
    tols = _intern_objects(col["tolerance"], zip(col["dtype"], col["kind"]))
    objects = cases.table + tols.table
    offset = len(cases.table)
    known = KNOWN_KEYS
    extra = [({k: v for k, v in r.items() if k not in known} or None)
             if len(r) > len(known) else None for r in recs]
    cols: dict[str, list[Any]] = {
        "run": run_col,
        "id": strings(col["id"]), "op": strings(col["op"]), "ep": strings(col["entry_point"]),
        "fw": strings(col["framework"]), "fwv": strings(col["framework_version"]),
        "dt": strings(col["dtype"]), "dev": strings(col["device"]), "kind": strings(col["kind"]),
        "v": [verdict_code[v] for v in col["verdict"]],
        "ulp": list(col["max_ulp"]),
        "abs": _fmt_col(col["max_abs_err"], ".4g"),
        "rel": _fmt_col(col["max_rel_err"], ".4g"),
        "div": strings(col["divergence"]),
        "repro": strings([x or None for x in col["repro"]]),
        "msg": strings(col["message"]),
        "case": cases.ids, "tol": [i if i < 0 else i + offset for i in tols.ids],
        "worst": list(col["worst"]),
        "node": strings([x or None for x in col["nodeid"]]),
        "extra": extra if any(x is not None for x in extra) else [],
    }
    s = table
    divergences = {}
    for run in runs:
        for d in run.doc["divergences"]:
            if isinstance(d, dict) and d.get("id") is not None:
                divergences.setdefault(str(d["id"]), {
                    "title": d.get("title"), "explanation": d.get("explanation"),
                    "link": safe_link(d.get("link")), "trigger": d.get("trigger")})
    return {
        "verdicts": list(VERDICTS),
        "runs": [{"label": r.label, "short": r.short, "file": r.path} for r in runs],
        "strings": s,
        "objects": objects,
        "divergences": divergences,
        "n": len(recs),
        "cols": cols,
    }


def script_json(data: Any) -> Markup:
    """JSON safe inside a <script> element: no '<', '>' or '&' can close or open a tag."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                      default=str)
    text = (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return Markup(text)


def safe_link(link: Any) -> str | None:
    """Only http(s) links become hrefs (no javascript: or data: URLs from a results file)."""
    if isinstance(link, str) and link.startswith(("https://", "http://")):
        return link
    return None


# -- summaries rendered by Jinja ----------------------------------------------------------
def totals(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    counts = Counter(r["verdict"] for r in records)
    return {v: counts.get(v, 0) for v in VERDICTS}


def verdict_line(counts: dict[str, int], statuses: Sequence[str]) -> str:
    n = sum(counts.values())
    line = (f"{n} checks: all agree or explained" if counts["fail"] == 0
            else f"{counts['fail']} failure{'s' if counts['fail'] != 1 else ''} among {n} checks")
    bad = [s for s in statuses if s != "complete"]
    if bad:
        line += f" (run {', '.join(sorted(set(bad)))}: results are partial)"
    return line


def conventions_table(runs: Sequence[Run]
                      ) -> tuple[list[str], list[tuple[str, list[dict[str, Any]]]]]:
    """Columns: one per framework (one more per run whose conventions differ). A value may
    be plain or ``{"value": ..., "source": ...}``; an http(s) source becomes a link."""
    columns: list[tuple[str, dict[str, Any]]] = []
    for run in runs:
        for name, info in sorted(run.doc["frameworks"].items()):
            conv = info.get("conventions") if isinstance(info, dict) else None
            if not isinstance(conv, dict) or not conv:
                continue
            same = [c for n, c in columns if n.split(" (")[0] == name]
            if any(c == conv for c in same):
                continue
            label = name if not same else f"{name} ({run.label})"
            columns.append((label, conv))
    topics: list[str] = []
    for _, conv in columns:
        topics += [k for k in conv if k not in topics]
    rows = [(t, [_convention_cell(c[t]) if t in c else {"text": "—", "source": "", "link": None}
                 for _, c in columns]) for t in topics]
    return [n for n, _ in columns], rows


def _convention_cell(value: Any) -> dict[str, Any]:
    source = ""
    if isinstance(value, dict) and "value" in value:
        source = _plain(value.get("source") or "")
        value = value["value"]
    link = None
    if source:
        link = safe_link(source.split()[0])
    return {"text": _plain(value), "source": source, "link": link}


def _plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def divergence_table(runs: Sequence[Run]) -> list[dict[str, Any]]:
    explained: Counter[str] = Counter()
    for run in runs:
        for rec in run.records:
            d = rec["divergence"]
            if d is not None:
                explained[str(d)] += 1
    rows: dict[str, dict[str, Any]] = {}
    for run in runs:
        for d in run.doc["divergences"]:
            if not isinstance(d, dict) or d.get("id") is None:
                continue
            key = str(d["id"])
            if key in rows:
                continue
            eps = d.get("entry_points") or []
            rows[key] = {
                "id": key, "title": _plain(d.get("title") or ""),
                "entry_points": ", ".join(map(str, eps)) if isinstance(eps, list) else _plain(eps),
                "versions": _plain(d.get("versions") or ""),
                "trigger": _plain(d.get("trigger") or ""),
                "explanation": _plain(d.get("explanation") or ""),
                "link": safe_link(d.get("link")), "raw_link": _plain(d.get("link") or ""),
                "explained": explained.get(key, 0)}
    for key, n in explained.items():  # a record names a divergence the registry lacks
        if key not in rows:
            rows[key] = {"id": key, "title": "(not in the registry of these runs)",
                         "entry_points": "", "versions": "", "trigger": "", "explanation": "",
                         "link": None, "raw_link": "", "explained": n}
    return list(rows.values())


def _ulp(rec: dict[str, Any]) -> float | None:
    return number(rec["max_ulp"])


def fmt_ulp(x: float | None) -> str:
    if x is None:
        return "—"
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x < 10:
        return f"{x:.3g}"
    if x < 1e4:
        return f"{x:.0f}"
    return f"{x:.2g}"


def _dtype_key(d: str) -> tuple[int, str]:
    return (DTYPE_ORDER.index(d) if d in DTYPE_ORDER else len(DTYPE_ORDER), d)


def _ulps(values: list[Any]) -> list[float | None]:
    out: list[float | None] = []
    append = out.append
    for x in values:
        if x is None or x.__class__ is float:
            append(x)
        else:
            append(number(x))
    return out


def ulp_groups(runs: Sequence[Run]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(op, dtype, entry point [run]) -> checks, fail and divergence counts, ULP errors."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    multi = len(runs) > 1
    for run in runs:
        suffix = f" [{run.short}]" if multi else ""
        recs = run.records
        ulps = _ulps([r["max_ulp"] for r in recs])
        for rec, u in zip(recs, ulps):
            key = (rec["op"], rec["dtype"], rec["entry_point"] + suffix)
            g = groups.get(key)
            if g is None:
                g = groups[key] = {"entry_point": rec["entry_point"] + suffix,
                                   "framework": rec["framework"], "n": 0, "fail": 0,
                                   "divergence": 0, "ulps": []}
            g["n"] += 1
            v = rec["verdict"]
            if v == "fail" or v == "divergence":
                g[v] += 1
            if u is not None:
                g["ulps"].append(u)
    return groups


_SPACING_AT_1 = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23, "float64": 2.0**-52}


def sample_distance(a: dict[str, Any], b: dict[str, Any], dtype: str) -> float:
    """Largest distance between two output samples, in ULP of ``dtype`` at the larger value
    (inf when shapes or non-finite patterns differ)."""
    if a.get("shape") != b.get("shape"):
        return math.inf
    step = _SPACING_AT_1.get(dtype, 2.0**-52)
    worst = 0.0
    for x, y in zip(a.get("values", ()), b.get("values", ())):
        x, y = number(x), number(y)
        if x is None or y is None:
            continue
        if x == y or (x != x and y != y):
            continue
        if not (math.isfinite(x) and math.isfinite(y)):
            return math.inf
        mag = max(abs(x), abs(y))
        ulp_here = step * 2.0 ** math.floor(math.log2(mag)) if mag > 0 else step * 2.0**-126
        worst = max(worst, abs(x - y) / ulp_here)
    return worst


def pairwise_tables(runs: Sequence[Run],
                    groups: dict[tuple[str, str, str], dict[str, Any]] | None = None
                    ) -> list[dict[str, Any]]:
    """Per op and dtype: entry points side by side (checks, verdicts, max and median ULP);
    when records carry ``value_digest``, how often two entry points agree bit for bit, and
    when they carry ``pairwise`` ({other entry point: ULP apart}), the largest distance."""
    if groups is None:
        groups = ulp_groups(runs)
    stats: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for (op, dt, _), g in groups.items():
        stats[(op, dt)].append(g)
    digests: dict[tuple, dict[str, Any]] = defaultdict(dict)
    samples: dict[tuple, dict[str, Any]] = defaultdict(dict)
    pair_ulp: dict[tuple[str, str], dict[tuple[str, str], float]] = defaultdict(dict)
    multi = len(runs) > 1
    for run in runs:
        suffix = f" [{run.short}]" if multi else ""
        for rec in run.records:
            if len(rec) <= len(KNOWN_KEYS):
                continue  # no extra fields, so neither value_digest nor pairwise
            ep = rec["entry_point"] + suffix
            digest = rec.get("value_digest")
            if digest is not None:
                digests[(run.short, rec["op"], rec["dtype"], rec["device"], rec["id"],
                         rec["kind"])][ep] = digest
            smp = rec.get("sample")
            if isinstance(smp, dict) and rec.get("verdict") != "unsupported":
                samples[(run.short, rec["op"], rec["dtype"], rec["device"], rec["id"],
                         rec["kind"])][ep] = smp
            pw = rec.get("pairwise")
            if isinstance(pw, dict):
                key = (rec["op"], rec["dtype"])
                for other, dist in pw.items():
                    d = number(dist)
                    if d is not None:
                        pk = tuple(sorted((ep, str(other) + suffix)))
                        cur = pair_ulp[key].get(pk)
                        pair_ulp[key][pk] = d if cur is None or not d <= cur else cur
    # records carry the first values of each output ("sample"): every entry point saw the
    # same inputs, so two samples of one case are directly comparable
    for (_, op, dt, _dev, _id, _kind), eps in samples.items():
        names = sorted(eps)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                d = sample_distance(eps[a], eps[b], dt)
                pk = (a, b)
                cur = pair_ulp[(op, dt)].get(pk)
                pair_ulp[(op, dt)][pk] = d if cur is None or not d <= cur else cur
    same: dict[tuple[str, str], Counter] = defaultdict(Counter)
    both: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for (_, op, dt, *_), eps in digests.items():
        names = sorted(eps)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                both[(op, dt)][(a, b)] += 1
                same[(op, dt)][(a, b)] += eps[a] == eps[b]
    tables = []
    for (op, dt) in sorted(stats, key=lambda k: (k[0], _dtype_key(k[1]))):
        rows = []
        for st in sorted(stats[(op, dt)], key=lambda g: (g["framework"], g["entry_point"])):
            finite = [u for u in st["ulps"] if u == u]
            rows.append({**st, "max": fmt_ulp(max(finite) if finite else None),
                         "median": fmt_ulp(statistics.median(finite) if finite else None)})
        pairs = []
        for (a, b), n in sorted(both[(op, dt)].items()):
            pairs.append({"a": a, "b": b, "what": "bit-identical results",
                          "value": f"{same[(op, dt)][(a, b)]} of {n} checks"})
        for (a, b), d in sorted(pair_ulp[(op, dt)].items()):
            pairs.append({"a": a, "b": b, "what": "max ULP apart", "value": fmt_ulp(d)})
        tables.append({"op": op, "dtype": dt, "rows": rows, "pairs": pairs})
    return tables


def accuracy_plots(runs: Sequence[Run],
                   groups: dict[tuple[str, str, str], dict[str, Any]] | None = None
                   ) -> list[dict[str, Any]]:
    """Per dtype, per entry point: a histogram strip of max ULP (inline SVG data)."""
    if groups is None:
        groups = ulp_groups(runs)
    nb = len(ULP_BINS)
    bounds = [b for _, b in ULP_BINS]
    counts: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for (_, dt, _), g in groups.items():
        if not g["ulps"]:
            continue
        row = counts[dt].get(g["entry_point"])
        if row is None:
            row = counts[dt][g["entry_point"]] = [0] * (nb + 1)
        for u in g["ulps"]:
            if u != u or u in (math.inf, -math.inf):
                row[nb] += 1
            else:
                row[bisect_left(bounds, u)] += 1
    labels = [label for label, _ in ULP_BINS] + ["non-finite"]
    plots = []
    label_w, cell_w, row_h = 330, 56, 20
    for dt in sorted(counts, key=_dtype_key):
        rows = []
        for y, (ep, row) in enumerate(sorted(counts[dt].items())):
            top = max(row) or 1
            cells = []
            for i, c in enumerate(row):
                frac = c / top
                cells.append({"x": label_w + i * cell_w, "count": c, "label": labels[i],
                              "h": round(2 + (row_h - 4) * frac, 1) if c else 0,
                              "opacity": round(0.25 + 0.75 * frac, 2), "bad": i >= nb - 1})
            rows.append({"y": 22 + y * row_h, "entry_point": ep, "cells": cells,
                         "n": sum(row)})
        plots.append({"dtype": dt, "rows": rows, "labels": labels, "label_w": label_w,
                      "cell_w": cell_w, "row_h": row_h,
                      "width": label_w + cell_w * len(labels) + 50,
                      "height": 30 + row_h * len(rows)})
    return plots


def _match_key(rec: dict[str, Any]) -> tuple:
    return (rec["id"], rec["op"], rec["entry_point"], rec["dtype"], rec["device"], rec["kind"])


def changes(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """First run against each other: new failures, fixed failures and divergences, other
    verdict changes, accuracy changes beyond 2x in max ULP, checks only in one run."""
    if len(runs) < 2:
        return []
    base = {_match_key(r): r for r in runs[0].records}
    out = []
    for run in runs[1:]:
        cats: dict[str, list[dict[str, Any]]] = {k: [] for k in (
            "new failures", "fixed failures", "fixed divergences", "other verdict changes",
            "accuracy worse > 2x", "accuracy better > 2x", "only in this run",
            "only in the first run")}
        seen = set()
        for rec in run.records:
            key = _match_key(rec)
            seen.add(key)
            old = base.get(key)
            if old is None:
                cats["only in this run"].append(_change_row(key, None, rec))
                continue
            a, b = old["verdict"], rec["verdict"]
            if a != b:
                if b == "fail":
                    cat = "new failures"
                elif a == "fail":
                    cat = "fixed failures"
                elif a == "divergence" and b == "agree":
                    cat = "fixed divergences"
                else:
                    cat = "other verdict changes"
                cats[cat].append(_change_row(key, old, rec))
                continue
            ua, ub = _ulp(old), _ulp(rec)
            if ua is None or ub is None or math.isnan(ua) or math.isnan(ub):
                continue
            lo, hi = max(ua, 1.0), max(ub, 1.0)  # below 1 ULP nothing counts as a change
            if hi > 2 * lo:
                cats["accuracy worse > 2x"].append(_change_row(key, old, rec))
            elif lo > 2 * hi:
                cats["accuracy better > 2x"].append(_change_row(key, old, rec))
        for key, old in base.items():
            if key not in seen:
                cats["only in the first run"].append(_change_row(key, old, None))
        out.append({"label": run.label, "short": run.short, "base": runs[0].label,
                    "categories": [{"name": k, "count": len(v), "rows": v[:CHANGES_SHOWN]}
                                   for k, v in cats.items()]})
    return out


def _change_row(key: tuple, old: dict | None, new: dict | None) -> dict[str, str]:
    return {"id": key[0], "op": key[1], "entry_point": key[2], "dtype": key[3],
            "device": key[4], "kind": key[5],
            "old": f"{old['verdict']} {fmt_ulp(_ulp(old))}" if old else "—",
            "new": f"{new['verdict']} {fmt_ulp(_ulp(new))}" if new else "—"}


def run_summaries(runs: Sequence[Run]) -> list[dict[str, Any]]:
    out = []
    for run in runs:
        env = run.doc["environment"]
        fws = []
        for name, info in sorted(run.doc["frameworks"].items()):
            if isinstance(info, dict):
                fws.append((name, info.get("version") or "—",
                            "available" if info.get("available") else
                            f"unavailable: {info.get('reason') or '?'}"))
        keys = ("python", "numpy", "platform", "cpu", "gpus", "hostname", "seed",
                "selected_frameworks", "selected_dtypes", "selected_device", "xdist_workers",
                "pytest_args", "env")
        env_rows = [(k, _plain(env[k])) for k in keys if env.get(k) not in (None, "", [], {})]
        env_rows += [(k, _plain(v)) for k, v in env.items()
                     if k not in keys and v not in (None, "", [], {})]
        out.append({"label": run.label, "short": run.short, "file": run.path,
                    "created": run.doc.get("created") or "?", "status": run.doc["status"],
                    "seed": env.get("seed"), "frameworks": fws, "env": env_rows,
                    "totals": totals(run.records), "n": len(run.records)})
    return out


# -- rendering ----------------------------------------------------------------------------
def _template_text(name: str) -> str:
    return resources.files("reports").joinpath("templates", name).read_text(encoding="utf-8")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("reports", "templates"),
        autoescape=True, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined)


def render(runs: Sequence[Run], title: str | None = None,
           errors: Sequence[ResultsError] = ()) -> str:
    all_records = [r for run in runs for r in run.records]
    counts = totals(all_records)
    conv_cols, conv_rows = conventions_table(runs)
    groups = ulp_groups(runs)
    template = _environment().get_template("report.html.j2")
    return template.render(
        title=title or "lossconform report",
        runs=run_summaries(runs),
        merged=len(runs) > 1,
        totals=counts,
        verdicts=VERDICTS,
        verdict_line=verdict_line(counts, [r.doc["status"] for r in runs]),
        conv_cols=conv_cols, conv_rows=conv_rows,
        divergences=divergence_table(runs),
        pairwise=pairwise_tables(runs, groups),
        plots=accuracy_plots(runs, groups),
        changes=changes(runs),
        errors=[str(e) for e in errors],
        data=script_json(embedded_data(runs)),
        css=Markup(_template_text("report.css")),
        js=Markup(_template_text("report.js").replace("</", "<\\/")),
    )


def build(paths: Sequence[str | Path], out: str | Path, labels: Sequence[str] = (),
          title: str | None = None) -> BuildResult:
    """Load what can be loaded, write the page if anything was, report every bad file."""
    with gc_paused():
        runs, errors = load_runs(paths, labels)
        result = BuildResult(runs, errors)
        if runs:
            result.html = render(runs, title, errors)
    if runs:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(result.html, encoding="utf-8")
        tmp.replace(out)
    return result


def main(argv: Sequence[str] | None = None, prog: str = "python -m reports") -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Build the self-contained lossconform HTML report from results files.",
        epilog="Exit status: 0 when at least one file was read and the report written (each "
               "malformed or foreign file is reported on stderr, naming the file and the "
               "problem, and left out); 2 when no file could be read.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (("build", "build a report from one or more results files"),
                        ("merge", "same as build; merges two or more runs, one column "
                                  "group per run, with a changes view")):
        p = sub.add_parser(name, help=help_, description=help_, epilog=parser.epilog)
        p.add_argument("results", nargs="+", metavar="RESULTS.json")
        p.add_argument("-o", "--output", default="reports/out/report.html", metavar="OUT.html",
                       help="where to write the page (default: reports/out/report.html)")
        p.add_argument("--label", action="append", default=[], metavar="LABEL",
                       help="label of the next run, in file order (repeatable); default: "
                            "framework versions + device + host from the file")
        p.add_argument("--title", default=None, help="page title")
    args = parser.parse_args(argv)
    if args.command == "merge" and len(args.results) < 2:
        parser.error("merge needs two or more results files (use build for one)")
    result = build(args.results, args.output, args.label, args.title)
    for err in result.errors:
        print(f"error: {err}", file=sys.stderr)
    if not result.runs:
        print("error: no results file could be read; no report written", file=sys.stderr)
        return 2
    n = sum(len(r.records) for r in result.runs)
    print(f"wrote {args.output}: {len(result.runs)} run(s), {n} records"
          + (f"; {len(result.errors)} file(s) skipped" if result.errors else ""))
    return 0
