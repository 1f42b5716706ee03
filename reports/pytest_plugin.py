"""pytest plugin: collect lossconform records and write the results JSON at session end.

A test attaches one record per check with::

    from lossconform.record import CheckRecord
    from lossconform.reports.pytest_plugin import record
    record(request, CheckRecord(id=..., op=..., ..., verdict="agree"))

which stores the record's JSON form in ``request.node.user_properties`` under
``lossconform.record.RECORD_KEY`` (a plain dict appended there the same way is taken too).
The record format, the document's name and version, its run fields (``status``, ``tests``,
...) and its JSON Schema are defined once, in ``lossconform.record``.

The controller (never an xdist worker) gathers records from every test report and writes
``--results PATH`` atomically (temp file in the same directory, fsync, ``os.replace``) at
``pytest_sessionfinish``, which pytest also reaches after Ctrl-C. Records are deduplicated by
(nodeid, position among that test's records): ``user_properties`` is append-only and each
phase's report carries the list so far, so taking every phase and keeping the first copy of
each position loses none and doubles none (records attached in setup or teardown included).

Under pytest-xdist, records do not travel with the reports (execnet's serialiser is pure
Python: 100 MB of records would cost the workers more than the checks): each worker appends
them, as JSON lines keyed by (nodeid, position), to its own file in a spool folder the
controller made; the controller merges the files at the end (same dedup), then removes them.

How a run ends, and what it leaves behind:

- The results are written first thing in ``pytest_sessionfinish`` (an outermost hook
  wrapper), before any slow work at session end (session fixtures' teardown, xdist shutting
  its workers down, JUnit XML), so a run stopped again while it shuts down still has them.
  Records a worker spools after that (an xdist worker finishing the test it was running
  when the run stopped) are merged once the other plug-ins are done, and the file is
  rewritten if there were any; then the spool folder is removed.
- SIGTERM and SIGHUP, on the controller (workers are xdist's), stop the run the way Ctrl-C
  does: the handler raises ``Terminated`` (a ``KeyboardInterrupt``) in the main thread, the
  records so far are written with status ``terminated``, the spool is merged and removed,
  and the exit status is 128 + the signal number (``143`` for SIGTERM, ``129`` for SIGHUP),
  what a shell reports for a process that signal ended; the document's ``exitstatus`` says
  the same. A signal whose handler is not the default when the session starts (``nohup``'s
  ignored SIGHUP, an embedding program's own handler) is left alone.
- From the moment pytest starts stopping until the results are written, a further SIGINT,
  SIGTERM or SIGHUP is held and acted on right after the write: the process then stops at
  once (Ctrl-C: KeyboardInterrupt, the rest of the session end skipped; SIGTERM/SIGHUP: the
  spool removed and the process killed by that signal). One more signal while one is
  already held acts at once (a write that hangs can still be stopped).
- A crashed xdist worker (``worker 'gw0' crashed while running 'nodeid'``): status
  ``worker-crashed``, the test it was running in ``tests.lost`` and ``tests.crashed``, the
  records of every other test kept; pytest's exit status (1: xdist reports the crash as a
  failed test) is kept.
- Results that cannot be written (no space, a read-only file system, no permission, a path
  under a regular file, a directory, ...): ONE line on stderr,
  ``lossconform: could not write results to PATH: reason``, no temp file left, and the
  session's exit status becomes ``RESULTS_NOT_WRITTEN`` (4, pytest's code for a usage
  error, which writes no results either). A path that cannot become a file (a directory, a
  path under a regular file, a block device) is refused when the session starts, before any
  test runs, as a usage error: pytest prints the same line after ``ERROR: ``, exit status 4.
- The target: a character device or a FIFO (``/dev/null``, ``/dev/full``, a pipe) is opened
  and written through, never replaced (``/dev/full`` then fails as above); a symlink is
  followed: the file it points to is replaced atomically and the link is kept.
- ``--collect-only`` (and ``--fixtures``, ``--fixtures-per-test``) writes nothing: the file
  at PATH stays as it was, and one line says so. A run that selects no test writes results
  with status ``no-tests`` and no records, and keeps pytest's exit status (5).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import errno
import json
import math
import os
import platform
import shutil
import signal
import socket
import stat
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any, Mapping

import orjson
import pytest

from lossconform.record import RECORD_KEY, SCHEMA, SCHEMA_VERSION, CheckRecord
from lossconform.reports.compact import encode_records

DEFAULT_RESULTS = os.path.join("reports", "out", "results.json")
#: The session's exit status when the results could not be written (pytest's usage-error
#: code: a refused --results PATH is one, and neither writes results).
RESULTS_NOT_WRITTEN = 4
#: Options that only list things: a session with one of them writes no results.
NO_RESULTS_OPTIONS = (("collectonly", "--collect-only"), ("showfixtures", "--fixtures"),
                      ("show_fixtures_per_test", "--fixtures-per-test"))


class MetadataSpec:
    """The hook this plugin asks for the run's metadata (implemented by the conformance glue,
    ``lossconform.pytest_plugin``): this plugin knows no adapter and no registry."""

    @pytest.hookspec(firstresult=True)
    def pytest_lossconform_metadata(self, config: pytest.Config) -> dict[str, Any] | None:
        """``{"frameworks": {...}, "divergences": [...], "environment": {...}}`` for the
        results file; environment keys are merged over the plugin's own."""


