"""Settings a TensorFlow / Keras user may have that can change the numbers
(``Adapter.settings()``; the adapter's ``settings`` method is this module's ``settings``).

Each is data (``lossconform.contract.Setting``); ``lossconform.settings`` runs the convention
probes and a slice of the matrix under each one and shows what changes. Process settings run
in a fresh process: ``env`` is set before TensorFlow is imported, ``apply`` runs once after.
The execution modes are the values of the adapter's ``mode`` facet (plans.py) other than
"eager", the plain call.
"""
from __future__ import annotations

from typing import Any

from lossconform.contract import Setting

_TAG = "https://github.com/tensorflow/tensorflow/blob/v2.21.0"
_ONEDNN = f"{_TAG}/tensorflow/core/util/port.cc (IsMklEnabled reads TF_ENABLE_ONEDNN_OPTS once)"
#: what turning oneDNN off changes, measured by the probes and the slice (the start-up log of
#: TensorFlow says results may differ "due to floating-point round-off errors from different
#: computation orders": port.cc above)
_EIGEN_SOFTMAX = (f"without oneDNN, tf.nn.softmax runs Eigen's kernel ({_TAG}/tensorflow/core/"
                  "kernels/softmax_op_functor.h: max-subtracted exp / sum), which propagates a "
                  "NaN or +inf to the whole row ([nan, nan, nan]); oneDNN's kernel returns "
                  "[nan, 0, 0]")
_EIGEN_BF16 = (f"without oneDNN, bfloat16 softmax is computed by Eigen in bfloat16 steps "
               f"({_TAG}/tensorflow/core/kernels/softmax_op_functor.h), not in float32 and "
               "rounded once as oneDNN does: up to 16 ulp from the float32 result, and "
               "elements beyond the relative-accuracy bound")
_XLA = (f"{_TAG}/tensorflow/compiler/tf2xla/kernels/softmax_op.cc: XLA lowers softmax and "
        "softmax_cross_entropy_with_logits to primitive HLO (max-subtracted exp, log of the "
        "sum, labels * log_softmax), so a NaN or +inf propagates to the whole softmax row and "
        "a -inf logit under a zero label gives the finite limit instead of the eager kernel's "
        "NaN (0 * -inf)")


def _op_determinism() -> None:
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()


PROCESS_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "TF_ENABLE_ONEDNN_OPTS=0",
        "oneDNN's custom CPU kernels off (TensorFlow's start-up log suggests it to users who see "
        "'slightly different numerical results')",
        env={"TF_ENABLE_ONEDNN_OPTS": "0"}, source=_ONEDNN,
        expected_changes={
            r"nonfinite\.(nan|posinf)\.activation": _EIGEN_SOFTMAX,
            r"dtypes\.precision\.bfloat16": _EIGEN_BF16,
            r"check:tf\.nn\.softmax:softmax-[^:]*:bfloat16:(forward|gradient)": _EIGEN_BF16,
        },
    ),
    Setting(
        "TF_ENABLE_ONEDNN_OPTS=1",
        "oneDNN's custom CPU kernels on explicitly (the default on x86 Linux when unset)",
        env={"TF_ENABLE_ONEDNN_OPTS": "1"}, source=_ONEDNN,
    ),
    Setting(
        "enable_op_determinism",
        "tf.config.experimental.enable_op_determinism(): deterministic kernels (off by default)",
        switch="import tensorflow as tf; tf.config.experimental.enable_op_determinism()",
        apply=_op_determinism,
        source="https://www.tensorflow.org/api_docs/python/tf/config/experimental/"
               "enable_op_determinism",
    ),
)

#: what each execution mode (a value of the adapter's ``mode`` facet) is, and where it is documented
MODE_TEXT: dict[str, tuple[str, str, bool]] = {
    "tf.function": ("the call traced into a graph by tf.function (as in Model.fit) and run there; "
                    "gradients by tf.GradientTape inside the function",
                    "https://www.tensorflow.org/api_docs/python/tf/function", True),
    "tf.function(jit_compile=True)": ("the call compiled by XLA (tf.function(jit_compile=True), "
                                      "as Keras' jit_compile does) and run compiled",
                                      "https://www.tensorflow.org/xla", True),
}


#: what each execution mode changes, as measured (probe id or check pattern -> why, source)
MODE_CHANGES: dict[str, dict[str, str]] = {
    "tf.function(jit_compile=True)": {
        r"nonfinite\.(nan|posinf)\.activation": _XLA,
        r"nonfinite\.neginf\.zero_label\.(index|onehot|soft)": _XLA,
    },
}


def settings(adapter: Any) -> tuple[Setting, ...]:
    """The process settings, and one mode setting per declared execution mode but "eager"."""
    modes = [m for m in adapter.facets.get("mode", ()) if m != "eager"]
    out = list(PROCESS_SETTINGS)
    for m in modes:
        text, source, compiles = MODE_TEXT.get(
            m, (f"execution mode {m!r} of the TensorFlow plug-in", "https://www.tensorflow.org/guide/function", True))
        expected = MODE_CHANGES.get(m, {})
        out.append(Setting(m, text, kind="mode", mode=m, source=source, compiles=compiles,
                           expected_changes=expected))
    return tuple(out)


__all__ = ["MODE_TEXT", "PROCESS_SETTINGS", "settings"]
