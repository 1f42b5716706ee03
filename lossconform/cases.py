"""The case table: one declarative list of frozen rows, framework-neutral.

A case names a canonical op, a shape and class axis, an input regime, a target kind and
options. Its inputs are generated in float64 from a generator seeded by the case id (and
the run's ``--lc-seed``), then rounded to the dtype under test, so the reference and the
framework see exactly the same numbers. A case never knows a framework.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable

import numpy as np

from lossconform.contract import Call
from lossconform.dtypes import DTYPES, round_to
from lossconform.ops import BINARY, LOG_PROBS, OP, OPS_TABLE, PROBS

#: what a case id is made of: each "-"-separated part is a valid pytest ``-k`` word (no "=")
_ID_OK = re.compile(r"^[A-Za-z0-9_.\-]+$")
ALL = DTYPES
NO_F16 = ("bfloat16", "float32", "float64")  # inputs beyond float16's range (65504)
WIDE_ONLY = ("float32", "float64")  # inputs needing more than 8 bits of mantissa to mean anything



@dataclass(frozen=True)
class Case:
    op: str
    shape: tuple[int, ...]
    axis: int = -1
    regime: str = "moderate"
    target_kind: str | None = None  # "index" | "probs" | None
    options: tuple[tuple[str, Any], ...] = ()  # sorted (name, value); weights as "random"
    dtypes: tuple[str, ...] = ALL
    tolerance_overrides: tuple[str, ...] = ()
    note: str = ""

    @cached_property
    def id(self) -> str:
        parts = [self.op, self.regime, "x".join(map(str, self.shape)) or "scalar"]
        if len(self.shape) > 1 and self.axis not in (-1, len(self.shape) - 1):
            parts.append(f"axis{self.axis}")
        if self.target_kind:
            parts.append(self.target_kind)
        for k, v in self.options:  # name_value, so that -k reduction_mean selects it
            parts.append(k if v == "random" else f"{k}_{v}")
        return "-".join(parts)

    @property
    def opts(self) -> dict[str, Any]:
        return dict(self.options)

    @property
    def reduction(self) -> str | None:
        return self.opts.get("reduction")

    def describe(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "shape": list(self.shape),
            "axis": self.axis,
            "regime": self.regime,
            "target_kind": self.target_kind,
            "options": {k: v for k, v in self.options},
            "note": self.note,
        }

    # ------------------------------------------------------------------ inputs
    def rng(self, seed: int) -> np.random.Generator:
        digest = hashlib.sha256(f"{seed}:{self.id}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    def call(self, dtype: str, seed: int = 0, device: str = "cpu", with_grad: bool = True) -> Call:
        """The framework-neutral request for this case in ``dtype`` (inputs rounded to it)."""
        raw = make_inputs(self, self.rng(seed))
        x = round_to(raw["x"], dtype)
        options: dict[str, Any] = {}
        for k, v in self.options:
            if v == "random":
                options[k] = round_to(raw[k], dtype)
            else:
                options[k] = v
        target = raw.get("target")
        if target is not None and self.target_kind != "index":
            target = round_to(target, dtype)
        call = Call(
            op=self.op, x=x, dtype=dtype, axis=self.axis, target=target,
            target_kind=self.target_kind, options=options, device=device,
        )
        if with_grad:
            go = raw["grad_output"](output_shape(call))
            call = call.replace(grad_output=round_to(go, dtype))
        return call


def output_shape(call: Call) -> tuple[int, ...]:
    """Shape of the canonical op's output for ``call``."""
    if not OP[call.op].is_loss:
        return call.x.shape
    if call.reduction != "none":
        return ()
    if OP[call.op].family == BINARY:
        return call.x.shape
    axis = call.axis % call.x.ndim
    return call.x.shape[:axis] + call.x.shape[axis + 1 :]


# ---------------------------------------------------------------------- input regimes
_CLASS_AXIS_OPS = tuple(o.name for o in OPS_TABLE if o.class_axis)


