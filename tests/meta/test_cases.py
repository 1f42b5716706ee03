"""The case table: ids (unique, selectable with -k as users type them), and input regimes that are what they say (no accidental infinities)."""
from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from lossconform.cases import CASES
from lossconform.ops import OP

#: regimes whose inputs hold non-finite values on purpose, and which kind
_NONFINITE = {"neg_inf": np.isneginf, "neg_inf_onehot": np.isneginf,
              "neg_inf_soft": np.isneginf, "masked_rows": np.isneginf,
              "pos_inf": np.isposinf, "nan": np.isnan}
_INF_REGIMES = tuple(_NONFINITE)
_KINDS = (np.isneginf, np.isposinf, np.isnan)


def _rows(case, x):
    return np.moveaxis(x, case.axis, -1) if OP[case.op].class_axis and x.ndim else x[..., None]


@pytest.mark.parametrize("regime", _INF_REGIMES)
def test_infinity_regimes_are_deliberate(regime: str) -> None:
    cases = [c for c in CASES if c.regime == regime]
    assert cases, f"no case uses the {regime} regime"
    want = _NONFINITE[regime]
    for c in cases:
        for dtype in c.dtypes:
            x = c.call(dtype).x
            assert want(x).any(), f"{c.id} {dtype}: no {regime} entry"
            for other in _KINDS:
                if other is not want:
                    assert not other(x).any(), f"{c.id} {dtype}: a {other.__name__} entry"
            rows = _rows(c, x)
            if regime.startswith("neg_inf") and OP[c.op].class_axis:
                assert np.isfinite(rows).any(-1).all(), f"{c.id}: a row without a finite entry"
            if regime == "masked_rows":  # whole rows masked, beside fully finite rows
                masked = np.isneginf(rows).all(-1)
                assert masked.any() and (~masked).any(), c.id
                assert np.isfinite(rows[~masked]).all(), f"{c.id}: a partly masked row"
            if regime == "nan" and OP[c.op].class_axis:  # at most one NaN per row, some rows clean
                per_row = np.isnan(rows).sum(-1)
                assert per_row.max() == 1 and (per_row == 0).any(), c.id


def test_no_accidental_infinities() -> None:
    """Only the infinity regimes (and inputs defined as 0/1 probabilities) hold non-finite
    values, in every dtype a case runs in: an overflow in the rounding to a dtype would
    otherwise make 'agree' mean 'everyone returns NaN'."""
    for c in CASES:
        if c.regime in _INF_REGIMES:
            continue
        for dtype in c.dtypes:
            call = c.call(dtype)
            arrays = {"x": call.x, "grad_output": call.grad_output,
                      **{k: v for k, v in call.options.items() if isinstance(v, np.ndarray)}}
            if call.target_kind == "probs":
                arrays["target"] = call.target
            for name, a in arrays.items():
                if a is not None:
                    assert np.isfinite(a).all(), f"{c.id} {dtype}: non-finite {name}"


# -- ids as users type them with -k --------------------------------------------------------
def _matrix_test_ids() -> list[str]:
    """Every matrix test id of every discovered plug-in (no framework is imported)."""
    from lossconform.plugins import load_adapters
    from lossconform.pytest_plugin import matrix_id

    return [f"test_matrix[{matrix_id(fw, case)}]"
            for fw, adapter in load_adapters().items()
            for case in CASES
            if any(spec.op == case.op for spec in adapter.entry_points())]


def test_case_ids_have_no_equals_sign() -> None:
    """``name_value`` for an option (``reduction_mean``): ``-k reduction=mean`` is a pytest
    syntax error, so an id holding ``=`` could not be selected as users type it."""
    assert not [c.id for c in CASES if "=" in c.id]
    ids = {c.id for c in CASES}
    assert "cross_entropy-moderate-16x10-index-ignore_index_1-reduction_mean" in ids
    assert "cross_entropy-moderate-16x10-index-label_smoothing_0.2-reduction_none-weight" in ids


def test_slug_keeps_no_equals_sign() -> None:
    from lossconform.pytest_plugin import slug

    assert slug("tf.keras.losses.BinaryCrossentropy(from_logits=True)") == \
        "tf.keras.losses.BinaryCrossentropy_from_logits_True"
    assert slug("torch.nn.functional.cross_entropy") == "torch.nn.functional.cross_entropy"


