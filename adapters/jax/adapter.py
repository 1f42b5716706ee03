"""JAX / optax adapter: ``jax.nn``'s activations and ``optax.losses``' cross-entropies.

One *plan* per call: the plan is Python source (a ``loss_fn`` that calls the public function
with the call's static arguments, and a ``step`` that takes the forward value and the
vector-Jacobian product through ``jax.vjp`` in one function). ``evaluate`` executes that very
source and ``repro`` prints it, so the two cannot drift apart. jax is imported only inside
methods.

Execution modes (the ``mode`` facet): ``"jit"``, the default, is what users run (a
``jax.jit``-compiled step); ``"eager"`` runs the same step op by op. Compilation is the cost of
this plug-in (about 150 ms per new shape/dtype on a CPU), so:

- the jitted step is cached per plan source (entry point, static keyword arguments, which arrays
  are present): logits, target and cotangent are arguments, never constants, so one compile
  serves every case with the same shapes and dtypes;
- the forward value and the gradient come from one compiled function;
- the reduction (``jnp.mean`` / ``jnp.sum``, what users write) stays inside the compiled
  function: computing it outside would save compiles only across reductions and would no
  longer be the user's computation (the gradient of the mean would be ours, not JAX's);
- JAX's persistent compilation cache is switched on through ``process_environment``
  (``JAX_COMPILATION_CACHE_DIR`` under ``$XDG_CACHE_HOME`` or ``~/.cache``, minimum compile
  time and entry size 0; set only where unset, so a user's value wins), so a second run
  loads the executables instead of compiling them;
- on top of it, ``Executables`` (executables.py, shared with the Keras plug-in's keras-jax
  worker) keeps each compiled step serialized by its plan and argument
  signature, so a warm run skips tracing and lowering too (about 40 ms a signature). Measured
  (jax 0.10.2, 2 shared cores): the matrix's 1,865 jax calls need 637 compiles; in one process
  they take 6.5 s warm (637 executables loaded, ~5 ms each) against ~150 s cold; the jax matrix
  under pytest -n 2 takes 27 s warm (most of it the engine's per-check work) and 6 min cold.

float64 needs ``JAX_ENABLE_X64=1`` before jax is imported (``process_environment``); class
indices are then int64. Where jax was imported without it, float64 calls are unsupported with
that reason.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from lossconform.capabilities import option_is_set
from lossconform.contract import Adapter, Call, EntryPointSpec, Evaluation, Output, Setting
from lossconform.ops import ACTIVATION, CATEGORICAL, OP

from . import entry_points as E
from . import invalid as _invalid
from .conventions import SOURCES
from .divergences import DIVERGENCES
from .executables import Executables

#: execution modes (the ``mode`` facet); a call without the facet runs "jit"
MODES: tuple[str, ...] = ("jit", "eager")
DEFAULT_MODE = "jit"


def _cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "lossconform", "jax")


#: set (where unset) before jax is imported: float64 on, the persistent compilation cache on
PROCESS_ENVIRONMENT: dict[str, str] = {
    "JAX_ENABLE_X64": "1",
    "JAX_COMPILATION_CACHE_DIR": _cache_dir(),
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
}

#: the public function each entry point calls (the entry point's name without its qualifier)
_FUNCTION = {s.name: s.name.split("(")[0] for s in E.ENTRY_POINTS}


@dataclass(frozen=True)
class _Plan:
    """How one Call maps onto jax: the Python source of ``loss_fn`` and ``step``."""

    name: str
    args: tuple[str, ...]  # loss_fn's array arguments: ("xt",) or ("xt", "tt")
    body: tuple[str, ...]  # loss_fn's body lines
    target_dtype: str | None  # dtype of ``tt``
    dtype: str
    mode: str
    want_grad: bool

    @property
    def definitions(self) -> str:
        """``loss_fn`` (and ``step``, for a gradient): the same text in evaluate and repro."""
        sig = ", ".join(self.args)
        lines = [f"def loss_fn({sig}):", *(f"    {b}" for b in self.body)]
        if self.want_grad:
            rest = "".join(f", {a}" for a in self.args[1:])
            lines += ["", "", f"def step({sig}, g):",
                      f"    out, vjp = jax.vjp(lambda v: loss_fn(v{rest}), xt)",
                      "    (grad,) = vjp(g.astype(out.dtype))",
                      "    return out, grad"]
        return "\n".join(lines) + "\n"

    @property
    def runner(self) -> str:
        """The callable the plan runs: jitted or plain."""
        fn = "step" if self.want_grad else "loss_fn"
        return f"jax.jit({fn})" if self.mode == "jit" else fn


def _axis_kw(call: Call) -> str:
    arg = call.facet("axis_arg")
    if arg == "omitted":
        return ""
    if arg == "none":
        return ", axis=None"
    return f", axis={int(call.axis)}"


def _plan(entry_point: str, call: Call) -> _Plan:
    spec = E.SPECS[entry_point]
    op = OP[spec.op]
    fn = _FUNCTION[entry_point]
    mode = str(call.facet("mode", DEFAULT_MODE))
    want_grad = call.grad_output is not None
    common = dict(dtype=call.dtype, mode=mode, want_grad=want_grad)
    if op.family == ACTIVATION:
        axis = _axis_kw(call) if op.class_axis else ""
        return _Plan(entry_point, ("xt",), (f"return {fn}(xt{axis})",), None, **common)

    body: list[str] = []
    labels = "tt"
    kw = ""
    if op.family == CATEGORICAL and entry_point != E.SAFE:
        kw = _axis_kw(call)
    if entry_point == E.POLY:
        kw += ", epsilon=0.0"
    alpha = call.option("label_smoothing")
    if option_is_set("label_smoothing", alpha):
        smooth_axis = "" if call.facet("axis_arg") == "omitted" else f", axis={int(call.axis)}"
        body.append(f"labels = optax.smooth_labels(tt, {float(alpha)!r}{smooth_axis})")
        labels = "labels"
    ignore = call.option("ignore_index")
    if option_is_set("ignore_index", ignore):
        body.append(f"where = tt != {int(ignore)}  # ignored items are masked out")
        kw += ", where=where"
    first, second = ("xt", labels) if not call.facet("swap_args") else (labels, "xt")
    per_item = f"{fn}({first}, {second}{kw})"
    reduce = {"none": per_item, "mean": f"jnp.mean({per_item})",
              "sum": f"jnp.sum({per_item})"}[call.reduction]
    body.append(f"return {reduce}")
    target = "int64" if call.target_kind == "index" else call.dtype
    return _Plan(entry_point, ("xt", "tt"), tuple(body), target, **common)


#: executed plan definitions, by (source, mode): jitted callables keep their own
#: per-shape/dtype compile cache, so one entry serves every case of the same structure
_RUNNERS: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def _runner(plan: _Plan) -> Any:
    key = (plan.definitions, plan.runner)
    hit = _RUNNERS.get(key)
    if hit is None:
        import jax
        import jax.numpy as jnp
        import optax

        ns: dict[str, Any] = {"jax": jax, "jnp": jnp, "optax": optax}
        exec(compile(plan.definitions, f"<lossconform jax plan {plan.name}>", "exec"), ns)  # noqa: S102
        hit = eval(plan.runner, ns)  # noqa: S307 (our own plan text)
        with _LOCK:
            _RUNNERS[key] = hit
    return hit


EXECUTABLES = Executables(("optax",))


class JaxAdapter(Adapter):
    """``lossconform.contract.Adapter`` for JAX (jax.nn) and optax (optax.losses), CPU."""

    framework = "jax"
    convention_sources: Mapping[str, str] = SOURCES
    convention_pins_file = str(Path(__file__).with_name("convention_pins.json"))
    divergences = DIVERGENCES
    invalid_outcomes = _invalid.INVALID_OUTCOMES
    process_environment: Mapping[str, str] = PROCESS_ENVIRONMENT
    numerics_variables = ("JAX_", "XLA_FLAGS")
    facets: Mapping[str, Sequence[Any]] = {
        "mode": MODES,
        "axis_arg": ("omitted", "none"),
        "swap_args": (True, False),
    }

    # -- environment -------------------------------------------------------------------
    def available(self) -> str | None:
        try:
            import jax  # noqa: F401
            import optax  # noqa: F401
        except ImportError as exc:
            return f"jax/optax is not installed ({exc})"
        except Exception as exc:  # a broken install is a skip with a reason, not a crash
            return f"jax/optax cannot be imported: {type(exc).__name__}: {exc}"
        return None

    def version(self) -> str:
        import jax

        return str(jax.__version__)

    def versions(self) -> Mapping[str, str]:
        import jax
        import jaxlib
        import optax

        return {"jax": str(jax.__version__), "jaxlib": str(jaxlib.__version__),
                "optax": str(optax.__version__)}

    def environment(self) -> Mapping[str, Any]:
        import jax

        return {"backend": jax.default_backend(),
                "jax_enable_x64": bool(jax.config.jax_enable_x64),
                "compilation_cache_dir": jax.config.jax_compilation_cache_dir,
                "XLA_FLAGS": os.environ.get("XLA_FLAGS", "")}

    def settings(self) -> Sequence[Setting]:
        from .settings import SETTINGS

        return SETTINGS

    def entry_points(self) -> Sequence[EntryPointSpec]:
        return E.ENTRY_POINTS

    def warmup(self) -> None:
        import jax
        import jax.numpy as jnp
        import optax

        jax.jit(optax.losses.softmax_cross_entropy)(jnp.zeros((2, 3)), jnp.ones((2, 3)) / 3)

    def float_label_call(self, entry_point: str) -> Any:
        return _invalid.float_label_call(entry_point)

    def float_label_repro(self, entry_point: str) -> str:
        return _invalid.float_label_repro(entry_point)

    # -- capability (the rest is the entry points' Capabilities) -------------------------
    def extra_unsupported(self, spec: EntryPointSpec, call: Call) -> str | None:
        if call.dtype == "float64":
            import jax

            if not jax.config.jax_enable_x64:
                return ("jax was imported without JAX_ENABLE_X64=1: float64 arrays are "
                        "silently float32")
        op = OP[spec.op]
        axis_arg = call.facet("axis_arg")
        if axis_arg is not None:
            if not op.class_axis:
                return f"{spec.name} is element-wise: it has no axis argument"
            if spec.name == E.SAFE:
                return f"{spec.name} has no axis argument (classes on the last axis)"
        if call.facet("swap_args") and call.target is None:
            return f"{spec.name} takes one array: there are no arguments to swap"
        return None

    # -- execution -------------------------------------------------------------------------
    def evaluate(self, entry_point: str, call: Call) -> Evaluation:
        import jax.numpy as jnp

        plan = _plan(entry_point, call)
        fn = _runner(plan)
        args = [jnp.asarray(call.x, dtype=call.dtype)]
        if plan.target_dtype is not None:
            args.append(jnp.asarray(call.target, dtype=plan.target_dtype))
        if plan.want_grad:
            args.append(jnp.asarray(call.grad_output, dtype=call.dtype))
        compile_seconds = 0.0
        if plan.mode == "jit":
            result = EXECUTABLES.run(fn, plan.definitions + plan.runner, args)
            compile_seconds = EXECUTABLES.last_compile_seconds
        else:
            result = fn(*args)
        if plan.want_grad:
            out, grad = result
            return Evaluation(_to_output(out), _to_output(grad), compile_seconds)
        return Evaluation(_to_output(result), None, compile_seconds)

    def repro(self, entry_point: str, call: Call) -> str:
        plan = _plan(entry_point, call)
        lines = ["import jax",
                 "jax.config.update('jax_enable_x64', True)  # float64, int64 labels (the "
                 "plug-in sets JAX_ENABLE_X64=1)",
                 "import jax.numpy as jnp",
                 "import optax",
                 "",
                 f"xt = jnp.asarray(x, dtype=jnp.{plan.dtype})"]
        if plan.target_dtype is not None:
            lines.append(f"tt = jnp.asarray(target, dtype=jnp.{plan.target_dtype})")
        lines += ["", "", plan.definitions.rstrip("\n"), "", ""]
        args = ", ".join(plan.args)
        if plan.want_grad:
            lines.append(f"out, grad = {plan.runner}({args}, "
                         f"jnp.asarray(grad_output, dtype=jnp.{plan.dtype}))")
            lines += ["print(out)", "print(grad)"]
        else:
            lines += [f"out = {plan.runner}({args})", "print(out)"]
        return "\n".join(lines) + "\n"


def _to_output(a: Any) -> Output:
    value = np.asarray(a).astype(np.float64)  # exact upcast (bfloat16 included)
    return Output(value=np.array(value), dtype=str(a.dtype))


ADAPTER = JaxAdapter()

__all__ = ["ADAPTER", "JaxAdapter", "MODES", "PROCESS_ENVIRONMENT"]