def _logits(case: Case, rng: np.random.Generator) -> np.ndarray:
    shape, r = case.shape, case.regime
    if r in ("moderate", "onehot", "soft", "unnormalised_target"):
        return rng.normal(0.0, 2.0, shape)
    if r == "large_scale":
        return rng.normal(0.0, 60.0, shape)
    if r == "offset_1e4":
        return rng.normal(0.0, 3.0, shape) + 1e4
    if r == "offset_1e8":
        return rng.normal(0.0, 30.0, shape) + 1e8
    if r == "huge":
        return rng.choice([-1e30, 1e30, -3e29, 0.0], size=shape)
    if r == "neg_inf":
        # about 30% of the entries are -inf; along the class axis entry 0 stays finite, so
        # every row keeps a finite maximum (element-wise ops see -inf anywhere)
        x = rng.normal(0.0, 2.0, shape)
        mask = rng.random(shape) < 0.3
        if case.op in _CLASS_AXIS_OPS and len(shape):
            np.moveaxis(mask, case.axis, -1)[..., 0] = False
        x[mask] = -np.inf
        return x
    if r == "pos_inf":
        # a +inf entry: along the class axis one random class in about 30% of the rows
        # (softmax of such a row is undefined: inf - inf); element-wise, 30% of the entries
        x = rng.normal(0.0, 2.0, shape)
        if case.op in _CLASS_AXIS_OPS and len(shape):
            xm = np.moveaxis(x, case.axis, -1)
            rows = rng.random(xm.shape[:-1]) < 0.3
            cls = rng.integers(0, xm.shape[-1], size=xm.shape[:-1]) if xm.shape[-1] else None
            if cls is not None:
                hit = np.zeros(xm.shape, dtype=bool)
                np.put_along_axis(hit, cls[..., None], rows[..., None], -1)
                xm[hit] = np.inf
        else:
            x[rng.random(shape) < 0.3] = np.inf
        return x
    if r == "confident":
        # the target class (or class 0 for activations) leads by ~28: true loss ~ C * 7e-13
        return rng.normal(0.0, 1.0, shape)
    return _regime_logits(case, rng)


def _class_rows(case: Case, x: np.ndarray) -> np.ndarray:
    """A view of ``x`` with the class axis last (element-wise ops: one entry per row)."""
    if case.op in _CLASS_AXIS_OPS and x.ndim:
        return np.moveaxis(x, case.axis, -1)
    return x[..., None]


def _some_rows(rng: np.random.Generator, n_rows_shape: tuple[int, ...], share: float) -> np.ndarray:
    """A boolean mask over rows: about ``share`` of them, never none and never all (when
    there are at least two rows), so a regime's special rows always sit beside plain ones."""
    m = rng.random(n_rows_shape) < share
    flat = m.reshape(-1)
    if flat.size >= 2:
        flat[0], flat[-1] = True, False
    elif flat.size == 1:
        flat[0] = True
    return m


