"""The README's conventions table is generated from the plug-ins: keep the copy in sync."""
from __future__ import annotations

from lossconform.plugins import builtin_adapters
from lossconform.probes.table import conventions_markdown
from tools.sync_readme import README, readme_block


def test_readme_conventions_table_is_current():
    block = readme_block(README.read_text())
    assert block is not None, "README.md lost its <!-- conventions:begin/end --> markers"
    assert block.strip() == conventions_markdown(builtin_adapters()).strip(), (
        "README's conventions table is stale: run `.venv/bin/python -m tools.sync_readme`"
    )


def test_readme_names_the_two_commands():
    text = README.read_text()
    assert "make conform" in text and "make test" in text
