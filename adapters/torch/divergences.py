"""torch's divergence entries (temporary: taken from the legacy registry until it is split)."""
from lossconform.adapters._legacy_divergences import REGISTRY

DIVERGENCES = tuple(d for d in REGISTRY if d.framework == "torch")
