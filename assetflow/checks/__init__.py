"""Asset checks: data quality tests of an asset, run on its output right after it is written.

A check is a frozen `CheckSpec`. Users write custom ones with `@check` (a function
of the asset's value returning a bool or a `CheckResult`; it stays callable as the
function) or attach built-ins with `@asset(checks=[not_null("email"), unique("id")])`.
`run_check` never raises: a check that raises or returns nonsense is recorded as an
error *of the check*, with the user's file and line, not as a finding about the data.

Built-ins take a pandas DataFrame or a pyarrow Table (only the columns they read are
converted to pandas) and work column-wise, never row by row. Nulls: NaN, None,
`pd.NA` and `NaT` are null, in every dtype including pandas 3's `str`; `not_null`
finds them, `accepted_values` and `in_range` leave them to `not_null`, and `unique`
compares them like values (two null ids are a duplicate, as `DataFrame.duplicated`
says).
"""

from assetflow.checks.builtins import accepted_values as accepted_values
from assetflow.checks.builtins import in_range as in_range
from assetflow.checks.builtins import max_age as max_age
from assetflow.checks.builtins import not_null as not_null
from assetflow.checks.builtins import row_count as row_count
from assetflow.checks.builtins import unique as unique
from assetflow.checks.spec import SAMPLE_ROWS as SAMPLE_ROWS
from assetflow.checks.spec import SAMPLE_TEXT_LIMIT as SAMPLE_TEXT_LIMIT
from assetflow.checks.spec import SEVERITIES as SEVERITIES
from assetflow.checks.spec import SHOWN_VALUES as SHOWN_VALUES
from assetflow.checks.spec import CheckKind as CheckKind
from assetflow.checks.spec import CheckOutcome as CheckOutcome
from assetflow.checks.spec import CheckResult as CheckResult
from assetflow.checks.spec import CheckSpec as CheckSpec
from assetflow.checks.spec import Severity as Severity
from assetflow.checks.spec import blocking_failures as blocking_failures
from assetflow.checks.spec import check as check
from assetflow.checks.spec import describe_blocking as describe_blocking
from assetflow.checks.spec import is_blocking_failure as is_blocking_failure
from assetflow.checks.spec import jsonable as jsonable
from assetflow.checks.spec import run_check as run_check
from assetflow.checks.spec import run_checks as run_checks
from assetflow.checks.validate import check_problems as check_problems
from assetflow.checks.validate import checks_for as checks_for

__all__ = [
    "SAMPLE_ROWS",
    "SAMPLE_TEXT_LIMIT",
    "SEVERITIES",
    "SHOWN_VALUES",
    "CheckKind",
    "CheckOutcome",
    "CheckResult",
    "CheckSpec",
    "Severity",
    "accepted_values",
    "blocking_failures",
    "check",
    "check_problems",
    "checks_for",
    "describe_blocking",
    "in_range",
    "is_blocking_failure",
    "jsonable",
    "max_age",
    "not_null",
    "row_count",
    "run_check",
    "run_checks",
    "unique",
]
