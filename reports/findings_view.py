"""The report's findings view: the registry's divergences that are bugs to report upstream.

Reads only results: each entry of a run's ``divergences`` section (``Divergence.summary()``)
may carry a ``finding`` object (``lossconform.divergences.entry.Finding.summary()``): title,
standalone repro, measured and correct values, where it was measured, the upstream issue (or
None) and its status. One row per finding, first run first; the number of checks of the runs
that the divergence explained is counted as in the registry table. Values are read
defensively: a malformed finding is left out, never an error.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Sequence

#: what an absent upstream link is shown as
NOT_REPORTED = "not reported yet"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def findings_view(runs: Sequence[Any], link_parts: Callable[[Any], list]) -> list[dict[str, Any]]:
    """[{id, framework, title, divergence_title, measured, correct, measured_on, dtype, kind,
    repro, upstream (link parts, empty when none), status, reported, explained}]."""
    explained: Counter[str] = Counter()
    for run in runs:
        for rec in run.records:
            if rec.get("divergence") is not None:
                explained[str(rec["divergence"])] += 1
    rows: dict[str, dict[str, Any]] = {}
    for run in runs:
        for d in run.doc.get("divergences", []):
            if not isinstance(d, dict) or d.get("id") is None or str(d["id"]) in rows:
                continue
            f = d.get("finding")
            if not isinstance(f, dict) or not _text(f.get("title")):
                continue
            upstream = _text(f.get("upstream"))
            key = str(d["id"])
            rows[key] = {
                "id": key, "framework": _text(d.get("framework")),
                "title": _text(f.get("title")), "divergence_title": _text(d.get("title")),
                "measured": _text(f.get("measured")), "correct": _text(f.get("correct")),
                "measured_on": _text(f.get("measured_on")), "dtype": _text(f.get("dtype")),
                "kind": _text(f.get("kind")), "repro": _text(f.get("repro")),
                "upstream": link_parts(upstream) if upstream else [],
                "reported": bool(upstream),
                "status": _text(f.get("status")) or (NOT_REPORTED if not upstream else ""),
                "explained": explained.get(key, 0),
            }
    return list(rows.values())
