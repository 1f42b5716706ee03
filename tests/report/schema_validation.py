"""Validate results documents against ``lossconform.record.json_schema()`` (jsonschema)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from lossconform.record import json_schema

VALIDATOR = Draft202012Validator(json_schema())


def schema_errors(doc: Any, limit: int = 5) -> list[str]:
    """Up to ``limit`` readable validation errors of ``doc`` (empty: valid)."""
    out = []
    for err in sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.absolute_path))[:limit]:
        where = "/".join(map(str, err.absolute_path)) or "(document)"
        out.append(f"{where}: {err.message[:300]}")
    return out


def assert_valid_results(doc_or_path: Any) -> dict[str, Any]:
    """Assert that a results document (or the file at a path) matches the schema; return it."""
    if isinstance(doc_or_path, (str, Path)):
        doc = json.loads(Path(doc_or_path).read_text(encoding="utf-8"))
    else:
        doc = doc_or_path
    errors = schema_errors(doc)
    assert not errors, "results do not match lossconform.record.json_schema():\n  " + \
        "\n  ".join(errors)
    return doc
