"""The plug-in contract: what every adapter (built-in or installed plug-in) must keep.

Runs on every adapter ``lossconform.plugins.load_adapters`` finds, each test tagged with
``pytest.mark.framework(name)`` (so ``--lc-frameworks`` narrows it) and skipped, with the
reason, where ``adapter.available()`` says the framework cannot be used. Every failure says
what to fix in the plug-in. The checks:

* declarations: ``framework`` is a word; ``entry_points()`` is non-empty with unique names,
  ops from ``lossconform.ops.OPS``, dtypes from ``lossconform.dtypes.DTYPES`` and well-formed
  ``Capabilities`` (target kinds allowed by the op, options from ``OPTION_NAMES``, reductions
  from ``ALL_REDUCTIONS``, a known ``class_axes``, devices including "cpu");
* every declared entry point is called, in every selected dtype it declares, on a small
  valid call (the first supported case of its op, per target kind; a declared dtype in which
  no case is supported fails): the forward output has
  the canonical shape and the call's dtype, unless a registered divergence entry explains the
  deviation; a gradient has x's shape;
* the repro snippet of each of those calls executes in a fresh namespace and leaves ``out``
  (and ``grad``) equal to what ``evaluate`` returned (at most a few ULP apart);
* divergence entries are ``Divergence`` objects of this framework keyed on a package its
  ``versions()`` reports (that each still diverges and matches its model is
  ``test_divergences.py``'s job);
* convention_sources: topic -> a source with a link, for every probed topic;
* invalid inputs: every applicable (entry point, target kind, invalid case) cell has an
  ``InvalidOutcome`` row; a missing row fails with a ready-to-paste row holding the outcome
  observed by running the cell (whether the row is right is ``test_invalid_inputs.py``'s job).
"""
from __future__ import annotations

import re
import warnings
from typing import Any, Mapping

import numpy as np
import pytest

from lossconform import invalid as I
from lossconform.cases import CASES, Case, output_shape
from lossconform.contract import (ALL_REDUCTIONS, ANY_AXIS, AXIS_1, LAST_AXIS, OPTION_NAMES,
                                  Adapter, Call, Capabilities, EntryPointSpec, Evaluation,
                                  InvalidOutcome, Output)
from lossconform.divergences import Divergence, candidates, explain
from lossconform.dtypes import DTYPES, ulp
from lossconform.harness.check import natural_scale, repro_snippet
from lossconform.harness.tolerances import tolerance
from lossconform.ops import OP, OPS
from lossconform.plugins import load_adapters
from lossconform.suite.snippets import snippet_values

_ADAPTERS = load_adapters()
WORD = re.compile(r"^[A-Za-z0-9_-]+$")
OUTCOME = re.compile(r"^(raises:[A-Za-z_][A-Za-z0-9_.]*|silent-(nan|partial-nan|inf|finite|empty))$")
CLASS_AXES = (ANY_AXIS, LAST_AXIS, AXIS_1)
DEVICE = "cpu"  # every contract call runs on the CPU, which every entry point must support
#: the repro snippet may differ from ``evaluate`` by at most this many ULP of the output dtype
#: (0 for a deterministic framework; a little room for kernels whose summation order varies)
REPRO_ULP = 4
#: cases up to this many input elements count as "small" and are tried first
SMALL = 4096


# -- parametrization --------------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_=.-]+", "_", text).strip("_")


def _framework_params() -> list[Any]:
    return [pytest.param(fw, id=fw, marks=pytest.mark.framework(fw)) for fw in _ADAPTERS]


def _entry_point_params() -> list[Any]:
    params = []
    for fw, adapter in _ADAPTERS.items():
        try:
            names = [s.name for s in adapter.entry_points()]
        except Exception as exc:  # reported by test_declarations; keep collecting the others
            names = [f"<entry_points() raised {type(exc).__name__}>"]
        for name in dict.fromkeys(names):
            params.append(pytest.param(fw, name, id=f"{fw}-{_slug(str(name))}",
                                       marks=pytest.mark.framework(fw)))
    return params


def _adapter(fw: str) -> Adapter:
    adapter = _ADAPTERS[fw]
    reason = adapter.available()
    if reason:
        pytest.skip(f"{fw}: {reason}")
    return adapter


def _spec(adapter: Adapter, name: str) -> EntryPointSpec:
    spec = next((s for s in adapter.entry_points() if s.name == name), None)
    if spec is None:
        pytest.fail(f"{adapter.framework}: entry_points() has no {name!r} (it raised or changed "
                    "between calls: make entry_points() return the same fixed list every time)")
    return spec


