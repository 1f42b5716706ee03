"""Settings a JAX user may have that can change the numbers (``Adapter.settings()``).

The default execution mode of this plug-in is ``jax.jit`` (what users run in a training
step); eager execution, op by op, is the one mode setting. XLA's CPU fast-math
(``XLA_FLAGS=--xla_cpu_enable_fast_math=true``) is off by default; switched on it changed none
of 128,064 float32 outputs of jax.nn.log_softmax, jax.nn.sigmoid and
softmax_cross_entropy_with_integer_labels (64 x 1000 logits) nor the NaN/inf softmax rows
(jax 0.10.2, CPU), so it is not declared; ``XLA_FLAGS`` is recorded with every run
(``numerics_variables``) and keys the executable cache. ``jax_debug_nans`` raises instead of
computing and ``jax_default_matmul_precision`` does not touch these ops (no matmul), so
neither is a setting here.
"""
from __future__ import annotations

from lossconform.contract import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "eager",
        "the same step run op by op, without jax.jit (each jax.numpy op dispatched and "
        "compiled on its own; jax.nn.softmax and friends are jitted internally)",
        kind="mode", mode="eager", compiles=True,
        source="https://docs.jax.dev/en/latest/jit-compilation.html",
    ),
)

__all__ = ["SETTINGS"]
