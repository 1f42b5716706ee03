"""Settings an MLX user may have that can change the numbers (``Adapter.settings()``)."""
from __future__ import annotations

from lossconform.contract import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "compiled",
        "the same step through mx.compile (element-wise ops fused into C++ kernels the CPU "
        "backend compiles once per machine)",
        kind="mode", mode="compiled", compiles=True,
        source="https://ml-explore.github.io/mlx/build/html/usage/compile.html",
    ),
)

__all__ = ["SETTINGS"]
