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
  stops diverging (fixed upstream) instead of passing quietly.

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
