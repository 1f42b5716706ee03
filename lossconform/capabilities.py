"""Shared derivation of "unsupported" reasons from an entry point's declared capabilities.

Every adapter's ``unsupported`` starts here (``Adapter.unsupported``), so a reason reads the
same for every framework and an adapter author declares data instead of screening code.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

from lossconform.contract import ANY_AXIS, AXIS_1, LAST_AXIS, OPTION_NAMES, Call, EntryPointSpec
from lossconform.ops import OP


def option_is_set(name: str, value: Any) -> bool:
    """Whether an option changes the canonical default (label_smoothing 0 is the default)."""
    if value is None:
        return False
    if name == "label_smoothing":
        return float(value) != 0.0
    return True


def set_options(options: Mapping[str, Any]) -> list[str]:
    """The options of a call that change the canonical default (``reduction`` aside), in the
    canonical order of ``OPTION_NAMES`` (unknown names last, as given): the reason a call
    gets never depends on the order its options were written in."""
    names = [n for n in OPTION_NAMES if n in options]
    names += [n for n in options if n not in OPTION_NAMES]
    return [n for n in names if n != "reduction" and option_is_set(n, options[n])]


def lacks(options: Iterable[str]) -> tuple[str, ...]:
    """The option names of ``OPTION_NAMES`` (``reduction`` aside) not in ``options``: the keys
    an entry point's ``missing_option_reasons`` can have."""
    have = set(options)
    return tuple(n for n in OPTION_NAMES if n != "reduction" and n not in have)


def unsupported_reason(spec: EntryPointSpec, call: Call) -> str | None:
    """None if ``spec``'s capabilities can express ``call``; otherwise the reason."""
    caps = spec.capabilities
    name = spec.name
    if call.op != spec.op:
        return f"{name} computes {spec.op}, not {call.op}"
    if call.dtype not in spec.dtypes:
        return f"{name} does not accept {call.dtype}"
    if call.device not in caps.devices:
        # what the entry point declares; a device the installation lacks is the check's
        # reason (lossconform.harness.check), before this one
        return f"{name} does not run on device {call.device!r} (it runs on: {', '.join(caps.devices)})"
    op = OP[spec.op]
    reduction = call.options.get("reduction")
    if not op.is_loss:
        if reduction not in (None, "none"):
            return f"{name} is element-wise; it has no reduction"
    elif call.reduction not in caps.reductions:
        return f"{name} cannot express reduction {call.reduction!r} (it has {', '.join(caps.reductions)})"
    for opt in set_options(call.options):
        if opt not in caps.options:
            return caps.missing_option_reasons.get(opt, f"{name} has no {opt} option")
    if call.target_kind not in caps.target_kinds:
        if str(call.target_kind) in caps.missing_target_reasons:
            return caps.missing_target_reasons[str(call.target_kind)]
        kinds = [k for k in caps.target_kinds if k]
        return (f"{name} takes {' or '.join(kinds)} targets, not {call.target_kind}" if kinds
                else f"{name} takes no target")
    if op.class_axis and np.ndim(call.x) >= 1:
        ndim = np.ndim(call.x)
        axis = call.axis % ndim
        if caps.class_axes == LAST_AXIS and axis != ndim - 1:
            return f"{name} takes the class axis last only (axis={call.axis} on {ndim}-D input)"
        if caps.class_axes == AXIS_1 and axis != (0 if ndim == 1 else 1):
            return f"{name} takes classes on dim 1 (dim 0 for 1-D input), not axis {call.axis}"
        if caps.class_axes not in (ANY_AXIS, LAST_AXIS, AXIS_1):
            return f"{name} declares an unknown class_axes {caps.class_axes!r}"
    return None
