"""The README's conventions table is generated from the adapters: keep the copy in sync."""
from __future__ import annotations

import re
from pathlib import Path

from lossconform.plugins import conventions_markdown

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"<!-- conventions:begin -->\n(.*?)<!-- conventions:end -->", re.S)


def sync_readme() -> None:
    """Rewrite the README's conventions block (run: python -m tests.conformance.test_readme)."""
    text = README.read_text()
    README.write_text(BLOCK.sub(lambda m: f"<!-- conventions:begin -->\n{conventions_markdown()}\n<!-- conventions:end -->", text))


def test_readme_conventions_table_is_current():
    m = BLOCK.search(README.read_text())
    assert m, "README.md lost its <!-- conventions:begin/end --> markers"
    assert m.group(1).strip() == conventions_markdown().strip(), (
        "README's conventions table is stale: run `.venv/bin/python -m tests.conformance.test_readme`"
    )


def test_readme_names_the_two_commands():
    text = README.read_text()
    assert "make conform" in text and "make test" in text


if __name__ == "__main__":
    sync_readme()
