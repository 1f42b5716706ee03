"""Settings a PyTorch user may have that can change the numbers (``Adapter.settings()``).

Each is data (``lossconform.contract.Setting``); ``lossconform.settings`` runs the convention
probes and a slice of the matrix under each one and shows what changes. Process settings run
in a fresh process: ``env`` is set before torch is imported, ``apply`` runs once after.
"""
from __future__ import annotations

from lossconform.contract import Setting

_TAG = "https://github.com/pytorch/pytorch/blob/v2.13.0"


def _deterministic() -> None:
    import torch

    torch.use_deterministic_algorithms(True)


def _flush_denormal() -> None:
    import torch

    torch.set_flush_denormal(True)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "torch.compile",
        "each entry point compiled by TorchInductor (torch.compile(fn, dynamic=False); a loss "
        "class: torch.compile(loss_object)) and the compiled callable called; gradients through "
        "the compiled backward",
        kind="mode", mode="torch.compile", compiles=True,
        source="https://docs.pytorch.org/docs/stable/generated/torch.compile.html",
        expected_changes={
            r"args\.swapped\..*": "an error met while dynamo traces the call is re-raised as "
                                  "torch._dynamo.exc.TorchRuntimeError (a RuntimeError), not as "
                                  "eager's exception type: "
                                  "https://github.com/pytorch/pytorch/issues/184364",
        },
    ),
    Setting(
        "use_deterministic_algorithms",
        "torch.use_deterministic_algorithms(True): deterministic kernels where torch has them, "
        "an error where it has none",
        switch="import torch; torch.use_deterministic_algorithms(True)", apply=_deterministic,
        source="https://docs.pytorch.org/docs/stable/generated/"
               "torch.use_deterministic_algorithms.html",
    ),
    Setting(
        "ATEN_CPU_CAPABILITY=default",
        "ATen's CPU kernels without SIMD vectorisation (read once when torch loads; set on CPUs "
        "without AVX or to rule vectorisation out)",
        env={"ATEN_CPU_CAPABILITY": "default"},
        source=f"{_TAG}/aten/src/ATen/native/DispatchStub.cpp (compute_cpu_capability)",
    ),
    Setting(
        "ATEN_CPU_CAPABILITY=avx2",
        "ATen's AVX2 kernels: what the same torch build runs on a CPU without AVX-512",
        env={"ATEN_CPU_CAPABILITY": "avx2"},
        source=f"{_TAG}/aten/src/ATen/native/DispatchStub.cpp (compute_cpu_capability)",
    ),
    Setting(
        "set_flush_denormal",
        "torch.set_flush_denormal(True): subnormal float results and inputs flushed to zero on "
        "the CPU (a speed setting)",
        switch="import torch; torch.set_flush_denormal(True)", apply=_flush_denormal,
        source="https://docs.pytorch.org/docs/stable/generated/torch.set_flush_denormal.html",
        expected_changes={
            r"nonfinite\.subnormal": "the documented effect: a subnormal result is flushed to "
                                      "zero (torch.set_flush_denormal docs, x86 with SSE3)",
            r"clip\.smallest_probability": "the same documented effect on the inputs: a "
                                            "probability below 2^-126 (subnormal in float32) "
                                            "is read as 0, so binary_cross_entropy's clamp "
                                            "(loss 100) starts at 2^-126 instead of 2^-144",
        },
    ),
)

__all__ = ["SETTINGS"]