def _regime_logits(case: Case, rng: np.random.Generator) -> np.ndarray:
    """Logits of the regimes users hit that the plain grid lacks (issue 10, section 4).

    neg_inf_onehot / neg_inf_soft / pos_inf / nan: as ``neg_inf`` / ``pos_inf``, or a NaN
    in about a quarter of the rows (element-wise: about 10% of the entries), for every
    target kind; masked_rows: about a quarter of the rows entirely -inf (fully masked);
    wide_3e4: uniform in [-3e4, 3e4] (float16 at large magnitudes: every item loss stays
    below 65504); confident_batch: zeros, the target class gets a lead of 13.5..14.2 in
    make_inputs (loss ~1e-6 per item); one_vs_rest: class 0 at log(C - 1), the C - 1
    others at 0, so p_0 = 1/2 and the normaliser is 1 + (C - 1) equal terms that no
    float format holds exactly (the sum's rounding error grows with C); uniform: zeros
    (the normaliser is C, exact, beyond float16's range for C > 65504)."""
    shape, r = case.shape, case.regime
    if r in ("neg_inf_onehot", "neg_inf_soft"):
        return _logits(Case(case.op, shape, case.axis, "neg_inf"), rng)
    if r in ("zero_target", "far_from_1"):
        return rng.normal(0.0, 2.0, shape)
    if r == "masked_rows":
        x = rng.normal(0.0, 2.0, shape)
        rows = _class_rows(case, x)
        rows[_some_rows(rng, rows.shape[:-1], 0.25)] = -np.inf
        return x
    if r == "nan":
        x = rng.normal(0.0, 2.0, shape)
        rows = _class_rows(case, x)
        if case.op in _CLASS_AXIS_OPS:
            hit = _some_rows(rng, rows.shape[:-1], 0.25)
            cls = rng.integers(0, rows.shape[-1], size=rows.shape[:-1])
            put = np.zeros(rows.shape, dtype=bool)
            np.put_along_axis(put, cls[..., None], hit[..., None], -1)
            rows[put] = np.nan
        else:
            rows[_some_rows(rng, rows.shape[:-1], 0.1)] = np.nan
        return x
    if r == "wide_3e4":
        return rng.uniform(-3e4, 3e4, shape)
    if r in ("confident_batch", "uniform"):
        return np.zeros(shape)
    if r == "one_vs_rest":
        x = np.zeros(shape)
        rows = _class_rows(case, x)
        rows[..., 0] = np.log(rows.shape[-1] - 1)
        return x
    raise KeyError(f"unknown logit regime {r!r}")


