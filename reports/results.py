"""Load and validate a lossconform results file (the only input of the report).

Every version of the format is read (``SUPPORTED_VERSIONS``): version 1 holds the records as
a list of objects; version 2, what the results plugin writes, as compact columns
(``reports/compact.py``; ``lossconform.record``, "The records, compact"), which this reader
decodes to exactly the records that were written (a version-2 document may also hold a
list). Either way the caller gets ``doc["records"]`` as a list of dicts.

The format is ``lossconform.record``'s: document name and version, required fields, the
optional fields' defaults and the verdicts come from there. This reader checks what the
report needs (name, version, records a list of objects, required fields, known verdict),
fast enough for 100,000 records; ``lossconform.record.json_schema()`` describes the whole
format (field types included) and every document this reader accepts as written by the
results plugin validates against it.

Each record's fields have the types ``lossconform.record.CheckRecord`` declares (read from
its annotations: strings, numbers or "inf"/"-inf"/"nan", objects), nulls where a field is
optional; what an object holds (``case``, ``worst``, ``tolerance``, ``sample``, and keys no
field declares, the document's ``environment``, ``frameworks`` and ``divergences``) nests at
most ``MAX_DEPTH`` levels, and the report reads it defensively. A record that does not
makes the whole file invalid: ``ResultsError`` names the record's index and the field.
"""
from __future__ import annotations

import gc
import json
import re
import types
import typing
from itertools import chain, compress
from operator import itemgetter

import orjson
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Sequence

from lossconform.reports.compact import CompactError, decode_columns, records_of
from lossconform.record import (DEFAULTS, FIELDS, READ_VERSIONS, NONFINITE, REQUIRED_FIELDS, RUN_STATUSES,
                                SCHEMA, SCHEMA_VERSION, VERDICTS, CheckRecord, Float)

__all__ = ["SCHEMA", "SUPPORTED_VERSIONS", "VERDICTS", "REQUIRED_RECORD_FIELDS",
           "RECORD_DEFAULTS", "MAX_DEPTH", "Columns", "ResultsError", "load_results",
           "load_results_and_columns", "check_record_types", "PLAIN_FIELDS", "DEEP_FIELDS",
           "validate", "gc_paused", "number"]

#: Every version this reader knows: 1 (records as a list of objects) and 2 (records as
#: compact columns, ``reports/compact.py``; a list is still accepted).
SUPPORTED_VERSIONS = READ_VERSIONS
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
    return load_results_and_columns(path)[0]


def load_results_and_columns(path: str | Path, *, check_types: bool = True,
                              texts: bool = True) -> tuple[dict[str, Any], Columns]:
    """``load_results``, and the records' fields as columns (taken in one pass: a reader
    that needs whole columns needs no pass of its own). ``check_types=False`` checks only
    the ``PLAIN_FIELDS`` (and the keys no field declares): the caller must check the
    ``DEEP_FIELDS`` (``check_record_types``) before it trusts them; the report builder does
    so while another process works. ``texts=False``: a compact file's text columns (repro
    snippets, ``reports.compact``) are checked but not written out: the records and the
    column hold "" there, and ``Columns.texts`` the templates (what the report's page
    takes); a file whose records are a list is read as it is."""
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
    except RecursionError:
        raise ResultsError(path, "malformed JSON: nested too deeply to read") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise ResultsError(path, f"malformed JSON: {_one_line(str(exc))}") from None
    except OSError as exc:
        raise ResultsError(path, f"cannot read: {exc.strerror or exc}") from None
    return _validate(data, path, check_types, texts)


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
    """Check a decoded results document (see the module docstring); fill the records'
    optional fields with their defaults; raise ResultsError naming the first problem."""
    return _validate(data, path)[0]


