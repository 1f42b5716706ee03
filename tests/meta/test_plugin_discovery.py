"""Discovery accepts ADAPTER or a sequence ADAPTERS per plug-in module, and says what is wrong."""
from __future__ import annotations

import types

import pytest

from lossconform.contract import Adapter
from lossconform.plugins import _add, _exported


class _Fake(Adapter):
    def __init__(self, name: str) -> None:
        self.framework = name

    def available(self): return None
    def version(self): return "0"
    def entry_points(self): return ()
    def evaluate(self, entry_point, call): raise NotImplementedError
    def repro(self, entry_point, call): return ""


def _module(**attrs: object) -> types.ModuleType:
    m = types.ModuleType("fake_plugin")
    m.__dict__.update(attrs)
    return m


def test_single_and_several() -> None:
    a, b = _Fake("a"), _Fake("b")
    assert _exported(_module(ADAPTER=a)) == (a,)
    assert _exported(_module(ADAPTERS=(a, b))) == (a, b)
    assert _exported(_module()) == ()
    found: dict[str, Adapter] = {}
    for one in _exported(_module(ADAPTERS=[a, b])):
        _add(found, one, "fake")
    assert list(found) == ["a", "b"]


def test_both_or_wrong_type_is_a_clear_error() -> None:
    a = _Fake("a")
    with pytest.raises(ValueError, match="ADAPTER or ADAPTERS, not both"):
        _exported(_module(ADAPTER=a, ADAPTERS=(a,)))
    with pytest.raises(TypeError, match="ADAPTERS must be a tuple or list"):
        _exported(_module(ADAPTERS=a))


def test_duplicate_framework_names_are_refused() -> None:
    found: dict[str, Adapter] = {}
    _add(found, _Fake("same"), "first")
    with pytest.raises(ValueError, match="a second adapter for framework 'same'"):
        _add(found, _Fake("same"), "second")
