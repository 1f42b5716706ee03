"""The check record and its JSON Schema: one definition, a committed copy that cannot drift,
writers whose output matches it, a reader that agrees with it."""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from benchmarks.report_build import synthetic_results
from lossconform import record as R
from lossconform.cases import CASES
from lossconform.harness.check import run_check
from lossconform.record import CheckRecord, json_schema
from lossconform.reports import build as report_build
from lossconform.reports import pytest_plugin, results
from tests.meta.test_harness import FakeAdapter
from tests.report.schema_validation import assert_valid_results, schema_errors

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURE = HERE / "fixtures" / "small_results.json"
SCHEMA_PATH = Path(R.__file__).resolve().parent / R.SCHEMA_FILE

MINIMAL = {"id": "c", "op": "softmax", "entry_point": "alpha.softmax", "framework": "alpha",
           "dtype": "float32", "kind": "forward", "verdict": "agree"}


def _doc(*records: dict[str, Any]) -> dict[str, Any]:
    return {"schema": R.SCHEMA, "schema_version": R.SCHEMA_VERSION,
            "records": [dict(r) for r in records]}


# -- the schema itself ------------------------------------------------------------------------
def test_committed_schema_file_equals_the_generated_schema() -> None:
    committed = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert committed == json_schema(), \
        f"{SCHEMA_PATH} is stale: run `python tools/write_schema.py` and commit it"


