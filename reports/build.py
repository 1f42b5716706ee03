"""Build the self-contained HTML report from one or more results files.

The page is one file that opens offline: CSS, JS and plots (inline SVG) are inlined, and
the per-check data travel as compact columnar JSON (strings interned in one table) in two
``<script type="application/json">`` blocks: what the matrix, its filters and search need
(read when the page opens) and what only a drill-down shows (read the first time a cell is
opened); a block of 1 MB or more is gzip-compressed and base64-encoded (the page inflates
it with the browser's DecompressionStream). The JS builds the matrix lazily from them (the
first rows of each op; on a large page each op's section when it scrolls into view).
Summaries (header, conventions, divergences, pairwise, accuracy plots, changes between runs)
are rendered by Jinja2 with autoescape on; on a page of ``LAZY_VIEWS_MIN_RECORDS`` or more
the large ones are ``<template>``s the page draws when each comes into view.

What the page claims is no more than what ran (``reports.runstate``): the headline states each
run's status, exit status and counts, and is green only when every run is complete, exited
0 and has no failure; "checks" are the records whose verdict is not ``unsupported`` (those
are counted apart). A file that cannot be used is named and left out, as is a second copy of
a run already loaded; the page is written safely (``reports.output``).
"""
from __future__ import annotations

import base64
import concurrent.futures
import gc
import hashlib
import json
import multiprocessing
import os
import zlib

import orjson
import math
import re
from bisect import bisect_left
import statistics
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import resources
from itertools import accumulate, chain, compress, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, Iterable, Sequence

import jinja2
from markupsafe import Markup

from lossconform.dtypes import DTYPES
from lossconform.record import FIELDS, SEVERITY
from lossconform.reports.compact import FILL_FIELDS, templates
from lossconform.reports.conventions_view import conventions_view
from lossconform.reports.findings_view import findings_view
from lossconform.reports.settings_view import settings_view
from lossconform.reports.accuracy_view import accuracy_view
from lossconform.reports.output import OutputError, resolve_output, write_output
from lossconform.reports.results import (DEEP_FIELDS, VERDICTS, Columns, ResultsError,
                                        check_record_types, gc_paused,
                                        load_results_and_columns, number)
from lossconform.reports.runstate import RunState, headline, run_state, verdict_counts

DTYPE_ORDER = DTYPES
#: Record fields (lossconform.record.CheckRecord) that get their own column in the embedded
#: data, in the order the columns are read.
COLUMN_KEYS: tuple[str, ...] = (
    "id", "op", "entry_point", "framework", "framework_version", "dtype", "device", "kind",
    "verdict", "max_ulp", "max_abs_err", "max_rel_err", "divergence", "repro", "message",
    "worst", "nodeid", "case", "tolerance", "tolerance_used")
KNOWN_KEYS = frozenset(COLUMN_KEYS)
#: Record fields used while building (pairwise distances) but left out of the page data.
BUILD_ONLY_KEYS = frozenset(("sample",))
#: The record's other fields (output dtype, time in the framework) travel as extra columns,
#: as do keys that are no record field (a newer writer's or a plug-in's): the drill-down
#: shows each under its name.
EXTRA_FIELDS: tuple[str, ...] = tuple(
    k for k in FIELDS if k not in KNOWN_KEYS and k not in BUILD_ONLY_KEYS)
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
    state: RunState | None = None
    #: the records' fields as columns, as the reader took them (None: from the records)
    columns: Columns | None = None
    #: the --label given for this file ("" for none)
    given_label: str = ""
    #: whether the records' field types have been checked (``check_record_types``)
    checked: bool = True
    # A run loaded by ``load_runs`` from a compact file holds its repro snippets only as
    # templates (``columns.texts``; the records' ``repro`` is ""): the page fills them in.

    @property
    def records(self) -> list[dict[str, Any]]:
        return self.doc["records"]


class SkippedFile(ResultsError):
    """A file left out because a run already loaded is the same run: ``str()`` is
    ``PATH: skipped: same run as FIRST (why)``."""

    def __init__(self, path: str | Path, first: str, why: str) -> None:
        self.first = first
        self.why = why
        super().__init__(path, f"skipped: same run as {first} ({why})")


@dataclass
class BuildResult:
    runs: list[Run]
    errors: list[ResultsError] = field(default_factory=list)
    html: str = ""
    #: files left out as a second copy of a run already loaded
    skipped: list[SkippedFile] = field(default_factory=list)


