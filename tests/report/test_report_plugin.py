"""The results plugin: atomic writes, exact record counts with and without xdist, Ctrl-C,
the run fields (status, tests, checks), write failures and odd targets.

(The drills in ``tests/drills/test_run_end.py`` stop real runs with signals, crash workers
and write to devices.)

Every results file the inner runs write is validated against the schema
(``lossconform.record.json_schema()``) before the report's reader loads it.
"""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from lossconform.record import RECORD_KEY
from lossconform.reports import pytest_plugin
from lossconform.reports.results import ResultsError, load_results
from tests.report.schema_validation import assert_valid_results

pytest_plugins = ["pytester"]


INNER_SUITE = '''
import pytest

from lossconform.record import CheckRecord
from lossconform.reports.pytest_plugin import record

def rec(request, i, verdict="agree", **extra):
    r = dict(id=f"case{i}", op="softmax", entry_point="ep.softmax",
             framework="fake", framework_version="0", dtype="float32",
             device="cpu", kind="forward", verdict=verdict,
             max_abs_err=0.0, max_rel_err=0.0, max_ulp=float("inf"),
             divergence=None, repro="print(1)", case={"shape": [2, 3]},
             tolerance={"atol": 1e-6, "rtol": 1e-6}, worst=None, message=None)
    r.update(extra)
    record(request, CheckRecord(**r))

@pytest.fixture
def in_setup(request):
    rec(request, "setup")
    yield
    rec(request, "teardown")

@pytest.mark.parametrize("i", range(20))
def test_three_records(request, i):
    for k in range(3):
        rec(request, f"{i}.{k}")

def test_failing(request):
    rec(request, "f", verdict="fail", message="<script>x</script>")
    assert False, "a finding"

def test_setup_and_teardown(request, in_setup):
    rec(request, "body")

def test_other_property(request):
    request.node.user_properties.append(("unrelated", 1))
    rec(request, "after_other")
'''
# 20*3 + 1 + 3 + 1 records
EXPECTED_RECORDS = 65


# The inner run's conftest implements the metadata hook the plugin asks for (as the
# conformance glue does): the plugin itself knows no adapter and no registry, and must
# serialise whatever metadata it is given (non-finite floats included).
INNER_CONFTEST = '''
def pytest_lossconform_metadata(config):
    return {
        "frameworks": {
            "fake": {"version": "9.9", "available": True, "reason": None, "devices": ["cpu"],
                     "conventions": {"class_axis": -1, "eps": float("inf")},
                     "entry_points": [{"name": "fake.softmax", "op": "softmax",
                                       "dtypes": ("float32",), "notes": ""}]},
            "missing": {"version": None, "available": False, "reason": "missing is not installed"},
        },
        "divergences": [{"id": "d1", "title": "t", "entry_points": ("fake.softmax",),
                         "versions": ">=1", "trigger": "x < 0", "explanation": "why",
                         "link": "https://x"}],
        "environment": {"seed": 7},
    }
'''