def _validate(data: Any, path: str | Path, check_types: bool = True, decode_texts: bool = True
              ) -> tuple[dict[str, Any], Columns]:
    if not isinstance(data, dict):
        raise ResultsError(path, f"not a lossconform results file (top level is a "
                                 f"{type(data).__name__}, expected an object)")
    schema = data.get("schema")
    if schema != SCHEMA:
        raise ResultsError(path, f"not a lossconform results file (schema is {schema!r}, "
                                 f"expected {SCHEMA!r})")
    version = data.get("schema_version")
    if version.__class__ is not int or version not in SUPPORTED_VERSIONS:
        raise ResultsError(path, f"unsupported schema_version {version!r} "
                                 f"(this reader knows {list(SUPPORTED_VERSIONS)})")
    records = data.get("records")
    decoded: dict[str, list[Any]] | None = None
    texts: dict[str, dict[str, Any]] = {}
    if isinstance(records, dict):  # the compact columns (schema_version 2)
        try:
            n, decoded, absent = decode_columns(records, texts, decode_texts)
            with gc_paused():
                records = records_of(n, decoded, absent)
        except CompactError as exc:
            raise ResultsError(path, str(exc)) from None
        for name in absent:
            decoded.pop(name, None)  # a column with gaps is taken again from the records
        data["records"] = records
    elif not isinstance(records, list):
        raise ResultsError(path, "'records' is missing or is neither a list of records "
                                 "nor compact columns")
    if decoded is not None and _REQUIRED <= decoded.keys() and \
            set(map(type, decoded["verdict"])) <= {str} and \
            _VERDICTS.issuperset(decoded["verdict"]):
        # compact columns: every record has every required field and a known verdict;
        # only the optional fields some records lack need filling in
        for name in _OPTIONAL - decoded.keys():
            for record in records:
                if name not in record:
                    record[name] = RECORD_DEFAULTS[name]
        to_check: list[dict[str, Any]] = []
    else:
        to_check = records
    for k, record in enumerate(to_check):
        if record.__class__ is not dict:
            raise ResultsError(path, f"record #{k} is a {type(record).__name__}, not an object")
        keys = record.keys()
        if not _REQUIRED <= keys:
            missing = [n for n in REQUIRED_RECORD_FIELDS if n not in record]
            raise ResultsError(path, f"record #{k} lacks required field {missing[0]!r}"
                                     + (f" (and {len(missing) - 1} more)" if len(missing) > 1
                                        else ""))
        if record["verdict"].__class__ is not str or record["verdict"] not in _VERDICTS:
            raise ResultsError(path, f"record #{k} has unknown verdict "
                                     f"{_short_repr(record['verdict'])} "
                                     f"(expected one of {', '.join(VERDICTS)})")
        if not _OPTIONAL <= keys:
            for name in _OPTIONAL - keys:
                record[name] = RECORD_DEFAULTS[name]
    columns = _record_columns(records) if decoded is None else \
        _columns_of(decoded, records)
    columns.texts = {k: v for k, v in texts.items() if k in RECORD_TYPES and k in decoded}
    check_record_types(records, path, columns, None if check_types else PLAIN_FIELDS,
                       extra=True)
    for name, default in (("environment", {}), ("frameworks", {}), ("divergences", [])):
        value = data.get(name)
        data[name] = value if isinstance(value, type(default)) else default
        if _deeper_than([data[name]], MAX_DEPTH):
            raise ResultsError(path, f"{name!r} is nested deeper than {MAX_DEPTH} levels")
    data.setdefault("status", "complete")
    data.setdefault("created", "")
    _check_run_fields(data, path)
    return data, columns


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


# -- record types, from lossconform.record.CheckRecord's annotations -------------------------
#: How deep a free-form value may nest (``case``, a key no field declares, the document's
#: environment, frameworks, divergences): an object holding only scalars is 1 level.
MAX_DEPTH = 32
_CONTAINERS = (dict, list)
_JSON_CLASSES = frozenset((str, int, float, bool, type(None), dict, list))


class _Type:
    """What a JSON value of one annotation may be: its Python classes (as ``json``/``orjson``
    decode it), the strings allowed (None: any), a list's item type, and whether its
    contents are free-form (any JSON, depth bounded)."""

    __slots__ = ("classes", "strings", "items", "free", "text")

    def __init__(self, classes: set[type], text: str, strings: frozenset[str] | None = None,
                 items: _Type | None = None, free: bool = False) -> None:
        self.classes = frozenset(classes)
        self.strings = strings
        self.items = items
        self.free = free
        self.text = text


_FREE = _Type(set(_JSON_CLASSES), "any JSON value", free=True)


def _compile(tp: Any) -> _Type:
    """The _Type of a record annotation; one this reader does not know is free-form."""
    if tp == Float:
        return _Type({int, float, str}, 'a number or one of "inf", "-inf", "nan"',
                     strings=frozenset(NONFINITE))
    if tp is str:
        return _Type({str}, "a string")
    if tp is bool:
        return _Type({bool}, "true or false")
    if tp is int:
        return _Type({int}, "an integer")
    if tp is float:
        return _Type({int, float}, "a number")
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal and all(isinstance(a, str) for a in args):
        return _Type({str}, "one of " + ", ".join(args), strings=frozenset(args))
    if origin is typing.Union or origin is types.UnionType:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            t = _compile(rest[0])
            text = t.text.replace(" or ", ", ") + " or null"
            return _Type(set(t.classes) | {type(None)}, text, t.strings, t.items, t.free)
        return _FREE
    if origin is list or tp is list:
        item = _compile(args[0]) if args else _FREE
        return _Type({list}, f"a list (each {item.text})" if args else "a list", items=item)
    if typing.is_typeddict(tp) or origin is dict or tp is dict:
        # an object; its members are not looked into (the report reads those of the typed
        # ones, worst, tolerance, sample, defensively), only how deep they nest: the check
        # stays a few C-speed passes however many records there are
        return _Type({dict}, "an object", free=True)
    return _FREE


