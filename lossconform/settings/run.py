"""Running a setting (a process setting in a fresh process, a mode in this one), and the
baseline once per test session.

``observe_in_subprocess`` starts ``python -m lossconform.settings observe`` with the
setting's environment variables added to this process's (and the plug-in's
``process_environment``), lets it apply the setting's switch and mode, and reads back the
``Observation`` it saves. ``observe_setting`` runs an execution mode (``kind="mode"``: a
value of the ``mode`` facet, nothing process-wide) in this process instead, saving the
framework's import and start-up; a process setting always gets a fresh process. The baseline
(``shared_baseline``) is observed once per session, in the first test process that needs it:
the environment the matrix and the probes themselves run under; under pytest-xdist the
workers share it per (framework, seed, device, dtypes) through a file lock in the session's
shared temporary folder.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from lossconform.contract import Adapter, Setting

from .observe import Observation

#: seconds one setting's process may take (a compiling mode on a cold compiler cache is the
#: slowest: about 2 s per distinct call)
TIMEOUT = 900


class SettingRunError(RuntimeError):
    """The setting's process did not produce an observation; ``str(exc)`` says why."""


def find_setting(adapter: Adapter, name: str) -> Setting:
    for s in adapter.settings():
        if s.name == name:
            return s
    names = ", ".join(s.name for s in adapter.settings()) or "none"
    raise KeyError(f"{adapter.framework} declares no setting {name!r} (it declares: {names})")


def child_environment(adapter: Adapter, setting: Setting | None) -> dict[str, str]:
    """This process's environment, the plug-in's defaults and the setting's variables."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # as the conformance run (lossconform.pytest_plugin)
    for k, v in adapter.process_environment.items():
        env.setdefault(k, v)
    if setting is not None:
        env.update({k: str(v) for k, v in setting.env.items()})
    return env


def observe_in_subprocess(adapter: Adapter, setting: Setting | None, out: str | Path, *,
                          seed: int = 0, device: str = "cpu",
                          dtypes: Sequence[str] | None = None,
                          timeout: float = TIMEOUT) -> Observation:
    cmd = [sys.executable, "-m", "lossconform.settings", "observe", "--framework",
           adapter.framework, "--out", str(out), "--seed", str(seed), "--device", device]
    if setting is not None:
        cmd += ["--setting", setting.name]
    if dtypes:
        cmd += ["--dtypes", ",".join(dtypes)]
    what = f"setting {setting.name!r}" if setting else "the baseline"
    try:
        proc = subprocess.run(cmd, env=child_environment(adapter, setting), capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SettingRunError(f"{adapter.framework} {what}: no result within {timeout:.0f} s "
                              f"({' '.join(cmd)})") from None
    if proc.returncode != 0 or not Path(out).exists():
        tail = "\n".join((proc.stderr or proc.stdout or "").strip().splitlines()[-12:])
        raise SettingRunError(f"{adapter.framework} {what}: the process exited with status "
                              f"{proc.returncode}:\n{tail}")
    return Observation.load(out)


def observe_setting(adapter: Adapter, setting: Setting, out: str | Path, *, seed: int = 0,
                    device: str = "cpu", dtypes: Sequence[str] | None = None,
                    timeout: float = TIMEOUT) -> Observation:
    """The observation under ``setting``: a mode in this process (its calls carry the
    ``mode`` facet; nothing process-wide changes), anything else in a fresh process."""
    if setting.kind != "mode":
        return observe_in_subprocess(adapter, setting, out, seed=seed, device=device,
                                     dtypes=dtypes, timeout=timeout)
    from .observe import observe

    reason = adapter.available()
    if reason:
        raise SettingRunError(f"{adapter.framework} cannot run here: {reason}")
    try:
        obs = observe(adapter, setting.name, {"mode": setting.mode}, compact=setting.compiles,
                      seed=seed, device=device, dtypes=dtypes)
    except Exception as exc:  # the engine broke, not a check: say so with the cause
        raise SettingRunError(f"{adapter.framework} setting {setting.name!r} (mode "
                              f"{setting.mode!r}, in this process): {type(exc).__name__}: "
                              f"{exc}") from exc
    obs.environment = {k: v for k, v in os.environ.items()
                       if k.startswith(tuple(adapter.numerics_variables) + ("OMP_",))}
    return obs


def observe_baseline(adapter: Adapter, out: str | Path, *, seed: int = 0, device: str = "cpu",
                     dtypes: Sequence[str] | None = None) -> Observation:
    """The baseline in this process: the run's own environment with the plug-in's
    ``process_environment`` (set when the plug-in was loaded), exactly what the matrix and
    the convention probes run under; saved to ``out`` for the other workers."""
    from .observe import observe

    reason = adapter.available()
    if reason:
        raise SettingRunError(f"{adapter.framework} cannot run here: {reason}")
    adapter.warmup()
    try:
        obs = observe(adapter, "", {}, seed=seed, device=device, dtypes=dtypes)
    except Exception as exc:
        raise SettingRunError(f"{adapter.framework} baseline (in this process): "
                              f"{type(exc).__name__}: {exc}") from exc
    obs.environment = {k: v for k, v in os.environ.items()
                       if k.startswith(tuple(adapter.numerics_variables) + ("OMP_",))}
    obs.save(out)
    return obs


def shared_baseline(adapter: Adapter, folder: str | Path, *, seed: int = 0,
                    device: str = "cpu", dtypes: Sequence[str] | None = None,
                    in_process: bool = True) -> Observation:
    """The baseline observation, made once per ``folder`` (a file lock serialises the
    processes that need it; the first makes it, the others read it): in the first one's own
    process (``in_process``, what the matrix runs under), or in a fresh one."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha256(repr((adapter.framework, seed, device, tuple(dtypes or ()))).encode()
                         ).hexdigest()[:12]
    path = folder / f"baseline-{adapter.framework}-{tag}.npz"
    with open(folder / f"baseline-{adapter.framework}-{tag}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if path.exists():
                return Observation.load(path)
            if in_process:
                return observe_baseline(adapter, path, seed=seed, device=device, dtypes=dtypes)
            return observe_in_subprocess(adapter, None, path, seed=seed, device=device,
                                         dtypes=dtypes)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


__all__ = ["SettingRunError", "TIMEOUT", "child_environment", "find_setting",
           "observe_baseline", "observe_in_subprocess", "observe_setting", "shared_baseline"]