# -- loading ------------------------------------------------------------------------------
def _file_id(path: str | Path) -> tuple[int, int, int] | None:
    """(device, inode, size) of a readable regular file; None otherwise (load_results says
    why)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino, st.st_size) if not os.path.isdir(path) else None


def _digest(path: str | Path) -> str | None:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def load_runs(paths: Sequence[str | Path], labels: Sequence[str] = (), *,
              check_types: bool = True) -> tuple[list[Run], list[ResultsError]]:
    """Every readable file becomes a Run; each unreadable one becomes a ResultsError, and a
    second copy of a run already loaded a SkippedFile (in the same list, in file order):
    the same file (under any path), the same ``run_id``, or the same bytes. ``labels`` go
    with the files in the order given. ``check_types=False``: the records' field types are
    left for ``render`` to check (``Run.checked``), while another process works."""
    runs: list[Run] = []
    errors: list[ResultsError] = []
    by_file: dict[tuple[int, int], str] = {}
    by_run_id: dict[str, str] = {}
    by_size: dict[int, list[tuple[str, str | None]]] = defaultdict(list)  # size -> (path, digest)
    multi = len(paths) > 1
    for i, path in enumerate(paths):
        fid = _file_id(path) if multi else None
        if fid is not None and fid[:2] in by_file:
            errors.append(SkippedFile(path, by_file[fid[:2]], "the same file"))
            continue
        try:
            # repro snippets stay templates: the page takes them as they are
            doc, columns = load_results_and_columns(path, check_types=check_types,
                                                    texts=False)
        except ResultsError as exc:
            errors.append(exc)
            continue
        if fid is not None:
            run_id = doc.get("run_id")
            if isinstance(run_id, str) and run_id in by_run_id:
                errors.append(SkippedFile(path, by_run_id[run_id], f"run_id {run_id}"))
                continue
            candidates = by_size[fid[2]]  # a copy has the same size: hash only then
            digest = dup = None
            if candidates:
                digest = _digest(path)
                for k, (other, other_digest) in enumerate(candidates):
                    if other_digest is None:
                        other_digest = _digest(other)
                        candidates[k] = (other, other_digest)
                    if digest is not None and digest == other_digest:
                        dup = other
                        break
            if dup is not None:
                errors.append(SkippedFile(path, dup, "identical content"))
                continue
            candidates.append((str(path), digest))
            by_file[fid[:2]] = str(path)
            if isinstance(run_id, str):
                by_run_id[run_id] = str(path)
        runs.append(Run(str(path), doc, columns=columns, checked=check_types,
                        given_label=labels[i] if i < len(labels) and labels[i] else ""))
    name_runs(runs)
    return runs, errors


def name_runs(runs: Sequence[Run]) -> None:
    """Each run's label (``--label`` or ``default_label``, made unique), short name (R1,
    R2, ... in a merge) and state."""
    for i, run in enumerate(runs):
        run.label = run.given_label or default_label(run)
        run.short = f"R{i + 1}" if len(runs) > 1 else ""
        run.state = run_state(run.doc)
    seen: Counter[str] = Counter(r.label for r in runs)
    for i, run in enumerate(runs):
        if seen[run.label] > 1:
            run.label = f"{run.label} #{i + 1}"


def default_label(run: Run) -> str:
    """framework versions + device(s) + host, from the file itself (its file name where
    the records say nothing usable: their types may not be checked yet)."""
    try:
        return _default_label(run)
    except (TypeError, ValueError, RecursionError):
        return Path(run.path).name


def _default_label(run: Run) -> str:
    versions = []
    for name, info in sorted(run.doc["frameworks"].items()):
        if isinstance(info, dict) and info.get("version"):
            versions.append(f"{name} {info['version']}")
    if not versions:
        seen = {(str(r["framework"]), str(r.get("framework_version") or ""))
                for r in run.records[:5000]}
        versions = [f"{f} {v}".strip() for f, v in sorted(seen)]
    devices = sorted({str(r.get("device") or "cpu") for r in run.records[:5000]}) or ["cpu"]
    env = run.doc["environment"]
    gpus = env.get("gpus") if isinstance(env.get("gpus"), list) else []
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


_IS_DICT = frozenset((dict,)).__contains__
_NODE_SPLIT = re.compile(r"(?<=[\-\[])")


def embedded_data(runs: Sequence[Run]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The page data, in two parts: what the matrix, its filters and search need (read when
    the page opens) and what only a drill-down shows (``detail``: errors, worst element,
    inputs, tolerance, repro, the other fields; read the first time a cell is opened).

    Columns throughout. Every string goes through one table (``strings``); test ids,
    nearly all distinct but made of shared words, are lists of string ids (``nodes``,
    joined with nothing); repro snippets are templates over shared lines with the record's
    case id and dtype filled in (``reports.compact.templates``; a compact results file
    brings them ready-made), each distinct one stored once."""
    index: dict[Any, int] = {None: -1}
    table: list[str] = []

    def strings(values: Sequence[Any]) -> list[int]:
        new = [v for v in dict.fromkeys(values) if v not in index]
        index.update(zip(new, range(len(table), len(table) + len(new))))
        table.extend(v if isinstance(v, str) else json.dumps(v, default=str) for v in new)
        return list(map(index.__getitem__, values))

    def pieces(values: Sequence[Any], split: Any) -> tuple[list[int], list[list[int]]]:
        # each distinct non-empty value once (first-seen order), split into pieces; the
        # pieces' string ids found at C speed, new pieces added in first-seen order
        distinct = list(dict.fromkeys(filter(None, values)))
        where = dict(zip(distinct, range(len(distinct))))
        ids = list(map(where.get, values, repeat(-1)))
        rows = [split(v) if isinstance(v, str) else [str(v)] for v in distinct]
        flat = list(chain.from_iterable(rows))
        flat_ids = strings(flat)
        ends = list(accumulate(map(len, rows)))
        out = list(map(flat_ids.__getitem__, map(slice, [0] + ends[:-1], ends)))
        return ids, out

    recs = [rec for run in runs for rec in run.records]
    run_col = [i for i, run in enumerate(runs) for _ in run.records]
    verdict_code = {v: i for i, v in enumerate(VERDICTS)}
    names = COLUMN_KEYS
    readers = [run.columns for run in runs if run.columns is not None]
    if runs and len(readers) == len(runs):  # the columns the reader took
        col = {name: (readers[0][name] if len(readers) == 1 else
                      list(chain.from_iterable(c[name] for c in readers))) for name in names}
    else:  # one C-speed pass turns the records into columns
        columns = list(zip(*map(itemgetter(*names), recs))) if recs else [()] * len(names)
        col = dict(zip(names, columns))
    cases = _intern_objects(col["case"], zip(run_col, col["op"], col["id"]))
    tols = _intern_objects(col["tolerance"], zip(col["dtype"], col["kind"]))
    objects = cases.table + tols.table
    offset = len(cases.table)
    small = {k: strings(col[name]) for k, name in (
        ("id", "id"), ("op", "op"), ("ep", "entry_point"), ("fw", "framework"),
        ("fwv", "framework_version"), ("dt", "dtype"), ("dev", "device"), ("kind", "kind"),
        ("div", "divergence"), ("msg", "message"))}  # first: the shortest ids
    node_ids, nodes = pieces(col["nodeid"], lambda v: [x for x in _NODE_SPLIT.split(v) if x])
    repro = _repro_templates(runs, col["repro"], col["id"], col["dtype"])
    xcols = _extra_columns(runs, recs, strings)
    cols: dict[str, list[Any]] = {
        "run": run_col,
        "id": small["id"], "op": small["op"], "ep": small["ep"], "fw": small["fw"],
        "dt": small["dt"], "dev": small["dev"], "kind": small["kind"],
        "v": [verdict_code[v] for v in col["verdict"]],
        "ulp": _fmt_col(col["max_ulp"], ".4g"),
        "tu": _fmt_col(col["tolerance_used"], ".3g"),
        "div": small["div"],
        "msg": small["msg"],
        "node": node_ids,
    }
    detail_cols: dict[str, list[Any]] = {
        "fwv": small["fwv"],
        "abs": col["max_abs_err"],  # as they are: the drill-down formats them
        "rel": col["max_rel_err"],
        "repro": repro["index"],
        "case": cases.ids, "tol": [i if i < 0 else i + offset for i in tols.ids],
        "worst": list(col["worst"]),
    }
    divergences = {}
    for run in runs:
        for d in run.doc["divergences"]:
            if isinstance(d, dict) and d.get("id") is not None:
                divergences.setdefault(str(d["id"]), {
                    "title": d.get("title"), "explanation": d.get("explanation"),
                    "link": [[x["text"], x["href"]] for x in link_parts(d.get("link"))],
                    "trigger": d.get("trigger")})
    main = {
        "verdicts": list(VERDICTS),
        "severity": list(SEVERITY),
        "dtype_order": list(DTYPE_ORDER),
        "runs": [{"label": r.label, "short": r.short, "file": r.path} for r in runs],
        "strings": table,
        "nodes": nodes,
        "divergences": divergences,
        "n": len(recs),
        "cols": cols,
    }
    detail = {
        "objects": objects,
        # repro snippets: templates (line numbers into lines) with "\x00\x01" standing for
        # the record's case id, "\x00\x02" for its dtype, "\x00\x00" for a NUL
        "repro_lines": repro["lines"],
        "repro_texts": repro["texts"],
        "xcols": xcols,
        "cols": detail_cols,
    }
    return main, detail


