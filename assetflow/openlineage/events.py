"""OpenLineage RunEvents for assetflow's runs and steps, built with the openlineage-python
client's classes and kept as JSON text (what the outbox stores and the transports send).

Naming (docs/openlineage.md): the run is the job ``<project>`` and each step the job
``<project>.<asset>``, whose run points at the run's through the ``parent`` facet;
a dataset is ``<asset>`` or ``<asset>[<partition>]`` in the configured namespace,
with its location in the ``dataSource`` facet.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    DatasetFacet,
    InputDatasetFacet,
    OutputDatasetFacet,
    RunFacet,
    data_quality_assertions_dataset,
    datasource_dataset,
    error_message_run,
    output_statistics_output_dataset,
    parent_run,
    schema_dataset,
)
from openlineage.client.serde import Serde
from openlineage.client.uuid import generate_static_uuid

from assetflow.keys import AssetPartition
from assetflow.store.records import CheckRecord, MaterializationRecord

#: Who produced the events (a URI, as OpenLineage asks).
PRODUCER = "https://pypi.org/project/assetflow/"
#: The `$id` of assetflow's facet schema, published in docs/openlineage/assetflow-facet.json.
FACET_SCHEMA_URL = "https://assetflow.dev/spec/facets/1-0-0/AssetflowRunFacet.json"
#: How much of a failed step's error the errorMessage facet carries.
ERROR_CHARS = 4000


@attr.define
class AssetflowRunFacet(RunFacet):
    """assetflow's own run facet: the assetflow run id, code version, and the data versions
    written and read, per asset-partition (its JSON schema: ``FACET_SCHEMA_URL``)."""

    runId: str
    codeVersion: str | None = attr.field(default=None)
    dataVersions: dict[str, str] = attr.field(factory=dict)
    inputVersions: dict[str, str] = attr.field(factory=dict)
    attempts: int | None = attr.field(default=None)
    _additional_skip_redact: ClassVar[list[str]] = ["runId", "codeVersion"]

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA_URL


def run_uuid(run_id: str, started_at: datetime, key: AssetPartition | None = None) -> str:
    """The OpenLineage run id of assetflow run `run_id` (or of its step `key`): a UUIDv7 for
    the run's start, the same whoever computes it, so that the crash sweep can end what a
    killed run started."""
    # Milliseconds, as a UUIDv7 holds them: a store that keeps fewer digits gives the same id.
    instant = started_at.replace(microsecond=started_at.microsecond // 1000 * 1000)
    data = run_id if key is None else f"{run_id}\x00{key[0]}\x00{key[1]!r}"
    return str(generate_static_uuid(instant, data.encode("utf-8")))


def dataset_name(key: AssetPartition) -> str:
    """``asset`` or ``asset[partition]``."""
    asset, partition = key
    return asset if partition is None else f"{asset}[{partition}]"


def to_json(event: RunEvent) -> str:
    """The event as the transports send it: the text the client's `Serde.to_json` gives
    (its fields, without nulls, keys sorted), made in one pass (a third of the time:
    a run makes two events per step)."""
    return json.dumps(_plain(event), sort_keys=True, default=_unserialisable)


#: The attribute names of each attrs class met, in field order.
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(value: Any) -> Any:
    """`value` as JSON-able data: attrs instances and mappings as dicts without their None
    values, sequences as lists without None and empty dicts, enums as their values."""
    if value is None or isinstance(value, str | int | float):
        return value
    kind = type(value)
    if attr.has(kind):
        names = _FIELD_NAMES.get(kind)
        if names is None:
            names = _FIELD_NAMES[kind] = tuple(field.name for field in attr.fields(kind))
        return {name: item for name in names if (item := _plain(getattr(value, name))) is not None}
    if isinstance(value, Mapping):
        return {key: item for key, raw in value.items() if (item := _plain(raw)) is not None}
    if isinstance(value, list | tuple | set | frozenset):
        items = (_plain(raw) for raw in value if raw is not None)
        return [item for item in items if item is not None and item != {}]
    return Serde.remove_nulls_and_enums(value)  # enums, datetimes, UUIDs, numpy integers


def _unserialisable(value: object) -> str:
    return f"<<non-serializable: {type(value).__qualname__}>>"


def _time(at: datetime) -> str:
    return at.isoformat()


def run_event(
    state: RunState,
    at: datetime,
    *,
    namespace: str,
    job: str,
    run_id: str,
    assetflow_run_id: str,
    parent: tuple[str, str] | None = None,
    inputs: Iterable[AssetPartition] = (),
    checked: Iterable[InputDataset] = (),
    outputs: Iterable[OutputDataset] = (),
    facet: AssetflowRunFacet | None = None,
    error: str | None = None,
) -> str:
    """One RunEvent as JSON. `parent`: the (job, OpenLineage run id) of the run a step is in;
    `checked`: input datasets with their facets (`checked_dataset`)."""
    facets: dict[str, RunFacet] = {}
    if parent is not None:
        parent_job, parent_run_id = parent
        facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent_run_id),
            job=parent_run.Job(namespace=namespace, name=parent_job),
            producer=PRODUCER,
        )
    facets["assetflow"] = facet or AssetflowRunFacet(runId=assetflow_run_id, producer=PRODUCER)
    if error:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error[:ERROR_CHARS], programmingLanguage="python", producer=PRODUCER
        )
    event = RunEvent(
        eventType=state,
        eventTime=_time(at),
        run=Run(runId=run_id, facets=facets),
        job=Job(namespace=namespace, name=job),
        inputs=[
            *(InputDataset(namespace=namespace, name=dataset_name(key)) for key in inputs),
            *checked,
        ],
        outputs=list(outputs),
        producer=PRODUCER,
    )
    return to_json(event)


def output_dataset(namespace: str, record: MaterializationRecord, state_dir: Path) -> OutputDataset:
    """What a materialization wrote: its schema, its location and its row count."""
    facets: dict[str, DatasetFacet] = {
        "dataSource": datasource_dataset.DatasourceDatasetFacet(
            name=f"assetflow:{record.io}",
            uri=location(record, state_dir),
            producer=PRODUCER,
        )
    }
    if record.columns:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=column.name, type=column.type)
                for column in record.columns
            ],
            producer=PRODUCER,
        )
    statistics: dict[str, OutputDatasetFacet] = {}
    if record.rows is not None or record.bytes is not None:
        statistics["outputStatistics"] = (
            output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=record.rows, size=record.bytes, producer=PRODUCER
            )
        )
    return OutputDataset(
        namespace=namespace,
        name=dataset_name((record.asset, record.partition)),
        facets=facets,
        outputFacets=statistics,
    )


def checked_dataset(
    namespace: str, key: AssetPartition, checks: Iterable[CheckRecord]
) -> InputDataset:
    """A dataset a check run read, with the results of its checks as assertions."""
    assertions = [
        data_quality_assertions_dataset.Assertion(
            assertion=check.check,
            success=check.passed,
            severity=check.severity,
            name=check.check,
            description=check.message or None,
        )
        for check in checks
    ]
    facets: dict[str, InputDatasetFacet] = {
        "dataQualityAssertions": data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
            assertions=assertions, producer=PRODUCER
        )
    }
    return InputDataset(namespace=namespace, name=dataset_name(key), inputFacets=facets)


def location(record: MaterializationRecord, state_dir: Path) -> str:
    """Where the output is, as a URI: a file (or object) URL, or the DuckDB table."""
    path = record.path
    if path is None:
        return f"assetflow:{record.io}/{record.asset}"
    if "://" in path:
        return path
    # abspath, not resolve(): no system call per output on the coordinator's thread.
    full = Path(os.path.abspath(os.path.join(state_dir, path)))
    if record.io == "duckdb":
        return f"duckdb:{full}#{record.asset}"
    return full.as_uri()


def step_facet(
    assetflow_run_id: str,
    records: Iterable[MaterializationRecord],
    *,
    code_version: str | None,
    attempts: int | None,
) -> AssetflowRunFacet:
    """The facet of a step's terminal event: code version and per-partition data versions."""
    written: dict[str, str] = {}
    read: dict[str, str] = {}
    for record in records:
        code_version = record.code_version or code_version
        if record.data_version is not None:
            written[dataset_name((record.asset, record.partition))] = record.data_version
        read.update(record.input_versions)
    return AssetflowRunFacet(
        runId=assetflow_run_id,
        codeVersion=code_version,
        dataVersions=written,
        inputVersions=read,
        attempts=attempts,
        producer=PRODUCER,
    )


def as_dict(payload: str) -> Mapping[str, Any]:
    """A stored event's JSON as a mapping (what the transports serialise again)."""
    import json

    loaded: Mapping[str, Any] = json.loads(payload)
    return loaded
