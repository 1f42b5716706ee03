"""Findings: the registry's divergences that are bugs rather than design choices, each with a
standalone repro to take upstream.

An entry of a plug-in's registry carries a ``Finding`` (lossconform.divergences.entry) when it
is worth reporting: a repro that imports only the framework, the value it prints, the correct
value (from the reference or mpmath) and the upstream status. This module collects them and
runs a repro the way a maintainer would: in a fresh interpreter started with ``-I`` (no user
site, no PYTHON* variables, no script directory on sys.path), from a temporary directory
outside the checkout, with every import of this project refused, so a repro that leans on the
suite fails instead of passing. It knows no framework: the repros live in the plug-ins.

``run_repros`` runs several repros in one such interpreter (a framework's import costs
seconds; its findings share it): each in its own temporary directory, as ``__main__`` with
fresh globals, its stdout and stderr captured apart, an exception or ``SystemExit`` ending that
repro only. A repro that leans on a name another one defined still fails (globals are fresh);
what they share is the interpreter's imported modules and framework state.
"""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from lossconform.divergences.entry import Divergence, Finding

__all__ = ["collect", "parse_values", "ReproRun", "run_repro", "run_repros", "project_modules",
           "imported_modules", "differs"]


def collect(entries: Iterable[Divergence] | None = None) -> list[tuple[Divergence, Finding]]:
    """The (entry, finding) pairs of ``entries`` (default: the whole registry), registry order."""
    if entries is None:
        from lossconform.divergences import registry

        entries = registry()
    return [(d, d.finding) for d in entries if d.finding is not None]


_NUMBER = re.compile(r"[+-]?(?:nan|inf|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)$", re.I)


def parse_values(text: str) -> np.ndarray:
    """The numbers of a printed (possibly nested) list, flattened, as float64: ``"[[nan, 0.0],
    [inf, -1e-3]]"`` -> [nan, 0, inf, -0.001]; ``"[]"`` -> an empty array. Anything that is not
    a number, a bracket, a comma or white space raises ValueError."""
    tokens = [t for t in re.split(r"[\s,\[\]()]+", text.strip()) if t]
    bad = [t for t in tokens if not _NUMBER.match(t)]
    if bad:
        raise ValueError(f"not a printed list of numbers: {text!r} (at {bad[0]!r})")
    return np.array([float(t) for t in tokens], dtype=np.float64)


def differs(measured: np.ndarray, correct: np.ndarray, rtol: float) -> bool:
    """True when ``measured`` is not ``correct``: another size, another NaN/inf pattern, or a
    finite element off by more than ``rtol`` relative to the larger magnitude of the pair."""
    a, b = np.asarray(measured, np.float64).ravel(), np.asarray(correct, np.float64).ravel()
    if a.shape != b.shape:
        return True
    if np.any(np.isnan(a) != np.isnan(b)):
        return True
    fin = np.isfinite(a) & np.isfinite(b)
    if np.any((~fin) & ~np.isnan(a) & (a != b)):  # an infinity where the other is not the same
        return True
    scale = np.maximum(np.abs(a[fin]), np.abs(b[fin]))
    return bool(np.any(np.abs(a[fin] - b[fin]) > rtol * scale))


def project_modules(root: Path | None = None) -> tuple[str, ...]:
    """Top-level module names a repro must not import: this package, and in a checkout the
    repository's own top-level packages (its root is the folder holding lossconform/ and
    pyproject.toml)."""
    names = {"lossconform"}
    root = root or Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file():
        names.update(p.name for p in root.iterdir()
                     if p.is_dir() and (p / "__init__.py").is_file())
    return tuple(sorted(names))


def imported_modules(source: str) -> set[str]:
    """The top-level names of every module ``source`` imports (``import a.b`` -> a)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module.split(".")[0])
    return out


@dataclass(frozen=True)
class ReproRun:
    """One run of a repro: exit status, output, and the last line of stdout read as values."""

    command: tuple[str, ...]
    cwd: str
    returncode: int
    stdout: str
    stderr: str

    @property
    def line(self) -> str:
        lines = [ln for ln in self.stdout.splitlines() if ln.strip()]
        return lines[-1].strip() if lines else ""

    @property
    def values(self) -> np.ndarray:
        return parse_values(self.line)

    def describe(self) -> str:
        tail = "\n".join(self.stderr.strip().splitlines()[-15:])
        return (f"command: {' '.join(self.command)} (cwd {self.cwd})\n"
                f"exit status {self.returncode}\nstdout: {self.stdout.strip()[-2000:]}\n"
                f"stderr (last lines):\n{tail}")


# Run in the child before the repro: refuse this project's modules, then run the file as
# __main__. Both names come in argv so that nothing here is formatted into code.
_WRAPPER = """\
import importlib.abc, runpy, sys
forbidden = frozenset(sys.argv[2].split(","))
class _Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in forbidden:
            raise ImportError(f"a finding's repro must not import {name!r} (suite module)")
        return None
