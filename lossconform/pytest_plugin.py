"""The conformance run's pytest glue: options, report header, seeding, parameters, markers.

Loaded by the repository's ``conftest.py`` and by ``python -m lossconform`` (which runs the
packaged suite, ``lossconform.suite``, from an installed package). Options (all optional):

  --lc-frameworks=a,b       which adapters to run (default: every one discovered)
  --lc-dtypes=float32,...   which dtypes (default: float16,bfloat16,float32,float64)
  --lc-seed=N               base seed; each case's inputs are seeded from (N, case id)
  --lc-device=cpu           device to run on (default: cpu)
  --lc-entry-points=a,b*    which entry points (names as the report writes them, or glob
                            patterns; default: all of the selected frameworks')

A usage error is one line that lists what is valid: an unknown framework, dtype or device
name, an empty selection (``--lc-frameworks=``), an entry-point pattern that matches none of
the selected frameworks' entry points, and a framework named in ``--lc-frameworks``
that cannot run here (with the plug-in's reason). Without ``--lc-frameworks`` every discovered
framework is selected and one that cannot run here is skipped, visibly, with the reason.
A name given twice counts once.
A test tied to one framework carries ``@pytest.mark.framework("name")`` (or is parametrized
with that mark); when the framework is not selected it is skipped, visibly, with the reason.
This module knows no framework: everything comes from the plug-ins (``lossconform.plugins``).
"""
from __future__ import annotations

import fnmatch
import os
import platform
import re
from typing import Any

# One thread per framework per process: pytest-xdist already runs one worker per core, and
# OpenMP threads spinning against each other make a microsecond call take milliseconds.
# Set before any framework is imported; recorded in the results' environment. Plug-ins add
# their own variables (Adapter.process_environment) when they are loaded.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lossconform.dtypes import DTYPES  # noqa: E402
from lossconform.plugins import load_adapters  # noqa: E402

MATRIX_FIXTURE = "matrix_item"
GENERIC_ENV = ("PYTHONHASHSEED", "OMP_", "MKL_", "OPENBLAS_", "KMP_", "DNNL_", "ONEDNN_",
               "CUDA_", "NVIDIA_", "CUBLAS_", "CUDNN_")


def _adapters() -> dict:
    return dict(load_adapters())


def _devices() -> tuple[str, ...]:
    found = ["cpu"]
    for adapter in _adapters().values():
        for spec in adapter.entry_points():
            found += [d for d in spec.capabilities.devices if d not in found]
    return tuple(found)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("lossconform")
    g.addoption("--lc-frameworks", default=None,
                help=f"comma-separated frameworks (default: all of {', '.join(_adapters())})")
    g.addoption("--lc-entry-points", default=None,
                help="comma-separated entry point names or glob patterns "
                     "('mylib.nn.*'; default: all of the selected frameworks')")
    g.addoption("--lc-dtypes", default=None, help=f"comma-separated dtypes (default: {','.join(DTYPES)})")
    g.addoption("--lc-seed", type=int, default=0, help="base seed for every case's inputs (default 0)")
    g.addoption("--lc-device", default="cpu", help="device to run the frameworks on (default cpu)")


def _split(value: str | None, valid: tuple[str, ...] | list[str], what: str,
           option: str, patterns: bool = False) -> tuple[str, ...]:
    """The names of a comma-separated option, de-duplicated in the order given; None (the
    option not given) is every valid name. Nothing selected, or an unknown name, is a
    usage error listing the valid names. ``patterns``: a glob pattern is known when it
    matches a valid name."""
    if value is None:
        return tuple(valid)
    names = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    if not names:
        raise pytest.UsageError(
            f"{option}={value!r} selects no {what}; valid names: {', '.join(valid)}")
    unknown = [n for n in names if n not in valid and not (
        patterns and _is_glob(n) and any(fnmatch.fnmatchcase(v, n) for v in valid))]
    if unknown:
        raise pytest.UsageError(
            f"unknown {what} {', '.join(map(repr, unknown))}; valid names: {', '.join(valid)}"
        )
    return names


def _unavailable_reason(adapter: Any) -> str | None:
    try:
        return adapter.available()
    except Exception as exc:  # a broken plug-in says why, like one that is not installed
        return f"{type(exc).__name__}: {exc}"