def _repro_templates(runs: Sequence[Run], values: Sequence[Any], ids: Sequence[Any],
                     dtypes: Sequence[Any]) -> dict[str, Any]:
    """The repro column as templates over lines (``reports.compact.templates``; the empty
    snippet as -1): taken from each run's compact file where it had them, made here for the
    others; one table of lines and templates for all runs."""
    if list(FILL_FIELDS) != ["id", "dtype"]:  # the page's placeholders: \x00\x01, \x00\x02
        raise AssertionError("the page fills the case id and the dtype into repro snippets")
    lines: dict[str, int] = {}
    texts: list[list[int]] = []
    seen: dict[tuple[int, ...], int] = {}
    index: list[int] = []
    start = 0
    for run in runs:
        n = len(run.records)
        given = run.columns.texts.get("repro") if run.columns is not None else None
        if given is None or list(given.get("fill", ())) != list(FILL_FIELDS):
            given = templates(values[start:start + n], [ids[start:start + n],
                                                        dtypes[start:start + n]])
        line_ids = strings_of(given["lines"], lines)
        mapped = []
        for t in given["texts"]:
            key = tuple(map(line_ids.__getitem__, t))
            k = seen.get(key)
            if k is None:
                k = seen[key] = len(texts)
                texts.append(list(key))
            mapped.append(k)
        empty = [k for k, t in enumerate(given["texts"]) if t == [] or
                 (len(t) == 1 and given["lines"][t[0]] == "")]
        for k in empty:
            mapped[k] = -1
        index += map(mapped.__getitem__, given["index"])
        start += n
    return {"lines": list(lines), "texts": texts, "index": index}


def strings_of(values: Sequence[str], table: dict[str, int]) -> list[int]:
    """Each value's position in ``table`` (a dict of string -> position), new ones added."""
    return [table.setdefault(v, len(table)) for v in values]


