"""The report's relative-accuracy view, built from the records' ``max_rel_ulp_normal`` (the
worst error, in ULP of each element's own magnitude, over the elements whose reference value is
a normal number of the dtype; lossconform/harness/tolerances.py, criterion 2).

Per op, dtype and kind (forward, gradient), one row per entry point (per run where merged):
its checks, the worst and the median of that error, how many checks exceed their relative
bound (``tolerance.rel_used`` > 1: the largest error / condition-scaled bound over the held
elements; for results without it, ``tolerance.rel_ulp``, the bound of a well-conditioned
element), and -- the point of the view -- on how
many cases it LOSES relative accuracy (beyond that bound) while another entry point of the
same op keeps it on the same inputs (every entry point sees identical inputs for a case), with
the entry points that kept it and the divergence entries that explain the loss. Reads only
results.
"""
from __future__ import annotations

import math
import statistics
from collections import OrderedDict, defaultdict
from itertools import compress, repeat
from operator import is_not
from typing import Any, Sequence

from lossconform.dtypes import DTYPES

#: entry points named as keepers of one row, at most
KEEPERS_SHOWN = 3


def _num(x: Any) -> float | None:
    """A record's number (non-finite ones are written as strings); None if absent."""
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def fmt_ulp(x: float | None) -> str:
    if x is None:
        return "—"
    if math.isinf(x):
        return "∞"
    if x < 10:
        return f"{x:.2g}"
    if x < 1e4:
        return f"{x:.0f}"
    return f"{x:.1e}".replace("e+0", "e").replace("e+", "e")


def _get(rec: Any, name: str) -> Any:
    try:
        return rec[name]
    except (KeyError, IndexError, TypeError):
        return None


def _candidates(run: Any) -> Sequence[Any]:
    """The run's records that may hold a relative error on normal elements: those with
    ``max_rel_ulp_normal`` set, found at C speed from the reader's columns where the run
    has them (``lossconform.reports.results.Columns``); else every record."""
    columns = getattr(run, "columns", None)
    if columns is None:
        return run.records
    return list(compress(run.records, map(is_not, columns["max_rel_ulp_normal"],
                                          repeat(None))))


def accuracy_view(runs: Sequence[Any]) -> list[dict[str, Any]]:
    """[{op, dtype, kind, rows: [{entry_point, framework, checks, worst, median, beyond,
    lost, kept_by, example, divergences, fail}], losses}] sorted by op, dtype, kind; a group
    whose ``losses`` is non-zero has an entry point losing relative accuracy where another
    keeps it."""
    merged = len(runs) > 1
    # (op, dtype, kind) -> case id [run] -> entry point -> lost relative accuracy (None: unknown)
    per_case: dict[tuple, dict[str, dict[str, bool | None]]] = defaultdict(
        lambda: defaultdict(dict))
    stats: dict[tuple, "OrderedDict[str, dict[str, Any]]"] = defaultdict(OrderedDict)
    for run in runs:
        suffix = f" [{run.short}]" if merged else ""
        for rec in _candidates(run):
            kind = _get(rec, "kind")
            if kind not in ("forward", "gradient") or _get(rec, "verdict") == "unsupported":
                continue
            u = _num(_get(rec, "max_rel_ulp_normal"))
            if u is None:
                continue
            tol = _get(rec, "tolerance")
            tol = tol if isinstance(tol, dict) else {}
            # kept: the relative criterion's use of its (condition-scaled) bound <= 1; results
            # without it: the bound of a well-conditioned element
            used = _num(tol.get("rel_used"))
            bound = _num(tol.get("rel_ulp"))
            lost = (used > 1) if used is not None else (
                None if bound is None else u > bound)
            key = (_get(rec, "op"), _get(rec, "dtype"), kind)
            ep = f"{_get(rec, 'entry_point')}{suffix}"
            per_case[key][f"{_get(rec, 'id')}{suffix}"][ep] = lost
            st = stats[key].setdefault(ep, {
                "entry_point": ep, "framework": _get(rec, "framework"), "errors": [],
                "beyond": 0, "lost": 0, "kept_by": defaultdict(int), "example": "",
                "divergences": defaultdict(int), "fail": 0})
            st["errors"].append(u)
            if lost:
                st["beyond"] += 1
            div = _get(rec, "divergence")
            if div and "lose relative accuracy" in (_get(rec, "message") or ""):
                st["divergences"][div] += 1
            if _get(rec, "verdict") == "fail":
                st["fail"] += 1
    groups = []
    order = {d: i for i, d in enumerate(DTYPES)}
    for key in sorted(stats, key=lambda k: (str(k[0]), order.get(k[1], len(order)), str(k[1]),
                                            str(k[2]))):
        rows = stats[key]
        for case, eps in per_case[key].items():
            kept = [ep for ep, lost in eps.items() if lost is False]
            if not kept:
                continue
            for ep, lost in eps.items():
                if lost:
                    st = rows[ep]
                    st["lost"] += 1
                    st["example"] = st["example"] or case
                    for k in kept:
                        st["kept_by"][k] += 1
        out_rows = []
        for st in rows.values():
            errs = st["errors"]
            keepers = sorted(st["kept_by"], key=lambda k: -st["kept_by"][k])
            out_rows.append({
                "entry_point": st["entry_point"], "framework": st["framework"],
                "checks": len(errs), "worst": fmt_ulp(max(errs)),
                "median": fmt_ulp(statistics.median(errs)), "beyond": st["beyond"],
                "lost": st["lost"],
                "kept_by": ", ".join(keepers[:KEEPERS_SHOWN])
                           + (f" (+{len(keepers) - KEEPERS_SHOWN})"
                              if len(keepers) > KEEPERS_SHOWN else ""),
                "example": st["example"],
                "divergences": ", ".join(f"{d} ({n})" for d, n in sorted(
                    st["divergences"].items(), key=lambda kv: -kv[1])),
                "fail": st["fail"]})
        out_rows.sort(key=lambda r: (-r["lost"], r["entry_point"]))
        groups.append({"op": key[0], "dtype": key[1], "kind": key[2], "rows": out_rows,
                       "losses": sum(r["lost"] for r in out_rows)})
    return groups