def _probs_input(case: Case, rng: np.random.Generator) -> np.ndarray:
    """Probabilities along the class axis (categorical) or element-wise (binary)."""
    shape, r = case.shape, case.regime
    if OP[case.op].family == BINARY:
        if r == "moderate" or r == "soft":
            return rng.uniform(0.02, 0.98, shape)
        if r == "near_0_1":
            return rng.choice([1e-12, 1e-7, 1e-3, 1 - 1e-3, 1 - 1e-7, 1 - 1e-12, 0.5], size=shape)
        if r == "exact_0_1":
            return rng.choice([0.0, 1.0, 0.25, 0.75], size=shape)
        raise KeyError(f"unknown probability regime {r!r}")
    ax = case.axis
    z = np.moveaxis(rng.normal(0.0, 1.5, shape), ax, -1)
    if r in ("moderate", "onehot", "soft", "unnormalised_target"):
        p = np.exp(z - z.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
    elif r == "near_0":
        p = np.exp(z - z.max(-1, keepdims=True))
        p[..., 1::2] = 1e-12
        p /= p.sum(-1, keepdims=True)
    elif r == "exact_0":
        p = np.exp(z - z.max(-1, keepdims=True))
        p[..., 1::2] = 0.0
        p /= p.sum(-1, keepdims=True)
    elif r == "unnormalised":
        p = rng.uniform(0.05, 0.9, z.shape)
    elif r in ("zero_rows", "zero_target", "far_from_1"):
        p = np.exp(z - z.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        if r == "zero_rows":  # predicted probability rows that are all zero
            p[_some_rows(rng, p.shape[:-1], 0.25)] = 0.0
    else:
        raise KeyError(f"unknown probability regime {r!r}")
    return np.moveaxis(p, -1, ax)


def make_inputs(case: Case, rng: np.random.Generator) -> dict[str, Any]:
    """Float64 inputs (and a grad_output factory) for ``case``; values as generated."""
    shape, ax = case.shape, case.axis
    out: dict[str, Any] = {}
    nd = len(shape)
    C = shape[ax] if nd else 1
    item_shape = shape[: ax % nd] + shape[ax % nd + 1 :] if nd else ()
    op = case.op
    spec = OP[op]
    binary = spec.family == BINARY
    elementwise = not spec.class_axis

    # logits (log-probabilities are made from them below), or probabilities
    x = _probs_input(case, rng) if spec.input_kind == PROBS else _logits(case, rng)

    # targets
    if case.target_kind == "index":
        y = rng.integers(0, C, size=item_shape)
        opts = case.opts
        if "ignore_index" in opts:
            ign = rng.random(item_shape) < 0.25
            if case.regime in ("masked_rows", "nan") and nd:
                # the padding a user ignores: exactly the rows without a finite maximum
                ign = ~np.isfinite(np.max(np.moveaxis(x, ax, -1), axis=-1))
                ii = opts["ignore_index"]
                y = np.where(y == ii, (ii + 1) % C, y)  # the other rows are not ignored
            y = np.where(ign, opts["ignore_index"], y)
        if case.regime in ("one_vs_rest", "uniform"):
            y = np.zeros(item_shape, dtype=np.int64)  # class 0: p = 1/2, or 1/C
        out["target"] = y.astype(np.int64)
    elif case.target_kind == "probs":
        if binary:
            if case.regime == "soft":
                t = rng.uniform(0.0, 1.0, shape)
            else:
                t = rng.integers(0, 2, size=shape).astype(np.float64)
        else:
            tz = np.moveaxis(rng.normal(0.0, 1.0, shape), ax, -1)
            if case.regime in SOFT_TARGET_REGIMES:
                t = np.exp(tz)
                t /= t.sum(-1, keepdims=True)
                if case.regime == "neg_inf_soft":  # masked classes get label 0
                    t = np.where(np.isneginf(np.moveaxis(x, ax, -1)), 0.0, t)
                    t /= t.sum(-1, keepdims=True)
                elif case.regime == "zero_target":  # rows of all-zero labels
                    t[_some_rows(rng, t.shape[:-1], 0.25)] = 0.0
            elif case.regime == "unnormalised_target":
                t = rng.uniform(0.0, 0.8, tz.shape)
            elif case.regime == "far_from_1":
                # rows summing to about 0.9 C and rows summing to about 1e-3
                big = _some_rows(rng, tz.shape[:-1], 0.5)[..., None]
                t = np.where(big, rng.uniform(0.8, 1.0, tz.shape),
                             rng.uniform(0.0, 2e-3 / tz.shape[-1], tz.shape))
            else:  # one-hot
                t = np.zeros(tz.shape)
                idx = rng.integers(0, C, size=tz.shape[:-1])
                np.put_along_axis(t, idx[..., None], 1.0, axis=-1)
            t = np.moveaxis(t, -1, ax)
        out["target"] = t

    if case.regime == "confident" and nd:
        # the target (or class 0) gets a lead of 28 over the others
        xm = np.moveaxis(x, ax, -1)
        if case.target_kind == "index" and "target" in out:
            tgt = np.clip(out["target"], 0, C - 1)
            np.put_along_axis(xm, tgt[..., None], np.take_along_axis(xm, tgt[..., None], -1) + 28.0, -1)
        elif case.target_kind == "probs" and not binary:
            idx = np.argmax(np.moveaxis(out["target"], ax, -1), axis=-1)
            np.put_along_axis(xm, idx[..., None], np.take_along_axis(xm, idx[..., None], -1) + 28.0, -1)
        elif elementwise:
            sign = np.where(out.get("target", np.ones(shape)) > 0.5, 1.0, -1.0) if "target" in out else 1.0
            x = sign * (np.abs(x) + 30.0)
        else:
            xm[..., 0] += 28.0

    if case.regime == "confident_batch" and nd and case.target_kind:
        # the target class leads by d in [13.5, 14.2]: loss log1p(exp(-d)) ~ 1e-6 per item
        xm = np.moveaxis(x, ax, -1)
        t_last = out["target"] if case.target_kind == "index" else \
            np.argmax(np.moveaxis(out["target"], ax, -1), axis=-1)
        lead = rng.uniform(13.5, 14.2, item_shape)
        np.put_along_axis(xm, np.asarray(t_last)[..., None], lead[..., None], -1)

    if spec.input_kind == LOG_PROBS:
        z = np.moveaxis(x, ax, -1)
        m = np.max(z, -1, keepdims=True)
        lp = z - m - np.log(np.sum(np.exp(z - m), -1, keepdims=True))
        x = np.moveaxis(lp, -1, ax)

    opts = case.opts
    if opts.get("weight") == "random":
        if binary:
            out["weight"] = rng.uniform(0.25, 2.0, shape[-1:] if nd else ())
        else:
            out["weight"] = rng.uniform(0.25, 2.0, (C,))
    if opts.get("pos_weight") == "random":
        out["pos_weight"] = rng.uniform(0.5, 3.0, shape[-1:] if nd else ())
    if opts.get("sample_weight") == "random":
        out["sample_weight"] = rng.uniform(0.0, 2.0, item_shape)

    out["x"] = x
    out["grad_output"] = lambda s: rng.uniform(0.5, 1.5, s)
    return out


# ---------------------------------------------------------------------- the table
def _opts(**kw: Any) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, v) for k, v in kw.items() if v is not None))


