"""An executor for tests/meta/test_isolation.py, imported only by the worker process."""
from __future__ import annotations

import os
import sys


class TargetError(Exception):
    """An exception type the parent never imports (rebuilt there by name)."""


class Echo:
    built = 0

    def __init__(self, tag: str = "") -> None:
        Echo.built += 1
        self.tag = tag
        print("noise on stdout must not reach the reply channel")  # stdout is stderr here

    def echo(self, value):
        return (self.tag, value, os.getpid())

    def builds(self) -> int:
        return Echo.built

    def fail(self, message: str):
        raise TargetError(message)

    def value_error(self, message: str):
        raise ValueError(message)

    def env(self, name: str) -> str | None:
        return os.environ.get(name)

    def modules(self) -> bool:
        return __name__ in sys.modules
