"""Settings and execution modes that change the numbers: every setting each plug-in declares
(``Adapter.settings()``), run on the convention probes and a slice of the matrix, against
the baseline (``lossconform.settings``).

``test_setting[<framework>-<setting>]`` runs the baseline (once per session, shared by the
xdist workers, in the test process: the matrix's own environment) and the setting (a process setting in a fresh process, an
execution mode in the test's own process), records one ``setting`` record per
call and per probe observation, and fails where the setting makes a check fail that the
baseline passes (nothing in the plug-in's divergence models explains it) or changes a
convention observation the setting does not declare in ``expected_changes``; its output
summarises what changed (bitwise-different outputs, ULP moved, NaN patterns, errors,
probes). ``test_settings_declared`` checks the declarations without running anything.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from lossconform.contract import FACET_NAMES, SETTING_KINDS
from lossconform.plugins import load_adapters
from lossconform.record import CheckRecord
from lossconform.reports.pytest_plugin import record
from lossconform.settings import (SettingRunError, compare, find_setting, observe_setting,
                                  shared_baseline, summary_line)

_ADAPTERS = load_adapters()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def _params() -> list[Any]:
    """Every framework's settings, taken in turn (one of each framework, then the second of
    each, ...): under pytest-xdist the workers then start on different frameworks' baselines
    instead of waiting on one. Each runs a process or a compiler: ``slow``, scheduled first."""
    per_fw = [[(fw, s) for s in adapter.settings()] for fw, adapter in _ADAPTERS.items()]
    turns = [p for i in range(max(map(len, per_fw), default=0)) for fw_settings in per_fw
             if i < len(fw_settings) for p in [fw_settings[i]]]
    return [pytest.param(fw, s.name, id=f"{fw}-{_slug(s.name)}",
                         marks=[pytest.mark.framework(fw), pytest.mark.slow])
            for fw, s in turns]


def _frameworks() -> list[Any]:
    return [pytest.param(fw, id=fw, marks=pytest.mark.framework(fw)) for fw in _ADAPTERS]


@pytest.mark.parametrize("fw", _frameworks())
def test_settings_declared(fw: str) -> None:
    """Each setting is well formed: a unique name, a kind, what it sets, a source; a mode is a
    value of the adapter's declared ``mode`` facet."""
    adapter = _ADAPTERS[fw]
    settings = list(adapter.settings())
    names = [s.name for s in settings]
    assert len(names) == len(set(names)), f"setting names repeat: {names}"
    assert "mode" in FACET_NAMES
    for s in settings:
        where = f"{fw} setting {s.name!r}"
        assert s.name and s.description, f"{where}: needs a name and a description"
        assert s.kind in SETTING_KINDS, f"{where}: kind {s.kind!r} not in {SETTING_KINDS}"
        assert s.source, f"{where}: needs a source (docs or source at a release tag)"
        if s.kind == "mode":
            assert s.mode in tuple(adapter.facets.get("mode", ())), (
                f"{where}: mode {s.mode!r} is not a declared value of the adapter's 'mode' facet "
                f"({tuple(adapter.facets.get('mode', ()))})")
            assert not s.env and s.apply is None, f"{where}: a mode sets nothing process-wide"
        else:
            assert s.env or s.apply is not None, f"{where}: a process setting sets something"
            assert not s.apply or s.switch, f"{where}: write the switch users call in `switch`"
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in s.env.items()), where
        for pattern, reason in dict(s.expected_changes).items():
            re.compile(pattern)
            assert reason, f"{where}: expected change {pattern!r} needs its reason"


def _shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's folder shared by the xdist workers (each has its own basetemp below it)."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "lossconform-settings"


@pytest.mark.parametrize(("fw", "name"), _params())
def test_setting(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                 tmp_path: Path, lc_seed: int, fw: str, name: str) -> None:
    adapter = _ADAPTERS[fw]
    reason = adapter.available()
    if reason:
        pytest.skip(f"{fw}: {reason}")
    setting = find_setting(adapter, name)
    device = request.config.lc_device
    dtypes = tuple(request.config.lc_dtypes)
    try:
        base = shared_baseline(adapter, _shared_folder(tmp_path_factory), seed=lc_seed,
                               device=device, dtypes=dtypes)
        obs = observe_setting(adapter, setting, tmp_path / "setting.npz", seed=lc_seed,
                              device=device, dtypes=dtypes)
    except SettingRunError as exc:
        record(request, CheckRecord(
            id=f"setting-{_slug(name)}", op="", entry_point="", framework=fw,
            framework_version=adapter.version(), dtype="", device=device, kind="setting",
            verdict="fail", setting=name, message=str(exc),
            observed="the setting's process gave no result"))
        pytest.fail(f"setting {name!r} ({fw}) could not run:\n{exc}", pytrace=False)
    result = compare(adapter, setting, base, obs, seed=lc_seed, device=device,
                     nodeid=request.node.nodeid)
    for rec in result.records:
        record(request, rec)
    line = summary_line(setting, result.summary)
    print(f"{fw} {line}")
    if result.new_failures:
        pytest.fail(f"{fw} {line}\n\n" + "\n\n".join(result.new_failures)
                    + f"\n  rerun: pytest '{request.node.nodeid}' --lc-seed {lc_seed}",
                    pytrace=False)
