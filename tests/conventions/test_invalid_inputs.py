"""Invalid inputs: what each framework entry point does with them, as a checked data table.

For every adapter entry point and every applicable invalid case (tests/conventions/
invalid_inputs.py) the framework either raises or silently returns something. The table
``EXPECTED`` below records what each entry point does TODAY (torch 2.13, TensorFlow 2.21 +
Keras 3.15, measured on CPU in float32); a framework that changes behaviour fails here with
the old and new outcome side by side. The reference rejects every case with ValueError, except
the two it defines: an empty batch (mean over zero weight = NaN) and a probability target that
does not sum to 1 (allowed: the loss is linear in the target).

Findings worth knowing (each a row below):
- torch ``binary_cross_entropy``/``BCELoss`` is the only loss that validates values (targets
  and inputs in [0, 1], NaN included); every other loss takes NaN/inf/out-of-range targets
  silently (``nan``, ``inf`` or a finite number that is not a cross-entropy).
- TF entry points fed one-hot targets (``tf.one_hot``) turn an out-of-range or negative class
  index into an all-zero row: that item's loss is 0, silently. The sparse TF/Keras functions
  raise ``InvalidArgumentError`` on CPU instead.
- Keras sparse losses cast float labels to int (1.7 -> 1, 0.5 -> 0) silently; torch and
  ``tf.nn.sparse_softmax_cross_entropy_with_logits`` refuse float labels.
- Keras loss OBJECTS (``CategoricalCrossentropy()`` etc.) return an empty tensor of shape (0,)
  for an empty batch, not a scalar; the functions and torch return NaN (0/0), like the reference.
- ``categorical_crossentropy(from_logits=False)`` renormalises and clips the prediction, so
  probabilities outside [0, 1] give a finite loss.
"""
from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pytest

import adapters
import reference
from tests.conventions import invalid_inputs as I

# -- the expected-behaviour table ------------------------------------------------------------
# (framework, entry-point regex, target-kind regex, case regex, outcome); first match wins.
# outcome: "raises:<ExceptionType>" or silent-nan | silent-inf | silent-finite | silent-empty.
_TORCH_ACT = r"torch\.(sigmoid|nn\.functional\.(softmax|log_softmax|logsigmoid))"
_TORCH_BCE = r"torch\.nn\.(functional\.binary_cross_entropy|BCELoss)"
_TF_ACT = r"tf\.(nn\.(softmax|log_softmax)|math\.(sigmoid|log_sigmoid))"
_TF_SPARSE = (r"tf\.(nn\.sparse_softmax_cross_entropy_with_logits|keras\.losses\."
              r"(sparse_categorical_crossentropy|SparseCategoricalCrossentropy)\(.*\))")
_TF_INF_TO_NAN = (r"tf\.(nn\.weighted_cross_entropy_with_logits|keras\.losses\."
                  r"(binary_crossentropy|BinaryCrossentropy)\(from_logits=False\))")
ANY = r".*"

