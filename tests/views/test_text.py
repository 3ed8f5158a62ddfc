"""Text for people: tables, durations and sizes, lineage, run tables and the console reporter."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from assetflow.api import materialize
from assetflow.asset import asset
from assetflow.clock import FixedClock
from assetflow.execution import RunResult, StepResult
from assetflow.execution.coordinator import StepState
from assetflow.graph import build_graph
from assetflow.planner import Plan, Reason, ReasonKind, Status, Step, Verdict
from assetflow.planner.status import AssetState, AssetStatus
from assetflow.store import MaterializationRecord, RunRecord, RunStatus
from assetflow.views.listeners import ConsoleReporter
from assetflow.views.text import (
    asset_table,
    duration,
    history_table,
    lineage_tree,
    render_lineage,
    runs_table,
    short,
    size,
    status_table,
    table,
    when,
)

T0 = datetime(2026, 3, 1, 9, 30, 5, tzinfo=UTC)
MARK = "[✓+]"  # the console's encoding decides which one
FAIL_MARK = "[✗x]"


@asset(group="ingest", tags=["nightly", "raw"])
def top() -> pd.DataFrame:
    """Where it all starts.

    More detail that tables leave out.
    """
    return pd.DataFrame()


@asset(description="x" * 80)
def left(top: pd.DataFrame) -> dict:
    return {}


@asset
def right(top: pd.DataFrame) -> dict:
    return {}


@asset(group="reporting")
def bottom(left: dict, right: dict) -> None:
    pass


@asset
def alone() -> list:
    return []


@pytest.fixture
def diamond():
    return build_graph([top, left, right, bottom, alone])


def test_table_aligns_columns_and_strips_trailing_space():
    text = table(["NAME", "N", "NOTE"], [["a", "1", ""], ["longer_name", "22", "x"]])
    assert text.splitlines() == [
        "NAME         N   NOTE",
        "a            1",
        "longer_name  22  x",
    ]
    assert table(["A", "B"], []) == "A  B"


def test_table_cells_are_text():
    assert table(["N"], [[1234]]) == "N\n1234"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0, "0 ms"),
        (0.0123, "12 ms"),
        (0.5, "500 ms"),
        (1, "1.0 s"),
        (3.44, "3.4 s"),
        (59.9, "59.9 s"),
        (60, "1m00s"),
        (125.7, "2m06s"),
        (3725, "62m05s"),
    ],
)
def test_duration(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (None, "-"),
        (0, "0 B"),
        (512, "512 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (3 * 1024**2 + 400 * 1024, "3.4 MiB"),
        (2 * 1024**3, "2.0 GiB"),
        (5 * 1024**4, "5120.0 GiB"),
    ],
)
def test_size(count, text):
    assert size(count) == text


def test_short_and_when():
    assert short("0123456789abcdef") == "01234567"
    assert short("abc") == "abc"
    assert short(None) == "-"
    assert short("") == "-"
    assert when(T0) == "2026-03-01 09:30:05"
    assert when(None) == "-"


def test_asset_table(diamond):
    lines = asset_table(diamond, ["top", "left", "bottom"]).splitlines()
    assert re.split(r"\s{2,}", lines[0]) == [
        "ASSET",
        "GROUP",
        "KIND",
        "TAGS",
        "READS",
        "DESCRIPTION",
    ]
    assert [line.split()[0] for line in lines[1:]] == ["top", "left", "bottom"]
    assert re.split(r"\s{2,}", lines[1]) == [
        "top",
        "ingest",
        "parquet",
        "nightly,raw",
        "-",
        "Where it all starts.",
    ]
    assert lines[2].endswith("x" * 59 + "…")
    assert re.split(r"\s{2,}", lines[3]) == ["bottom", "reporting", "none", "-", "left,right"]


def test_lineage_tree_marks_repeats_on_a_diamond(diamond):
    text = render_lineage(diamond, diamond.names - {"alone"}, "text")
    assert text == "\n".join(
        [
            "top  [ingest, parquet]",
            "├── left  [default, json]",
            "│   └── bottom  [reporting, none]",
            "└── right  [default, json]",
            "    └── bottom  (see above)",
        ]
    )


def test_lineage_tree_roots_are_those_without_selected_parents(diamond):
    text = render_lineage(diamond, {"left", "right", "bottom", "alone"}, "text")
    assert text.splitlines() == [
        "alone  [default, json]",
        "left  [default, json]",
        "└── bottom  [reporting, none]",
        "right  [default, json]",
        "└── bottom  (see above)",
    ]
    ordered = diamond.topological_order({"top", "left"})
    assert lineage_tree(diamond, ordered, {"top", "left"}) == (
        "top  [ingest, parquet]\n└── left  [default, json]"
    )


def test_lineage_mermaid(diamond):
    assert render_lineage(diamond, diamond.names, "mermaid").splitlines() == [
        "graph LR",
        "    alone",
        "    top --> left",
        "    top --> right",
        "    left --> bottom",
        "    right --> bottom",
    ]


def test_lineage_dot(diamond):
    lines = render_lineage(diamond, {"top", "left", "alone"}, "dot").splitlines()
    assert lines[:3] == ["digraph assetflow {", "    rankdir=LR;", "    node [shape=box];"]
    assert lines[-1] == "}"
    assert set(lines[3:6]) == {'    "top";', '    "left";', '    "alone";'}
    assert lines[6:-1] == ['    "top" -> "left";']


def test_lineage_json(diamond):
    document = json.loads(render_lineage(diamond, {"top", "left", "right"}, "json"))
    assert set(document) == {"version", "assets", "edges"}
    assert document["version"] == 1
    by_name = {entry["name"]: entry for entry in document["assets"]}
    assert by_name["top"] == {
        "name": "top",
        "group": "ingest",
        "kind": "parquet",
        "tags": ["nightly", "raw"],
        "description": "Where it all starts.\n\nMore detail that tables leave out.",
        "upstream": [],
        "downstream": ["left", "right"],
    }
    # Upstream and downstream are the whole graph's; edges only the selection's.
    assert by_name["left"]["downstream"] == ["bottom"]
    assert sorted(document["edges"]) == [["top", "left"], ["top", "right"]]


def run_record(run_id, *, seconds=None, status=RunStatus.SUCCESS, selection="*"):
    return RunRecord(
        run_id=run_id,
        trigger="cli",
        selection=selection,
        status=status,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=seconds) if seconds is not None else None,
    )


def test_runs_table():
    text = runs_table(
        [
            run_record("a" * 32, seconds=0.297),
            run_record("b" * 32, status=RunStatus.RUNNING, selection="clean_records+"),
        ],
        {"a" * 32: {"materialized": 12, "retried": 2, "skipped": 3, "failed": 1}},
    )
    assert [re.split(r"\s{2,}", line) for line in text.splitlines()] == [
        ["RUN", "STARTED (UTC)", "DURATION", "STATUS", "TRIGGER", "STEPS", "SELECTION"],
        [
            "aaaaaaaa",
            "2026-03-01 09:30:05",
            "297 ms",
            "success",
            "cli",
            "12 ok, 1 failed, 3 skipped",
            "*",
        ],
        ["bbbbbbbb", "2026-03-01 09:30:05", "-", "running", "cli", "-", "clean_records+"],
    ]
    assert runs_table([]) == "No runs yet. `assetflow materialize` starts one."


def materialization(run_id, **fields):
    values = {
        "run_id": run_id,
        "asset": "clean_records",
        "io": "parquet",
        "started_at": T0,
        "finished_at": T0,
        "duration_s": 0.115,
        "code_version": "c" * 16,
        "data_version": "d" * 16,
    }
    return MaterializationRecord(**{**values, **fields})


def test_history_table():
    text = history_table(
        "clean_records",
        [
            materialization("r" * 32, rows=4496, bytes=1536),
            materialization("s" * 32, io="json", duration_s=2.5, data_version=None),
        ],
    )
    assert [re.split(r"\s{2,}", line) for line in text.splitlines()] == [
        ["RUN", "FINISHED (UTC)", "ROWS", "SIZE", "DURATION", "DATA", "CODE"],
        ["rrrrrrrr", "2026-03-01 09:30:05", "4,496", "1.5 KiB", "115 ms", "dddddddd", "cccccccc"],
        ["ssssssss", "2026-03-01 09:30:05", "-", "-", "2.5 s", "-", "cccccccc"],
    ]
    assert history_table("x", []) == "'x' has never been materialized."


def test_status_table():
    last = materialization("r" * 32)
    text = status_table(
        [
            AssetStatus(
                "daily_totals",
                None,
                AssetState.WAITING,
                last,
                (
                    Reason(ReasonKind.UPSTREAM_STALE, upstream="clean_records"),
                    Reason(ReasonKind.UPSTREAM_STALE, upstream="other"),
                ),
            ),
            AssetStatus("daily", "2026-03-01", AssetState.MISSING, None, ()),
            AssetStatus("raw_records", None, AssetState.FRESH, last),
        ]
    )
    assert [re.split(r"\s{2,}", line) for line in text.splitlines()] == [
        ["ASSET", "STATE", "CHECKS", "LAST MATERIALIZED (UTC)", "RUN", "WHY"],
        [
            "daily_totals",
            "waiting",
            "-",
            "2026-03-01 09:30:05",
            "rrrrrrrr",
            "upstream stale: clean_records; upstream stale: other",
        ],
        ["daily", "2026-03-01 missing", "-", "-", "-"],
        ["raw_records", "fresh", "-", "2026-03-01 09:30:05", "rrrrrrrr"],
    ]


PLAN = Plan(
    selection="*",
    created_at=T0,
    steps=(
        Step("clean_records", None, Status.STALE, (Reason(ReasonKind.FORCED),)),
        Step("broken", None, Status.STALE, (Reason(ReasonKind.FORCED),)),
        Step("after", None, Status.WAITING, (Reason(ReasonKind.UPSTREAM_STALE, upstream="b"),)),
        Step("daily_totals", None, Status.WAITING, ()),
    ),
    fresh=(Verdict("raw_records", None, Status.FRESH),),
)
RESULTS = (
    StepResult("clean_records", None, StepState.MATERIALIZED, duration_s=0.115, rows=4496),
    StepResult("broken", None, StepState.FAILED, message="asset 'broken' raised KeyError: 'x'"),
    StepResult("after", None, StepState.BLOCKED, message="upstream failed: broken"),
    StepResult("daily_totals", None, StepState.SKIPPED, message="inputs unchanged"),
)


def test_console_reporter_lines():
    lines = []
    reporter = ConsoleReporter(lines.append)
    run_id = "15144570" + "0" * 24
    reporter.run_started(run_id, PLAN)
    for step, result in zip(PLAN.steps, RESULTS, strict=True):
        reporter.step_started(step)
        reporter.step_finished(result)
    run = RunResult(run_id, RunStatus.FAILED, PLAN, RESULTS, T0, T0 + timedelta(seconds=1.5))
    reporter.run_finished(run)
    assert (
        lines[0] == "Run 15144570: 4 to materialize, 2 of them only if their inputs change, 1 fresh"
    )
    assert re.fullmatch(f"  {MARK} clean_records      4,496 rows    115 ms", lines[1])
    assert re.fullmatch(f"  {FAIL_MARK} broken         failed", lines[2])
    assert lines[3] == "  - after          skipped: upstream failed: broken"
    assert lines[4] == "  = daily_totals   skipped: inputs unchanged"
    assert lines[5] == "\nasset 'broken' raised KeyError: 'x'"
    assert lines[6] == (
        "\nRun 15144570 failed in 1.5 s: 1 blocked, 1 failed, 1 materialized, 1 skipped."
    )
    assert len(lines) == 7


def test_console_reporter_with_nothing_to_do():
    lines = []
    reporter = ConsoleReporter(lines.append)
    plan = Plan("*", T0, (), (Verdict("a", None, Status.FRESH),))
    reporter.run_started("r" * 32, plan)
    reporter.run_finished(RunResult("r" * 32, RunStatus.SUCCESS, plan, (), T0, T0))
    assert lines == ["Nothing to do: 1 asset fresh."]
    two = Plan("*", T0, (), (Verdict("a", None, Status.FRESH), Verdict("b", None, Status.FRESH)))
    ConsoleReporter(lines.append).run_started("r", two)
    assert lines[-1] == "Nothing to do: 2 assets fresh."


def test_console_reporter_during_a_real_run(make_project):
    root = make_project(
        """
        from assetflow import asset

        @asset
        def good() -> dict:
            return {"ok": 1}

        @asset
        def partitioned_name_is_long() -> list:
            return [1]
        """
    )
    lines = []
    clock = FixedClock(T0)
    materialize(project=root, clock=clock, reporter=ConsoleReporter(lines.append))
    assert re.fullmatch(r"Run [0-9a-f]{8}: 2 to materialize", lines[0])
    assert re.fullmatch(f"  {MARK} good                      +\\d+ ms", lines[1])
    assert lines[-1].startswith(f"\n{lines[0][:12]} succeeded in 0 ms: 2 materialized.")
    lines.clear()
    materialize(project=root, clock=clock, reporter=ConsoleReporter(lines.append))
    assert lines == ["Nothing to do: 2 assets fresh."]


def test_checks_summary_and_schema_changes():
    from datetime import timedelta

    from assetflow.store.records import CheckRecord, Column
    from assetflow.views.text import checks_summary, schema_changes

    at = datetime(2026, 3, 1, 9, 30, 5, tzinfo=UTC)

    def result(name, passed, severity="error"):
        return CheckRecord(
            run_id="r1", asset="a", check=name, passed=passed, severity=severity, at=at
        )

    assert checks_summary([]) == "-"
    assert checks_summary([result("x", True), result("y", True)]) == "2 passed"
    assert (
        checks_summary([result("u", False), result("w", False, "warn"), result("x", True)])
        == "1 failed: u | 1 warned: w | 1 passed"
    )
    older = replace(
        materialization("r" * 32),
        columns=(Column(name="id", type="int64"), Column(name="x", type="double")),
    )
    newer = replace(
        older,
        run_id="s" * 32,
        finished_at=at + timedelta(hours=1),
        columns=(Column(name="id", type="string"), Column(name="y", type="bool")),
    )
    assert schema_changes([newer, older]) == [
        "2026-03-01 10:30:05 run ssssssss: added 'y' (bool); removed 'x'; 'id' int64 -> string"
    ]


def test_tables_align_for_wide_characters():
    """A CJK name takes two columns per character: the next column starts at the same
    terminal column on every row."""
    from assetflow.textwidth import display_width

    rendered = table(["ASSET", "STATE"], [["売上データ", "fresh"], ["orders", "stale"]])
    lines = rendered.splitlines()
    starts = [
        display_width(line[: line.index(state)])
        for line, state in zip(lines, ["STATE", "fresh", "stale"], strict=True)
    ]
    assert starts == [12, 12, 12]
