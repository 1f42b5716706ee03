"""The convention probes can tell conventions apart, and pins are strict.

A fake framework built on the reference (no real framework needed) is given one convention
at a time (which axis an omitted argument means, what 'mean' divides by under class weights,
a clip at 1e-7, another smoothing formula, a swapped call that raises); each probe must
report that convention, and the reference's own behaviour otherwise. A probe that could not
tell them apart would pin nothing.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from lossconform import reference
from lossconform.contract import (ALL_REDUCTIONS, ANY_AXIS, Adapter, Call, Capabilities,
                                  EntryPointSpec, Evaluation, Output)
from lossconform.dtypes import DTYPES, round_to
from lossconform.probes import PROBES, NotExpressible, applicable, observe
from lossconform.probes.pins import PinBlock, load_pins, lookup, nearest, write_pins
from lossconform.probes.table import conventions_markdown

_CAPS = {
    "softmax": Capabilities(),
    "cross_entropy": Capabilities(target_kinds=("index", "probs"),
                                  options=frozenset({"weight", "label_smoothing", "ignore_index"}),
                                  reductions=ALL_REDUCTIONS, class_axes=ANY_AXIS),
    "categorical_crossentropy": Capabilities(target_kinds=("probs",), reductions=ALL_REDUCTIONS,
                                             class_axes=ANY_AXIS),
}


class Fake(Adapter):
    """The reference rounded to the dtype, with the conventions given as keyword arguments."""

    framework = "fake"
    facets = {"axis_arg": ("omitted", "none"), "swap_args": (True,)}

    def __init__(self, default_axis: int = -1, mean_by_items: bool = False,
                 clip: float | None = None, smoothing_c_minus_1: bool = False,
                 swap_raises: bool = False) -> None:
        self.default_axis, self.mean_by_items, self.clip = default_axis, mean_by_items, clip
        self.smoothing_c_minus_1, self.swap_raises = smoothing_c_minus_1, swap_raises

    def available(self) -> str | None:
        return None

    def version(self) -> str:
        return "1.0"

    def entry_points(self):
        return [EntryPointSpec(f"fake.{op}", op, DTYPES, "", caps) for op, caps in _CAPS.items()]

    def evaluate(self, entry_point: str, call: Call) -> Evaluation:
        if call.facet("swap_args") and self.swap_raises:
            raise TypeError("expected (input, target)")
        if call.facet("axis_arg"):
            call = call.replace(axis=self.default_axis)
        x = call.x
        if self.clip is not None and call.op == "categorical_crossentropy":
            x = np.clip(x, self.clip, 1 - self.clip)
        opts = dict(call.options)
        target = call.target
        eps = opts.get("label_smoothing") or 0
        if self.smoothing_c_minus_1 and eps and call.target_kind == "index":
            c = x.shape[call.axis]
            q = np.full(x.shape, eps / (c - 1))
            np.put_along_axis(q, target[:, None], 1 - eps, axis=1)
            call = call.replace(target=q, target_kind="probs")
            target, opts["label_smoothing"] = q, 0.0
        c = call.replace(x=x, options=opts)
        value, grad = reference.evaluate(c)
        if self.mean_by_items and c.reduction == "mean" and c.target_kind == "index":
            value = reference.evaluate(c.replace(options={**opts, "reduction": "sum"}),
                                       gradient=False)[0] / len(c.target)
        return Evaluation(Output(round_to(value, call.dtype), call.dtype),
                          None if grad is None else Output(round_to(grad, call.dtype), call.dtype))

    def repro(self, entry_point: str, call: Call) -> str:
        return "out = None\n"


def _obs(adapter: Adapter, op: str, probe_id: str) -> str:
    return observe(adapter, f"fake.{op}", probe_id)[0]


@pytest.mark.parametrize(("kw", "probe", "op", "want"), [
    ({}, "class_axis.omitted.3d", "softmax", "axis 2 (last)"),
    ({"default_axis": 1}, "class_axis.omitted.3d", "softmax", "axis 1"),
    ({"default_axis": 0}, "class_axis.none.4d", "cross_entropy", "axis 0"),
    ({}, "mean.class_weights.index", "cross_entropy", "the sum of w[y_i] (5.75)"),
    ({"mean_by_items": True}, "mean.class_weights.index", "cross_entropy",
     "the number of items N (4)"),
    ({}, "smoothing.formula", "cross_entropy", "q = (1 - e) t + e / C, C = 5 (all classes) (e = 0.2)"),
    ({"smoothing_c_minus_1": True}, "smoothing.formula", "cross_entropy",
     "q = (1 - e) t + e (1 - t) / (C - 1), C = 5 (e = 0.2)"),
    ({"swap_raises": True}, "args.swapped.index", "cross_entropy", "raises TypeError"),
])
def test_probe_tells_conventions_apart(kw: dict, probe: str, op: str, want: str) -> None:
    assert _obs(Fake(**kw), op, probe) == want


def test_clip_probe_measures_the_clip_point() -> None:
    exact = _obs(Fake(), "categorical_crossentropy", "clip.smallest_probability")
    clipped = _obs(Fake(clip=1e-7), "categorical_crossentropy", "clip.smallest_probability")
    assert exact.startswith("exact down to p = 2^-149 ") and exact.endswith("p = 0 gives inf"), exact
    assert clipped == ("exact down to p = 2^-23 (1.192e-07); smaller p give 16.12; p = 0 gives "
                       "16.12"), clipped
    largest = _obs(Fake(clip=1e-7), "categorical_crossentropy", "clip.largest_loss")
    assert largest == "largest finite loss 16.12; p = 0 gives 16.12"


def test_an_undeclared_facet_is_not_expressible() -> None:
    class NoFacets(Fake):
        facets: dict = {}

    with pytest.raises(NotExpressible, match="axis_arg"):
        observe(NoFacets(), "fake.softmax", "class_axis.omitted.2d")


def test_probe_ids_topics_and_questions_are_well_formed() -> None:
    for p in PROBES:
        assert p.id.startswith(p.topic.split("_")[0][:3]) or "." in p.id, p.id
        assert p.question and p.module.startswith("lossconform.probes."), p.id
    assert {ep for ep, _ in applicable(Fake())} == {"fake.softmax", "fake.cross_entropy",
                                                    "fake.categorical_crossentropy"}


def test_pins_first_matching_block_wins_and_malformed_files_are_named(tmp_path) -> None:
    new = PinBlock({"fake": ">=2"}, {"p": {"e": "new"}})
    old = PinBlock({"fake": ">=1,<2"}, {"p": {"e": "old"}, "q": {"e": "only old"}})
    path = tmp_path / "pins.json"
    write_pins(path, "fake", [new, old])
    blocks = load_pins(path)
    assert lookup(blocks, {"fake": "2.1"}, "p", "e")[0] == "new"
    assert lookup(blocks, {"fake": "1.5"}, "p", "e")[0] == "old"
    assert lookup(blocks, {"fake": "2.1"}, "q", "e") == (None, None)  # strict: no fallback
    assert nearest(blocks, "q", "e")[0] == "only old"
    assert not list(tmp_path.glob("*.tmp"))
    path.write_text(json.dumps({"schema": "other"}))
    with pytest.raises(ValueError, match="not a pins file"):
        load_pins(path)
    path.write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_pins(path)
    assert load_pins(tmp_path / "absent.json") == ()


def test_table_is_built_from_pins(tmp_path) -> None:
    fake = Fake()
    path = tmp_path / "pins.json"
    write_pins(path, "fake", [PinBlock({"fake": ">=1"}, {
        "class_axis.omitted.3d": {"fake.softmax": "axis 2 (last)"}})])
    fake.convention_pins_file = str(path)
    fake.convention_sources = {"class_axis": "https://example.invalid/softmax (axis)"}
    md = conventions_markdown({"fake": fake})
    assert "[`class_axis.omitted.3d`](lossconform/probes/axis.py)" in md
    assert "axis 2 (last) *(`fake.softmax`)*" in md and "https://example.invalid/softmax" in md
    assert "Label smoothing" not in md  # nothing pinned: no table