def _extra_columns(runs: Sequence[Run], recs: Sequence[dict[str, Any]], strings: Any
                   ) -> dict[str, dict[str, Any]]:
    """Record keys beyond the column keys (minus build-only ones), one column each, left out
    where no record has a value: a column whose values are all strings (or missing) holds
    string ids (``"s": 1``), floats become short decimal strings, anything else passes as it
    is (null where a record lacks it)."""
    # a loaded record holds every field (defaults filled in): only a longer one has more keys
    n_fields = len(FIELDS)
    keys = set(EXTRA_FIELDS).union(*[r.keys() for r in recs if len(r) > n_fields])
    out: dict[str, dict[str, Any]] = {}
    for k in sorted(keys):
        if k in KNOWN_KEYS or k in BUILD_ONLY_KEYS:
            continue
        if k in FIELDS and runs and all(run.columns is not None for run in runs):
            values = list(chain.from_iterable(run.columns[k] for run in runs))
        else:
            values = [r.get(k) for r in recs]
        if all(v is None for v in values):
            continue
        if all(v is None or v.__class__ is str for v in values):
            out[k] = {"s": 1, "v": strings(values)}
        else:  # numbers as they are (the drill-down formats them), anything else too
            out[k] = {"s": 0, "v": values}
    return out


def _tame(value: Any) -> Any:
    """``value`` with every integer orjson cannot write (beyond 64 bits: the standard
    parser reads them from a file that also holds NaN) as a float, or a string past
    float range."""
    c = value.__class__
    if c is int and not -(1 << 63) <= value < 1 << 64:
        try:
            return float(value)
        except OverflowError:
            return str(value)
    if c is dict:
        return {k: _tame(v) for k, v in value.items()}
    if c is list or c is tuple:
        return [_tame(v) for v in value]
    return value


def _json_bytes(data: Any) -> bytes:
    try:
        return orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits
        return orjson.dumps(_tame(data), default=str, option=orjson.OPT_NON_STR_KEYS)


def script_json(data: Any) -> Markup:
    """JSON safe inside a <script> element: no '<', '>' or '&' can close or open a tag."""
    return _script_safe(_json_bytes(data))


