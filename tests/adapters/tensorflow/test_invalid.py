"""TensorFlow/Keras on invalid inputs, beyond the outcome class the contract suite pins
(lossconform/suite/test_invalid_inputs.py checks that Keras's sparse losses return a finite
value for float labels; here: WHICH value).

Keras's sparse losses cast float class labels to int, truncating toward zero: [0, 1.7, 0.5, 2]
is taken as [0, 1, 0, 2]. The expected value is the reference's on those labels, never
TensorFlow's.
"""
from __future__ import annotations

import fnmatch
import warnings

import numpy as np
import pytest

from lossconform.adapters.tensorflow import ADAPTER
from lossconform.dtypes import round_to
from lossconform.invalid import LOGITS, expected_outcome
from lossconform.reference import cross_entropy

pytestmark = [pytest.mark.framework("tensorflow"), pytest.mark.skipif(
    ADAPTER.available() is not None, reason=f"tensorflow adapter: {ADAPTER.available()}"
)]

#: The Keras sparse losses whose documented float-label outcome is a finite value.
SILENT_FINITE = [
    spec.name for spec in ADAPTER.entry_points()
    if fnmatch.fnmatchcase(spec.name, "tf.keras.losses.*parse*")
    and ADAPTER.float_label_call(spec.name) is not None
    and expected_outcome(ADAPTER, spec.name, "index", "float_labels") == "silent-finite"
]


@pytest.mark.parametrize("entry_point", SILENT_FINITE)
def test_keras_sparse_losses_truncate_float_labels(entry_point: str) -> None:
    run = ADAPTER.float_label_call(entry_point)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = np.asarray(run(), dtype=np.float64)
    truncated = cross_entropy(round_to(LOGITS, "float32"), np.array([0, 1, 0, 2]))
    np.testing.assert_allclose(got, truncated, rtol=1e-6,
                               err_msg="Keras no longer truncates float labels to int")