def _fail(adapter: Adapter, what: str, problems: list[str]) -> None:
    if problems:
        pytest.fail(f"{adapter.framework} plug-in ({type(adapter).__module__}): {what}:\n  - "
                    + "\n  - ".join(problems), pytrace=False)


# -- declarations ----------------------------------------------------------------------------
@pytest.mark.parametrize("fw", _framework_params())
def test_declarations(fw: str) -> None:
    """framework name, entry points, ops, dtypes and capabilities are well formed."""
    adapter = _adapter(fw)
    problems: list[str] = []
    if not isinstance(adapter, Adapter):
        problems.append(f"ADAPTER is a {type(adapter).__name__}; subclass lossconform.contract.Adapter")
    if not isinstance(adapter.framework, str) or not WORD.match(adapter.framework):
        problems.append(f"framework = {adapter.framework!r}: set it to a short [A-Za-z0-9_-] word "
                        "(it is the --lc-frameworks name)")
    version = adapter.version()
    if not isinstance(version, str) or not version.strip():
        problems.append(f"version() returned {version!r}: return the framework's version string")
    devices = list(adapter.devices())
    if "cpu" not in devices:
        problems.append(f"devices() = {devices!r}: it must include 'cpu'")
    try:
        specs = list(adapter.entry_points())
    except Exception as exc:
        _fail(adapter, "entry_points() raised", [f"{type(exc).__name__}: {exc}"])
        return
    if not specs:
        problems.append("entry_points() is empty: declare at least one EntryPointSpec")
    names = [getattr(s, "name", None) for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1}, key=str)
    if dupes:
        problems.append(f"entry point names must be unique; repeated: {dupes}")
    for spec in specs:
        problems += _spec_problems(spec)
    _fail(adapter, "declarations to fix", problems)


def _allowed_target_kinds(op: str) -> tuple[str | None, ...]:
    """The op's target kinds (a binary op's ``Call`` with its kind unset is "probs")."""
    return OP[op].target_kinds


def _spec_problems(spec: Any) -> list[str]:
    if not isinstance(spec, EntryPointSpec):
        return [f"entry_points() holds a {type(spec).__name__}; use lossconform.contract.EntryPointSpec"]
    out: list[str] = []
    where = f"EntryPointSpec({spec.name!r})"
    if not isinstance(spec.name, str) or not spec.name.strip():
        out.append(f"{where}: name must be the function as written in user code")
    if spec.op not in OPS:
        out.append(f"{where}: op {spec.op!r} is not a canonical op; use one of {', '.join(OPS)}")
        return out
    op = OP[spec.op]
    dtypes = tuple(spec.dtypes) if isinstance(spec.dtypes, (tuple, list)) else ()
    if not dtypes:
        out.append(f"{where}: dtypes must be a non-empty tuple of names from {DTYPES}")
    bad = [d for d in dtypes if d not in DTYPES]
    if bad:
        out.append(f"{where}: unknown dtypes {bad}; valid names: {', '.join(DTYPES)}")
    caps = spec.capabilities
    if not isinstance(caps, Capabilities):
        out.append(f"{where}: capabilities must be a lossconform.contract.Capabilities")
        return out
    kinds = tuple(caps.target_kinds)
    allowed = _allowed_target_kinds(spec.op)
    wrong = [k for k in kinds if k not in allowed]
    if wrong or not any(k in op.target_kinds for k in kinds):
        out.append(f"{where}: capabilities.target_kinds={kinds!r}, but {spec.op} takes "
                   f"{op.target_kinds!r} (declare Capabilities(target_kinds=...) from those)")
    opts = [o for o in caps.options if o not in OPTION_NAMES]
    if opts:
        out.append(f"{where}: capabilities.options has unknown names {sorted(opts)}; valid: "
                   f"{', '.join(OPTION_NAMES)}")
    reds = tuple(caps.reductions)
    if not reds or any(r not in ALL_REDUCTIONS for r in reds):
        out.append(f"{where}: capabilities.reductions={reds!r}; use a non-empty subset of "
                   f"{ALL_REDUCTIONS}")
    elif not op.is_loss and reds != ("none",):
        out.append(f"{where}: {spec.op} is not a loss; capabilities.reductions must be ('none',)")
    if caps.class_axes not in CLASS_AXES:
        out.append(f"{where}: capabilities.class_axes={caps.class_axes!r}; use ANY_AXIS, "
                   "LAST_AXIS or AXIS_1 from lossconform.contract")
    if "cpu" not in tuple(caps.devices):
        out.append(f"{where}: capabilities.devices={tuple(caps.devices)!r} must include 'cpu'")
    if not isinstance(caps.gradient, bool):
        out.append(f"{where}: capabilities.gradient must be True or False")
    if not isinstance(caps.gradient_reason, str) or (caps.gradient_reason and caps.gradient):
        out.append(f"{where}: capabilities.gradient_reason is a sentence, given only with "
                   "gradient=False")
    extra = [k for k in caps.missing_option_reasons if k not in OPTION_NAMES]
    if extra:
        out.append(f"{where}: missing_option_reasons has unknown options {sorted(extra)}")
    return out