#: Every record field's _Type, from CheckRecord's annotations (the one field table).
_HINTS = typing.get_type_hints(CheckRecord, include_extras=True)
RECORD_TYPES: dict[str, _Type] = {name: _compile(_HINTS[name]) for name in FIELDS}
_N_FIELDS = len(FIELDS)
_PLAIN = frozenset(name for name, t in RECORD_TYPES.items()
                   if t.strings is None and t.items is None and not t.free)
#: The fields whose type is a matter of their values' classes (strings, optional strings):
#: cheap to check; the others (numbers that may be "inf", objects) look inside.
PLAIN_FIELDS: tuple[str, ...] = tuple(n for n in FIELDS if n in _PLAIN)
DEEP_FIELDS: tuple[str, ...] = tuple(n for n in FIELDS if n not in _PLAIN)


_IS_CONTAINER = frozenset(_CONTAINERS).__contains__
_IS_DICT = frozenset((dict,)).__contains__
_IS_LIST = frozenset((list,)).__contains__
_IS_STR = frozenset((str,)).__contains__


def _only(values: list[Any], is_class: Any) -> list[Any]:
    """The values whose class ``is_class`` accepts (C speed: no Python-level loop)."""
    return list(compress(values, map(is_class, map(type, values))))


def _orjson_depth_limit() -> int:
    """How many levels of lists ``orjson.dumps`` writes before it refuses (its recursion
    limit, 254 in orjson 3.x), measured once."""
    x: list[Any] = []
    for depth in range(1, 4096):
        try:
            orjson.dumps(x)
        except orjson.JSONEncodeError:
            return depth - 1
        x = [x]
    return 4095


_ORJSON_LIMIT = _orjson_depth_limit()


def _deeper_than(values: list[Any], limit: int) -> bool:
    """Whether any of ``values`` nests more than ``limit`` levels of objects and lists (a
    scalar is 0 levels; an object of scalars, 1).

    At C speed: ``orjson.dumps`` walks every value and refuses past its own limit, so the
    values, wrapped in as many lists as that limit leaves above ``limit``, are written once;
    only when that fails (too deep, or an integer orjson cannot write) are the containers
    walked breadth first, in Python, for the exact answer."""
    level = _only(values, _IS_CONTAINER)
    if not level:
        return False
    wrap = _ORJSON_LIMIT - 1 - limit
    if wrap >= 0:
        x: Any = level
        for _ in range(wrap):
            x = [x]
        try:
            orjson.dumps(x)
            return False
        except orjson.JSONEncodeError:
            pass
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        children = list(chain(chain.from_iterable(map(dict.values, _only(level, _IS_DICT))),
                              chain.from_iterable(_only(level, _IS_LIST))))
        level = _only(children, _IS_CONTAINER)
    return False


def _column_ok(col: Sequence[Any], t: _Type, depth: int,
               types: Sequence[type] | None = None) -> bool:
    """Whether every value of ``col`` (``types``: their classes) has type ``t``, at C
    speed: the set of classes, the strings allowed, how deep objects nest, list items as
    one column."""
    if types is None:
        types = list(map(type, col))
    classes = set(types)
    if not classes <= t.classes:
        return False
    if t.strings is not None and str in classes and \
            not t.strings.issuperset(compress(col, map(_IS_STR, types))):
        return False
    if t.free:
        # each object once: a compact file's records share theirs (one case object for
        # every record of the case)
        found = list(compress(col, map(_IS_CONTAINER, types)))
        return not _deeper_than(list(dict(zip(map(id, found), found)).values()), depth)
    if t.items is not None and list in classes:
        flat = list(chain.from_iterable(compress(col, map(_IS_LIST, types))))
        if flat and not _column_ok(flat, t.items, depth - 1):
            return False
    return True


def _problem(value: Any, t: _Type, depth: int, where: str) -> str | None:
    """Why ``value`` is not of type ``t`` (``where`` names it), or None."""
    c = value.__class__
    if c not in t.classes or (c is str and t.strings is not None and value not in t.strings):
        return f"field {where!r} is {_shown(value)}, expected {t.text}"
    if t.free and _deeper_than([value], depth):
        return f"field {where!r} is nested deeper than {MAX_DEPTH} levels"
    if c is list and t.items is not None:
        for i, x in enumerate(value):
            p = _problem(x, t.items, depth - 1, f"{where}[{i}]")
            if p:
                return p
    return None