EXPECTED: tuple[tuple[str, str, str, str, str], ...] = (
    # torch
    ("torch", _TORCH_ACT, ANY, "empty_batch", "silent-empty"),
    ("torch", ANY, ANY, "empty_batch", "silent-nan"),
    ("torch", ANY, "index", "index_out_of_range|negative_index", "raises:IndexError"),
    ("torch", ANY, "index", "float_labels", "raises:RuntimeError"),
    ("torch", ANY, ANY, "shape_mismatch", "raises:ValueError"),
    ("torch", _TORCH_BCE, ANY, "nan_target|inf_target|target_outside_01|probs_outside_01",
     "raises:RuntimeError"),
    ("torch", ANY, "probs", "nan_target", "silent-nan"),
    ("torch", ANY, "probs", "inf_target", "silent-inf"),
    ("torch", ANY, "probs", "target_not_normalized|target_outside_01", "silent-finite"),
    # TensorFlow / Keras
    ("tensorflow", _TF_ACT, ANY, "empty_batch", "silent-empty"),
    ("tensorflow", r"tf\.keras\.losses\.[A-Z].*", ANY, "empty_batch", "silent-empty"),
    ("tensorflow", ANY, ANY, "empty_batch", "silent-nan"),
    ("tensorflow", r"tf\.nn\.sparse_softmax_cross_entropy_with_logits", "index", "float_labels",
     "raises:InvalidArgumentError"),
    ("tensorflow", _TF_SPARSE, "index", "float_labels", "silent-finite"),
    ("tensorflow", _TF_SPARSE, "index", "index_out_of_range|negative_index",
     "raises:InvalidArgumentError"),
    ("tensorflow", ANY, "index", "index_out_of_range|negative_index", "silent-finite"),
    ("tensorflow", r"tf\.nn\.softmax_cross_entropy_with_logits", ANY, "shape_mismatch",
     "raises:InvalidArgumentError"),
    ("tensorflow", ANY, ANY, "shape_mismatch", "raises:ValueError"),
    ("tensorflow", ANY, ANY, "nan_target", "silent-nan"),
    ("tensorflow", _TF_INF_TO_NAN, ANY, "inf_target", "silent-nan"),
    ("tensorflow", ANY, ANY, "inf_target", "silent-inf"),
    ("tensorflow", ANY, ANY, "target_not_normalized|target_outside_01|probs_outside_01",
     "silent-finite"),
)


def expected_outcome(framework: str, entry_point: str, kind: str | None, case: str) -> str | None:
    for fw, ep_re, kind_re, case_re, outcome in EXPECTED:
        if (fw == framework and re.fullmatch(ep_re, entry_point)
                and re.fullmatch(kind_re, str(kind)) and re.fullmatch(case_re, case)):
            return outcome
    return None


# -- parametrization -------------------------------------------------------------------------
_ADAPTERS = adapters.load_adapters()


def _cells() -> list[Any]:
    params = []
    for fw, adapter in _ADAPTERS.items():
        for spec in adapter.entry_points():
            for kind in I.target_kinds(adapter, spec):
                for case in I.CASES:
                    if case.applies(spec.op, kind):
                        cid = f"{fw}-{spec.name}-{kind}-{case.name}"
                        params.append(pytest.param(fw, spec.name, spec.op, kind, case.name,
                                                   id=re.sub(r"[^A-Za-z0-9_=.-]", "_", cid)))
    return params


def _float_label_cells() -> list[Any]:
    return [pytest.param(fw, name, id=re.sub(r"[^A-Za-z0-9_=.-]", "_", f"{fw}-{name}-float_labels"))
            for name, (fw, _, _) in I.DIRECT_FLOAT_LABELS.items()]


def _adapter(fw: str) -> Any:
    adapter = _ADAPTERS[fw]
    reason = adapter.available()
    if reason:
        pytest.skip(reason)
    return adapter


def _inputs_snippet(call: adapters.Call) -> str:
    lines = ["import numpy as np", f"x = np.array({call.x.tolist()!r}, dtype=np.float64)"]
    if call.target is not None:
        t = np.asarray(call.target)
        tdt = "np.int64" if t.dtype.kind in "iu" else "np.float64"
        lines.append(f"target = np.array({t.tolist()!r}, dtype={tdt})".replace("nan", "np.nan")
                     .replace("inf", "np.inf"))
    return "\n".join(lines) + "\n"


def _verdict(ref_exc: Exception | None, ref_value: Any, got: I.CellResult) -> tuple[str, str | None]:
    if got.outcome.startswith("raises:"):
        return "raises", None
    if ref_exc is not None:
        return "divergence", "silent-invalid-input"
    ref = np.asarray(ref_value, dtype=np.float64)
    val = np.asarray(got.value, dtype=np.float64)
    same = val.shape == ref.shape and np.allclose(val, ref, rtol=1e-5, atol=0, equal_nan=True)
    return ("agree", None) if same else ("divergence", "invalid-input-result-differs")


