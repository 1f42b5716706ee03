"""Drills: the report builder never overstates what ran, and never answers bad input with a
traceback.

Each drill runs the real command, ``python -m lossconform.reports build ...``, in a
subprocess, on results files written into the drill's temp folder (hand-made documents that
validate against ``lossconform.record.json_schema()``, or the small fixture broken on
purpose), with ``-o`` pointing where things go wrong in practice: a directory, a folder it
may not write, a full disk (``/dev/full``; a file-size limit for a regular file), a path
under a regular file, ``/dev/null``, a symlink. It then reads what is left: the exit status,
stderr (one line, no traceback), the page's headline, the device (still a device), the link
(still a link), the folder (no ``.tmp`` left).

Device targets: a private character device with the numbers of ``/dev/null`` (1, 3) or
``/dev/full`` (1, 7), made with ``mknod`` in the temp folder where that is allowed; where it
is not, the real device only when this process cannot replace it (not root), else the drill
is skipped: a regression must damage a temp file, never this machine's ``/dev/null``.
"""
from __future__ import annotations

import json
import os
import re
import resource
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.report.schema_validation import assert_valid_results

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX devices and limits")

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "report" / "fixtures" / "small_results.json"
TIMEOUT = 120
#: the nodes of the fixture's one failing check, and of a matrix test as a run names them
CRASHED = "lossconform/suite/test_matrix.py::test_forward[alpha-sigmoid-tiny-3x3-float32]"