def _script_safe(raw: bytes) -> Markup:
    text = raw.decode("utf-8")
    text = (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return Markup(text)


_URL = re.compile(r"https?://[^\s;,]+")


def link_parts(text: Any) -> list[dict[str, Any]]:
    """Free text that holds links ("URL (what it points at); URL ..."), as pieces
    ``{"text", "href"}``: each http(s) URL is a link, the rest stays plain text."""
    text = _plain(text) if text else ""
    parts: list[dict[str, Any]] = []
    pos = 0
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(".:")
        while url.endswith(")") and url.count(")") > url.count("("):
            url = url[:-1]
        if m.start() > pos:
            parts.append({"text": text[pos:m.start()], "href": None})
        parts.append({"text": url, "href": safe_link(url)})
        pos = m.start() + len(url)
    if pos < len(text):
        parts.append({"text": text[pos:], "href": None})
    return parts


def safe_link(link: Any) -> str | None:
    """Only http(s) links become hrefs (no javascript: or data: URLs from a results file)."""
    if isinstance(link, str) and link.startswith(("https://", "http://")):
        return link
    return None


# -- summaries rendered by Jinja ----------------------------------------------------------
def totals(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Records per verdict (``unsupported`` included: see ``reports.runstate.checks_of``)."""
    return verdict_counts(records)


def _states(runs: Sequence[Run]) -> list[RunState]:
    return [run.state or run_state(run.doc) for run in runs]


def verdict_line(runs: Sequence[Run]) -> tuple[str, str]:
    """The headline and its class (good, warn, bad): ``reports.runstate.headline``."""
    return headline(_states(runs), [r.short for r in runs])


def conventions_table(runs: Sequence[Run]
                      ) -> tuple[list[str], list[tuple[str, list[dict[str, Any]]]]]:
    """The declared-prose conventions of results written before the convention probes
    (``frameworks.<name>.conventions``; newer results carry observations: conventions_view).
    Columns: one per framework (one more per run whose conventions differ). A value may
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
    rows = [(t, [_convention_cell(c[t]) if t in c else {"text": "—", "source": "", "parts": []}
                 for _, c in columns]) for t in topics]
    return [n for n, _ in columns], rows


def _convention_cell(value: Any) -> dict[str, Any]:
    source = ""
    if isinstance(value, dict) and "value" in value:
        source = _plain(value.get("source") or "")
        value = value["value"]
    return {"text": _plain(value), "source": source, "parts": link_parts(source)}


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
                "parts": link_parts(d.get("link")),
                "explained": explained.get(key, 0)}
    for key, n in explained.items():  # a record names a divergence the registry lacks
        if key not in rows:
            rows[key] = {"id": key, "title": "(not in the registry of these runs)",
                         "entry_points": "", "versions": "", "trigger": "", "explanation": "",
                         "parts": [], "explained": n}
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
    """(op, dtype, entry point [run]) -> checks (records not ``unsupported``), fail,
    divergence and unsupported counts, ULP errors and the largest tolerance used (None when
    no record carries one)."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    multi = len(runs) > 1
    for run in runs:
        suffix = f" [{run.short}]" if multi else ""
        recs = run.records
        ulps = _ulps([r["max_ulp"] for r in recs])
        tus = _ulps([r["tolerance_used"] for r in recs])
        for rec, u, t in zip(recs, ulps, tus):
            key = (rec["op"], rec["dtype"], rec["entry_point"] + suffix)
            g = groups.get(key)
            if g is None:
                g = groups[key] = {"entry_point": rec["entry_point"] + suffix,
                                   "framework": rec["framework"], "n": 0, "fail": 0,
                                   "divergence": 0, "unsupported": 0, "ulps": [], "tu": None}
            v = rec["verdict"]
            if v == "unsupported":  # not a check: counted apart
                g["unsupported"] += 1
                continue
            g["n"] += 1
            if v == "fail" or v == "divergence":
                g[v] += 1
            if u is not None:
                g["ulps"].append(u)
            if t is not None and v != "divergence":
                cur = g["tu"]
                g["tu"] = t if cur is None or t != t or t > cur else cur
    return groups


_SPACING_AT_1 = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23, "float64": 2.0**-52}
SHAPES_DIFFER = "shapes differ"
NONFINITE_DIFFERS = "non-finite values differ"


def sample_distance(a: dict[str, Any], b: dict[str, Any], dtype: str) -> float | str:
    """Largest distance between two output samples in ULP of ``dtype`` at the samples'
    largest magnitude (norm-wise, as the tolerance's atol term: two tiny values a few ULP
    of their own apart are not millions of ULP apart). ``SHAPES_DIFFER`` or
    ``NONFINITE_DIFFERS`` when the samples cannot be compared value by value."""
    pa, pb = _prepare(a), _prepare(b)
    if pa[0] != pb[0]:
        return SHAPES_DIFFER
    return _distances([pa[1], pb[1]], [(0, 1, dtype)])[0]


def _prepare(smp: dict[str, Any]) -> tuple[Any, list[float]]:
    """(shape, values as floats: NaN for anything not a number) of a sample (its members'
    types are not checked by the reader: anything else reads as no values)."""
    shape = smp.get("shape")
    raw = smp.get("values")
    values = [v if v.__class__ is float else (number(v) if number(v) is not None else math.nan)
              for v in (raw if raw.__class__ is list else ())]
    return (tuple(shape) if isinstance(shape, list) else shape), values


def _distances(values: list[list[float]], pairs: list[tuple[int, int, str]]
               ) -> list[float | str]:
    """sample_distance for many pairs of same-shape samples at once (NumPy)."""
    import numpy as np

    if not pairs:
        return []
    width = max(len(v) for v in values) or 1
    nan = math.nan
    v = np.array([x + [nan] * (width - len(x)) for x in values], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        fin = np.isfinite(v)
        scale = np.where(fin, np.abs(v), 0.0).max(axis=1)
        ia = np.fromiter((p[0] for p in pairs), dtype=np.intp, count=len(pairs))
        ib = np.fromiter((p[1] for p in pairs), dtype=np.intp, count=len(pairs))
        x, y = v[ia], v[ib]
        same = (x == y) | (np.isnan(x) & np.isnan(y))
        nonfinite = (~same & ~(fin[ia] & fin[ib])).any(axis=1)
        worst = np.where(same | ~(fin[ia] & fin[ib]), 0.0, np.abs(x - y)).max(axis=1)
        step = np.array([_SPACING_AT_1.get(p[2], 2.0**-52) for p in pairs])
        s = np.maximum(scale[ia], scale[ib])
        unit = np.where(s > 0, step * np.exp2(np.floor(np.log2(np.where(s > 0, s, 1.0)))),
                        step * 2.0**-126)
        dist = worst / unit
    return [NONFINITE_DIFFERS if nf else float(d) for nf, d in zip(nonfinite.tolist(),
                                                                    dist.tolist())]


def pairwise_tables(runs: Sequence[Run],
                    groups: dict[tuple[str, str, str], dict[str, Any]] | None = None
                    ) -> list[dict[str, Any]]:
    """Per op and dtype: entry points side by side (checks, verdicts, max and median ULP,
    largest tolerance used). Pairs of entry points: from the records' output samples
    (``sample``: shape and first values; every entry point saw the same inputs), the largest
    distance over the cases both ran, and in how many cases shapes or non-finite values
    differ."""
    if groups is None:
        groups = ulp_groups(runs)
    stats: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for (op, dt, _), g in groups.items():
        stats[(op, dt)].append(g)
    samples: dict[tuple, dict[str, Any]] = defaultdict(dict)
    multi = len(runs) > 1
    for run in runs:
        suffix = f" [{run.short}]" if multi else ""
        recs = run.records
        if run.columns is not None:  # only the records with a sample, found at C speed
            recs = list(compress(recs, map(_IS_DICT, map(type, run.columns["sample"]))))
        for rec in recs:
            smp = rec.get("sample")
            if smp.__class__ is dict and rec["verdict"] != "unsupported":
                samples[(run.short, rec["op"], rec["dtype"], rec["device"], rec["id"],
                         rec["kind"])][rec["entry_point"] + suffix] = smp
    # per (op, dtype), per pair: [largest finite distance, cases compared, shapes differ,
    # non-finite values differ]
    apart: dict[tuple[str, str], dict[tuple[str, str], list[Any]]] = defaultdict(dict)
    prepared: dict[int, int] = {}
    shapes: list[Any] = []
    values: list[list[float]] = []
    todo: list[tuple[int, int, str]] = []
    where: list[list[Any]] = []
    for (_, op, dt, _dev, _id, _kind), eps in samples.items():
        names = sorted(eps)
        idx = []
        for name in names:
            k = prepared.get(id(eps[name]))
            if k is None:
                shape, vals = _prepare(eps[name])
                k = prepared[id(eps[name])] = len(values)
                shapes.append(shape)
                values.append(vals)
            idx.append(k)
        for i, a in enumerate(names):
            for j in range(i + 1, len(names)):
                b = names[j]
                st = apart[(op, dt)].get((a, b))
                if st is None:
                    st = apart[(op, dt)][(a, b)] = [None, 0, 0, 0]
                if shapes[idx[i]] != shapes[idx[j]]:
                    st[2] += 1
                else:
                    st[1] += 1
                    todo.append((idx[i], idx[j], dt))
                    where.append(st)
    for st, d in zip(where, _distances(values, todo)):
        if d == NONFINITE_DIFFERS:
            st[3] += 1
        elif st[0] is None or d > st[0]:
            st[0] = d
    tables = []
    for (op, dt) in sorted(stats, key=lambda k: (k[0], _dtype_key(k[1]))):
        rows = []
        for st in sorted(stats[(op, dt)], key=lambda g: (g["framework"], g["entry_point"])):
            finite = [u for u in st["ulps"] if u == u]
            rows.append({**st, "max": fmt_ulp(max(finite) if finite else None),
                         "median": fmt_ulp(statistics.median(finite) if finite else None),
                         "max_tu": fmt_tol(st["tu"])})
        pairs = []
        for (a, b), (d, n, shapes, nonfinite) in sorted(apart[(op, dt)].items()):
            notes = []
            if shapes:
                notes.append(f"{SHAPES_DIFFER} in {shapes} of {n + shapes}")
            if nonfinite:
                notes.append(f"{NONFINITE_DIFFERS} in {nonfinite}")
            value = (fmt_ulp(d) if d is not None else NONFINITE_DIFFERS if nonfinite else
                     SHAPES_DIFFER if shapes else "—")
            pairs.append({"a": a, "b": b, "what": "max ULP apart", "value": value,
                          "note": f"{n} case{'s' if n != 1 else ''} compared"
                                  + "".join(f"; {x}" for x in notes)})
        tables.append({"op": op, "dtype": dt, "rows": rows, "pairs": pairs})
    return tables


def fmt_tol(x: float | None) -> str:
    """Tolerance used as in the matrix cells: <= 1 is within tolerance."""
    if x is None:
        return "—"
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "∞"
    if x < 0.01:
        return "≤0.01"
    if x < 10:
        return f"{x:.2g}"
    if x < 1e4:
        return f"{x:.0f}"
    return f"{x:.1e}".replace("e+0", "e").replace("e+", "e")


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
    label_w, cell_w, row_h = 340, 56, 20
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
            rows.append({"y": 22 + y * row_h, "entry_point": ep, "short": middle_truncate(ep, 46),
                         "cells": cells, "n": sum(row)})
        plots.append({"dtype": dt, "rows": rows, "labels": labels, "label_w": label_w,
                      "cell_w": cell_w, "row_h": row_h,
                      "width": label_w + cell_w * len(labels) + 50,
                      "height": 30 + row_h * len(rows)})
    return plots


def middle_truncate(text: str, n: int) -> str:
    """At most n characters, cut in the middle: entry points differ at both ends."""
    if len(text) <= n:
        return text
    head = (n - 1) // 2
    return text[:head] + "…" + text[-(n - 1 - head):]


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
        st = run.state or run_state(run.doc)
        out.append({"label": run.label, "short": run.short, "file": run.path,
                    "created": run.doc.get("created") or "?", "status": st.status,
                    "status_words": st.status_words(), "severity": st.severity,
                    "line": st.line(), "tests": st.tests_text(),
                    "seed": env.get("seed"), "frameworks": fws, "env": env_rows,
                    "totals": st.counts, "checks": st.checks, "unsupported": st.unsupported,
                    "n": len(run.records)})
    return out


# -- rendering ----------------------------------------------------------------------------
def _template_text(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        # this package (lossconform.reports), wherever it is imported from
        loader=jinja2.PackageLoader(__package__, "templates"),
        autoescape=True, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined)


def _summaries(runs: Sequence[Run]) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                             list[dict[str, Any]]]:
    """The pairwise tables, accuracy plots and relative-accuracy groups (small results from
    all records)."""
    groups = ulp_groups(runs)
    return pairwise_tables(runs, groups), accuracy_plots(runs, groups), accuracy_view(runs)


_FORKED_RUNS: Sequence[Run] = ()
#: Below this many records the summaries are computed in-process (a fork costs more).
PARALLEL_MIN_RECORDS = 20_000


def _single_threaded() -> bool:
    """Whether this process runs one thread only, native threads included (Linux: the kernel's
    count), so that a fork is safe: a process that imported a multithreaded library (the
    ``lossconform test`` command builds the report in the process that ran the suite) may
    deadlock in a forked child, so it computes the summaries itself instead."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Threads:"):
                    return int(line.split()[1]) == 1
    except (OSError, ValueError):
        pass
    import threading

    return threading.active_count() == 1


