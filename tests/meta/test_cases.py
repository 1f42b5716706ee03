"""The case table: ids, and input regimes that are what they say (no accidental infinities)."""
from __future__ import annotations

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
