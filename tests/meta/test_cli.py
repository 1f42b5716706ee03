"""``python -m lossconform``: the packaged suite runs from any directory and leaves
results.json, junit.xml and report.html where it says.

Runs on the numpyfx fixture plug-in (installed into a temporary folder, see
test_plugin_fixture.py), from a temporary working directory, in a subprocess.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from lossconform import cli
from lossconform.reports.results import load_results
from tests.meta.test_plugin_fixture import FRAMEWORK, install_fixture, plugin_env

PATHS = re.compile(r"^(results|junit|report):\s+(\S.*)$", re.M)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_fixture(tmp_path_factory.mktemp("numpyfx-cli"))


def _run(site: Path, cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict[str, Path]]:
    proc = subprocess.run([sys.executable, "-m", "lossconform", *args], cwd=cwd,
                          env=plugin_env(site), capture_output=True, text=True, timeout=600)
    printed = {k: Path(v.strip()) for k, v in PATHS.findall(proc.stdout)}
    return proc, printed


def _check_outputs(proc: subprocess.CompletedProcess, printed: dict[str, Path], out: Path) -> dict:
    tail = proc.stdout[-4000:] + proc.stderr[-3000:]
    assert proc.returncode == 0, tail
    assert set(printed) == {"results", "junit", "report"}, tail
    for name, path in printed.items():
        assert path.is_file(), f"{name}: {path} does not exist\n{tail}"
        assert path.parent == out.resolve(), path
    doc = load_results(printed["results"])  # any results version
    assert doc["status"] == "complete"
    assert FRAMEWORK in printed["report"].read_text(encoding="utf-8")
    return doc


def test_contract_command(site: Path, tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    out = tmp_path / "out"
    proc, printed = _run(site, cwd, "contract", "--frameworks", FRAMEWORK, "--out", str(out))
    doc = _check_outputs(proc, printed, out)
    kinds = {r.get("kind") for r in doc["records"] if r.get("framework") == FRAMEWORK}
    # contract + divergences + invalid inputs + conventions: no matrix
    assert kinds == {"invalid_input", "convention"}, kinds
    assert "test_contract" in printed["junit"].read_text(encoding="utf-8")
    assert list(cwd.iterdir()) == [], "the run wrote into the working directory"


def test_test_command(site: Path, tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc, printed = _run(site, cwd, "test", "--frameworks", FRAMEWORK, "--dtypes", "float32",
                         "--", "-k", "softmax and moderate-16x10")
    doc = _check_outputs(proc, printed, cwd / cli.DEFAULT_OUT)
    mine = [r for r in doc["records"] if r.get("framework") == FRAMEWORK]
    assert mine and {r["dtype"] for r in mine} == {"float32"}
    assert {r["verdict"] for r in mine} == {"agree"}
    assert {r["entry_point"] for r in mine} == {"numpyfx.softmax", "numpyfx.log_softmax"}
    assert all(r["nodeid"].startswith("lossconform/suite/test_matrix.py::") for r in mine), \
        mine[0]["nodeid"]


# -- argument handling (no subprocess) ---------------------------------------------------------
def test_arguments_after_double_dash_go_to_pytest(tmp_path: Path) -> None:
    ours, extra = cli.split_argv(["test", "--frameworks", "a", "--", "-k", "x", "--", "y"])
    assert ours == ["test", "--frameworks", "a"] and extra == ["-k", "x", "--", "y"]
    args = cli._parser().parse_args(["contract", "--frameworks", "a,b", "--dtypes", "float32",
                                     "--out", str(tmp_path)])
    argv = cli.pytest_args(args, ["-x"], tmp_path / "pytest.ini")
    assert argv[-1] == "-x"
    assert argv[argv.index("--pyargs") + 1:-1] == [
        "lossconform.suite.test_contract", "lossconform.suite.test_divergences",
        "lossconform.suite.test_invalid_inputs", "lossconform.suite.test_conventions"]
    assert argv[argv.index("--lc-frameworks") + 1] == "a,b"
    assert argv[argv.index("--results") + 1] == str((tmp_path / "results.json").resolve())
    assert argv[argv.index("--rootdir") + 1] == str(cli.package_root())
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-p"] == [
        "no:cacheprovider", *cli.PLUGINS]
