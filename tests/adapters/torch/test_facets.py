"""The torch plug-in's facets (``Call.facets``): each one changes the call as declared, in
``evaluate`` and in ``repro`` alike (a repro leaves exactly evaluate's numbers), and a facet
that does not apply to an entry point makes the call unsupported with a reason.

Expected values come from the NumPy reference (``lossconform.reference``), never from torch.
"""
from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest

from lossconform import reference
from lossconform.contract import Call
from lossconform.adapters.torch import ADAPTER
from lossconform.adapters.torch import adapter as torch_adapter

pytestmark = [pytest.mark.framework("torch"), pytest.mark.skipif(
    ADAPTER.available() is not None, reason=f"torch adapter: {ADAPTER.available()}")]

F = "torch.nn.functional."


def _f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def _rng(k: int = 0) -> np.random.Generator:
    return np.random.default_rng(20250101 + k)


def _run_repro(entry_point: str, call: Call) -> dict:
    code = ADAPTER.repro(entry_point, call)
    ns = {"np": np, "x": call.x, "target": call.target, "weight": call.option("weight"),
          "pos_weight": call.option("pos_weight"), "sample_weight": call.option("sample_weight"),
          "grad_output": call.grad_output}
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "<repro>", "exec"), ns)  # noqa: S102 (our own snippet)
    return ns


