"""Settings a Keras-on-JAX / Keras-on-torch user may have that change the numbers
(``Adapter.settings()``): the execution modes other than each backend's default.

keras-jax's default mode is "jit" (``model.fit`` on JAX runs a jit-compiled train step:
keras/src/backend/jax/trainer.py at v3.15.1, ``make_train_function`` wraps the step in
``jax.jit``); "eager" is the same code op by op (``run_eagerly=True``). keras-torch runs
eagerly by default (keras/src/backend/torch/trainer.py: ``jit_compile`` defaults to False on
torch); ``torch.compile`` is left out: it compiles each new call for seconds.
"""
from __future__ import annotations

from lossconform.contract import Setting

_KS = "https://github.com/keras-team/keras/blob/v3.15.1/keras/src"


def settings(backend: str) -> tuple[Setting, ...]:
    if backend != "jax":
        return ()
    return (Setting(
        "eager", "the Keras call op by op, jax.vjp outside jax.jit (model.fit(run_eagerly=True), "
        "or a user calling the loss directly)", kind="mode", mode="eager",
        source=f"{_KS}/backend/jax/trainer.py (make_train_function: jax.jit unless "
               "run_eagerly)",
        expected_changes={
            r"nonfinite\.neginf\.zero_label\.index": (
                "eagerly, -sum(one_hot(y) * log_softmax(x)) multiplies the zero target by the "
                "-inf log-probability: 0 * -inf = NaN (keras/src/backend/jax/nn.py at v3.15.1, "
                "categorical_crossentropy); under jax.jit the same code returns the finite "
                "limit (observed: XLA compiles the one-hot product as a whole)"),
        }),)


__all__ = ["settings"]
