"""Discovering the framework plug-ins, once per process.

Built-in plug-ins are the sub-packages of ``lossconform.adapters`` that define ``ADAPTER``
(one framework) or ``ADAPTERS`` (a sequence: one package bringing several frameworks, e.g. one
library run on several backends, each its own column); an installed package adds one by
declaring an entry point in the group ``lossconform.adapters`` (``name = "module:ADAPTER"``,
or ``"module:ADAPTERS"``). Both go through the same checks, and
nothing else in the suite needs editing to add a framework: the adapter object brings its
entry points, capabilities, convention sources and pins, divergence entries, invalid-input outcomes and
environment with it (``lossconform.contract.Adapter``).
"""
from __future__ import annotations

import functools
import importlib
import os
import pkgutil
from importlib.metadata import entry_points
from typing import Mapping

from lossconform.contract import Adapter

ENTRY_POINT_GROUP = "lossconform.adapters"
BUILTIN_PACKAGE = "lossconform.adapters"


@functools.lru_cache(maxsize=None)
def _load() -> tuple[tuple[str, Adapter], ...]:
    found: dict[str, Adapter] = {}
    builtin = importlib.import_module(BUILTIN_PACKAGE)
    for info in pkgutil.iter_modules(builtin.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{BUILTIN_PACKAGE}.{info.name}")
        for adapter in _exported(module):
            _add(found, adapter, f"{BUILTIN_PACKAGE}.{info.name}")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.value.split(":")[0].startswith(f"{BUILTIN_PACKAGE}."):
            continue  # a built-in, already loaded above
        try:
            adapter = ep.load()
        except Exception as exc:
            raise RuntimeError(
                f"entry point {ep.name!r} ({ep.value}) in group {ENTRY_POINT_GROUP!r} failed to "
                f"load: {type(exc).__name__}: {exc}") from exc
        for one in (adapter if isinstance(adapter, (tuple, list)) else (adapter,)):
            _add(found, one, f"entry point {ep.name!r} ({ep.value})")
    for adapter in found.values():
        for key, value in adapter.process_environment.items():
            os.environ.setdefault(key, value)
    return tuple(found.items())


def load_adapters() -> Mapping[str, Adapter]:
    """All adapters by framework name, built-ins first, then installed plug-ins (cached:
    every caller in a process shares the same adapter objects).

    Loading an adapter never imports its framework; ``adapter.available()`` says whether
    the framework can be used here.
    """
    return dict(_load())


def builtin_adapters() -> Mapping[str, Adapter]:
    """The adapters shipped in ``lossconform.adapters`` (what the README documents)."""
    return {name: a for name, a in _load()
            if type(a).__module__.startswith(f"{BUILTIN_PACKAGE}.")}


def _exported(module: object) -> tuple[object, ...]:
    """What a plug-in module exports: ``ADAPTER``, or the sequence ``ADAPTERS``."""
    single, several = getattr(module, "ADAPTER", None), getattr(module, "ADAPTERS", None)
    if single is not None and several is not None:
        raise ValueError(f"{getattr(module, '__name__', module)}: define ADAPTER or ADAPTERS, "
                         "not both")
    if several is not None:
        if not isinstance(several, (tuple, list)):
            raise TypeError(f"{getattr(module, '__name__', module)}: ADAPTERS must be a tuple "
                            f"or list of adapters, not {type(several).__name__}")
        return tuple(several)
    return () if single is None else (single,)


def _add(found: dict[str, Adapter], adapter: object, origin: str) -> None:
    if not isinstance(adapter, Adapter):
        raise TypeError(f"{origin}: ADAPTER is a {type(adapter).__name__}, not a subclass of "
                        "lossconform.contract.Adapter")
    name = adapter.framework
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"{origin}: framework name {name!r} must be a non-empty [A-Za-z0-9_-] word")
    if name in found:
        raise ValueError(f"{origin}: a second adapter for framework {name!r}")
    found[name] = adapter
