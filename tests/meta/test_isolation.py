"""lossconform.isolation: a plug-in's executor in a persistent process of its own. The round
trip, the child's exceptions re-raised with their type name and message, a crashed child's
clear error and the restart, bad targets named, and a parent that never imports the target."""
from __future__ import annotations

import os
import sys

import pytest

from lossconform.isolation import Worker, WorkerCrashed, load_factory

TARGET = "tests.meta.isolation_target:Echo"


@pytest.fixture
def worker():
    w = Worker("echo", TARGET, ("tagged",))
    yield w
    w.close()


def test_round_trip_in_another_process_built_once(worker):
    assert worker.call("ping") == "pong"
    assert worker.pid is not None and worker.pid != os.getpid()
    tag, value, pid = worker.call("echo", {"a": [1, 2.5]})
    assert (tag, value, pid) == ("tagged", {"a": [1, 2.5]}, worker.pid)
    worker.call("echo", 3)
    assert worker.call("builds") == 1 and worker.starts == 1
    assert worker.call("modules") is True
    assert "tests.meta.isolation_target" not in sys.modules  # the parent never imports it


def test_exceptions_keep_type_name_and_message(worker):
    with pytest.raises(ValueError, match="^bad value 7$"):
        worker.call("value_error", "bad value 7")
    with pytest.raises(Exception) as info:
        worker.call("fail", "the target failed")
    assert type(info.value).__name__ == "TargetError"
    assert type(info.value).__module__ == "tests.meta.isolation_target"
    assert str(info.value) == "the target failed"
    assert "Traceback" in str(info.value.__cause__)
    assert worker.call("echo", 1)[1] == 1  # still serving


def test_unknown_method_is_named(worker):
    with pytest.raises(ValueError, match="'nope'.*no such method"):
        worker.call("nope")
    with pytest.raises(ValueError, match="unknown request '_private'"):
        worker.call("_private")


def test_crash_is_reported_and_the_next_call_restarts(worker):
    first = worker.call("echo", 0)[2]
    with pytest.raises(WorkerCrashed) as info:
        worker.call("exit", 3, "dying on purpose")
    msg = str(info.value)
    assert "echo worker" in msg and "exit status 3" in msg and "dying on purpose" in msg
    assert worker.call("echo", 0)[2] != first and worker.starts == 2


def test_environment_callable_is_read_at_each_start():
    values = iter(["one", "two"])
    w = Worker("env", TARGET, env=lambda: {**os.environ, "LC_ISOLATION_PROBE": next(values)})
    try:
        assert w.call("env", "LC_ISOLATION_PROBE") == "one"
        with pytest.raises(WorkerCrashed):
            w.call("exit", 0)
        assert w.call("env", "LC_ISOLATION_PROBE") == "two"
        assert w.starts == 2
    finally:
        w.close()


@pytest.mark.parametrize("target", ["no_colon", ":Echo", "tests.meta.isolation_target:"])
def test_bad_target_is_named(target):
    with pytest.raises(ValueError, match="package.module:factory"):
        Worker("bad", target) if target == "no_colon" else load_factory(target)


def test_factory_args_must_be_strings():
    with pytest.raises(TypeError, match="command-line strings"):
        Worker("bad", TARGET, (1,))  # type: ignore[arg-type]
