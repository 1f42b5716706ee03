"""The check record: the one definition of what a check writes and the report reads.

A check (``lossconform.harness.check.run_check``, the invalid-input suite) makes one
``CheckRecord`` per kind of output it compared; the test attaches it with
``lossconform.reports.pytest_plugin.record(request, rec)``; the results plugin writes the
records into the results document (``SCHEMA``, ``SCHEMA_VERSION``); ``lossconform.reports``
reads that document back (``reports/results.py``) and builds the page from it.

Everything about the format lives here: the fields (with their types and defaults), the
verdicts, the kinds, the document's name and version, the ``user_properties`` key, and a
generated JSON Schema of the whole results document (``json_schema()``; committed as
``lossconform/schema/results.schema.json`` by ``tools/write_schema.py``, kept equal by a test).

This module is a leaf: it imports nothing from the adapters, the divergence registry or the
report, only the standard library.

The results document
--------------------

One JSON object per run (``json_schema()``). Required: ``schema``, ``schema_version``,
``records``; the results plugin (``lossconform.reports.pytest_plugin``) always writes every
field below. Documents written before the run fields existed lack ``run_id``, ``started``,
``finished``, ``tests`` and ``checks``; a reader treats them as unknown (never as zero), and
in such a document ``complete`` may include failed tests and ``failed`` meant an internal or
usage error (a document with ``tests`` uses the meanings below).

==================  =======================================================================
field               meaning
==================  =======================================================================
``schema``          ``"lossconform-results"`` (``SCHEMA``)
``schema_version``  ``SCHEMA_VERSION`` (2: records as compact columns; 1: a list of
                    objects, still read; the run fields are optional additions)
``created``         when the results were written (ISO 8601, UTC, seconds): ``finished``
                    rounded down to the second
``status``          how the run ended: one of ``RUN_STATUSES`` (table below)
``exitstatus``      the exit status of the pytest session, as the process returns it:
                    pytest's ``ExitCode`` (0 passed, 1 tests failed, 2 interrupted,
                    3 internal error, 4 usage error, 5 no tests), or 128 + the signal number
                    for ``terminated`` (143 SIGTERM, 129 SIGHUP). A session whose results
                    could not be written exits with 4 and has no document to say so.
``run_id``          a fresh ``uuid.uuid4().hex`` (32 lowercase hex digits) per session: tells
                    two runs apart, and a rewrite of the same run (identical ``run_id``) from
                    another run
``started``         when the session started on the controller, before collection (ISO 8601,
                    UTC, milliseconds)
``finished``        when this document was written, at the session's end (same format)
``tests``           ``{"collected": N, "reported": N, "lost": [...], "crashed": [...]}``:
                    ``collected``: the tests selected to run (after ``-k``/``-m``/deselection;
                    under xdist, the ids the workers collected); ``reported``: those whose
                    run came back complete (the controller received its teardown report, the
                    last of every test's run, whatever the outcome: passed, failed, skipped,
                    error); ``lost``: the node ids collected but not reported, in collection
                    order (not run because the run stopped, interrupted mid-test, or running
                    on a worker that crashed), so ``collected == reported + len(lost)``;
                    ``crashed``: the node ids xdist reported as running on a worker that
                    crashed (each is also in ``lost``). A lost test may still have records:
                    the checks it finished before it was stopped.
``checks``          ``{"recorded": N}``: the number of records, ``len(records)``
``environment``     Python, platform, CPU, GPUs, host, seed, selection, pytest arguments
``frameworks``      per framework: version, available and why not, devices, convention sources,
                    entry points
``divergences``     the divergence models of the registry the run used
``records``         one ``CheckRecord`` (``to_json()``) per check, in the order reported:
                    as compact columns (below; what the results plugin writes), or as a
                    list of record objects (version 1, and hand-written documents)
==================  =======================================================================

``status`` (``RUN_STATUSES``), the first that applies, in this order:

==================  =======================================================================
status              meaning
==================  =======================================================================
``terminated``      the controller received SIGTERM or SIGHUP and stopped the run (as on
                    Ctrl-C); records and tests are what had finished; exit status 143/129
``interrupted``     the run was stopped before it ended: Ctrl-C (KeyboardInterrupt),
                    ``pytest.exit()``, a worker's Ctrl-C, ``-x``/``--maxfail`` (only when
                    tests were left unrun); ``tests.lost`` lists what did not run or finish;
                    exit status 2 (1 for a serial ``-x``/``--maxfail``)
``worker-crashed``  an xdist worker died (killed, segfault, ``os._exit``): the test it was
                    running is in ``tests.lost`` and ``tests.crashed`` (a worker that died
                    between tests adds none); the other tests ran on the other workers and
                    the one xdist started in its place (unless ``--max-worker-restart``
                    stopped the run: then they are in ``tests.lost`` too); pytest's exit
                    status (1: the crash counts as a failed test) is kept
``error``           pytest itself failed: errors during collection stopped the run (exit 2),
                    an internal error (3), a usage error after the session started (4)
``no-tests``        nothing was selected to run (none collected, or ``-k``/``-m``
                    deselected every test): no records; exit status 5
``failed``          every selected test ran and reported, and at least one failed (or
                    errored); ``tests.lost`` is empty; exit status 1 (2 where xdist's
                    ``-x``/``--maxfail`` stopped the run after its last test)
``complete``        every selected test ran and reported, none failed: exit status 0
==================  =======================================================================

The records, compact
--------------------

``records`` is ``{"n": N, "columns": {field: column, ...}}``: one column per record key (the
fields first, in field order, then keys no field declares), each holding the N records'
values in record order in one of three forms (``lossconform.reports.compact`` writes and
reads them; the writer picks the smallest):

==============================================  =================================================
form                                            the value of record k
==============================================  =================================================
``{"values": [...]}``                           ``values[k]``
``{"table": [...], "index": [...]}``            ``table[index[k]]`` (each distinct value once)
``{"lines": [...], "texts": [[...]], "fill":    the template ``texts[index[k]]`` (line numbers
[...], "index": [...]}``                        into ``lines``, joined with ``"\n"``), with each
                                                ``"\x00" + chr(1 + j)`` replaced by record k's
                                                value of column ``fill[j]`` and each
                                                ``"\x00\x00"`` by ``"\x00"``
==============================================  =================================================

A column may add ``"absent": [k, ...]``: the records that lack the key (a reader fills an
optional field's default, as for a record object without it). Repro snippets take the third
form: each names its case id and dtype (``fill``: ``["id", "dtype"]``), the rest of the
snippet is shared by every case and dtype of an entry point, line by line. The records
read back are exactly those written (values, types, nested key order).

A run whose records are partial is ``terminated``, ``interrupted``, ``worker-crashed`` or
``error`` (``PARTIAL_STATUSES``); ``failed``, ``no-tests`` and ``complete`` ran everything
that was selected. ``--collect-only`` writes no document at all.
"""
from __future__ import annotations