#: regimes whose categorical probability targets are soft (the others are one-hot unless
#: their name says otherwise)
SOFT_TARGET_REGIMES = ("soft", "neg_inf_soft", "pos_inf", "nan", "masked_rows", "zero_target",
                       "wide_3e4")

REDUCTIONS = ("none", "mean", "sum")
#: (N, C) batches every option set runs on: a square-ish batch, few classes, many items,
#: and an odd class count.
BATCH_SHAPES = ((16, 10), (64, 3), (5, 37))


def _activation_cases() -> Iterable[Case]:
    for op in ("softmax", "log_softmax"):
        for shape, axis in (((7,), -1), ((16, 10), -1), ((4, 5, 3, 3), 1), ((4, 3, 3, 5), -1), ((16, 10), 0)):
            yield Case(op, shape, axis)
        for regime, dts in (
            ("large_scale", ALL), ("offset_1e4", NO_F16), ("offset_1e8", NO_F16),
            ("huge", NO_F16), ("neg_inf", ALL), ("pos_inf", ALL), ("confident", ALL),
        ):
            yield Case(op, (16, 10), -1, regime, dtypes=dts)
            yield Case(op, (4, 5, 3, 3), 1, regime, dtypes=dts)
        yield Case(op, (8, 1), -1, note="one class: softmax is 1, log_softmax 0")
        yield Case(op, (4, 1000), -1, tolerance_overrides=("long_reduction",))
        yield Case(op, (4, 1000), -1, "offset_1e4", dtypes=NO_F16, tolerance_overrides=("long_reduction",))
        yield Case(op, (2, 100_000), -1, dtypes=NO_F16 + ("float16",),
                   tolerance_overrides=("long_reduction",), note="one very large C")
        yield Case(op, (0, 10), -1, note="empty batch")
    for op in ("sigmoid", "log_sigmoid"):
        for shape in ((7,), (16, 10), (4, 5, 3, 3)):
            yield Case(op, shape)
        for regime, dts in (("large_scale", ALL), ("huge", NO_F16), ("neg_inf", ALL), ("pos_inf", ALL),
                            ("confident", ALL)):
            yield Case(op, (16, 10), -1, regime, dtypes=dts)
        yield Case(op, (0, 10), -1, note="empty batch")


