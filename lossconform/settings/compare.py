"""A setting's outcomes against the baseline's and against the float64 reference: records.

For every call of the slice, each output (forward, gradient) is compared

* with the baseline's output of the same call (same process start, same inputs, without the
  setting): bitwise identical, or how many elements differ and by how many ULP of the dtype
  (at the output's largest value),
  whether the pattern of NaN/inf changed, whether an exception appeared, vanished or changed;
* with the reference, exactly as the matrix does (``lossconform.harness``: the tolerance of
  the dtype, then the plug-in's divergence models).

One record per call (kind ``setting``): ``observed`` says what changed against the baseline in
one line (parts ``"<output> <state>[ details]"`` joined by "; ", states in ``STATES``,
``parse_observed`` reads them back); the verdict, errors and tolerance used are those of the
check under the setting. A ``fail`` that the baseline also fails is kept as it is (the matrix
already reports it) but is not the setting's: only new fails fail the setting's test.
Probe observations are compared as text: one record per (probe, entry point), ``unchanged``
or ``changed`` (a changed observation is a convention that depends on the setting: ``fail``
unless the setting declares it in ``Setting.expected_changes``). A check that fails only
under the setting fails the setting's test, unless ``expected_changes`` declares it with a
pattern ``check:<entry point>:<case id>:<dtype>:<kind>`` (``check_key``) and its reason and source:
then its record is a ``divergence`` carrying that reason.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from lossconform import reference
from lossconform.cases import BY_ID
from lossconform.contract import Adapter, Setting
from lossconform.divergences import candidates, explain
from lossconform.dtypes import DTYPES, ulp
from lossconform.harness.check import check_tolerance, natural_scale, repro_snippet
from lossconform.harness.compare import compare as compare_values
from lossconform.harness.tolerances import tolerance
from lossconform.record import SEVERITY, CheckRecord

from .observe import Observation, Outcome, call_for
from .slice import Item

#: What happened to one output under the setting, against the baseline (``observed`` parts).
STATES: tuple[str, ...] = ("identical", "differs", "non-finite pattern differs",
                           "dtype differs", "shape differs", "raises", "error differs",
                           "no longer raises", "missing")
#: the states that mean "not bitwise identical"
CHANGED_STATES = frozenset(STATES) - {"identical"}
PROBE_STATES: tuple[str, ...] = ("unchanged", "changed", "changed in the sign of a zero only",
                                 "not expressible")


def parse_observed(text: str | None) -> dict[str, str]:
    """``observed`` of a slice record -> {output: state}, e.g. {"forward": "identical",
    "gradient": "differs"}; an empty dict for other text."""
    out: dict[str, str] = {}
    for part in (text or "").split("; "):
        head, _, rest = part.partition(" ")
        if head not in ("forward", "gradient", "call"):
            continue
        state = max((s for s in STATES if rest.startswith(s)), key=len, default=None)
        if state:
            out[head] = state
    return out


def probe_state(text: str | None) -> str | None:
    """``observed`` of a probe record -> its state (``PROBE_STATES``), or None."""
    head = (text or "").split(":", 1)[0]
    return head if head in PROBE_STATES else None


@dataclass
class SettingResult:
    setting: str
    records: list[CheckRecord] = field(default_factory=list)
    new_failures: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


# -- one output against the baseline's ---------------------------------------------------------
def _against_baseline(kind: str, base: np.ndarray | None, bdt: str | None,
                      got: np.ndarray | None, gdt: str | None, dtype: str) -> tuple[str, dict]:
    """(observed part, facts) for one output; ``dtype``: the precision the ULP are counted in
    (see ``_ulp_dtype``)."""
    if got is None and base is None:
        return "", {}
    if got is None:
        return f"{kind} missing (the baseline has one)", {"changed": True}
    if base is None:
        return f"{kind} missing in the baseline", {"changed": True}
    if base.shape != got.shape:
        return f"{kind} shape differs: {list(got.shape)} (baseline {list(base.shape)})", {"changed": True}
    if bdt != gdt:
        return f"{kind} dtype differs: {gdt} (baseline {bdt})", {"changed": True}
    if np.array_equal(base, got, equal_nan=True) and np.array_equal(np.signbit(base), np.signbit(got)):
        return f"{kind} identical", {"changed": False}
    same_nf = ((np.isnan(base) == np.isnan(got)) & (np.isposinf(base) == np.isposinf(got))
               & (np.isneginf(base) == np.isneginf(got)))
    fin = np.isfinite(base) & np.isfinite(got)
    # ULP at the output's scale (its largest finite magnitude): an element that cancels to
    # nearly 0 would otherwise count millions of its own tiny ULPs for a rounding difference
    scale = float(np.max(np.abs(base[fin]))) if fin.any() else 0.0
    with np.errstate(all="ignore"):
        diff = np.where(fin, np.abs(got - base), 0.0)
        ulps = np.where(diff == 0, 0.0, diff / ulp(np.full(base.shape, scale), dtype))
    n_diff = int(np.count_nonzero((diff != 0) | ~same_nf | (np.signbit(base) != np.signbit(got))))
    max_ulp = float(np.max(ulps)) if ulps.size else 0.0
    if not same_nf.all():
        k = int(np.count_nonzero(~same_nf))
        text = (f"{kind} non-finite pattern differs at {k} of {base.size} elements "
                f"(baseline {_nonfinite(base)}, here {_nonfinite(got)})")
        return text, {"changed": True, "nonfinite": k, "max_ulp": max_ulp}
    return (f"{kind} differs at {n_diff} of {base.size} elements, up to {max_ulp:.3g} ULP "
            f"(at the output's scale) from the baseline"), {"changed": True, "max_ulp": max_ulp}


def _ulp_dtype(*dtypes: str | None) -> str:
    """The coarsest of the call's and the outputs' dtypes: the precision the entry point computes
    in (a loss class that computes in float32 returns a float64 call's gradient in float64,
    with float32's resolution)."""
    known = [d for d in dtypes if d in DTYPES]
    return max(known, key=lambda d: float(ulp(np.array(1.0), d)))


def _nonfinite(a: np.ndarray) -> str:
    parts = [(int(np.count_nonzero(np.isnan(a))), "nan"), (int(np.count_nonzero(np.isposinf(a))), "+inf"),
             (int(np.count_nonzero(np.isneginf(a))), "-inf")]
    words = [f"{n} {w}" for n, w in parts if n]
    return ", ".join(words) if words else "all finite"


# -- one output against the reference ------------------------------------------------------------
def _check(adapter: Adapter, item: Item, call: Any, kind: str, value: np.ndarray,
           expected: np.ndarray, versions: Mapping[str, str]) -> dict[str, Any]:
    """The matrix's verdict for one output: tolerance, then the divergence models."""
    tol = check_tolerance(call, kind, expected, item.case.tolerance_overrides)
    floor = natural_scale(call, kind)
    cmp = compare_values(value, expected, item.dtype, tol, floor)
    out: dict[str, Any] = {"verdict": "agree", "cmp": cmp, "tol": tol, "divergence": None,
                           "problem": cmp.problem}
    if not cmp.ok:
        div = explain(candidates(adapter, item.entry_point, call, kind, versions), call, kind,
                      value, tol, floor)
        if div is not None:
            out["verdict"], out["divergence"] = "divergence", div.id
        else:
            out["verdict"] = "fail"
    return out


def _worst(checks: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not checks:
        return None
    return max(checks, key=lambda c: (SEVERITY.index(c["verdict"]),
                                      c["cmp"].tolerance_used if c["cmp"].tolerance_used is not None else -1))


def _outcome_checks(adapter: Adapter, item: Item, call: Any, o: Outcome,
                    expected: tuple[np.ndarray, np.ndarray | None],
                    versions: Mapping[str, str]) -> list[dict[str, Any]]:
    checks = []
    for kind, value, exp in (("forward", o.forward, expected[0]), ("gradient", o.gradient, expected[1])):
        if value is None or exp is None:
            continue
        c = _check(adapter, item, call, kind, value, exp, versions)
        c["kind"] = kind
        checks.append(c)
    return checks


# -- repro ------------------------------------------------------------------------------------
def setting_preamble(setting: Setting) -> str:
    """Lines that put a fresh process under ``setting`` (before the framework is imported)."""
    lines = [f"# under the setting {setting.name!r}: {setting.description}"]
    if setting.env:
        lines.append("# in a fresh Python process, before the framework is imported:")
        lines.append("import os")
        lines += [f"os.environ[{k!r}] = {v!r}" for k, v in setting.env.items()]
    if setting.switch:
        lines.append("# the process-wide switch, once at start:")
        lines.append(setting.switch)
    return "\n".join(lines) + "\n"


# -- a whole setting --------------------------------------------------------------------------
def compare(adapter: Adapter, setting: Setting, base: Observation, obs: Observation, *,
            seed: int = 0, device: str = "cpu", nodeid: str = "") -> SettingResult:
    """Records and new failures for ``obs`` (the run under ``setting``) against ``base``."""
    res = SettingResult(setting.name)
    version = adapter.version()
    versions = adapter.versions()
    facets = dict(obs.facets) or None
    preamble = setting_preamble(setting)
    counts = dict(calls=0, unsupported=0, outputs=0, changed_outputs=0, nonfinite_changes=0,
                  errors_changed=0, new_fails=0, fails=0, divergences=0, probes=0,
                  probes_changed=0, seconds=obs.seconds, baseline_seconds=0.0,
                  max_ulp_vs_baseline=0.0, max_tolerance_used=0.0,
                  max_tolerance_used_baseline=0.0)
    expected_changes = dict(getattr(setting, "expected_changes", None) or {})

    for key, o in obs.outcomes.items():
        b = base.outcomes.get(key)
        case = BY_ID[o.case]
        item = Item(case, o.entry_point, o.dtype)
        call = call_for(item, obs.facets, seed, device)
        common = dict(id=case.id, op=case.op, entry_point=o.entry_point, framework=adapter.framework,
                      framework_version=version, dtype=o.dtype, device=device, kind="setting",
                      case=case.describe(), nodeid=nodeid, setting=setting.name, facets=facets)
        counts["calls"] += 1
        if o.unsupported:
            counts["unsupported"] += 1
            res.records.append(CheckRecord(**common, verdict="unsupported", message=o.unsupported,
                                           observed=f"call missing: unsupported under this setting: {o.unsupported}"))
            continue
        if b is None or b.unsupported:
            counts["unsupported"] += 1
            res.records.append(CheckRecord(**common, verdict="unsupported",
                                           message="the baseline did not make this call",
                                           observed="call missing in the baseline"))
            continue
        counts["baseline_seconds"] += b.seconds
        repro = preamble + repro_snippet(case, o.entry_point, adapter, call, seed)
        expected = reference.evaluate(call)
        parts: list[str] = []
        if o.error or b.error:
            if o.error and b.error:
                parts.append(f"call raises {o.error}" if o.error == b.error
                             else f"call error differs: {o.error} (baseline {b.error})")
            elif o.error:
                parts.append(f"call raises {o.error} (the baseline returns values)")
            else:
                parts.append(f"call no longer raises (baseline {b.error})")
            counts["errors_changed"] += int(o.error != b.error)
        for kind, bv, bdt, gv, gdt in (("forward", b.forward, b.forward_dtype, o.forward, o.forward_dtype),
                                        ("gradient", b.gradient, b.gradient_dtype, o.gradient, o.gradient_dtype)):
            if (o.error or b.error) and (bv is None or gv is None):
                continue
            text, facts = _against_baseline(kind, bv, bdt, gv, gdt,
                                            _ulp_dtype(o.dtype, o.forward_dtype, gdt))
            if not text:
                continue
            parts.append(text)
            counts["outputs"] += 1
            counts["changed_outputs"] += int(facts.get("changed", False))
            counts["nonfinite_changes"] += int(bool(facts.get("nonfinite")))
            counts["max_ulp_vs_baseline"] = max(counts["max_ulp_vs_baseline"], facts.get("max_ulp", 0.0))
        observed = "; ".join(parts)

        if o.error:
            fail_msg = f"raised on a valid input: {o.error}"
            new = not b.error
            counts["fails"] += 1
            counts["new_fails"] += int(new)
            res.records.append(CheckRecord(**common, verdict="fail", observed=observed, repro=repro,
                                           eval_seconds=o.seconds,
                                           message=fail_msg + ("" if new else " (the baseline raises too)")))
            if new:
                res.new_failures.append(_failure(adapter, setting, item, version, observed, fail_msg, repro))
            continue

        checks = _outcome_checks(adapter, item, call, o, expected, versions)
        bchecks = _outcome_checks(adapter, item, call, b, expected, versions) if not b.error else []
        w = _worst(checks)
        bw = _worst(bchecks)
        if w is None:
            res.records.append(CheckRecord(**common, verdict="unsupported", observed=observed,
                                           message="no output to check", repro=repro))
            continue
        cmp = w["cmp"]
        verdict = w["verdict"]
        # accuracy against the reference: over the checks held to the tolerance (a divergence
        # is measured against its model, not the reference)
        if verdict != "divergence":
            counts["max_tolerance_used"] = max(counts["max_tolerance_used"],
                                               _num(cmp.tolerance_used))
        if bw is not None and bw["verdict"] != "divergence":
            counts["max_tolerance_used_baseline"] = max(counts["max_tolerance_used_baseline"],
                                                        _num(bw["cmp"].tolerance_used))
        message = None
        if verdict == "divergence":
            counts["divergences"] += 1
            message = f"{w['kind']}: {w['problem']} vs reference; matches model {w['divergence']!r}"
        elif verdict == "fail":
            counts["fails"] += 1
            base_fails = bool(b.error) or (bw is not None and bw["verdict"] == "fail")
            message = f"{w['kind']}: {w['problem']}"
            if base_fails:
                message += " (the baseline fails this check too: see the matrix)"
            else:
                reason = expected_check_change(expected_changes, o.entry_point, case.id,
                                               o.dtype, w["kind"])
                if reason is not None:
                    # a change the setting declares (with its source): shown as a divergence
                    # explained by the setting, not a finding of the framework's default
                    verdict = "divergence"
                    counts["fails"] -= 1
                    counts["divergences"] += 1
                    message += f" (expected under this setting: {reason})"
                else:
                    counts["new_fails"] += 1
                    res.new_failures.append(_failure(adapter, setting, item, version, observed,
                                                     message, repro, w))
        res.records.append(CheckRecord(
            **common, verdict=verdict, observed=observed, message=message, repro=repro,
            divergence=w["divergence"], output_dtype=o.forward_dtype,
            tolerance=w["tol"].as_dict(), max_abs_err=cmp.max_abs_err, max_rel_err=cmp.max_rel_err,
            max_ulp=cmp.max_ulp, tolerance_used=cmp.tolerance_used, worst=cmp.worst(),
            eval_seconds=o.seconds))

    for (probe_id, ep), text in obs.probes.items():
        base_text = base.probes.get((probe_id, ep))
        if base_text is None:
            continue
        counts["probes"] += 1
        rec = _probe_record(adapter, setting, probe_id, ep, base_text, text, version, device,
                            nodeid, facets, expected_changes)
        if rec.verdict != "agree" or probe_state(rec.observed) == "changed":
            counts["probes_changed"] += int(probe_state(rec.observed) == "changed")
        if rec.verdict == "fail":
            counts["new_fails"] += 1
            hint = ("fix the probe: it cannot read this setting's outputs"
                    if text.startswith("probe error") else
                    "a convention that depends on the setting: declare it in the setting's "
                    "expected_changes with the reason and a source, or report it upstream")
            res.new_failures.append(
                f"FAIL setting {setting.name!r} ({adapter.framework} {version}): probe {probe_id} on "
                f"{ep} changed\n  baseline: {base_text}\n  under the setting: {text}\n  ({hint})")
        res.records.append(rec)
    res.summary = counts
    return res


def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return 0.0
    return v if np.isfinite(v) else float("inf")


def _probe_record(adapter: Adapter, setting: Setting, probe_id: str, ep: str, base_text: str,
                  text: str, version: str, device: str, nodeid: str, facets: Any,
                  expected_changes: Mapping[str, str]) -> CheckRecord:
    from lossconform.probes import PROBE_BY_ID

    probe = PROBE_BY_ID.get(probe_id)
    spec = adapter.spec(ep)
    common = dict(id=f"probe-{probe_id}", op=spec.op if spec else "", entry_point=ep,
                  framework=adapter.framework, framework_version=version,
                  dtype=probe.dtype if probe else "float32", device=device, kind="setting",
                  nodeid=nodeid, setting=setting.name, facets=facets, pinned=base_text,
                  case={"probe": probe_id, "topic": probe.topic if probe else None,
                        "question": probe.question if probe else None})
    if text == base_text:
        return CheckRecord(**common, verdict="agree", observed=f"unchanged: {text}")
    if _unsigned_zeros(text) == _unsigned_zeros(base_text):
        # the matrix compares values, and -0 == 0 there too: shown, not failed
        return CheckRecord(**common, verdict="agree",
                           observed=f"changed in the sign of a zero only: {text} (baseline: {base_text})")
    if text.startswith("not expressible") and not base_text.startswith("not expressible"):
        return CheckRecord(**common, verdict="unsupported", message=text,
                           observed=f"not expressible: {text.split(':', 1)[-1].strip()}")
    observed = f"changed: {text} (baseline: {base_text})"
    if text.startswith("probe error"):
        return CheckRecord(**common, verdict="fail", observed=observed,
                           message=f"the probe itself broke under {setting.name!r} (a probe "
                                   f"that cannot read this setting's outputs): {text}")
    for pattern, reason in expected_changes.items():
        if re.fullmatch(pattern, probe_id):
            return CheckRecord(**common, verdict="agree", observed=observed,
                               message=f"expected under this setting: {reason}")
    return CheckRecord(**common, verdict="fail", observed=observed,
                       message=f"the observation changes under {setting.name!r}")


def check_key(entry_point: str, case_id: str, dtype: str, kind: str) -> str:
    """What a check-level ``expected_changes`` pattern is matched against (full match):
    ``check:<entry point>:<case id>:<dtype>:<kind>``."""
    return f"check:{entry_point}:{case_id}:{dtype}:{kind}"


def expected_check_change(expected_changes: Mapping[str, str], entry_point: str, case_id: str,
                          dtype: str, kind: str) -> str | None:
    """The declared reason a check's new fail is expected under the setting, or None.
    Patterns starting with ``check:`` are for checks (``check_key``); the others, probes."""
    key = check_key(entry_point, case_id, dtype, kind)
    for pattern, reason in expected_changes.items():
        if pattern.startswith("check:") and re.fullmatch(pattern, key):
            return reason
    return None


def _unsigned_zeros(text: str) -> str:
    return re.sub(r"(?<![\w.])-0(?![\w.])", "0", text)


def _failure(adapter: Adapter, setting: Setting, item: Item, version: str, observed: str,
             problem: str, repro: str, check: dict[str, Any] | None = None) -> str:
    lines = [f"FAIL setting {setting.name!r}: {item.entry_point} ({adapter.framework} {version}) "
             f"on case {item.case.id} in {item.dtype}",
             f"  problem: {problem} (the baseline passes this check)",
             f"  against the baseline: {observed}"]
    if check is not None:
        cmp, tol = check["cmp"], check["tol"]
        lines.append(f"  tolerance: rtol={tol.rtol:.3g} atol={tol.atol:.3g} (atol x scale {cmp.scale:.3g})")
        if cmp.worst_index is not None:
            lines.append(f"  worst at index {cmp.worst_index}: expected {cmp.expected_at_worst!r}, "
                         f"got {cmp.actual_at_worst!r} (max ULP {_num(cmp.max_ulp):.3g})")
    lines.append("  repro:\n    " + repro.replace("\n", "\n    "))
    return "\n".join(lines)


def summary_line(setting: Setting, summary: Mapping[str, Any]) -> str:
    """One line per setting, for the test's output and ``python -m lossconform.settings``."""
    s = summary
    share = s["changed_outputs"] / s["outputs"] if s["outputs"] else 0.0
    return (f"{setting.name}: {s['changed_outputs']} of {s['outputs']} outputs bitwise different "
            f"({share:.0%}), up to {s['max_ulp_vs_baseline']:.3g} ULP from the baseline; "
            f"{s['nonfinite_changes']} NaN/inf pattern changes; {s['errors_changed']} errors changed; "
            f"worst tolerance used {s['max_tolerance_used']:.3g} (baseline "
            f"{s['max_tolerance_used_baseline']:.3g}); probes {s['probes_changed']} of "
            f"{s['probes']} changed; {s['new_fails']} new fails; {s['seconds']:.1f} s for "
            f"{s['calls']} calls (baseline {s['baseline_seconds']:.1f} s)")


__all__ = ["CHANGED_STATES", "PROBE_STATES", "STATES", "SettingResult", "compare",
           "parse_observed", "probe_state", "setting_preamble", "summary_line"]
