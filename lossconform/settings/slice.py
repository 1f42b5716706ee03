"""The representative slice of the matrix that every setting runs.

Per op: the moderate case in every dtype, the class axis off the last position, a long
reduction, and the extreme regimes (large, offset, infinite and near-0/1 inputs) in float32;
forward and gradient each time. About 90 calls for a framework with two entry points per op.
A setting that compiles each new call (``Setting.compiles``: about 2 s a call on a cold compiler
cache) runs the compact slice: the moderate case of each op in float32 and float16 (its
extreme inputs are covered by the NaN/inf probes it runs, ``observe.COMPACT_TOPICS``).

Rows name cases of ``lossconform.cases`` by id; ``tests/meta/test_settings_engine.py`` checks that
each exists and accepts its dtypes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

from lossconform.cases import BY_ID, Case
from lossconform.contract import Adapter

ALL4 = ("float32", "float16", "bfloat16", "float64")
F32 = ("float32",)


@dataclass(frozen=True)
class Row:
    case_id: str
    dtypes: tuple[str, ...]
    compact: tuple[str, ...] = ()  # the dtypes the compact slice keeps


def _rows() -> tuple[Row, ...]:
    rows: list[Row] = []
    for op in ("softmax", "log_softmax"):
        rows += [Row(f"{op}-moderate-16x10", ALL4, ("float32", "float16")),
                 Row(f"{op}-moderate-4x5x3x3-axis1", F32),
                 Row(f"{op}-moderate-4x1000", F32),
                 Row(f"{op}-large_scale-16x10", F32),
                 Row(f"{op}-offset_1e4-16x10", F32),
                 Row(f"{op}-neg_inf-16x10", F32)]
    for op in ("sigmoid", "log_sigmoid"):
        rows += [Row(f"{op}-moderate-16x10", ALL4, ("float32", "float16")),
                 Row(f"{op}-large_scale-16x10", F32),
                 Row(f"{op}-huge-16x10", F32),
                 Row(f"{op}-pos_inf-16x10", F32)]
    ce = "cross_entropy"
    rows += [Row(f"{ce}-moderate-16x10-index-reduction_mean", ALL4, ("float32", "float16")),
             Row(f"{ce}-moderate-16x10-index-ignore_index_1-label_smoothing_0.15-reduction_mean-weight",
                 F32),
             Row(f"{ce}-moderate-2000x10-index-reduction_mean", F32),
             Row(f"{ce}-large_scale-16x10-index-reduction_none", F32),
             Row(f"{ce}-neg_inf-16x10-index-reduction_mean", F32),
             Row(f"{ce}-soft-16x10-probs-reduction_mean", ("float32", "float16"))]
    rows += [Row("nll_loss-moderate-16x10-index-reduction_mean", ALL4, ("float32", "float16")),
             Row("nll_loss-moderate-16x10-index-ignore_index_1-reduction_mean-weight", F32),
             Row("nll_loss-confident-16x10-index-reduction_mean", F32)]
    cc = "categorical_crossentropy"
    rows += [Row(f"{cc}-moderate-16x10-probs-reduction_mean", ALL4, ("float32", "float16")),
             Row(f"{cc}-near_0-16x10-probs-reduction_mean", F32),
             Row(f"{cc}-exact_0-16x10-probs-label_smoothing_0.1-reduction_mean", F32)]
    bce = "binary_cross_entropy"
    rows += [Row(f"{bce}-moderate-16x10-probs-reduction_mean", ALL4, ("float32", "float16")),
             Row(f"{bce}-near_0_1-16x10-probs-reduction_mean-weight", F32),
             Row(f"{bce}-exact_0_1-16x10-probs-reduction_mean", F32)]
    bcel = "binary_cross_entropy_with_logits"
    rows += [Row(f"{bcel}-moderate-16x10-probs-reduction_mean", ALL4, ("float32", "float16")),
             Row(f"{bcel}-large_scale-16x10-probs-pos_weight-reduction_mean-weight", F32),
             Row(f"{bcel}-huge-16x10-probs-reduction_mean", F32),
             Row(f"{bcel}-pos_inf-16x10-probs-reduction_mean", F32)]
    return tuple(rows)


ROWS: tuple[Row, ...] = _rows()


@dataclass(frozen=True)
class Item:
    """One call of the slice: a case, an entry point, a dtype (forward and gradient)."""

    case: Case
    entry_point: str
    dtype: str

    @property
    def key(self) -> str:
        return f"{self.entry_point}|{self.case.id}|{self.dtype}"


def items(adapter: Adapter, compact: bool = False, dtypes: Sequence[str] | None = None,
          device: str = "cpu", seed: int = 0) -> Iterator[Item]:
    """The slice for ``adapter``: every row whose op an entry point computes, in each dtype
    the row, the case and the entry point accept and the call can be made (the adapter's
    ``unsupported`` says None), optionally narrowed to ``dtypes``."""
    for spec in adapter.entry_points():
        for row in ROWS:
            case = BY_ID[row.case_id]
            if case.op != spec.op:
                continue
            for dt in (row.compact if compact else row.dtypes):
                if dt not in case.dtypes or dt not in spec.dtypes:
                    continue
                if dtypes is not None and dt not in dtypes:
                    continue
                call = case.call(dt, seed=seed, device=device)
                if adapter.unsupported(spec.name, call):
                    continue
                yield Item(case, spec.name, dt)


__all__ = ["ROWS", "Item", "Row", "items"]