def _prepare(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    (pytester.path / "conftest.py").write_text(INNER_CONFTEST)


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    _prepare(pytester, monkeypatch)
    pytester.makepyfile(test_inner=INNER_SUITE)
    return pytester


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    out = pytester.path / "out" / "results.json"
    result = pytester.runpytest_subprocess("-p", "lossconform.reports.pytest_plugin", "-p", "no:cacheprovider",
                                           "--results", str(out), *args)
    assert_valid_results(out)
    return result, load_results(out)


def _ids(doc: dict) -> list[str]:
    return sorted(r["id"] for r in doc["records"])


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist-n2"])
def test_run_with_failures_keeps_every_record_once(inner: pytest.Pytester, xdist: bool) -> None:
    args = ("-n", "2") if xdist else ()
    result, doc = _run(inner, *args)
    result.assert_outcomes(passed=22, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # every test ran and reported, one failed: "failed" (before the run fields: "complete")
    assert doc["status"] == "failed" and doc["exitstatus"] == 1
    assert doc["tests"] == {"collected": 23, "reported": 23, "lost": [], "crashed": []}
    assert doc["checks"] == {"recorded": EXPECTED_RECORDS}
    assert len(doc["run_id"]) == 32 and doc["started"] <= doc["finished"]
    assert doc["created"] == doc["finished"][:19] + "+00:00"
    assert len(doc["records"]) == EXPECTED_RECORDS
    assert len(set(_ids(doc))) == EXPECTED_RECORDS  # none doubled
    assert {"casesetup", "casebody", "caseteardown", "caseafter_other"} <= set(_ids(doc))
    failing = [r for r in doc["records"] if r["verdict"] == "fail"]
    assert len(failing) == 1 and failing[0]["message"] == "<script>x</script>"
    assert failing[0]["nodeid"] == "test_inner.py::test_failing"
    assert all(r["max_ulp"] == "inf" for r in doc["records"])  # non-finite encoded
    assert doc["environment"]["python"] and doc["environment"]["cpu"]
    assert doc["environment"]["seed"] == 7  # the hook's environment merged over the plugin's
    assert doc["frameworks"]["fake"] == {
        "version": "9.9", "available": True, "reason": None, "devices": ["cpu"],
        "conventions": {"class_axis": -1, "eps": "inf"},
        "entry_points": [{"name": "fake.softmax", "op": "softmax", "dtypes": ["float32"],
                          "notes": ""}]}
    assert doc["frameworks"]["missing"]["available"] is False
    assert doc["frameworks"]["missing"]["reason"] == "missing is not installed"
    assert doc["frameworks"]["missing"]["version"] is None
    assert doc["divergences"] == [{"id": "d1", "title": "t", "entry_points": ["fake.softmax"],
                                   "versions": ">=1", "trigger": "x < 0", "explanation": "why",
                                   "link": "https://x"}]
    result.stdout.fnmatch_lines([f"lossconform: {EXPECTED_RECORDS} records written to * "
                                 f"(run failed, exit status 1)"])


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist-n2"])
def test_keyboard_interrupt_saves_records_so_far(pytester: pytest.Pytester,
                                                monkeypatch: pytest.MonkeyPatch,
                                                xdist: bool) -> None:
    _prepare(pytester, monkeypatch)
    # records as plain dicts under the key, with only the required fields: still taken
    pytester.makepyfile(test_inner='''
import pytest

def rec(request, name):
    request.node.user_properties.append((%r, {
        "id": name, "op": "sigmoid", "entry_point": "e", "framework": "f",
        "dtype": "float64", "kind": "forward", "verdict": "agree"}))

def test_a(request):
    rec(request, "a")

def test_b(request):
    rec(request, "b")
    raise KeyboardInterrupt

def test_c(request):
    rec(request, "c")
''' % RECORD_KEY)
    args = ("-n", "1") if xdist else ("-p", "no:xdist")
    result, doc = _run(pytester, *args)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert doc["status"] == "interrupted" and doc["exitstatus"] == 2
    ids = _ids(doc)
    assert "a" in ids and "c" not in ids
    assert doc["tests"]["collected"] == 3
    assert "test_inner.py::test_a" not in doc["tests"]["lost"]
    assert {"test_inner.py::test_b", "test_inner.py::test_c"} <= set(doc["tests"]["lost"])
    if not xdist:
        assert ids == ["a", "b"]  # the interrupted test's own record too
        assert doc["tests"]["reported"] == 1


def test_record_less_run_writes_empty_records(pytester: pytest.Pytester,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _prepare(pytester, monkeypatch)
    pytester.makepyfile(test_inner="def test_nothing():\n    pass\n")
    result, doc = _run(pytester)
    result.assert_outcomes(passed=1)
    assert doc["records"] == [] and doc["status"] == "complete" and doc["exitstatus"] == 0
    assert doc["tests"] == {"collected": 1, "reported": 1, "lost": [], "crashed": []}
    assert doc["checks"] == {"recorded": 0}


@pytest.mark.parametrize("case", ["maxfail", "collection-error"])
def test_a_run_stopped_early_is_not_complete(pytester: pytest.Pytester,
                                           monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    """-x with tests left: "interrupted" (they are lost); errors during collection, which
    stop the run before any test: "error"."""
    _prepare(pytester, monkeypatch)
    pytester.makepyfile(test_inner="def test_a():\n    assert False\n\n"
                                   "def test_b():\n    pass\n")
    if case == "maxfail":
        result, doc = _run(pytester, "-x")
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        assert doc["status"] == "interrupted" and doc["exitstatus"] == 1
        assert doc["tests"]["lost"] == ["test_inner.py::test_b"]
    else:
        pytester.makepyfile(test_broken="import no_such_module_here\n")
        result, doc = _run(pytester)
        assert result.ret == pytest.ExitCode.INTERRUPTED
        assert doc["status"] == "error" and doc["exitstatus"] == 2
        assert doc["tests"]["reported"] == 0


# An inner conftest that makes the final rename of the results file fail with an errno: what
# a read-only file system or a permission problem does (root ignores file modes, so the
# failure is injected rather than arranged with chmod).
FAILING_REPLACE = '''
import errno, os
_real = os.replace

def pytest_sessionstart(session):
    def replace(src, dst):
        if str(dst).endswith("results.json"):
            raise OSError(errno.{name}, os.strerror(errno.{name}), str(dst))
        return _real(src, dst)
    os.replace = replace
'''


@pytest.mark.parametrize("name", ["EROFS", "EACCES", "ENOSPC"])
def test_a_failed_write_is_one_line_and_exit_status_4(pytester: pytest.Pytester,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      name: str) -> None:
    (pytester.path / "conftest.py").write_text(INNER_CONFTEST + FAILING_REPLACE.format(name=name))
    pytester.makepyfile(test_inner="def test_ok():\n    pass\n")
    out = pytester.path / "out" / "results.json"
    out.parent.mkdir()
    out.write_text("previous")
    result = pytester.runpytest_subprocess("-p", "lossconform.reports.pytest_plugin",
                                           "-p", "no:cacheprovider", "--results", str(out))
    assert result.ret == pytest_plugin.RESULTS_NOT_WRITTEN == 4
    said = [ln for ln in result.outlines + result.errlines if "lossconform: " in ln]
    assert said == [f"lossconform: could not write results to {out}: "
                    f"{os.strerror(getattr(errno, name))}"], said
    assert out.read_text() == "previous"
    assert [p.name for p in out.parent.iterdir()] == ["results.json"]  # no temp left


def test_write_atomic_uses_temp_file_and_replace(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "sub" / "results.json"
    seen: dict[str, object] = {}
    real_replace = os.replace
    real_fsync = os.fsync

    def spy_replace(src: str, dst: object) -> None:
        # At the moment of the swap the temp file is complete, beside the target, and the
        # target itself is not visible yet: readers see the old file or the new, never half.
        seen["src"] = Path(src)
        seen["complete"] = json.loads(Path(src).read_text())["schema"]
        seen["target_exists"] = target.exists()
        real_replace(src, dst)

    def spy_fsync(fd: int) -> None:
        seen["fsynced"] = True
        real_fsync(fd)

    monkeypatch.setattr(os, "replace", spy_replace)
    monkeypatch.setattr(os, "fsync", spy_fsync)
    pytest_plugin.write_atomic(target, {"schema": "lossconform-results", "x": [1, 2]})
    assert seen["src"].parent == target.parent and seen["src"] != target
    assert seen["complete"] == "lossconform-results"
    assert seen["target_exists"] is False and seen["fsynced"] is True
    assert json.loads(target.read_text())["x"] == [1, 2]
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]  # no temp left


def test_write_atomic_follows_a_symlink_and_refuses_what_cannot_be_a_file(
        tmp_path: Path) -> None:
    real = tmp_path / "store" / "results.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(real)
    pytest_plugin.write_atomic(link, {"x": 1})
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert json.loads(real.read_text()) == {"x": 1}
    dangling = tmp_path / "next.json"
    dangling.symlink_to(tmp_path / "new" / "r.json")  # a link to a file still to be made
    pytest_plugin.write_atomic(dangling, {"x": 2})
    assert dangling.is_symlink() and json.loads(dangling.read_text()) == {"x": 2}
    a_file = tmp_path / "file.txt"
    a_file.write_text("")
    for path, err in ((tmp_path, errno.EISDIR), (a_file / "results.json", errno.ENOTDIR),
                      (a_file / "sub" / "results.json", errno.ENOTDIR)):
        with pytest.raises(OSError) as info:
            pytest_plugin.write_atomic(path, {"x": 3})
        assert info.value.errno == err, path
    assert pytest_plugin.resolve_target(Path(os.devnull)) == ("device", Path(os.devnull))
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        ["file.txt", "latest.json", "new", "next.json", "store"]


def test_write_atomic_failure_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    target.write_text("old")
    with pytest.raises(ValueError):  # NaN is rejected before anything is written
        pytest_plugin.write_atomic(target, {"bad": float("nan")})
    with pytest.raises(TypeError):
        pytest_plugin.write_atomic(target, {"bad": object()})
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_jsonable_encodes_nonfinite_and_numpy() -> None:
    np = pytest.importorskip("numpy")
    value = {"a": float("-inf"), "b": [float("nan"), np.float32(1.5)], "c": np.arange(2),
             "d": (1, None)}
    assert pytest_plugin.jsonable(value) == {"a": "-inf", "b": ["nan", 1.5], "c": [0, 1],
                                             "d": [1, None]}


@pytest.mark.parametrize("text, problem", [
    ("{not json", "malformed JSON"),
    ('{"schema": "other", "schema_version": 1, "records": []}', "not a lossconform results"),
    ('{"schema": "lossconform-results", "schema_version": 99, "records": []}',
     "unsupported schema_version"),
    ('{"schema": "lossconform-results", "schema_version": 1, "records": [{"id": "x"}]}',
     "record #0 lacks required field 'op'"),
])
def test_load_results_names_file_and_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ResultsError) as info:
        load_results(path)
    assert str(path) in str(info.value) and problem in str(info.value)


def test_a_signal_swallowed_where_it_landed_is_raised_again_at_the_next_test():
    """A Ctrl-C whose KeyboardInterrupt is raised inside code that swallows exceptions (a
    garbage-collector callback a framework installs) would be lost; the guard raises it again at
    the next test boundary, and forgets it once pytest has seen the interrupt."""
    import signal

    from lossconform.reports.pytest_plugin import SignalGuard

    guard = SignalGuard()
    guard.reraise_lost()  # nothing pending: no-op
    try:  # the handler raised inside a callback whose exception is ignored
        guard._handle(signal.SIGINT, None)
    except KeyboardInterrupt:
        pass
    with pytest.raises(KeyboardInterrupt):
        guard.reraise_lost()
    guard.unhandled = None  # what pytest_keyboard_interrupt does
    guard.reraise_lost()
    guard.hold()  # stopping: a signal then is held, never raised again later
    guard._handle(signal.SIGINT, None)
    assert guard.unhandled is None and guard.pending == signal.SIGINT
