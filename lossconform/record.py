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
SCHEMA_VERSION = 1
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
#: product with a random upstream gradient), and what an entry point does with an invalid
#: input. The field is open (a plug-in's own suite may add kinds); these are the known ones.
KINDS: tuple[str, ...] = ("forward", "gradient", "invalid_input")
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
            "schema_version": {"const": SCHEMA_VERSION},
            "created": {"type": "string", "description": "When the run ended (ISO 8601, UTC)."},
            "status": {"enum": ["complete", "interrupted", "failed"],
                       "description": "complete; interrupted (Ctrl-C, -x/--maxfail): the "
                                      "records are partial; failed (an internal or usage "
                                      "error)."},
            "exitstatus": {"type": "integer", "description": "pytest's exit status."},
            "environment": {"type": "object",
                            "description": "Python, platform, CPU, GPUs, host, seed, "
                                           "selection, pytest arguments."},
            "frameworks": {
                "type": "object",
                "description": "Per framework: version, available and why not, devices, "
                               "conventions, entry points.",
                "additionalProperties": {"type": "object", "properties": {
                    "version": {"type": ["string", "null"]},
                    "available": {"type": "boolean"},
                    "reason": {"type": ["string", "null"]},
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
            "records": {"type": "array", "items": {"$ref": "#/$defs/record"}},
        },
        "additionalProperties": True,
        "$defs": {"record": record_schema(), "float": _definition(Float)},
    }
