"""Executors: run a plan's steps, write their outputs, and record what happened.

The names below are imported on first use, so that importing one small module
of this package (the CLI reads the executor names at start-up) does not import
the coordinator and the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assetflow.lazy import lazy_names

if TYPE_CHECKING:
    from assetflow.execution.control import RunControl as RunControl
    from assetflow.execution.coordinator import execute_plan as execute_plan
    from assetflow.execution.executor import Executor as Executor
    from assetflow.execution.executor import ExecutorKind as ExecutorKind
    from assetflow.execution.executor import register_executor as register_executor
    from assetflow.execution.listeners import Listeners as Listeners
    from assetflow.execution.listeners import NullListener as NullListener
    from assetflow.execution.listeners import RunListener as RunListener
    from assetflow.execution.listeners import fan_out as fan_out
    from assetflow.execution.results import RunCancelled as RunCancelled
    from assetflow.execution.results import RunResult as RunResult
    from assetflow.execution.results import StepResult as StepResult
    from assetflow.execution.results import StepState as StepState

#: Where each public name lives.
_HOMES = {
    "RunControl": "assetflow.execution.control",
    "execute_plan": "assetflow.execution.coordinator",
    "Executor": "assetflow.execution.executor",
    "ExecutorKind": "assetflow.execution.executor",
    "register_executor": "assetflow.execution.executor",
    "Listeners": "assetflow.execution.listeners",
    "NullListener": "assetflow.execution.listeners",
    "RunListener": "assetflow.execution.listeners",
    "fan_out": "assetflow.execution.listeners",
    "RunCancelled": "assetflow.execution.results",
    "RunResult": "assetflow.execution.results",
    "StepResult": "assetflow.execution.results",
    "StepState": "assetflow.execution.results",
}

__all__ = sorted(_HOMES)


__getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())
