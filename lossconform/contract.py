"""The contract between the suite and a framework plug-in (an ``Adapter``).

An adapter is thin: NumPy in, the framework's own public function, NumPy out. It never
knows a tolerance and never computes an expected value. It declares, as data, which
entry points it has, which canonical op each computes, which dtypes each accepts and the
framework's conventions; everything else (cases, reference, verdicts) lives elsewhere.

A framework module is imported lazily (inside the adapter's methods), so listing the
adapters never imports a framework, and a framework that is not installed becomes a
visible skip with a reason.
"""
from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from lossconform.dtypes import DTYPES  # noqa: E402,F401  (re-exported for adapter authors)
from lossconform.ops import OP, OPS  # noqa: E402,F401

#: Option names a Call may carry. Absent means "the canonical default".
#:   weight          class weights, shape (C,), for the categorical family; for the binary
#:                   family an element-wise rescaling weight broadcastable to x
#:   pos_weight      binary_cross_entropy_with_logits: weight of positive examples, shape (C,)
#:   sample_weight   per-item weights, shape of the unreduced loss
#:   ignore_index    int or None: items whose index target equals it contribute nothing
#:   label_smoothing float in [0, 1]
#:   reduction       "none" | "mean" | "sum"
OPTION_NAMES: tuple[str, ...] = (
    "weight",
    "pos_weight",
    "sample_weight",
    "ignore_index",
    "label_smoothing",
    "reduction",
)


#: Facet names a Call may carry in ``Call.facets`` (how the call is made, beyond its values).
#: Absent means the plain call. An adapter declares the values it can express in
#: ``Adapter.facets``; a call with a facet the adapter does not declare is unsupported.
#:   axis_arg    "omitted": the class-axis argument is not passed (the entry point's default
#:               applies); "none": it is passed as None
#:   arg_dtypes  {"target": dtype, "weight": dtype, ...}: those arguments are passed in that
#:               dtype instead of the call's (the declared values are the argument names)
#:   swap_args   True: the loss is called as f(target, input) instead of f(input, target)
#:   x_source    how the probabilities ``x`` are produced before the loss sees them, e.g.
#:               "mylib.softmax": that function applied to the logits behind x, log(x) for a
#:               softmax source and log(x) - log1p(-x) for a sigmoid source (``Call.x`` stays
#:               the probabilities the reference uses); "constant" is a plain tensor
#:   mode        execution mode, e.g. "eager" or "compiled" (names chosen by the plug-in)
#:   omit_args   ("reduction", "from_logits", ...): those arguments are not passed at all, so
#:               the entry point's own defaults apply (the declared values are the names)
FACET_NAMES: tuple[str, ...] = ("axis_arg", "arg_dtypes", "swap_args", "x_source", "mode",
                                "omit_args")


class Unsupported(Exception):
    """The entry point cannot express this call; ``str(exc)`` is the reason shown to users."""


@dataclass(frozen=True)
class Call:
    """One framework-neutral request: an op, its inputs in float64 and the dtype to run in.

    ``x`` holds values that are exactly representable in ``dtype`` (the suite rounds inputs
    to the dtype before the reference sees them), so an adapter casts without loss.
    """

    op: str
    x: np.ndarray  # logits, log-probabilities or probabilities, float64
    dtype: str
    axis: int = -1  # class axis of x, counted from the front when >= 0
    target: np.ndarray | None = None  # int64 indices or float64 probabilities
    target_kind: str | None = None  # "index" | "probs" | None
    options: Mapping[str, Any] = field(default_factory=dict)
    grad_output: np.ndarray | None = None  # cotangent of the output; None: no gradient wanted
    device: str = "cpu"
    #: how the call is made (FACET_NAMES); empty: the plain call
    facets: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # a binary loss's target is probabilities by definition (float targets of x's shape):
        # a call that leaves the kind unset means exactly that
        if self.target is not None and self.target_kind is None and self.op in OP \
                and OP[self.op].family == "binary":
            object.__setattr__(self, "target_kind", "probs")

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    def facet(self, name: str, default: Any = None) -> Any:
        return self.facets.get(name, default)

    @property
    def reduction(self) -> str:
        return self.options.get("reduction", "mean")

    def replace(self, **changes: Any) -> "Call":
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Output:
    """A framework result as float64 values (upcast is exact) plus the dtype it came in."""

    value: np.ndarray
    dtype: str


