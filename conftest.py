"""pytest glue: options, report header, seeding, and the conformance matrix's parameters.

Options (all optional):
  --lc-frameworks=torch,tensorflow   which adapters to run (default: every one discovered)
  --lc-dtypes=float32,float64        which dtypes (default: float16,bfloat16,float32,float64)
  --lc-seed=N                        base seed; each case's inputs are seeded from (N, case id)
  --lc-device=cpu                    device to run on (default: cpu)
An unknown framework, dtype or device name is a usage error that lists the valid names.
"""
from __future__ import annotations

import os
import platform
import re
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One thread per framework per process: pytest-xdist already runs one worker per core, and
# OpenMP threads spinning against each other make a microsecond torch call take milliseconds.
# Set before any framework is imported; recorded in the results' environment.
for _var in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
    os.environ.setdefault(_var, "1")

from adapters import DTYPES, load_adapters  # noqa: E402

pytest_plugins = ["reports.pytest_plugin"]

_ADAPTERS = load_adapters()


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("lossconform")
    g.addoption("--lc-frameworks", default=None,
                help=f"comma-separated frameworks (default: all of {', '.join(_ADAPTERS)})")
    g.addoption("--lc-dtypes", default=None, help=f"comma-separated dtypes (default: {','.join(DTYPES)})")
    g.addoption("--lc-seed", type=int, default=0, help="base seed for every case's inputs (default 0)")
    g.addoption("--lc-device", default="cpu", help="device to run the frameworks on (default cpu)")


def _split(value: str | None, valid: tuple[str, ...] | list[str], what: str) -> tuple[str, ...]:
    if value is None:
        return tuple(valid)
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise pytest.UsageError(
            f"unknown {what} {', '.join(map(repr, unknown))}; valid names: {', '.join(valid)}"
        )
    return names


def pytest_configure(config: pytest.Config) -> None:
    config.lc_frameworks = _split(config.getoption("--lc-frameworks"), list(_ADAPTERS), "framework")
    config.lc_dtypes = _split(config.getoption("--lc-dtypes"), DTYPES, "dtype")
    device = config.getoption("--lc-device")
    if device not in ("cpu", "cuda", "gpu"):
        raise pytest.UsageError(f"unknown device {device!r}; valid names: cpu, cuda, gpu")
    config.lc_device = device


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [
        f"lossconform: python {platform.python_version()}, numpy {np.__version__}, "
        f"seed {config.getoption('--lc-seed')}, device {config.lc_device}, dtypes {','.join(config.lc_dtypes)}",
    ]
    for name in config.lc_frameworks:
        adapter = _ADAPTERS[name]
        reason = adapter.available()
        lines.append(f"  {name}: " + (adapter.version() if reason is None else f"SKIPPED ({reason})"))
    return lines


@pytest.fixture(scope="session")
def adapters_by_name() -> dict:
    return _ADAPTERS


@pytest.fixture(scope="session")
def lc_seed(request: pytest.FixtureRequest) -> int:
    return request.config.getoption("--lc-seed")


def slug(text: str) -> str:
    """A pytest-id-safe form of ``text`` ([A-Za-z0-9_=.-])."""
    return re.sub(r"[^A-Za-z0-9_=.\-]+", "_", text).strip("_")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "matrix_item" not in metafunc.fixturenames:
        return
    from tests.harness.cases import CASES

    # One test item per (entry point, case), running every selected dtype: a check costs
    # ~1 ms, so pytest's and pytest-xdist's per-item overhead would otherwise dominate.
    config = metafunc.config
    params = []
    for fw in config.lc_frameworks:
        adapter = _ADAPTERS[fw]
        for spec in adapter.entry_points():
            for case in CASES:
                if case.op != spec.op:
                    continue
                dtypes = tuple(d for d in config.lc_dtypes if d in case.dtypes and d in spec.dtypes)
                if dtypes:
                    params.append(pytest.param(
                        (case, fw, spec.name, dtypes),
                        id=f"{fw}-{slug(spec.name)}-{case.id}",
                    ))
    metafunc.parametrize("matrix_item", params)


def _framework_tokens(framework: str) -> set[str]:
    """Words that tie a test's id to one framework: its name, its entry points, its divergences."""
    adapter = _ADAPTERS[framework]
    tokens = {framework} | {slug(s.name) for s in adapter.entry_points()}
    try:
        from adapters.divergences import REGISTRY
    except ImportError:
        REGISTRY = ()
    tokens |= {d.id for d in REGISTRY if d.framework == framework}
    return tokens


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--lc-frameworks narrows every test module, not only the matrix: a parametrized test
    whose id names an unselected framework (or one of its entry points or divergences) is
    skipped, visibly, with the reason."""
    unselected = [fw for fw in _ADAPTERS if fw not in config.lc_frameworks]
    if not unselected:
        return
    tokens = {fw: _framework_tokens(fw) for fw in unselected}
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "matrix_item" in callspec.params:
            continue
        words = set(re.split(r"[\[\]\-]", callspec.id)) | {callspec.id}
        for fw, toks in tokens.items():
            if words & toks or any(t in callspec.id for t in toks if len(t) > 8):
                item.add_marker(pytest.mark.skip(reason=f"{fw} not selected (--lc-frameworks)"))
                break
