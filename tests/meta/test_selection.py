"""What a run selects and how it says what it ran: ``--lc-frameworks``/``--lc-dtypes``/
``--lc-device`` (``lossconform.pytest_plugin``), a device the installation lacks
(``lossconform.harness.check``) and the results metadata. Fake adapters only: no framework
is imported. The same situations in real subprocesses: ``tests/drills/test_usage.py``.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from lossconform import pytest_plugin as plug
from lossconform.cases import CASES
from lossconform.contract import Adapter, Capabilities, EntryPointSpec, Evaluation, Output
from lossconform.dtypes import DTYPES
from lossconform.harness import check
from lossconform.harness.check import expected, run_check
from lossconform.harness.compare import round_to


class Fake(Adapter):
    """A framework computing softmax from the reference; ``reason`` makes it unavailable,
    ``have`` is the devices its installation has, ``declared`` what its entry point declares."""

    conventions: dict = {}

    def __init__(self, name: str, reason: str | None = None, have=("cpu",),
                 declared=("cpu", "accel")):
        self.framework = name
        self.reason = reason
        self.have = tuple(have)
        self.declared = tuple(declared)
        self.devices_calls = 0
        self.evaluations = 0

    def available(self):
        return self.reason

    def version(self):
        return "1.0"

    def devices(self):
        self.devices_calls += 1
        return list(self.have)

    def entry_points(self):
        return [EntryPointSpec(f"{self.framework}.softmax", "softmax", DTYPES,
                               capabilities=Capabilities(devices=self.declared))]

    def evaluate(self, entry_point, call):
        self.evaluations += 1
        value, grad = expected(call)
        return Evaluation(Output(round_to(value, call.dtype), call.dtype),
                          Output(round_to(grad, call.dtype), call.dtype))

    def repro(self, entry_point, call):
        return "# fake"


def _adapters(*fakes: Fake) -> dict[str, Fake]:
    return {f.framework: f for f in fakes}


# -- --lc-frameworks ----------------------------------------------------------------------
def test_default_selection_keeps_unavailable_frameworks():
    """No option: everything discovered, an unavailable one too (it is skipped visibly)."""
    adapters = _adapters(Fake("alpha"), Fake("beta", reason="beta is not installed"))
    assert plug.select_frameworks(None, adapters) == ("alpha", "beta")


def test_requested_unavailable_framework_is_a_usage_error_naming_the_reason():
    adapters = _adapters(Fake("alpha"), Fake("beta", reason="beta is not installed (No module named 'beta')"))
    with pytest.raises(pytest.UsageError) as info:
        plug.select_frameworks("beta", adapters)
    msg = str(info.value)
    assert "\n" not in msg
    assert "beta is not installed (No module named 'beta')" in msg
    assert msg == ("--lc-frameworks: beta cannot run here (beta is not installed "
                   "(No module named 'beta')); available here: alpha")
    # the available one alone is fine
    assert plug.select_frameworks("alpha", adapters) == ("alpha",)


def test_available_that_raises_is_a_reason():
    class Broken(Fake):
        def available(self):
            raise RuntimeError("half-installed\nsecond line")

    with pytest.raises(pytest.UsageError, match="RuntimeError: half-installed second line") as info:
        plug.select_frameworks("broken", _adapters(Broken("broken")))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("value", ["", " ", ",", " , ,"])
def test_empty_framework_selection_is_a_usage_error(value):
    adapters = _adapters(Fake("alpha"), Fake("beta"))
    with pytest.raises(pytest.UsageError, match="selects no framework; valid names: alpha, beta"):
        plug.select_frameworks(value, adapters)


def test_duplicates_are_removed_in_order():
    adapters = _adapters(Fake("alpha"), Fake("beta"))
    assert plug.select_frameworks("beta, alpha,beta,alpha", adapters) == ("beta", "alpha")


def test_unknown_framework_lists_valid_names():
    with pytest.raises(pytest.UsageError, match=r"unknown framework 'gamma'; valid names: alpha, beta"):
        plug.select_frameworks("alpha,gamma", _adapters(Fake("alpha"), Fake("beta")))


# -- --lc-dtypes, --lc-device --------------------------------------------------------------
def test_dtype_selection():
    assert plug.select_dtypes(None) == tuple(DTYPES)
    assert plug.select_dtypes("float32,float64,float32") == ("float32", "float64")
    with pytest.raises(pytest.UsageError, match="selects no dtype; valid names: " + ", ".join(DTYPES)):
        plug.select_dtypes("")
    with pytest.raises(pytest.UsageError, match="unknown dtype 'float8'"):
        plug.select_dtypes("float8")


def test_device_selection():
    assert plug.select_device("cpu", ("cpu", "accel")) == "cpu"
    for bad in ("tpu", ""):
        with pytest.raises(pytest.UsageError, match=f"unknown device {bad!r}; valid names: cpu, accel"):
            plug.select_device(bad, ("cpu", "accel"))


# -- a device the installation lacks -------------------------------------------------------
_CASE = next(c for c in CASES if c.op == "softmax" and c.shape == (16, 10))


def test_missing_device_is_unsupported_with_the_reason():
    fake = Fake("alpha", have=("cpu",), declared=("cpu", "accel"))
    res = run_check(_CASE, fake, "alpha.softmax", "float32", device="accel")
    assert [r["verdict"] for r in res.records] == ["unsupported", "unsupported"]
    assert {r["message"] for r in res.records} == {"alpha has no accel device here (devices: cpu)"}
    assert not res.failures and fake.evaluations == 0


def test_missing_device_comes_before_the_capability_reason():
    """Nothing runs on a device the installation lacks, whatever the entry point declares."""
    fake = Fake("alpha", have=("cpu",), declared=("cpu",))
    res = run_check(_CASE, fake, "alpha.softmax", "float32", device="accel")
    assert {r["message"] for r in res.records} == {"alpha has no accel device here (devices: cpu)"}


def test_declared_but_absent_device_on_the_entry_point_only():
    """The installation has the device, the entry point does not declare it: the capability
    reason (what the entry point declares)."""
    fake = Fake("alpha", have=("cpu", "accel"), declared=("cpu",))
    res = run_check(_CASE, fake, "alpha.softmax", "float32", device="accel")
    assert {r["message"] for r in res.records} == {
        "alpha.softmax does not run on device 'accel' (it runs on: cpu)"}


def test_present_device_runs_and_devices_is_asked_once():
    fake = Fake("alpha", have=("cpu", "accel"))
    for device in ("accel", "cpu", "accel"):
        res = run_check(_CASE, fake, "alpha.softmax", "float32", device=device)
        assert [r["verdict"] for r in res.records] == ["agree", "agree"], res.failures
    assert fake.evaluations == 3
    assert fake.devices_calls == 1
    assert check.installed_devices(fake) == ("cpu", "accel")


# -- results metadata -----------------------------------------------------------------------
def test_metadata_lists_only_the_selected_frameworks(monkeypatch):
    alpha, beta = Fake("alpha"), Fake("beta")
    beta.numerics_variables = ("BETA_ONLY_",)
    monkeypatch.setattr(plug, "_adapters", lambda: _adapters(alpha, beta))
    monkeypatch.setenv("BETA_ONLY_FLAG", "1")
    config = SimpleNamespace(getoption=lambda name: 0, lc_frameworks=("alpha",),
                             lc_dtypes=("float32",), lc_device="cpu")
    meta = plug.pytest_lossconform_metadata(config)
    assert list(meta["frameworks"]) == ["alpha"]
    assert meta["frameworks"]["alpha"]["available"] is True
    assert meta["environment"]["selected_frameworks"] == ["alpha"]
    assert meta["environment"]["selected_dtypes"] == ["float32"]
    assert "BETA_ONLY_FLAG" not in meta["environment"]["env"]
