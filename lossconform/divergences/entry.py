"""One divergence entry: a known, documented way a framework departs from the reference.

A divergence is strict and executable. Each entry names the framework (the plug-in that
owns it), the entry points and package versions it concerns, which inputs trigger it, why
the framework does it (with a link to the source line, doc or upstream issue), and carries:

* ``applies(call)``: a cheap predicate, "could this call trigger it?";
* ``model(call)``: the float64 result (forward, and gradient wrt ``call.x`` given
  ``call.grad_output``, or None where not modelled) of "the reference with that framework's
  convention applied", built from the reference's functions and plain NumPy, never from a
  framework;
* ``example()``: a small Call that triggers it, so the contract tests notice when a framework
  stops diverging (fixed upstream) instead of passing quietly;
* ``observed``: the facts its text states about the framework's output (NaN here, 0 there,
  finite), as ``Observed`` patterns a test checks against the framework's output on the example
  (lossconform/suite/test_findings.py), so that no record is attributed to an entry whose words
  contradict what the framework returns;
* ``finding``: for an entry that is a bug rather than a design choice, a ``Finding`` ready to
  report upstream: a standalone repro (framework imports only) that prints the measured value,
  that value, the correct one (computed by the reference or mpmath, proved by a test) and the
  upstream status (lossconform/findings.py collects and runs them).

Entries live in their framework's plug-in (``ADAPTER.divergences``), each beside its model,
predicate and example; this module is a leaf (no numerics, no framework).
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from lossconform.contract import Call

ModelResult = tuple[np.ndarray, "np.ndarray | None"]

KINDS = ("forward", "gradient")

#: What a ``Finding.upstream`` of None means, where its status says nothing else.
NOT_REPORTED = "not reported yet"


@dataclass(frozen=True)
class Finding:
    """A divergence that is a bug rather than a design choice, in the form an upstream issue
    needs.

    ``repro`` is complete Python source that imports only the framework (plus the standard
    library and NumPy) and prints, as its last line, the measured values as a flat or nested
    list of numbers (``print(out.tolist())``: ``nan``/``inf`` are read as such). ``measured`` is
    that line as printed on ``measured_on``; ``correct`` the right values in the same layout,
    or ``"raises ValueError: ..."`` where the right outcome is an error. ``reference()`` computes
    the correct values from lossconform.reference or mpmath (never from a framework), or
    raises ValueError where ``correct`` is an error; a test checks that it agrees with
    ``correct`` and that ``measured`` differs from it beyond the tolerance for ``dtype``.
    """

    title: str  # one line: what is wrong
    repro: str  # standalone source: framework imports only, prints the measured values
    measured: str  # what the repro prints (its last line)
    measured_on: str  # where ``measured`` was observed: "mylib 1.2.0, CPU (x86-64)"
    correct: str  # the right values as a list, or "raises ValueError: ..."
    reference: Callable[[], object]  # the right values from the reference or mpmath
    dtype: str  # the dtype the repro computes in (its accuracy bounds "differs")
    requires: tuple[str, ...]  # top-level modules the repro imports besides stdlib/NumPy
    kind: str = "forward"  # "forward" (a value) or "gradient"
    upstream: str | None = None  # URL of an existing upstream issue or pull request
    status: str = NOT_REPORTED  # plain words: "open", "closed, still present in 2.21", ...

    @property
    def correct_is_error(self) -> bool:
        return self.correct.lstrip().lower().startswith("raises")

    def summary(self) -> dict[str, object]:
        """The finding as plain data (no callables), for results files and the report."""
        return {
            "title": self.title, "repro": self.repro, "measured": self.measured,
            "measured_on": self.measured_on, "correct": self.correct, "dtype": self.dtype,
            "kind": self.kind, "upstream": self.upstream, "status": self.status,
        }


#: ``Observed.pattern`` tokens, one per output element: what the element is.
PATTERN_TOKENS = ("nan", "+inf", "-inf", "0", "+", "-", "finite", "*", "...")


def classify(values: np.ndarray) -> list[str]:
    """Each element of ``values`` (flattened, row-major) as a pattern token: nan, +inf, -inf,
    0, + (finite > 0) or - (finite < 0)."""
    out = []
    for v in np.asarray(values, dtype=np.float64).ravel():
        if np.isnan(v):
            out.append("nan")
        elif np.isinf(v):
            out.append("+inf" if v > 0 else "-inf")
        elif v == 0:
            out.append("0")
        else:
            out.append("+" if v > 0 else "-")
    return out


def _token_matches(want: str, got: str) -> bool:
    return want == "*" or want == got or (want == "finite" and got in ("0", "+", "-"))


@dataclass(frozen=True)
class Observed:
    """A fact an entry's text states about a framework's output, in checkable form.

    ``pattern`` holds one token per element of the output (flattened, row-major; ``|`` may
    separate rows for reading and is ignored): ``nan``, ``+inf``, ``-inf``, ``0``, ``+``
    (finite, > 0), ``-`` (finite, < 0), ``finite`` or ``*`` (anything); a last token ``...``
    repeats the token before it to the end (``"0 ..."``: every element 0; ``""``: an empty
    output). The test evaluates ``call()`` (default: the entry's example) on every entry
    point of ``framework`` (default: the entry's) that matches ``entry_points`` (default: the
    entry's) and can express it, and compares the ``kind`` output with the pattern.
    ``claim`` quotes the words it pins, so a failure says which sentence is now false. A
    claim about another framework (an entry saying "the other framework gives a finite loss
    here") names that framework and its entry points.
    """

    kind: str  # "forward" or "gradient"
    pattern: str
    claim: str
    entry_points: tuple[str, ...] = ()
    framework: str | None = None
    call: Callable[[], Call] | None = None

    def tokens(self) -> list[str]:
        return [t for t in self.pattern.replace("|", " ").split() if t]

    def matches(self, values: np.ndarray) -> bool:
        want, got = self.tokens(), classify(values)
        if want and want[-1] == "...":  # "t ...": the token before repeats to the end
            head, rep = want[:-2], want[-2]
            want = head + [rep] * max(len(got) - len(head), 0)
        return len(want) == len(got) and all(_token_matches(w, g) for w, g in zip(want, got))


@dataclass(frozen=True)
class Divergence:
    id: str  # short, stable slug: "mylib-probs-clip-eps"
    title: str  # one line
    framework: str  # the plug-in that owns the entry (its ADAPTER.framework)
    entry_points: tuple[str, ...]  # exact entry point names or fnmatch patterns
    versions: str  # PEP 440 specifier of the versions of ``package`` it applies to
    kinds: tuple[str, ...]  # ("forward",), ("gradient",) or both
    trigger: str  # plain words: which inputs trigger it
    explanation: str  # plain words: what the framework does and why
    link: str  # framework source line / doc / upstream issue URL
    applies: Callable[[Call], bool]
    model: Callable[[Call], ModelResult]
    example: Callable[[], Call]
    #: the dtype the framework really computes in when it is not the call's dtype (a loss
    #: class that computes in float32 whatever it is given): the harness and the contract
    #: tests then compare the framework with the model to that dtype's accuracy.
    compute_dtype: str | None = None
    #: the package whose version ``versions`` is about; None: the framework itself. A key of
    #: the adapter's ``versions()`` (e.g. a loss library shipped apart from its framework).
    package: str | None = None
    #: the facts the text states about the framework's output, checked by a test
    observed: tuple[Observed, ...] = ()
    #: set when the divergence is a bug to report upstream rather than a design choice
    finding: Finding | None = None

    def matches_entry_point(self, entry_point: str) -> bool:
        return any(fnmatch.fnmatchcase(entry_point, pat) for pat in self.entry_points)

    def matches_versions(self, versions: Mapping[str, str]) -> bool:
        key = self.package or self.framework
        return self.matches_version(versions.get(key, ""))

    def matches_version(self, version: str) -> bool:
        v = framework_version(version)
        return v is not None and SpecifierSet(self.versions).contains(v, prereleases=True)

    def summary(self) -> dict[str, object]:
        """The entry as plain data (no callables), for results files and the report."""
        return {
            "id": self.id, "title": self.title, "framework": self.framework,
            "entry_points": list(self.entry_points), "versions": self.versions,
            "package": self.package or self.framework, "kinds": list(self.kinds),
            "trigger": self.trigger, "explanation": self.explanation, "link": self.link,
            "compute_dtype": self.compute_dtype,
            "finding": None if self.finding is None else self.finding.summary(),
        }


def framework_version(version: str) -> Version | None:
    """A package's public version from a version string.

    "2.21.0 (extra 3.15.1)" -> 2.21.0; "2.13.0+cpu" -> 2.13.0 (local part dropped).
    """
    m = re.match(r"\s*([0-9][0-9A-Za-z.!+-]*)", version or "")
    if not m:
        return None
    try:
        v = Version(m.group(1))
    except InvalidVersion:
        return None
    return Version(v.public)