@pytest.mark.parametrize("fw", _framework_params())
def test_convention_sources(fw: str) -> None:
    """convention_sources: topic (lossconform.probes.TOPICS) -> a non-empty source string
    with a link, for every topic the plug-in's entry points have probes for; the pins file,
    if declared, is readable."""
    from lossconform.probes import TOPICS, applicable

    adapter = _adapter(fw)
    src = adapter.convention_sources
    problems: list[str] = []
    if not isinstance(src, Mapping):
        _fail(adapter, "convention_sources", [f"convention_sources is a {type(src).__name__}; "
                                              "make it a dict topic -> source string"])
    for topic, text in src.items():
        if topic not in TOPICS:
            problems.append(f"{topic!r} is not a probe topic ({', '.join(TOPICS)})")
        if not isinstance(text, str) or "http" not in text:
            problems.append(f"{topic!r}: {text!r} must be a string with a link (source at a "
                            "release tag, API page or upstream issue)")
    probed = {p.topic for _, p in applicable(adapter)}
    for topic in sorted(probed - set(src)):
        problems.append(f"{topic!r}: the probes observe it on your entry points; say where "
                        "the framework documents it")
    try:
        adapter.convention_pins
    except ValueError as exc:
        problems.append(str(exc))
    _fail(adapter, "convention sources to fix", problems)


@pytest.mark.parametrize("fw", _framework_params())
def test_divergence_entries_belong(fw: str) -> None:
    """each divergence entry is a Divergence of this framework, keyed on a reported package."""
    adapter = _adapter(fw)
    versions = dict(adapter.versions())
    problems: list[str] = []
    for d in adapter.divergences:
        if not isinstance(d, Divergence):
            problems.append(f"{d!r} is a {type(d).__name__}; use lossconform.divergences.Divergence")
            continue
        if d.framework != adapter.framework:
            problems.append(f"{d.id}: framework={d.framework!r}, but it is declared by the "
                            f"{adapter.framework!r} plug-in; set framework={adapter.framework!r}")
        key = d.package or d.framework
        if key not in versions:
            problems.append(f"{d.id}: package {key!r} is not a key of versions() "
                            f"({sorted(versions)}); add it to versions() or fix package=")
    _fail(adapter, "divergence entries to fix", problems)


# -- every entry point is called --------------------------------------------------------------
def _first_supported(adapter: Adapter, spec: EntryPointSpec, dtype: str, seed: int
                     ) -> list[tuple[Case, Call]]:
    """Per target kind of the op: the first case (small ones first) the entry point supports."""
    mine = [c for c in CASES if c.op == spec.op and dtype in c.dtypes]
    ordered = sorted(mine, key=lambda c: not (0 < int(np.prod(c.shape)) <= SMALL))
    found: dict[Any, tuple[Case, Call]] = {}
    for case in ordered:
        if case.target_kind in found:
            continue
        call = case.call(dtype, seed=seed, device=DEVICE)
        if adapter.unsupported(spec.name, call) is None:
            found[case.target_kind] = (case, call)
    return list(found.values())


def _calls(adapter: Adapter, spec: EntryPointSpec, dtypes: tuple[str, ...], seed: int
           ) -> list[tuple[Case, Call]]:
    calls, empty = [], []
    for dtype in dtypes:
        found = _first_supported(adapter, spec, dtype, seed)
        calls += found
        if not found:
            empty.append(dtype)
    if empty:
        pytest.fail(f"{spec.name}: declares dtype(s) {', '.join(empty)} but unsupported() rejects "
                    f"every case of op {spec.op!r} in them (e.g. "
                    f"{_a_reason(adapter, spec, empty[0], seed)}); fix the entry point's dtypes, "
                    "capabilities or extra_unsupported", pytrace=False)
    return calls


