"""A framework added from outside, with no edit to the suite: the numpyfx fixture plug-in.

``tests/fixtures/numpy_plugin`` is a stand-alone distribution (``lossconform-numpy-fixture``)
whose only link to lossconform is its entry point in the group ``lossconform.adapters``. It is
built offline from a temporary copy (so nothing is written into the working tree) and installed
with ``pip install --target`` into a temporary ``site`` folder; a subprocess with
``PYTHONPATH=<site>`` then discovers it from the ``.dist-info`` there, runs the whole suite on
it (contract, matrix, divergences, invalid inputs; the matrix narrowed with ``-k`` to the 16x10
batch shapes to keep this quick) and builds the report. The real environment never sees the
fixture, so other runs are unaffected.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
import xml.etree.ElementTree as ET
from collections import Counter
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from lossconform.reports.results import load_results

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "numpy_plugin"
FRAMEWORK = "numpyfx"
DIVERGENCE_ID = "numpyfx-bce-clip"
#: the matrix narrowed to the (16, 10) batch shapes (and 16x1000); everything else runs whole
MATRIX_FILTER = "not test_matrix or 16x10"
_PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
_OFFLINE = ["--no-deps", "--no-build-isolation", "--no-index"]


def install_fixture(base: Path) -> Path:
    """Build and install the fixture plug-in into ``base/site`` (offline); return that folder.

    ``pip install --target`` first; where that fails (e.g. no ``wheel`` support for target
    installs), ``pip wheel`` and unzip the wheel. Both need setuptools in this environment
    (``--no-build-isolation``); without it the test is skipped, saying so.
    """
    try:
        import setuptools  # noqa: F401
    except ImportError:
        pytest.skip("setuptools is not installed in this environment: the fixture plug-in "
                    "cannot be built offline (pip install setuptools)")
    src = base / "src"
    site = base / "site"
    shutil.copytree(FIXTURE, src, ignore=shutil.ignore_patterns(
        "build", "dist", "*.egg-info", "__pycache__"))
    first = subprocess.run([*_PIP, "install", *_OFFLINE, "-q", "--target", str(site), str(src)],
                           capture_output=True, text=True, timeout=300)
    if first.returncode != 0:
        wheels = base / "wheels"
        second = subprocess.run([*_PIP, "wheel", *_OFFLINE, "-q", "-w", str(wheels), str(src)],
                                capture_output=True, text=True, timeout=300)
        built = sorted(wheels.glob("lossconform_numpy_fixture-*.whl"))
        assert second.returncode == 0 and built, (
            "could not build the fixture plug-in offline:\n--- pip install --target:\n"
            f"{first.stdout}{first.stderr}\n--- pip wheel:\n{second.stdout}{second.stderr}")
        shutil.rmtree(site, ignore_errors=True)
        with zipfile.ZipFile(built[0]) as zf:
            zf.extractall(site)
    dist = sorted(site.glob("lossconform_numpy_fixture-*.dist-info/entry_points.txt"))
    assert dist and f"{FRAMEWORK} = lossconform_numpy_fixture:ADAPTER" in dist[0].read_text(), \
        f"the installed fixture declares no entry point {FRAMEWORK!r}: {list(site.iterdir())}"
    return site


def plugin_env(site: Path) -> dict[str, str]:
    """This environment plus ``PYTHONPATH=<site>``; pytest's own variables removed."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    env["PYTHONPATH"] = str(site)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_fixture(tmp_path_factory.mktemp("numpyfx"))


def test_suite_runs_the_installed_plugin_green(site: Path, tmp_path: Path) -> None:
    results, junit = tmp_path / "results.json", tmp_path / "junit.xml"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "lossconform/suite", "-p", "no:cacheprovider", "-q",
         "--lc-frameworks", FRAMEWORK, "--results", str(results), "--junitxml", str(junit),
         "-k", MATRIX_FILTER],
        cwd=ROOT, env=plugin_env(site), capture_output=True, text=True, timeout=600)
    out = run.stdout[-6000:] + run.stderr[-3000:]
    assert run.returncode == 0, f"the suite is not green on the fixture plug-in:\n{out}"

    doc = load_results(results)  # any results version
    assert doc["status"] == "complete", doc["status"]
    assert doc["frameworks"][FRAMEWORK]["available"], doc["frameworks"][FRAMEWORK]
    assert any(d["id"] == DIVERGENCE_ID for d in doc["divergences"]), \
        "the fixture's divergence entry is missing from the results' registry"
    mine = [r for r in doc["records"] if r.get("framework") == FRAMEWORK]
    verdicts = Counter(r["verdict"] for r in mine if r.get("kind") != "invalid_input")
    assert verdicts["agree"] > 0 and verdicts["divergence"] > 0, verdicts
    assert verdicts["fail"] == 0, verdicts
    assert any(r.get("divergence") == DIVERGENCE_ID for r in mine), \
        f"no matrix record carries divergence {DIVERGENCE_ID!r}"
    invalid = [r for r in mine if r.get("kind") == "invalid_input"]
    assert invalid, "no invalid_input records for the fixture"
    assert {r["entry_point"] for r in invalid} >= {"numpyfx.cross_entropy",
                                                   "numpyfx.binary_cross_entropy"}

    # every part of the suite ran on numpyfx (not skipped): contract, matrix, divergences, invalid
    ran = Counter()
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "")
        if f"[{FRAMEWORK}" in name or f"[{DIVERGENCE_ID}" in name:
            if case.find("skipped") is None:
                ran[case.get("classname", "").rsplit(".", 1)[-1]] += 1
    for module in ("test_contract", "test_matrix", "test_divergences", "test_invalid_inputs",
                   "test_conventions"):
        assert ran[module] > 0, f"no {module} test ran on {FRAMEWORK}: {dict(ran)}"

    report = tmp_path / "r.html"
    built = subprocess.run(
        [sys.executable, "-m", "lossconform.reports", "build", str(results), "-o", str(report)],
        cwd=tmp_path, env=plugin_env(site), capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    page = report.read_text(encoding="utf-8")
    assert FRAMEWORK in page and DIVERGENCE_ID in page

    # the fixture stayed out of this environment
    assert FRAMEWORK not in {ep.name for ep in entry_points(group="lossconform.adapters")}