import math
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Annotated, Any, Literal, Mapping, TypedDict, Union

#: The results document's ``schema`` value.
SCHEMA = "lossconform-results"
#: The results document's ``schema_version``: bump it when a reader of the previous version
#: would misread a new document (a field renamed or its meaning changed), not when an
#: optional field is added (readers fill missing optional fields with their defaults).
SCHEMA_VERSION = 2
#: The versions a reader of this module's format reads: 1 wrote records as a list of
#: objects; 2 writes them as compact columns (and still allows a list).
READ_VERSIONS: tuple[int, ...] = (1, 2)
#: The ``user_properties`` key a test attaches a record under.
RECORD_KEY = "lossconform_record"
#: Where the committed copy of ``json_schema()`` lives, relative to the package folder.
SCHEMA_FILE = "schema/results.schema.json"

Verdict = Literal["agree", "divergence", "unsupported", "raises", "fail"]
#: Every verdict, in the order the report lists them (and codes them in its page data):
#:   agree        the output matches the float64 reference within the tolerance;
#:   divergence   it does not, and a registered divergence model explains the difference;
#:   unsupported  the entry point does not accept this call (dtype, option, no gradient);
#:   raises       the framework raised, as expected (invalid inputs);
#:   fail         a difference nothing explains, or a raise on a valid input: a finding.
VERDICTS: tuple[str, ...] = typing.get_args(Verdict)
#: The verdicts from least to most severe: a report cell that holds several records shows
#: the most severe one.
SEVERITY: tuple[str, ...] = ("agree", "unsupported", "raises", "divergence", "fail")
#: The kinds of check this suite writes: the forward value, the gradient (vector-Jacobian
#: product with a random upstream gradient), what an entry point does with an invalid
#: input, what a convention probe observed (``lossconform.probes``), and what a setting or
#: execution mode changes (``lossconform.settings``). The field is open (a plug-in's own suite may add kinds); these are the known ones.
KINDS: tuple[str, ...] = ("forward", "gradient", "invalid_input", "convention", "setting")
RunStatus = Literal["complete", "failed", "interrupted", "terminated", "worker-crashed",
                    "no-tests", "error"]
