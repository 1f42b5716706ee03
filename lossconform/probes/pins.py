"""Pinned observations: what a plug-in says its probes observe, per package version.

A plug-in keeps its pins in a JSON file (by convention ``convention_pins.json`` beside its
adapter) and exposes them as ``Adapter.convention_pins`` (``load_pins(path)``). The file::

    {"schema": "lossconform-convention-pins", "framework": "mylib",
     "blocks": [{"versions": {"mylib": ">=1.4"},          # PEP 440, every package must match
                 "measured_on": {"mylib": "1.4.2"},        # where the observations were made
                 "observed": {"<probe id>": {"<entry point>": "<observation>"}}}]}

The first block whose ``versions`` match the installed packages and that holds the
(probe, entry point) pair gives the pin, so a newer block goes first. The pins are strict:
the conventions suite fails when an observation differs from its pin, or when nothing is
pinned for the installed versions. ``python -m tools.pin_conventions`` writes the file from
a run (and prints what changed); review the diff like any other code change.
"""
from __future__ import annotations

import functools
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from lossconform.divergences.entry import framework_version

SCHEMA = "lossconform-convention-pins"


@dataclass(frozen=True)
class PinBlock:
    versions: Mapping[str, str]  # package -> PEP 440 specifier
    observed: Mapping[str, Mapping[str, str]]  # probe id -> entry point -> observation
    measured_on: Mapping[str, str] = field(default_factory=dict)

    def matches(self, installed: Mapping[str, str]) -> bool:
        for package, spec in self.versions.items():
            v = framework_version(installed.get(package, ""))
            if v is None or not SpecifierSet(spec).contains(v, prereleases=True):
                return False
        return True

    def to_json(self) -> dict[str, Any]:
        return {"versions": dict(self.versions), "measured_on": dict(self.measured_on),
                "observed": {p: dict(sorted(eps.items())) for p, eps in sorted(self.observed.items())}}


def load_pins(path: str | os.PathLike[str]) -> tuple[PinBlock, ...]:
    """The blocks of a pins file; a missing file is no pins. A malformed file raises
    ValueError naming the file and what is wrong. Read once per file version (cached on the
    path and its modification time)."""
    p = Path(path)
    if not p.exists():
        return ()
    return _load(str(p.resolve()), p.stat().st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _load(path: str, mtime_ns: int) -> tuple[PinBlock, ...]:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ValueError(f"{p}: not a pins file (expected schema {SCHEMA!r})")
    blocks = []
    for i, b in enumerate(data.get("blocks", [])):
        try:
            versions = {str(k): str(v) for k, v in b["versions"].items()}
            for spec in versions.values():
                SpecifierSet(spec)
            observed = {str(pid): {str(ep): str(t) for ep, t in eps.items()}
                        for pid, eps in b["observed"].items()}
        except (KeyError, AttributeError, TypeError, InvalidSpecifier) as exc:
            raise ValueError(f"{p}: block {i} is malformed ({type(exc).__name__}: {exc})") from None
        blocks.append(PinBlock(versions, observed, dict(b.get("measured_on", {}))))
    return tuple(blocks)


def lookup(blocks: Sequence[PinBlock], installed: Mapping[str, str], probe_id: str,
           entry_point: str) -> tuple[str | None, PinBlock | None]:
    """(the pinned observation, its block), or (None, None) when nothing is pinned."""
    for b in blocks:
        if b.matches(installed):
            text = b.observed.get(probe_id, {}).get(entry_point)
            if text is not None:
                return text, b
    return None, None


def nearest(blocks: Sequence[PinBlock], probe_id: str, entry_point: str) -> tuple[str, PinBlock] | None:
    """The first pin for the pair in any block (whatever its versions): what the plug-in last
    observed elsewhere, shown when nothing is pinned for the installed versions."""
    for b in blocks:
        text = b.observed.get(probe_id, {}).get(entry_point)
        if text is not None:
            return text, b
    return None


def write_pins(path: str | os.PathLike[str], framework: str, blocks: Sequence[PinBlock]) -> None:
    """Write a pins file atomically (a temporary file in the same folder, then a rename)."""
    p = Path(path)
    text = json.dumps({"schema": SCHEMA, "framework": framework,
                       "blocks": [b.to_json() for b in blocks]}, indent=1, ensure_ascii=False)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=p.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