def test_write_schema_tool_check_passes() -> None:
    proc = subprocess.run([sys.executable, "tools/write_schema.py", "--check"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_schema_is_valid_draft_2020_12() -> None:
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_record_schema_follows_the_dataclass() -> None:
    rec = json_schema()["$defs"]["record"]
    assert list(rec["properties"]) == list(R.FIELDS)
    assert rec["required"] == list(R.REQUIRED_FIELDS)
    assert rec["properties"]["verdict"]["enum"] == list(R.VERDICTS)
    assert {k: p["default"] for k, p in rec["properties"].items() if "default" in p} == R.DEFAULTS
    assert all(p.get("description") for p in rec["properties"].values())
    # the shared words are the record module's, wherever they are used
    assert results.VERDICTS == R.VERDICTS and results.REQUIRED_RECORD_FIELDS == R.REQUIRED_FIELDS
    assert results.RECORD_DEFAULTS == R.DEFAULTS and results.SCHEMA == R.SCHEMA
    assert results.SUPPORTED_VERSIONS == R.READ_VERSIONS and R.SCHEMA_VERSION in R.READ_VERSIONS
    assert (pytest_plugin.SCHEMA, pytest_plugin.SCHEMA_VERSION, pytest_plugin.RECORD_KEY) == \
        (R.SCHEMA, R.SCHEMA_VERSION, R.RECORD_KEY)
    assert sorted(R.SEVERITY) == sorted(R.VERDICTS)


def test_report_columns_are_record_fields() -> None:
    fields = set(R.FIELDS)
    assert set(report_build.COLUMN_KEYS) <= fields
    assert report_build.BUILD_ONLY_KEYS <= fields
    assert set(report_build.EXTRA_FIELDS) == fields - set(report_build.COLUMN_KEYS) \
        - report_build.BUILD_ONLY_KEYS


def test_record_module_is_a_leaf() -> None:
    code = ("import sys, lossconform.record; "
            "print(sorted(m for m in sys.modules if m.startswith('lossconform.')))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["['lossconform.record']"]


# -- the record type --------------------------------------------------------------------------
def test_check_record_round_trip_and_json_form() -> None:
    rec = CheckRecord(**MINIMAL, max_ulp=float("inf"), max_abs_err=float("nan"),
                      tolerance_used=float("-inf"), worst={"index": (1, 2), "expected": 0.5,
                                                           "actual": float("inf")})
    data = rec.to_json()
    assert list(data) == list(R.FIELDS)
    assert (data["max_ulp"], data["max_abs_err"], data["tolerance_used"]) == ("inf", "nan", "-inf")
    assert data["worst"] == {"index": [1, 2], "expected": 0.5, "actual": "inf"}
    json.dumps(data, allow_nan=False)  # plain JSON
    assert rec["verdict"] == "agree" and rec["kind"] == "forward"
    with pytest.raises(KeyError):
        rec["no_such_field"]
    back = CheckRecord.from_json(data)
    assert back.to_json() == data
    assert CheckRecord.from_json(MINIMAL).to_json() == {**R.DEFAULTS, **MINIMAL}
    assert not schema_errors(_doc(data))


def test_check_record_rejects_unknown_verdict_and_fields() -> None:
    with pytest.raises(ValueError, match="unknown verdict 'maybe'"):
        CheckRecord(**{**MINIMAL, "verdict": "maybe"})
    with pytest.raises(TypeError):
        CheckRecord(**{k: v for k, v in MINIMAL.items() if k != "op"})
    with pytest.raises(ValueError, match="lacks required field"):
        CheckRecord.from_json({k: v for k, v in MINIMAL.items() if k != "op"})
    with pytest.raises(ValueError, match="unknown record field"):
        CheckRecord.from_json({**MINIMAL, "value_digest": "x"})
    assert CheckRecord.from_json({**MINIMAL, "value_digest": "x"}, ignore_unknown=True)


def test_record_helper_stores_the_json_form() -> None:
    request = SimpleNamespace(node=SimpleNamespace(user_properties=[]))
    pytest_plugin.record(request, CheckRecord(**MINIMAL, max_ulp=float("inf")))
    pytest_plugin.record(request, {**MINIMAL, "max_ulp": float("nan")})
    (k1, v1), (k2, v2) = request.node.user_properties
    assert k1 == k2 == R.RECORD_KEY
    assert type(v1) is dict and v1["max_ulp"] == "inf" and list(v1) == list(R.FIELDS)
    assert type(v2) is dict and v2["max_ulp"] == "nan"
    assert not schema_errors(_doc(v1, v2))


# -- writers ----------------------------------------------------------------------------------
class _Unsupported(FakeAdapter):
    def unsupported(self, entry_point, call):
        return "no such dtype here"


class _Raising(FakeAdapter):
    def evaluate(self, entry_point, call):
        raise RuntimeError("boom")


@pytest.mark.parametrize("adapter, verdicts", [
    (FakeAdapter(), {"agree"}),
    (FakeAdapter(mutate_forward=lambda v: v * 1.5 + 0.25), {"fail"}),
    (_Unsupported(), {"unsupported"}),
    (_Raising(), {"fail"}),
], ids=["agree", "fail", "unsupported", "raises-on-valid-input"])
def test_run_check_records_match_the_schema(adapter: FakeAdapter, verdicts: set[str]) -> None:
    case = next(c for c in CASES if c.op == "softmax")
    res = run_check(case, adapter, "fake.softmax", "float32", nodeid="t.py::test")
    assert res.records and all(isinstance(r, CheckRecord) for r in res.records)
    assert {r.kind for r in res.records} == {"forward", "gradient"}
    assert verdicts <= {r.verdict for r in res.records}
    assert_valid_results(_doc(*(r.to_json() for r in res.records)))


def test_fixture_and_synthetic_results_match_the_schema() -> None:
    assert_valid_results(FIXTURE)
    assert_valid_results(json.loads(json.dumps(synthetic_results(500))))


# -- the reader agrees with the schema --------------------------------------------------------
def _without(name: str) -> dict[str, Any]:
    return {k: v for k, v in MINIMAL.items() if k != name}


REJECTED = [
    *[(f"record lacks {name}", _doc(MINIMAL, _without(name)),
       f"record #1 lacks required field {name!r}") for name in R.REQUIRED_FIELDS],
    ("unknown verdict", _doc({**MINIMAL, "verdict": "maybe"}), "unknown verdict 'maybe'"),
    ("verdict not a string", _doc({**MINIMAL, "verdict": 1}), "unknown verdict 1"),
    ("another schema", {**_doc(MINIMAL), "schema": "other"}, "not a lossconform results file"),
    ("no schema", {k: v for k, v in _doc(MINIMAL).items() if k != "schema"},
     "not a lossconform results file"),
    ("another version", {**_doc(MINIMAL), "schema_version": 99}, "unsupported schema_version"),
    ("records not a list", {**_doc(), "records": {"0": MINIMAL}}, "'records.n' is missing"),
    ("no records", {k: v for k, v in _doc().items() if k != "records"}, "'records' is missing"),
    ("record not an object", _doc(MINIMAL) | {"records": [MINIMAL, ["x"]]}, "record #1 is a list"),
    ("top level a list", [MINIMAL], "top level is a list"),
]


@pytest.mark.parametrize("doc, problem", [(d, p) for _, d, p in REJECTED],
                         ids=[name for name, _, _ in REJECTED])
def test_reader_and_schema_reject_the_same_documents(doc: Any, problem: str) -> None:
    assert schema_errors(doc), "the schema accepts a document the reader rejects"
    with pytest.raises(results.ResultsError) as info:
        results.validate(copy.deepcopy(doc), "x.json")
    assert problem in str(info.value)


ACCEPTED = [
    ("only required fields", _doc(MINIMAL)),
    ("every field", _doc(CheckRecord(**MINIMAL).to_json())),
    ("an unknown key passes through", _doc({**MINIMAL, "plugin_note": "kept"})),
    ("no records", _doc()),
    ("every verdict", _doc(*({**MINIMAL, "verdict": v} for v in R.VERDICTS))),
    ("full header", {**_doc(MINIMAL), "created": "2025-01-01T00:00:00+00:00",
                     "status": "interrupted", "exitstatus": 2, "environment": {"seed": 1},
                     "frameworks": {"alpha": {"version": "1", "available": True,
                                              "reason": None}},
                     "divergences": [{"id": "d", "title": "t"}]}),
]


@pytest.mark.parametrize("doc", [d for _, d in ACCEPTED], ids=[n for n, _ in ACCEPTED])
def test_what_the_schema_accepts_the_reader_loads(doc: dict[str, Any]) -> None:
    assert not schema_errors(doc)
    loaded = results.validate(copy.deepcopy(doc), "x.json")
    assert len(loaded["records"]) == len(doc["records"])
    for got, raw in zip(loaded["records"], doc["records"]):
        assert got == {**R.DEFAULTS, **raw}  # optional fields defaulted, the rest untouched
    # what the reader hands the report (defaults filled in) still matches the schema
    assert not schema_errors(loaded)


def test_loaded_fixture_matches_the_schema() -> None:
    assert_valid_results(results.load_results(FIXTURE))


# -- the report and the results plugin name no framework --------------------------------------
def test_report_and_results_plugin_name_no_framework() -> None:
    """No framework of an installed plug-in (its name, its entry points' module) is named by
    the report, the results plugin, the record, the benchmarks or the report's tests."""
    from lossconform.plugins import load_adapters

    names = set()
    for adapter in load_adapters().values():
        names.add(adapter.framework)
        names.update(spec.name.split(".")[0] for spec in adapter.entry_points())
    names = {n for n in names if n}
    if not names:
        pytest.skip("no framework plug-in installed")
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(names))) + r")\b", re.I)
    roots = [REPO / "reports", REPO / "benchmarks", HERE, Path(R.__file__)]
    found = []
    for root in roots:
        files = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in files:
            if not path.is_file() or path.suffix not in (".py", ".js", ".j2", ".css", ".json",
                                                         ".md", ".txt"):
                continue
            if "out" in path.relative_to(REPO).parts[:2]:
                continue  # reports/out: generated, git-ignored
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()[:120]}")
    assert not found, "framework names found:\n" + "\n".join(found[:20])
