"""torch's divergences that are bugs rather than design choices, ready to report upstream
(``Divergence.finding``; lossconform/findings.py runs them, lossconform/suite/test_findings.py
proves them).

Each repro imports torch only and prints the measured values as a list; ``measured`` is what
it printed on torch 2.13.0+cpu (x86-64); ``correct`` is what the reference computes for the
same inputs (``reference``). Upstream links point at an existing issue where the issue search
found one; otherwise the status says "not reported yet".
"""
from __future__ import annotations

import numpy as np

from lossconform import reference as R
from lossconform.divergences.entry import Finding

_ON = "torch 2.13.0+cpu, x86-64"
_REQ = ("torch",)


# -- binary_cross_entropy_with_logits at an infinite logit ----------------------------------------
BCE_LOGITS_INFINITE = Finding(
    title="binary_cross_entropy_with_logits is NaN at z = +inf under target 1 and at z = -inf "
          "under any target (the loss is 0 or +inf)",
    repro='''\
import torch
import torch.nn.functional as F

z = torch.tensor([float("inf"), float("-inf"), float("inf"), float("-inf")], dtype=torch.float64)
t = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)
print(F.binary_cross_entropy_with_logits(z, t, reduction="none").tolist())
# correct: [0.0, 0.0, inf, inf]  (-t log sigmoid(z) - (1 - t) log(1 - sigmoid(z)), 0 log 0 = 0)
''',
    measured="[nan, nan, inf, nan]",
    measured_on=_ON,
    correct="[0.0, 0.0, inf, inf]",
    reference=lambda: R.binary_cross_entropy_with_logits(
        np.array([np.inf, -np.inf, np.inf, -np.inf]), np.array([1.0, 0.0, 0.0, 1.0]),
        reduction="none"),
    dtype="float64",
    requires=_REQ,
    upstream="https://github.com/pytorch/pytorch/issues/135359",
    status="open (also pytorch/pytorch#49844 for -inf under target 0, #102894 for +inf)",
)


# -- binary_cross_entropy_with_logits: cancellation for z << 0 ------------------------------------
_CANCEL_Z = [-32.25, -30.5, -33.0, -35.5]

BCE_LOGITS_CANCELLATION = Finding(
    title="binary_cross_entropy_with_logits loses small losses to cancellation for z << 0 "
          "(absolute error ulp(|z|), so a loss of 4e-16 comes out as 0)",
    repro='''\
import torch
import torch.nn.functional as F

z = torch.tensor([-32.25, -30.5, -33.0, -35.5], dtype=torch.float64)
t = torch.zeros(4, dtype=torch.float64)
print(F.binary_cross_entropy_with_logits(z, t, reduction="none").tolist())
# correct: log1p(exp(z)) = [9.8629e-15, 5.6757e-14, 4.6589e-15, 3.8242e-16]
''',
    measured="[7.105427357601002e-15, 5.684341886080802e-14, 7.105427357601002e-15, 0.0]",
    measured_on=_ON,
    correct="[9.862862046580404e-15, 5.675685232632561e-14, 4.658886145103387e-15, "
            "3.8242466280971346e-16]",
    reference=lambda: R.binary_cross_entropy_with_logits(
        np.array(_CANCEL_Z), np.zeros(4), reduction="none"),
    dtype="float64",
    requires=_REQ,
)


# -- cross_entropy: negative label_smoothing ------------------------------------------------------
LABEL_SMOOTHING_NEGATIVE = Finding(
    title="cross_entropy accepts a negative label_smoothing and silently computes the loss "
          "without smoothing (label_smoothing > 1 raises)",
    repro='''\
import torch
import torch.nn.functional as F

x = torch.tensor([[0.5, -1.25, 2.0, 0.25]], dtype=torch.float64)
y = torch.tensor([0])
print([F.cross_entropy(x, y, label_smoothing=-0.2).item(),
       F.cross_entropy(x, y, label_smoothing=0.0).item()])
# correct: an error, as for label_smoothing=1.5 ("label_smoothing must be between 0.0 and 1.0")
''',
    measured="[1.8616374284208397, 1.8616374284208397]",
    measured_on=_ON,
    correct="raises ValueError: label_smoothing must lie in [0, 1]",
    reference=lambda: R.cross_entropy(np.array([[0.5, -1.25, 2.0, 0.25]]), np.array([0]),
                                      target_kind="index", label_smoothing=-0.2),
    dtype="float64",
    requires=_REQ,
    upstream="https://github.com/pytorch/pytorch/issues/134767",
    status="open",
)


# -- nll_loss / cross_entropy 'mean' in float16 over > 65504 items --------------------------------
def _half_mean_reference() -> np.ndarray:
    x, y = np.zeros((70000, 2)), np.zeros(70000, np.int64)
    return np.array([R.cross_entropy(x, y, target_kind="index"),
                     R.cross_entropy(x[:60000], y[:60000], target_kind="index")])


NLL_MEAN_FLOAT16 = Finding(
    title="cross_entropy/nll_loss 'mean' in float16 is 0 over more than 65504 items (the "
          "float16 total weight overflows to inf), although the mean is representable",
    repro='''\
import torch
import torch.nn.functional as F

x = torch.zeros(70000, 2, dtype=torch.float16)
y = torch.zeros(70000, dtype=torch.int64)
print([F.cross_entropy(x, y).item(), F.cross_entropy(x[:60000], y[:60000]).item()])
# correct: [log 2, log 2] = [0.6931, 0.6931] (the second, 60000 items, is right)
''',
    measured="[0.0, 0.69482421875]",
    measured_on=_ON,
    correct="[0.6931471805599453, 0.6931471805599453]",
    reference=_half_mean_reference,
    dtype="float16",
    requires=_REQ,
    upstream="https://github.com/pytorch/pytorch/issues/29429",
    status="open (reported as NaN on CUDA, where the float16 sum overflows as well)",
)


# -- cross_entropy(label_smoothing) in float16: the class sum overflows ---------------------------
LABEL_SMOOTHING_FLOAT16 = Finding(
    title="cross_entropy with label_smoothing in float16 is inf once sum_c -log p_c exceeds "
          "65504 (16 items x 1000 classes), although the loss is 6.9",
    repro='''\
import torch
import torch.nn.functional as F

x = torch.zeros(16, 1000, dtype=torch.float16)
y = torch.arange(16) * 7
print([F.cross_entropy(x, y, label_smoothing=0.1).item()])
# correct: [log 1000] = [6.9078] for uniform logits, whatever the smoothing
''',
    measured="[inf]",
    measured_on=_ON,
    correct="[6.907755278982137]",
    reference=lambda: np.array([R.cross_entropy(np.zeros((16, 1000)), np.arange(16) * 7,
                                                target_kind="index", label_smoothing=0.1)]),
    dtype="float16",
    requires=_REQ,
)