def _summaries_of_forked_runs() -> tuple[Any, Any, Any]:
    return _summaries(_FORKED_RUNS)


class InvalidRuns(Exception):
    """Runs whose records do not have the field types ``CheckRecord`` declares: each with
    its ResultsError. ``build`` leaves them out and makes the page again."""

    def __init__(self, bad: list[tuple[Run, ResultsError]]) -> None:
        self.bad = bad
        super().__init__("; ".join(str(e) for _, e in bad))


def _check_runs(runs: Sequence[Run]) -> None:
    """Check the field types of every run loaded unchecked; raise InvalidRuns naming each
    run that fails (the others are marked checked)."""
    bad = []
    for run in runs:
        if run.checked:
            continue
        try:
            check_record_types(run.records, run.path, run.columns, DEEP_FIELDS)
        except ResultsError as exc:
            bad.append((run, exc))
        else:
            run.checked = True
    if bad:
        raise InvalidRuns(bad)


def _summaries_and_data(runs: Sequence[Run], n_records: int) -> tuple[Any, Any, Any, Any]:
    """Summaries and the page data; on a large build with fork available, the summaries are
    computed in a forked child (it inherits the loaded runs; only the small tables come back)
    while this process checks the records' field types (runs loaded unchecked) and builds
    the page data, so two cores share the work. A run that fails the check raises
    InvalidRuns (the child's result, made from it, is dropped)."""
    global _FORKED_RUNS
    if n_records >= PARALLEL_MIN_RECORDS and "fork" in multiprocessing.get_all_start_methods() \
            and _single_threaded():
        _FORKED_RUNS = runs
        try:
            ctx = multiprocessing.get_context("fork")
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
                future = pool.submit(_summaries_of_forked_runs)
                _check_runs(runs)
                data = _data_blocks(embedded_data(runs))
                summaries = future.result()
            return (*summaries, data)
        except (OSError, concurrent.futures.process.BrokenProcessPool):
            pass  # no fork here after all: do it in-process below
        finally:
            _FORKED_RUNS = ()
    _check_runs(runs)
    return (*_summaries(runs), _data_blocks(embedded_data(runs)))