def record(request: pytest.FixtureRequest, rec: CheckRecord | Mapping[str, Any]) -> None:
    """Attach one check record (a CheckRecord, or a dict of the same fields) to the running
    test, as its JSON form: it is collected into the results file."""
    value = rec.to_json() if isinstance(rec, CheckRecord) else jsonable(dict(rec))
    request.node.user_properties.append((RECORD_KEY, value))


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(MetadataSpec)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lossconform-results")
    group.addoption(
        "--results",
        dest="lc_results",
        default=DEFAULT_RESULTS,
        metavar="PATH",
        help=f"where to write the lossconform results JSON (default: {DEFAULT_RESULTS}); "
             "a symlink is followed, a character device written through",
    )


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # an xdist worker: spool records for the controller
        spool = config.workerinput.get("lc_spool")
        if spool and not config.pluginmanager.has_plugin("lossconform-results-spool"):
            config.pluginmanager.register(
                WorkerSpool(Path(spool), str(config.workerinput.get("workerid", "gw"))),
                "lossconform-results-spool")
        return
    if not config.pluginmanager.has_plugin("lossconform-results-collector"):
        config.pluginmanager.register(ResultsCollector(config), "lossconform-results-collector")


class WorkerSpool:
    """In an xdist worker: append each test's new records to this worker's JSON-lines file."""

    def __init__(self, folder: Path, worker: str) -> None:
        self.fh = open(folder / f"{worker}.jsonl", "a", encoding="utf-8")
        self.taken: dict[str, int] = {}

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: Any):
        outcome = yield
        report = outcome.get_result()
        records = getattr(report, "lossconform_records", None)
        if not records:
            return
        start = self.taken.get(report.nodeid, 0)
        for index, (_, value) in enumerate(records[start:], start):
            self.fh.write(json.dumps({"nodeid": report.nodeid, "index": index,
                                      "record": jsonable(value)},
                                     allow_nan=False, separators=(",", ":")) + "\n")
        self.taken[report.nodeid] = len(records)
        self.fh.flush()
        report.lossconform_records = None  # spooled: nothing left to send

    def pytest_unconfigure(self) -> None:
        self.fh.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any):
    """Carry records on the report itself, not in ``user_properties``.

    JUnit XML writes every user property of every test into the file (90 MB for a full
    run); records travel instead as the report attribute ``lossconform_records``, which
    pytest-xdist serialises with the rest of the report.
    """
    outcome = yield
    report = outcome.get_result()
    props = list(report.user_properties or ())
    records = [p for p in props if isinstance(p, tuple) and len(p) == 2 and p[0] == RECORD_KEY]
    if records:
        report.lossconform_records = records
        report.user_properties = [p for p in props if p not in records]


