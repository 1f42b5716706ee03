"""Tests of the settings engine (``lossconform.settings``) and its report view, on a fake
adapter built from the reference: a setting that changes nothing agrees; one that moves
values, changes a NaN pattern, raises, or changes a probe observation is seen, and fails
its test only where the baseline passes; files round-trip; the view counts what changed.
No framework is needed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from lossconform import reference
from lossconform.cases import BY_ID
from lossconform.contract import Adapter, Call, EntryPointSpec, Evaluation, Output, Setting
from lossconform.dtypes import DTYPES, round_to
from lossconform.record import CheckRecord
from lossconform.reports.settings_view import settings_view
from lossconform.settings import (ROWS, Observation, compare, items, observe, parse_observed,
                                  probe_state, summary_line)
from lossconform.settings.compare import setting_preamble
from lossconform.settings.run import child_environment

MODES = ("eager", "same", "scale", "nan", "raise")


class Fake(Adapter):
    """The reference rounded to the dtype; the ``mode`` facet perturbs softmax's output."""

    framework = "fake"
    facets = {"mode": MODES}
    process_environment = {"FAKE_THREADS": "1"}

    def available(self):
        return None

    def version(self):
        return "1.0"

    def entry_points(self):
        return [EntryPointSpec(f"fake.{op}", op, DTYPES) for op in ("softmax", "sigmoid")]

    def settings(self):
        return (Setting("FAKE_FAST=1", "a speed switch", env={"FAKE_FAST": "1"},
                        switch="import fake; fake.fast()", source="https://example.org/fast"),
                Setting("scale", "a mode", kind="mode", mode="scale", source="https://example.org"))

    def evaluate(self, entry_point, call):
        value, grad = reference.evaluate(call)
        mode = call.facet("mode", "eager")
        if call.op == "softmax":
            if mode == "scale":
                value = value * (1 + 1e-4)
            elif mode == "nan":
                value = value.copy()
                value.flat[0] = np.nan
            elif mode == "raise":
                raise RuntimeError("no kernel for this mode\nsecond line")
        g = None if grad is None else Output(round_to(grad, call.dtype), call.dtype)
        return Evaluation(Output(round_to(value, call.dtype), call.dtype), g)

    def repro(self, entry_point, call):
        return f"out = {entry_point}(x)  # mode={call.facet('mode', 'eager')}\n"


FAKE = Fake()


def _setting(mode: str, **kw) -> Setting:
    return Setting(mode, f"the {mode} mode", kind="mode", mode=mode, source="https://example.org", **kw)


def _obs(mode: str | None) -> Observation:
    return observe(FAKE, mode or "", {"mode": mode} if mode else {}, probes=False,
                   dtypes=("float32",))


@pytest.fixture(scope="module")
def base() -> Observation:
    return _obs(None)


# -- the slice -----------------------------------------------------------------------------
def test_slice_rows_name_cases_that_accept_their_dtypes() -> None:
    for row in ROWS:
        case = BY_ID.get(row.case_id)
        assert case is not None, f"slice row {row.case_id!r} is not a case"
        assert set(row.dtypes) <= set(case.dtypes), row
        assert set(row.compact) <= set(row.dtypes), row
    # every canonical op has rows: moderate inputs in every dtype, extreme ones in float32
    from lossconform.ops import OPS_TABLE

    for op in (o.name for o in OPS_TABLE):
        rows = [r for r in ROWS if BY_ID[r.case_id].op == op]
        assert any(set(r.dtypes) == set(DTYPES) for r in rows), op
        assert any(BY_ID[r.case_id].regime not in ("moderate", "soft") for r in rows), op


def test_slice_covers_each_entry_point_and_the_compact_slice_is_smaller() -> None:
    full = list(items(FAKE))
    compact = list(items(FAKE, compact=True))
    assert {i.entry_point for i in full} == {"fake.softmax", "fake.sigmoid"}
    assert {i.dtype for i in full} == set(DTYPES)
    assert 0 < len(compact) < len(full) and {i.dtype for i in compact} == {"float32", "float16"}


# -- one setting against the baseline ---------------------------------------------------------
def test_a_setting_that_changes_nothing_agrees(base: Observation) -> None:
    res = compare(FAKE, _setting("same"), base, _obs("same"))
    assert not res.new_failures
    slice_recs = [r for r in res.records if not r.id.startswith("probe-")]
    assert slice_recs and all(r.kind == "setting" and r.setting == "same" for r in slice_recs)
    assert all(r.observed == "forward identical; gradient identical" for r in slice_recs)
    assert res.summary["changed_outputs"] == 0 and res.summary["outputs"] == 2 * len(slice_recs)
    assert all(r.facets == {"mode": "same"} for r in slice_recs)


def test_moved_values_are_measured_and_fail_where_the_baseline_passes(base: Observation) -> None:
    res = compare(FAKE, _setting("scale"), base, _obs("scale"))
    soft = [r for r in res.records if r.entry_point == "fake.softmax"]
    sig = [r for r in res.records if r.entry_point == "fake.sigmoid"]
    assert all(parse_observed(r.observed)["forward"] == "differs" for r in soft)
    assert all(parse_observed(r.observed) == {"forward": "identical", "gradient": "identical"}
               for r in sig)
    assert any(r.verdict == "fail" for r in soft) and all(r.verdict == "agree" for r in sig)
    assert res.new_failures
    text = res.new_failures[0]
    assert "FAIL setting 'scale'" in text and "the baseline passes" in text and "repro:" in text
    assert "ULP (at the output's scale) from the baseline" in text
    assert res.summary["changed_outputs"] == len(soft)
    assert "outputs bitwise different" in summary_line(_setting("scale"), res.summary)


