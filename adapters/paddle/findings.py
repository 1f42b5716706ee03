"""Paddle's divergences that are bugs rather than design choices, ready to report upstream
(``Divergence.finding``; lossconform/suite/test_findings.py runs each repro in a clean
interpreter and checks both values).

Each repro imports paddle only (and NumPy) and prints the measured values as a list;
``measured`` is what it printed on paddlepaddle 3.3.1, CPU (x86-64); ``correct`` is what the
reference computes for the same inputs. No upstream issue reporting either was found (issue
search, PaddlePaddle/Paddle).

Two more bugs cannot be findings of this form, because the call does not return a value: they
are declared unsupported in adapter.py with the reason, and pinned by
tests/adapters/paddle/test_adapter.py (each in a subprocess of its own):
- nll_loss / NLLLoss with an ignore_index that a label equals and reduction 'mean' or 'sum'
  corrupts the heap (the CPU kernel writes ``out_data[i] = 0`` for an ignored item i into the
  one-element output: paddle/phi/kernels/cpu/nll_loss_kernel.cc, nll_loss_1D and nll_loss_2D);
  the process aborts ("malloc(): corrupted top size", SIGABRT/SIGSEGV) now or later;
- cross_entropy with label_smoothing > 0 and index labels on a class axis other than the last
  raises ValueError: the wrapper one-hot encodes with ``input.shape[-1]`` classes, whatever
  ``axis`` is (python/paddle/nn/functional/loss.py, cross_entropy).
"""
from __future__ import annotations

import numpy as np

from lossconform import reference as R
from lossconform.divergences.entry import Finding

_ON = "paddlepaddle 3.3.1, CPU x86-64 (AVX2)"
_REQ = ("paddle",)

LOG_SOFTMAX_CLIP = Finding(
    title="paddle.nn.functional.log_softmax clips log-probabilities at about -64 on the CPU: "
          "log_softmax([1000, 0, -1]) returns [0, -64, -64] instead of [0, -1000, -1001] "
          "(float32 and float64; softmax likewise floors probabilities at exp(-64))",
    repro='''\
import paddle

x = paddle.to_tensor([[1000.0, 0.0, -1.0]], dtype="float64")
out = paddle.nn.functional.log_softmax(x, axis=-1)
print(out.numpy()[0].tolist())
# correct: [0.0, -1000.0, -1001.0]
''',
    measured="[0.0, -64.0, -64.0]",
    measured_on=_ON,
    correct="[0.0, -1000.0, -1001.0]",
    reference=lambda: R.log_softmax(np.array([[1000.0, 0.0, -1.0]]))[0],
    dtype="float64",
    requires=_REQ,
    status="not reported yet; the clip's purpose (keeping exp from underflowing before a log "
           "in softmax_with_cross_entropy) is discussed in "
           "https://github.com/PaddlePaddle/Paddle/pull/21165 (2019), which kept it",
)

LABEL_SMOOTHING_IGNORE_INDEX = Finding(
    title="paddle.nn.functional.cross_entropy with label_smoothing > 0 silently drops "
          "ignore_index: the ignored item is counted, and 'mean' divides by the number of "
          "entries of the smoothed (N, C) label (N C) instead of the non-ignored item count",
    repro='''\
import paddle

logits = paddle.to_tensor([[0.5, -1.0, 2.0], [1.0, 0.0, -1.0]], dtype="float64")
labels = paddle.to_tensor([1, 2])  # item 0 is ignored (ignore_index=1)
out = paddle.nn.functional.cross_entropy(logits, labels, ignore_index=1,
                                         label_smoothing=0.1)
print([float(out)])
# correct: the smoothed loss of item 1 alone (item 0 ignored), divided by 1 item
''',
    measured="[0.8998195483584558]",
    measured_on=_ON,
    correct="[2.3076059644443805]",
    reference=lambda: np.atleast_1d(R.cross_entropy(
        np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -1.0]]), np.array([1, 2]), target_kind="index",
        ignore_index=1, label_smoothing=0.1)),
    dtype="float64",
    requires=_REQ,
)

NEGATIVE_IGNORE_INDEX_MEAN = Finding(
    title="paddle.nn.functional.cross_entropy's 'mean' divides by all N items when the "
          "ignore_index is negative (the default -100): labels equal to it get a loss of 0 "
          "but still count in the denominator",
    repro='''\
import paddle

logits = paddle.to_tensor([[0.5, -1.0, 2.0], [1.0, 0.0, -1.0]], dtype="float64")
labels = paddle.to_tensor([-100, 2])  # item 0 is ignored (the default ignore_index)
out = paddle.nn.functional.cross_entropy(logits, labels)
print([float(out)])
# correct: the loss of item 1 alone, divided by the 1 item kept
''',
    measured="[1.2038029822221903]",
    measured_on=_ON,
    correct="[2.40760596444438]",
    reference=lambda: np.atleast_1d(R.cross_entropy(
        np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -1.0]]), np.array([-100, 2]),
        target_kind="index", ignore_index=-100)),
    dtype="float64",
    requires=_REQ,
    upstream="https://github.com/PaddlePaddle/Paddle/pull/76033",
    status="open fix (pull request #76033, not merged in 3.3.1)",
)

__all__ = ["LABEL_SMOOTHING_IGNORE_INDEX", "LOG_SOFTMAX_CLIP", "NEGATIVE_IGNORE_INDEX_MEAN"]
