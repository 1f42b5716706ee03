"""Invalid input raises ValueError naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from lossconform import reference as R

Z = np.array([[0.1, 0.2, 0.7], [1.0, -1.0, 0.0]])
Y = np.array([0, 2])
P = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
B = np.array([0.2, 0.9])
BT = np.array([0.0, 1.0])

CASES = {
    # name: (callable, argument named in the message)
    "int_logits": (lambda: R.softmax(np.array([1, 2, 3])), "x"),
    "bool_logits": (lambda: R.sigmoid(np.array([True, False])), "x"),
    "complex_logits": (lambda: R.log_softmax(np.array([1j, 2.0])), "x"),
    "int_probs": (lambda: R.binary_cross_entropy(np.array([0, 1]), BT), "probs"),
    "int_ce_logits": (lambda: R.cross_entropy(np.array([[1, 2]]), np.array([0])), "logits"),
    "bad_axis": (lambda: R.softmax(Z, axis=2), "axis"),
    "zero_classes": (lambda: R.softmax(np.zeros((2, 0))), "x"),
    "target_shape": (lambda: R.cross_entropy(Z, np.array([0, 1, 2])), "target"),
    "target_float_index": (lambda: R.cross_entropy(Z, np.array([0.0, 1.0])), "target"),
    "target_out_of_range": (lambda: R.cross_entropy(Z, np.array([0, 3])), "target"),
    "target_negative": (lambda: R.cross_entropy(Z, np.array([0, -1])), "target"),
    "target_out_of_range_not_ignored": (
        lambda: R.cross_entropy(Z, np.array([0, 5]), ignore_index=-100), "target"),
    "nll_target_out_of_range": (lambda: R.nll_loss(np.log(P), np.array([3, 0])), "target"),
    "probs_target_shape": (lambda: R.cross_entropy(Z, P[:1], target_kind="probs"), "target"),
    "probs_target_nan": (
        lambda: R.cross_entropy(Z, np.where(P > 0.7, np.nan, P), target_kind="probs"), "target"),
    "probs_target_outside": (lambda: R.cross_entropy(Z, P * 2, target_kind="probs"), "target"),
    "cce_probs_outside": (lambda: R.categorical_crossentropy(P * 2, P), "probs"),
    "cce_probs_negative": (lambda: R.categorical_crossentropy(-P, P), "probs"),
    "bce_probs_outside": (lambda: R.binary_cross_entropy(np.array([1.5, 0.2]), BT), "probs"),
    "bce_target_outside": (lambda: R.binary_cross_entropy(B, np.array([2.0, 0.0])), "target"),
    "bce_target_nan": (lambda: R.binary_cross_entropy(B, np.array([np.nan, 0.0])), "target"),
    "bce_target_shape": (lambda: R.binary_cross_entropy(B, np.array([0.0])), "target"),
    "bcel_target_shape": (lambda: R.binary_cross_entropy_with_logits(B, np.zeros(3)), "target"),
    "entropy_outside": (lambda: R.entropy(np.array([1.2, -0.2])), "p"),
    "weight_shape": (lambda: R.cross_entropy(Z, Y, weight=np.ones(2)), "weight"),
    "weight_nan": (lambda: R.cross_entropy(Z, Y, weight=np.array([1.0, np.nan, 1.0])), "weight"),
    "weight_negative": (lambda: R.cross_entropy(Z, Y, weight=np.array([1.0, -1.0, 1.0])),
                        "weight"),
    "weight_inf": (lambda: R.nll_loss(np.log(P), Y, weight=np.array([1.0, np.inf, 1.0])),
                   "weight"),
    "sample_weight_nan": (lambda: R.cross_entropy(Z, Y, sample_weight=np.array([1.0, np.nan])),
                          "sample_weight"),
    "sample_weight_shape": (lambda: R.cross_entropy(Z, Y, sample_weight=np.ones(3)),
                            "sample_weight"),
    "bce_weight_nan": (lambda: R.binary_cross_entropy(B, BT, weight=np.array([np.nan, 1.0])),
                       "weight"),
    "pos_weight_nan": (
        lambda: R.binary_cross_entropy_with_logits(B, BT, pos_weight=np.array([np.nan, 1.0])),
        "pos_weight"),
    "pos_weight_shape": (
        lambda: R.binary_cross_entropy_with_logits(B, BT, pos_weight=np.ones(3)), "pos_weight"),
    "smoothing_above_1": (lambda: R.cross_entropy(Z, Y, label_smoothing=1.5), "label_smoothing"),
    "smoothing_negative": (lambda: R.binary_cross_entropy(B, BT, label_smoothing=-0.1),
                           "label_smoothing"),
    "smoothing_nan": (lambda: R.categorical_crossentropy(P, P, label_smoothing=float("nan")),
                      "label_smoothing"),
    "unknown_reduction": (lambda: R.cross_entropy(Z, Y, reduction="avg"), "reduction"),
    "unknown_reduction_bce": (lambda: R.binary_cross_entropy(B, BT, reduction="batchmean"),
                              "reduction"),
    "unknown_target_kind": (lambda: R.cross_entropy(Z, Y, target_kind="onehot"), "target_kind"),
    "ignore_index_with_probs": (
        lambda: R.cross_entropy(Z, P, target_kind="probs", ignore_index=0), "ignore_index"),
    "grad_output_shape": (lambda: R.softmax_vjp(Z, grad_output=np.ones(3)), "grad_output"),
    "grad_output_shape_loss": (
        lambda: R.cross_entropy_vjp(Z, Y, reduction="none", grad_output=np.ones(3)),
        "grad_output"),
    "vjp_validates_too": (lambda: R.cross_entropy_vjp(Z, np.array([0, 3])), "target"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_invalid_input_raises_value_error_naming_argument(name: str) -> None:
    fn, arg = CASES[name]
    with pytest.raises(ValueError) as info:
        fn()
    assert str(info.value).startswith(arg + ":"), str(info.value)


def test_nan_and_inf_logits_are_allowed() -> None:
    assert np.isnan(R.softmax(np.array([np.nan, 1.0]))).all()
    assert np.isnan(R.cross_entropy(np.array([[np.nan, 1.0]]), np.array([1])))
    assert R.binary_cross_entropy_with_logits(np.array([np.inf]), np.array([1.0])) == 0.0


def test_ignored_target_need_not_be_valid_class() -> None:
    assert np.isfinite(R.cross_entropy(Z, np.array([0, -100]), ignore_index=-100))
    assert np.isfinite(R.nll_loss(np.log(P), np.array([12345, 1]), ignore_index=12345))
