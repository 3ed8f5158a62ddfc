"""RunRequest: everything a run is asked to do, as one frozen record.

The CLI parses its options into one, the Python API builds one from its keyword
arguments, and later the scheduler, sensors and the UI's launch button will
construct exactly this. Planning and running take the request, so no function
restates its fields as parameters.

The record is plain data: it round-trips through JSON (`to_json` / `from_json`),
so a run request can be stored (a sensor's request, a queued launch) and read back
by another process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from assetflow.errors import SelectionError, UsageError, suggest

#: The word `--partition` accepts for "the last complete partition".
LATEST = "latest"
#: What `--redo` accepts: which not-fresh partitions of a range run.
REDO_CHOICES = ("missing", "stale", "failed", "all")
#: The version of the JSON layout `to_json` writes.
_JSON_VERSION = 1


@dataclass(frozen=True, slots=True)
class PartitionRequest:
    """The partitions a run asks for: one key, an inclusive range, or the latest.

    `each` pins single assets to their own key: a schedule's `partition = "previous"`
    over a selection that mixes partition definitions (a daily and a monthly asset)
    asks each for the partition of its own that had closed at the tick. `first` and
    `last` are then the key of the first partitioned asset, and assets not in `each`
    are planned from them as usual.
    """

    first: str
    last: str
    #: (asset, key) pairs: the one key each of these assets runs
    each: tuple[tuple[str, str], ...] = ()

    @classmethod
    def one(cls, key: str) -> PartitionRequest:
        return cls(key, key)

    @classmethod
    def between(cls, first: str | None, last: str | None) -> PartitionRequest | None:
        """A range from `--from`/`--to` (a missing end is the latest), or None for neither.

        Raises:
            UsageError: `last` without `first`.
        """
        if first is None and last is None:
            return None
        if first is None:
            raise UsageError(
                "--to needs --from: a range has a start (e.g. --from 2026-03-01).",
            )
        return cls(first, last or LATEST)

    def labels(self) -> tuple[str, ...]:
        """The key or range, then each other key an asset is pinned to."""
        main = self.first if self.first == self.last else f"{self.first}..{self.last}"
        others = [key for key in dict.fromkeys(k for _, k in self.each) if key != main]
        return (main, *others)

    def render(self) -> str:
        return ", ".join(self.labels())

    def json(self) -> dict[str, Any]:
        """The request as JSON-ready data (`each` only when set)."""
        data: dict[str, Any] = {"first": self.first, "last": self.last}
        if self.each:
            data["each"] = dict(self.each)
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> PartitionRequest:
        """The request `json` wrote."""
        each = data.get("each") or {}
        return cls(data["first"], data["last"], tuple(sorted(each.items())))


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What a run is asked to do: which assets and partitions, how, and who asked."""

    #: what to materialize, in the selection grammar (`clean_records+`)
    selection: str = "*"
    #: a selection to leave out
    exclude: str | None = None
    #: which partitions of partitioned assets (None: every complete one)
    partitions: PartitionRequest | None = None
    #: which not-fresh partitions run ("missing", "failed", "stale", "all"); None: all
    #: three not-fresh kinds
    redo: frozenset[str] | None = None
    #: rebuild every selected asset, stale or not
    force: bool = False
    #: what started the run ("api", "cli", "schedule", "sensor", "ui", "check")
    trigger: str = "api"
    #: a key that makes a repeated request (a sensor's, a schedule tick's) a no-op
    run_key: str | None = None
    #: free-form labels recorded with the run, as sorted (name, value) pairs
    tags: tuple[tuple[str, str], ...] = field(default=())
    #: the executor's name (None: the configured one, else the default)
    executor: str | None = None
    #: how many steps may run at once (None: the executor's default)
    workers: int | None = None
    #: after the first failure, start no new step
    fail_fast: bool = False
    #: among steps ready at once, start the newest partitions first
    newest_first: bool = False

    def __post_init__(self) -> None:
        if self.redo is not None:
            chosen = frozenset(self.redo)
            for choice in sorted(chosen - set(REDO_CHOICES)):
                raise SelectionError(
                    f"--redo {choice!r} is not one of {', '.join(REDO_CHOICES)}.",
                    suggestions=suggest(choice, REDO_CHOICES),
                    hint="missing: never materialized; failed: the last attempt failed; "
                    "stale: code or inputs changed; all: every partition in the range, "
                    "fresh or not.",
                )
            object.__setattr__(self, "redo", chosen or None)
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"--workers must be 1 or more, not {self.workers}.")
        if not isinstance(self.tags, tuple):
            object.__setattr__(self, "tags", _tag_pairs(self.tags))

    @classmethod
    def of(
        cls,
        selection: str = "*",
        *,
        redo: Iterable[str] | None = None,
        tags: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        **fields: Any,
    ) -> RunRequest:
        """A request from loose arguments: any iterable for `redo`, a mapping for `tags`."""
        return cls(
            selection,
            redo=frozenset(redo) if redo is not None else None,
            tags=_tag_pairs(tags or ()),
            **fields,
        )

    @property
    def tag_map(self) -> dict[str, str]:
        """The tags as a dict."""
        return dict(self.tags)

    @property
    def selection_text(self) -> str:
        """The selection as a person typed it, with its exclusion (for run records)."""
        if not self.exclude:
            return self.selection
        return f"{self.selection} --exclude {self.exclude}"

    def with_changes(self, **changes: Any) -> RunRequest:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The request as JSON-ready data (see `from_json`)."""
        return {
            "version": _JSON_VERSION,
            "selection": self.selection,
            "exclude": self.exclude,
            "partitions": None if self.partitions is None else self.partitions.json(),
            "redo": sorted(self.redo) if self.redo is not None else None,
            "force": self.force,
            "trigger": self.trigger,
            "run_key": self.run_key,
            "tags": self.tag_map,
            "executor": self.executor,
            "workers": self.workers,
            "fail_fast": self.fail_fast,
            "newest_first": self.newest_first,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRequest:
        """The request `to_json` wrote.

        Raises:
            UsageError: The data is not a run request of a known layout version.
        """
        version = data.get("version")
        if version != _JSON_VERSION:
            raise UsageError(
                f"a run request has layout version {version!r}; this assetflow reads "
                f"version {_JSON_VERSION}.",
                hint="It was probably written by another assetflow release: upgrade "
                "assetflow where it is read.",
            )
        known = {name for name in cls.__dataclass_fields__} | {"version"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"a run request has unknown fields: {', '.join(unknown)}.")
        partitions = data.get("partitions")
        return cls.of(
            data.get("selection", "*"),
            exclude=data.get("exclude"),
            partitions=None if partitions is None else PartitionRequest.from_data(partitions),
            redo=data.get("redo"),
            force=bool(data.get("force", False)),
            trigger=data.get("trigger", "api"),
            run_key=data.get("run_key"),
            tags=data.get("tags") or {},
            executor=data.get("executor"),
            workers=data.get("workers"),
            fail_fast=bool(data.get("fail_fast", False)),
            newest_first=bool(data.get("newest_first", False)),
        )


def _tag_pairs(tags: Mapping[str, str] | Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    pairs = tags.items() if isinstance(tags, Mapping) else tags
    return tuple(sorted((str(name), str(value)) for name, value in pairs))
