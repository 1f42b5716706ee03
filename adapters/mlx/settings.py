"""Settings an MLX user may have that can change the numbers (``Adapter.settings()``).

Eager execution is MLX's default and this plug-in's main matrix (arrays are lazy, evaluated by
``mx.eval``); ``mx.compile`` is the one mode setting. It fuses element-wise ops into kernels
the CPU backend writes as C++ and compiles (kept under ``$TMPDIR/mlx/<version>/cpu``), each
op still in the array's dtype: measured on mlx 0.32.4 (CPU), the compiled step changed none of
4.6 million outputs (forward and gradient of log_softmax over both axes, log_sigmoid, the
logits BCE and a label-smoothed cross_entropy on 64 x 1000 inputs, in all four dtypes).

``MLX_DISABLE_COMPILE`` (read by MLX at import) turns every ``mx.compile`` into plain calls,
mlx.nn's own (log_softmax and log_sigmoid are compiled with ``shapeless=True`` inside mlx.nn)
included; on the same 4.6 million outputs it changed none either, so it is not declared as a
process setting (a fresh process per run for no change); ``MLX_`` variables are recorded with
every run (``numerics_variables``). MLX's CPU backend has no thread-count setting: it evaluates
on one stream thread.
"""
from __future__ import annotations

from lossconform.contract import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "compiled",
        "the same step (forward and mx.vjp) through mx.compile: element-wise ops fused into "
        "C++ kernels the CPU backend compiles once per machine",
        kind="mode", mode="compiled", compiles=True,
        source="https://ml-explore.github.io/mlx/build/html/usage/compile.html",
    ),
)

__all__ = ["SETTINGS"]
