"""``python -m lossconform``: run the packaged conformance suite from an installed package.

    python -m lossconform test     [--frameworks a,b] [--dtypes ...] [--out DIR] [-- PYTEST ARGS]
    python -m lossconform contract [--frameworks a,b] [--dtypes ...] [--out DIR] [-- PYTEST ARGS]

``test`` runs the whole suite (``lossconform.suite``: contract, matrix, divergences, invalid
inputs); ``contract`` runs only what a plug-in author needs first (``test_contract``,
``test_divergences``, ``test_invalid_inputs``, ``test_conventions``: no matrix, so it takes
seconds). Both write
``DIR/results.json`` and ``DIR/junit.xml``, build ``DIR/report.html`` from the results, print
the three paths with what the run recorded (status, exit status, checks) and exit with
pytest's status (1 if the report could not be built after a passing run).

Nothing from an earlier run is presented as current: the three files of the previous run in
``DIR`` are removed before pytest starts, so a run that ends without writing results (killed,
a usage error, a disk full) leaves no report at all, and says so, instead of the old one. The
report is built in this same process after pytest returns, so a Ctrl-C (which pytest turns
into an "interrupted" run) still gets its report; ``make conform`` is this command.

The run does not depend on the current directory: pytest gets the suite by module name
(``--pyargs``), an empty ini file of ours (a repository's or project's ``pytest.ini`` /
``pyproject.toml`` settings do not apply), ``--rootdir`` at the folder holding the
``lossconform`` package (node ids read ``lossconform/suite/test_*.py::...`` as in a checkout)
and ``--confcutdir`` at the package, so no ``conftest.py`` around it (a checkout's, which
loads the same plug-ins) is loaded. The two plug-ins are given with ``-p``; pytest registers a
plug-in module once per run, and each run (even a second one in the same process) gets a
fresh plug-in manager.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Sequence

SUITE = "lossconform.suite"
CONTRACT_MODULES = ("test_contract", "test_divergences", "test_invalid_inputs",
                    "test_conventions")
PLUGINS = ("lossconform.pytest_plugin", "lossconform.reports.pytest_plugin")
DEFAULT_OUT = "lossconform-out"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m lossconform",
        description="Run the lossconform conformance suite on the installed frameworks and "
                    "build the HTML report.",
        epilog="Arguments after a lone '--' go to pytest unchanged (e.g. -- -k softmax -x). "
               "Exit status: pytest's.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (
        ("test", "the whole suite: contract, matrix, divergences, invalid inputs"),
        ("contract", "only the plug-in checks (contract, divergences, invalid inputs, "
                     "conventions): fast"),
    ):
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--frameworks", metavar="A,B",
                       help="comma-separated frameworks (default: every one discovered)")
        p.add_argument("--dtypes", metavar="D,E",
                       help="comma-separated dtypes (default: float16,bfloat16,float32,float64)")
        p.add_argument("--seed", type=int, default=None, help="base seed of the cases' inputs")
        p.add_argument("--device", default=None, help="device to run on (default cpu)")
        p.add_argument("--jobs", "-n", type=int, default=None, metavar="N",
                       help="pytest-xdist worker processes (needs pytest-xdist)")
        p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                       help=f"folder for results.json, junit.xml, report.html (default: ./{DEFAULT_OUT})")
    return parser


def split_argv(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(our arguments, pytest's): everything after the first lone '--' goes to pytest."""
    argv = list(argv)
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def package_root() -> Path:
    """The folder holding the ``lossconform`` package (site-packages, or a checkout)."""
    import lossconform

    return Path(lossconform.__file__).resolve().parent.parent


def targets(command: str) -> list[str]:
    if command == "contract":
        return [f"{SUITE}.{m}" for m in CONTRACT_MODULES]
    return [SUITE]


