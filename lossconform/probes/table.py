"""The conventions tables, built from observations (never from prose).

``observations_from_pins(adapters)`` gives, per framework, what its pins say for the installed
versions (the README's table: ``conventions_markdown``); the report builds the same cells
from the results' ``convention`` records (``group_cells``). A cell groups the entry points by
what was observed, so a framework whose entry points agree shows one line.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable, Mapping

from lossconform.contract import Adapter

from . import PROBES, TOPICS, applicable
from .pins import lookup

def probe_path(module: str) -> str:
    """The file of a probe's module, relative to the repository root."""
    return module.replace(".", "/") + ".py"


def group_cells(pairs: Iterable[tuple[str, str]], total: int | None = None) -> list[tuple[str, list[str]]]:
    """[(observation, [entry points])] in first-seen order; ``total`` is how many entry points
    the probe applies to (to write "all N")."""
    groups: "OrderedDict[str, list[str]]" = OrderedDict()
    for ep, text in pairs:
        groups.setdefault(text, []).append(ep)
    return list(groups.items())


def observations_from_pins(adapters: Mapping[str, Adapter]) -> dict[str, dict[str, dict[str, str]]]:
    """framework -> probe id -> entry point -> pinned observation for the installed versions
    (an adapter that is not available here contributes its newest block)."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for name, a in adapters.items():
        blocks = list(a.convention_pins)
        try:
            installed = dict(a.versions()) if a.available() is None else None
        except Exception:
            installed = None
        got: dict[str, dict[str, str]] = {}
        for ep, p in applicable(a):
            text = None
            if installed is not None:
                text, _ = lookup(blocks, installed, p.id, ep)
            elif blocks:
                text = blocks[0].observed.get(p.id, {}).get(ep)
            if text is not None:
                got.setdefault(p.id, {})[ep] = text
        out[name] = got
    return out


def _esc(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def cell_markdown(groups: list[tuple[str, list[str]]], total: int) -> str:
    if not groups:
        return "—"
    if len(groups) == 1 and len(groups[0][1]) == total:
        return f"{_esc(groups[0][0])} *(all {total})*"
    return "<br>".join(f"{_esc(text)} *({', '.join(f'`{e}`' for e in eps)})*"
                       for text, eps in groups)


def conventions_markdown(adapters: Mapping[str, Adapter]) -> str:
    """One table per topic: a row per probe, a column per framework; each cell the pinned
    observations grouped by entry point, then the probe's code and the framework's source."""
    obs = observations_from_pins(adapters)
    names = list(adapters)
    counts = {n: {p.id: sum(1 for _, q in applicable(adapters[n]) if q.id == p.id)
                  for p in PROBES} for n in names}
    out: list[str] = []
    for topic, title in TOPICS.items():
        probes = [p for p in PROBES if p.topic == topic
                  and any(obs[n].get(p.id) for n in names)]
        if not probes:
            continue
        out.append(f"<details><summary><b>{title}</b> ({len(probes)} probes)</summary>\n")
        out.append("| probe | " + " | ".join(names) + " |")
        out.append("|---" * (len(names) + 1) + "|")
        for p in probes:
            link = f"[`{p.id}`]({probe_path(p.module)})"
            cells = [cell_markdown(group_cells(sorted(obs[n].get(p.id, {}).items())),
                                   counts[n][p.id]) for n in names]
            out.append(f"| {link}: {_esc(p.question)} | " + " | ".join(cells) + " |")
        sources = [_esc(adapters[n].convention_sources.get(topic, "—")) for n in names]
        out.append("| *sources* | " + " | ".join(sources) + " |")
        out.append("\n</details>\n")
    return "\n".join(out).rstrip() + "\n"