@dataclass(frozen=True)
class Evaluation:
    forward: Output
    gradient: Output | None  # d <forward, grad_output> / d x, shape of x; None if not asked
    #: of this call's time, the seconds spent compiling (a compiled mode meeting a new shape
    #: or dtype: tracing, lowering, compiling); 0 for an eager call or a cache hit. The
    #: benchmark reports it apart from the time spent computing.
    compile_seconds: float = 0.0


#: Class-axis capabilities: which class axis an entry point can take.
ANY_AXIS = "any"  # any axis (the adapter passes it or moves it)
LAST_AXIS = "last"  # only the last axis
AXIS_1 = "axis1"  # dim 1 of (N, C, d1, ...) inputs, dim 0 of a 1-D (C,) input

ALL_REDUCTIONS: tuple[str, ...] = ("none", "mean", "sum")


@dataclass(frozen=True)
class Capabilities:
    """What one entry point can express, as data; ``capabilities.unsupported_reason`` derives
    the "unsupported" reason of a call from it (shared by every adapter).

    ``missing_option_reasons`` maps an option the entry point lacks to the sentence users
    see (e.g. how to get the same effect); absent options get a generic sentence;
    ``missing_target_reasons`` does the same for target kinds.
    """

    target_kinds: tuple[str | None, ...] = (None,)  # None (no target), "index", "probs"
    options: frozenset[str] = frozenset()  # option names from OPTION_NAMES it can express
    reductions: tuple[str, ...] = ("none",)  # reductions it can express
    class_axes: str = ANY_AXIS  # ANY_AXIS | LAST_AXIS | AXIS_1 (ignored for element-wise ops)
    devices: tuple[str, ...] = ("cpu",)  # devices it can run on
    gradient: bool = True  # gives a gradient wrt the input
    #: when ``gradient`` is False: why, in one sentence users see on every gradient record
    #: (e.g. "forward only: the runtime has no autodiff")
    gradient_reason: str = ""
    missing_option_reasons: Mapping[str, str] = field(default_factory=dict)
    #: a target kind it does not take ("index", "probs") -> the sentence users see
    missing_target_reasons: Mapping[str, str] = field(default_factory=dict)
    #: the dtype its output comes back in whatever the input's, if fixed (a loss class that
    #: computes in its own float type); None: the call's dtype
    output_dtype: str | None = None


@dataclass(frozen=True)
class EntryPointSpec:
    """One public function (or loss class) of a framework, as users call it."""

    name: str  # as written in user code, e.g. "mylib.nn.cross_entropy"
    op: str  # canonical op from lossconform.ops.OPS
    dtypes: tuple[str, ...]  # dtypes it accepts
    notes: str = ""  # how the canonical op maps onto the call (one line, shown in the report)
    capabilities: Capabilities = field(default_factory=Capabilities)


@dataclass(frozen=True)
class InvalidOutcome:
    """One row of a plug-in's expected invalid-input outcomes; the first matching row wins.

    ``entry_point``, ``target_kind`` and ``case`` are regular expressions (full match) over
    the entry point's name, the target kind ("index", "probs" or "None") and the invalid
    case's name (``lossconform.invalid.CASES``). ``outcome`` is ``raises:<ExceptionType>`` or
    one of ``silent-nan``, ``silent-inf``, ``silent-finite``, ``silent-empty``.
    """

    entry_point: str
    target_kind: str
    case: str
    outcome: str


#: Setting kinds: "process" needs a fresh process (environment variables read at import, a
#: process-wide switch applied at start); "mode" is an execution mode (the ``mode`` facet).
SETTING_KINDS: tuple[str, ...] = ("process", "mode")


