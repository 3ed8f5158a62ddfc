"""Executors: run a plan's steps, write their outputs, and record what happened."""

from assetflow.execution.coordinator import RunResult as RunResult
from assetflow.execution.coordinator import StepResult as StepResult
from assetflow.execution.coordinator import execute_plan as execute_plan
from assetflow.execution.reporting import NullReporter as NullReporter
from assetflow.execution.reporting import Reporter as Reporter
