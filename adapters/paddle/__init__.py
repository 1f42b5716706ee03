"""The PaddlePaddle plug-in: Paddle's activations and cross-entropy family, run in a worker
process of its own (see adapter.py)."""
from .adapter import ADAPTER

__all__ = ["ADAPTER"]
