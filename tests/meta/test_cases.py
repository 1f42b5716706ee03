"""The case table: ids (unique, selectable with -k as users type them), and input regimes that are what they say (no accidental infinities)."""
from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from lossconform.cases import CASES
from lossconform.ops import OP

_INF_REGIMES = ("neg_inf", "pos_inf")


def _rows(case, x):
    return np.moveaxis(x, case.axis, -1) if OP[case.op].class_axis and x.ndim else x[..., None]


@pytest.mark.parametrize("regime", _INF_REGIMES)
def test_infinity_regimes_are_deliberate(regime: str) -> None:
    cases = [c for c in CASES if c.regime == regime]
    assert cases, f"no case uses the {regime} regime"
    for c in cases:
        for dtype in c.dtypes:
            x = c.call(dtype).x
            want, other = (np.isneginf, np.isposinf) if regime == "neg_inf" else (np.isposinf, np.isneginf)
            assert want(x).any(), f"{c.id} {dtype}: no {regime} entry"
            assert not other(x).any(), f"{c.id} {dtype}: an infinity of the other sign"
            assert not np.isnan(x).any(), f"{c.id} {dtype}: NaN in the input"
            if regime == "neg_inf" and OP[c.op].class_axis:
                assert np.isfinite(_rows(c, x)).any(-1).all(), f"{c.id}: a row without a finite entry"


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

    return [f"test_matrix[{matrix_id(fw, spec.name, case)}]"
            for fw, adapter in load_adapters().items()
            for spec in adapter.entry_points()
            for case in CASES if case.op == spec.op]


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