def _a_reason(adapter: Adapter, spec: EntryPointSpec, dtype: str, seed: int) -> str:
    for case in CASES:
        if case.op == spec.op:
            return repr(adapter.unsupported(spec.name, case.call(dtype, seed=seed, device=DEVICE)))
    return f"no case of op {spec.op!r} in lossconform.cases"


def _selected_dtypes(request: pytest.FixtureRequest, spec: EntryPointSpec) -> tuple[str, ...]:
    dtypes = tuple(d for d in getattr(request.config, "lc_dtypes", DTYPES) if d in spec.dtypes)
    if not dtypes:
        pytest.skip(f"{spec.name} declares none of the selected dtypes")
    return dtypes


def _evaluate(adapter: Adapter, spec: EntryPointSpec, case: Case, call: Call) -> Evaluation:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ev = adapter.evaluate(spec.name, call)
        except Exception as exc:
            pytest.fail(f"{spec.name} raised {type(exc).__name__}: {exc} on the valid call of case "
                        f"{case.id} in {call.dtype} (unsupported() accepted it: either make "
                        "evaluate handle it or make unsupported() return the reason)", pytrace=False)
    return ev


def _deviation_explained(adapter: Adapter, name: str, call: Call, kind: str, out: Output) -> bool:
    """A registered divergence entry accounts for a shape/dtype other than the canonical one."""
    found = candidates(adapter, name, call, kind)
    if not found:
        return False
    tol = tolerance(call.dtype, kind)
    if explain(found, call, kind, out.value, tol, natural_scale(call, kind)) is not None:
        return True
    for d in found:
        if d.compute_dtype and d.compute_dtype == out.dtype:
            try:
                fwd, grad = d.model(call)
            except Exception:
                continue
            model = fwd if kind == "forward" else grad
            if model is not None and np.shape(model) == np.shape(out.value):
                return True
    return False


def _output_problems(what: str, out: Any) -> list[str]:
    if not isinstance(out, Output):
        return [f"{what} is a {type(out).__name__}; return lossconform.contract.Output(value, dtype)"]
    problems = []
    if not isinstance(out.value, np.ndarray) or out.value.dtype != np.float64:
        problems.append(f"{what}.value must be a float64 NumPy array (upcast exactly with "
                        f".astype(np.float64)), got {type(out.value).__name__} "
                        f"{getattr(out.value, 'dtype', '')}")
    if out.dtype not in DTYPES:
        problems.append(f"{what}.dtype={out.dtype!r} is not a dtype name ({', '.join(DTYPES)})")
    return problems


@pytest.mark.parametrize(("fw", "entry_point"), _entry_point_params())
def test_entry_point_is_called(fw: str, entry_point: str, lc_seed: int,
                               request: pytest.FixtureRequest) -> None:
    """each declared dtype runs; forward shape and dtype canonical (or a registered divergence);
    the gradient has x's shape."""
    adapter = _adapter(fw)
    spec = _spec(adapter, entry_point)
    problems: list[str] = []
    for case, call in _calls(adapter, spec, _selected_dtypes(request, spec), lc_seed):
        ev = _evaluate(adapter, spec, case, call)
        at = f"case {case.id} in {call.dtype}"
        if not isinstance(ev, Evaluation):
            problems.append(f"{at}: evaluate returned a {type(ev).__name__}; return "
                            "lossconform.contract.Evaluation(forward, gradient)")
            continue
        bad = _output_problems("forward", ev.forward)
        if bad:
            problems += [f"{at}: {b}" for b in bad]
            continue
        want = output_shape(call)
        want_dtype = spec.capabilities.output_dtype or call.dtype
        shape_ok = ev.forward.value.shape == want
        dtype_ok = ev.forward.dtype == want_dtype
        if not (shape_ok and dtype_ok) and not _deviation_explained(
                adapter, entry_point, call, "forward", ev.forward):
            if not shape_ok:
                problems.append(f"{at}: forward has shape {ev.forward.value.shape}, canonical "
                                f"{want}; fix the adapter (axis/reduction handling) or register "
                                "a divergence entry whose model gives that shape")
            if not dtype_ok:
                problems.append(f"{at}: forward comes back in {ev.forward.dtype}, declared "
                                f"{want_dtype} (capabilities.output_dtype, or the call's dtype); "
                                "declare the fixed output dtype, pass the call's dtype to the "
                                "framework, or register a divergence entry (compute_dtype=...)")
        if ev.gradient is not None:
            bad = _output_problems("gradient", ev.gradient)
            if bad:
                problems += [f"{at}: {b}" for b in bad]
            elif ev.gradient.value.shape != call.x.shape:
                problems.append(f"{at}: gradient has shape {ev.gradient.value.shape}; it must "
                                f"have x's shape {call.x.shape} (d<out, grad_output>/dx)")
    _fail(adapter, f"{entry_point} does not keep the contract", problems)


