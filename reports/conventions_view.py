"""The report's conventions tables, built from the results' ``convention`` records.

One table per topic, a row per probe, a column per framework (one per run label where merged
runs of the same framework observed different things). A cell groups the entry points by
their observation; an observation that differs from its pin is marked and shows the pin; a
probe the adapter could not express shows the reason. Under each table: the frameworks'
sources for the topic (``frameworks.<name>.convention_sources``) and the probe's module.
Reads only results: the topic titles, questions and modules travel in each record's ``case``.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Sequence


def conventions_view(runs: Sequence[Any], link_parts: Callable[[Any], list]) -> list[dict[str, Any]]:
    """[{topic, title, columns, rows: [{probe, question, module, cells}], sources}]."""
    topics: "OrderedDict[str, dict[str, Any]]" = OrderedDict()
    columns: list[str] = []
    merged = len(runs) > 1
    for run in runs:
        for rec in run.records:
            if rec["kind"] != "convention" or not isinstance(rec["case"], dict):
                continue
            case = rec["case"]
            col = rec["framework"] + (f" ({run.label})" if merged else "")
            if col not in columns:
                columns.append(col)
            t = topics.setdefault(case.get("topic", "?"), {
                "topic": case.get("topic", "?"), "title": case.get("topic_title") or case.get("topic", "?"),
                "probes": OrderedDict(), "sources": {}})
            p = t["probes"].setdefault(case.get("probe", rec["id"]), {
                "probe": case.get("probe", rec["id"]), "question": case.get("question", ""),
                "module": case.get("module", ""), "cells": {}})
            if case.get("source"):
                t["sources"][rec["framework"]] = case["source"]
            cell = p["cells"].setdefault(col, OrderedDict())
            if rec["verdict"] == "unsupported":
                key = ("unsupported", f"not expressible: {rec['message'] or ''}", None)
            else:
                key = (rec["verdict"], rec["observed"] or "", rec["pinned"])
            cell.setdefault(key, []).append(rec["entry_point"])
    out = []
    for t in topics.values():
        rows = []
        for p in t["probes"].values():
            cells = []
            for col in columns:
                groups = p["cells"].get(col, {})
                cells.append([{"verdict": v, "text": text, "pinned": pinned,
                               "entry_points": sorted(eps)}
                              for (v, text, pinned), eps in groups.items()])
            rows.append({"probe": p["probe"], "question": p["question"],
                         "module": p["module"].replace(".", "/") + ".py" if p["module"] else "",
                         "cells": cells})
        sources = [{"framework": fw, "parts": link_parts(src)} for fw, src in sorted(t["sources"].items())]
        out.append({"topic": t["topic"], "title": t["title"], "columns": columns, "rows": rows,
                    "sources": sources})
    return out
