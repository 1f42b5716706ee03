"""Drills: every way a run ends leaves results that say exactly what happened.

Each drill runs a real ``python -m pytest -p lossconform.reports.pytest_plugin`` in a
subprocess on a small inner suite that attaches records the way the conformance suite does,
ends it the way runs end in practice (SIGTERM from a supervisor, Ctrl-C pressed twice, a
worker killed by the kernel, a full disk, a mistyped or symlinked ``--results`` path,
``--collect-only``, a ``-k`` that selects nothing), then reads what is left: the results
file (validated against ``lossconform.record.json_schema()`` and loaded by the report's
reader), its ``status``, records and ``tests``, the exit status, what was printed, the temp
folder (no spool left behind).

Device targets: a private character device with the numbers of ``/dev/null`` (1, 3) or
``/dev/full`` (1, 7), made with ``mknod`` in the drill's temp folder where that is allowed
(root), else the real device: the code path is the same (a character device), and a
regression that replaced its target would damage a temp file, never this machine's
``/dev/null``.

Signals are sent when the inner run is at a known point (a marker file the slow test writes,
and the controller's ``-v`` lines for the tests already reported), never after a blind sleep.
"""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.drills.terminal import terminal_signals

from lossconform.reports.results import load_results
from tests.report.schema_validation import assert_valid_results

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and devices")

PLUGIN = "lossconform.reports.pytest_plugin"
WAIT = 60  # seconds: the longest any inner run may take to reach a point or to end

INNER_SUITE = '''
import os
import signal
import time
from pathlib import Path

import pytest

from lossconform.record import CheckRecord
from lossconform.reports.pytest_plugin import record

MARKS = Path(os.environ["DRILL_MARKS"])


def rec(request, name):
    record(request, CheckRecord(id=name, op="softmax", entry_point="fake.softmax",
                                framework="fake", dtype="float32", kind="forward",
                                verdict="agree"))


@pytest.fixture(scope="session")
def device():
    """A session resource whose release is slow (a framework's device, a big file)."""
    yield
    end = time.monotonic() + float(os.environ.get("DRILL_SLOW_END", "0"))
    while time.monotonic() < end:
        time.sleep(0.05)


@pytest.mark.parametrize("i", range(4))
def test_fast(request, device, i):
    for k in range(2):
        rec(request, f"fast{i}.{k}")


def test_slow(request, device):
    rec(request, "slow.started")
    (MARKS / "slow-running").write_text(str(os.getpid()))
    end = time.monotonic() + float(os.environ.get("DRILL_SLOW_SECONDS", "60"))
    while time.monotonic() < end:  # short sleeps: an interrupt lands within 50 ms
        time.sleep(0.05)
    rec(request, "slow.finished")


def test_crash(request):
    rec(request, "crash.started")
    os.kill(os.getpid(), signal.SIGKILL)
'''

FAST_IDS = [f"test_inner.py::test_fast[{i}]" for i in range(4)]
FAST_RECORDS = {f"fast{i}.{k}" for i in range(4) for k in range(2)}


class Inner:
    """One inner pytest run in ``root/suite``: its files, its private temp folder, its output."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.suite = root / "suite"
        self.marks = root / "marks"
        self.tmp = root / "tmp"  # the inner run's TMPDIR: where the spool folder goes
        for d in (self.suite, self.marks, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
        (self.suite / "test_inner.py").write_text(INNER_SUITE)
        self.results = root / "out" / "results.json"
        self.stdout = root / "stdout.txt"
        self.stderr = root / "stderr.txt"
        self.proc: subprocess.Popen | None = None

    def start(self, *args: str, results: Path | str | None = None, **env: str
              ) -> subprocess.Popen:
        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS"))}
        environ.update(PYTHONUNBUFFERED="1", TMPDIR=str(self.tmp), DRILL_MARKS=str(self.marks),
                       **env)
        cmd = [sys.executable, "-m", "pytest", "-p", PLUGIN, "-p", "no:cacheprovider", "-v",
               "--results", str(self.results if results is None else results), *args]
        with open(self.stdout, "w") as out, open(self.stderr, "w") as err:
            self.proc = subprocess.Popen(cmd, cwd=self.suite, env=environ, stdout=out,
                                         stderr=err, stdin=subprocess.DEVNULL,
                                         preexec_fn=terminal_signals)
        return self.proc

    def run(self, *args: str, **kw: str) -> int:
        self.start(*args, **kw)
        return self.wait()

    def wait(self, timeout: float = WAIT) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"the inner run did not end within {timeout} s\n{self.output()}")

    def until(self, what: str, ready, timeout: float = WAIT) -> None:
        """Poll (every 20 ms) until ``ready()``; fail, with the output, if the run ends
        first or it takes longer than ``timeout``."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while not ready():
            if self.proc.poll() is not None:
                pytest.fail(f"the inner run ended before {what}\n{self.output()}")
            if time.monotonic() > deadline:
                self.proc.kill()
                pytest.fail(f"no {what} within {timeout} s\n{self.output()}")
            time.sleep(0.02)

    def reported(self, nodeids: list[str]) -> bool:
        """The controller has printed (-v) a result for each of ``nodeids``."""
        text = self.stdout.read_text()
        return all(f"PASSED {n}" in text or f"{n} PASSED" in text for n in nodeids)

    def output(self) -> str:
        return ("--- stdout ---\n" + self.stdout.read_text()[-4000:]
                + "\n--- stderr ---\n" + self.stderr.read_text()[-4000:])

    def doc(self, path: Path | None = None) -> dict:
        path = self.results if path is None else path
        assert path.is_file(), f"no results at {path}\n{self.output()}"
        assert_valid_results(path)
        return load_results(path)  # the report's reader takes it (and decodes the records)

    def spools(self) -> list[str]:
        return sorted(p.name for p in self.tmp.glob("lossconform-spool-*"))

    def lines(self, text: str) -> list[str]:
        both = self.stdout.read_text().splitlines() + self.stderr.read_text().splitlines()
        return [ln for ln in both if text in ln]