#: Every run status (the document's ``status``; meanings and precedence in the module
#: docstring, "The results document").
RUN_STATUSES: tuple[str, ...] = typing.get_args(RunStatus)
#: The statuses of a run that stopped before running everything it selected.
PARTIAL_STATUSES: tuple[str, ...] = ("terminated", "interrupted", "worker-crashed", "error")
#: How a non-finite float is written in JSON (which has no NaN or Infinity).
NONFINITE: tuple[str, ...] = ("inf", "-inf", "nan")


class _JsonDef:
    """``Annotated`` metadata: this type is the schema's definition ``$defs/<name>``."""

    def __init__(self, name: str, schema: dict[str, Any]) -> None:
        self.name = name
        self.schema = schema


#: A float that may be non-finite: in JSON a number, or "inf", "-inf" or "nan".
Float = Annotated[float, _JsonDef("float", {
    "description": 'A number; a non-finite one as "inf", "-inf" or "nan".',
    "anyOf": [{"type": "number"}, {"enum": list(NONFINITE)}]})]


class ToleranceInfo(TypedDict, total=False):
    """The tolerance a check was held to (``lossconform.harness.tolerances``)."""
    rtol: Float
    atol: Float
    overrides: list[str]


class WorstElement(TypedDict, total=False):
    """The element of the output farthest outside the tolerance."""
    index: list[int]
    expected: Float
    actual: Float


class OutputSample(TypedDict, total=False):
    """The output's shape and its first values (flattened, C order)."""
    shape: list[int]
    values: list[Float]


def _f(doc: str, default: Any = MISSING) -> Any:
    """A field with its description (which becomes the field's JSON Schema description);
    a field without a default is required in every record."""
    return field(default=default, metadata={"doc": doc})


