"""Executors: run a plan's steps, write their outputs, and record what happened.

The names below are imported on first use, so that importing one small module
of this package (the CLI reads the executor names at start-up) does not import
the coordinator and the store.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assetflow.execution.control import RunControl as RunControl
    from assetflow.execution.coordinator import execute_plan as execute_plan
    from assetflow.execution.executor import Executor as Executor
    from assetflow.execution.executor import ExecutorKind as ExecutorKind
    from assetflow.execution.executor import register_executor as register_executor
    from assetflow.execution.listeners import Listeners as Listeners
    from assetflow.execution.listeners import NullListener as NullListener
    from assetflow.execution.listeners import RunListener as Reporter
    from assetflow.execution.listeners import RunListener as RunListener
    from assetflow.execution.listeners import fan_out as fan_out
    from assetflow.execution.results import RunCancelled as RunCancelled
    from assetflow.execution.results import RunResult as RunResult
    from assetflow.execution.results import StepResult as StepResult
    from assetflow.execution.results import StepState as StepState

#: Where each public name lives. `Reporter` is the former name of `RunListener`, still
#: imported by api.py for `materialize(reporter=...)`.
_HOMES = {
    "RunControl": ("control", "RunControl"),
    "execute_plan": ("coordinator", "execute_plan"),
    "Executor": ("executor", "Executor"),
    "ExecutorKind": ("executor", "ExecutorKind"),
    "register_executor": ("executor", "register_executor"),
    "Listeners": ("listeners", "Listeners"),
    "NullListener": ("listeners", "NullListener"),
    "RunListener": ("listeners", "RunListener"),
    "Reporter": ("listeners", "RunListener"),
    "fan_out": ("listeners", "fan_out"),
    "RunCancelled": ("results", "RunCancelled"),
    "RunResult": ("results", "RunResult"),
    "StepResult": ("results", "StepResult"),
    "StepState": ("results", "StepState"),
}

__all__ = [
    "Executor",
    "ExecutorKind",
    "Listeners",
    "NullListener",
    "Reporter",
    "RunCancelled",
    "RunControl",
    "RunListener",
    "RunResult",
    "StepResult",
    "StepState",
    "execute_plan",
    "fan_out",
    "register_executor",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = home
    return getattr(import_module(f"{__name__}.{module}"), attribute)