def test_a_fail_the_baseline_shares_is_not_the_settings() -> None:
    scaled = _obs("scale")
    res = compare(FAKE, _setting("scale"), scaled, _obs("scale"))
    assert any(r.verdict == "fail" for r in res.records)
    assert not res.new_failures
    assert all("the baseline fails this check too" in (r.message or "")
               for r in res.records if r.verdict == "fail")


def test_nan_pattern_and_raises_are_seen(base: Observation) -> None:
    res = compare(FAKE, _setting("nan"), base, _obs("nan"))
    soft = [r for r in res.records if r.entry_point == "fake.softmax"]
    assert all(parse_observed(r.observed)["forward"] == "non-finite pattern differs" for r in soft)
    assert res.summary["nonfinite_changes"] == len(soft) and res.new_failures
    res = compare(FAKE, _setting("raise"), base, _obs("raise"))
    soft = [r for r in res.records if r.entry_point == "fake.softmax"]
    assert all(r.verdict == "fail" and r.observed.startswith("call raises RuntimeError: no kernel")
               and "(the baseline returns values)" in r.observed for r in soft)
    assert res.summary["errors_changed"] == len(soft)


@dataclass
class _Probes:
    base: dict = field(default_factory=dict)
    setting: dict = field(default_factory=dict)


def _probe_compare(pairs: dict[str, tuple[str, str]], **kw: Any) -> dict[str, CheckRecord]:
    from lossconform.probes import PROBES

    ids = [p.id for p in PROBES if p.applies_to(FAKE.entry_points()[0])][:len(pairs)]
    assert len(ids) == len(pairs)
    b, s = Observation("fake", "1.0", ""), Observation("fake", "1.0", "x")
    names = {}
    for pid, (name, (bt, st)) in zip(ids, pairs.items()):
        b.probes[(pid, "fake.softmax")] = bt
        s.probes[(pid, "fake.softmax")] = st
        names[pid] = name
    setting = _setting("x", expected_changes={ids[2]: "documented: it does that"} if len(ids) > 2 else {})
    res = compare(FAKE, setting, b, s)
    return {names[r.id.removeprefix("probe-")]: r for r in res.records}, res


def test_probe_observations_are_compared() -> None:
    recs, res = _probe_compare({
        "same": ("axis 1", "axis 1"),
        "changed": ("[nan, 0, 0]", "[nan, nan, nan]"),
        "declared": ("raises IndexError", "raises WrappedError"),
        "zero": ("gradient [-0, 0.5]", "gradient [0, 0.5]"),
        "broken": ("exact down to 1e-40", "probe error: OverflowError: x"),
        "inexpressible": ("axis 1", "not expressible: no such facet"),
    })
    assert recs["same"].verdict == "agree" and probe_state(recs["same"].observed) == "unchanged"
    assert recs["changed"].verdict == "fail" and probe_state(recs["changed"].observed) == "changed"
    assert recs["declared"].verdict == "agree" and "documented" in recs["declared"].message
    assert recs["zero"].verdict == "agree" and recs["zero"].observed.startswith("changed in the sign")
    assert recs["broken"].verdict == "fail" and "probe itself broke" in recs["broken"].message
    assert recs["inexpressible"].verdict == "unsupported"
    assert len(res.new_failures) == 2 and res.summary["probes"] == 6


# -- files, repro, environment ------------------------------------------------------------------
def test_observation_round_trips(tmp_path, base: Observation) -> None:
    base.probes[("p.q", "fake.softmax")] = "axis 1"
    path = tmp_path / "o.npz"
    base.save(path)
    back = Observation.load(path)
    assert back.probes == base.probes and back.outcomes.keys() == base.outcomes.keys()
    for k, o in base.outcomes.items():
        b = back.outcomes[k]
        np.testing.assert_array_equal(b.forward, o.forward)
        np.testing.assert_array_equal(b.gradient, o.gradient)
        assert (b.forward_dtype, b.error, b.unsupported) == (o.forward_dtype, o.error, o.unsupported)


def test_repro_and_child_environment_carry_the_setting() -> None:
    s = FAKE.settings()[0]
    pre = setting_preamble(s)
    assert "os.environ['FAKE_FAST'] = '1'" in pre and "import fake; fake.fast()" in pre
    env = child_environment(FAKE, s)
    assert env["FAKE_FAST"] == "1" and env["FAKE_THREADS"] == "1"
    assert "FAKE_FAST" not in child_environment(FAKE, None)


# -- the report's view ---------------------------------------------------------------------------
@dataclass
class _Run:
    records: list
    label: str = "run"


def test_settings_view_counts_what_changed(base: Observation) -> None:
    recs = []
    for mode in ("same", "scale", "raise"):
        recs += [r.to_json() for r in compare(FAKE, _setting(mode), base, _obs(mode)).records]
    recs.append(CheckRecord(id="softmax-moderate-16x10", op="softmax", entry_point="fake.softmax",
                            framework="fake", dtype="float32", kind="forward", verdict="agree").to_json())
    rows = {r["setting"]: r for r in settings_view([_Run(recs)])}
    assert set(rows) == {"same", "scale", "raise"}
    assert rows["same"]["changed"] == 0 and rows["same"]["share"] == "0%"
    soft = sum(1 for r in recs if r["setting"] == "scale" and r["entry_point"] == "fake.softmax")
    assert rows["scale"]["changed"] == soft and rows["scale"]["fails"] > 0
    assert rows["scale"]["how"] == "mode scale" and rows["scale"]["n_details"] >= soft
    assert float(rows["scale"]["moved"]) > 0 and rows["same"]["moved"] == "0"
    assert rows["raise"]["errors"] == soft
