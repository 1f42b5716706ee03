"""Every divergence entry of the MLX plug-in (``ADAPTER.divergences``): the models live in
``div_mlx.py`` (MLX's arithmetic in ``arith.py``) and their findings in ``findings.py``."""
from __future__ import annotations

from .div_mlx import ENTRIES

DIVERGENCES = tuple(ENTRIES)

__all__ = ["DIVERGENCES"]
