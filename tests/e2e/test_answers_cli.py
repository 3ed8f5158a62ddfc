"""End to end: "did Tuesday's load complete?" answered by status, runs and history,
in text and JSON, on a real project in tmp_path (a read-only one too)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

import assetflow
from assetflow.cli import cli
from tests.e2e.processes import assetflow as assetflow_command

NIGHTLY = """
    import pandas as pd

    from assetflow import DailyPartitions, asset, not_null

    days = DailyPartitions(start="2026-03-01", end="2026-03-04")

    @asset(partitions=days, tags=["nightly"])
    def loaded_records(context) -> pd.DataFrame:
        if context.partition_key == "2026-03-03":
            raise ValueError("the export for 2026-03-03 is empty\\nsecond line")
        return pd.DataFrame({"day": [context.partition_key], "amount": [1.0]})

    @asset(partitions=days, tags=["nightly"])
    def clean_records(loaded_records: pd.DataFrame) -> pd.DataFrame:
        return loaded_records

    @asset(partitions=days, tags=["nightly"], checks=[not_null("email")])
    def customers(context) -> pd.DataFrame:
        email = None if context.partition_key == "2026-03-02" else "a@x"
        return pd.DataFrame({"email": [email]})

    @asset(partitions=days, tags=["nightly"])
    def mailing(customers: pd.DataFrame) -> pd.DataFrame:
        return customers

    @asset(partitions=days, tags=["nightly"])
    def late(context) -> dict:
        return {"day": context.partition_key}
"""

FAILED_FIRST_LINE = (
    "asset 'loaded_records' [2026-03-03] raised ValueError: the export for 2026-03-03 is empty"
)


def run(root: Path, *args: str):
    return CliRunner().invoke(cli, ["--project", str(root), *args])


@pytest.fixture
def nightly(make_project) -> tuple[Path, str]:
    """The project after one nightly run (`late` left out): its root and the run's id."""
    root = make_project(NIGHTLY)
    result = run(root, "materialize", "--exclude", "late", "--executor", "inprocess")
    assert result.exit_code == 1, result.output
    [found] = assetflow.runs(project=root).runs
    return root, found.run_id


