"""TensorFlow / Keras 3 adapter: ``tf.nn`` functions, ``keras.losses`` functions and classes.

The plug-in in four parts: ``entry_points.py`` (the entry table: what each public function
or loss class computes and can express, as ``Capabilities``), ``plans.py`` (one builder per
family that writes a call as source: the tensors to build, an optional loss-object
constructor and one Python expression), ``conventions.py`` (where TensorFlow and Keras
document each conventions topic; the observations are pinned in ``convention_pins.json``)
and this module: loading, ``evaluate`` and ``repro``.
:meth:`TensorFlowAdapter.evaluate` executes exactly the statements of the plan's program
(``plans.program``: compiled once; under ``tf.GradientTape``, eagerly or inside one
``tf.function``, with the call's facets, ``FACETS``; input provenance in ``provenance.py``)
and :meth:`TensorFlowAdapter.repro` prints them, so the snippet in a report is the code that
produced the number.

TensorFlow is imported lazily (inside methods): importing this module never imports it.
``TF_CPP_MIN_LOG_LEVEL`` defaults to "2" before the import; ``TF_ENABLE_ONEDNN_OPTS`` is left
as the environment has it (each run's results record its value).
"""
from __future__ import annotations

import os
from pathlib import Path
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np

from lossconform.contract import Adapter, Call, EntryPointSpec, Evaluation, Output, Unsupported

from . import invalid as _invalid
from .conventions import SOURCES
from .divergences import DIVERGENCES
from .entry_points import BY_NAME, ENTRIES
from .plans import FACETS, Program, Reason, build_plan, program


@lru_cache(maxsize=None)
def _compiled(source: str, mode: str = "eval") -> Any:
    return compile(source, "<lossconform-tensorflow>", mode)


