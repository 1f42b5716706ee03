"""Framework adapters, discovered as plug-ins.

Built-in adapters are the modules of this package that define ``ADAPTER``; an installed
package adds one by declaring an entry point in the group ``lossconform.adapters``
(``name = "module:ADAPTER"``). Nothing else needs editing to add a framework.
"""
from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points

from adapters.base import (  # noqa: F401  (re-exported for adapter authors)
    DTYPES,
    OPS,
    Adapter,
    Call,
    EntryPointSpec,
    Evaluation,
    Output,
    Unsupported,
)

ENTRY_POINT_GROUP = "lossconform.adapters"
_SKIP_MODULES = {"base"}


def load_adapters() -> dict[str, Adapter]:
    """All adapters by framework name, built-ins first, then installed plug-ins.

    Loading an adapter never imports its framework; ``adapter.available()`` says whether
    the framework can be used here.
    """
    found: dict[str, Adapter] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name in _SKIP_MODULES or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        adapter = getattr(module, "ADAPTER", None)
        if adapter is not None:
            _add(found, adapter, f"{__name__}.{info.name}")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.value.split(":")[0].startswith(f"{__name__}."):
            continue  # a built-in, already loaded above
        _add(found, ep.load(), f"entry point {ep.name!r} ({ep.value})")
    return found


def _add(found: dict[str, Adapter], adapter: object, origin: str) -> None:
    if not isinstance(adapter, Adapter):
        raise TypeError(f"{origin}: ADAPTER does not implement adapters.base.Adapter")
    name = adapter.framework
    if name in found:
        raise ValueError(f"{origin}: a second adapter for framework {name!r}")
    found[name] = adapter


def conventions_markdown(adapters: dict[str, Adapter] | None = None) -> str:
    """The frameworks' declared conventions side by side, as a Markdown table (for the README)."""
    adapters = load_adapters() if adapters is None else adapters
    names = list(adapters)
    topics: list[str] = []
    for a in adapters.values():
        topics += [t for t in a.conventions if t not in topics]

    def cell(a: Adapter, topic: str) -> str:
        v = a.conventions.get(topic, "")
        text = v.get("value", "") if isinstance(v, dict) else str(v)
        return " ".join(str(text).split()).replace("|", "\\|")

    lines = ["| topic | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for t in topics:
        lines.append(f"| {t} | " + " | ".join(cell(adapters[n], t) for n in names) + " |")
    return "\n".join(lines)