def _ce_index_cases() -> Iterable[Case]:
    op = "cross_entropy"
    option_sets = (
        {},
        {"weight": "random"},
        {"ignore_index": 1},
        {"label_smoothing": 0.1},
        {"weight": "random", "ignore_index": 1},
        {"weight": "random", "label_smoothing": 0.2},
        {"ignore_index": 1, "label_smoothing": 0.1},
        {"weight": "random", "ignore_index": 1, "label_smoothing": 0.15},
        {"sample_weight": "random"},
        {"sample_weight": "random", "weight": "random"},
    )
    for red in REDUCTIONS:
        for o in option_sets:
            for shape in BATCH_SHAPES:
                yield Case(op, shape, -1, "moderate", "index", _opts(reduction=red, **o))
            yield Case(op, (4, 5, 3, 3), 1, "moderate", "index", _opts(reduction=red, **o))
        for regime, dts in (
            ("large_scale", ALL), ("offset_1e4", NO_F16), ("offset_1e8", NO_F16),
            ("neg_inf", ALL), ("pos_inf", ALL), ("confident", ALL),
        ):
            yield Case(op, (16, 10), -1, regime, "index", _opts(reduction=red), dtypes=dts)
            yield Case(op, (16, 10), -1, regime, "index", _opts(reduction=red, weight="random", ignore_index=1), dtypes=dts)
        yield Case(op, (4, 3, 3, 5), -1, "moderate", "index", _opts(reduction=red))
        yield Case(op, (10,), -1, "moderate", "index", _opts(reduction=red), note="a single item (unbatched)")
        yield Case(op, (8, 1), -1, "moderate", "index", _opts(reduction=red), note="one class")
        yield Case(op, (8, 2), -1, "moderate", "index", _opts(reduction=red))
        yield Case(op, (16, 1000), -1, "moderate", "index", _opts(reduction=red), tolerance_overrides=("long_reduction",))
        yield Case(op, (2000, 10), -1, "moderate", "index", _opts(reduction=red), tolerance_overrides=("long_reduction",))
        yield Case(op, (0, 10), -1, "moderate", "index", _opts(reduction=red), note="empty batch")


def _ce_probs_cases() -> Iterable[Case]:
    op = "cross_entropy"
    option_sets = ({}, {"weight": "random"}, {"label_smoothing": 0.1}, {"weight": "random", "label_smoothing": 0.2},
                   {"sample_weight": "random"})
    for red in REDUCTIONS:
        for regime in ("onehot", "soft", "unnormalised_target"):
            for o in option_sets:
                for shape in BATCH_SHAPES:
                    yield Case(op, shape, -1, regime, "probs", _opts(reduction=red, **o))
            yield Case(op, (4, 5, 3, 3), 1, regime, "probs", _opts(reduction=red))
        for regime, dts in (("large_scale", ALL), ("offset_1e4", NO_F16), ("confident", ALL)):
            yield Case(op, (16, 10), -1, regime, "probs", _opts(reduction=red), dtypes=dts)
        yield Case(op, (16, 1000), -1, "soft", "probs", _opts(reduction=red), tolerance_overrides=("long_reduction",))


def _nll_cases() -> Iterable[Case]:
    op = "nll_loss"
    for red in REDUCTIONS:
        for o in ({}, {"weight": "random"}, {"ignore_index": 1}, {"weight": "random", "ignore_index": 1}):
            for shape in BATCH_SHAPES:
                yield Case(op, shape, -1, "moderate", "index", _opts(reduction=red, **o))
            yield Case(op, (4, 5, 3, 3), 1, "moderate", "index", _opts(reduction=red, **o))
        yield Case(op, (16, 10), -1, "confident", "index", _opts(reduction=red))
        yield Case(op, (10,), -1, "moderate", "index", _opts(reduction=red))
        yield Case(op, (0, 10), -1, "moderate", "index", _opts(reduction=red), note="empty batch")


