"""Every divergence entry of the JAX / optax plug-in (``ADAPTER.divergences``): the models live
in ``div_optax.py`` (conventions of optax's losses and of the user's reduction) and their
findings in ``findings.py``."""
from __future__ import annotations

from .div_optax import ENTRIES

DIVERGENCES = tuple(ENTRIES)

__all__ = ["DIVERGENCES"]