class TensorFlowAdapter(Adapter):
    """``lossconform.contract.Adapter`` for TensorFlow and Keras 3 (TensorFlow backend)."""

    framework = "tensorflow"
    convention_sources: Mapping[str, str] = SOURCES
    convention_pins_file = str(Path(__file__).with_name("convention_pins.json"))
    divergences = DIVERGENCES
    invalid_outcomes = _invalid.INVALID_OUTCOMES
    # quiet start-up logs; one intra-/inter-op thread per process (xdist runs one per core)
    process_environment = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_NUM_INTRAOP_THREADS": "1",
                           "TF_NUM_INTEROP_THREADS": "1"}
    numerics_variables = ("TF_", "XLA_", "KERAS_")
    #: axis_arg, arg_dtypes, swap_args, omit_args, x_source (provenance.py), mode: plans.py
    facets = FACETS
    from .settings import settings  # the settings a user may have (settings.py): a method

    def versions(self) -> Mapping[str, str]:
        tf, keras = self._load()
        return {"tensorflow": str(tf.__version__), "keras": str(keras.__version__)}

    def float_label_call(self, entry_point: str) -> Any:
        return _invalid.float_label_call(entry_point)

    def float_label_repro(self, entry_point: str) -> str:
        return _invalid.float_label_repro(entry_point)

    def environment(self) -> Mapping[str, Any]:
        tf, keras = self._load()
        env: dict[str, Any] = {
            # unset means TF's default: oneDNN on for x86 CPUs
            "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "(unset: TF default)"),
            "keras_backend": keras.backend.backend(),
            "keras_floatx": keras.config.floatx(),
            "keras_epsilon": keras.config.epsilon(),
        }
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            env["gpus"] = [g.name for g in gpus]
        return env

    def warmup(self) -> None:
        tf, _ = self._load()
        tf.nn.softmax(tf.zeros((2, 3)))

    def __init__(self) -> None:
        self._mods: tuple[Any, Any] | None = None
        self._losses: dict[str, Any] = {}
        self._devices: tuple[str, ...] | None = None

    # -- framework loading -------------------------------------------------------------
    def _load(self) -> tuple[Any, Any]:
        if self._mods is None:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            import keras
            import tensorflow as tf

            self._mods = (tf, keras)
        return self._mods

    def available(self) -> str | None:
        try:
            self._load()
        except ImportError as exc:
            return f"tensorflow/keras is not installed ({exc})"
        return None

    def version(self) -> str:
        tf, keras = self._load()
        return f"{tf.__version__} (keras {keras.__version__})"

    def devices(self) -> Sequence[str]:
        if self._devices is None:
            tf, _ = self._load()
            gpu = bool(tf.config.list_physical_devices("GPU"))
            self._devices = ("cpu", "gpu") if gpu else ("cpu",)
        return list(self._devices)

    def entry_points(self) -> Sequence[EntryPointSpec]:
        return [e.spec for e in ENTRIES]

    # -- capability (the rest is the entry points' Capabilities) -----------------------
    def extra_unsupported(self, spec: EntryPointSpec, call: Call) -> str | None:
        """What only the call's data can rule out (the plan builder's ``Reason``), and a GPU
        call where TensorFlow sees none."""
        try:
            build_plan(BY_NAME[spec.name], call)
        except Reason as exc:
            return str(exc)
        if call.device == "gpu" and "gpu" not in self.devices():
            return "no GPU visible to TensorFlow"
        return None

    def _plan(self, entry_point: str, call: Call) -> Program | str:
        """The program of a supported call (its plan written out with the call's facets),
        or the reason it is unsupported."""
        reason = self.unsupported(entry_point, call)
        return reason if reason else program(build_plan(BY_NAME[entry_point], call), call)

    # -- running ---------------------------------------------------------------------------
    def evaluate(self, entry_point: str, call: Call) -> Evaluation:
        """Executes the program's statements (exactly what ``repro`` prints)."""
        prog = self._plan(entry_point, call)
        if isinstance(prog, str):
            raise Unsupported(prog)
        tf, keras = self._load()
        arrays = {"np": np, "x": call.x, "target": call.target, "weight": call.option("weight"),
                  "pos_weight": call.option("pos_weight"),
                  "sample_weight": call.option("sample_weight")}
        env: dict[str, Any] = {"tf": tf, "keras": keras, "grad_output": call.grad_output}
        with tf.device("/GPU:0" if call.device == "gpu" else "/CPU:0"):
            with np.errstate(divide="ignore", invalid="ignore"):  # log(0) of an x_source
                for name, src, dt in prog.tensors:
                    env[name] = tf.constant(eval(_compiled(src), arrays), dtype=dt)
            if prog.ctor is not None:
                env["loss_fn"] = self._loss_object(prog.ctor, tf, keras)
            exec(_compiled("\n".join(prog.forward), "exec"), env)  # noqa: S102
            out = env["out"]
            if not prog.grad:
                return Evaluation(_output(out), None)
            if prog.eager:
                if tuple(out.shape) != np.shape(call.grad_output):
                    # The output's shape is not the canonical one (e.g. Keras returns an
                    # empty tensor for a reduced empty batch): the forward, no gradient.
                    return Evaluation(_output(out), None)
                exec(_compiled("\n".join(prog.gradient), "exec"), env)  # noqa: S102
            grad = env["grad"]
        return Evaluation(_output(out), _output(grad))

    def _loss_object(self, ctor: str, tf: Any, keras: Any) -> Any:
        obj = self._losses.get(ctor)
        if obj is None:
            obj = self._losses[ctor] = eval(_compiled(ctor), {"tf": tf, "keras": keras})
        return obj

    def repro(self, entry_point: str, call: Call) -> str:
        prog = self._plan(entry_point, call)
        if isinstance(prog, str):
            return f"# unsupported: {prog}"
        dev = "/GPU:0" if call.device == "gpu" else "/CPU:0"
        lines = [
            "import os",
            'os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")',
            "import numpy as np",
            "import tensorflow as tf",
            "import keras",
            f"with tf.device({dev!r}):",
        ]
        body = [f"{name} = tf.constant({src}, dtype={dt!r})" for name, src, dt in prog.tensors]
        if prog.ctor is not None:
            body.append(f"loss_fn = {prog.ctor}")
        body += list(prog.forward) + (list(prog.gradient) if prog.grad else [])
        body.append("print('forward', out.dtype.name, out.numpy())")
        if prog.grad:
            body.append("print('gradient', grad.dtype.name, grad.numpy())")
        return "\n".join(lines + ["    " + b for b in body]) + "\n"


def _output(t: Any) -> Output:
    return Output(np.asarray(t.numpy()).astype(np.float64), t.dtype.name)


ADAPTER = TensorFlowAdapter()
