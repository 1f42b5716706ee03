"""PaddlePaddle adapter: softmax, sigmoid and the cross-entropy family through Paddle's public API.

Paddle runs in a worker process of its own and the test process never imports it: in this
environment (paddlepaddle 3.3.1, tensorflow-cpu 2.21.0, Python 3.11, x86-64)
``python -c "import tensorflow, paddle"`` dies with SIGSEGV (exit status 139, while loading
libpaddle.so: a symbol clash; loading it with RTLD_DEEPBIND avoids it) while
``import paddle, tensorflow`` works, and the test process imports TensorFlow (its plug-in) in
an order nobody controls. No upstream issue was found (PaddlePaddle/Paddle issue search). So ``evaluate`` asks a persistent child
(``lossconform.isolation.Worker`` serving ``worker.Executor``) to run the very program
``repro`` prints (``plans.program``); Paddle's exceptions come back with the same type name and
message. ``available()`` asks ``importlib.util.find_spec`` and ``version()`` the installed
distribution's metadata, so listing or skipping the plug-in imports nothing either.

The plug-in in parts: ``entry_points.py`` (the entry points and what each can express),
``plans.py`` (one program per call), ``worker.py`` (the child's side), ``conventions.py``
(where Paddle documents each topic), ``convention_pins.json`` (the probes' observations),
``divergences.py`` (models built from the reference), ``findings.py`` (the bugs), ``invalid.py``
(the invalid-input rows and the float-label calls).
"""
from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from lossconform.capabilities import option_is_set
from lossconform.contract import Adapter, Call, EntryPointSpec, Evaluation, Unsupported
from lossconform.isolation import Worker
from lossconform.ops import CATEGORICAL, OP

from . import invalid as _invalid
from .conventions import SOURCES
from .divergences import DIVERGENCES
from .entry_points import ENTRY_POINTS, HALF_DTYPES
from .plans import FACETS, facet_reason, program
from .worker import WORKER_ENVIRONMENT

#: the distribution the plug-in needs
DISTRIBUTION = "paddlepaddle"

#: the first lines of every repro: in a process that has already loaded TensorFlow, paddle's
#: libpaddle.so is loaded with RTLD_DEEPBIND (it binds its own symbols first), which avoids the
#: SIGSEGV of a plain ``import paddle`` after ``import tensorflow`` (measured here: paddlepaddle
#: 3.3.1, tensorflow-cpu 2.21.0). A no-op anywhere else.
IMPORT_AFTER_TENSORFLOW = """\
import os, sys
if "tensorflow" in sys.modules and "paddle" not in sys.modules:  # see the plug-in's adapter.py
    _flags = sys.getdlopenflags()
    sys.setdlopenflags(_flags | os.RTLD_DEEPBIND)
    import paddle
    sys.setdlopenflags(_flags)
"""


#: Paddle 3.3.1's CPU log_softmax takes time quadratic in the class count (measured here, one
#: row, float32, forward and backward each: 0.046 s at 8,192 classes, 0.73 s at 32,768, 11.7 s
#: at 131,072; softmax is linear: 0.14 s at 1,048,576), so the matrix leaves longer rows out
LOG_SOFTMAX_MAX_CLASSES = 16384
LOG_SOFTMAX_QUADRATIC = (
    f"paddle.nn.functional.log_softmax over more than {LOG_SOFTMAX_MAX_CLASSES:,} classes is "
    "left out: Paddle 3.3.1's CPU kernel takes time quadratic in the class count (measured, "
    "one float32 row, forward and backward each: 0.73 s at 32,768 classes, 11.7 s at "
    "131,072), which would dominate the whole run; for long rows use "
    "x - paddle.logsumexp(x, axis, keepdim=True)")


@lru_cache(maxsize=None)
def _dist_version(name: str) -> str:
    return metadata.version(name)


def worker_environment() -> dict[str, str]:
    """The child's environment: this process's, plus (setdefault, a user's own values win) one
    thread and Paddle's logging reduced to errors."""
    env = dict(os.environ)
    for k, v in WORKER_ENVIRONMENT.items():
        env.setdefault(k, v)
    return env


