"""Run every convention probe on the installed frameworks and write each plug-in's pins file.

    python -m tools.pin_conventions [--frameworks torch,tensorflow] [--check]

For each selected plug-in with a ``convention_pins_file``: the block whose versions match the
installed packages exactly as measured (``>=`` the installed versions, written by this tool)
is replaced by the fresh observations; otherwise a new block for ``>=`` the installed
versions goes first. Prints every observation that differs from what was pinned for the
installed versions (the review list). ``--check`` writes nothing and exits 1 when anything
differs. A probe the adapter cannot express is not pinned (its record is ``unsupported``).
"""
from __future__ import annotations

import argparse
import sys
import warnings

from lossconform.divergences.entry import framework_version
from lossconform.plugins import load_adapters
from lossconform.probes import NotExpressible, applicable, observe
from lossconform.probes.pins import PinBlock, lookup, write_pins


def observations(adapter) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ep, p in applicable(adapter):
            try:
                text, _ = observe(adapter, ep, p)
            except NotExpressible:
                continue
            out.setdefault(p.id, {})[ep] = text
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frameworks", default="", help="comma-separated; default: every available")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 on a difference")
    args = ap.parse_args(argv)
    adapters = load_adapters()
    names = [n for n in args.frameworks.split(",") if n] or list(adapters)
    unknown = [n for n in names if n not in adapters]
    if unknown:
        ap.error(f"unknown framework(s) {', '.join(unknown)}; valid: {', '.join(adapters)}")
    differs = 0
    for name in names:
        adapter = adapters[name]
        why = adapter.available()
        if why:
            print(f"{name}: skipped ({why})")
            continue
        if not adapter.convention_pins_file:
            print(f"{name}: the plug-in has no convention_pins_file; nothing to write")
            continue
        installed = dict(adapter.versions())
        fresh = observations(adapter)
        old = list(adapter.convention_pins)
        changes = []
        for pid, eps in sorted(fresh.items()):
            for ep, text in sorted(eps.items()):
                pinned, _ = lookup(old, installed, pid, ep)
                if pinned != text:
                    changes.append(f"  {pid} | {ep}\n    pinned:   {pinned!r}\n    observed: {text!r}")
        differs += len(changes)
        print(f"{name}: {sum(len(v) for v in fresh.values())} observations, {len(changes)} "
              f"differ from the pins")
        print("\n".join(changes))
        if args.check or not changes:
            continue
        versions = {k: f">={framework_version(v) or v}" for k, v in installed.items()}
        block = PinBlock(versions, fresh, installed)
        blocks = [b for b in old if dict(b.versions) != versions]
        write_pins(adapter.convention_pins_file, name, [block] + blocks)
        print(f"{name}: wrote {adapter.convention_pins_file}")
    return 1 if (args.check and differs) else 0


if __name__ == "__main__":
    sys.exit(main())
