"""The report's settings view, built from the results' ``setting`` records
(``lossconform.settings``).

One row per framework and setting (per run label too where merged runs differ): the calls of
the slice run under it, the share of outputs (forward values, gradients) that are not bitwise
identical to the baseline's and by how many ULP they moved, NaN/inf pattern changes, errors
that appeared or changed, accuracy against the float64 reference (the worst tolerance used
and max ULP of the checks held to the tolerance), verdicts, the probe observations that
changed, and the time the calls took (a compiling mode's first calls include compiling).
Under each row: the calls and probes whose outcome changed, and the time per entry point.
Reads only results; the vocabulary of ``observed`` is ``lossconform.settings.compare``'s.
"""
from __future__ import annotations

import math
import re
from collections import OrderedDict
from typing import Any, Sequence

from lossconform.settings.compare import CHANGED_STATES, parse_observed, probe_state

#: changed calls and probes listed under each setting (the counts are always exact)
DETAILS_SHOWN = 60
_MOVED = re.compile(r"up to (\S+) ULP (?:\(at the output's scale\) )?from the baseline")


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _fmt(x: float | None, spec: str = ".3g") -> str:
    if x is None:
        return "–"
    return "inf" if math.isinf(x) else format(x, spec)


def settings_view(runs: Sequence[Any]) -> list[dict[str, Any]]:
    """[{framework, setting, how, calls, outputs, changed, share, moved, nonfinite, errors,
    tolerance_used, max_ulp, verdicts, probes, probes_changed, seconds, details, timing}]."""
    rows: "OrderedDict[tuple, dict[str, Any]]" = OrderedDict()
    merged = len(runs) > 1
    for run in runs:
        for rec in run.records:
            if rec["kind"] != "setting":
                continue
            key = (rec["framework"], rec["setting"] or "?", run.label if merged else "")
            row = rows.setdefault(key, {
                "framework": rec["framework"], "setting": rec["setting"] or "?",
                "run": run.label if merged else "", "how": "", "calls": 0, "unsupported": 0,
                "outputs": 0, "changed": 0, "moved": 0.0, "nonfinite": 0, "errors": 0,
                "tolerance_used": None, "max_ulp": None,
                "verdicts": OrderedDict((v, 0) for v in ("agree", "divergence", "fail", "unsupported")),
                "probes": 0, "probes_changed": 0, "seconds": 0.0, "details": [], "n_details": 0,
                "timing": OrderedDict()})
            facets = rec["facets"] if isinstance(rec["facets"], dict) else {}
            if facets.get("mode"):
                row["how"] = f"mode {facets['mode']}"
            elif not row["how"]:
                row["how"] = "process"
            verdict = rec["verdict"]
            row["verdicts"][verdict] = row["verdicts"].get(verdict, 0) + 1
            observed = rec["observed"] or ""
            if str(rec["id"]).startswith("probe-"):
                row["probes"] += 1
                state = probe_state(observed)
                if state in ("changed", "changed in the sign of a zero only") or verdict == "fail":
                    row["probes_changed"] += 1
                    _detail(row, rec, observed)
                continue
            row["calls"] += 1
            if verdict == "unsupported":
                row["unsupported"] += 1
            states = parse_observed(observed)
            outs = {k: v for k, v in states.items() if k in ("forward", "gradient")}
            row["outputs"] += len(outs)
            row["changed"] += sum(1 for v in outs.values() if v in CHANGED_STATES)
            row["nonfinite"] += sum(1 for v in outs.values() if v == "non-finite pattern differs")
            if states.get("call") in ("error differs", "no longer raises"):
                row["errors"] += 1
            elif states.get("call") == "raises" and "baseline returns" in observed:
                row["errors"] += 1
            for m in _MOVED.finditer(observed):
                row["moved"] = max(row["moved"], _num(m.group(1)) or 0.0)
            if verdict in ("agree", "fail"):
                tu, mu = _num(rec["tolerance_used"]), _num(rec["max_ulp"])
                if tu is not None:
                    row["tolerance_used"] = tu if row["tolerance_used"] is None else max(row["tolerance_used"], tu)
                if mu is not None:
                    row["max_ulp"] = mu if row["max_ulp"] is None else max(row["max_ulp"], mu)
            secs = _num(rec["eval_seconds"]) or 0.0
            row["seconds"] += secs
            t = row["timing"].setdefault(rec["entry_point"], [0, 0.0, 0.0])
            t[0] += 1
            t[1] += secs
            t[2] = max(t[2], secs)
            if verdict == "fail" or any(v in CHANGED_STATES for v in states.values()):
                _detail(row, rec, observed)
    out = []
    for row in rows.values():
        share = row["changed"] / row["outputs"] if row["outputs"] else 0.0
        out.append({
            **{k: row[k] for k in ("framework", "setting", "run", "how", "calls", "unsupported",
                                   "outputs", "changed", "nonfinite", "errors", "probes",
                                   "probes_changed", "details", "n_details")},
            "share": f"{share:.0%}",
            "moved": _fmt(row["moved"]),
            "tolerance_used": _fmt(row["tolerance_used"]),
            "max_ulp": _fmt(row["max_ulp"]),
            "verdicts": [{"verdict": v, "n": n} for v, n in row["verdicts"].items() if n],
            "fails": row["verdicts"].get("fail", 0),
            "seconds": f"{row['seconds']:.2f}",
            "timing": [{"entry_point": ep, "calls": n, "total": f"{tot:.2f}", "slowest": f"{mx:.2f}"}
                       for ep, (n, tot, mx) in row["timing"].items()],
        })
    return out


def _detail(row: dict[str, Any], rec: Any, observed: str) -> None:
    row["n_details"] += 1
    if len(row["details"]) < DETAILS_SHOWN:
        row["details"].append({"verdict": rec["verdict"], "entry_point": rec["entry_point"],
                               "id": rec["id"], "dtype": rec["dtype"], "observed": observed,
                               "message": rec["message"] or ""})


__all__ = ["DETAILS_SHOWN", "settings_view"]