def _record(request: pytest.FixtureRequest, **fields: Any) -> None:
    base = {"kind": "invalid_input", "dtype": I.DTYPE, "device": "cpu",
            "max_abs_err": None, "max_rel_err": None, "max_ulp": None}
    request.node.user_properties.append(("lossconform_record", base | fields))


# -- tests -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("fw", "entry_point", "op", "kind", "case_name"), _cells())
def test_invalid_input(request: pytest.FixtureRequest, fw: str, entry_point: str, op: str,
                       kind: str | None, case_name: str) -> None:
    adapter = _adapter(fw)
    case = I.CASE_BY_NAME[case_name]
    call = case.build(I.valid_call(op, kind))
    reason = adapter.unsupported(entry_point, call)
    if reason:
        pytest.skip(reason)

    # The reference: ValueError for every invalid case, NaN (0/0) for the empty batch.
    ref_exc: Exception | None = None
    ref_value: Any = None
    try:
        ref_value = I.run_reference(call)
    except ValueError as exc:
        ref_exc = exc
    if case.reference_outcome == "raises" and not (case_name == "target_not_normalized"):
        assert ref_exc is not None, f"reference accepted invalid input {case_name}: {ref_value!r}"
    elif case_name == "empty_batch" and op not in I.ACTIVATIONS:
        assert ref_exc is None and I.is_nan_scalar(ref_value), ref_exc or ref_value
    elif case_name == "target_not_normalized":
        assert ref_exc is None, f"the reference documents unnormalised targets as valid: {ref_exc}"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = I.run_cell(adapter, entry_point, call)
    verdict, divergence = _verdict(ref_exc, ref_value, got)
    _record(request, id=f"invalid-{case_name}", op=op, entry_point=entry_point, framework=fw,
            framework_version=adapter.version(), verdict=verdict, divergence=divergence,
            repro=_inputs_snippet(call) + adapter.repro(entry_point, call), message=got.message,
            case={"shape": list(call.x.shape), "regime": f"invalid:{case_name}",
                  "options": {**dict(call.options), "target_kind": kind}})

    want = expected_outcome(fw, entry_point, kind, case_name)
    assert want is not None, f"no EXPECTED row for {fw} {entry_point} [{kind}] {case_name}: got {got.outcome} ({got.message})"
    assert got.outcome == want, (
        f"{entry_point} [{kind}] on {case.explain}: documented {want}, now {got.outcome}: {got.message}")


@pytest.mark.parametrize(("fw", "entry_point"), _float_label_cells())
def test_float_labels_direct(request: pytest.FixtureRequest, fw: str, entry_point: str) -> None:
    """Float labels [0, 1.7, 0.5, 2] where class indices are expected (direct framework call:
    the adapter contract carries int64 indices only)."""
    adapter = _adapter(fw)
    ref_exc = I.reference_float_labels()
    assert isinstance(ref_exc, ValueError), "the reference must reject float index targets"
    _, fn, src = I.DIRECT_FLOAT_LABELS[entry_point]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = I.run_direct(fn)
    verdict, divergence = _verdict(ref_exc, None, got)
    _record(request, id="invalid-float_labels", op="cross_entropy", entry_point=entry_point,
            framework=fw, framework_version=adapter.version(), verdict=verdict,
            divergence=divergence, repro=I.FLOAT_LABELS_REPRO_HEADER + f"print({src})\n",
            message=got.message,
            case={"shape": [I.N, I.C], "regime": "invalid:float_labels",
                  "options": {"reduction": "mean", "target_kind": "index"}})
    want = expected_outcome(fw, entry_point, "index", "float_labels")
    assert got.outcome == want, f"{entry_point} on float labels: documented {want}, now {got.outcome}: {got.message}"
    if got.outcome == "silent-finite":
        # Keras casts the labels to int (truncation toward zero): [0, 1, 0, 2].
        truncated = reference.cross_entropy(I._round32(I._LOGITS), np.array([0, 1, 0, 2]))
        assert got.value is not None
        np.testing.assert_allclose(got.value, truncated, rtol=1e-6,
                                   err_msg="Keras no longer truncates float labels to int")
