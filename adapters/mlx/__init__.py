"""The MLX plug-in: entry points, conventions, divergences, invalid-input outcomes."""
from .adapter import ADAPTER

__all__ = ["ADAPTER"]