def _cat_probs_cases() -> Iterable[Case]:
    op = "categorical_crossentropy"
    for red in REDUCTIONS:
        for regime in ("moderate", "soft", "near_0", "exact_0", "unnormalised"):
            for o in ({}, {"label_smoothing": 0.1}, {"sample_weight": "random"}):
                for shape in BATCH_SHAPES:
                    yield Case(op, shape, -1, regime, "probs", _opts(reduction=red, **o),
                               dtypes=WIDE_ONLY if regime == "near_0" else ALL)
        yield Case(op, (4, 5, 3, 3), 1, "moderate", "probs", _opts(reduction=red))
        yield Case(op, (4, 3, 3, 5), -1, "moderate", "probs", _opts(reduction=red))


def _binary_cases() -> Iterable[Case]:
    for red in REDUCTIONS:
        op = "binary_cross_entropy"
        for regime, dts in (("moderate", ALL), ("soft", ALL), ("near_0_1", WIDE_ONLY), ("exact_0_1", ALL)):
            for o in ({}, {"weight": "random"}, {"label_smoothing": 0.1}):
                for shape in BATCH_SHAPES:
                    yield Case(op, shape, -1, regime, "probs", _opts(reduction=red, **o), dtypes=dts)
        yield Case(op, (4, 5, 3, 3), -1, "moderate", "probs", _opts(reduction=red))
        yield Case(op, (10,), -1, "moderate", "probs", _opts(reduction=red))
        op = "binary_cross_entropy_with_logits"
        for regime, dts in (("moderate", ALL), ("soft", ALL), ("large_scale", ALL), ("confident", ALL), ("huge", NO_F16)):
            for o in ({}, {"weight": "random"}, {"pos_weight": "random"}, {"label_smoothing": 0.1},
                      {"weight": "random", "pos_weight": "random"}):
                for shape in BATCH_SHAPES:
                    yield Case(op, shape, -1, regime, "probs", _opts(reduction=red, **o), dtypes=dts)
        for regime in ("neg_inf", "pos_inf"):
            for o in ({}, {"pos_weight": "random"}):
                yield Case(op, (16, 10), -1, regime, "probs", _opts(reduction=red, **o))
        yield Case(op, (4, 5, 3, 3), -1, "moderate", "probs", _opts(reduction=red))
        yield Case(op, (10,), -1, "moderate", "probs", _opts(reduction=red))


#: The C of the accuracy-versus-classes rows (one row each): 2**20 is the largest, run in the
#: wide dtypes only (its float16 gradient at class 0 is -sum(g)/2, beyond 65504), for softmax
#: and cross_entropy (float64) only: about 1 s per entry point and dtype, mostly the
#: reference's extended precision and the comparison.
GROWTH_C = (2**10, 2**15, 2**20)
#: The item counts of the confident-batch sums (loss ~1e-6 per item).
CONFIDENT_N = (100, 10_000, 100_000)