def attempts(root: Path, *args: str) -> dict[str, dict]:
    result = run(root, "status", *args, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["version"] == 2
    return {entry["asset"]: entry["attempt"] for entry in document["assets"]}


def test_status_of_one_partition_says_how_each_last_attempt_ended(nightly) -> None:
    root, run_id = nightly
    found = attempts(root, "tag:nightly", "--partition", "2026-03-03")
    assert found["loaded_records"]["outcome"] == "failed"
    assert found["loaded_records"]["summary"] == FAILED_FIRST_LINE
    assert found["loaded_records"]["run_id"] == run_id
    assert found["clean_records"]["outcome"] == "skipped"
    assert found["clean_records"]["summary"] == "upstream failed: loaded_records[2026-03-03]"
    assert found["customers"]["outcome"] == "materialized"
    assert found["customers"]["run_id"] == run_id
    assert found["late"] == {
        "outcome": "never attempted",
        "run_id": None,
        "at": None,
        "summary": "",
        "message": "",
    }

    [state] = assetflow.status("loaded_records", partition="2026-03-03", project=root)
    assert state.attempt is not None
    assert (state.attempt.outcome.value, state.attempt.summary) == ("failed", FAILED_FIRST_LINE)

    checked = attempts(root, "tag:nightly", "--partition", "2026-03-02")
    assert checked["customers"]["outcome"] == "check failed"
    assert checked["customers"]["summary"] == "blocking check 'not_null(email)' failed"
    assert checked["mailing"]["outcome"] == "skipped"
    assert checked["mailing"]["summary"] == "upstream check failed: customers[2026-03-02]"

    text = run(root, "status", "tag:nightly", "--partition", "2026-03-03").output
    rows = {line.split()[0]: line for line in text.splitlines()[1:]}
    assert text.splitlines()[0].endswith("LAST ATTEMPT (UTC)")
    assert f"failed in run {run_id[:8]} at " in rows["loaded_records"]
    assert "raised ValueError: the export for 2026-03-0" in rows["loaded_records"]
    assert rows["clean_records"].endswith(": upstream failed: loaded_records[2026-03-03]")
    assert f"materialized by run {run_id[:8]} at " in rows["customers"]
    assert rows["late"].endswith("never attempted")


def test_status_over_many_partitions_counts_the_outcomes_of_the_unsettled(nightly) -> None:
    root, _ = nightly
    text = run(root, "status", "loaded_records late").output
    rows = {line.split()[0]: line for line in text.splitlines()[1:]}
    assert rows["loaded_records"].endswith("1 failed")
    assert rows["late"].endswith("3 never attempted")


def test_runs_filter_by_asset_partition_status_trigger_and_date(nightly) -> None:
    root, first = nightly
    assert run(root, "materialize", "late", "--partition", "2026-03-01").exit_code == 0
    assetflow.materialize("late", project=root, force=True)  # trigger "api"
    api_run, second, _ = (found.run_id for found in assetflow.runs(project=root).runs)

    def listed(*args: str) -> list[str]:
        result = run(root, "runs", *args, "--json")
        assert result.exit_code == 0, result.output
        document = json.loads(result.output)
        assert document["version"] == 1
        return [entry["run_id"] for entry in document["runs"]]

    asked = ["--asset", "loaded_records", "--partition", "2026-03-03", "--status", "failed"]
    assert listed(*asked, "--since", "2026-03-01") == [first]
    assert listed("--asset", "late") == [api_run, second]
    assert listed("--asset", "late", "--partition", "2026-03-02") == [api_run]
    assert listed("--partition", "2026-03-02") == [api_run, first]
    assert listed("--trigger", "api") == [api_run]
    assert listed("--trigger", "cli", "--status", "success") == [second]
    assert listed("--status", "success", "--status", "failed") == [api_run, second, first]
    assert listed("--until", "2026-03-01") == []
    assert listed("--since", "9999-01-01") == []
    none = run(root, "runs", "--since", "9999-01-01")
    assert none.output == "No runs match these filters.\n"


def test_runs_pages_with_before(nightly) -> None:
    root, first = nightly
    run(root, "materialize", "late", "--partition", "2026-03-01")
    page = run(root, "runs", "--limit", "1")
    newest = page.output.splitlines()[1].split()[0]
    assert page.output.splitlines()[-1] == (
        f"More runs follow: add --before {newest} for the next 1."
    )
    document = json.loads(run(root, "runs", "--limit", "1", "--json").output)
    assert document["next_before"].startswith(newest)
    following = json.loads(run(root, "runs", "--before", newest, "--json").output)
    assert [entry["run_id"] for entry in following["runs"]] == [first]
    assert following["next_before"] is None
    assert "More runs follow" not in run(root, "runs", "--before", newest).output


def test_history_all_shows_every_attempt(nightly) -> None:
    root, run_id = nightly
    result = run(root, "history", "clean_records", "--all")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "RUN", "PARTITION", "AT", "(UTC)", "OUTCOME", "ATTEMPT", "DURATION", "ROWS", "MESSAGE",
    ]  # fmt: skip
    outcomes = sorted(line.split()[4] for line in lines[1:])
    assert outcomes == ["materialized", "materialized", "skipped"]
    skipped = next(line for line in lines if " skipped " in line)
    assert skipped.endswith("upstream failed: loaded_records[2026-03-03]")
    assert "2026-03-03" in skipped

    document = json.loads(run(root, "history", "loaded_records", "--all", "--json").output)
    assert document["version"] == 1
    by_partition = {entry["partition"]: entry for entry in document["attempts"]}
    assert by_partition["2026-03-03"]["outcome"] == "failed"
    assert by_partition["2026-03-03"]["message"].startswith(FAILED_FIRST_LINE)
    assert by_partition["2026-03-03"]["materialization"] is None
    assert by_partition["2026-03-01"]["materialization"]["rows"] == 1
    assert by_partition["2026-03-01"]["run_id"] == run_id
    plain = json.loads(run(root, "history", "loaded_records", "--json").output)
    assert plain["attempts"] is None
    assert len(plain["materializations"]) == 2


