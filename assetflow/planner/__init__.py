"""The planner: which asset-partitions a run must rebuild, in what order, and why."""

from assetflow.planner.plan import Plan as Plan
from assetflow.planner.plan import Step as Step
from assetflow.planner.plan import plan_run as plan_run
from assetflow.planner.staleness import Reason as Reason
from assetflow.planner.staleness import ReasonKind as ReasonKind
from assetflow.planner.staleness import Snapshot as Snapshot
from assetflow.planner.staleness import Status as Status
from assetflow.planner.staleness import Verdict as Verdict
