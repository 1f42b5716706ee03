"""Findings and the registry's words, proved.

* Every finding (a divergence that is a bug, ``Divergence.finding``) is complete: a repro that
  imports only its framework, the measured and correct values, the upstream status.
* Its repro runs standalone, the way a maintainer would run it: a fresh ``python -I`` from a
  temporary directory outside the checkout, every import of this project refused; what it
  prints equals the recorded ``measured``. The repros of one framework share one such
  interpreter (lossconform.findings.run_repros: fresh globals and folder each; the framework
  is imported once, not once per repro). When it no
  longer does (fixed upstream, or changed), the test says so instead of passing quietly.
* ``correct`` is what the reference (or mpmath) computes, and ``measured`` differs from it
  beyond the tolerance for the repro's dtype: a finding is a real departure.
* Every ``Observed`` fact of every entry (NaN here, 0 there, finite) holds on the framework's
  output for its call, on every entry point it concerns: a record is never attributed to an
  entry whose text contradicts what the framework returns. An entry whose title says it
  returns NaN, inf or 0 must pin that with an ``Observed`` fact.

Expected values come from the reference or mpmath, never from the framework under test. A
framework that is not installed (or whose version is outside the entry's) is a visible skip.
"""
from __future__ import annotations

import fnmatch
import importlib.util
import re
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from lossconform.divergences import Divergence, registry
from lossconform.divergences.entry import KINDS, Finding, Observed, classify
from lossconform.dtypes import DTYPES
from lossconform.findings import (collect, differs, imported_modules, parse_values,
                                  project_modules, run_repro, run_repros)
from lossconform.harness.compare import compare
from lossconform.harness.tolerances import tolerance
from lossconform.plugins import load_adapters

REGISTRY = registry()
FINDINGS = collect(REGISTRY)
#: how close a repro's printed values must be to the recorded ``measured`` (the same build
#: prints the same digits; another CPU may differ in the last bits)
MEASURED_RTOL = 1e-6
#: how close the recorded ``correct`` must be to the reference's value (it is printed with
#: repr, full precision)
CORRECT_RTOL = 1e-12
ALLOWED_IMPORTS = frozenset(sys.stdlib_module_names) | {"numpy"}


@lru_cache(maxsize=None)
def _adapters():
    return load_adapters()


def _finding_params() -> list:
    return [pytest.param(d, f, id=d.id, marks=pytest.mark.framework(d.framework))
            for d, f in FINDINGS]


def _ready(div: Divergence, framework: str | None = None):
    """The adapter of ``framework`` (default: the entry's), or a skip saying why it cannot run;
    for the entry's own framework, also a skip when its version is outside the entry's."""
    name = framework or div.framework
    ad = _adapters().get(name)
    if ad is None:
        pytest.skip(f"no adapter for framework {name!r}")
    why = ad.available()
    if why:
        pytest.skip(why)
    if name == div.framework and not div.matches_versions(ad.versions()):
        key = div.package or div.framework
        pytest.skip(f"{key} {ad.versions().get(key)} is outside {div.versions!r} for {div.id}")
    return ad


# ----------------------------------------------------------------------------- findings
def test_there_are_findings_to_report() -> None:
    """The built-in plug-ins (those shipped inside lossconform.adapters) bring at least 8
    findings between them (issue 10)."""
    builtin = {name for name, ad in _adapters().items()
               if type(ad).__module__.startswith("lossconform.adapters.")
               and not type(ad).__module__.startswith("lossconform.adapters._template")}
    if not builtin:
        pytest.skip("no built-in plug-in is loaded")
    n = sum(1 for d, _ in FINDINGS if d.framework in builtin)
    assert n >= 8, f"only {n} findings in the built-in plug-ins {sorted(builtin)}"


@pytest.mark.parametrize("div,finding", _finding_params())
def test_finding_is_complete(div: Divergence, finding: Finding) -> None:
    assert isinstance(finding, Finding)
    for name in ("title", "repro", "measured", "measured_on", "correct", "status", "dtype"):
        assert str(getattr(finding, name)).strip(), f"{div.id}: finding has an empty {name}"
    assert finding.kind in KINDS, f"{div.id}: finding kind {finding.kind!r}"
    assert finding.dtype in DTYPES, f"{div.id}: finding dtype {finding.dtype!r}"
    assert finding.upstream is None or re.match(r"https://\S+$", finding.upstream), \
        f"{div.id}: upstream must be an https URL or None, got {finding.upstream!r}"
    assert finding.requires, f"{div.id}: the finding names no module its repro needs"
    mods = imported_modules(finding.repro)  # also: the repro parses
    own = set(project_modules())
    assert not mods & own, f"{div.id}: the repro imports suite modules {sorted(mods & own)}"
    extra = mods - ALLOWED_IMPORTS - set(finding.requires)
    assert not extra, (f"{div.id}: the repro imports {sorted(extra)}, not in requires "
                       f"{finding.requires} (nor the standard library or NumPy)")
    assert set(finding.requires) <= mods, \
        f"{div.id}: requires {finding.requires} but the repro imports {sorted(mods)}"
    parse_values(finding.measured)  # a printed list of numbers
    if not finding.correct_is_error:
        parse_values(finding.correct)


