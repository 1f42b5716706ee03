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
- on top of it, ``_Executables`` keeps each compiled step serialized by its plan and argument
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
import time
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


class _Executables:
    """Compiled ``jax.jit`` steps, kept in memory and on disk across runs.

    A jitted call on a new shape/dtype traces, lowers and compiles (about 40 ms of tracing and
    lowering even when JAX's persistent cache then finds the executable). This cache keeps
    ``jax.jit(step).lower(*args).compile()`` -- the path ``jax.jit`` itself takes, so the
    executable is the one a user's ``jax.jit(step)(*args)`` runs (tests/adapters/jax compare
    them bitwise) -- serialized with ``jax.experimental.serialize_executable`` under the
    compilation cache folder, keyed by the plan's source, the arguments' shapes and dtypes, the
    jax/jaxlib/optax versions, x64, ``XLA_FLAGS`` and the CPU. A second run deserializes
    (about 10 ms) instead of tracing and lowering.
    """

    def __init__(self) -> None:
        self.memory: dict[str, Any] = {}
        self.misses = 0
        #: seconds the last ``run`` spent tracing, lowering and compiling (0 on a hit)
        self.last_compile_seconds = 0.0
        self._static: str | None = None

    def folder(self) -> Path | None:
        import jax

        base = jax.config.jax_compilation_cache_dir
        return Path(base) / "lossconform-executables" if base else None

    def _static_key(self) -> str:
        if self._static is None:
            import platform

            import jax
            import jaxlib
            import optax

            try:
                with open("/proc/cpuinfo", encoding="utf-8") as fh:
                    flags = next((ln for ln in fh if ln.startswith("flags")), "")
            except OSError:
                flags = platform.processor()
            dev = jax.devices()[0]
            self._static = repr((jax.__version__, jaxlib.__version__, optax.__version__,
                                 bool(jax.config.jax_enable_x64), os.environ.get("XLA_FLAGS", ""),
                                 dev.platform, dev.device_kind, platform.machine(), flags))
        return self._static

    def run(self, jitted: Any, source: str, args: Sequence[Any]) -> Any:
        """``jitted(*args)`` through the cache. An executable loaded from disk that XLA cannot
        run (``NOT_FOUND`` of a fused kernel's symbol, met with some gathers) is dropped and
        marked, and the call made through ``jitted`` itself: what that raises propagates."""
        import hashlib
        import pickle

        import jax

        sig = tuple((tuple(a.shape), str(a.dtype), bool(getattr(a, "weak_type", False)))
                    for a in args)
        key = hashlib.sha256(repr((self._static_key(), source, sig)).encode()).hexdigest()
        self.last_compile_seconds = 0.0
        hit = self.memory.get(key)
        if hit is not None:
            return hit(*args)
        from jax.experimental.serialize_executable import deserialize_and_load, serialize

        folder = self.folder()
        path = folder / f"{key}.pkl" if folder is not None else None
        bad = path.with_suffix(".bad") if path is not None else None
        if bad is not None and bad.exists():
            self.memory[key] = jitted
            return jitted(*args)
        if path is not None and path.exists():
            try:
                payload, in_tree, out_tree = pickle.loads(path.read_bytes())
                loaded = deserialize_and_load(payload, in_tree, out_tree)
                out = jax.block_until_ready(loaded(*args))  # errors surface here
            except Exception as exc:  # a truncated, foreign or unloadable entry
                if isinstance(exc, jax.errors.JaxRuntimeError) and "NOT_FOUND" not in str(exc):
                    raise
                self._mark_bad(path, bad)
                self.memory[key] = jitted
                return jitted(*args)
            self.memory[key] = loaded
            return out
        self.misses += 1
        t0 = time.perf_counter()
        compiled = jitted.lower(*args).compile()
        self.last_compile_seconds = time.perf_counter() - t0
        self.memory[key] = compiled
        if path is not None:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(pickle.dumps(serialize(compiled)))
                os.replace(tmp, path)
            except Exception:  # a read-only cache folder only costs the next run time
                pass
        return compiled(*args)

    @staticmethod
    def _mark_bad(path: Path, bad: Path) -> None:
        try:
            bad.touch()
            path.unlink()
        except OSError:
            pass


EXECUTABLES = _Executables()


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