@dataclass(frozen=True)
class Setting:
    """A setting a user may have that can change a framework's numbers, declared as data by
    its plug-in (``Adapter.settings()``). ``lossconform.settings`` runs the convention probes
    and a slice of the matrix under it and compares them with the run without it.

    kind "process": ``env`` is set before the framework is imported and ``apply`` (the
    process-wide switch users call, written in ``switch``) runs once after it, in a fresh
    process; kind "mode": every call carries the facet ``mode=<mode>`` (a value the adapter
    declares in ``facets["mode"]``), in the same process. ``compiles``: each new call signature
    compiles (seconds a call), so the engine runs its compact slice under it.
    """

    name: str  # short and unique within the plug-in, e.g. "TF_ENABLE_ONEDNN_OPTS=0"
    description: str  # one line: what it does, and why a user has it
    kind: str = "process"  # SETTING_KINDS
    env: Mapping[str, str] = field(default_factory=dict)
    switch: str = ""  # the process-wide call as a statement, e.g. "import mylib; mylib.strict()"
    apply: Callable[[], None] | None = None  # makes ``switch`` happen (imports lazily)
    mode: str | None = None  # kind "mode": the value of the mode facet
    source: str = ""  # where the framework documents it (docs, source at a release tag)
    compiles: bool = False
    #: regex -> why it changes under this setting (with a source): a probe id (that convention
    #: observation changes), or ``check:<entry point>:<case id>:<dtype>:<kind>`` (that check fails
    #: only under the setting; lossconform.settings.compare.check_key). An undeclared change
    #: fails the setting's test
    expected_changes: Mapping[str, str] = field(default_factory=dict)