# -- repro snippets ----------------------------------------------------------------------------
def _max_ulp(actual: np.ndarray, expected: np.ndarray, dtype: str) -> float:
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    same_nonfinite = (np.isnan(a) == np.isnan(e)) & (np.isposinf(a) == np.isposinf(e)) & \
        (np.isneginf(a) == np.isneginf(e))
    if not np.all(same_nonfinite):
        return float("inf")
    fin = np.isfinite(e)
    if not np.any(fin):
        return 0.0
    with np.errstate(all="ignore"):
        err = np.abs(a[fin] - e[fin]) / ulp(e[fin], dtype if dtype in DTYPES else "float64")
    return float(np.max(err))


_ISOLATED: dict[tuple, dict[tuple[str, str, str], dict[str, Any]]] = {}


def _isolated_values(fw: str, seed: int, dtypes: tuple[str, ...]
                     ) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every repro snippet of an isolated plug-in, run in one fresh interpreter (one framework
    start-up per test process instead of one per entry point): (entry point, case id, dtype)
    -> what ``snippet_values`` gives."""
    key = (fw, seed, dtypes)
    if key not in _ISOLATED:
        adapter = _adapter(fw)
        keys, snippets = [], []
        for spec in adapter.entry_points():
            try:
                calls = _calls(adapter, spec, tuple(d for d in dtypes if d in spec.dtypes), seed)
            except pytest.fail.Exception:  # that entry point's own test says why
                continue
            for case, call in calls:
                keys.append((spec.name, case.id, call.dtype))
                snippets.append((repro_snippet(case, spec.name, adapter, call, seed), spec.name))
        _ISOLATED[key] = dict(zip(keys, snippet_values(adapter, snippets)))
    return _ISOLATED[key]


@pytest.mark.parametrize(("fw", "entry_point"), _entry_point_params())
def test_repro_reproduces(fw: str, entry_point: str, lc_seed: int,
                          request: pytest.FixtureRequest) -> None:
    """the repro snippet runs on its own and leaves ``out``/``grad`` equal to evaluate's values."""
    adapter = _adapter(fw)
    spec = _spec(adapter, entry_point)
    problems: list[str] = []
    runs = []
    for case, call in _calls(adapter, spec, _selected_dtypes(request, spec), lc_seed):
        runs.append((case, call, _evaluate(adapter, spec, case, call),
                     repro_snippet(case, entry_point, adapter, call, lc_seed)))
    if adapter.isolated:  # the framework must not be imported here: a fresh interpreter
        dtypes = tuple(getattr(request.config, "lc_dtypes", DTYPES))
        batch = _isolated_values(fw, lc_seed, dtypes)
        values = [batch[(entry_point, case.id, call.dtype)] for case, call, *_ in runs]
    else:
        values = snippet_values(adapter, [(snippet, entry_point) for *_, snippet in runs])
    for (case, call, ev, snippet), got_vars in zip(runs, values):
        at = f"case {case.id} in {call.dtype}"
        if "error" in got_vars:
            problems.append(f"{at}: the repro snippet raised {got_vars['error']}; fix "
                            f"repro() so it runs on its own:\n{_indent(snippet)}")
            continue
        wanted = [("out", ev.forward)]
        if call.grad_output is not None and ev.gradient is not None:
            wanted.append(("grad", ev.gradient))
        for var, output in wanted:
            if var not in got_vars:
                problems.append(f"{at}: the repro snippet leaves no variable {var!r}; repro() "
                                f"must assign the {'forward result' if var == 'out' else 'gradient'} "
                                f"to {var!r}:\n{_indent(snippet)}")
                continue
            got, held, why = got_vars[var]
            if why is not None:
                problems.append(f"{at}: {why}; override Adapter.to_numpy for the framework's "
                                "values")
                continue
            if held is not None and held != output.dtype:
                problems.append(f"{at}: the repro's {var!r} is {held}, evaluate's is "
                                f"{output.dtype}; repro() must run in the same dtype:\n"
                                f"{_indent(snippet)}")
                continue
            dist = _max_ulp(got, output.value, output.dtype)
            if not dist <= REPRO_ULP:
                problems.append(
                    f"{at}: the repro's {var!r} differs from evaluate's (shape {got.shape} vs "
                    f"{output.value.shape}, max {dist:.3g} ULP of {output.dtype}, allowed "
                    f"{REPRO_ULP}); repro() must make exactly the call evaluate() makes:\n"
                    f"{_indent(snippet)}\n    repro {var}: {_head(got)}\n    evaluate: "
                    f"{_head(output.value)}")
    _fail(adapter, f"repro snippets of {entry_point} to fix", problems)