# -- signals --------------------------------------------------------------------------------
class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP on the controller: pytest stops the run as on Ctrl-C."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"received {signal.Signals(signum).name}")


class SignalGuard:
    """The controller's SIGINT, SIGTERM and SIGHUP handling (installed for the session, in the
    main thread, over default handlers only).

    While the run goes on: SIGINT raises KeyboardInterrupt (as Python's default handler does),
    SIGTERM/SIGHUP raise ``Terminated`` and are remembered (``received``). From ``hold()``
    (pytest is stopping) to ``release()`` (the results are written) the first further signal
    is held, and raised by ``release()``; a second one is raised at once.
    """

    NAMES = ("SIGINT", "SIGTERM", "SIGHUP")

    def __init__(self) -> None:
        self.saved: dict[int, Any] = {}
        self.received: int | None = None  # the SIGTERM/SIGHUP that stopped the run
        self.stopping = False
        self.holding = False
        self.pending: int | None = None
        #: the signal last raised while the run went on, until pytest reports the interrupt:
        #: an exception raised by a signal handler is lost when the signal lands in code that
        #: swallows exceptions (a garbage-collector callback, a __del__), so the collector
        #: raises it again at the next test boundary (``reraise_lost``)
        self.unhandled: int | None = None

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for name in self.NAMES:
            num = getattr(signal, name, None)
            if num is None:
                continue
            default = signal.default_int_handler if num == signal.SIGINT else signal.SIG_DFL
            try:
                if signal.getsignal(num) is not default:
                    continue  # ignored (nohup) or someone else's: leave it alone
                self.saved[num] = signal.signal(num, self._handle)
            except (OSError, ValueError):
                continue

    def restore(self) -> None:
        for num, handler in self.saved.items():
            try:
                signal.signal(num, handler)
            except (OSError, ValueError, TypeError):
                pass
        self.saved.clear()

    def hold(self) -> None:
        self.stopping = True
        self.holding = True

    def release(self) -> None:
        """Stop holding; raise the signal that came while holding, if any. Ctrl-C is
        Python's own again from here (SIGTERM/SIGHUP stay ours: they remove the spool)."""
        self.holding = False
        if signal.SIGINT in self.saved:
            try:
                signal.signal(signal.SIGINT, self.saved.pop(signal.SIGINT))
            except (OSError, ValueError, TypeError):
                pass
        pending, self.pending = self.pending, None
        if pending is not None:
            self._raise(pending)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.holding and self.pending is None:
            self.pending = signum
            return
        self.holding = False
        self._raise(signum)

    def reraise_lost(self) -> None:
        """Raise again a signal whose exception was swallowed where it landed."""
        if self.unhandled is not None and not self.stopping:
            self._raise(self.unhandled)

    def _raise(self, signum: int) -> None:
        if not self.stopping:
            self.unhandled = signum
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        if not self.stopping and self.received is None:
            self.received = signum
        raise Terminated(signum)

    def die(self, signum: int) -> None:
        """End the process with ``signum`` (its default action), as if never handled."""
        self.restore()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        os._exit(128 + signum)  # only if the signal is blocked