def select_frameworks(value: str | None, adapters: dict) -> tuple[str, ...]:
    """The frameworks ``--lc-frameworks=value`` selects from ``adapters`` (name -> adapter).

    Not given (None): every one, in discovery order; those that cannot run here are kept and
    skipped visibly later (header, summary, results). Given: the names, de-duplicated; an
    empty or unknown selection, or a named framework that cannot run here (``available()``
    gives a reason), is a ``pytest.UsageError`` of one line."""
    names = _split(value, list(adapters), "framework", "--lc-frameworks")
    if value is None:
        return names
    reasons = {n: _unavailable_reason(adapters[n]) for n in names}
    missing = {n: r for n, r in reasons.items() if r is not None}
    if missing:
        ready = [n for n, a in adapters.items()
                 if n not in missing and (n in reasons or _unavailable_reason(a) is None)]
        said = ", ".join(f"{n} cannot run here ({' '.join(str(r).split())})"
                         for n, r in missing.items())
        raise pytest.UsageError(
            f"--lc-frameworks: {said}; available here: {', '.join(ready) or 'none'}")
    return names


def select_entry_points(value: str | None, frameworks: tuple[str, ...],
                        adapters: dict) -> tuple[str, ...] | None:
    """The patterns ``--lc-entry-points=value`` gives (None: every entry point). Each is an
    entry point's name as the report writes it, or a glob pattern (``*``, ``?``, ``[``); one
    that matches no entry point of the selected frameworks is a ``pytest.UsageError``."""
    if value is None:
        return None
    names = [spec.name for fw in frameworks for spec in adapters[fw].entry_points()]
    patterns = _split(value, names, "entry point", "--lc-entry-points", patterns=True)
    return tuple(patterns)


def entry_point_selected(name: str, patterns: tuple[str, ...] | None) -> bool:
    if patterns is None:
        return True
    return any(name == p or (_is_glob(p) and fnmatch.fnmatchcase(name, p)) for p in patterns)


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def select_dtypes(value: str | None) -> tuple[str, ...]:
    """The dtypes ``--lc-dtypes=value`` selects (default: all), de-duplicated."""
    return _split(value, DTYPES, "dtype", "--lc-dtypes")


def select_device(value: str | None, devices: tuple[str, ...]) -> str:
    """``--lc-device=value`` if it is one of ``devices`` (those any entry point declares)."""
    device = (value or "").strip()
    if device not in devices:
        raise pytest.UsageError(f"unknown device {value!r}; valid names: {', '.join(devices)}")
    return device


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: seconds each (a fresh process, a compiler); "
                                       "scheduled first so that xdist workers balance")
    config.addinivalue_line("markers", "framework(name): the test exercises this framework's "
                            "plug-in; skipped when --lc-frameworks does not select it")
    config.lc_dtypes = select_dtypes(config.getoption("--lc-dtypes"))
    config.lc_device = select_device(config.getoption("--lc-device"), _devices())
    config.lc_frameworks = select_frameworks(config.getoption("--lc-frameworks"), _adapters())
    config.lc_entry_points = select_entry_points(config.getoption("--lc-entry-points"),
                                                 config.lc_frameworks, _adapters())


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [
        f"lossconform: python {platform.python_version()}, numpy {np.__version__}, "
        f"seed {config.getoption('--lc-seed')}, device {config.lc_device}, dtypes {','.join(config.lc_dtypes)}",
    ]
    adapters = _adapters()
    for name in config.lc_frameworks:
        adapter = adapters[name]
        reason = adapter.available()
        lines.append(f"  {name}: " + (adapter.version() if reason is None else f"SKIPPED ({reason})"))
    return lines


@pytest.fixture(scope="session")
def adapters_by_name(request: pytest.FixtureRequest) -> dict:
    """The adapters, the selected and available ones warmed up (framework imported, one tiny
    call made) so that the first check's timing does not include the framework's start-up."""
    adapters = _adapters()
    for name in request.config.lc_frameworks:
        if adapters[name].available() is None:
            adapters[name].warmup()
    return adapters


@pytest.fixture(scope="session")
def lc_seed(request: pytest.FixtureRequest) -> int:
    return request.config.getoption("--lc-seed")


def slug(text: str) -> str:
    """A pytest-id-safe form of ``text`` ([A-Za-z0-9_.-]): every other run of characters
    becomes ``_``, so each fragment of an id is a valid ``-k`` expression
    (``tf.keras.losses.BinaryCrossentropy(from_logits=True)`` ->
    ``tf.keras.losses.BinaryCrossentropy_from_logits_True``)."""
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("_")