def _indent(text: str) -> str:
    return "    " + text.rstrip().replace("\n", "\n    ")


def _head(a: np.ndarray) -> str:
    return np.array2string(np.asarray(a).reshape(-1)[:6], precision=9)


# -- invalid-input rows -----------------------------------------------------------------------
@pytest.mark.parametrize("fw", _framework_params())
def test_invalid_outcome_rows(fw: str) -> None:
    """every applicable invalid-input cell has a row; rows are well formed."""
    adapter = _adapter(fw)
    problems: list[str] = []
    for row in adapter.invalid_outcomes:
        if not isinstance(row, InvalidOutcome):
            problems.append(f"{row!r} is a {type(row).__name__}; use lossconform.contract.InvalidOutcome")
            continue
        for field in ("entry_point", "target_kind", "case"):
            try:
                re.compile(getattr(row, field))
            except (re.error, TypeError) as exc:
                problems.append(f"{row!r}: {field} is not a regular expression ({exc})")
        if not OUTCOME.match(str(row.outcome)):
            problems.append(f"{row!r}: outcome must be 'raises:<ExceptionType>' or one of "
                            "silent-nan, silent-partial-nan, silent-inf, silent-finite, silent-empty")
    if problems:
        _fail(adapter, "invalid_outcomes rows to fix", problems)
    missing: list[str] = []
    for spec in adapter.entry_points():
        for kind in I.target_kinds(adapter, spec):
            for case in I.CASES:
                if not case.applies(spec.op, kind):
                    continue
                call = case.build(I.valid_call(spec.op, kind))
                if adapter.unsupported(spec.name, call) is not None:
                    continue
                if I.expected_outcome(adapter, spec.name, kind, case.name) is not None:
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    got = I.run_cell(adapter, spec.name, call)
                missing.append(_row(spec.name, kind, case.name, got))
        fn = adapter.float_label_call(spec.name)
        if fn is not None and I.expected_outcome(adapter, spec.name, "index",
                                                 "float_labels") is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = I.run_direct(fn)
            missing.append(_row(spec.name, "index", "float_labels", got))
    if missing:
        problems.append(
            f"{len(missing)} invalid-input cell(s) have no matching invalid_outcomes row. If the "
            "observed outcomes below are what the framework should do, add these rows to the "
            "plug-in's invalid_outcomes (first match wins; merge them with regexes as you like):\n"
            + "\n".join(missing))
    _fail(adapter, "invalid-input table incomplete", problems)


def _row(entry_point: str, kind: str | None, case: str, got: I.CellResult) -> str:
    return (f"    InvalidOutcome({re.escape(entry_point)!r}, {str(kind)!r}, {case!r}, "
            f"{got.outcome!r}),  # {got.message}")


# -- across plug-ins ---------------------------------------------------------------------------
def test_entry_point_names_are_unique_across_plug_ins() -> None:
    """Records, the report's views and merged runs tell entry points apart by name: two
    plug-ins (say one library run on two backends) must name theirs differently, e.g. with
    the backend appended as the user would say it (``lib.loss@backend``)."""
    owners: dict[str, list[str]] = {}
    for fw, adapter in _ADAPTERS.items():
        try:
            names = {s.name for s in adapter.entry_points()}
        except Exception:  # reported by test_declarations
            continue
        for name in names:
            owners.setdefault(name, []).append(fw)
    shared = {name: fws for name, fws in owners.items() if len(fws) > 1}
    assert not shared, ("entry point names used by more than one plug-in (rename them in "
                        "all but one): " + "; ".join(f"{n!r}: {', '.join(f)}"
                                                     for n, f in sorted(shared.items())))