def _pins_needed(div: Divergence) -> bool:
    return bool(_NONFINITE_WORDS.search(div.title))


@pytest.mark.parametrize("div,finding", _finding_params())
def test_finding_correct_value_is_the_reference(div: Divergence, finding: Finding) -> None:
    """``correct`` is what the reference (or mpmath) computes, and ``measured`` is not it."""
    if finding.correct_is_error:
        with pytest.raises(ValueError):
            finding.reference()
        return
    ref = np.asarray(finding.reference(), dtype=np.float64).ravel()
    rec = parse_values(finding.correct)
    assert not differs(rec, ref, CORRECT_RTOL), (
        f"{div.id}: the recorded correct value {finding.correct} is not what the reference "
        f"computes: {ref.tolist()}")
    measured = parse_values(finding.measured)
    tol = tolerance(finding.dtype, finding.kind)
    same = measured.shape == ref.shape and compare(measured, ref, finding.dtype, tol).ok
    assert not same, (f"{div.id}: measured {finding.measured} is within the {finding.dtype} "
                      f"tolerance ({tol.rtol:.3g} rel) of the correct {finding.correct}: not a "
                      f"finding")


@pytest.mark.slow  # the first of a framework's findings starts their shared interpreter
@pytest.mark.parametrize("div,finding", _finding_params())
def test_finding_repro_runs_standalone(div: Divergence, finding: Finding) -> None:
    missing = [m for m in finding.requires if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{div.id}: {', '.join(missing)} not installed")
    ad = _ready(div)
    run = _repro_runs(div.framework)[div.id]
    assert run.returncode == 0, f"{div.id}: the repro failed\n{run.describe()}"
    assert Path(run.cwd).resolve() not in Path(__file__).resolve().parents
    got = run.values
    want = parse_values(finding.measured)
    assert not differs(got, want, MEASURED_RTOL), (
        f"{div.id}: the repro now prints {run.line} on {ad.framework} {ad.version()}, the "
        f"finding records {finding.measured} (measured on {finding.measured_on}); "
        + ("it is fixed: the correct value is " + finding.correct
           + " (update the finding and the registry)"
           if not finding.correct_is_error and not differs(
               got, np.asarray(finding.reference(), np.float64).ravel(), 1e-6)
           else "update the finding"))


@lru_cache(maxsize=None)
def _repro_runs(framework: str) -> dict:
    """Every runnable finding repro of ``framework`` (installed requirements, version inside
    the entry's), run once per process in one interpreter: entry id -> ReproRun."""
    ad = _adapters().get(framework)
    versions = ad.versions() if ad is not None and not ad.available() else {}
    todo = [(d, f) for d, f in FINDINGS if d.framework == framework
            and all(importlib.util.find_spec(m) is not None for m in f.requires)
            and d.matches_versions(versions)]
    runs = run_repros([f.repro for _, f in todo])
    return {d.id: run for (d, _), run in zip(todo, runs)}


# ----------------------------------------------------------------------------- the repro runner
def test_a_repro_cannot_import_the_suite() -> None:
    run = run_repro("import lossconform\nprint([1.0])\n")
    assert run.returncode != 0 and "must not import 'lossconform'" in run.stderr, run.describe()
    assert run.command[1] == "-I"
    repo = Path(__file__).resolve().parents[2]
    assert repo not in Path(run.cwd).resolve().parents


def test_batched_repros_are_apart() -> None:
    """In one interpreter, each repro has its own globals, folder and output; a failure or an
    exit ends only that repro; the suite's modules are refused to each."""
    runs = run_repros(["import os\nsecret = 1\nprint([len(os.listdir('.'))])\n",
                       "print([secret])\n", "raise SystemExit(3)\n", "import lossconform\n",
                       "import math\nprint([math.inf])\n"])
    assert [r.returncode for r in runs] == [0, 1, 3, 1, 0], [r.describe() for r in runs]
    assert runs[0].values.tolist() == [1.0]  # only its own repro.py in its folder
    assert "NameError" in runs[1].stderr and "must not import 'lossconform'" in runs[3].stderr
    assert runs[4].values.tolist() == [np.inf]
    assert len({r.cwd for r in runs}) == 5


def test_a_repro_prints_its_values() -> None:
    run = run_repro("import math\nprint([[math.nan, 0.0], [math.inf, -1e-3]])\n")
    assert run.returncode == 0, run.describe()
    v = run.values
    assert np.isnan(v[0]) and v[1] == 0.0 and v[2] == np.inf and v[3] == -1e-3


@pytest.mark.parametrize("text,values", [
    ("[nan, 0.0, inf, -inf]", [np.nan, 0.0, np.inf, -np.inf]),
    ("[[1.5e-3], [2]]", [1.5e-3, 2.0]), ("[]", []), ("0.25", [0.25]),
])
def test_parse_values(text: str, values: list) -> None:
    got = parse_values(text)
    assert got.shape == (len(values),)
    np.testing.assert_array_equal(got, np.array(values, dtype=np.float64))


@pytest.mark.parametrize("text", ["tensor([1.0])", "[1, 'a']", "[__import__]"])
def test_parse_values_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError):
        parse_values(text)