class PaddleAdapter(Adapter):
    """``lossconform.contract.Adapter`` for PaddlePaddle (CPU)."""

    framework = "paddle"
    # paddle must never be imported into the test process (after tensorflow it segfaults):
    # the contract suite runs this plug-in's repro snippets in a fresh interpreter
    isolated = True
    convention_sources: Mapping[str, str] = SOURCES
    convention_pins_file = str(Path(__file__).with_name("convention_pins.json"))
    divergences = DIVERGENCES
    invalid_outcomes = _invalid.INVALID_OUTCOMES
    #: variables that change Paddle's numerics: its FLAGS_* (read from the environment at
    #: import: e.g. FLAGS_use_mkldnn / FLAGS_use_onednn, FLAGS_cpu_deterministic), thread counts
    numerics_variables = ("FLAGS_", "OMP_", "MKL_", "OPENBLAS_")
    #: how a call can be made beyond its values (lossconform.contract.FACET_NAMES); every one
    #: is honoured by ``evaluate`` and ``repro`` through the same program
    facets: Mapping[str, Sequence[Any]] = FACETS

    def __init__(self) -> None:
        self.worker = Worker("paddle", "lossconform.adapters.paddle.worker:Executor",
                             env=worker_environment)
        self._environment: Mapping[str, Any] | None = None

    # -- installation -------------------------------------------------------------------------
    def available(self) -> str | None:
        if importlib.util.find_spec("paddle") is None:
            return "paddle is not installed (pip install paddlepaddle)"
        try:
            _dist_version(DISTRIBUTION)
        except metadata.PackageNotFoundError as exc:
            return f"the paddle module has no {DISTRIBUTION} distribution ({exc})"
        return None

    def version(self) -> str:
        return _dist_version(DISTRIBUTION)

    def environment(self) -> Mapping[str, Any]:
        if self._environment is None:
            self._environment = dict(self.worker.call("environment"))
        return self._environment

    def entry_points(self) -> Sequence[EntryPointSpec]:
        return ENTRY_POINTS

    def warmup(self) -> None:
        """Starts the worker (imports paddle) and makes one tiny call."""
        self.evaluate("paddle.nn.functional.softmax",
                      Call("softmax", np.zeros((2, 3)), "float32", grad_output=np.ones((2, 3))))

    # -- capability (the rest is the entry points' Capabilities) -------------------------------
    def unsupported(self, entry_point: str, call: Call) -> str | None:
        reason = super().unsupported(entry_point, call)
        if reason and call.dtype in HALF_DTYPES and "does not accept" in reason:
            return (f"{entry_point} does not accept {call.dtype} on the CPU: Paddle "
                    f"{self.version()}'s CPU build registers no {call.dtype} kernel for it "
                    "(RuntimeError: (NotFound) The kernel with key (CPU, ..., "
                    f"{call.dtype}) ... is not registered); the adapter does not cast")
        return reason

    def extra_unsupported(self, spec: EntryPointSpec, call: Call) -> str | None:
        reason = facet_reason(spec.name, call)
        if reason is None and spec.op == "log_softmax" and np.ndim(call.x) >= 1 \
                and np.shape(call.x)[call.axis] > LOG_SOFTMAX_MAX_CLASSES:
            return LOG_SOFTMAX_QUADRATIC
        if reason or OP[spec.op].family != CATEGORICAL:
            return reason
        ndim = np.ndim(call.x)
        if ndim == 1 and call.axis not in (0, -1):
            return f"a 1-D input has its classes on axis 0, not {call.axis}"
        ignore = call.option("ignore_index")
        if spec.op == "nll_loss" and option_is_set("ignore_index", ignore) \
                and call.reduction in ("mean", "sum") and call.target is not None \
                and bool(np.any(np.asarray(call.target) == int(ignore))):
            # a Paddle bug (findings.py): the CPU kernel writes out_data[i] = 0 for an ignored
            # item i into the one-element output of a reduced loss; it corrupts the heap and
            # the worker aborts (cpu/nll_loss_kernel.cc, nll_loss_1D / nll_loss_2D)
            return (f"{spec.name} with an ignore_index that a label equals and reduction "
                    f"'{call.reduction}' corrupts the heap and crashes the process (Paddle "
                    "3.3.1 CPU kernel writes out_data[i] past its one-element output; a bug, "
                    "see the plug-in's findings.py): use reduction='none' and reduce yourself")
        if spec.op in ("cross_entropy", "categorical_crossentropy") \
                and call.target_kind == "index" and float(call.option("label_smoothing") or 0) > 0 \
                and ndim >= 2 and call.axis % ndim != ndim - 1 and spec.name.find("softmax_with") < 0:
            # a Paddle bug (findings.py): one_hot(label, input.shape[-1]) whatever the axis
            return (f"{spec.name} with label_smoothing and index labels raises ValueError for "
                    "a class axis other than the last (Paddle one-hot encodes the labels with "
                    "input.shape[-1] classes; a bug, see the plug-in's findings.py): move the "
                    "class axis last")
        if spec.op == "nll_loss" and ndim < 2:
            return (f"{spec.name} takes input of shape (N, C) or (N, C, d1, ...) only (it "
                    "raises ValueError for a 1-D input)")
        if call.target_kind == "probs" and option_is_set("ignore_index",
                                                         call.option("ignore_index")):
            if int(call.option("ignore_index")) > 0:
                return (f"{spec.name} raises ValueError for soft labels with an ignore_index "
                        "> 0 ('When soft_label == True, the value of 'ignore_index' ... should "
                        "be '-100'')")
        return None

    # -- running --------------------------------------------------------------------------------
    def evaluate(self, entry_point: str, call: Call) -> Evaluation:
        reason = self.unsupported(entry_point, call)
        if reason:
            raise Unsupported(reason)
        return self.worker.call("evaluate", entry_point, call)

    def repro(self, entry_point: str, call: Call) -> str:
        reason = self.unsupported(entry_point, call)
        if reason:
            return f"# unsupported: {reason}\n"
        return IMPORT_AFTER_TENSORFLOW + program(entry_point, call) + "print(out)\n" + (
            "print(grad)\n" if call.grad_output is not None else "")

    def to_numpy(self, value: Any) -> np.ndarray:
        return np.array(value.numpy(), dtype=np.float64)

    def float_label_call(self, entry_point: str) -> Any:
        return _invalid.float_label_call(self, entry_point)

    def float_label_repro(self, entry_point: str) -> str:
        return _invalid.float_label_repro(entry_point)


ADAPTER = PaddleAdapter()

__all__ = ["ADAPTER", "PaddleAdapter"]
