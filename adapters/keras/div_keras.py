"""keras-jax's and keras-torch's divergence entries, one set per backend (``entries``).

The Keras-layer conventions (keras/src/losses at v3.15.1) are the same on every backend and
carry the same words as the tensorflow plug-in's entries (div_keras_losses.py,
div_keras_probabilities.py there); their models are this plug-in's backend models
(``models.py``), because the kernels under them differ (autodiff's gradient, the
renormalise-then-clip sparse loss on probabilities, torch's log clamp). Ids are
``keras-<backend>-...``: unique over all plug-ins.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from lossconform.contract import Call
from lossconform.divergences import Divergence, ModelResult
from lossconform.divergences.numerics import (
    EXAMPLE_LOGITS, all_ignored, all_of, class_axis, classes_last, empty_reduced,
    example_call, label_smoothing, label_smoothing_out_of_range, narrow_dtype, some_ignored,
)
from lossconform.dtypes import round_to

from .models import (
    KERAS_3, KERAS_LOSS_BASE, KERAS_LOSSES, KERAS_NN, binary, binary_model, categorical,
    categorical_model, keras_clip_bounds,
)

_K = "keras.losses."


def _eps(backend: str, *names: str) -> tuple[str, ...]:
    return tuple(f"{_K}{n}@{backend}" for n in names)


# -- predicates and examples (backend independent) -------------------------------------------------
def _bce_row_means_differ(call: Call) -> bool:
    return call.op in ("binary_cross_entropy", "binary_cross_entropy_with_logits") \
        and call.reduction in ("none", "sum") and call.x.ndim >= 1 and call.x.shape[-1] != 1


def _ex_bce_shape() -> Call:
    return example_call("binary_cross_entropy_with_logits",
                        [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]],
                        target=[[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], options={"reduction": "sum"})


def _weighted_mean_differs(call: Call) -> bool:
    s = call.option("sample_weight")
    if s is None or call.reduction != "mean" or call.op not in (
            "cross_entropy", "categorical_crossentropy"):
        return False
    items = classes_last(call.x, call).shape[:-1]
    return not math.isclose(float(np.sum(np.broadcast_to(s, items))), float(np.prod(items)))


def _ex_sample_weight() -> Call:
    return example_call("cross_entropy", EXAMPLE_LOGITS, target=[0, 1, 3], target_kind="index",
                        options={"sample_weight": np.array([1.0, 2.0, 0.5])})


def _smoothing_axis_not_last(call: Call) -> bool:
    return bool(label_smoothing(call)) and call.x.ndim >= 2 \
        and class_axis(call) != call.x.ndim - 1 \
        and call.x.shape[-1] != call.x.shape[class_axis(call)]


def _ex_smoothing_axis() -> Call:
    x = np.array(EXAMPLE_LOGITS).T
    return example_call("cross_entropy", x.tolist(), axis=0, target=[0, 1, 3],
                        target_kind="index", options={"label_smoothing": 0.2})


def _ex_smoothing_out_of_range() -> Call:
    return example_call("cross_entropy", EXAMPLE_LOGITS, target=[0, 1, 3], target_kind="index",
                        options={"label_smoothing": 1.5})


def _ex_ignore_function_mean() -> Call:
    return example_call("cross_entropy", EXAMPLE_LOGITS, target=[0, 2, 3], target_kind="index",
                        options={"ignore_index": 2})


def _ex_all_ignored() -> Call:
    return example_call("cross_entropy", EXAMPLE_LOGITS, target=[2, 2, 2], target_kind="index",
                        options={"ignore_index": 2}, grad=False)


def _ex_empty() -> Call:
    return example_call("cross_entropy", np.zeros((0, 4)), target=np.zeros((0,), np.int64),
                        target_kind="index", options={"reduction": "sum"}, grad=False)


def _sparse_labels(call: Call) -> np.ndarray:
    if call.target_kind == "index":
        return np.asarray(call.target)
    return np.argmax(classes_last(call.target, call), axis=-1)


def _labels_round(call: Call) -> bool:
    if call.dtype not in ("float16", "bfloat16") or call.op not in (
            "cross_entropy", "categorical_crossentropy") or call.target is None \
            or call.target_kind not in ("index", "probs"):
        return False
    y = _sparse_labels(call)
    return bool(np.any(round_to(y, call.dtype) != y))


def _ex_labels_round() -> Call:
    x = np.zeros((3, 300))
    x[0, 257], x[0, 256], x[1, 3], x[2, 289], x[2, 288] = 4.0, -4.0, 1.0, 3.0, -3.0
    return example_call("cross_entropy", x.tolist(), dtype="bfloat16", target=[257, 3, 289],
                        target_kind="index", options={"reduction": "sum"})


def _float32_inputs(call: Call) -> Call:
    opts = dict(call.options)
    for name in ("weight", "sample_weight"):
        if opts.get(name) is not None:
            opts[name] = round_to(opts[name], "float32")
    tgt = call.target
    if tgt is not None and call.target_kind != "index":
        tgt = round_to(tgt, "float32")
    go = None if call.grad_output is None else round_to(call.grad_output, "float32")
    return call.replace(x=round_to(call.x, "float32"), target=tgt, options=opts,
                        grad_output=go, dtype="float32")


def _cce_unnormalised(call: Call) -> bool:
    if call.op != "categorical_crossentropy":
        return False
    xl = classes_last(call.x, call)
    if xl.shape[-1] == 1:  # one class: output / sum(output) is the constant 1, gradient 0
        return xl.size > 0
    s = np.sum(xl, axis=-1)
    return bool(np.any(np.abs(s - 1.0) > 0))


def _clipped(call: Call) -> bool:
    if call.op not in ("categorical_crossentropy", "binary_cross_entropy"):
        return False
    lo, hi = keras_clip_bounds(call.dtype)
    x = np.asarray(call.x, dtype=np.float64)
    if call.op == "categorical_crossentropy":
        with np.errstate(invalid="ignore", divide="ignore"):
            xl = classes_last(x, call)
            x = np.concatenate([x.ravel(), (xl / np.sum(xl, -1, keepdims=True)).ravel()])
    return bool(np.any((x < lo) | (x > hi)))


def _ex_cce_unnormalised() -> Call:
    return example_call("categorical_crossentropy", [[0.2, 0.3, 0.1], [0.5, 0.25, 0.5]],
                        target=[[0, 1, 0], [0, 0, 1]], target_kind="probs")


def _ex_cce_clip() -> Call:
    return example_call("categorical_crossentropy", [[0.0, 0.5, 0.5], [0.2, 0.3, 0.5]],
                        target=[[0.5, 0.5, 0.0], [0, 1, 0]], target_kind="probs")


def _ex_sparse_probs() -> Call:
    return example_call("categorical_crossentropy", [[0.2, 0.3, 0.1], [0.0, 0.75, 0.25]],
                        target=[1, 0], target_kind="index")


def _ex_bce_clip() -> Call:
    return example_call("binary_cross_entropy", [[0.0, 1.0, 0.3, 1e-9]],
                        target=[[1.0, 1.0, 0.0, 1.0]], options={"reduction": "mean"})


def _bce_half_at_bounds(call: Call) -> bool:
    x = np.asarray(call.x)
    return call.op == "binary_cross_entropy" and narrow_dtype(call) \
        and bool(np.any((x == 1.0) | (x < 1e-7)))


def _ex_bce_half() -> Call:
    return example_call("binary_cross_entropy", [[1.0, 0.25], [0.0, 0.5]], dtype="float16",
                        target=[[0.0, 1.0], [1.0, 0.0]], options={"reduction": "none"},
                        grad=False)


def _in_float32(example: Callable[[], Call]) -> Callable[[], Call]:
    """A float64 example run in float32: in float64 the Keras losses that average with
    keras.ops.mean are float32-accurate (div_backend.py), which would hide the convention."""
    def made() -> Call:
        c = example()
        if c.dtype != "float64":
            return c
        return c.replace(dtype="float32", x=round_to(c.x, "float32"))
    return made


# -- the entries of one backend ---------------------------------------------------------------------
def entries(backend: str) -> tuple[Divergence, ...]:
    fw = f"keras-{backend}"
    nn = KERAS_NN[backend]
    BCE = _eps(backend, "binary_crossentropy(*)", "BinaryCrossentropy(*)")
    CCE = _eps(backend, "categorical_crossentropy(*)", "CategoricalCrossentropy(*)")
    SCCE = _eps(backend, "sparse_categorical_crossentropy(*)", "SparseCategoricalCrossentropy(*)")
    CCE_P = _eps(backend, "categorical_crossentropy(from_logits=False)",
                 "CategoricalCrossentropy(from_logits=False)")
    SCCE_P = _eps(backend, "sparse_categorical_crossentropy(from_logits=False)",
                  "SparseCategoricalCrossentropy(from_logits=False)")
    BCE_P = _eps(backend, "binary_crossentropy(from_logits=False)",
                 "BinaryCrossentropy(from_logits=False)")
    cat = categorical_model(backend, sparse=False)
    sparse = categorical_model(backend, sparse=True)
    bce = binary_model(backend)

    def d(id_: str, **kw) -> Divergence:
        kw["example"] = _in_float32(kw["example"])
        return Divergence(id=f"keras-{backend}-{id_}", framework=fw, package="keras",
                          versions=KERAS_3, **kw)

    out: list[Divergence] = [
        d("bce-mean-over-last-axis",
          title="Keras binary_crossentropy averages over the last axis: output shape "
                "x.shape[:-1]",
          entry_points=BCE, kinds=("forward", "gradient"),
          trigger="reduction 'none' (output has shape x.shape[:-1]) or 'sum' (sum of per-row "
                  "means = canonical sum / C) with more than one element on the last axis",
          explanation="keras.losses.binary_crossentropy returns ops.mean(bce, axis=-1), one "
                      "value per row, on every backend; the loss classes reduce those row "
                      "means. 'mean' agrees with the element mean; 'none' and 'sum' differ by "
                      "the factor C and in shape.",
          link=f"{KERAS_LOSSES} (binary_crossentropy: ops.mean(..., axis=axis))",
          applies=_bce_row_means_differ, model=bce, example=_ex_bce_shape),
        d("sum-over-batch-size-ignores-sample-weight-total",
          title="Keras loss classes: 'mean' with sample_weight divides by the item count, "
                "not sum(w)",
          entry_points=_eps(backend, "CategoricalCrossentropy(*)"),
          kinds=("forward", "gradient"),
          trigger="a loss class with reduction 'sum_over_batch_size' (the default) and sample "
                  "weights whose sum is not the number of items",
          explanation="Keras' reduce_values divides sum(w_i l_i) by the number of loss values "
                      "for 'sum_over_batch_size'; the reference divides by sum(w_i). "
                      "reduction='mean_with_sample_weight' gives the weighted mean.",
          link=f"{KERAS_LOSS_BASE} (reduce_values: divisor = prod(shape(values)))",
          applies=_weighted_mean_differs, model=cat, example=_ex_sample_weight),
        d("sparse-sum-over-batch-size-ignores-sample-weight-total",
          title="Keras SparseCategoricalCrossentropy: 'mean' with sample_weight divides by the "
                "item count, not sum(w)",
          entry_points=_eps(backend, "SparseCategoricalCrossentropy(*)"),
          kinds=("forward", "gradient"),
          trigger="the sparse loss class with 'sum_over_batch_size' and sample weights whose "
                  "sum is not the number of items",
          explanation="As for CategoricalCrossentropy: reduce_values divides by the number of "
                      "loss values.",
          link=f"{KERAS_LOSS_BASE} (reduce_values: divisor = prod(shape(values)))",
          applies=_weighted_mean_differs, model=sparse, example=_ex_sample_weight),
        d("label-smoothing-classes-from-last-axis",
          title="Keras categorical label smoothing uses C = shape[-1] even when axis != -1",
          entry_points=CCE, kinds=("forward", "gradient"),
          trigger="label_smoothing > 0 with the class axis not last",
          explanation="keras.losses.categorical_crossentropy computes num_classes = "
                      "ops.shape(y_true)[-1] whatever its axis argument, so the smoothing mass "
                      "eps/C uses the size of the last axis and the smoothed target no longer "
                      "sums to 1; autodiff's gradient is then softmax * sum(q) - q.",
          link=f"{KERAS_LOSSES} (categorical_crossentropy: num_classes = "
               "ops.shape(y_true)[-1])",
          applies=_smoothing_axis_not_last, model=cat, example=_ex_smoothing_axis),
        d("label-smoothing-out-of-range-accepted",
          title="Keras accepts label_smoothing outside [0, 1] and applies the formula",
          entry_points=CCE + BCE, kinds=("forward", "gradient"),
          trigger="label_smoothing < 0 or > 1",
          explanation="Keras never checks label_smoothing: t (1 - eps) + eps / C (binary: "
                      "eps / 2) is computed for any eps, giving targets outside [0, 1] and a "
                      "finite loss; the reference rejects it.",
          link=f"{KERAS_LOSSES} (categorical_crossentropy / binary_crossentropy: no range "
               "check)",
          applies=label_smoothing_out_of_range,
          model=lambda c: bce(c) if c.op.startswith("binary") else cat(c),
          example=_ex_smoothing_out_of_range),
        d("sparse-ignore-class-function-mean-counts-ignored",
          title="Keras sparse_categorical_crossentropy(ignore_class): a plain mean counts "
                "ignored items",
          entry_points=_eps(backend, "sparse_categorical_crossentropy(*)"),
          kinds=("forward", "gradient"),
          trigger="the function with ignore_class and some ignored items, averaged with "
                  "keras.ops.mean",
          explanation="The function returns 0 for ignored items and records the mask only as a "
                      "Keras mask attribute, which keras.ops.mean does not read: the mean "
                      "divides by all items. The loss class divides by the valid ones.",
          link=f"{KERAS_LOSSES} (sparse_categorical_crossentropy: ops.where(valid_mask, res, "
               "0.0); backend.set_keras_mask)",
          applies=all_of(some_ignored, lambda c: c.reduction == "mean"),
          model=categorical_model(backend, sparse=True, ignore_divisor="all"),
          example=_ex_ignore_function_mean),
        d("ignore-class-all-ignored-mean-is-zero",
          title="Keras SparseCategoricalCrossentropy(ignore_class): all items ignored gives 0, "
                "not NaN",
          entry_points=_eps(backend, "SparseCategoricalCrossentropy(*)"), kinds=("forward",),
          trigger="reduction 'sum_over_batch_size' with every label equal to ignore_class",
          explanation="Keras weights valid items by total/valid with divide_no_nan and divides "
                      "by the item count with divide_no_nan: nothing valid gives 0; the "
                      "reference computes 0/0 = NaN.",
          link=f"{KERAS_LOSS_BASE} (apply_mask: divide_no_nan(total, valid))",
          applies=all_ignored, model=lambda c: (np.asarray(0.0), None),
          example=_ex_all_ignored),
        d("loss-class-empty-batch-unreduced",
          title="Keras loss classes return an empty (0,) tensor, not a scalar, for an empty "
                "batch",
          entry_points=_eps(backend, "CategoricalCrossentropy(*)",
                            "SparseCategoricalCrossentropy(*)", "BinaryCrossentropy(*)"),
          kinds=("forward",),
          trigger="reduction 'sum' or 'sum_over_batch_size' on a batch with no items",
          explanation="keras.losses.Loss reduce_values returns the per-item values unreduced "
                      "when their shape is () or (0,), whatever the reduction.",
          link=f"{KERAS_LOSS_BASE} (reduce_values: 'or tuple(values.shape) == (0,): return "
               "values')",
          applies=empty_reduced, model=lambda c: (np.zeros((0,)), None), example=_ex_empty),
        # -- on probabilities --
        d("cce-probs-renormalised",
          title="Keras categorical_crossentropy on probabilities divides them by their sum "
                "first",
          entry_points=CCE_P, kinds=("forward", "gradient"),
          trigger="probability rows that do not sum to 1 along the class axis, or a single "
                  "class (the renormalised probability is the constant 1: gradient 0)",
          explanation="With from_logits=False the backend computes output / sum(output, axis) "
                      "before the clip and the log; the gradient flows through the "
                      "renormalisation.",
          link=f"{nn} (categorical_crossentropy: output / sum(output, axis, keepdims=True))",
          applies=_cce_unnormalised, model=cat, example=_ex_cce_unnormalised),
        d("cce-probs-clip-eps",
          title="Keras categorical_crossentropy clips probabilities to [eps, 1-eps], eps=1e-7",
          entry_points=CCE_P, kinds=("forward", "gradient"),
          trigger="a renormalised probability below 1e-7 (e.g. 0) or above 1-1e-7; in "
                  "float16/bfloat16 eps is the dtype's rounding of 1e-7 and 1-eps rounds to 1",
          explanation="After renormalising the backend clips to [epsilon(), 1 - epsilon()] "
                      "(keras.config.epsilon() = 1e-7) so that log stays finite: a zero "
                      "probability under a positive target costs 16.118 instead of +inf. A "
                      "clipped entry still gets the renormalisation's derivative.",
          link=f"{nn} (categorical_crossentropy: clip(output, epsilon(), 1.0 - epsilon()))",
          applies=_clipped, model=cat, example=_ex_cce_clip),
        d("sparse-cce-probs-renormalise-then-clip",
          title="Keras sparse_categorical_crossentropy on probabilities renormalises, clips, "
                "then takes -log p_y",
          entry_points=SCCE_P, kinds=("forward", "gradient"),
          trigger="forward: rows that do not sum to 1 or values outside [1e-7, 1-1e-7]; "
                  "gradient: any probabilities (the renormalisation's derivative reaches "
                  "every class)",
          explanation=f"On the {backend} backend the sparse loss on probabilities is the "
                      "categorical one on a one-hot target: output / sum(output), clipped to "
                      "[eps, 1-eps], log, the label's entry"
                      + (" (jax.nn.one_hot, a sum)" if backend == "jax" else
                         " (torch.nn.functional.nll_loss)")
                      + ". The TensorFlow backend clips FIRST and renormalises after "
                        "(log_softmax(log(clip(p)))): the backends of one Keras version "
                        "give different values for clipped rows.",
          link=f"{nn} (sparse_categorical_crossentropy: output / sum, clip, log)",
          applies=lambda c: c.op == "categorical_crossentropy"
          and c.target_kind in ("index", "probs"),
          model=sparse, example=_ex_sparse_probs),
        d("bce-probs-clip-eps",
          title="Keras binary_crossentropy clips probabilities to [eps, 1-eps], eps=1e-7",
          entry_points=BCE_P, kinds=("forward", "gradient"),
          trigger="probabilities below 1e-7 or above 1-1e-7 (0 and 1 included)",
          explanation="The backend clips y_pred to [epsilon(), 1 - epsilon()] before "
                      "t log p + (1-t) log(1-p)"
                      + (" (torch.nn.functional.binary_cross_entropy, which also clamps each "
                         "log at -100)" if backend == "torch" else "")
                      + "; gradient 0 where clipped.",
          link=f"{nn} (binary_crossentropy: clip(output, epsilon(), 1.0 - epsilon()))",
          applies=_clipped, model=bce, example=_ex_bce_clip),
        d("bce-probs-clip-half-upper-bound-is-one",
          title="Keras binary_crossentropy in float16/bfloat16: 1-eps rounds to 1"
                + (", the log clamp at -100 gives 100" if backend == "torch"
                   else ", p=1 gives inf/nan"),
          entry_points=BCE_P, kinds=("forward",),
          trigger="float16 or bfloat16 probability exactly 1, or below 1e-7",
          explanation="The upper clip bound 0.9999999 is cast to the input dtype: float16 and "
                      "bfloat16 round it to 1.0, so the clip protects nothing at the top: "
                      + ("torch's binary_cross_entropy clamps log(1 - 1) = -inf at -100, so "
                         "p = 1 under t = 0 costs 100 (the TensorFlow and JAX backends: inf)"
                         if backend == "torch" else
                         "log(1 - 1) = -inf, times (1 - t) gives inf for t < 1 and "
                         "0 * -inf = nan for t = 1"),
          link=f"{nn} (binary_crossentropy)"
               + ("; https://github.com/pytorch/pytorch/blob/v2.13.0/aten/src/ATen/native/"
                  "Loss.cpp (binary_cross_entropy: log clamped at -100)"
                  if backend == "torch" else ""),
          applies=_bce_half_at_bounds, model=bce, example=_ex_bce_half),
    ]
    return tuple(out)


def narrow_entries(backend: str) -> tuple[Divergence, ...]:
    """float16/bfloat16 corner cases, tried after the general entries."""
    fw = f"keras-{backend}"

    def labels_in_dtype(call: Call) -> ModelResult:
        yr = round_to(_sparse_labels(call), call.dtype).astype(np.int64)
        return categorical(call.replace(target=yr, target_kind="index"),
                           from_logits=call.op == "cross_entropy", sparse=True, backend=backend)

    return (Divergence(
        id=f"keras-{backend}-sparse-class-labels-rounded-to-dtype",
        title="Keras SparseCategoricalCrossentropy(dtype=float16/bfloat16) rounds class indices",
        framework=fw, package="keras", versions=KERAS_3,
        entry_points=_eps(backend, "SparseCategoricalCrossentropy(from_logits=True)",
                          "SparseCategoricalCrossentropy(from_logits=False)"),
        kinds=("forward", "gradient"),
        trigger="a loss object built with dtype bfloat16 (index > 256 not a multiple of the "
                "spacing) or float16 (index > 2048)",
        explanation="Loss.__call__ converts y_true to the loss's dtype before the sparse loss "
                    "casts it back to an integer: in bfloat16 class 257 becomes 256.",
        link=f"{KERAS_LOSS_BASE} (Loss.__call__: convert_to_tensor(x, dtype=self.dtype) on "
             "y_true)",
        applies=_labels_round, model=labels_in_dtype, example=_ex_labels_round),)


_F32_SLUG = {"cross_entropy": "cce", "binary_cross_entropy_with_logits": "bce"}


def float32_class_entries(backend: str) -> tuple[Divergence, ...]:
    """The loss classes built without dtype computing float64 inputs in float32 (tried last)."""
    def in_float32(sparse: bool) -> Callable[[Call], ModelResult]:
        def model(call: Call) -> ModelResult:
            c = _float32_inputs(call)
            if empty_reduced(c):
                return np.zeros((0,)), None
            if c.op == "cross_entropy":
                # JAX under jit with index targets: XLA selects the label's entry of the
                # one-hot product (no 0 * -inf = NaN; see keras-jax-cce-neg-inf-under-zero-
                # label-nan); categorical()'s gather path is the torch sparse one
                gather = backend == "jax" and c.target_kind == "index" \
                    and not c.option("label_smoothing") and c.facet("mode") != "eager"
                fwd, grad = categorical(c, from_logits=True, sparse=sparse or gather,
                                        backend="torch" if gather else backend)
            else:
                fwd, grad = binary(c, from_logits=True, backend=backend)
            return round_to(fwd, "float32"), None if grad is None else round_to(grad, "float32")
        return model

    out = []
    for cls, op, sparse in (("CategoricalCrossentropy", "cross_entropy", False),
                            ("SparseCategoricalCrossentropy", "cross_entropy", True),
                            ("BinaryCrossentropy", "binary_cross_entropy_with_logits", False)):
        out.append(Divergence(
            id=f"keras-{backend}-{'sparse-' if sparse else ''}{_F32_SLUG[op]}-class-computes-"
               "in-float32",
            title=f"Keras {cls}() without dtype computes float64 inputs in float32",
            framework=f"keras-{backend}", package="keras", versions=KERAS_3,
            entry_points=(f"{_K}{cls}(from_logits=True, dtype=None)@{backend}",),
            kinds=("forward", "gradient"),
            trigger="float64 inputs to the loss class constructed without dtype",
            explanation="Loss.__init__ takes dtype=None to mean keras.config.floatx() "
                        "(float32) and Loss.__call__ converts y_pred and y_true to it: the "
                        "loss and its reduction run in float32 and the result is float32.",
            link=f"{KERAS_LOSS_BASE} (Loss.__init__: dtype_policies.get(dtype or "
                 "backend.floatx()); Loss.__call__: ops.convert_to_tensor(x, dtype=self.dtype))",
            applies=lambda c, op=op: c.dtype == "float64" and c.op == op,
            model=in_float32(sparse),
            example=(lambda: example_call(
                "cross_entropy", [[0.1, -1.3, 2.7, 0.3], [1.1, 0.7, -0.4, -2.2]],
                target=[0, 3], target_kind="index", options={"reduction": "sum"}))
            if op == "cross_entropy" else (lambda: example_call(
                "binary_cross_entropy_with_logits", [[0.1, -1.3, 2.7], [1.1, 0.7, -0.4]],
                target=[[1.0, 0.0, 0.3], [0.0, 1.0, 0.9]], options={"reduction": "sum"})),
            compute_dtype="float32"))
    return tuple(out)