def matrix_id(framework: str, case: Any) -> str:
    """The matrix test's parameter id: ``<framework>-<case id>`` (the test runs every
    selected entry point of the framework that computes the case's op)."""
    return f"{framework}-{case.id}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if MATRIX_FIXTURE not in metafunc.fixturenames:
        return
    from lossconform.cases import CASES

    # One test item per (framework, case), running every selected entry point of the
    # framework on the case in every selected dtype: a check costs about a millisecond, and
    # pytest's and pytest-xdist's per-test work (reports, hooks, the controller's
    # bookkeeping: 2-4 ms a test) would otherwise cost more than the checks.
    # Case by case: every framework on one case in a row, so the reference's outputs and the
    # tolerances, which all of them share, are computed once (lossconform.harness.check
    # keeps the last few).
    config = metafunc.config
    adapters = _adapters()
    wanted = getattr(config, "lc_entry_points", None)
    specs = {fw: [s for s in adapters[fw].entry_points() if entry_point_selected(s.name, wanted)]
             for fw in config.lc_frameworks}
    params = []
    for case in CASES:
        for fw, fw_specs in specs.items():
            todo = []
            for spec in fw_specs:
                if spec.op != case.op:
                    continue
                dtypes = tuple(d for d in config.lc_dtypes if d in case.dtypes and d in spec.dtypes)
                if dtypes:
                    todo.append((spec.name, dtypes))
            if todo:
                params.append(pytest.param((case, fw, tuple(todo)), id=matrix_id(fw, case),
                                           marks=pytest.mark.framework(fw)))
    metafunc.parametrize(MATRIX_FIXTURE, params)


def framework_params(values_by_framework: dict[str, list[Any]], id_of=None) -> list[Any]:
    """``pytest.param`` rows tagged with their framework's marker (for tests over plug-ins)."""
    out = []
    for fw, values in values_by_framework.items():
        for v in values:
            out.append(pytest.param(*(v if isinstance(v, tuple) else (v,)),
                                    id=id_of(fw, v) if id_of else None,
                                    marks=pytest.mark.framework(fw)))
    return out


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """--lc-frameworks narrows every test tied to a framework by its marker. Tests marked
    ``slow`` (seconds each: a fresh process, a compiler) run first, in their own order, so
    that pytest-xdist's workers never wait at the end for the last long one: a few long
    tests first and thousands of short ones after balance the cores (longest first)."""
    items[:] = sorted(items, key=lambda item: item.get_closest_marker("slow") is None)
    selected = set(config.lc_frameworks)
    known = set(_adapters())
    for item in items:
        for mark in item.iter_markers("framework"):
            name = mark.args[0] if mark.args else None
            if name in known and name not in selected:
                item.add_marker(pytest.mark.skip(reason=f"{name} not selected (--lc-frameworks)"))
                break


# -- metadata for the results file (lossconform.reports.pytest_plugin asks for it) ----------
def pytest_lossconform_metadata(config: pytest.Config) -> dict[str, Any]:
    from lossconform.divergences import registry
    from lossconform.invalid import OUTCOME_CATEGORIES

    adapters = _adapters()
    # only the selected frameworks: a run is labelled with what it ran (and available()
    # imports the framework, which only a selected one needs)
    selected = tuple(getattr(config, "lc_frameworks", None) or adapters)
    chosen = {name: adapters[name] for name in selected if name in adapters}
    frameworks: dict[str, Any] = {}
    numerics = set(GENERIC_ENV)
    extra_env: dict[str, Any] = {}
    for name, adapter in chosen.items():
        frameworks[name] = framework_info(adapter)
        numerics |= set(adapter.numerics_variables)
        if frameworks[name]["available"]:
            try:
                extra_env[name] = dict(adapter.environment())
            except Exception as exc:
                extra_env[name] = {"_error": f"{type(exc).__name__}: {exc}"}
    divergences = [d.summary() for d in registry(chosen)] + [dict(c) for c in OUTCOME_CATEGORIES]
    prefixes = tuple(numerics)
    env = {
        "seed": config.getoption("--lc-seed"),
        "selected_frameworks": list(selected),
        "selected_dtypes": list(config.lc_dtypes) if hasattr(config, "lc_dtypes") else None,
        "selected_device": getattr(config, "lc_device", None),
        "numpy": np.__version__,
        "gpus": sorted({g for e in extra_env.values() for g in e.get("gpus", [])}),
        "frameworks_environment": extra_env,
        "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(prefixes)},
    }
    return {"frameworks": frameworks, "divergences": divergences, "environment": env}


def framework_info(adapter: Any, probe: bool = True) -> dict[str, Any]:
    """What the results file says of one plug-in; ``probe`` asks whether the framework can be
    used here (importing it), which only a selected framework needs."""
    info: dict[str, Any] = {"version": None, "versions": {}, "available": False, "reason": None,
                            "convention_sources": {}, "entry_points": [], "devices": []}
    if probe:
        try:
            reason = adapter.available()
            info["available"] = reason is None
            info["reason"] = reason
            if reason is None:
                info["version"] = str(adapter.version())
                info["versions"] = dict(adapter.versions())
                info["devices"] = list(adapter.devices())
        except Exception as exc:
            info["reason"] = f"{type(exc).__name__}: {exc}"
    info["convention_sources"] = dict(adapter.convention_sources)
    info["entry_points"] = [
        {"name": ep.name, "op": ep.op, "dtypes": list(ep.dtypes), "notes": ep.notes}
        for ep in adapter.entry_points()]
    return info