# -- helpers ------------------------------------------------------------------------------
def _build(*args: str | Path, cwd: Path, limit_file_size: int | None = None
           ) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        if limit_file_size is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))

    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    return subprocess.run(
        [sys.executable, "-m", "lossconform.reports", "build", *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT,
        preexec_fn=limit if limit_file_size is not None else None)


def _one_line(proc: subprocess.CompletedProcess[str], status: int, *needles: str) -> str:
    """The command exited ``status`` and said one line on stderr, holding every needle."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert proc.returncode == status, (proc.returncode, proc.stderr)
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _no_tmp(*folders: Path) -> None:
    for folder in folders:
        left = [n for n in os.listdir(folder) if n.endswith(".tmp")]
        assert not left, f"temp files left in {folder}: {left}"


def _fixture() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def _run_doc(status: str, exitstatus: int, *, records: list[dict[str, Any]] | None = None,
             collected: int, reported: int, lost: list[str] = (),
             crashed: list[str] = ()) -> dict[str, Any]:
    """The fixture as a results document with the run fields, valid against the schema."""
    doc = _fixture()
    if records is not None:
        doc["records"] = records
    doc.update(status=status, exitstatus=exitstatus, run_id=uuid.uuid4().hex,
               started="2026-11-29T07:00:00.000+00:00",
               finished="2026-11-29T07:10:00.000+00:00",
               tests={"collected": collected, "reported": reported, "lost": list(lost),
                      "crashed": list(crashed)},
               checks={"recorded": len(doc["records"])})
    return assert_valid_results(doc)


def _write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


def _headline(page: Path) -> tuple[str, str]:
    """(class, text) of the page's one-line verdict."""
    m = re.search(r'<p class="verdict-line (\w+)" id="verdict-line">([^<]*)</p>',
                  page.read_text())
    assert m, "no verdict line"
    return m.group(1), m.group(2)


def _char_device(folder: Path, name: str, minor: int) -> Path:
    """A private character device (major 1: the kernel's memory devices; 3 null, 7 full);
    the real one only where this process could not replace it."""
    path = folder / name
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
        with open(path, "wb"):  # a device cgroup may allow mknod but not opening
            pass
        return path
    except OSError:
        if path.exists():
            path.unlink()
    if os.geteuid() == 0:
        pytest.skip("mknod is not allowed here, and as root a regression could replace "
                    f"the real /dev/{name}")
    return Path(f"/dev/{name}")


def _is_device(path: Path, minor: int) -> bool:
    st = os.stat(path)
    return stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and \
        os.minor(st.st_rdev) == minor


# -- the page's headline ------------------------------------------------------------------
def test_interrupted_run_is_never_green(tmp_path: Path) -> None:
    """Ctrl-C after 31 of 40 tests: the headline leads with it, counts what ran, and says
    "partial"; no green "all agree" although no check failed."""
    records = [r for r in _fixture()["records"] if r["verdict"] != "fail"]
    lost = [f"lossconform/suite/test_matrix.py::test_forward[alpha-case{i}]" for i in range(9)]
    doc = _run_doc("interrupted", 2, records=records, collected=40, reported=31, lost=lost)
    out = tmp_path / "r.html"
    proc = _build(_write(tmp_path / "results.json", doc), "-o", out, cwd=tmp_path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    cls, text = _headline(out)
    assert cls != "good" and "all agree" not in out.read_text(), text
    assert text.startswith("Interrupted (exit status 2): 31 of 40 tests ran, 9 tests lost ("
                           + lost[0]), text
    assert text.endswith("and 6 more); 41 checks recorded, none failed — results are partial")
    assert "Interrupted (exit status 2)" in proc.stdout


def test_worker_crash_names_the_lost_test(tmp_path: Path) -> None:
    records = [r for r in _fixture()["records"] if r["verdict"] != "fail"]
    doc = _run_doc("worker-crashed", 1, records=records, collected=40, reported=39,
                   lost=[CRASHED], crashed=[CRASHED])
    out = tmp_path / "r.html"
    proc = _build(_write(tmp_path / "results.json", doc), "-o", out, cwd=tmp_path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    cls, text = _headline(out)
    assert cls == "bad", text
    assert text == (f"Worker crashed (exit status 1: tests failed): 39 of 40 tests ran, "
                    f"1 test lost ({CRASHED}); 41 checks recorded, none failed — results "
                    f"are partial")


def test_no_tests_ran(tmp_path: Path) -> None:
    doc = _run_doc("no-tests", 5, records=[], collected=0, reported=0)
    out = tmp_path / "r.html"
    proc = _build(_write(tmp_path / "results.json", doc), "-o", out, cwd=tmp_path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert _headline(out) == ("warn", "No tests ran (exit status 5)")
    assert "all agree" not in out.read_text()


def test_unsupported_combinations_are_not_checks(tmp_path: Path) -> None:
    """A complete, passing run: green, but its 'checks' leave the unsupported record out
    and the page counts it apart."""
    records = [r for r in _fixture()["records"] if r["verdict"] != "fail"]
    doc = _run_doc("complete", 0, records=records, collected=40, reported=40)
    out = tmp_path / "r.html"
    proc = _build(_write(tmp_path / "results.json", doc), "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _headline(out) == ("good", "41 checks: all agree or explained")
    assert "+ 1 combination the entry points cannot express" in out.read_text()


def test_merge_with_a_partial_run_is_not_green(tmp_path: Path) -> None:
    records = [r for r in _fixture()["records"] if r["verdict"] != "fail"]
    done = _run_doc("complete", 0, records=records, collected=40, reported=40)
    cut = _run_doc("terminated", 143, records=records[:20], collected=40, reported=18,
                   lost=["t.py::a", "t.py::b"])
    out = tmp_path / "r.html"
    proc = _build(_write(tmp_path / "a.json", done), _write(tmp_path / "b.json", cut),
                  "-o", out, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    cls, text = _headline(out)
    assert cls == "warn", text
    assert text == ("61 checks recorded, none failed — R2 terminated by SIGTERM (exit status "
                    "143): results are partial")
    # each run's own line says what it did: R1 all agree, R2 cut short
    assert "<b>R2</b>" in out.read_text() and "18 of 40 tests ran" in out.read_text()


# -- bad input files ----------------------------------------------------------------------
def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"x": value}
    return value


@pytest.mark.parametrize("field, value, reason", [
    ("entry_point", None, "record #5: field 'entry_point' is null, expected a string"),
    ("id", ["softmax", "x"], "record #5: field 'id' is a list, expected a string"),
    ("case", _deep(300), "record #5: field 'case' is nested deeper than 32 levels"),
    ("max_ulp", "lots", "record #5: field 'max_ulp' is the string 'lots', expected a number"),
    ("tolerance", [1e-5, 1e-8],
     "record #5: field 'tolerance' is a list, expected an object or null"),
])
def test_a_bad_record_leaves_its_file_out_of_a_merge(tmp_path: Path, field: str, value: Any,
                                                     reason: str) -> None:
    doc = _fixture()
    doc["records"][5][field] = value
    bad = _write(tmp_path / "bad.json", doc)
    out = tmp_path / "r.html"
    proc = _build(FIXTURE, bad, "-o", out, cwd=tmp_path)
    _one_line(proc, 0, f"error: {bad}: {reason}")
    assert "1 run(s)" in proc.stdout and "1 file(s) left out" in proc.stdout
    page = out.read_text()
    assert "Files left out" in page and "1 failure among 42 checks" in page


def test_json_nested_past_any_parser_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "deep.json"
    bad.write_text('{"schema": "lossconform-results", "schema_version": 1, "records": [],'
                   ' "environment": ' + "[" * 5000 + "]" * 5000 + "}")
    proc = _build(bad, "-o", tmp_path / "r.html", cwd=tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0].startswith(f"error: {bad}: malformed JSON: nested")


@pytest.mark.parametrize("how", ["same path", "another path", "a copy", "same run_id"])
def test_the_same_run_twice_is_counted_once(tmp_path: Path, how: str) -> None:
    doc = _run_doc("complete", 1, collected=40, reported=40)
    first = _write(tmp_path / "a.json", doc)
    if how == "same path":
        second = first
    elif how == "another path":
        (tmp_path / "sub").mkdir()
        second = Path(os.path.relpath(first, tmp_path / "sub"))  # ../a.json, from sub/
    elif how == "a copy":
        second = tmp_path / "copy.json"
        second.write_bytes(first.read_bytes())
    else:  # the same run written again (a rewrite): same run_id, other bytes
        second = tmp_path / "rewrite.json"
        second.write_text(json.dumps(doc, indent=1))
    out = tmp_path / "r.html"
    cwd = tmp_path / "sub" if how == "another path" else tmp_path
    proc = _build(first, second, "-o", out, cwd=cwd)
    _one_line(proc, 0, f"{second}: skipped: same run as {first}")
    assert "1 run(s)" in proc.stdout and "1 skipped" in proc.stdout
    page = out.read_text()
    assert "1 failure among 42 checks" in page  # not 2 among 84


# -- where the page goes ------------------------------------------------------------------
def test_output_is_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    proc = _build(FIXTURE, "-o", folder, cwd=tmp_path)
    _one_line(proc, 1, f"error: cannot write {folder}: is a directory")
    _no_tmp(tmp_path, folder)


def test_output_under_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    out = tmp_path / "notes.txt" / "r.html"
    proc = _build(FIXTURE, "-o", out, cwd=tmp_path)
    _one_line(proc, 1, f"error: cannot write {out}: {tmp_path / 'notes.txt'} is not a directory")
    _no_tmp(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "a file, not a folder"


def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process may not create files in: a read-only one of ours, or (as root,
    whom permissions do not stop) sysfs."""
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    folder = Path("/sys")
    try:
        fd = os.open(folder / f"lossconform-probe-{os.getpid()}", os.O_CREAT | os.O_WRONLY)
    except OSError:
        return folder
    os.close(fd)
    os.unlink(folder / f"lossconform-probe-{os.getpid()}")
    pytest.skip("no folder here refuses a new file to root")


def test_output_not_writable(tmp_path: Path) -> None:
    folder = _unwritable_folder(tmp_path)
    out = folder / "lossconform-report.html"
    try:
        proc = _build(FIXTURE, "-o", out, cwd=tmp_path)
        _one_line(proc, 1, f"error: cannot write {out}: permission denied")
        assert not out.exists()
        _no_tmp(folder)
    finally:
        if folder.is_relative_to(tmp_path):
            folder.chmod(0o755)


def test_output_on_a_full_device(tmp_path: Path) -> None:
    full = _char_device(tmp_path, "full", 7)
    proc = _build(FIXTURE, "-o", full, cwd=tmp_path)
    _one_line(proc, 1, f"error: cannot write {full}: no space left on device")
    assert _is_device(full, 7), "the device was replaced"
    _no_tmp(full.parent)


def test_output_file_on_a_full_disk_keeps_the_old_page(tmp_path: Path) -> None:
    """The disk fills while the page is written (a file-size limit stands in for it): one
    line, the old page intact, no half-written temp file."""
    out = tmp_path / "r.html"
    out.write_text("the previous report")
    proc = _build(FIXTURE, "-o", out, cwd=tmp_path, limit_file_size=16 * 1024)
    _one_line(proc, 1, f"error: cannot write {out}: file too large")
    assert out.read_text() == "the previous report"
    _no_tmp(tmp_path)


def test_output_to_dev_null_is_written_through(tmp_path: Path) -> None:
    null = _char_device(tmp_path, "null", 3)
    proc = _build(FIXTURE, "-o", null, cwd=tmp_path)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    assert _is_device(null, 3), "the device was replaced by a regular file"
    _no_tmp(null.parent)


def test_output_symlink_to_dev_null_stays_a_link(tmp_path: Path) -> None:
    link = tmp_path / "report.html"
    link.symlink_to("/dev/null")
    proc = _build(FIXTURE, "-o", link, cwd=tmp_path)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    assert link.is_symlink() and os.readlink(link) == "/dev/null"
    assert _is_device(Path("/dev/null"), 3)
    _no_tmp(tmp_path)


def test_output_symlink_is_followed_and_kept(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    target = tmp_path / "pages" / "latest.html"
    target.write_text("old page")
    link = tmp_path / "report.html"
    link.symlink_to(os.path.join("pages", "latest.html"))
    proc = _build(FIXTURE, "-o", link, cwd=tmp_path)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    assert link.is_symlink() and os.readlink(link) == os.path.join("pages", "latest.html")
    assert target.read_text().startswith("<!DOCTYPE html>")
    _no_tmp(tmp_path, target.parent)