def _ids(doc: dict) -> set[str]:
    return {r["id"] for r in doc["records"]}


def _char_device(folder: Path, name: str, minor: int, real: str) -> Path:
    """A private character device (major 1: the kernel's memory devices; 3 null, 7 full),
    or the real one where mknod is not allowed."""
    path = folder / name
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
        with open(path, "w"):  # a device cgroup may allow mknod but not opening
            pass
    except OSError:
        if path.exists() and not path.is_dir():
            path.unlink()
        return Path(real)
    return path


@pytest.fixture
def inner(tmp_path: Path) -> Inner:
    return Inner(tmp_path)


# -- signals ------------------------------------------------------------------------------------
def test_sigterm_during_a_slow_test_writes_the_finished_records_as_terminated(inner: Inner
                                                                              ) -> None:
    """SIGTERM to the controller (what a CI runner, ``timeout``, ``docker stop`` or a
    batch scheduler sends) while a worker runs a slow test: the records of the tests that
    finished are written with status ``terminated``, the spool is merged and removed, the
    exit status is 128 + 15."""
    inner.start("-n", "1", "-k", "fast or slow")
    inner.until("slow test running", lambda: (inner.marks / "slow-running").exists()
                and inner.reported(FAST_IDS))
    inner.proc.send_signal(signal.SIGTERM)
    rc = inner.wait()
    assert rc == 128 + signal.SIGTERM, inner.output()
    doc = inner.doc()
    assert doc["status"] == "terminated" and doc["exitstatus"] == 143
    assert FAST_RECORDS <= _ids(doc), sorted(_ids(doc))
    assert "slow.finished" not in _ids(doc)
    assert doc["tests"]["collected"] == 5 and doc["tests"]["reported"] == 4
    assert doc["tests"]["lost"] == ["test_inner.py::test_slow"]
    assert doc["checks"]["recorded"] == len(doc["records"])
    assert inner.spools() == [], "the spool folder was left in the temp folder"
    assert not list(inner.results.parent.glob("*.tmp"))


def test_records_a_worker_spools_after_sigterm_are_merged_too(inner: Inner) -> None:
    """The results are written first thing at the session's end; a worker that finishes
    its running test while xdist shuts it down spools that test's records afterwards, and
    they are merged into the file (the test stays lost: its report never came back)."""
    inner.start("-n", "1", "-k", "fast or slow", DRILL_SLOW_SECONDS="3")
    inner.until("slow test running", lambda: (inner.marks / "slow-running").exists()
                and inner.reported(FAST_IDS))
    inner.proc.send_signal(signal.SIGTERM)
    assert inner.wait() == 143, inner.output()
    doc = inner.doc()
    assert doc["status"] == "terminated"
    assert FAST_RECORDS | {"slow.started", "slow.finished"} == _ids(doc), sorted(_ids(doc))
    assert doc["tests"]["lost"] == ["test_inner.py::test_slow"]
    assert doc["checks"]["recorded"] == 10
    assert inner.lines("records written to") == [
        f"lossconform: 10 records written to {inner.results} (run terminated, exit status 143)"]
    assert inner.spools() == []


def test_ctrl_c_twice_still_leaves_the_results(inner: Inner) -> None:
    """Ctrl-C, then Ctrl-C again while the run shuts down (here: a session resource whose
    release takes 30 s): the results are written before that slow work, so the second
    Ctrl-C (which ends the process at once) finds them written."""
    inner.start("-p", "no:xdist", "-k", "fast or slow", DRILL_SLOW_END="30")
    inner.until("slow test running", lambda: (inner.marks / "slow-running").exists()
                and inner.reported(FAST_IDS))
    inner.proc.send_signal(signal.SIGINT)
    time.sleep(0.3)  # "twice quickly": the second lands while the run is shutting down
    inner.proc.send_signal(signal.SIGINT)
    second = time.monotonic()
    rc = inner.wait()
    assert time.monotonic() - second < 20, "the second Ctrl-C did not end the run"
    assert rc != 0, inner.output()
    doc = inner.doc()
    assert doc["status"] == "interrupted"
    assert FAST_RECORDS | {"slow.started"} <= _ids(doc)  # the interrupted test's own, too
    assert doc["tests"]["lost"] == ["test_inner.py::test_slow"]
    assert not list(inner.results.parent.glob("*.tmp"))