class Columns:
    """The records' fields as columns: ``columns[name]`` lists every record's value of field
    ``name`` (a ``lossconform.record`` field), in record order."""

    __slots__ = ("_flat", "_where", "_cache", "texts")

    def __init__(self, flat: list[Any], names: Sequence[str]) -> None:
        self._flat = flat
        self._where = {name: (j, len(names)) for j, name in enumerate(names)}
        self._cache: dict[str, list[Any]] = {}
        #: text columns as the compact file held them (``reports.compact``: lines,
        #: templates, fill, index), by field name: what a reader may use instead of
        #: splitting the texts again
        self.texts: dict[str, dict[str, Any]] = {}

    @classmethod
    def of(cls, columns: dict[str, list[Any]]) -> Columns:
        """Columns already taken (one list per field)."""
        self = cls([], ())
        self._cache = dict(columns)
        return self

    def __getitem__(self, name: str) -> list[Any]:
        col = self._cache.get(name)
        if col is None:
            j, n = self._where[name]
            col = self._cache[name] = self._flat[j::n]
        return col


def _columns_of(decoded: dict[str, list[Any]], records: list[dict[str, Any]]) -> Columns:
    """The record fields' columns, taken from decoded compact columns where they are whole
    (every record has the key) and from the records (defaults filled in) otherwise."""
    names = list(RECORD_TYPES)
    cols = {name: decoded[name] if name in decoded else [r[name] for r in records]
            for name in names}
    return Columns.of(cols)


def _record_columns(records: list[dict[str, Any]]) -> Columns:
    """One pass over the records, each visited once while it is in the cache: every field's
    value in record order (a field's column is a slice of it)."""
    names = list(RECORD_TYPES)
    return Columns(list(chain.from_iterable(map(itemgetter(*names), records))), names)


def check_record_types(records: list[dict[str, Any]], path: str | Path,
                       columns: Columns | None = None, fields: Sequence[str] | None = None,
                       *, extra: bool | None = None) -> None:
    """Every record field of the type CheckRecord declares; keys no field declares free-form
    (depth bounded). Raises ResultsError naming the record's index and the field (the lowest
    index over the fields checked). ``columns``: the records' (``load_results_and_columns``);
    ``fields``: check only these; ``extra``: check the keys no field declares (default: when
    every field is checked).

    A column that passes the fast check costs a few C-speed passes; one that does not is
    scanned record by record for the first bad one."""
    if not records:
        return
    if columns is None:
        columns = _record_columns(records)
    bad: list[tuple[int, str]] = []
    for name in (RECORD_TYPES if fields is None else fields):
        if name == "verdict":  # checked record by record in validate()
            continue
        t = RECORD_TYPES[name]
        col = columns[name]
        ty = list(map(type, col))
        if name in _PLAIN:
            if set(ty) <= t.classes:  # a plain type: the classes say it all
                continue
        elif _column_ok(col, t, MAX_DEPTH, ty):
            continue
        for k, value in enumerate(col):
            p = _problem(value, t, MAX_DEPTH, name)
            if p:
                bad.append((k, p))
                break
    if extra if extra is not None else fields is None:
        # keys no field declares (a plug-in's, a newer writer's): free-form, depth bounded
        wide = compress(range(len(records)), map(_N_FIELDS.__lt__, map(len, records)))
        others = [(k, name, value) for k in wide for name, value in records[k].items()
                  if name not in RECORD_TYPES]
        if others and _deeper_than([v for _, _, v in others], MAX_DEPTH):
            for k, name, value in others:
                p = _problem(value, _FREE, MAX_DEPTH, name)
                if p:
                    bad.append((k, p))
                    break
    if bad:
        k, p = min(bad)
        raise ResultsError(path, f"record #{k}: {p}")


def _shown(value: Any) -> str:
    """A value as a reader should see it in a one-line reason."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if value.__class__ in (int, float):
        return f"the number {value!r}"[:60]
    if value.__class__ is str:
        text = repr(value)
        return f"the string {text if len(text) <= 40 else text[:37] + '...'}"
    if value.__class__ is list:
        return "a list"
    if value.__class__ is dict:
        return "an object"
    return f"a {type(value).__name__}"


def _short_repr(value: Any) -> str:
    text = repr(value) if value.__class__ in (str, int, float, bool, type(None)) else \
        _shown(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


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
