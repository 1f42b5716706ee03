"""``python -m lossconform.settings``: the settings of the installed plug-ins, run outside pytest.

  list    [--frameworks a,b]                     every declared setting, one line each
  run     [--frameworks a,b] [--settings x,y]    each setting against a fresh baseline, one
                                                 summary line per setting
  observe --framework F [--setting S] --out P    (used by the above and by the suite) run the
                                                 slice and the probes in this process under S
                                                 (its environment already set by the caller)
                                                 and save the observation as P (.npz)
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Sequence


def _adapters(names: str | None) -> dict:
    from lossconform.plugins import load_adapters

    adapters = dict(load_adapters())
    if names:
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in adapters]
        if unknown:
            raise SystemExit(f"unknown framework {', '.join(unknown)}; valid: {', '.join(adapters)}")
        adapters = {n: adapters[n] for n in wanted}
    return adapters


def _observe(args: argparse.Namespace) -> int:
    from lossconform.settings.observe import observe
    from lossconform.settings.run import find_setting

    adapter = _adapters(args.framework)[args.framework]
    for k, v in adapter.process_environment.items():
        os.environ.setdefault(k, v)
    setting = find_setting(adapter, args.setting) if args.setting else None
    facets: dict = {}
    if setting is not None:
        wrong = {k: os.environ.get(k) for k, v in setting.env.items() if os.environ.get(k) != str(v)}
        if wrong:
            raise SystemExit(f"setting {setting.name!r} needs {setting.env} in the environment "
                             f"before the process starts; found {wrong}")
        if setting.apply is not None:
            setting.apply()
        if setting.kind == "mode":
            facets = {"mode": setting.mode}
    reason = adapter.available()
    if reason:
        raise SystemExit(f"{adapter.framework} cannot run here: {reason}")
    adapter.warmup()
    dtypes = args.dtypes.split(",") if args.dtypes else None
    obs = observe(adapter, setting.name if setting else "", facets,
                  compact=bool(setting and setting.compiles), seed=args.seed, device=args.device,
                  dtypes=dtypes, probes=not args.no_probes)
    obs.environment = {k: v for k, v in os.environ.items()
                       if k.startswith(tuple(adapter.numerics_variables) + ("OMP_",))}
    obs.save(args.out)
    return 0


def _list(args: argparse.Namespace) -> int:
    for fw, adapter in _adapters(args.frameworks).items():
        for s in adapter.settings():
            how = (f"mode={s.mode}" if s.kind == "mode" else
                   " ".join([*(f"{k}={v}" for k, v in s.env.items()), s.switch]).strip())
            print(f"{fw}\t{s.name}\t{s.kind}\t{how}\t{s.description}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from lossconform.settings.compare import compare, summary_line
    from lossconform.settings.run import SettingRunError, observe_in_subprocess, observe_setting

    wanted = {n.strip() for n in (args.settings or "").split(",") if n.strip()}
    status = 0
    for fw, adapter in _adapters(args.frameworks).items():
        if adapter.available():
            print(f"{fw}: skipped ({adapter.available()})")
            continue
        settings = [s for s in adapter.settings() if not wanted or s.name in wanted]
        if not settings:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            base = observe_in_subprocess(adapter, None, Path(tmp) / "baseline.npz", seed=args.seed)
            print(f"{fw} {adapter.version()}: baseline {len(base.outcomes)} calls in "
                  f"{base.seconds:.1f} s, {len(base.probes)} probe observations in "
                  f"{base.probe_seconds:.1f} s")
            for s in settings:
                try:
                    obs = observe_setting(adapter, s, Path(tmp) / "setting.npz", seed=args.seed)
                except SettingRunError as exc:
                    print(f"  {s.name}: FAILED TO RUN: {exc}")
                    status = 1
                    continue
                res = compare(adapter, s, base, obs, seed=args.seed)
                print("  " + summary_line(s, res.summary))
                for rec in res.records:
                    if args.verbose and rec.observed and not rec.observed.startswith("unchanged") \
                            and "identical" != (rec.observed or "")[-9:]:
                        print(f"      {rec.verdict:10s} {rec.entry_point} {rec.id} {rec.dtype}: {rec.observed}")
                status |= int(bool(res.new_failures))
    return status


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lossconform.settings",
                                description="settings and execution modes that change the numbers")
    sub = p.add_subparsers(dest="command", required=True)
    o = sub.add_parser("observe", help="run the slice and the probes here, save an .npz")
    o.add_argument("--framework", required=True)
    o.add_argument("--setting", default=None)
    o.add_argument("--out", required=True)
    o.add_argument("--seed", type=int, default=0)
    o.add_argument("--device", default="cpu")
    o.add_argument("--dtypes", default=None)
    o.add_argument("--no-probes", action="store_true")
    ls = sub.add_parser("list", help="the declared settings")
    ls.add_argument("--frameworks", default=None)
    r = sub.add_parser("run", help="every setting against the baseline, summarised")
    r.add_argument("--frameworks", default=None)
    r.add_argument("--settings", default=None)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    return {"observe": _observe, "list": _list, "run": _run}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
