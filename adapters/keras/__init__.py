"""The Keras plug-in: Keras 3 on the JAX and PyTorch backends, two frameworks (``keras-jax``,
``keras-torch``), each its own column in the report; every backend runs in a worker process of
its own (see adapter.py)."""
from .adapter import ADAPTERS, KERAS_JAX, KERAS_TORCH

__all__ = ["ADAPTERS", "KERAS_JAX", "KERAS_TORCH"]