@dataclass(kw_only=True, slots=True)
class CheckRecord:
    """One check of one output: a case, an entry point, a dtype, a kind, and its verdict.

    Subscriptable by field name (``rec["verdict"]``) like the dicts it replaces;
    ``to_json()`` gives the dict that goes into the results file, ``from_json()`` reads one.
    """

    id: str = _f("The case id (lossconform.cases; an invalid-input check: 'invalid-<case>').")
    op: str = _f("The operation checked: softmax, log_softmax, sigmoid, cross_entropy, ...")
    entry_point: str = _f("The framework function or class called, as the adapter names it.")
    framework: str = _f("The adapter's framework name.")
    framework_version: str = _f("The framework's version string.", "")
    dtype: str = _f("The input dtype: float16, bfloat16, float32 or float64.")
    device: str = _f("Where the framework computed: cpu, cuda, ...", "cpu")
    kind: str = _f("What was compared: forward, gradient, invalid_input (see KINDS).")
    verdict: Verdict = _f("The outcome (see VERDICTS).")
    case: dict[str, Any] | None = _f(
        "The inputs' description: op, shape, axis, regime, target_kind, options, note.", None)
    nodeid: str = _f("The pytest node id of the test that made the record (the results "
                     "plugin fills it in when a writer leaves it empty).", "")
    divergence: str | None = _f(
        "The id of the registered divergence model that explains the difference.", None)
    max_abs_err: Float | None = _f("Largest |framework - reference| over the output.", None)
    max_rel_err: Float | None = _f("Largest relative error over the output.", None)
    max_ulp: Float | None = _f(
        "Largest error in ULP of the dtype, at each element's own magnitude.", None)
    worst: WorstElement | None = _f("The element farthest outside the tolerance.", None)
    message: str | None = _f(
        "Why: the problem (fail, divergence), the reason (unsupported), the exception.", None)
    output_dtype: str | None = _f("The dtype of the framework's output.", None)
    tolerance: ToleranceInfo | None = _f("The tolerance the check was held to.", None)
    tolerance_used: Float | None = _f(
        "Largest |framework - reference| / allowed over the output: <= 1 is within the "
        "tolerance; inf where non-finite values differ.", None)
    eval_seconds: Float | None = _f(
        "Time inside the framework call (forward and gradient together, on the forward "
        "record; 0 on the gradient record).", None)
    sample: OutputSample | None = _f(
        "The forward output's shape and first values, for the report's pairwise view "
        "(every entry point saw the same inputs).", None)
    repro: str = _f("A snippet that reproduces the call.", "")
    max_rel_ulp_normal: Float | None = _f(
        "Largest error in ULP of each element's own magnitude over the elements whose "
        "reference value is a normal number of the dtype (the relative-accuracy policy); "
        "None where no element is normal.", None)
    facets: dict[str, Any] | None = _f(
        "How the call was made beyond its values (lossconform.contract.FACET_NAMES): "
        "execution mode, input provenance, argument dtypes, ...", None)
    setting: str | None = _f(
        "The setting (environment variables, process-wide switches) the check ran under; "
        "None: the run's own environment.", None)
    observed: str | None = _f(
        "What a convention probe observed (kind convention), or what a setting changed "
        "(kind setting), as one line of text.", None)
    pinned: str | None = _f(
        "The observation the plug-in pins for this probe, entry point and version "
        "(kind convention); None where nothing is pinned.", None)
    compile_seconds: Float | None = _f(
        "Of eval_seconds, the time the adapter spent compiling (tracing, lowering, "
        "compiling a new shape or dtype; Evaluation.compile_seconds), on the forward record.",
        None)
    check_seconds: Float | None = _f(
        "Wall time of the whole check (inputs, reference, framework call, comparison, "
        "records), on the forward record: with eval_seconds, the engine's overhead.", None)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r} (expected one of "
                             f"{', '.join(VERDICTS)})")

    def __getitem__(self, name: str) -> Any:
        if name not in FIELDS:
            raise KeyError(name)
        return getattr(self, name)

    def to_json(self) -> dict[str, Any]:
        """The record as the results file holds it: every field, in field order; non-finite
        floats as "inf"/"-inf"/"nan", tuples as lists, NumPy values as Python ones."""
        return {name: _plain(getattr(self, name)) for name in FIELDS}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, ignore_unknown: bool = False) -> CheckRecord:
        """A record from its JSON form (as ``to_json`` writes it; optional fields may be
        missing). An unknown key raises ValueError unless ``ignore_unknown``; non-finite
        float strings stay strings (``lossconform.reports.results.number`` decodes them)."""
        unknown = [k for k in data if k not in FIELDS]
        if unknown and not ignore_unknown:
            raise ValueError(f"unknown record field(s): {', '.join(map(repr, unknown))}")
        missing = [k for k in REQUIRED_FIELDS if k not in data]
        if missing:
            raise ValueError(f"record lacks required field(s): {', '.join(map(repr, missing))}")
        return cls(**{k: v for k, v in data.items() if k in FIELDS})


#: Every field name, in order.
FIELDS: tuple[str, ...] = tuple(f.name for f in fields(CheckRecord))
#: The fields every record must have (those without a default).
REQUIRED_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(CheckRecord) if f.default is MISSING and f.default_factory is MISSING)
#: The optional fields and the value a reader uses when a record lacks one.
DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(CheckRecord)
                            if f.default is not MISSING}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # a NumPy scalar or array
        return _plain(value.tolist())
    return str(value)


# -- JSON Schema --------------------------------------------------------------------------
_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean",
           type(None): "null"}


