"""pytest plugin: collect lossconform records and write the results JSON at session end.

A test attaches one record per check with::

    from lossconform.record import CheckRecord
    from lossconform.reports.pytest_plugin import record
    record(request, CheckRecord(id=..., op=..., ..., verdict="agree"))

which stores the record's JSON form in ``request.node.user_properties`` under
``lossconform.record.RECORD_KEY`` (a plain dict appended there the same way is taken too).
The record format, the document's name and version and its JSON Schema are defined once, in
``lossconform.record``.

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
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
import platform
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping

import pytest

from lossconform.record import RECORD_KEY, SCHEMA, SCHEMA_VERSION, CheckRecord

DEFAULT_RESULTS = os.path.join("reports", "out", "results.json")



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
        help=f"where to write the lossconform results JSON (default: {DEFAULT_RESULTS})",
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


class ResultsCollector:
    """Per-session state; registered once per (controller) config."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.records: list[dict[str, Any]] = []
        self._seen: set[tuple[str, int]] = set()
        self._current: pytest.Item | None = None
        self.path: Path | None = None
        self.error: str | None = None
        self.spool: Path | None = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller: give each worker the spool folder for its records."""
        if self.spool is None:
            self.spool = Path(tempfile.mkdtemp(prefix="lossconform-spool-"))
        node.workerinput["lc_spool"] = str(self.spool)

    def _merge_spool(self) -> None:
        if self.spool is None:
            return
        for part in sorted(self.spool.glob("*.jsonl")):
            with open(part, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a worker killed mid-line: that one record is lost
                    self._add(row["nodeid"], row["index"], row["record"])
        shutil.rmtree(self.spool, ignore_errors=True)
        self.spool = None

    # -- collection -------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> None:
        self._current = item  # lets an interrupted test's records be saved too

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._take(report.nodeid, getattr(report, "lossconform_records", None) or report.user_properties)

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

    def _add(self, nodeid: str, index: int, value: Any) -> None:
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
        self.records.append(record)

    # -- writing ----------------------------------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self._current is not None:  # Ctrl-C inside a test: no report carries its records
            self._take(self._current.nodeid, getattr(self._current, "user_properties", ()))
        self._merge_spool()
        status = run_status(session, exitstatus)
        path = Path(self.config.getoption("lc_results") or DEFAULT_RESULTS)
        if not path.is_absolute():
            path = Path(self.config.invocation_params.dir) / path
        try:
            document = build_document(self.config, self.records, status, int(exitstatus))
            write_atomic(path, document)
            self.path = path
        except Exception as exc:  # never turn a finished run into a crash; say so instead
            self.error = f"{type(exc).__name__}: {exc}"

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.path is not None:
            terminalreporter.write_line(
                f"lossconform: {len(self.records)} records written to {self.path}")
        elif self.error is not None:
            terminalreporter.write_line(f"lossconform: results NOT written: {self.error}", red=True)


def run_status(session: pytest.Session, exitstatus: int) -> str:
    """complete | interrupted (Ctrl-C, -x/--maxfail stop) | failed (internal or usage error)."""
    code = int(exitstatus)
    if code == int(pytest.ExitCode.INTERRUPTED):
        return "interrupted"
    if code in (int(pytest.ExitCode.INTERNAL_ERROR), int(pytest.ExitCode.USAGE_ERROR)):
        return "failed"
    if getattr(session, "shouldstop", False) or getattr(session, "shouldfail", False):
        return "interrupted"
    return "complete"


def write_atomic(path: Path, document: dict[str, Any]) -> None:
    """Write JSON to a temp file beside ``path``, fsync it, then ``os.replace`` it in."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; a results file is for sharing
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (best effort; not all platforms allow it)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


# -- document -----------------------------------------------------------------------------
def build_document(config: pytest.Config, records: list[dict[str, Any]], status: str,
                   exitstatus: int) -> dict[str, Any]:
    meta = config.hook.pytest_lossconform_metadata(config=config) or {}
    env = environment(config)
    env.update(meta.get("environment", {}))
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "status": status,
        "exitstatus": exitstatus,
        "environment": jsonable(env),
        "frameworks": jsonable(meta.get("frameworks", {})),
        "divergences": jsonable(meta.get("divergences", [])),
        "records": [jsonable(r) for r in records],
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
