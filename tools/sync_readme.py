"""Rewrite the README's generated conventions block from the built-in plug-ins' pinned
observations (``lossconform.probes.table``).

Run: ``.venv/bin/python -m tools.sync_readme`` (tests/conformance/test_readme.py keeps it current).
"""
from __future__ import annotations

import re
from pathlib import Path

from lossconform.plugins import builtin_adapters
from lossconform.probes.table import conventions_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"<!-- conventions:begin -->\n(.*?)<!-- conventions:end -->", re.S)


def readme_block(text: str) -> str | None:
    m = BLOCK.search(text)
    return None if m is None else m.group(1)


def sync_readme() -> None:
    text = README.read_text()
    README.write_text(BLOCK.sub(
        lambda m: f"<!-- conventions:begin -->\n{conventions_markdown(builtin_adapters())}\n<!-- conventions:end -->", text))


if __name__ == "__main__":
    sync_readme()