def pytest_args(args: argparse.Namespace, extra: Sequence[str], ini: Path) -> list[str]:
    out = Path(args.out).resolve()
    root = package_root()
    argv = ["-c", str(ini), "--rootdir", str(root), "--confcutdir", str(root / "lossconform"),
            "-p", "no:cacheprovider"]
    for plugin in PLUGINS:
        argv += ["-p", plugin]
    argv += ["--strict-markers", "-q",
             "--results", str(out / "results.json"), "--junitxml", str(out / "junit.xml")]
    if args.frameworks is not None:
        argv += ["--lc-frameworks", args.frameworks]
    if args.dtypes is not None:
        argv += ["--lc-dtypes", args.dtypes]
    if args.seed is not None:
        argv += ["--lc-seed", str(args.seed)]
    if args.device:
        argv += ["--lc-device", args.device]
    if args.jobs:
        argv += ["-n", str(args.jobs)]
    argv += ["--pyargs", *targets(args.command)]
    return argv + list(extra)


def run_pytest(argv: Sequence[str]) -> int:
    import pytest

    return int(pytest.main(list(argv)))


def build_report(results: Path, report: Path) -> int:
    from lossconform.reports.build import main as report_main

    return report_main(["build", str(results), "-o", str(report)])


#: pytest options whose job this command does itself (the paths are DIR/...)
OWN_OPTIONS = ("--results", "--junitxml", "--junit-xml")


def _usage_error(message: str) -> int:
    print(f"python -m lossconform: {message}", file=sys.stderr)
    return 4  # pytest's exit status for a usage error


def summary(results: Path) -> str:
    """One line on what the results file recorded: status, exit status, checks by kind."""
    from lossconform.reports.results import load_results

    try:
        doc = load_results(results)  # whatever version of the format: records as dicts
    except Exception as exc:  # noqa: BLE001  (a summary line, never a crash)
        return f"unreadable ({exc})"
    records = doc.get("records") or []
    ran = sum(1 for r in records if isinstance(r, dict) and r.get("verdict") != "unsupported")
    line = (f"{doc.get('status', '?')} (exit status {doc.get('exitstatus', '?')}), "
            f"{ran:,} checks recorded, {len(records) - ran:,} combinations unsupported")
    lost = (doc.get("tests") or {}).get("lost") if isinstance(doc.get("tests"), dict) else None
    if lost:
        line += f", {len(lost)} test(s) lost"
    return line


def main(argv: Sequence[str] | None = None) -> int:
    ours, extra = split_argv(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(ours)
    clash = [a for a in extra if a.split("=", 1)[0] in OWN_OPTIONS]
    if clash:
        return _usage_error(f"{clash[0].split('=', 1)[0]} is set by this command "
                            f"(DIR/results.json, DIR/junit.xml); choose DIR with --out")
    out = Path(args.out).resolve()
    if out.exists() and not out.is_dir():
        return _usage_error(f"--out {out} is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    results, junit, report = out / "results.json", out / "junit.xml", out / "report.html"
    stale = [p for p in (results, junit, report) if p.is_file() or p.is_symlink()]
    for p in stale:
        p.unlink()
    if stale:
        print(f"lossconform: removed the previous run's {', '.join(p.name for p in stale)} "
              f"from {out}")
    with tempfile.TemporaryDirectory(prefix="lossconform-ini-") as tmp:
        ini = Path(tmp) / "pytest.ini"
        # our own settings only: the suite's plug-ins register their markers themselves
        ini.write_text("[pytest]\nfilterwarnings =\n    error::pytest.PytestUnknownMarkWarning\n",
                       encoding="utf-8")
        status = run_pytest(pytest_args(args, extra, ini))
    if not results.exists():
        print(f"lossconform: pytest wrote no results (exit status {status}): no report built; "
              f"nothing in {out} is from an earlier run", file=sys.stderr)
        return status or 1
    built = build_report(results, report)
    print(f"run:     {summary(results)}")
    print(f"results: {results}")
    print(f"junit:   {junit}")
    if built == 0:
        print(f"report:  {report}")
    else:
        print(f"lossconform: the report could not be built from {results}", file=sys.stderr)
        return status or 1
    sys.stdout.flush()
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