def _regime_cases() -> Iterable[Case]:
    """Regimes users hit that the plain grid lacks (issue 10, section 4): -inf masks under
    every target kind, fully masked rows, +inf and NaN logits, degenerate probability rows,
    float16 at large magnitudes, confident items summed over large batches, and accuracy
    against the number of classes (see ``_regime_logits`` for the inputs)."""
    ce, cat, bcel = "cross_entropy", "categorical_crossentropy", "binary_cross_entropy_with_logits"
    for op in ("softmax", "log_softmax"):
        for regime in ("masked_rows", "nan", "wide_3e4"):
            yield Case(op, (16, 10), -1, regime)
        yield Case(op, (4, 5, 3, 3), 1, "masked_rows")
        for c in GROWTH_C:
            if c == 2**20 and op == "log_softmax":
                continue  # at 2**20 softmax and cross_entropy (log_softmax inside) suffice
            yield Case(op, (1, c), -1, "one_vs_rest", dtypes=ALL if c < 2**20 else WIDE_ONLY,
                       note="error growth with C: p_0 = 1/2, C - 1 equal small terms")
        yield Case(op, (1, 2**17), -1, "uniform", note="the normaliser C = 131072 exceeds 65504")
    for op in ("sigmoid", "log_sigmoid"):
        for regime in ("nan", "wide_3e4"):
            yield Case(op, (16, 10), -1, regime)
    for red in REDUCTIONS:
        o = _opts(reduction=red)
        for regime in ("masked_rows", "nan"):
            yield Case(ce, (16, 10), -1, regime, "index", o)
            yield Case(ce, (16, 10), -1, regime, "index", _opts(reduction=red, ignore_index=1),
                       note=f"the {regime} rows are exactly the ignored ones")
            yield Case(ce, (16, 10), -1, regime, "probs", o)
        yield Case(ce, (4, 5, 3, 3), 1, "masked_rows", "index", o)
        for regime in ("neg_inf_onehot", "neg_inf_soft", "pos_inf", "zero_target", "far_from_1"):
            yield Case(ce, (16, 10), -1, regime, "probs", o)
        yield Case(ce, (16, 10), -1, "neg_inf_soft", "probs", _opts(reduction=red, label_smoothing=0.1),
                   note="smoothing puts label mass on the masked classes: loss +inf")
        yield Case(ce, (8, 1), -1, "soft", "probs", o, note="one class")
        for regime in ("zero_rows", "zero_target", "far_from_1"):
            yield Case(cat, (16, 10), -1, regime, "probs", o)
        yield Case(cat, (8, 1), -1, "moderate", "probs", o, note="one class")
        yield Case(bcel, (16, 10), -1, "nan", "probs", o)
        for regime in ("neg_inf", "pos_inf"):
            yield Case(bcel, (16, 10), -1, regime, "probs", _opts(reduction=red, label_smoothing=0.1))
    # float16 at large magnitudes: no 'sum' (16 item losses of ~3e4 add up beyond 65504)
    for red in ("none", "mean"):
        o = _opts(reduction=red)
        yield Case(ce, (16, 10), -1, "wide_3e4", "index", o)
        yield Case(ce, (16, 10), -1, "wide_3e4", "probs", o)
        yield Case(bcel, (16, 10), -1, "wide_3e4", "probs", o)
    # confident items summed over large batches: the error of a cancelling per-item loss
    # grows with N
    for n in CONFIDENT_N:
        yield Case(ce, (n, 2), -1, "confident_batch", "index", _opts(reduction="sum"),
                   dtypes=WIDE_ONLY, note=f"{n} items, loss ~1e-6 each")
    yield Case(ce, (CONFIDENT_N[1], 2), -1, "confident_batch", "index", _opts(reduction="mean"),
               dtypes=WIDE_ONLY)
    yield Case(ce, (CONFIDENT_N[1], 2), -1, "confident_batch", "probs", _opts(reduction="sum"),
               dtypes=WIDE_ONLY)
    # accuracy against the number of classes
    for c in GROWTH_C:  # 2**20: float64, where a lane-wise sum's error shows (float32 at 2**15)
        yield Case(ce, (1, c), -1, "one_vs_rest", "index", _opts(reduction="sum"),
                   dtypes=ALL if c < 2**20 else ("float64",))
    yield Case(ce, (1, 2**17), -1, "uniform", "index", _opts(reduction="sum"))


def build_cases() -> tuple[Case, ...]:
    cases = (
        *_activation_cases(), *_ce_index_cases(), *_ce_probs_cases(), *_nll_cases(),
        *_cat_probs_cases(), *_binary_cases(), *_regime_cases(),
    )
    seen: dict[str, Case] = {}
    for c in cases:
        if not _ID_OK.match(c.id):
            raise ValueError(f"case id {c.id!r} has characters outside [A-Za-z0-9_.-]")
        if c.id in seen:
            raise ValueError(f"duplicate case id {c.id!r}")
        seen[c.id] = c
    return cases


CASES: tuple[Case, ...] = build_cases()
BY_ID: dict[str, Case] = {c.id: c for c in CASES}