def test_matrix_test_ids_are_unique() -> None:
    """pytest would otherwise suffix copies (``...0``, ``...1``): an id users cannot predict."""
    ids = _matrix_test_ids()
    assert ids
    dup = sorted(i for i, n in Counter(ids).items() if n > 1)
    assert not dup, dup[:5]


def test_every_test_id_fragment_is_a_valid_k_expression() -> None:
    """Any fragment a user copies from a matrix test id (split on ``-``, ``[`` and ``]``), and
    each whole id, parses as a ``-k`` expression."""
    from _pytest.mark import expression

    # pytest 8 raises its ParseError, pytest 9 a SyntaxError
    errors = tuple({SyntaxError, getattr(expression, "ParseError", SyntaxError)})

    fragments: set[str] = set()
    for test_id in _matrix_test_ids():
        fragments.add(test_id)
        fragments.add(test_id[test_id.index("[") + 1:-1])
        fragments.update(f for f in re.split(r"[-\[\]]", test_id) if f)
    bad = []
    for fragment in sorted(fragments):
        try:
            expression.Expression.compile(fragment)
        except errors as exc:
            bad.append(f"{fragment!r}: {exc}")
    assert not bad, bad[:10]


@pytest.mark.parametrize("expr, must, must_not", [
    ("reduction_mean and cross_entropy", ("reduction_mean", "cross_entropy"), ("reduction_sum",)),
    ("softmax", ("softmax",), ()),
    ("cross_entropy", ("cross_entropy",), ()),
    ("ignore_index_1 and not weight", ("ignore_index_1",), ("weight",)),
])
def test_k_expressions_select_matrix_ids(expr, must, must_not) -> None:
    """The README's and the issue's examples select what they say (pytest's own matching:
    a word matches a test whose name contains it, case-insensitively)."""
    from _pytest.mark.expression import Expression

    compiled = Expression.compile(expr)
    selected = [i for i in _matrix_test_ids()
                if compiled.evaluate(lambda word, **kw: word.lower() in i.lower())]
    assert selected, expr
    for i in selected:
        assert all(m in i for m in must), (expr, i)
        assert not any(m in i for m in must_not), (expr, i)


# -- the regimes users hit (issue 10, section 4): inputs are what their names say --------------
from lossconform import reference as R  # noqa: E402
from lossconform.cases import BY_ID, CONFIDENT_N, GROWTH_C  # noqa: E402
from lossconform.dtypes import MAX  # noqa: E402

ALL_DTYPES = ("float16", "bfloat16", "float32", "float64")
_NEW_REGIMES = ("masked_rows", "nan", "neg_inf_onehot", "neg_inf_soft", "zero_target",
                "far_from_1", "zero_rows", "wide_3e4", "confident_batch", "one_vs_rest",
                "uniform")


def _by_regime(regime: str) -> list:
    cases = [c for c in CASES if c.regime == regime]
    assert cases, f"no case uses the {regime} regime"
    return cases


def test_masks_and_padding_are_what_users_write() -> None:
    """neg_inf_soft: the soft label is 0 exactly where the logit is masked and each row sums
    to 1; neg_inf_onehot: a one-hot label that sometimes sits on a masked class (+inf loss)
    and sometimes not (a -inf under label 0); with ignore_index, the fully masked (or NaN)
    rows are exactly the ignored ones (padding)."""
    for c in _by_regime("neg_inf_soft"):
        call = c.call("float64")
        x, t = _rows(c, call.x), _rows(c, call.target)
        assert np.all(t[np.isneginf(x)] == 0) and np.allclose(t.sum(-1), 1.0), c.id
    hits = [bool(np.any(np.isneginf(_rows(c, (k := c.call("float64")).x))
                        & (_rows(c, k.target) == 1)))
            for c in _by_regime("neg_inf_onehot")]
    assert all(hits), "a one-hot label on a masked class (true loss +inf) in every case"
    for regime in ("masked_rows", "nan"):
        for c in (c for c in _by_regime(regime) if c.opts.get("ignore_index") is not None):
            call = c.call("float64")
            bad = ~np.isfinite(np.max(_rows(c, call.x), axis=-1))
            assert bad.any() and np.array_equal(bad, call.target == c.opts["ignore_index"]), c.id


