"""The template plug-in (adapters/_template/) and the adapter guide (adapters/WRITING_AN_ADAPTER.md).

The template must stay a faithful, importable copy of the plug-in surface: an ``Adapter`` with
every abstract method implemented, invisible to discovery, runnable without any framework,
whose ``available()`` tells a user to copy it first. The guide must mention every public name of
``lossconform.contract.Adapter`` (and the fields of the data classes an author fills), so it
cannot silently fall behind the contract, and every file it cites must exist.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lossconform import invalid as I
from lossconform.capabilities import unsupported_reason
from lossconform.contract import (
    DTYPES,
    OPTION_NAMES,
    Adapter,
    Call,
    Capabilities,
    EntryPointSpec,
    InvalidOutcome,
)
from lossconform.divergences import Divergence
from lossconform.ops import OPS
from lossconform.plugins import load_adapters

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "adapters" / "WRITING_AN_ADAPTER.md"
TEMPLATE_PKG = "lossconform.adapters._template"
REASON = "template: copy adapters/_template to your own package first"
#: the convention topics every built-in plug-in fills (the guide's table lists them)
from lossconform.probes import TOPICS  # noqa: E402  (the conventions topics the guide names)


@pytest.fixture(scope="module")
def template():
    return importlib.import_module(TEMPLATE_PKG)


@pytest.fixture(scope="module")
def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


# -- the template ------------------------------------------------------------------------------
def test_template_is_an_adapter(template) -> None:
    assert isinstance(template.ADAPTER, Adapter)
    assert template.ADAPTER.framework == "mylib"


def test_template_implements_every_abstract_method(template) -> None:
    cls = type(template.ADAPTER)
    assert not getattr(cls, "__abstractmethods__", frozenset()), cls.__abstractmethods__
    for name in sorted(Adapter.__abstractmethods__):
        impl = getattr(cls, name)
        assert impl is not getattr(Adapter, name), f"template does not implement {name}"
        assert list(inspect.signature(impl).parameters) == \
            list(inspect.signature(getattr(Adapter, name)).parameters), name


def test_template_is_not_discovered(template) -> None:
    adapters = load_adapters()
    assert "mylib" not in adapters
    for name, adapter in adapters.items():
        assert adapter is not template.ADAPTER, name
        assert not type(adapter).__module__.startswith(TEMPLATE_PKG), name


def test_template_available_gives_the_reason(template) -> None:
    assert template.ADAPTER.available() == REASON


def test_template_imports_without_any_framework() -> None:
    """In a fresh interpreter where importing its framework fails, the template still imports,
    answers ``available()``, lists its entry points and writes a repro, and loads nothing but
    the standard library and the suite's own dependencies (no framework at all)."""
    code = f"""
import importlib.abc, re, sys
BLOCKED = {{"mylib"}}
ALLOWED = set(sys.stdlib_module_names) | {{"lossconform", "numpy", "ml_dtypes", "packaging",
                                          "mpmath", "_distutils_hack"}}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
from lossconform.adapters._template import ADAPTER
from lossconform.adapters._template import divergences
call = divergences.EXAMPLE_DIVERGENCE.example()
assert ADAPTER.available() == {REASON!r}, ADAPTER.available()
names = [e.name for e in ADAPTER.entry_points()]
text = ADAPTER.repro("mylib.nn.cross_entropy", call)
assert re.search(r"^out\\b.*=", text, re.M) and re.search(r"^grad =", text, re.M), text
loaded = sorted(m for m in {{m.split(".")[0] for m in sys.modules}} - ALLOWED
                if not m.startswith(("__editable__", "__main__")))
assert not loaded, loaded
print("ok", len(names))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("ok"), proc.stdout + proc.stderr


def test_template_entry_points_are_well_formed(template) -> None:
    specs = list(template.ADAPTER.entry_points())
    assert specs
    assert len({s.name for s in specs}) == len(specs)
    for s in specs:
        assert isinstance(s, EntryPointSpec) and isinstance(s.capabilities, Capabilities)
        assert s.name.startswith("mylib."), s.name
        assert s.op in OPS and s.dtypes and set(s.dtypes) <= set(DTYPES), s
        assert set(s.capabilities.options) <= set(OPTION_NAMES), s
        assert set(s.capabilities.missing_option_reasons) <= set(OPTION_NAMES), s
        assert not set(s.capabilities.missing_option_reasons) & set(s.capabilities.options), s
        assert template.ADAPTER.spec(s.name) is s


def test_template_unsupported_reasons_come_from_capabilities(template) -> None:
    ad = template.ADAPTER
    call = template.divergences.EXAMPLE_DIVERGENCE.example()
    assert ad.unsupported("mylib.nn.cross_entropy", call) is None
    sw = call.replace(options={**call.options, "sample_weight": np.ones(2)})
    assert "sample_weight" in ad.unsupported("mylib.nn.cross_entropy", sw)
    assert "float16" in ad.unsupported("mylib.nn.cross_entropy", call.replace(dtype="float16"))
    assert "last" in ad.unsupported("mylib.nn.cross_entropy", call.replace(axis=0))
    # extra_unsupported: what the capability data cannot say
    probs = call.replace(target=np.eye(3)[call.target], target_kind="probs",
                         options={"ignore_index": 1, "reduction": "mean"})
    assert unsupported_reason(ad.spec("mylib.nn.cross_entropy"), probs) is None
    assert ad.unsupported("mylib.nn.cross_entropy", probs)


def test_template_repro_leaves_out_and_grad(template) -> None:
    ad = template.ADAPTER
    call = template.divergences.EXAMPLE_DIVERGENCE.example()
    with_grad = ad.repro("mylib.nn.cross_entropy", call)
    assert re.search(r"^out\b.*=", with_grad, re.M) and re.search(r"^grad\b.*=", with_grad, re.M)
    forward_only = ad.repro("mylib.nn.softmax", Call("softmax", call.x, "float32"))
    assert re.search(r"^out =", forward_only, re.M) and "grad" not in forward_only
    compile(with_grad, "<repro>", "exec")
    compile(forward_only, "<repro>", "exec")


def test_template_convention_sources_cover_every_topic(template) -> None:
    from lossconform.probes import TOPICS as PROBE_TOPICS

    src = template.ADAPTER.convention_sources
    assert set(src) == set(PROBE_TOPICS), sorted(set(PROBE_TOPICS) ^ set(src))
    for topic, text in src.items():
        assert "TODO" in text and "http" in text, f"{topic}: the template's sources are placeholders"
    for name, adapter in load_adapters().items():  # the built-ins give every topic a source
        if not type(adapter).__module__.startswith("lossconform.adapters."):
            continue  # an installed third-party plug-in may not
        assert set(PROBE_TOPICS) <= set(adapter.convention_sources), (
            name, sorted(set(PROBE_TOPICS) - set(adapter.convention_sources)))


def test_template_example_divergence_is_complete(template) -> None:
    """The worked example entry is a valid entry: its example triggers it, its model differs
    from the reference (so it would explain something) and gives a gradient."""
    from lossconform import reference

    d = template.divergences.EXAMPLE_DIVERGENCE
    assert isinstance(d, Divergence) and d.framework == template.ADAPTER.framework
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", d.id) and "http" in d.link
    assert any(d.matches_entry_point(e.name) for e in template.ADAPTER.entry_points())
    call = d.example()
    assert d.applies(call)
    fwd, grad = d.model(call)
    ref_fwd, ref_grad = reference.evaluate(call)
    assert fwd is not None and grad is not None and np.shape(grad) == call.x.shape
    assert not np.allclose(fwd, ref_fwd) and not np.allclose(grad, ref_grad)
    assert template.ADAPTER.divergences == ()  # the example is not registered


def test_template_invalid_rows_are_well_formed(template) -> None:
    rows = template.invalid.EXAMPLE_OUTCOMES
    case_names = {c.name for c in I.CASES} | {"float_labels"}
    names = [e.name for e in template.ADAPTER.entry_points()]
    for row in rows:
        assert isinstance(row, InvalidOutcome)
        for pattern in (row.entry_point, row.target_kind, row.case):
            re.compile(pattern)
        assert any(re.fullmatch(row.entry_point, n) for n in names), row
        assert any(re.fullmatch(row.case, c) for c in case_names), row
        assert re.fullmatch(r"raises:\w+|silent-(nan|partial-nan|inf|finite|empty)", row.outcome), row
    assert template.ADAPTER.invalid_outcomes == ()
    assert template.ADAPTER.float_label_call("mylib.nn.softmax") is None
    assert callable(template.ADAPTER.float_label_call("mylib.nn.cross_entropy"))
    assert "mylib" in template.ADAPTER.float_label_repro("mylib.nn.cross_entropy")


# -- the guide ---------------------------------------------------------------------------------
def _public_names(cls: type) -> list[str]:
    return sorted(n for n in vars(cls) if not n.startswith("_"))


def _mentioned_in_code(text: str, name: str) -> bool:
    """``name`` appears as a word inside inline code or a code block of the guide."""
    code = " ".join(re.findall(r"`([^`\n]+)`", text)) + " ".join(re.findall(r"```.*?```", text, re.S))
    return re.search(rf"\b{re.escape(name)}\b", code) is not None


def test_guide_mentions_every_public_name_of_the_adapter(guide) -> None:
    names = _public_names(Adapter)
    assert {"available", "evaluate", "repro", "framework", "to_numpy"} <= set(names)
    missing = [n for n in names if not _mentioned_in_code(guide, n)]
    assert not missing, f"adapters/WRITING_AN_ADAPTER.md does not mention Adapter.{missing}"


@pytest.mark.parametrize("cls", [Capabilities, EntryPointSpec, InvalidOutcome, Divergence, Call],
                         ids=lambda c: c.__name__)
def test_guide_mentions_every_field(guide, cls) -> None:
    missing = [f.name for f in dataclasses.fields(cls) if not _mentioned_in_code(guide, f.name)]
    assert not missing, f"adapters/WRITING_AN_ADAPTER.md does not mention {cls.__name__}.{missing}"


def test_guide_mentions_every_convention_topic_and_invalid_case(guide) -> None:
    missing = [t for t in TOPICS if not _mentioned_in_code(guide, t)]
    missing += [c.name for c in I.CASES if not _mentioned_in_code(guide, c.name)]
    assert not missing, missing


def test_guide_cites_existing_files(guide) -> None:
    cited = set(re.findall(r"`((?:lossconform|adapters|reference|reports|tests)/[\w./-]*)`", guide))
    assert len(cited) > 10
    absent = sorted(p for p in cited if not (ROOT / p).exists())
    assert not absent, f"the guide cites files that do not exist: {absent}"