def _type_schema(tp: Any) -> dict[str, Any]:
    """The JSON Schema of a Python annotation (the subset the record uses)."""
    if tp is Any:
        return {}
    if tp in _SIMPLE:
        return {"type": _SIMPLE[tp]}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Annotated:
        for meta in tp.__metadata__:
            if isinstance(meta, _JsonDef):
                return {"$ref": f"#/$defs/{meta.name}"}
        return _type_schema(args[0])
    if origin is Literal:
        return {"enum": list(args)}
    if origin is Union or origin is types.UnionType:
        parts = [_type_schema(a) for a in args]
        if all(set(p) == {"type"} and isinstance(p["type"], str) for p in parts):
            return {"type": [p["type"] for p in parts]}
        nulls = [p for p in parts if p == {"type": "null"}]
        others = [p for p in parts if p != {"type": "null"}]
        return {"anyOf": others + nulls}
    if origin in (list, tuple):
        return {"type": "array", "items": _type_schema(args[0])} if args else {"type": "array"}
    if origin is dict:
        out: dict[str, Any] = {"type": "object"}
        if args and args[1] is not Any:
            out["additionalProperties"] = _type_schema(args[1])
        return out
    if typing.is_typeddict(tp):
        hints = typing.get_type_hints(tp, include_extras=True)
        out = {"type": "object",
               "properties": {k: _type_schema(v) for k, v in hints.items()}}
        required = sorted(tp.__required_keys__)
        if required:
            out["required"] = required
        return out
    raise TypeError(f"no JSON Schema for the annotation {tp!r}")


def _definition(tp: Any) -> dict[str, Any]:
    return dict(next(m for m in tp.__metadata__ if isinstance(m, _JsonDef)).schema)


def record_schema() -> dict[str, Any]:
    """The JSON Schema of one record, from the dataclass: a property per field (its type
    from the annotation, its description, its default), the fields without a default
    required. Other keys are allowed: a reader passes them through (the report shows them
    in the drill-down). References point into ``json_schema()``'s ``$defs``."""
    hints = typing.get_type_hints(CheckRecord, include_extras=True)
    props: dict[str, Any] = {}
    for f in fields(CheckRecord):
        prop = {"description": f.metadata["doc"], **_type_schema(hints[f.name])}
        if f.default is not MISSING:
            prop["default"] = f.default
        props[f.name] = prop
    return {"type": "object", "required": list(REQUIRED_FIELDS), "properties": props,
            "additionalProperties": True}


def _column_schema(values: dict[str, Any] | None) -> dict[str, Any]:
    """The JSON Schema of one compact column (module docstring, "The records, compact");
    ``values``: the schema of its values (None: any)."""
    items = values if values is not None else {}
    positions = {"type": "array", "items": {"type": "integer", "minimum": 0}}
    return {"type": "object", "properties": {"absent": positions}, "oneOf": [
        {"required": ["values"], "properties": {"values": {"type": "array", "items": items}}},
        {"required": ["table", "index"],
         "properties": {"table": {"type": "array", "items": items}, "index": positions}},
        {"required": ["lines", "texts", "fill", "index"],
         "properties": {"lines": {"type": "array", "items": {"type": "string"}},
                        "texts": {"type": "array", "items": positions},
                        "fill": {"type": "array", "items": {"type": "string"}},
                        "index": positions}}]}


