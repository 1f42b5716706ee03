"""Load and validate a lossconform results file (the only input of the report).

The format is ``lossconform.record``'s: document name and version, required fields, the
optional fields' defaults and the verdicts come from there. This reader checks what the
report needs (name, version, records a list of objects, required fields, known verdict),
fast enough for 100,000 records; ``lossconform.record.json_schema()`` describes the whole
format (field types included) and every document this reader accepts as written by the
results plugin validates against it.
"""
from __future__ import annotations

import gc
import json
import re

import orjson
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lossconform.record import (DEFAULTS, REQUIRED_FIELDS, RUN_STATUSES, SCHEMA,
                                SCHEMA_VERSION, VERDICTS)

__all__ = ["SCHEMA", "SUPPORTED_VERSIONS", "VERDICTS", "REQUIRED_RECORD_FIELDS",
           "RECORD_DEFAULTS", "ResultsError", "load_results", "validate", "gc_paused", "number"]

SUPPORTED_VERSIONS = (SCHEMA_VERSION,)
REQUIRED_RECORD_FIELDS = REQUIRED_FIELDS
#: Optional fields and the value used when a record lacks them.
RECORD_DEFAULTS: dict[str, Any] = DEFAULTS


class ResultsError(Exception):
    """A results file that cannot be used; ``str()`` names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def load_results(path: str | Path) -> dict[str, Any]:
    """Read ``path``, check schema name and version and every record's required fields.

    Records come back with the optional fields filled with defaults; unknown keys pass
    through untouched.
    """
    try:
        with open(path, "rb") as fh, gc_paused():
            raw = fh.read()
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                # slow path: the standard parser knows NaN/Infinity and says where JSON breaks
                data = json.loads(raw.decode("utf-8"), parse_constant=_constant)
    except FileNotFoundError:
        raise ResultsError(path, "no such file") from None
    except UnicodeDecodeError as exc:
        raise ResultsError(path, f"not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(path, f"malformed JSON: {exc.msg} at line {exc.lineno} "
                                 f"column {exc.colno}") from None
    except OSError as exc:
        raise ResultsError(path, f"cannot read: {exc.strerror or exc}") from None
    return validate(data, path)


@contextmanager
def gc_paused():
    """Pause the cyclic GC: decoding 100k small dicts otherwise triggers it constantly
    (it halves the load time) and JSON data hold no cycles to collect."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


_REQUIRED = frozenset(REQUIRED_RECORD_FIELDS)
_OPTIONAL = frozenset(RECORD_DEFAULTS)
_VERDICTS = frozenset(VERDICTS)


def validate(data: Any, path: str | Path = "<results>") -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ResultsError(path, f"not a lossconform results file (top level is a "
                                 f"{type(data).__name__}, expected an object)")
    schema = data.get("schema")
    if schema != SCHEMA:
        raise ResultsError(path, f"not a lossconform results file (schema is {schema!r}, "
                                 f"expected {SCHEMA!r})")
    version = data.get("schema_version")
    if version not in SUPPORTED_VERSIONS:
        raise ResultsError(path, f"unsupported schema_version {version!r} "
                                 f"(this reader knows {list(SUPPORTED_VERSIONS)})")
    records = data.get("records")
    if not isinstance(records, list):
        raise ResultsError(path, "'records' is missing or not a list")
    for k, record in enumerate(records):
        if record.__class__ is not dict:
            raise ResultsError(path, f"record #{k} is a {type(record).__name__}, not an object")
        keys = record.keys()
        if not _REQUIRED <= keys:
            missing = [n for n in REQUIRED_RECORD_FIELDS if n not in record]
            raise ResultsError(path, f"record #{k} lacks required field {missing[0]!r}"
                                     + (f" (and {len(missing) - 1} more)" if len(missing) > 1
                                        else ""))
        if record["verdict"].__class__ is not str or record["verdict"] not in _VERDICTS:
            raise ResultsError(path, f"record #{k} has unknown verdict {record['verdict']!r} "
                                     f"(expected one of {', '.join(VERDICTS)})")
        if not _OPTIONAL <= keys:
            for name in _OPTIONAL - keys:
                record[name] = RECORD_DEFAULTS[name]
    for name, default in (("environment", {}), ("frameworks", {}), ("divergences", [])):
        value = data.get(name)
        data[name] = value if isinstance(value, type(default)) else default
    data.setdefault("status", "complete")
    data.setdefault("created", "")
    _check_run_fields(data, path)
    return data


_RUN_ID = re.compile(r"[0-9a-f]{32}")


def _check_run_fields(data: dict[str, Any], path: str | Path) -> None:
    """The run fields (``lossconform.record``, "The results document"): ``status`` one of
    ``RUN_STATUSES``; where present, ``run_id`` 32 hex digits, ``started``/``finished``
    strings, ``tests`` and ``checks`` objects of counts and node-id lists. Absent ones stay
    absent (a document from before they existed: unknown, not zero)."""
    if data["status"] not in RUN_STATUSES:
        raise ResultsError(path, f"unknown status {data['status']!r} "
                                 f"(expected one of {', '.join(RUN_STATUSES)})")
    if "run_id" in data and not (isinstance(data["run_id"], str)
                                 and _RUN_ID.fullmatch(data["run_id"])):
        raise ResultsError(path, f"'run_id' is not 32 hex digits: {data['run_id']!r}")
    for name in ("started", "finished"):
        if name in data and not isinstance(data[name], str):
            raise ResultsError(path, f"{name!r} is not a string")
    for name, counts, lists in (("tests", ("collected", "reported"), ("lost", "crashed")),
                                ("checks", ("recorded",), ())):
        if name not in data:
            continue
        value = data[name]
        if not isinstance(value, dict):
            raise ResultsError(path, f"{name!r} is not an object")
        for key in counts:
            n = value.get(key)
            if n.__class__ is not int or n < 0:
                raise ResultsError(path, f"'{name}.{key}' is missing or not a count")
        for key in lists:
            ids = value.get(key, [] if key == "crashed" else None)
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise ResultsError(path, f"'{name}.{key}' is missing or not a list of "
                                         f"node ids")


def _constant(name: str) -> str:
    # Python's json accepts NaN/Infinity literals, which are not JSON; keep them as the
    # strings the plugin writes so that everything downstream stays standard JSON.
    return {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[name]


def number(value: Any) -> float | None:
    """A stored error value as a float: "inf"/"-inf"/"nan" strings decoded, None kept."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return math.nan
    return None