#: From this many records on, the summary views (pairwise, accuracy, relative accuracy,
#: conventions, settings: tens of thousands of table cells for every framework) are
#: <template>s the page draws when each scrolls into view: parsed, never laid out, while
#: the page opens.
LAZY_VIEWS_MIN_RECORDS = 20_000
#: Page data of at least this many bytes of JSON travels gzip-compressed (base64 text):
#: a browser reads a file of a few MB far faster than one of 60 MB, and inflates the data
#: in a few tens of milliseconds (DecompressionStream). Smaller data stays legible JSON.
COMPRESS_MIN_BYTES = 1 << 20
#: zlib's level for the page data: 3 makes it 7-11x smaller at about 100 MB/s.
COMPRESS_LEVEL = 3


def _data_blocks(parts: tuple[dict[str, Any], dict[str, Any]]
                 ) -> tuple[tuple[Markup, str], tuple[Markup, str]]:
    """Both blocks, compressed at once in two threads (zlib lets go of the GIL)."""
    main, detail = parts
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(script_data, main)
        second = script_data(detail)
        return first.result(), second


def script_data(data: Any) -> tuple[Markup, str]:
    """``(text, encoding)`` of a page data block: JSON safe inside a <script> element
    (``script_json``, encoding ""), or, from ``COMPRESS_MIN_BYTES`` on, the JSON
    gzip-compressed and base64-encoded (encoding "gzip+base64"; base64 holds no character
    that could end the element)."""
    raw = _json_bytes(data)
    if len(raw) < COMPRESS_MIN_BYTES:
        return _script_safe(raw), ""
    z = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, 31)  # 31: a gzip stream
    packed = z.compress(raw) + z.flush()
    return Markup(base64.b64encode(packed).decode("ascii")), "gzip+base64"


def render(runs: Sequence[Run], title: str | None = None,
           errors: Sequence[ResultsError] = ()) -> str:
    all_records = [r for run in runs for r in run.records]
    states = _states(runs)
    counts = {v: sum(st.counts[v] for st in states) for v in VERDICTS}
    conv_cols, conv_rows = conventions_table(runs)
    observed_conventions = conventions_view(runs, link_parts)
    pairwise, plots, relative, data = _summaries_and_data(runs, len(all_records))
    line, line_class = verdict_line(runs)
    template = _environment().get_template("report.html.j2")
    return template.render(
        title=title or "lossconform report",
        runs=run_summaries(runs),
        merged=len(runs) > 1,
        totals=counts,
        checks=sum(n for v, n in counts.items() if v != "unsupported"),
        verdicts=VERDICTS,
        check_verdicts=[v for v in VERDICTS if v != "unsupported"],
        verdict_line=line,
        verdict_class=line_class,
        ulp_cells=any(r["tolerance_used"] is None and r["max_ulp"] is not None
                      for r in all_records),
        conv_cols=conv_cols, conv_rows=conv_rows, observed_conventions=observed_conventions,
        divergences=divergence_table(runs),
        findings=findings_view(runs, link_parts),
        settings=settings_view(runs),
        relative_accuracy=relative,
        pairwise=pairwise,
        plots=plots,
        changes=changes(runs),
        errors=[str(e) for e in errors],
        lazy_views=len(all_records) >= LAZY_VIEWS_MIN_RECORDS,
        data=data[0][0], data_encoding=data[0][1], detail=data[1][0],
        detail_encoding=data[1][1],
        css=Markup(_template_text("report.css")),
        js=Markup(_template_text("report.js").replace("</", "<\\/")),
    )


