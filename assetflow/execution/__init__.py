"""Executors: run a plan's steps, write their outputs, and record what happened."""

from assetflow.execution.coordinator import execute_plan as execute_plan
from assetflow.execution.reporting import NullReporter as NullReporter
from assetflow.execution.reporting import Reporter as Reporter
from assetflow.execution.results import RunCancelled as RunCancelled
from assetflow.execution.results import RunResult as RunResult
from assetflow.execution.results import StepResult as StepResult
from assetflow.execution.results import StepState as StepState