class ResultsCollector:
    """Per-session state; registered once per (controller) config."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.records: list[dict[str, Any]] = []
        self._seen: set[tuple[str, int]] = set()
        self._current: pytest.Item | None = None
        self.path: Path | None = None  # where the results were written
        self.error: str | None = None  # the one line saying why they were not
        self.spool: Path | None = None
        self._spool_pos: dict[str, int] = {}
        self.run_id = uuid.uuid4().hex
        self.started = _now()
        self.collected: dict[str, None] = {}  # selected test ids, in order
        self.reported: set[str] = set()  # ids whose last (teardown) report came back
        self.crashed: list[str] = []  # ids a crashed xdist worker was running
        self.worker_errors: list[str] = []
        self.interrupted: BaseException | None = None  # what pytest_keyboard_interrupt got
        self.collect_errors = 0
        self.guard = SignalGuard()
        self.skip = next((flag for opt, flag in NO_RESULTS_OPTIONS
                          if getattr(config.option, opt, False)), None)
        self.status: str | None = None
        self.exitstatus: int | None = None

    def target(self) -> Path:
        path = Path(self.config.getoption("lc_results") or DEFAULT_RESULTS)
        if not path.is_absolute():
            path = Path(self.config.invocation_params.dir) / path
        return path

    # -- session start ----------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.started = _now()
        if self.skip is None:
            try:  # a path that cannot become a file is refused before any test runs
                resolve_target(self.target())
            except OSError as exc:
                raise pytest.UsageError(self._cannot(exc)) from None
        self.guard.install()

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller: give each worker the spool folder for its records."""
        if self.spool is None:
            self.spool = Path(tempfile.mkdtemp(prefix="lossconform-spool-"))
        node.workerinput["lc_spool"] = str(self.spool)

    # -- what ran ---------------------------------------------------------------------
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.collected.update(dict.fromkeys(item.nodeid for item in session.items))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Any) -> None:
        self.collected.update(dict.fromkeys(ids))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors += 1

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: Any, sched: Any) -> None:
        self.crashed.append(crashitem)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        if error and error != "keyboard-interrupt":  # xdist's word for a worker's Ctrl-C
            worker = getattr(getattr(node, "gateway", None), "id", "?")
            self.worker_errors.append(f"{worker}: {error}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.interrupted = excinfo.value
        self.guard.unhandled = None  # it reached pytest
        self.guard.hold()  # from here until the results are written, signals wait

    # -- records ----------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> None:
        self.guard.reraise_lost()  # a Ctrl-C swallowed during the previous test stops the run
        self._current = item  # lets an interrupted test's records be saved too

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._take(report.nodeid, getattr(report, "lossconform_records", None) or report.user_properties)
        if report.when == "teardown":  # every test's protocol ends with it
            self.reported.add(report.nodeid)
            # under xdist the controller runs no test protocol: this is its test boundary
            self.guard.reraise_lost()

    def _take(self, nodeid: str, properties: Any) -> None:
        index = 0
        for prop in properties or ():
            try:
                name, value = prop
            except (TypeError, ValueError):
                continue
            if name != RECORD_KEY:
                continue
            self._add(nodeid, index, value)
            index += 1

    def _add(self, nodeid: str, index: int, value: Any, plain: bool = False) -> None:
        """Keep one record as plain JSON (``jsonable``); ``plain``: it already is (a worker
        spooled it as JSON), so it is not normalised a second time."""
        key = (nodeid, index)
        if key in self._seen:
            return
        self._seen.add(key)
        if isinstance(value, CheckRecord):
            record = value.to_json()
        else:
            record = dict(value) if isinstance(value, dict) else {"value": value}
        if not record.get("nodeid"):
            record["nodeid"] = nodeid
        self.records.append(record if plain else jsonable(record))

    def _merge_spool(self) -> int:
        """Take the complete lines the workers have spooled since the last call (the
        files stay); how many new records."""
        if self.spool is None:
            return 0
        before = len(self.records)
        for part in sorted(self.spool.glob("*.jsonl")):
            try:
                with open(part, "rb") as fh:
                    fh.seek(self._spool_pos.get(part.name, 0))
                    data = fh.read()
            except OSError:
                continue
            end = data.rfind(b"\n") + 1  # a line still being written waits for the next call
            self._spool_pos[part.name] = self._spool_pos.get(part.name, 0) + end
            for line in data[:end].splitlines():
                try:
                    row = orjson.loads(line)
                except (orjson.JSONDecodeError, UnicodeDecodeError):
                    continue  # a worker killed mid-line: that one record is lost
                self._add(row["nodeid"], row["index"], row["record"], plain=True)
        return len(self.records) - before

    def _remove_spool(self) -> None:
        if self.spool is not None:
            shutil.rmtree(self.spool, ignore_errors=True)
            self.spool = None

    # -- session end ------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int):
        """Write first (before the other plug-ins' session end), then, after them, merge
        what the workers spooled meanwhile; the spool is removed however this ends."""
        self.guard.hold()
        try:
            if self.skip is None:
                self._finish(session, int(exitstatus))
            self.guard.release()  # a signal that came during the write acts now
            result = yield
            if self.skip is None and self.error is None and self._merge_spool():
                self._write(session)  # records spooled by workers finishing their test
            self._say()
            return result
        except Terminated as exc:  # SIGTERM/SIGHUP during the session's end: die by it
            self._remove_spool()
            self.guard.die(exc.signum)
            raise
        finally:
            self._remove_spool()
            self.guard.restore()

    def _finish(self, session: pytest.Session, exitstatus: int) -> None:
        if self._current is not None:  # Ctrl-C inside a test: no report carries its records
            self._take(self._current.nodeid, getattr(self._current, "user_properties", ()))
        self._merge_spool()
        if self.guard.received is not None:
            exitstatus = 128 + self.guard.received
        self.exitstatus = exitstatus
        self.status = self.run_status(session, exitstatus)
        session.exitstatus = exitstatus
        self._write(session)

    def _write(self, session: pytest.Session) -> None:
        path = self.target()
        try:
            document = build_document(self.config, self.records, self.status or "complete",
                                      int(self.exitstatus or 0), run=self.run_fields())
            write_atomic(path, document)
            self.path, self.error = path, None
        except Exception as exc:  # never a traceback at session end: one line, exit status 4
            self.path = None
            self.error = self._cannot(exc, path)
            session.exitstatus = RESULTS_NOT_WRITTEN
            try:
                sys.stderr.write(self.error + "\n")
                sys.stderr.flush()
            except Exception:
                pass

    def _cannot(self, exc: BaseException, path: Path | None = None) -> str:
        if isinstance(exc, OSError):
            reason = exc.strerror or str(exc)
        else:
            reason = f"{type(exc).__name__}: {exc}"
        return f"lossconform: could not write results to {path or self.target()}: {reason}"

    def _say(self) -> None:
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is None:
            return
        if self.skip is not None:
            tr.write_line(f"lossconform: {self.skip}: no results written "
                          f"({self.target()} left as it was)")
        elif self.path is not None:
            tr.write_line(f"lossconform: {len(self.records)} records written to {self.path} "
                          f"(run {self.status}, exit status {self.exitstatus})")
        # a failure has said its one line on stderr already

    def pytest_unconfigure(self) -> None:
        self.guard.restore()
        self._remove_spool()

    # -- what happened ------------------------------------------------------------------
    def lost(self) -> list[str]:
        return [n for n in self.collected if n not in self.reported]

    def run_fields(self) -> dict[str, Any]:
        lost = self.lost()
        return {
            "run_id": self.run_id,
            "started": self.started,
            "finished": _now(),
            "tests": {"collected": len(self.collected),
                      "reported": len(self.collected) - len(lost),
                      "lost": lost,
                      "crashed": list(dict.fromkeys(self.crashed))},
            "checks": {"recorded": len(self.records)},
        }

    def run_status(self, session: pytest.Session, exitstatus: int) -> str:
        """The document's ``status`` (``lossconform.record.RUN_STATUSES``: meanings and
        precedence there)."""
        stop = self.interrupted
        collection_stop = (stop is not None and self.collect_errors > 0
                           and "during collection" in str(stop))
        if self.guard.received is not None:
            return "terminated"
        # a stop pytest or xdist asked for (-x/--maxfail under xdist, session.shouldstop:
        # their "Interrupted") that cut nothing short is no interruption
        asked = type(stop).__name__ == "Interrupted"
        if stop is not None and not collection_stop and (self.lost() or not asked):
            return "interrupted"
        if self.crashed or self.worker_errors:
            return "worker-crashed"
        if collection_stop or exitstatus in (int(pytest.ExitCode.INTERNAL_ERROR),
                                             int(pytest.ExitCode.USAGE_ERROR)):
            return "error"
        if not self.collected or exitstatus == int(pytest.ExitCode.NO_TESTS_COLLECTED):
            return "no-tests"
        if (getattr(session, "shouldstop", False) or getattr(session, "shouldfail", False)) \
                and self.lost():
            return "interrupted"  # -x / --maxfail
        if exitstatus != int(pytest.ExitCode.OK):
            return "failed"
        return "complete"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


# -- writing --------------------------------------------------------------------------------
def resolve_target(path: Path) -> tuple[str, Path]:
    """Where ``path`` leads: ``("device", path)`` for an existing character device or FIFO
    (written through); ``("file", real)`` otherwise, ``real`` being ``path`` with every
    symlink resolved (the file a link points to is replaced, the link kept). Raises
    OSError for a directory, a path under something that is not a directory (ENOTDIR), a
    block device or a socket, and whatever ``os.stat`` says."""
    try:
        st = os.stat(path)  # follows symlinks
    except FileNotFoundError:
        return "file", Path(os.path.realpath(path))
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if stat.S_ISREG(mode):
        return "file", Path(os.path.realpath(path))
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return "device", path
    raise OSError(errno.EINVAL, "not a regular file, character device or FIFO", str(path))


def write_atomic(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` as JSON to ``path``.

    A regular file (or a new one): a temp file beside it, fsync, then ``os.replace`` (a
    symlink is followed: the file it points to is replaced, the link kept); on any failure
    the temp file is removed and the old file stays. A character device or FIFO: opened and
    written through, never replaced. Raises OSError (with the reason) when it cannot."""
    text = json.dumps(document, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    kind, real = resolve_target(Path(path))
    if kind == "device":
        _write_through(real, text)
        return
    real.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; a results file is for sharing
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (best effort; not all platforms allow it)
        dfd = os.open(real.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _write_through(path: Path, text: str) -> None:
    # O_NONBLOCK for the open only: a FIFO without a reader fails (ENXIO) instead of hanging
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    os.set_blocking(fd, True)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.write("\n")
        fh.flush()


# -- document -----------------------------------------------------------------------------
def build_document(config: pytest.Config, records: list[dict[str, Any]], status: str,
                   exitstatus: int, run: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The results document (``lossconform.record``: "The results document"); ``run``: the
    run fields (``run_id``, ``started``, ``finished``, ``tests``, ``checks``)."""
    meta = config.hook.pytest_lossconform_metadata(config=config) or {}
    env = environment(config)
    env.update(meta.get("environment", {}))
    run = dict(run or {})
    finished = run.get("finished") or _now()
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "created": _dt.datetime.fromisoformat(finished).isoformat(timespec="seconds"),
        "status": status,
        "exitstatus": exitstatus,
        **run,
        "finished": finished,
        "checks": {"recorded": len(records)},
        "environment": jsonable(env),
        "frameworks": jsonable(meta.get("frameworks", {})),
        "divergences": jsonable(meta.get("divergences", [])),
        # column by column, repeated values once (reports/compact.py; lossconform.record,
        # "The records, compact"): the reader gives back exactly these records
        # the collector keeps its records as plain JSON already (``ResultsCollector._add``)
        "records": encode_records(records),
    }


def jsonable(value: Any) -> Any:
    """Plain JSON: non-finite floats become "inf"/"-inf"/"nan"; NumPy scalars and arrays
    become Python numbers and lists; anything else unknown becomes its ``str``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _nonfinite(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not callable(getattr(value, f.name))}
    if hasattr(value, "tolist"):  # NumPy scalar or array
        return jsonable(value.tolist())
    return str(value)


def _nonfinite(x: float) -> str:
    if math.isnan(x):
        return "nan"
    return "inf" if x > 0 else "-inf"


def _option(config: pytest.Config, name: str) -> Any:
    try:
        return config.getoption(name, None)
    except (ValueError, AttributeError):
        return None


def environment(config: pytest.Config) -> dict[str, Any]:
    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "os": platform.system(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "hostname": socket.gethostname(),
        "pytest": pytest.__version__,
        "pytest_args": list(config.invocation_params.args),
        "xdist_workers": _option(config, "numprocesses"),
    }
    return env


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