def build(paths: Sequence[str | Path], out: str | Path, labels: Sequence[str] = (),
          title: str | None = None) -> BuildResult:
    """Check where the page goes (``OutputError`` before any file is read), load what can be
    loaded, write the page if anything was; every bad file is reported and left out, a
    second copy of a run skipped. A page that cannot be written raises ``OutputError``
    (its ``result`` attribute holds the BuildResult: the files' problems) and leaves nothing
    behind."""
    target = resolve_output(out)
    order = {str(p): i for i, p in reversed(list(enumerate(paths)))}
    with gc_paused():
        # field types are checked while the summaries are computed (render)
        runs, problems = load_runs(paths, labels, check_types=False)
        while runs:
            try:
                html = render(runs, title, problems)
                break
            except InvalidRuns as exc:  # leave those files out, make the page again
                bad = {id(run) for run, _ in exc.bad}
                runs = [run for run in runs if id(run) not in bad]
                problems = sorted([*problems, *(e for _, e in exc.bad)],
                                  key=lambda e: order.get(e.path, len(order)))
                name_runs(runs)
        result = BuildResult(runs, [e for e in problems if not isinstance(e, SkippedFile)],
                             skipped=[e for e in problems if isinstance(e, SkippedFile)])
        if runs:
            result.html = html
    if runs:
        try:
            write_output(target, result.html.encode("utf-8"))
        except OutputError as exc:
            exc.result = result  # type: ignore[attr-defined]
            raise
    return result


def _line(text: str) -> str:
    """One line: control characters (a newline in a file name) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _say(text: str, stream: Any = None) -> None:
    try:
        print(_line(text), file=stream or sys.stderr)
    except (OSError, ValueError):  # a closed or broken stream: nothing to tell it
        pass


EXIT_WRITTEN, EXIT_NOT_WRITTEN, EXIT_NOTHING_READ, EXIT_BUG = 0, 1, 2, 3


def main(argv: Sequence[str] | None = None, prog: str = "python -m lossconform.reports") -> int:
    """The command line (``python -m lossconform.reports``); returns the exit status."""
    # The cyclic GC stays off until the loaded runs are gone: re-enabled while they are
    # alive (as build() does for a library caller), its first collection walks every one of
    # their objects (0.1-0.2 s for 50,000 records) to find no garbage (JSON has no cycles).
    was = gc.isenabled()
    gc.disable()
    try:
        return _main(argv, prog)
    finally:
        if was:
            gc.enable()


def _main(argv: Sequence[str] | None, prog: str) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Build the self-contained lossconform HTML report from results files.",
        epilog="Each malformed or foreign results file is reported on stderr in one line "
               "(the file and the problem) and left out; a file that holds the same run as "
               "one given before it (the same file, the same run_id, identical content) is "
               "reported as skipped. Exit status: 0 when at least one file was read and the "
               "report written; 1 when the report could not be written (OUT.html is a "
               "directory, not writable, under a regular file, the disk is full: one line "
               "says why, and nothing is left behind); 2 when no file could be read (no "
               "report written); 3 on an unexpected error (a bug: one line, or the "
               "traceback with --traceback).")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (("build", "build a report from one or more results files"),
                        ("merge", "same as build; merges two or more runs, one column "
                                  "group per run, with a changes view")):
        p = sub.add_parser(name, help=help_, description=help_, epilog=parser.epilog)
        p.add_argument("results", nargs="+", metavar="RESULTS.json")
        p.add_argument("-o", "--output", default="reports/out/report.html", metavar="OUT.html",
                       help="where to write the page (default: reports/out/report.html); a "
                            "symlink is followed, a character device or FIFO written "
                            "through")
        p.add_argument("--label", action="append", default=[], metavar="LABEL",
                       help="label of the next run, in file order (repeatable); default: "
                            "framework versions + device + host from the file")
        p.add_argument("--title", default=None, help="page title")
        p.add_argument("--traceback", action="store_true",
                       help="on an unexpected error (a bug), show the traceback instead of "
                            "one line")
    args = parser.parse_args(argv)
    if args.command == "merge" and len(args.results) < 2:
        parser.error("merge needs two or more results files (use build for one)")
    try:
        result = build(args.results, args.output, args.label, args.title)
    except OutputError as exc:
        done = getattr(exc, "result", None)
        for err in (done.errors if done else ()):
            _say(f"error: {err}")
        for skip in (done.skipped if done else ()):
            _say(str(skip))
        _say(f"error: {exc}; no report written")
        return EXIT_NOT_WRITTEN
    except KeyboardInterrupt:
        _say("interrupted: no report written")
        return 130
    except Exception as exc:  # not bad input (that is reported above): a bug, said in one line
        if args.traceback:
            raise
        _say(f"error: the report could not be built: {type(exc).__name__}: {exc} (a bug in "
             "lossconform.reports; --traceback shows where)")
        return EXIT_BUG
    for err in result.errors:
        _say(f"error: {err}")
    for skip in result.skipped:
        _say(str(skip))
    if not result.runs:
        _say("error: no results file could be read; no report written")
        return EXIT_NOTHING_READ
    line, _ = verdict_line(result.runs)
    unsupported = sum(run.state.unsupported for run in result.runs if run.state)
    if unsupported:
        line += f" (+ {unsupported:,} unsupported combination{'s' if unsupported != 1 else ''})"
    left = [f"{len(result.errors)} file(s) left out" if result.errors else "",
            f"{len(result.skipped)} skipped" if result.skipped else ""]
    _say(f"wrote {args.output}: {len(result.runs)} run(s): {line}"
         + "".join(f"; {x}" for x in left if x), sys.stdout)
    return EXIT_WRITTEN
