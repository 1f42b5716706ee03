"""Mutation tests: a reference broken on purpose must make the checks report a mismatch.

Each mutation is applied with monkeypatch; the same check functions the other tests assert
on (refchecks.oracle_forward_ulp / oracle_grad_ulp / fd_grad_error) must now exceed their
bounds. If a mutation survived, the checks would be too weak to trust.
"""

from __future__ import annotations

import numpy as np
import pytest

from lossconform import reference
from lossconform.reference import grads, ops
from tests.reference import refchecks as C

from .test_reference_oracle import FWD_ULP, GRAD_ULP, GRAD_ULP_DEFAULT


def _scaled(fn, factor):
    def wrapper(*a, **k):
        return np.asarray(fn(*a, **k)) * factor
    return wrapper


def _naive_parts(zl):
    """log-softmax WITHOUT the max subtraction (overflows for large logits)."""
    with np.errstate(all="ignore"):
        e = np.exp(zl)
        s = np.sum(e, axis=-1, keepdims=True)
        logsm = np.log(e / s)
    amax = np.argmax(zl, axis=-1, keepdims=True)
    return ops.LogSoftmaxParts(d=zl, rest=s - 1, logsm=logsm, amax=amax)


def _dense_q_without_eps_over_c(item_shape, n_classes, target, kind, eps, ignore_index, *rest):
    q, ignored, idx = ORIG_DENSE_Q(item_shape, n_classes, target, kind, 0.0, ignore_index, *rest)
    return (1 - eps) * q, ignored, idx  # the eps / C term dropped


ORIG_DENSE_Q = ops._dense_q


def _naive_bce(probs, target, *, weight=None, label_smoothing=0.0, reduction="mean"):
    p, t = np.asarray(probs, float), np.asarray(target, float)
    q = (1 - label_smoothing) * t + label_smoothing / 2
    w = 1.0 if weight is None else np.asarray(weight, float)
    with np.errstate(all="ignore"):
        l = -w * (q * np.log(p) + (1 - q) * np.log(1 - p))  # no log1p, no 0 log 0 = 0
    return {"none": l, "sum": l.sum(), "mean": l.mean() if l.size else np.nan}[reduction]


def _naive_ce(logits, target, **kw):
    """-log(softmax[y]) through the float64 softmax: cancels to 0 for confident rows."""
    if kw.get("target_kind", "index") != "index" or kw.get("label_smoothing", 0.0):
        return ORIG_CE(logits, target, **kw)
    p = np.asarray(reference.softmax(logits))
    with np.errstate(all="ignore"):
        lp = np.log(p)
    return reference.nll_loss(lp, target, **{k: v for k, v in kw.items()
                                             if k not in ("target_kind", "label_smoothing")})


ORIG_CE = reference.cross_entropy


def _mean_over_n(fn):
    """'mean' divided by the item count instead of sum(omega)."""
    def wrapper(*a, **k):
        if k.get("reduction", "mean") != "mean":
            return fn(*a, **k)
        none = np.asarray(fn(*a, **{**k, "reduction": "none"}))
        return np.float64(none.mean()) if none.size else np.float64(np.nan)
    return wrapper


MUTATIONS = {
    # name: (setup(monkeypatch), check returning an error, bound it must now exceed)
    "softmax_scaled_1e-12": (
        lambda mp: mp.setattr(reference, "softmax", _scaled(reference.softmax, 1 + 1e-12)),
        lambda: C.oracle_forward_ulp("softmax"), FWD_ULP),
    "no_max_subtraction": (
        lambda mp: mp.setattr(ops, "log_softmax_parts", _naive_parts),
        lambda: C.oracle_forward_ulp("log_softmax"), FWD_ULP),
    "no_max_subtraction_ce": (
        lambda mp: mp.setattr(ops, "log_softmax_parts", _naive_parts),
        lambda: C.oracle_forward_ulp("cross_entropy"), FWD_ULP),
    "smoothing_without_eps_over_C": (
        lambda mp: mp.setattr(ops, "_dense_q", _dense_q_without_eps_over_c),
        lambda: C.oracle_forward_ulp("cross_entropy"), FWD_ULP),
    "ce_via_log_of_softmax": (
        lambda mp: mp.setattr(reference, "cross_entropy", _naive_ce),
        lambda: C.oracle_forward_ulp("cross_entropy"), FWD_ULP),
    "bce_log_1_minus_p": (
        lambda mp: mp.setattr(reference, "binary_cross_entropy", _naive_bce),
        lambda: C.oracle_forward_ulp("binary_cross_entropy"), FWD_ULP),
    "ce_mean_over_N": (
        lambda mp: mp.setattr(reference, "cross_entropy", _mean_over_n(reference.cross_entropy)),
        lambda: C.oracle_forward_ulp("cross_entropy"), FWD_ULP),
    "ce_vjp_scaled_1.001_oracle": (
        lambda mp: mp.setattr(reference, "cross_entropy_vjp",
                              _scaled(reference.cross_entropy_vjp, 1.001)),
        lambda: C.oracle_grad_ulp("cross_entropy"), GRAD_ULP_DEFAULT),
    "ce_vjp_scaled_1.001_fd": (
        lambda mp: mp.setattr(reference, "cross_entropy_vjp",
                              _scaled(reference.cross_entropy_vjp, 1.001)),
        lambda: C.fd_grad_error("cross_entropy", (np.array([[0.3, -1.0, 2.0]]), np.array([1])),
                                {}),
        1e-6),
    "softmax_vjp_scaled_1.001": (
        lambda mp: mp.setattr(reference, "softmax_vjp", _scaled(reference.softmax_vjp, 1.001)),
        lambda: C.oracle_grad_ulp("softmax"), GRAD_ULP["softmax"]),
    "bce_logits_vjp_drops_pos_weight": (
        lambda mp: mp.setattr(
            reference, "binary_cross_entropy_with_logits_vjp",
            lambda *a, pos_weight=None, **k: grads.binary_cross_entropy_with_logits_vjp(*a, **k)),
        lambda: C.oracle_grad_ulp("binary_cross_entropy_with_logits"), GRAD_ULP_DEFAULT),
    "sigmoid_vjp_scaled_1.001_fd": (
        lambda mp: mp.setattr(reference, "sigmoid_vjp", _scaled(reference.sigmoid_vjp, 1.001)),
        lambda: C.fd_grad_error("sigmoid", (np.array([0.3, -2.0]),), {}), 1e-6),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_mutation_is_detected(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    setup, check, bound = MUTATIONS[name]
    assert check() <= bound, "the unmutated reference must pass the check"
    setup(monkeypatch)
    assert check() > bound, f"mutation {name} survived"