def compact_schema() -> dict[str, Any]:
    """The JSON Schema of the compact records: ``{"n": N, "columns": {...}}``, each field's
    column holding values of the field's type (a required field's column is required
    when there are records; a text column's values are strings)."""
    rec = record_schema()
    columns = {name: _column_schema({k: v for k, v in prop.items()
                                     if k not in ("description", "default")})
               for name, prop in rec["properties"].items()}
    return {
        "type": "object",
        "description": "The records as columns (lossconform.record, 'The records, compact').",
        "required": ["n", "columns"],
        "properties": {
            "n": {"type": "integer", "minimum": 0, "description": "How many records."},
            "columns": {"type": "object", "properties": columns,
                        "additionalProperties": _column_schema(None)}},
        "if": {"properties": {"n": {"minimum": 1}}},
        "then": {"properties": {"columns": {"required": list(REQUIRED_FIELDS)}}},
    }


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the whole results document.

    Required: ``schema``, ``schema_version`` and ``records`` (what a reader needs); the
    other top-level members are optional for a reader (which defaults them) and always
    written by the results plugin.
    """
    return {
        "$schema": _DIALECT,
        "$id": f"urn:lossconform:schema:{SCHEMA}:{SCHEMA_VERSION}",
        "title": "lossconform results",
        "description": "The results of a lossconform run: one record per check (generated "
                       "from lossconform.record.CheckRecord; do not edit, run "
                       "tools/write_schema.py).",
        "type": "object",
        "required": ["schema", "schema_version", "records"],
        "properties": {
            "schema": {"const": SCHEMA},
            "schema_version": {"enum": list(READ_VERSIONS),
                               "description": f"{SCHEMA_VERSION} (written); 1: records as a "
                                              "list of objects, still read."},
            "created": {"type": "string", "description": "When the results were written "
                                                         "(ISO 8601, UTC, seconds)."},
            "status": {"enum": list(RUN_STATUSES),
                       "description": "How the run ended (lossconform.record, 'The results "
                                      "document'): complete; failed (tests failed, all ran); "
                                      "interrupted (Ctrl-C, -x/--maxfail); terminated "
                                      "(SIGTERM/SIGHUP); worker-crashed; error (collection "
                                      "errors, internal or usage error); no-tests."},
            "exitstatus": {"type": "integer",
                           "description": "The session's exit status: pytest's, or 128 + "
                                          "the signal number when terminated."},
            "run_id": {"type": "string", "pattern": "^[0-9a-f]{32}$",
                       "description": "uuid4 hex, fresh per session."},
            "started": {"type": "string",
                        "description": "When the session started (ISO 8601, UTC)."},
            "finished": {"type": "string",
                         "description": "When this document was written (ISO 8601, UTC)."},
            "tests": {
                "type": "object",
                "description": "collected: tests selected to run; reported: those whose run "
                               "came back (teardown report); lost: node ids collected but "
                               "not reported (collected == reported + len(lost)); crashed: "
                               "node ids running on a crashed xdist worker (also in lost).",
                "required": ["collected", "reported", "lost"],
                "properties": {
                    "collected": {"type": "integer", "minimum": 0},
                    "reported": {"type": "integer", "minimum": 0},
                    "lost": {"type": "array", "items": {"type": "string"}},
                    "crashed": {"type": "array", "items": {"type": "string"}}}},
            "checks": {
                "type": "object",
                "description": "recorded: the number of records.",
                "required": ["recorded"],
                "properties": {"recorded": {"type": "integer", "minimum": 0}}},
            "environment": {"type": "object",
                            "description": "Python, platform, CPU, GPUs, host, seed, "
                                           "selection, pytest arguments."},
            "frameworks": {
                "type": "object",
                "description": "Per framework: version, available and why not, devices, "
                               "where it documents each conventions topic, entry points "
                               "(documents before convention probes carry 'conventions', "
                               "the old declared prose).",
                "additionalProperties": {"type": "object", "properties": {
                    "version": {"type": ["string", "null"]},
                    "available": {"type": "boolean"},
                    "reason": {"type": ["string", "null"]},
                    "convention_sources": {"type": "object"},
                    "conventions": {"type": "object"},
                    "entry_points": {"type": "array", "items": {"type": "object"}}}}},
            "divergences": {
                "type": "array",
                "description": "The divergence models of the registry the run used (and the "
                               "outcome categories of invalid inputs): id, title, entry "
                               "points, versions, trigger, explanation, link.",
                "items": {"type": "object", "properties": {
                    "id": {"type": "string"}, "title": {"type": "string"},
                    "entry_points": {"type": "array", "items": {"type": "string"}},
                    "explanation": {"type": "string"}}}},
            "records": {"description": "One record per check: compact columns (what the "
                                       "results plugin writes) or a list of records.",
                        "anyOf": [{"$ref": "#/$defs/compact_records"},
                                  {"type": "array", "items": {"$ref": "#/$defs/record"}}]},
        },
        "additionalProperties": True,
        "$defs": {"record": record_schema(), "compact_records": compact_schema(),
                  "float": _definition(Float)},
    }
