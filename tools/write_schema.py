"""Write lossconform/schema/results.schema.json from ``lossconform.record.json_schema()``.

The schema is generated from the CheckRecord dataclass; the committed file is a copy for
tools outside Python, kept equal to the generator by tests/report/test_record_schema.py.
Run after changing lossconform/record.py::

    python tools/write_schema.py            # (re)write the file
    python tools/write_schema.py --check    # exit 1 if the file is stale
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lossconform import record

PATH = Path(record.__file__).resolve().parent / record.SCHEMA_FILE


def text() -> str:
    """The file's exact contents."""
    return json.dumps(record.json_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/write_schema.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if the committed file differs")
    args = parser.parse_args(argv)
    want = text()
    have = PATH.read_text(encoding="utf-8") if PATH.exists() else None
    if args.check:
        if have != want:
            print(f"{PATH} is stale: run python tools/write_schema.py", file=sys.stderr)
            return 1
        print(f"{PATH} is up to date")
        return 0
    PATH.parent.mkdir(parents=True, exist_ok=True)
    if have != want:
        PATH.write_text(want, encoding="utf-8")
        print(f"wrote {PATH}")
    else:
        print(f"{PATH} unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
