"""Drills for the conformance command (``python -m lossconform test``, which ``make conform``
runs): what it leaves behind and prints when a run ends early or cannot start.

Real subprocesses, real signals. The frameworks are picked at run time from the installed
plug-ins; each drill narrows the matrix to stay short.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.drills.terminal import terminal_signals

from lossconform.plugins import load_adapters
from lossconform.reports.results import load_results

REPO = Path(__file__).resolve().parents[2]


def _available() -> str:
    for name, adapter in load_adapters().items():
        if adapter.available() is None:
            return name
    pytest.skip("no framework plug-in is available here")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS"))}
    env["PYTHONUNBUFFERED"] = "1"  # progress reaches the pipe as it is printed
    return env


def _cli(out: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "lossconform", "test", "--out", str(out), *args]


def _stale(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in ("results.json", "junit.xml", "report.html"):
        (out / name).write_text("from an earlier run")


def test_a_run_that_writes_no_results_leaves_no_earlier_report(tmp_path: Path) -> None:
    """A usage error (an unknown framework) ends the run before any result: the previous
    run's files must not stay behind looking current, and the command must say so."""
    out = tmp_path / "out"
    _stale(out)
    proc = subprocess.run(_cli(out, "--frameworks", "no_such_framework"), cwd=tmp_path,
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert not any((out / n).exists() for n in ("results.json", "junit.xml", "report.html")), \
        sorted(p.name for p in out.iterdir())
    assert "wrote no results" in proc.stderr and "no report built" in proc.stderr, proc.stderr
    assert "report:" not in proc.stdout


def test_results_and_junit_paths_belong_to_the_command(tmp_path: Path) -> None:
    proc = subprocess.run(_cli(tmp_path / "out", "--", "--results=elsewhere.json"),
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 4
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "--results is set by this command" in lines[0], proc.stderr
    assert not (tmp_path / "elsewhere.json").exists()


@pytest.mark.skipif(not (REPO / "Makefile").exists() or not (REPO / ".venv").exists(),
                    reason="needs the checkout's Makefile and .venv (make conform)")
def test_ctrl_c_on_make_conform_still_builds_the_report_of_this_run(tmp_path: Path) -> None:
    """SIGINT to the whole process group (what a terminal's Ctrl-C does) while `make conform`
    runs checks: pytest stops, the records so far are written as an interrupted run, and the
    report is built from them in the same process (no shell step after pytest that the
    shell's re-raised SIGINT would skip)."""
    fw = _available()
    out = tmp_path / "out"
    _stale(out)
    proc = subprocess.Popen(["make", "--no-print-directory", "conform", f"RUN={out}", "JOBS=0",
                             f"ARGS=--lc-frameworks {fw} -k test_matrix"],
                            cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=terminal_signals)
    lines: list[str] = []
    deadline = time.monotonic() + 240
    assert proc.stdout is not None
    # wait until checks are running: the first progress dots after the header
    for line in proc.stdout:
        lines.append(line)
        if re.match(r"[.sxF]+( |\[|$)", line):  # pytest -q progress characters
            break
        assert time.monotonic() < deadline, "".join(lines)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    rest, _ = proc.communicate(timeout=240)
    text = "".join(lines) + rest
    assert proc.returncode != 0, text[-3000:]  # make reports the interrupted run
    doc = load_results(out / "results.json")  # any results version
    assert doc["status"] == "interrupted", f"{doc['status']}:\n{text[-2500:]}"
    assert doc["records"], "the checks finished before Ctrl-C must be kept:\n" + text[-3000:]
    page = (out / "report.html").read_text()
    assert "from an earlier run" not in page and "interrupted" in page
    assert "run:     interrupted" in text and f"report:  {out / 'report.html'}" in text, text[-2000:]