class Adapter(abc.ABC):
    """What a framework plug-in exposes as ``ADAPTER``: everything about one framework.

    Subclass it and fill in the abstract methods; the class attributes and the methods with
    defaults are the plug-in's facts (convention sources and pins, divergences, invalid-input outcomes, the
    environment that changes its numerics, the versions its entries key on). Import the
    framework lazily, inside methods: listing the adapters must never import a framework.
    See adapters/WRITING_AN_ADAPTER.md and adapters/_template/.
    """

    #: short name used on the command line and in the report
    framework: str = ""
    #: conventions topic (lossconform.probes.TOPICS) -> where the framework documents it:
    #: its source at a release tag, a doc page, an upstream issue ("; "-separated, each with
    #: what it shows in parentheses). The values themselves are observed by the probes.
    convention_sources: Mapping[str, str] = {}
    #: the JSON file of this plug-in's pinned probe observations (lossconform.probes.pins);
    #: ``python -m tools.pin_conventions`` writes it. None: nothing pinned.
    convention_pins_file: str | None = None
    #: known differences (lossconform.divergences.Divergence), each with an executable model
    divergences: Sequence[Any] = ()
    #: expected outcome of every invalid-input cell, first match wins
    invalid_outcomes: Sequence[InvalidOutcome] = ()
    #: environment variables set (if unset) before the framework is imported, e.g. threads
    process_environment: Mapping[str, str] = {}
    #: names or prefixes of environment variables that change this framework's numerics;
    #: their values are recorded in every run's results
    numerics_variables: Sequence[str] = ()
    #: facet name (FACET_NAMES) -> the values this adapter's ``evaluate`` honours; for
    #: "arg_dtypes" the argument names it can pass in another dtype. Undeclared: unsupported.
    facets: Mapping[str, Sequence[Any]] = {}
    #: True: the framework must never be imported into the test process (it runs in a process
    #: of its own, ``lossconform.isolation``); the suite then runs this plug-in's repro
    #: snippets in a fresh interpreter instead of its own
    isolated: bool = False

    # -- required ---------------------------------------------------------------------------
    @abc.abstractmethod
    def available(self) -> str | None:
        """None if usable; otherwise the reason (e.g. "mylib is not installed")."""

    @abc.abstractmethod
    def version(self) -> str:
        """The framework's version string as users know it."""

    @abc.abstractmethod
    def entry_points(self) -> Sequence[EntryPointSpec]: ...

    @abc.abstractmethod
    def evaluate(self, entry_point: str, call: Call) -> Evaluation:
        """Run the framework. Raise whatever the framework raises; never catch it."""

    @abc.abstractmethod
    def repro(self, entry_point: str, call: Call) -> str:
        """A Python snippet that reproduces this call from ``x``, ``target``, ``weight``,
        ``pos_weight``, ``sample_weight``, ``grad_output`` (NumPy float64 arrays or None; the
        report prepends code that recreates them). It must leave the forward result in a
        variable ``out`` and, when ``grad_output`` is given, the gradient in ``grad`` (framework
        objects; ``to_numpy`` converts them), and may print them."""

    # -- with defaults ----------------------------------------------------------------------
    @property
    def convention_pins(self) -> Sequence[Any]:
        """The pinned observations (``PinBlock``s) read from ``convention_pins_file``."""
        from lossconform.probes.pins import load_pins

        return load_pins(self.convention_pins_file) if self.convention_pins_file else ()

    def versions(self) -> Mapping[str, str]:
        """Package versions that divergence entries may key on (``Divergence.package``)."""
        return {self.framework: self.version()}

    def settings(self) -> Sequence[Setting]:
        """Settings a user may have that change this framework's numbers (``Setting``):
        environment variables, process-wide switches, execution modes. Default: none."""
        return ()

    def devices(self) -> Sequence[str]:
        """Devices this installation can run on, e.g. ["cpu"] or ["cpu", "cuda"]."""
        return ("cpu",)

    def spec(self, entry_point: str) -> EntryPointSpec | None:
        for s in self.entry_points():
            if s.name == entry_point:
                return s
        return None

    def unsupported(self, entry_point: str, call: Call) -> str | None:
        """None if the entry point can express ``call``; otherwise the reason.

        The default derives it from the entry point's ``Capabilities`` and then asks
        ``extra_unsupported`` for what capabilities cannot say.
        """
        from lossconform.capabilities import unsupported_reason

        spec = self.spec(entry_point)
        if spec is None:
            return f"{entry_point} is not an entry point of the {self.framework} adapter"
        return (self.facet_unsupported(call) or unsupported_reason(spec, call)
                or self.extra_unsupported(spec, call))

    def facet_unsupported(self, call: Call) -> str | None:
        """The reason a call's facets cannot be expressed (checked against ``facets``)."""
        for name, value in call.facets.items():
            declared = self.facets.get(name)
            if not declared:
                return f"the {self.framework} adapter does not express the {name!r} facet"
            values = list(value) if name in ("arg_dtypes", "omit_args") else [value]
            missing = [v for v in values if v not in declared]
            if missing:
                return (f"the {self.framework} adapter does not express {name}="
                        f"{missing[0]!r} (it declares {', '.join(map(repr, declared))})")
        return None

    def extra_unsupported(self, spec: EntryPointSpec, call: Call) -> str | None:
        """Reasons beyond the capability data (a combination of options the function rejects)."""
        return None

    def environment(self) -> Mapping[str, Any]:
        """Facts about this installation that change numerics (build flags, GPUs, settings);
        recorded in every run's results. Called only when ``available()`` is None."""
        return {}

    def to_numpy(self, value: Any) -> np.ndarray:
        """A framework value (as a repro snippet leaves it) as a float64 NumPy array."""
        return np.asarray(value, dtype=np.float64)

    def warmup(self) -> None:
        """Import the framework and run one tiny call, so timings exclude start-up."""

    def float_label_call(self, entry_point: str) -> Callable[[], Any] | None:
        """A call of ``entry_point`` with float class labels ``[0, 1.7, 0.5, 2]`` where
        indices are expected, made directly (a ``Call`` carries int64 indices only); None if
        the entry point takes no index targets. Used by the invalid-input table."""
        return None

    def float_label_repro(self, entry_point: str) -> str:
        """The snippet of ``float_label_call``, for the report."""
        return ""