def test_runs_show_and_logs_print_json(nightly) -> None:
    root, run_id = nightly
    shown = json.loads(run(root, "runs", "show", run_id[:6], "--json").output)
    assert shown["version"] == 1
    assert shown["run"]["run_id"] == run_id
    states = {(s["asset"], s["partition"]): s["state"] for s in shown["steps"]}
    assert states[("loaded_records", "2026-03-03")] == "failed"
    assert states[("clean_records", "2026-03-03")] == "skipped"
    logs = json.loads(run(root, "logs", run_id[:6], "--json").output)
    assert logs == {"version": 1, "run_id": run_id, "logs": logs["logs"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["runs", "--since", "last tuesday"],
            "Error: --since 'last tuesday' is not a date or a time.\n\n--since takes a date "
            "(2026-03-03, a whole day) or a date and time (2026-03-03T09:30, "
            "'2026-03-03 09:30:15'), in UTC unless it ends with an offset such as Z or +01:00.",
        ),
        (
            ["runs", "--since", "2026-03-05", "--until", "2026-03-01"],
            "Error: --until 2026-03-01 is before --since 2026-03-05: no run can match.",
        ),
        (["history", "loaded_records", "--limit", "0"], "Error: --limit 0: it must be 1 or more."),
        (["history", "loaded_records", "-n", "-1"], "Error: --limit -1: it must be 1 or more."),
        (["runs", "--limit", "0"], "Error: --limit 0: it must be 1 or more."),
        (["runs", "--asset", "loaded_record"], "Error: no asset is named 'loaded_record'."),
        (["runs", "--before", "zzzz"], "Error: no run has an id starting with 'zzzz'."),
    ],
)
def test_bad_input_is_a_usage_error_with_a_pinned_message(nightly, args, message) -> None:
    root, _ = nightly
    result = run(root, *args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(message), result.output
    assert "Traceback" not in result.output
    assert "never materialized" not in result.output


def _lock(path: Path) -> list[Path]:
    """Make the state directory unwritable for this process, as `chmod -R a-w` does
    for a monitoring user; as root (whom chmod does not stop), with the immutable
    attribute. Returns what to unlock."""
    targets = [path, *path.rglob("*")]
    if os.geteuid() != 0:
        for target in targets:
            target.chmod(target.stat().st_mode & ~0o222)
        return targets
    if shutil.which("chattr") is None:
        pytest.skip("root ignores chmod, and chattr is not installed")
    locked = subprocess.run(["chattr", "+i", *map(str, targets)], capture_output=True)
    if locked.returncode != 0:
        _unlock(targets)
        pytest.skip(f"the immutable attribute is not available here: {locked.stderr!r}")
    return targets


def _unlock(targets: list[Path]) -> None:
    if os.geteuid() != 0:
        for target in targets:
            target.chmod(target.stat().st_mode | 0o200)
        return
    subprocess.run(["chattr", "-i", *map(str, targets)], capture_output=True)


def test_reading_commands_work_on_a_read_only_state_directory(nightly) -> None:
    root, run_id = nightly
    state = root / ".assetflow"
    before = sorted(p.name for p in state.iterdir())
    targets = _lock(state)
    try:
        for args in (
            ["status", "--partition", "2026-03-03", "--json"],
            ["runs", "--asset", "loaded_records"],
            ["history", "loaded_records", "--all"],
            ["runs", "show", run_id[:8]],
        ):
            done = subprocess.run(
                assetflow_command(root, *args), capture_output=True, text=True, timeout=120
            )
            assert done.returncode == 0, done.stderr
            assert done.stderr.count("is read-only for this user") == 1, done.stderr
            assert "nothing can be written" in done.stderr
            assert run_id[:8] in done.stdout
        status = json.loads(
            subprocess.run(
                assetflow_command(root, "status", "--partition", "2026-03-03", "--json"),
                capture_output=True,
                text=True,
                timeout=120,
            ).stdout
        )
        outcomes = {entry["asset"]: entry["attempt"]["outcome"] for entry in status["assets"]}
        assert outcomes["loaded_records"] == "failed"
        refused = subprocess.run(
            assetflow_command(root, "materialize"), capture_output=True, text=True, timeout=120
        )
        assert refused.returncode != 0
        assert "is not writable" in refused.stderr
        assert sorted(p.name for p in state.iterdir()) == before  # no -wal, -shm or probe
    finally:
        _unlock(targets)


def test_a_read_only_project_that_never_ran_reads_as_never_attempted(make_project) -> None:
    root = make_project(NIGHTLY)
    targets = _lock(root)
    try:
        done = subprocess.run(
            assetflow_command(root, "status", "late", "--partition", "2026-03-01", "--json"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "is read-only for this user" in done.stderr
        [entry] = json.loads(done.stdout)["assets"]
        assert entry["attempt"]["outcome"] == "never attempted"
        assert not (root / ".assetflow").exists()
    finally:
        _unlock(targets)
