"""Every divergence entry of the MLX plug-in (``ADAPTER.divergences``)."""
from __future__ import annotations

DIVERGENCES: tuple = ()

__all__ = ["DIVERGENCES"]