sys.meta_path.insert(0, _Refuse())
path = sys.argv[1]
sys.argv = [path]
runpy.run_path(path, run_name="__main__")
"""


def run_repro(source: str, *, python: str | None = None, timeout: float = 300.0,
              forbid: Sequence[str] | None = None, env: dict[str, str] | None = None) -> ReproRun:
    """Run ``source`` as a script in a fresh ``python -I`` whose working directory is a new
    temporary directory outside the checkout, refusing every import of ``forbid`` (default:
    ``project_modules()``). The environment is the caller's (a framework reads its own
    variables) unless ``env`` is given; -I drops PYTHONPATH and the user site."""
    forbid = project_modules() if forbid is None else tuple(forbid)
    with tempfile.TemporaryDirectory(prefix="lc-finding-") as tmp:
        path = Path(tmp) / "repro.py"
        path.write_text(source)
        cmd = (python or sys.executable, "-I", "-c", _WRAPPER, str(path), ",".join(forbid))
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ if env is None else env))
        return ReproRun(cmd[:3] + ("<wrapper>",) + cmd[4:], tmp, proc.returncode,
                        proc.stdout, proc.stderr)



# Run in the child: refuse this project's modules, then run each file as __main__ in its own
# folder with fresh globals, capturing its output; one JSON line per repro on the real stdout.
_BATCH_WRAPPER = """\
import contextlib, importlib.abc, io, json, os, runpy, sys, traceback
forbidden = frozenset(sys.argv[2].split(","))
class _Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in forbidden:
            raise ImportError(f"a finding's repro must not import {name!r} (suite module)")
        return None
sys.meta_path.insert(0, _Refuse())
real = sys.stdout
for path in json.loads(sys.argv[1]):
    out, err, code = io.StringIO(), io.StringIO(), 0
    os.chdir(os.path.dirname(path))
    sys.argv = [path]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(path, run_name="__main__")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if exc.code is not None and not isinstance(exc.code, int):
                print(exc.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
            code = 1
    real.write(json.dumps({"path": path, "code": code, "stdout": out.getvalue(),
                           "stderr": err.getvalue()}) + "\\n")
    real.flush()
"""


def run_repros(sources: Sequence[str], *, python: str | None = None, timeout: float = 600.0,
               forbid: Sequence[str] | None = None,
               env: dict[str, str] | None = None) -> list[ReproRun]:
    """Run every source of ``sources`` in one fresh ``python -I`` (see ``run_repro`` for the
    isolation), each from its own temporary directory outside the checkout, and return one
    ``ReproRun`` per source, in order. When the interpreter itself dies (a crash in native
    code), the repros it did not finish get its exit status and stderr."""
    forbid = project_modules() if forbid is None else tuple(forbid)
    with tempfile.TemporaryDirectory(prefix="lc-findings-") as tmp:
        paths = []
        for i, source in enumerate(sources):
            folder = Path(tmp) / f"repro{i}"
            folder.mkdir()
            path = folder / "repro.py"
            path.write_text(source)
            paths.append(str(path))
        import json

        cmd = (python or sys.executable, "-I", "-c", _BATCH_WRAPPER, json.dumps(paths),
               ",".join(forbid))
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ if env is None else env))
        done: dict[str, dict] = {}
        for line in proc.stdout.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict) and "path" in item:
                done[item["path"]] = item
        shown = cmd[:3] + ("<batch wrapper>", "<paths>") + cmd[5:]
        runs = []
        for path in paths:
            item = done.get(path)
            if item is None:
                code = proc.returncode if proc.returncode else 1
                runs.append(ReproRun(shown, str(Path(path).parent), code, "",
                                     f"the interpreter running the batch ended (exit status "
                                     f"{proc.returncode}) before this repro finished\n"
                                     + proc.stderr))
            else:
                runs.append(ReproRun(shown, str(Path(path).parent), item["code"],
                                     item["stdout"], item["stderr"]))
        return runs
