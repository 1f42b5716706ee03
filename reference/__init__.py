"""lossconform reference: the canonical softmax / sigmoid / cross-entropy ops in NumPy.

This module is the project's DEFINITION of each op. Framework conventions that differ (epsilon
clipping, log clamping, other label-smoothing formulas, other 'mean' denominators) are modelled
elsewhere as convention models, never here.

Precision
    Inputs of any floating dtype are converted exactly to float64; arithmetic runs in
    ``np.longdouble`` (x87 80-bit extended on x86-64) with stable formulations; every result is
    rounded once to float64 (0-d results come back as NumPy scalars). Target: a few float64 ULP
    of an mpmath oracle (see tests/reference). Where longdouble is float64 (e.g. macOS arm64)
    the formulas are still stable but tiny softmax outputs lose up to ~|x - max|/2 ULP.
    Where a result is a genuine cancellation of exact inputs (softmax_vjp's g_j - sum p g,
    log_softmax_vjp's g_j - p_j sum g, p - q near a loss minimum) the error is the condition
    number times 2**-64: measured worst 14 ULP with 1000 classes, <= 1 ULP everywhere else.
    The caller's arrays are never modified.

Layout
    ``axis`` is the class axis, anywhere (``(N, C, d1, d2)`` with axis=1, channels-last with
    axis=-1). INDEX targets have the input's shape with the class axis removed and an integer
    dtype; PROBABILITY targets have the input's shape, values in [0, 1], no NaN (they need not
    sum to 1). ``sample_weight`` broadcasts to the item shape (input without the class axis);
    ``weight`` for the categorical losses has shape (C,); for the binary losses it broadcasts to
    the input; ``pos_weight`` broadcasts to the input (NumPy rules: a length-C vector applies
    along the LAST axis). All weights must be finite and non-negative.

Activations
    softmax(x) = exp(x - m) / sum exp(x - m), m = max along axis.
    log_softmax(x) = (x - m) - log1p(sum_{c != argmax} exp(x_c - m)), which keeps relative
    accuracy when the loss at the argmax is tiny (~1e-20).
    A -inf logit gets probability exactly 0 (log-probability -inf). A row whose maximum is not
    finite (it contains NaN or +inf, or is all -inf) is NaN throughout, for every op built on
    softmax (its losses and gradients included), except an ignored item (its loss and
    gradient are 0 whatever its logits). No limit is taken there: a fully masked row has
    none (softmax of (-t, -t) tends to 1/2 each, of (-t, -2t) to (1, 0)), and neither has a
    row with two +inf; IEEE arithmetic on the definition gives inf - inf = NaN.
    sigmoid(x) = 1 / (1 + exp(-x)); log_sigmoid(x) = -softplus(-x).
    entropy(p) = -sum_c p_c log p_c with 0 log 0 = 0 (p must lie in [0, 1]).

Label smoothing (eps in [0, 1])
    categorical: q = (1 - eps) t + eps / C, t = one-hot(index) or the probability target;
    binary: q = (1 - eps) t + eps / 2.

Losses (s = sample_weight, ones if None; w = class weights, ones if None)
    cross_entropy:      l_i = -sum_c w_c q_ic log_softmax(z_i)_c
                        (index targets without smoothing: w_{y_i} * (-log p_{i,y_i}))
    nll_loss:           l_i = -w_{y_i} logp_{i,y_i}   (index targets only, no smoothing)
    categorical_crossentropy: l_i = -sum_c w_c q_ic log p_ic on probabilities p (in [0, 1]),
                        no renormalisation, no clipping: 0 log 0 = 0, p = 0 < q gives +inf.
    Ignored items (index target == ignore_index; the index need not be a valid class) have
    l_i = 0 and weight 0 in both sums.
    Reductions: 'none' -> s_i * l_i (unreduced item shape); 'sum' -> sum_i s_i l_i;
    'mean' -> sum_i s_i l_i / sum_i omega_i with omega_i = s_i * w_{y_i} for INDEX targets and
    omega_i = s_i for PROBABILITY targets (so unweighted probability targets divide by N).
    'mean' over zero total weight (empty batch, all ignored, all-zero weights) is 0/0 = NaN.
    binary_cross_entropy: l = -w [q log p + (1 - q) log1p(-p)], exact, no clamping
                        (0 log 0 = 0; p = 0 < q or p = 1 > q gives +inf).
    binary_cross_entropy_with_logits: l = w [pw q softplus(-z) + (1 - q) softplus(z)]
                        = -w [pw q log sigmoid(z) + (1 - q) log(1 - sigmoid(z))].
    Binary reductions: 'none' -> l; 'sum' -> sum l; 'mean' -> sum l / numel. The binary
    ``weight`` is a RESCALING weight, not a weighted average: 'mean' divides by the element
    count, not by sum(weight).
    A zero weight (class, sample or element) removes a term exactly (0 * inf = 0), but a NaN
    from NaN logits still propagates.

Gradients
    ``<op>_vjp(first, ..., grad_output=None)``: d<op(...), grad_output>/d first, same shape as
    the first argument, analytic (softmax minus target and relatives, with weights, smoothing,
    ignored items, reduction scaling and pos_weight). grad_output has the output's shape
    (a scalar for 'sum'/'mean'); None means ones. Ignored items get exactly 0 (a NaN or
    fully masked row included, as their forward value is 0); zero-weight items get exactly 0
    unless their loss is NaN (then the forward value is NaN as well, and so is the gradient).

Invalid input raises ValueError whose message starts with the argument's name: shape
mismatches, class index out of range (unless == ignore_index), probabilities outside [0, 1],
integer/bool/complex dtypes for logits or probabilities, non-integer index targets, NaN in
targets or weights, negative or infinite weights, label_smoothing outside [0, 1], unknown
reduction or target_kind, a class axis of size 0.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

import numpy as np

from .grads import (
    binary_cross_entropy_vjp,
    binary_cross_entropy_with_logits_vjp,
    categorical_crossentropy_vjp,
    cross_entropy_vjp,
    entropy_vjp,
    log_sigmoid_vjp,
    log_softmax_vjp,
    nll_loss_vjp,
    sigmoid_vjp,
    softmax_vjp,
)
from .ops import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    categorical_crossentropy,
    cross_entropy,
    entropy,
    log_sigmoid,
    log_softmax,
    nll_loss,
    sigmoid,
    softmax,
)

OPS: dict[str, tuple[Callable, Callable]] = {
    "softmax": (softmax, softmax_vjp),
    "log_softmax": (log_softmax, log_softmax_vjp),
    "sigmoid": (sigmoid, sigmoid_vjp),
    "log_sigmoid": (log_sigmoid, log_sigmoid_vjp),
    "entropy": (entropy, entropy_vjp),
    "cross_entropy": (cross_entropy, cross_entropy_vjp),
    "nll_loss": (nll_loss, nll_loss_vjp),
    "categorical_crossentropy": (categorical_crossentropy, categorical_crossentropy_vjp),
    "binary_cross_entropy": (binary_cross_entropy, binary_cross_entropy_vjp),
    "binary_cross_entropy_with_logits": (
        binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_vjp,
    ),
}



@functools.lru_cache(maxsize=None)
def _parameters(op: str) -> frozenset[str]:
    return frozenset(inspect.signature(OPS[op][0]).parameters)


def arguments(request: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword arguments of the reference function for a request (any object
    with ``op``, ``x``, ``target``, ``axis``, ``target_kind`` and ``options``, such as
    ``lossconform.contract.Call``); options the function does not take are left out."""
    params = _parameters(request.op)
    kw: dict[str, Any] = {}
    if "axis" in params:
        kw["axis"] = request.axis
    if "target_kind" in params and request.target_kind:
        kw["target_kind"] = request.target_kind
    for k, v in request.options.items():
        if k in params:
            kw[k] = v
    args = (request.x,) if request.target is None else (request.x, request.target)
    return args, kw


def evaluate(request: Any, *, gradient: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """The reference's forward value and (if ``gradient`` and the request carries a
    ``grad_output``) its vector-Jacobian product, float64. Invalid input raises ValueError."""
    fwd, vjp = OPS[request.op]
    args, kw = arguments(request)
    with np.errstate(all="ignore"):
        value = np.asarray(fwd(*args, **kw), dtype=np.float64)
        grad = None
        if gradient and request.grad_output is not None:
            grad = np.asarray(vjp(*args, **kw, grad_output=request.grad_output), dtype=np.float64)
    return value, grad


__all__ = [
    "OPS", "evaluate", "arguments",
    "softmax", "log_softmax", "sigmoid", "log_sigmoid", "entropy",
    "cross_entropy", "nll_loss", "categorical_crossentropy",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "softmax_vjp", "log_softmax_vjp", "sigmoid_vjp", "log_sigmoid_vjp", "entropy_vjp",
    "cross_entropy_vjp", "nll_loss_vjp", "categorical_crossentropy_vjp",
    "binary_cross_entropy_vjp", "binary_cross_entropy_with_logits_vjp",
]