def _evaluate(entry_point: str, call: Call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ADAPTER.evaluate(entry_point, call)


def _same_as_repro(entry_point: str, call: Call):
    """evaluate and repro give bitwise the same forward (and gradient)."""
    assert ADAPTER.unsupported(entry_point, call) is None
    ev = _evaluate(entry_point, call)
    ns = _run_repro(entry_point, call)
    np.testing.assert_array_equal(ADAPTER.to_numpy(ns["out"]), ev.forward.value)
    if call.grad_output is not None:
        np.testing.assert_array_equal(ADAPTER.to_numpy(ns["grad"]), ev.gradient.value)
    return ev


def _ce_call(dtype: str = "float32", **kw) -> Call:
    rng = _rng(1)
    x = _f32(rng.normal(0, 2, (6, 4)))
    t = rng.integers(0, 4, 6)
    return Call("cross_entropy", x, dtype, target=t, target_kind="index",
                options={"reduction": "mean", "weight": _f32(rng.uniform(0.5, 2, 4))},
                grad_output=np.array(1.0), **kw)


def test_facets_are_declared() -> None:
    f = ADAPTER.facets
    assert set(f["mode"]) == {"eager", "torch.compile"}
    assert set(f["axis_arg"]) == {"omitted", "none"}
    assert set(f["arg_dtypes"]) == {"target", "weight", "pos_weight"}
    assert True in f["swap_args"]
    assert "reduction" in f["omit_args"]


# -- axis_arg ----------------------------------------------------------------------------------
#: torch's implicit softmax dim (torch/nn/functional.py _get_softmax_dim): 0 for 0-, 1- and 3-D
#: input, 1 otherwise
IMPLICIT = {1: 0, 2: 1, 3: 0, 4: 1}


@pytest.mark.parametrize("how", ["omitted", "none"])
@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_axis_arg_follows_the_implicit_dim_rule(op: str, ndim: int, how: str) -> None:
    shape = (5, 3, 4, 2)[:ndim]
    x = _f32(_rng(ndim).normal(0, 2, shape))
    call = Call(op, x, "float32", axis=-1, grad_output=_f32(_rng(9).uniform(0.5, 1.5, shape)),
                facets={"axis_arg": how})
    ev = _same_as_repro(F + op, call)
    want, _ = reference.evaluate(Call(op, x, "float64", axis=IMPLICIT[ndim]))
    np.testing.assert_allclose(ev.forward.value, want, rtol=1e-5, atol=1e-6)
    code = ADAPTER.repro(F + op, call)
    assert ("dim=None" in code) == (how == "none") and ("dim=-1" not in code)


def test_axis_arg_omitted_on_a_loss_leaves_the_classes_on_dim_1() -> None:
    rng = _rng(3)
    x = _f32(rng.normal(0, 2, (2, 3, 5)))
    t = rng.integers(0, 3, (2, 5))
    call = Call("cross_entropy", x, "float32", axis=-1, target=t, target_kind="index",
                options={"reduction": "none"}, grad_output=np.ones((2, 5)),
                facets={"axis_arg": "omitted"})
    ev = _same_as_repro(F + "cross_entropy", call)
    assert "movedim" not in ADAPTER.repro(F + "cross_entropy", call)
    want, _ = reference.evaluate(call.replace(axis=1, facets={}, grad_output=None))
    np.testing.assert_allclose(ev.forward.value, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("entry_point", "call"), [
    (F + "cross_entropy", _ce_call(facets={"axis_arg": "none"})),
    ("torch.sigmoid", Call("sigmoid", np.zeros((2, 3)), "float32", facets={"axis_arg": "omitted"})),
    (F + "binary_cross_entropy_with_logits",
     Call("binary_cross_entropy_with_logits", np.zeros((2, 3)), "float32",
          target=np.zeros((2, 3)), facets={"axis_arg": "omitted"})),
    (F + "softmax", Call("softmax", np.zeros((2, 3)), "float32", facets={"swap_args": True})),
    (F + "softmax", Call("softmax", np.zeros((2, 3)), "float32",
                         facets={"arg_dtypes": {"target": "float32"}})),
    (F + "cross_entropy", _ce_call(facets={"arg_dtypes": {"pos_weight": "float32"}})),
    (F + "cross_entropy", _ce_call(facets={"arg_dtypes": {"weight": "complex64"}})),
    (F + "softmax", Call("softmax", np.zeros((2, 3)), "float32",
                         facets={"omit_args": ("reduction",)})),
    (F + "cross_entropy", _ce_call(facets={"omit_args": ("from_logits",)})),
    (F + "cross_entropy", _ce_call(facets={"mode": "jit"})),
], ids=["none-on-a-loss", "axis-on-sigmoid", "axis-on-binary", "swap-on-softmax",
        "target-dtype-on-softmax", "pos_weight-not-passed", "unknown-dtype", "omit-on-softmax",
        "undeclared-omit", "undeclared-mode"])
def test_facets_that_do_not_apply_are_unsupported(entry_point: str, call: Call) -> None:
    reason = ADAPTER.unsupported(entry_point, call)
    assert isinstance(reason, str) and len(reason) > 20, reason


# -- arg_dtypes --------------------------------------------------------------------------------
def test_arg_dtypes_builds_the_target_in_another_dtype() -> None:
    rng = _rng(4)
    x = _f32(rng.normal(0, 2, (4, 3)))
    t = _f32(rng.uniform(0, 1, (4, 3)))
    call = Call("binary_cross_entropy_with_logits", x, "float64", target=t,
                options={"reduction": "mean"}, grad_output=np.array(1.0),
                facets={"arg_dtypes": {"target": "float32"}})
    ev = _same_as_repro(F + "binary_cross_entropy_with_logits", call)
    assert "tt = torch.as_tensor(target).to(device='cpu', dtype=torch.float32)" in \
        ADAPTER.repro(F + "binary_cross_entropy_with_logits", call)
    want, _ = reference.evaluate(call.replace(facets={}))
    np.testing.assert_allclose(ev.forward.value, want, rtol=1e-6)


def test_arg_dtypes_mismatch_raises_in_evaluate_and_repro_alike() -> None:
    call = _ce_call(facets={"arg_dtypes": {"weight": "float64"}})
    with pytest.raises(RuntimeError) as in_evaluate:
        ADAPTER.evaluate(F + "cross_entropy", call)
    with pytest.raises(RuntimeError) as in_repro:
        _run_repro(F + "cross_entropy", call)
    assert str(in_evaluate.value).split("\n")[0] == str(in_repro.value).split("\n")[0]


# -- swap_args, omit_args --------------------------------------------------------------------
def test_swap_args_calls_f_of_target_then_input() -> None:
    rng = _rng(5)
    # rows of probabilities on both sides: valid as logits and as targets either way round
    x = _f32(rng.dirichlet(np.ones(3), 4))
    t = _f32(rng.dirichlet(np.ones(3), 4))
    call = Call("cross_entropy", x, "float32", target=t, target_kind="probs",
                options={"reduction": "mean"}, facets={"swap_args": True})
    ev = _same_as_repro("torch.nn.CrossEntropyLoss", call)
    assert "loss_fn(tt, xt)" in ADAPTER.repro("torch.nn.CrossEntropyLoss", call)
    # the target's values are read as logits, x's as probabilities
    want, _ = reference.evaluate(Call("cross_entropy", t, "float64", target=x, target_kind="probs",
                                      options={"reduction": "mean"}))
    np.testing.assert_allclose(ev.forward.value, want, rtol=1e-5)


@pytest.mark.parametrize("entry_point", [F + "nll_loss", "torch.nn.BCEWithLogitsLoss"])
def test_omit_args_reduction_gives_torch_default_mean(entry_point: str) -> None:
    rng = _rng(6)
    if "nll" in entry_point:
        z = rng.normal(0, 1, (5, 3))
        x = _f32(z - np.log(np.exp(z).sum(-1, keepdims=True)))
        call = Call("nll_loss", x, "float32", target=rng.integers(0, 3, 5), target_kind="index",
                    grad_output=np.array(1.0), facets={"omit_args": ("reduction",)})
    else:
        call = Call("binary_cross_entropy_with_logits", _f32(rng.normal(0, 1, (5, 3))), "float32",
                    target=_f32(rng.uniform(0, 1, (5, 3))), grad_output=np.array(1.0),
                    facets={"omit_args": ("reduction",)})
    ev = _same_as_repro(entry_point, call)
    assert "reduction" not in ADAPTER.repro(entry_point, call)
    want, _ = reference.evaluate(call.replace(options={"reduction": "mean"}, facets={}))
    np.testing.assert_allclose(ev.forward.value, want, rtol=1e-5)


# -- mode ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("entry_point", [F + "cross_entropy", "torch.nn.CrossEntropyLoss"])
def test_compiled_mode_compiles_once_and_repro_gives_its_numbers(entry_point: str) -> None:
    call = _ce_call(facets={"mode": "torch.compile"})
    before = len(torch_adapter._COMPILED)
    ev = _same_as_repro(entry_point, call)
    assert len(torch_adapter._COMPILED) == before + 1  # this plan and signature compiled once
    _evaluate(entry_point, call)
    assert len(torch_adapter._COMPILED) == before + 1  # and reused
    code = ADAPTER.repro(entry_point, call)
    assert "torch.compile(" in code and "dynamic=False" in code
    want, want_grad = reference.evaluate(call.replace(facets={}))
    np.testing.assert_allclose(ev.forward.value, want, rtol=1e-5)
    np.testing.assert_allclose(ev.gradient.value, want_grad, rtol=1e-4, atol=1e-6)


def test_compiled_wrappers_have_their_own_code_objects() -> None:
    """Each compiled entry has a code object of its own, so dynamo's per-code recompile
    limit (after which it silently runs eager) is never shared between calls."""
    _evaluate(F + "cross_entropy", _ce_call(facets={"mode": "torch.compile"}))
    _evaluate(F + "cross_entropy", _ce_call("float64", facets={"mode": "torch.compile"}))
    fns = list(torch_adapter._COMPILED.values())
    assert len(fns) >= 2
    codes = [fn._torchdynamo_orig_callable.__code__ for fn in fns]
    assert len({id(c) for c in codes}) == len(codes)
    assert all(c.co_name.startswith("lossconform_compiled_") for c in codes)