def test_degenerate_probability_rows() -> None:
    """zero_target: some label rows are all 0 (loss 0, gradient 0); far_from_1: label rows
    summing to ~0.9 C and to ~1e-3; zero_rows: some predicted probability rows all 0; one
    class: C = 1 with probability targets and predictions."""
    for c in _by_regime("zero_target"):
        t = _rows(c, c.call("float64").target)
        zero = (t == 0).all(-1)
        assert zero.any() and (~zero).any(), c.id
    for c in _by_regime("far_from_1"):
        s = _rows(c, c.call("float64").target).sum(-1)
        C = c.shape[c.axis]
        assert (s > 0.75 * C).any() and (s < 2e-3).any() and np.all((s > 0.75 * C) | (s < 2e-3)), c.id
    for c in _by_regime("zero_rows"):
        p = _rows(c, c.call("float64").x)
        zero = (p == 0).all(-1)
        assert zero.any() and np.allclose(p[~zero].sum(-1), 1.0), c.id
    one_class = [c for c in CASES if c.target_kind == "probs" and c.shape == (8, 1)]
    assert {c.op for c in one_class} == {"cross_entropy", "categorical_crossentropy"}


def test_large_magnitudes_stay_within_float16() -> None:
    """wide_3e4: logits over +-3e4 in every dtype, and every expected value (the item losses,
    their 'mean', the gradient) representable in float16: a fail there is the framework's
    intermediate overflowing, never the answer itself."""
    for c in _by_regime("wide_3e4"):
        call = c.call("float16")
        assert np.abs(call.x).max() > 2e4 and np.abs(call.x).max() <= 3e4, c.id
        assert c.reduction in (None, "none", "mean"), c.id
        fwd, grad = R.evaluate(call)
        for v in (fwd, grad):
            assert np.all(np.isfinite(v)) and np.abs(v).max() < MAX["float16"], c.id


def test_confident_batches_grow_to_1e5_items() -> None:
    """confident_batch: every item's true loss is ~1e-6 (so log(sum exp) - x_y cancels in
    float32), over N = 100 ... 100000 items."""
    ns = set()
    for c in _by_regime("confident_batch"):
        assert c.dtypes == ("float32", "float64") and c.reduction in ("sum", "mean"), c.id
        for dtype in c.dtypes:
            call = c.call(dtype)
            items = R.cross_entropy(call.x, call.target, target_kind=call.target_kind,
                                    reduction="none")
            assert 4e-7 < items.min() and items.max() < 2e-6, (c.id, dtype)
        ns.add(c.shape[0])
    assert ns == set(CONFIDENT_N) and max(ns) == 100_000


def test_class_count_rows_expose_growth_with_c() -> None:
    """one_vs_rest: class 0 at log(C - 1), the rest 0, so p_0 = 1/2 in every dtype (the
    normaliser is 1 + (C - 1) equal terms none of which is exact in any float format),
    up to C = 2**20 in one row, run in the wide dtypes only; uniform: the normaliser
    C = 2**17 is beyond float16's range. The index target is class 0."""
    cs = set()
    for c in _by_regime("one_vs_rest"):
        assert c.shape[0] == 1, c.id
        C = c.shape[-1]
        cs.add(C)
        assert c.dtypes == (ALL_DTYPES if C < 2**20 else ("float64",) if c.target_kind
                            else ("float32", "float64")), c.id
        for dtype in c.dtypes:
            call = c.call(dtype)
            p = R.softmax(call.x)
            assert abs(p[0, 0] - 0.5) < 1e-2 and np.all(call.x[0, 1:] == 0), (c.id, dtype)
            if call.target is not None:
                assert np.all(call.target == 0)
    assert cs == set(GROWTH_C) and max(cs) == 2**20
    big = [c for c in CASES if c.shape[-1] == 2**20]
    assert len(big) == 2, "a C = 2**20 row stays a handful of cases"
    for c in _by_regime("uniform"):
        assert c.shape == (1, 2**17) and np.all(c.call("float16").x == 0), c.id



def test_new_regime_ids_are_selectable() -> None:
    """Each new regime is one -k word: it selects exactly its cases."""
    for regime in _NEW_REGIMES:
        ids = [c.id for c in CASES if f"-{regime}-" in c.id]
        assert ids and all(BY_ID[i].regime == regime for i in ids), regime