def test_differs() -> None:
    assert not differs(np.array([np.nan, 1.0, np.inf]), np.array([np.nan, 1.0, np.inf]), 0)
    assert differs(np.array([np.nan, 1.0]), np.array([0.0, 1.0]), 1e-3)
    assert differs(np.array([np.inf]), np.array([-np.inf]), 1e-3)
    assert differs(np.array([]), np.array([0.0]), 1e-3)
    assert differs(np.array([1.0]), np.array([1.01]), 1e-3)
    assert not differs(np.array([1.0]), np.array([1.0000001]), 1e-6)


# ----------------------------------------------------------------------------- observed facts
#: words in a title that state what the framework returns: such an entry pins them
_NONFINITE_WORDS = re.compile(r"\bnan\b|\binf\b|\bis 0\b|\bgives 0\b", re.I)


@pytest.mark.parametrize("div", [pytest.param(d, id=d.id, marks=pytest.mark.framework(d.framework))
                                 for d in REGISTRY])
def test_nonfinite_claims_are_pinned(div: Divergence) -> None:
    """Observed facts are well formed; a finding whose title says the framework returns NaN,
    inf or 0 carries an Observed fact for it, so the claim is checked against the framework
    through the adapter, not only stated (other entries may declare facts)."""
    if div.finding is not None and _pins_needed(div):
        assert div.observed, (f"{div.id}: its title ({div.title!r}) states what the framework "
                              f"returns; pin it with an Observed fact")
    for o in div.observed:
        assert isinstance(o, Observed) and o.kind in KINDS and o.claim.strip()
        toks = o.tokens()
        assert all(t in ("nan", "+inf", "-inf", "0", "+", "-", "finite", "*", "...")
                   for t in toks), f"{div.id}: bad pattern {o.pattern!r}"
        assert "..." not in toks[:-1], f"{div.id}: '...' only ends a pattern: {o.pattern!r}"


def _observed_params() -> list:
    out = []
    for d in REGISTRY:
        for i, o in enumerate(d.observed):
            fw = o.framework or d.framework
            ad = _adapters().get(fw)
            pats = o.entry_points or d.entry_points
            call_op = (o.call or d.example)().op
            names = [] if ad is None else [
                e.name for e in ad.entry_points()
                if e.op == call_op and any(fnmatch.fnmatchcase(e.name, p) for p in pats)]
            for ep in names or ["<none>"]:
                slug = re.sub(r"[^A-Za-z0-9_=.-]", "_", ep)
                out.append(pytest.param(d, i, fw, ep, id=f"{d.id}-{i}-{slug}",
                                        marks=pytest.mark.framework(fw)))
    return out


@pytest.mark.parametrize("div,index,framework,entry_point", _observed_params())
def test_observed_fact_holds(div: Divergence, index: int, framework: str,
                             entry_point: str) -> None:
    obs = div.observed[index]
    ad = _ready(div, framework)
    if entry_point == "<none>":
        pytest.fail(f"{div.id}: observed fact {index} ({obs.claim!r}) matches no entry point of "
                    f"{framework}")
    call = (obs.call or div.example)()
    why = ad.unsupported(entry_point, call)
    if why:
        pytest.skip(f"{entry_point} cannot express the call of {div.id}'s fact {index}: {why}")
    if obs.kind == "gradient":
        assert call.grad_output is not None, f"{div.id}: a gradient fact on a call without " \
                                             f"grad_output"
    ev = ad.evaluate(entry_point, call)
    out = ev.forward if obs.kind == "forward" else ev.gradient
    assert out is not None, f"{div.id}: {entry_point} returned no {obs.kind}"
    got = classify(out.value)
    shown = " ".join(got) if len(got) <= 24 else f"{len(got)} values: {sorted(set(got))}"
    assert obs.matches(out.value), (
        f"{div.id}: its text says {obs.claim!r}, but {framework} {ad.version()} "
        f"{entry_point} ({obs.kind}, {call.dtype}) gives {shown!r} where the entry declares "
        f"{obs.pattern!r}: correct the entry's explanation (and this fact)")


def test_observed_patterns() -> None:
    v = np.array([[np.nan, 0.0, 2.0], [-np.inf, -1.0, np.inf]])
    assert classify(v) == ["nan", "0", "+", "-inf", "-", "+inf"]
    assert Observed("forward", "nan 0 + | -inf - +inf", "c").matches(v)
    assert Observed("forward", "nan finite * | * finite *", "c").matches(v)
    assert not Observed("forward", "nan 0 + | -inf - +inf +", "c").matches(v)  # size
    assert not Observed("forward", "nan nan nan | * * *", "c").matches(v)
    assert Observed("gradient", "0 ...", "c").matches(np.zeros(5))
    assert not Observed("gradient", "0 ...", "c").matches(np.array([0.0, 1.0]))
    assert Observed("forward", "", "c").matches(np.zeros((0,)))
    assert not Observed("forward", "", "c").matches(np.zeros(1))
