"""Print the worst-case ULP of every reference op (forward and gradient) against the oracle.

Run: ``.venv/bin/python -m tools.measure_reference``.
"""

from __future__ import annotations

import os
import sys
import time

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tests.reference import refchecks as C  # noqa: E402


def main() -> None:
    t0 = time.perf_counter()
    print(f"{'op':34s} {'cases':>5s} {'fwd ULP':>9s}  {'worst forward case':28s} "
          f"{'grad ULP':>9s}  worst gradient case")
    for op in C.OP_NAMES:
        fu, fw = C.oracle_forward_ulp(op, detail=True)
        gu, gw = C.oracle_grad_ulp(op, detail=True)
        print(f"{op:34s} {len(C.cases(op)):5d} {fu:9.3g}  {fw:28s} {gu:9.3g}  {gw}")
    print(f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
