"""judge(): one asset-partition, every reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from assetflow.planner import Snapshot, Status
from assetflow.planner.staleness import Reason, ReasonKind, judge
from assetflow.store.records import EventKind, EventRecord
from tests.planner.conftest import T0, record

KEY = ("clean", None)
RAW = ("raw", None)


def snapshot(**overrides):
    latest = {
        RAW: record(RAW, code="c", data="d-raw", inputs={}),
        KEY: record(KEY, code="c", data="d-clean", inputs={"raw": "d-raw"}),
    }
    latest.update(overrides.get("latest", {}))
    return Snapshot(latest=latest, failures=overrides.get("failures", {}))


def kinds(verdict):
    return [reason.kind for reason in verdict.reasons]


def test_fresh_when_code_and_inputs_match():
    verdict = judge(KEY, code_version="c", inputs=(RAW,), snapshot=snapshot(), pending={})
    assert verdict.status is Status.FRESH
    assert verdict.reasons == ()


def test_never_materialized():
    verdict = judge(("new", None), code_version="c", inputs=(), snapshot=snapshot(), pending={})
    assert verdict.status is Status.STALE
    assert kinds(verdict) == [ReasonKind.NEVER_MATERIALIZED]


def test_code_changed_carries_versions_and_details():
    verdict = judge(
        KEY,
        code_version="c2",
        inputs=(RAW,),
        snapshot=snapshot(),
        pending={},
        code_details=("helper cleaning.normalise_email changed",),
    )
    (reason,) = verdict.reasons
    assert (reason.kind, reason.old, reason.new) == (ReasonKind.CODE_CHANGED, "c", "c2")
    assert reason.render() == "code changed: helper cleaning.normalise_email changed"


def test_an_input_read_last_time_and_gone_now_makes_it_stale():
    # It read two partitions of `raw`; one of them was removed (a dynamic key).
    kept, gone = ("raw", "a"), ("raw", "b")
    latest = {
        kept: record(kept, code="c", data="d-a", inputs={}),
        KEY: record(KEY, code="c", data="d-clean", inputs={"raw[a]": "d-a", "raw[b]": "d-b"}),
    }
    verdict = judge(KEY, code_version="c", inputs=(kept,), snapshot=Snapshot(latest), pending={})
    assert verdict.status is Status.STALE
    (reason,) = verdict.reasons
    assert (reason.kind, reason.upstream, reason.old, reason.new) == (
        ReasonKind.UPSTREAM_CHANGED,
        "raw[b]",
        "d-b",
        None,
    )
    assert reason.render() == "upstream changed: raw[b]: removed"
    assert gone not in latest


def test_upstream_stale_means_waiting():
    verdict = judge(
        KEY, code_version="c", inputs=(RAW,), snapshot=snapshot(), pending={RAW: Status.STALE}
    )
    assert verdict.status is Status.WAITING
    assert [r.render() for r in verdict.reasons] == ["upstream stale: raw"]


def test_own_reason_and_upstream_stale_together_is_stale_with_both():
    verdict = judge(
        KEY, code_version="c2", inputs=(RAW,), snapshot=snapshot(), pending={RAW: Status.STALE}
    )
    assert verdict.status is Status.STALE
    assert kinds(verdict) == [ReasonKind.CODE_CHANGED, ReasonKind.UPSTREAM_STALE]


def test_last_run_failed_only_when_newer_than_success():
    failed = EventRecord(
        run_id="r9", kind=EventKind.FAILED, at=T0 + timedelta(hours=1), asset="clean"
    )
    verdict = judge(
        KEY,
        code_version="c",
        inputs=(RAW,),
        snapshot=snapshot(failures={KEY: failed}),
        pending={},
    )
    assert kinds(verdict) == [ReasonKind.LAST_RUN_FAILED]
    assert verdict.reasons[0].run_id == "r9"
    older = replace(failed, at=T0 - timedelta(hours=1))
    verdict = judge(
        KEY, code_version="c", inputs=(RAW,), snapshot=snapshot(failures={KEY: older}), pending={}
    )
    assert verdict.status is Status.FRESH


def test_forced_wins():
    verdict = judge(
        KEY, code_version="c", inputs=(RAW,), snapshot=snapshot(), pending={}, forced=True
    )
    assert kinds(verdict) == [ReasonKind.FORCED]


def test_a_broken_output_is_stale_with_its_reason_first():
    gone = Reason(ReasonKind.OUTPUT_MISSING, run_id="r1", details=("deleted",))
    base = snapshot()
    broken = Snapshot(latest=base.latest, failures=base.failures, broken={KEY: gone})
    verdict = judge(KEY, code_version="c2", inputs=(RAW,), snapshot=broken, pending={})
    assert verdict.status is Status.STALE
    assert kinds(verdict) == [ReasonKind.OUTPUT_MISSING, ReasonKind.CODE_CHANGED]
    fresh_code = judge(KEY, code_version="c", inputs=(RAW,), snapshot=broken, pending={})
    assert (fresh_code.status, fresh_code.reasons) == (Status.STALE, (gone,))
    # A reader of a broken output that is rebuilt in the plan waits for it, as for any
    # rebuilt input: the rebuild may give the same data.
    reader = judge(
        ("report", None),
        code_version="c",
        inputs=(KEY,),
        snapshot=Snapshot(
            latest={
                **base.latest,
                ("report", None): record(
                    ("report", None), code="c", data="d-r", inputs={"clean": "d-clean"}
                ),
            },
            broken={KEY: gone},
        ),
        pending={KEY: Status.STALE},
    )
    assert reader.status is Status.WAITING
