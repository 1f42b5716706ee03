"""Running repro snippets and reading back ``out`` / ``grad`` (the contract test
``test_repro_reproduces``): in this process, or, for a plug-in that declares
``Adapter.isolated``, all of one framework's snippets in one fresh interpreter, so the
framework is never imported into the test process.

``snippet_values(adapter, snippets)`` returns, per snippet, either ``{"error": text}`` or
``{var: (float64 array, dtype name or None, problem or None)}`` for the variables ``out`` and
``grad`` the snippet left (a missing variable is absent; ``problem`` says why its value could
not be converted with ``adapter.to_numpy``).
"""
from __future__ import annotations

import contextlib
import io
import pickle
import re
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from lossconform.dtypes import DTYPES

VARS = ("out", "grad")


def dtype_name(value: Any) -> str | None:
    """The dtype name (from DTYPES) a framework value says it holds, or None if unknown."""
    text = str(getattr(value, "dtype", ""))
    found = [d for d in DTYPES if re.search(rf"(?<![A-Za-z0-9]){d}(?![0-9])", text)]
    return found[0] if len(found) == 1 else None


def run_one(adapter: Any, snippet: str, name: str) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": "__lossconform_repro__"}
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            exec(compile(snippet, f"<repro of {name}>", "exec"), ns)  # noqa: S102
    except Exception as exc:  # noqa: BLE001  (reported by the test)
        return {"error": f"{type(exc).__name__}: {exc}"}
    out: dict[str, Any] = {}
    for var in VARS:
        if var not in ns:
            continue
        try:
            out[var] = (np.asarray(adapter.to_numpy(ns[var]), dtype=np.float64),
                        dtype_name(ns[var]), None)
        except Exception as exc:  # noqa: BLE001
            out[var] = (None, None, f"to_numpy({var}) raised {type(exc).__name__}: {exc}")
    return out


_CHILD = r"""
import pickle, sys
from lossconform.plugins import load_adapters
from lossconform.suite.snippets import run_one
job = pickle.load(open(sys.argv[1], "rb"))
adapter = load_adapters()[job["framework"]]
results = [run_one(adapter, s, n) for s, n in job["snippets"]]
pickle.dump(results, open(sys.argv[2], "wb"), protocol=pickle.HIGHEST_PROTOCOL)
"""


def snippet_values(adapter: Any, snippets: list[tuple[str, str]],
                   timeout: float = 900.0) -> list[dict[str, Any]]:
    """``snippets``: (source, entry point name) pairs."""
    if not getattr(adapter, "isolated", False):
        return [run_one(adapter, s, n) for s, n in snippets]
    from lossconform.isolation import child_environment

    with tempfile.TemporaryDirectory(prefix="lc-snippets-") as tmp:
        job, res = Path(tmp) / "job.pickle", Path(tmp) / "results.pickle"
        job.write_bytes(pickle.dumps({"framework": adapter.framework,
                                      "snippets": list(snippets)}))
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(job), str(res)], cwd=tmp,
                              capture_output=True, text=True, timeout=timeout,
                              env=child_environment())
        if proc.returncode != 0 or not res.exists():
            why = (f"the fresh interpreter running {adapter.framework}'s snippets ended with "
                   f"exit status {proc.returncode}: {proc.stderr[-3000:]}")
            return [{"error": why} for _ in snippets]
        return pickle.loads(res.read_bytes())
