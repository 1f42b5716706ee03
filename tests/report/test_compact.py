"""The compact results format (schema_version 2, ``lossconform.reports.compact``): the reader
gives back exactly the records the writer was given, on real records (repro text included)
and on hostile ones; malformed columns are named; version 1 files still load and merge."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from lossconform import record as R
from lossconform.cases import CASES
from lossconform.harness.check import run_check
from lossconform.reports import compact, pytest_plugin, results
from lossconform.reports.build import build
from tests.report.schema_validation import assert_valid_results, schema_errors

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "small_results.json"

MINIMAL = {"id": "c", "op": "softmax", "entry_point": "alpha.softmax", "framework": "alpha",
           "dtype": "float32", "kind": "forward", "verdict": "agree"}


def _doc(records: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"schema": R.SCHEMA, "schema_version": R.SCHEMA_VERSION,
            "records": compact.encode_records(records), **extra}


def _round_trip(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records written as JSON text and read back by the reader's decoder."""
    text = json.dumps(compact.encode_records(records), allow_nan=False)
    return compact.decode_records(json.loads(text))


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    """Equal records, with equal JSON text (types, nested key order, key order)."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x == y
        assert json.dumps(x) == json.dumps(y)
        assert [type(v) for v in x.values()] == [type(v) for v in y.values()]


# -- real records -----------------------------------------------------------------------------
def _real_records() -> list[dict[str, Any]]:
    """The records of real checks: the first available framework plug-in, every entry point
    of a few ops, a few cases each, two dtypes (as the matrix makes them)."""
    from lossconform.plugins import load_adapters

    adapter = next((a for _, a in sorted(load_adapters().items()) if not a.available()), None)
    if adapter is None:
        pytest.skip("no framework plug-in is available here: no real records")
    records: list[dict[str, Any]] = []
    by_op: dict[str, list[Any]] = {}
    for case in CASES:
        if len(by_op.setdefault(case.op, [])) < 3 and "x" in case.id and "moderate" in case.id:
            by_op[case.op].append(case)
    for spec in adapter.entry_points():
        for case in by_op.get(spec.op, [])[:3]:
            for dtype in ("float32", "float64"):
                nodeid = f"lossconform/suite/test_matrix.py::test_matrix[{case.id}]"
                res = run_check(case, adapter, spec.name, dtype, nodeid=nodeid)
                records += [pytest_plugin.jsonable(r.to_json()) for r in res.records]
    return records


@pytest.fixture(scope="module")
def real_records() -> list[dict[str, Any]]:
    return _real_records()


def test_real_records_round_trip_exactly(real_records: list[dict[str, Any]]) -> None:
    assert len(real_records) >= 20
    assert any(r["repro"] for r in real_records)
    back = _round_trip(real_records)
    _same(back, real_records)
    assert [r["repro"] for r in back] == [r["repro"] for r in real_records]
    enc = compact.encode_records(real_records)
    assert "texts" in enc["columns"]["repro"]  # the snippets are templates over lines
    # the repro snippets shrink: each names its case id and dtype, the rest is shared
    raw = sum(len(r["repro"]) for r in real_records)
    assert len(json.dumps(enc["columns"]["repro"])) < raw / 4
    assert len(json.dumps(enc)) < len(json.dumps(real_records)) / 2


def test_real_records_written_by_the_plugin_read_back(real_records: list[dict[str, Any]],
                                                       tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    pytest_plugin.write_atomic(path, _doc(real_records))
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["schema_version"] == 2 and isinstance(raw["records"], dict)
    assert not schema_errors(raw)
    loaded = results.load_results(path)
    _same(loaded["records"], real_records)  # every field written: nothing defaulted


@pytest.mark.skipif(not os.environ.get("LC_REAL_RESULTS"),
                    reason="set LC_REAL_RESULTS=path/to/results.json (a full run's, any "
                           "version) to prove the round trip on it")
def test_a_full_runs_records_round_trip() -> None:
    doc = results.load_results(os.environ["LC_REAL_RESULTS"])
    _same(_round_trip(doc["records"]), doc["records"])


# -- hostile records --------------------------------------------------------------------------
NUL_TEXT = "nul:\x00 one:\x01 esc:\x00\x01 two:\x00\x02"


def _hostile() -> list[dict[str, Any]]:
    recs = []
    for k in range(40):
        dtype = ("float16", "float32")[k % 2]
        cid = f"softmax-case-{k % 5}"
        recs.append({**MINIMAL, "id": cid, "dtype": dtype,
                     # equal in Python, not in JSON: must come back with their own types
                     "max_ulp": (1, 1.0, True, 0.0, -0.0, "inf", None, 2)[k % 8],
                     "tolerance": {"rtol": 1e-3, "atol": 1e-3} if k % 3 else
                     {"atol": 1e-3, "rtol": 1e-3},  # same dict, another key order
                     "worst": {"index": [k % 2], "expected": 0.5, "actual": 0.5},
                     "repro": (f"# {cid}\nx = make({cid!r}, {dtype!r})\n"
                               + (NUL_TEXT if k % 7 == 0 else "") + "\nprint(x)\n")
                     * (1 + k % 2)})
    recs[3]["plugin_note"] = {"nested": [1, {"a": None}]}  # a key only some records have
    del recs[5]["tolerance"]  # an optional field one record lacks
    recs[6]["id"] = "bad\x01id"  # a fill value that cannot be a placeholder's
    recs[7]["dtype"] = ""
    recs[8]["repro"] = ""
    recs[9]["id"] = "x"  # a short id, found inside the text's other words
    recs[10]["dtype"] = None  # not a string: written as it is
    return recs


def test_hostile_records_round_trip() -> None:
    recs = _hostile()
    compact.TEXT_MIN_CHARS, saved = 0, compact.TEXT_MIN_CHARS  # take the text form here too
    try:
        enc = compact.encode_records(recs)
        assert "texts" in enc["columns"]["repro"]
        assert enc["columns"]["plugin_note"]["absent"] == [k for k in range(40) if k != 3]
        assert enc["columns"]["tolerance"]["absent"] == [5]
        _same(_round_trip(recs), recs)
    finally:
        compact.TEXT_MIN_CHARS = saved
    _same(_round_trip(recs), recs)
    assert _round_trip([]) == []
    assert _round_trip([{}, {}]) == [{}, {}]


def test_negative_zero_and_shared_objects_keep_their_own_values() -> None:
    shared = {"op": "softmax", "shape": [2, 3]}
    recs = [{**MINIMAL, "max_abs_err": (0.0, -0.0, 1.5, None)[k % 4],
             "case": shared if k % 3 else {"op": "softmax", "shape": [2, 3.0]}}
            for k in range(40)]
    enc = compact.encode_records(recs)
    assert "table" in enc["columns"]["max_abs_err"] and "table" in enc["columns"]["case"]
    back = _round_trip(recs)
    _same(back, recs)
    assert [str(r["max_abs_err"]) for r in back[:4]] == ["0.0", "-0.0", "1.5", "None"]


def test_columns_take_the_smallest_form() -> None:
    recs = [{**MINIMAL, "max_abs_err": k * 1.1e-7, "op": "softmax"} for k in range(100)]
    cols = compact.encode_records(recs)["columns"]
    assert "values" in cols["max_abs_err"]  # all distinct
    assert cols["op"] == {"table": ["softmax"], "index": [0] * 100}


# -- the reader names what is malformed ---------------------------------------------------------
def _bad(edit: Any) -> dict[str, Any]:
    doc = _doc([dict(MINIMAL), {**MINIMAL, "verdict": "fail"}])
    doc["records"]["columns"]["repro"] = {"lines": ["a", "b"], "texts": [[0, 1]],
                                          "fill": ["id"], "index": [0, 0]}
    doc["records"]["columns"]["verdict"] = {"table": ["agree", "fail"], "index": [0, 1]}
    edit(doc["records"])
    return doc


MALFORMED = [
    ("no n", lambda r: r.pop("n"), "'records.n' is missing"),
    ("no columns", lambda r: r.pop("columns"), "'records.columns' is missing"),
    ("a short column", lambda r: r["columns"]["op"].update(index=[0]),
     "'records.columns.op.index' is not a list of 2 positions"),
    ("an index past the table", lambda r: r["columns"]["verdict"].update(index=[0, 9]),
     "'records.columns.verdict.index' holds a position outside its table"),
    ("a column of no form", lambda r: r["columns"].update(op={"x": 1}),
     "'records.columns.op' has none of"),
    ("a line past the lines", lambda r: r["columns"]["repro"].update(texts=[[0, 5]]),
     "'records.columns.repro.texts' holds a line number outside"),
    ("a fill naming no column", lambda r: r["columns"]["repro"].update(fill=["nope"]),
     "'records.columns.repro.fill' does not name columns"),
    ("absent past the end", lambda r: r["columns"]["op"].update(absent=[7]),
     "'records.columns.op.absent' is not a list of positions"),
    ("a required field absent", lambda r: r["columns"]["op"].update(absent=[1]),
     "record #1 lacks required field 'op'"),
    ("a bad verdict", lambda r: r["columns"]["verdict"].update(table=["agree", "maybe"]),
     "record #1 has unknown verdict 'maybe'"),
    ("a field of the wrong type", lambda r: r["columns"].update(
        max_ulp={"values": [1.0, [2.0]]}), "record #1: field 'max_ulp' is a list"),
]


@pytest.mark.parametrize("edit, problem", [(e, p) for _, e, p in MALFORMED],
                         ids=[n for n, _, _ in MALFORMED])
def test_malformed_compact_records_are_named(edit: Any, problem: str) -> None:
    doc = _bad(edit)
    with pytest.raises(results.ResultsError) as info:
        results.validate(copy.deepcopy(doc), "x.json")
    assert problem in str(info.value)


def test_the_good_document_of_those_loads() -> None:
    doc = _bad(lambda r: None)
    loaded = results.validate(copy.deepcopy(doc), "x.json")
    assert [r["repro"] for r in loaded["records"]] == ["a\nb", "a\nb"]
    assert not schema_errors(doc)


# -- version 1 still loads, and merges with version 2 -------------------------------------------
def test_version_1_and_2_load_alike_and_merge(tmp_path: Path) -> None:
    v1 = json.loads(FIXTURE.read_text(encoding="utf-8"))
    v1["schema_version"] = 1
    assert isinstance(v1["records"], list)
    first = tmp_path / "v1.json"
    first.write_text(json.dumps(v1), encoding="utf-8")
    old = results.load_results(first)
    v2 = copy.deepcopy(v1)
    v2.update(schema_version=2, run_id="f" * 32,
              records=compact.encode_records(v1["records"]))
    second = tmp_path / "v2.json"
    pytest_plugin.write_atomic(second, v2)
    assert_valid_results(second)
    new = results.load_results(second)
    _same(new["records"], old["records"])
    result = build([first, second], tmp_path / "report.html")
    assert not result.errors and len(result.runs) == 2


def test_the_page_builder_takes_the_templates_as_they_are(tmp_path: Path) -> None:
    """The report builder loads a compact file without writing out its snippets: the page
    fills them in from the templates, and they read as the records' own."""
    recs = [{**r, "max_ulp": 2.5 if r["max_ulp"] is True else r["max_ulp"],
             "dtype": r["dtype"] if r["dtype"] is not None else "float64"}
            for r in _hostile()]  # valid field types: the builder checks them
    compact.TEXT_MIN_CHARS, saved = 0, compact.TEXT_MIN_CHARS
    try:
        path = tmp_path / "r.json"
        pytest_plugin.write_atomic(path, _doc(recs))
    finally:
        compact.TEXT_MIN_CHARS = saved
    doc, columns = results.load_results_and_columns(path, texts=False)
    assert set(r["repro"] for r in doc["records"]) == {""}
    assert columns.texts["repro"]["fill"] == list(compact.FILL_FIELDS)
    out = tmp_path / "page.html"
    assert not build([path], out).errors
    from tests.report.test_report_build import _data_block, _repro
    data = _data_block(out.read_text(encoding="utf-8"))
    for i, rec in enumerate(recs):
        assert _repro(data, i) == (rec["repro"] or None)
