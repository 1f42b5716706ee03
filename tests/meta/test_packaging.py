"""Packaging: the wheel installs one namespace, ships the engine, the built-in plug-ins, the
report templates and the suite, and a repro snippet from a report runs from the installed
wheel alone.

The wheel is built offline from a copy of the checkout (``pip wheel --no-deps
--no-build-isolation --no-index``, with the running environment's setuptools), so building
writes nothing (``build/``, ``*.egg-info``) into the working tree. It is "installed" by
unzipping it into a temporary ``site`` folder; the repro then runs in a fresh interpreter started
with ``-S`` (no ``site`` module: the editable install's ``.pth`` finder is never activated), with
``sys.path`` = that folder + this environment's site-packages (NumPy and the frameworks), in a
temporary working directory, and the test checks ``lossconform.__file__`` really lies in the
unzipped wheel.
"""
from __future__ import annotations

import ast
import email.parser
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
#: what is never copied into the build tree (outputs, caches, environments, VCS)
_SKIP_NAMES = {".git", ".venv", ".tox", ".pytest_cache", ".hypothesis", "__pycache__", "build",
               "dist", "node_modules"}
_SKIP_PATHS = {"reports/out"}
#: files of the mapped source folders that must reach the wheel (Python modules and the data
#: the package reads at run time)
_SHIPPED_SUFFIXES = {".py", ".j2", ".css", ".js", ".json"}


def _skip(rel: str, name: str) -> bool:
    return (name in _SKIP_NAMES or name.endswith((".egg-info", ".pyc"))
            or (f"{rel}/{name}" if rel else name) in _SKIP_PATHS)


