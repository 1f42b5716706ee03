"""Drills for the conformance run's usage (``--lc-frameworks``, ``--lc-device``, ``-k``): what a
user who mistypes, repeats or asks for something this machine lacks gets back.

Real subprocesses (``python -m pytest lossconform/suite/test_matrix.py ... --results <tmp>``),
each narrowed with ``-k`` and one dtype to stay short. Frameworks and devices are picked at run
time from the installed plug-ins (``lossconform.plugins.load_adapters``); a drill whose situation
this machine cannot produce is skipped, saying why. A framework made unavailable is simulated by
a wrapper that replaces that adapter's ``available()`` in the subprocess before pytest starts.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from lossconform.cases import BY_ID, CASES
from lossconform.plugins import load_adapters
from lossconform.reports.results import load_results

REPO = Path(__file__).resolve().parents[2]
MATRIX = "lossconform/suite/test_matrix.py"
USAGE_ERROR = 4  # pytest.ExitCode.USAGE_ERROR
TIMEOUT = 300

#: runs pytest with one adapter's available() replaced: argv = name, reason, pytest args...
SIMULATE_UNAVAILABLE = (
    "import sys, pytest\n"
    "from lossconform.plugins import load_adapters\n"
    "name, reason = sys.argv[1], sys.argv[2]\n"
    "load_adapters()[name].available = lambda: reason\n"
    "sys.exit(pytest.main(sys.argv[3:]))\n"
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS"))}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _available() -> list[str]:
    """The available frameworks, the one with the fewest entry points (the shortest
    matrix) first."""
    adapters = load_adapters()
    names = [n for n, a in adapters.items() if a.available() is None]
    if not names:
        pytest.skip("no framework plug-in is available here")
    return sorted(names, key=lambda n: len(adapters[n].entry_points()))


def _narrow(framework: str) -> str:
    """A ``-k`` expression selecting a handful of the framework's matrix tests: the id of the
    first moderate 16x10 case of an op the framework computes."""
    ops = {s.op for s in load_adapters()[framework].entry_points()}
    for case in CASES:
        if case.op in ops and case.regime == "moderate" and case.shape == (16, 10):
            return case.id
    pytest.skip(f"{framework} computes none of the 16x10 cases' ops")


def _pytest(tmp_path: Path, *args: str, simulate: tuple[str, str] | None = None
            ) -> tuple[subprocess.CompletedProcess, dict | None]:
    results = tmp_path / "results.json"
    results.unlink(missing_ok=True)
    common = [MATRIX, "-q", "--results", str(results), *args]
    if simulate:
        cmd = [sys.executable, "-c", SIMULATE_UNAVAILABLE, *simulate, *common]
    else:
        cmd = [sys.executable, "-m", "pytest", *common]
    proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True,
                          timeout=TIMEOUT)
    doc = load_results(results) if results.exists() else None  # any results version
    return proc, doc


def _out(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"


def _error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("ERROR:")]


def _collected(proc: subprocess.CompletedProcess) -> list[str]:
    return [line.strip() for line in proc.stdout.splitlines() if "::test_matrix[" in line]


# -- a selection that selects nothing --------------------------------------------------------
@pytest.mark.parametrize("option", ["--lc-frameworks=", "--lc-dtypes=", "--lc-frameworks= , "])
def test_empty_selection_is_a_usage_error(tmp_path: Path, option: str) -> None:
    proc, _ = _pytest(tmp_path, option, "--collect-only")
    assert proc.returncode == USAGE_ERROR, _out(proc)
    errors = _error_lines(proc)
    assert len(errors) == 1, _out(proc)
    valid = list(load_adapters()) if "frameworks" in option else ["float16", "float32"]
    assert all(name in errors[0] for name in valid), errors


# -- the same name twice ---------------------------------------------------------------------
def test_duplicate_framework_runs_each_test_once(tmp_path: Path) -> None:
    fw = _available()[0]
    proc, doc = _pytest(tmp_path, f"--lc-frameworks={fw},{fw}", "--lc-dtypes=float32,float32",
                        "-k", _narrow(fw))
    assert proc.returncode == 0, _out(proc)
    assert doc is not None, _out(proc)
    nodeids = Counter(r["nodeid"] for r in doc["records"])
    assert nodeids, _out(proc)
    # one check (forward, gradient) per test, entry point and dtype: each test id once, and
    # no pytest de-duplication suffix (a second copy would be named <id>0 / <id>1)
    eps = {n: {r["entry_point"] for r in doc["records"] if r["nodeid"] == n} for n in nodeids}
    assert all(count == 2 * len(eps[n]) for n, count in nodeids.items()), (nodeids, eps)
    per_check = Counter((r["nodeid"], r["entry_point"], r["dtype"], r["kind"])
                        for r in doc["records"])
    assert set(per_check.values()) == {1}, per_check
    assert all(n.endswith(f"{r}]") for n, r in
               ((r["nodeid"], r["id"]) for r in doc["records"])), sorted(nodeids)
    # the results say what ran: the one framework, de-duplicated
    assert list(doc["frameworks"]) == [fw], list(doc["frameworks"])
    assert doc["environment"]["selected_frameworks"] == [fw]
    assert doc["environment"]["selected_dtypes"] == ["float32"]


# -- a requested framework that cannot run here ----------------------------------------------
def test_requested_unavailable_framework_is_a_usage_error_real(tmp_path: Path) -> None:
    adapters = load_adapters()
    missing = {n: a.available() for n, a in adapters.items() if a.available() is not None}
    if not missing:
        pytest.skip("every framework plug-in is available here ("
                    + ", ".join(adapters) + "); the simulated drill below covers this")
    name, reason = next(iter(missing.items()))
    proc, _ = _pytest(tmp_path, f"--lc-frameworks={name}", "--collect-only")
    assert proc.returncode == USAGE_ERROR, _out(proc)
    errors = _error_lines(proc)
    assert len(errors) == 1 and name in errors[0] and reason in errors[0], _out(proc)


def test_requested_unavailable_framework_is_a_usage_error_simulated(tmp_path: Path) -> None:
    fw = _available()[0]
    reason = "simulated: not installed in this drill"
    proc, _ = _pytest(tmp_path, f"--lc-frameworks={fw}", "-k", _narrow(fw), simulate=(fw, reason))
    assert proc.returncode == USAGE_ERROR, _out(proc)
    errors = _error_lines(proc)
    assert len(errors) == 1 and fw in errors[0] and reason in errors[0], _out(proc)


def test_default_selection_skips_an_unavailable_framework_visibly(tmp_path: Path) -> None:
    """Without --lc-frameworks, whatever is available runs and the rest is skipped with
    the reason in the header and the summary."""
    names = _available()
    if len(load_adapters()) < 2:
        pytest.skip("only one framework plug-in is installed: nothing else would run")
    gone, reason = names[-1], "simulated: not installed in this drill"
    expr = " or ".join(sorted({_narrow(n) for n in load_adapters()}))
    proc, doc = _pytest(tmp_path, "--lc-dtypes=float32", "-k", expr, "-v", "-rs",
                        simulate=(gone, reason))  # -q -v: the header is printed
    assert proc.returncode == 0, _out(proc)
    assert f"{gone}: SKIPPED ({reason})" in proc.stdout, _out(proc)
    assert f"{gone}: {reason}" in proc.stdout, _out(proc)
    assert doc is not None and doc["frameworks"][gone]["available"] is False
    assert doc["frameworks"][gone]["reason"] == reason


# -- a device the framework does not have here -----------------------------------------------
def _missing_device() -> tuple[str, str, tuple[str, ...]]:
    adapters = load_adapters()
    for name in _available():
        adapter = adapters[name]
        have = tuple(adapter.devices())
        for spec in adapter.entry_points():
            for device in spec.capabilities.devices:
                if device not in have:
                    return name, device, have
    pytest.skip("every available framework has every device its entry points declare")


def test_missing_device_is_unsupported_not_fail(tmp_path: Path) -> None:
    fw, device, have = _missing_device()
    proc, doc = _pytest(tmp_path, f"--lc-frameworks={fw}", f"--lc-device={device}",
                        "--lc-dtypes=float32", "-k", _narrow(fw), "-rs")
    assert proc.returncode == 0, _out(proc)
    assert doc is not None and doc["records"], _out(proc)
    verdicts = Counter(r["verdict"] for r in doc["records"])
    assert set(verdicts) == {"unsupported"}, verdicts
    reason = f"{fw} has no {device} device here (devices: {', '.join(have)})"
    messages = Counter(r["message"] for r in doc["records"])
    assert reason in messages, messages
    assert reason in proc.stdout, _out(proc)


def test_unknown_device_is_a_usage_error(tmp_path: Path) -> None:
    proc, _ = _pytest(tmp_path, "--lc-device=tpu9", "--collect-only")
    assert proc.returncode == USAGE_ERROR, _out(proc)
    errors = _error_lines(proc)
    assert len(errors) == 1 and "'tpu9'" in errors[0] and "cpu" in errors[0], _out(proc)


# -- -k as users type it ---------------------------------------------------------------------
def test_k_reduction_mean_selects_tests(tmp_path: Path) -> None:
    fw = _available()[0]
    proc, doc = _pytest(tmp_path, f"--lc-frameworks={fw}", "--lc-dtypes=float32",
                        "-k", "reduction_mean and 16x10 and moderate")
    assert proc.returncode == 0, _out(proc)
    assert doc is not None and doc["records"], _out(proc)
    assert all("reduction_mean" in r["nodeid"] for r in doc["records"])
    passed = [line for line in proc.stdout.splitlines() if " passed" in line]
    assert passed and not passed[-1].lstrip().startswith("0 passed"), _out(proc)


def test_k_fragment_of_a_test_id_parses(tmp_path: Path) -> None:
    """The last fragment of a collected test id (a loss option with its value, as pytest
    prints it) given back to -k selects that test."""
    fw = _available()[0]
    listed, _ = _pytest(tmp_path, f"--lc-frameworks={fw}", "--lc-dtypes=float32",
                        "--collect-only", "-k", "16x10 and moderate and mean")
    assert listed.returncode == 0, _out(listed)
    ids = _collected(listed)
    assert ids, _out(listed)
    fragment = ids[0].rstrip("]").split("-")[-1]
    proc, _ = _pytest(tmp_path, f"--lc-frameworks={fw}", "--lc-dtypes=float32",
                      "--collect-only", "-k", f"{fragment} and 16x10 and moderate")
    assert proc.returncode == 0, _out(proc)
    assert ids[0] in _collected(proc), _out(proc)


# -- --lc-entry-points -------------------------------------------------------------------------
def test_entry_point_selection_runs_only_those(tmp_path: Path) -> None:
    """A name (or a glob) narrows every matrix test to the entry points it names; the
    records say which ran."""
    fw = _available()[0]
    ops_case = _narrow(fw)
    specs = [s for s in load_adapters()[fw].entry_points()
             if s.op == BY_ID[ops_case].op]
    name = specs[0].name
    proc, doc = _pytest(tmp_path, f"--lc-frameworks={fw}", "--lc-dtypes=float32",
                        f"--lc-entry-points={name}", "-k", ops_case)
    assert proc.returncode == 0, _out(proc)
    assert doc is not None and doc["records"], _out(proc)
    assert {r["entry_point"] for r in doc["records"]} == {name}
    glob = name[: max(1, len(name) // 2)] + "*"
    proc, doc = _pytest(tmp_path, f"--lc-frameworks={fw}", "--lc-dtypes=float32",
                        f"--lc-entry-points={glob}", "-k", ops_case)
    assert proc.returncode == 0, _out(proc)
    assert name in {r["entry_point"] for r in doc["records"]}, _out(proc)
    assert all(r["entry_point"].startswith(glob[:-1]) for r in doc["records"])


def test_unknown_entry_point_is_a_usage_error(tmp_path: Path) -> None:
    fw = _available()[0]
    proc, _ = _pytest(tmp_path, f"--lc-frameworks={fw}", "--lc-entry-points=no.such.function",
                      "--collect-only")
    assert proc.returncode == USAGE_ERROR, _out(proc)
    errors = _error_lines(proc)
    assert len(errors) == 1 and "'no.such.function'" in errors[0], _out(proc)
    first = load_adapters()[fw].entry_points()[0].name
    assert first in errors[0], errors