def test_a_crashed_worker_is_worker_crashed_with_its_test_lost(inner: Inner) -> None:
    rc = inner.run("-n", "2", "-k", "fast or crash")
    assert rc == 1, inner.output()  # pytest's: xdist reports the crash as a failed test
    doc = inner.doc()
    assert doc["status"] == "worker-crashed", doc["status"]
    assert doc["exitstatus"] == 1
    assert doc["tests"]["lost"] == ["test_inner.py::test_crash"]
    assert doc["tests"]["crashed"] == ["test_inner.py::test_crash"]
    assert doc["tests"]["collected"] == 5 and doc["tests"]["reported"] == 4
    assert FAST_RECORDS <= _ids(doc)
    assert inner.spools() == []


# -- where the results go -------------------------------------------------------------------------
def test_a_full_device_fails_the_run_with_one_line(inner: Inner) -> None:
    full = _char_device(inner.root, "full", 7, "/dev/full")
    rc = inner.run("-k", "fast", results=full)
    assert rc == 4, inner.output()
    said = inner.lines("lossconform: ")
    assert said == [f"lossconform: could not write results to {full}: "
                    f"No space left on device"], inner.output()
    assert stat.S_ISCHR(os.stat(full).st_mode), f"{full} is no longer a character device"
    assert not list(full.parent.glob(f".{full.name}.*.tmp"))


def test_a_path_under_a_regular_file_is_refused_with_one_line(inner: Inner) -> None:
    a_file = inner.root / "notes.txt"
    a_file.write_text("mine")
    target = a_file / "results.json"
    rc = inner.run("-k", "fast", results=target)
    assert rc == 4, inner.output()
    said = inner.lines("lossconform: ")
    assert len(said) == 1 and said[0].endswith(
        f"lossconform: could not write results to {target}: Not a directory"), inner.output()
    assert "PASSED" not in inner.stdout.read_text()  # refused before running anything
    assert a_file.read_text() == "mine"
    assert sorted(p.name for p in inner.root.iterdir() if p.name.startswith(".")) == []


def test_a_symlinked_results_path_is_followed_and_kept(inner: Inner) -> None:
    store = inner.root / "store" / "results.json"
    store.parent.mkdir()
    store.write_text("old")
    link = inner.root / "latest.json"
    link.symlink_to(store)
    rc = inner.run("-k", "fast", results=link)
    assert rc == 0, inner.output()
    assert link.is_symlink() and os.readlink(link) == str(store)
    doc = inner.doc(store)
    assert doc["status"] == "complete" and _ids(doc) == FAST_RECORDS
    assert [p.name for p in store.parent.iterdir()] == ["results.json"]


def test_dev_null_stays_a_device(inner: Inner) -> None:
    null = _char_device(inner.root, "null", 3, os.devnull)
    rc = inner.run("-k", "fast", results=null)
    assert rc == 0, inner.output()
    assert stat.S_ISCHR(os.stat(null).st_mode), f"{null} is no longer a character device"
    assert inner.lines("records written to") == [
        f"lossconform: 8 records written to {null} (run complete, exit status 0)"]


# -- runs that run nothing ------------------------------------------------------------------------
def test_collect_only_leaves_the_previous_results_untouched(inner: Inner) -> None:
    inner.results.parent.mkdir(parents=True)
    previous = json.dumps({"schema": "lossconform-results", "schema_version": 1,
                           "status": "complete", "records": []}).encode() + b"\n  "
    inner.results.write_bytes(previous)
    before = os.stat(inner.results)
    rc = inner.run("--collect-only", "-k", "fast")
    assert rc == 0, inner.output()
    assert inner.results.read_bytes() == previous
    assert os.stat(inner.results).st_mtime_ns == before.st_mtime_ns
    assert inner.lines("lossconform: ") == [
        f"lossconform: --collect-only: no results written ({inner.results} left as it was)"]


def test_a_run_that_selects_nothing_is_no_tests(inner: Inner) -> None:
    rc = inner.run("-k", "nothing_matches")
    assert rc == 5, inner.output()  # pytest's: no tests ran
    doc = inner.doc()
    assert doc["status"] == "no-tests" and doc["exitstatus"] == 5
    assert doc["records"] == [] and doc["checks"] == {"recorded": 0}
    assert doc["tests"] == {"collected": 0, "reported": 0, "lost": [], "crashed": []}