def _copy_tree(dst: Path) -> None:
    def ignore(directory: str, names: list[str]) -> list[str]:
        rel = Path(directory).resolve().relative_to(ROOT).as_posix()
        rel = "" if rel == "." else rel
        return [n for n in names if _skip(rel, n)]

    shutil.copytree(ROOT, dst, ignore=ignore)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("setuptools is not installed in this environment: an offline build "
                    "(--no-build-isolation) needs the build backend pyproject.toml names")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    _copy_tree(src)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
           "--no-index", "--disable-pip-version-check", "-q", "-w", str(tmp / "dist"), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    wheels = sorted((tmp / "dist").glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        return z.namelist()


@pytest.fixture(scope="module")
def site_dir(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("installed") / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    return site


# -- contents -----------------------------------------------------------------------------------
def test_one_namespace_at_the_top(names: list[str]) -> None:
    tops = {n.split("/", 1)[0] for n in names}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert len(dist_info) == 1, tops
    stray = sorted(tops - {"lossconform"} - dist_info)
    assert not stray, (f"the wheel installs top-level {stray} into site-packages; everything "
                       "must live under lossconform/")


def _mapped_sources() -> list[tuple[str, str]]:
    """(wheel path, source path) of every shipped-kind file under the folders pyproject maps
    into the package (``[tool.setuptools] package-dir``)."""
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    out = []
    for pkg, folder in mapping.items():
        base = ROOT / folder
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(ROOT).as_posix()
            parts = path.relative_to(ROOT).parts
            if not path.is_file() or path.suffix not in _SHIPPED_SUFFIXES:
                continue
            if any(_skip("/".join(parts[:i]), parts[i]) for i in range(len(parts))):
                continue
            inner = path.relative_to(base).as_posix()
            out.append((pkg.replace(".", "/") + "/" + inner, rel))
    return out


def test_every_module_and_data_file_ships(names: list[str]) -> None:
    sources = _mapped_sources()
    assert len(sources) > 20, sources
    shipped = set(names)
    missing = sorted(src for dst, src in sources if dst not in shipped)
    assert not missing, (f"{len(missing)} source files are not in the wheel (add their packages "
                         f"to [tool.setuptools] packages / package-data): {missing}")


def test_report_templates_ship(names: list[str]) -> None:
    for suffix in ("html.j2", "css", "js"):
        assert f"lossconform/reports/templates/report.{suffix}" in names, suffix


def test_builtin_adapter_packages_ship(names: list[str]) -> None:
    found = sorted(p.parent.name for p in (ROOT / "adapters").glob("*/__init__.py"))
    assert any(not n.startswith("_") for n in found), found
    missing = [n for n in found if f"lossconform/adapters/{n}/__init__.py" not in names]
    assert not missing, f"adapter packages missing from the wheel: {missing} (of {found})"


def test_the_suite_ships(names: list[str]) -> None:
    assert "lossconform/suite/__init__.py" in names
    assert "lossconform/suite/test_matrix.py" in names


def _requirement_name(line: str) -> str:
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line).group(1)
    return re.sub(r"[-_.]+", "-", name).lower()


def _module_level_imports(source: str) -> set[str]:
    """Top-level names imported when the module is imported (function bodies are lazy)."""
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    visit([n for n in getattr(node, field, []) if isinstance(n, ast.AST)
                           and not isinstance(n, ast.expr)])
    visit(ast.parse(source).body)
    return found


def _with_dependencies(names: set[str]) -> set[str]:
    """``names`` and, transitively, the unconditional requirements of those installed here
    (MarkupSafe comes with Jinja2: importing it is safe)."""
    from importlib.metadata import PackageNotFoundError, requires

    out, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out.add(name)
        try:
            reqs = requires(name) or []
        except PackageNotFoundError:
            continue
        todo += [_requirement_name(r) for r in reqs if not re.search(r"\bextra\s*==", r)]
    return out


def test_module_level_imports_are_declared(wheel: Path) -> None:
    """Every third-party package a shipped module imports at import time is a requirement of
    the wheel (a base dependency or an extra's) or comes with a base dependency."""
    from importlib.metadata import packages_distributions

    with zipfile.ZipFile(wheel) as z:
        meta_name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(z.read(meta_name).decode())
        sources = {n: z.read(n).decode() for n in z.namelist() if n.endswith(".py")}
    requirements = meta.get_all("Requires-Dist") or []
    base = {_requirement_name(r) for r in requirements if not re.search(r"\bextra\s*==", r)}
    # the base dependencies with what they bring, and the extras' own packages (pytest for
    # the suite), but not what an extra brings along: core modules must not rely on it
    declared = _with_dependencies(base) | {_requirement_name(r) for r in requirements}
    dists = {k: [_requirement_name(d) for d in v] for k, v in packages_distributions().items()}
    undeclared: dict[str, set[str]] = {}
    for path, source in sources.items():
        for mod in _module_level_imports(source):
            if mod in sys.stdlib_module_names or mod in ("lossconform", "__future__"):
                continue
            if not set(dists.get(mod, [mod.lower()])) & declared:
                undeclared.setdefault(mod, set()).add(path)
    assert not undeclared, (
        "imported at module level but not a requirement of the wheel (add to [project] "
        f"dependencies): { {m: sorted(p) for m, p in undeclared.items()} }")


# -- a repro snippet, run from the installed wheel --------------------------------------------
def _field(record: Any, name: str) -> Any:
    if isinstance(record, dict):
        return record.get(name)
    return getattr(record, name, None)


def _one_check() -> tuple[str, Any, Any]:
    """(framework, forward record, gradient record) of the first matrix check that ran the
    framework, on the first available adapter."""
    from lossconform.cases import CASES
    from lossconform.harness.check import run_check
    from lossconform.plugins import load_adapters

    adapters = load_adapters()
    reasons = {}
    for name, adapter in adapters.items():  # stop at the first: available() imports a framework
        reasons[name] = adapter.available()
        if reasons[name] is None:
            break
    else:
        why = "; ".join(f"{n}: {r}" for n, r in reasons.items()) or "none found"
        pytest.skip(f"no adapter is available here ({why})")
    for spec in adapter.entry_points():
        for case in CASES:
            dtypes = [d for d in case.dtypes if d in spec.dtypes]
            if case.op != spec.op or not dtypes:
                continue
            dtype = "float32" if "float32" in dtypes else dtypes[0]
            records = run_check(case, adapter, spec.name, dtype, nodeid="test_packaging").records
            by_kind = {_field(r, "kind"): r for r in records}
            fwd = by_kind.get("forward")
            if fwd is not None and _field(fwd, "sample") is not None:
                return name, fwd, by_kind.get("gradient")
    pytest.fail(f"no check of {name} produced a forward sample")


_RUNNER = r'''
import contextlib, io, json, sys
site, repro_file, framework = sys.argv[1:4]
import lossconform
if not lossconform.__file__.startswith(site):
    print("NOT-FROM-WHEEL " + lossconform.__file__)
    sys.exit(3)
repro = open(repro_file, encoding="utf-8").read()
namespace = {"__name__": "__repro__"}
with contextlib.redirect_stdout(io.StringIO()):  # a snippet may print its results
    exec(compile(repro, "<repro>", "exec"), namespace)
from lossconform.plugins import load_adapters
adapter = load_adapters()[framework]
out = adapter.to_numpy(namespace["out"])
print("RESULT " + json.dumps({
    "file": lossconform.__file__, "shape": list(out.shape),
    "values": [float(v) for v in out.reshape(-1)[:16]], "has_grad": "grad" in namespace}))
'''


def test_repro_from_the_installed_wheel_gives_the_recorded_values(site_dir: Path,
                                                                  tmp_path: Path) -> None:
    framework, fwd, grad_rec = _one_check()
    repro = _field(fwd, "repro")
    code_lines = [ln for ln in repro.splitlines() if ln.strip() and not ln.startswith("#")]
    assert code_lines[0] == "from lossconform.cases import BY_ID", repro
    sample = _field(fwd, "sample")

    work = tmp_path / "work"  # neither the checkout nor the installed tree
    work.mkdir()
    (work / "repro.py").write_text(repro, encoding="utf-8")
    (work / "runner.py").write_text(_RUNNER, encoding="utf-8")
    paths = sysconfig.get_paths()
    env_site = list(dict.fromkeys([paths["purelib"], paths["platlib"]]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PYTHONPATH=os.pathsep.join([str(site_dir), *env_site]), PYTHONNOUSERSITE="1",
               PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, "-S", str(work / "runner.py"), str(site_dir), str(work / "repro.py"),
         framework],
        capture_output=True, text=True, cwd=work, env=env, timeout=600)
    assert proc.returncode == 0, f"repro failed from the wheel:\n{proc.stdout}\n{proc.stderr}\n{repro}"
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    got = json.loads(line[len("RESULT "):])

    assert got["file"].startswith(str(site_dir)), got["file"]
    shape, values = _field(sample, "shape"), _field(sample, "values")
    assert got["shape"] == list(shape), (got["shape"], shape)
    np.testing.assert_array_equal(np.array(got["values"], dtype=np.float64),
                                  np.array(values, dtype=np.float64),
                                  err_msg=f"{framework}: the repro's out differs from the record\n{repro}")
    if grad_rec is not None and _field(grad_rec, "verdict") != "unsupported":
        assert got["has_grad"], f"the repro leaves no `grad` although the check has a gradient\n{repro}"
