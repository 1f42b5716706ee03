"""Keras 3 on the JAX and PyTorch backends: two frameworks, ``keras-jax`` and ``keras-torch``.

Keras reads ``KERAS_BACKEND`` once, at its first import, and the test process already holds
Keras on the TensorFlow backend (the tensorflow plug-in). So each backend runs in a persistent
worker process owned by its adapter (``client.Worker``, ``worker.py``), started on the first
``evaluate`` with ``KERAS_BACKEND`` set, serving ``(entry point, Call) -> Evaluation`` over
length-prefixed pickle frames; the framework's exceptions come back with the same type name
and message. The parent never imports Keras, JAX or torch: ``available()`` asks
``importlib.util.find_spec``, ``versions()`` the installed distributions' metadata.

The plug-in in parts: ``entry_points.py`` (the Keras entry points, named ``...@jax`` /
``...@torch``), ``plans.py`` (one backend-neutral plan per call, written out per backend and
mode: what the worker executes and ``repro`` prints), ``conventions.py``, ``invalid.py``,
``divergences.py`` / ``div_*.py`` (models built from the reference; the backend-independent
Keras conventions reuse the tensorflow plug-in's pure-NumPy Keras models), ``findings.py``
(where the backends of one Keras version disagree) and ``settings.py`` (execution modes).
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from lossconform.contract import Adapter, Call, EntryPointSpec, Evaluation, Unsupported

from . import invalid as _invalid
from .client import Worker
from .conventions import sources
from .entry_points import BY_NAME, ENTRIES, K_SPARSE
from .plans import Reason, build_plan, facets, program, source

#: the packages each backend needs, and those whose versions change its numbers
PACKAGES: dict[str, tuple[str, ...]] = {"jax": ("keras", "jax", "jaxlib"),
                                        "torch": ("keras", "torch")}


@lru_cache(maxsize=None)
def _dist_version(name: str) -> str:
    return metadata.version(name)


class KerasAdapter(Adapter):
    """``lossconform.contract.Adapter`` for Keras 3 on one non-TensorFlow backend."""

    def __init__(self, backend: str) -> None:
        from .divergences import divergences
        from .settings import settings as _settings

        self.backend = backend
        self.framework = f"keras-{backend}"
        self.convention_sources = sources(backend)
        self.convention_pins_file = str(Path(__file__).with_name(
            f"convention_pins_{backend}.json"))
        self.divergences = divergences(backend)
        self.invalid_outcomes = _invalid.outcomes(backend)
        self.facets = facets(backend)
        self.numerics_variables = ("KERAS_", "JAX_", "XLA_") if backend == "jax" \
            else ("KERAS_", "TORCH_", "OMP_", "MKL_")
        self._settings = _settings(backend)
        self.worker = Worker(backend)
        self._environment: Mapping[str, Any] | None = None

    # -- installation -------------------------------------------------------------------------
    def available(self) -> str | None:
        missing = [p for p in PACKAGES[self.backend] if importlib.util.find_spec(p) is None]
        if missing:
            return (f"{' and '.join(missing)} not installed (Keras on the {self.backend} "
                    f"backend needs {', '.join(PACKAGES[self.backend])})")
        if not _dist_version("keras").startswith("3."):
            return f"keras {_dist_version('keras')} is not Keras 3"
        return None

    def version(self) -> str:
        return f"{_dist_version('keras')} ({self.backend} {_dist_version(self.backend)})"

    def versions(self) -> Mapping[str, str]:
        return {p: _dist_version(p) for p in PACKAGES[self.backend]}

    def environment(self) -> Mapping[str, Any]:
        if self._environment is None:
            self._environment = dict(self.worker.request("environment"))
        return self._environment

    def settings(self) -> Sequence[Any]:
        return self._settings

    def warmup(self) -> None:
        """Starts the worker (imports Keras on the backend) and makes one tiny call."""
        from lossconform.contract import Call

        name = f"keras.ops.softmax@{self.backend}"
        self.evaluate(name, Call("softmax", np.zeros((2, 3)), "float32",
                                 grad_output=np.ones((2, 3))))

    def entry_points(self) -> Sequence[EntryPointSpec]:
        return [e.spec for e in ENTRIES[self.backend]]

    def extra_unsupported(self, spec: EntryPointSpec, call: Call) -> str | None:
        e = BY_NAME[spec.name]
        if self.backend == "torch" and e.family == K_SPARSE and e.from_logits is False \
                and call.x.ndim > 2 and call.grad_output is not None:
            # Keras moves the class axis to dim 1 (movedim: a non-contiguous view) and calls
            # torch.nn.functional.nll_loss; its CPU backward then raises "RuntimeError:
            # grad_input must be contiguous" (keras/src/backend/torch/nn.py at v3.15.1,
            # sparse_categorical_crossentropy): the gradient cannot be taken at all
            return (f"{spec.name} raises RuntimeError 'grad_input must be contiguous' in "
                    "backward for inputs of more than 2 dimensions (torch nll_loss on Keras' "
                    "movedim'd probabilities; a bug, reported in the plug-in's findings)")
        try:
            program(build_plan(BY_NAME[spec.name], call), call, self.backend)
        except Reason as exc:
            return str(exc)
        return None

    # -- running --------------------------------------------------------------------------------
    def evaluate(self, entry_point: str, call: Call) -> Evaluation:
        reason = self.unsupported(entry_point, call)
        if reason:
            raise Unsupported(reason)
        return self.worker.request("evaluate", entry_point, call)

    def repro(self, entry_point: str, call: Call) -> str:
        reason = self.unsupported(entry_point, call)
        if reason:
            return f"# unsupported: {reason}"
        return source(program(build_plan(BY_NAME[entry_point], call), call, self.backend),
                      call.dtype)

    def to_numpy(self, value: Any) -> np.ndarray:
        if hasattr(value, "detach"):  # a torch tensor (bfloat16 has no NumPy dtype in torch)
            import torch

            return value.detach().to(torch.float64).cpu().numpy()
        return np.asarray(value).astype(np.float64)

    def float_label_call(self, entry_point: str) -> Any:
        return _invalid.float_label_call(self, entry_point)

    def float_label_repro(self, entry_point: str) -> str:
        return _invalid.float_label_repro(self.backend, entry_point)


KERAS_JAX = KerasAdapter("jax")
KERAS_TORCH = KerasAdapter("torch")
ADAPTERS = (KERAS_JAX, KERAS_TORCH)
