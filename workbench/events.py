"""The event log: `events.jsonl` in each run directory, the typed contract between trainer and UI.

One JSON object per line, each a pydantic model of the `Event` union (discriminated by `type`),
with `type`, `time` (unix seconds) and `v` (the schema version, `SCHEMA_VERSION`; lines written
before versioning have none and are version 1). The kinds and their fields are the models below:
``started`` (device, parameter counts, dataset sizes, labels, the task and its ranking metric),
``step`` (progress), ``eval`` (metrics per split), ``samples`` (a bounded list of predictions),
``checkpoint``, ``log`` (warnings worth showing a person), and exactly one terminal event per
training segment: ``finished``, ``failed`` or ``cancelled`` (a resumed run starts a new segment
with another ``started``). Fields that runs written by older versions lack are optional.

Writers (`EventWriter`) validate every event and refuse an invalid one (a bug in the producer)
with a ValueError; they flush each line. Readers (`parse_lines`, `read_events`, `EventTail`)
return typed events, skip a torn line (a killed process can leave one), skip a `type` they
don't know (written by a newer version) and ignore fields they don't know. Folding a list of
events into what a run *is* (state, best metric, durations …) is `workbench.history.RunHistory`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, Literal, TextIO, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

SCHEMA_VERSION = 1


class Readable:
    """Read access by key, as the plain dicts the events and status used to be (`event["step"]`,
    `event.get("split", "validation")`): an unset (None) field reads as missing."""

    def get(self, key: str, default: Any = None) -> Any:
        value = getattr(self, key, None) if key in type(self).model_fields else (self.model_extra or {}).get(key)  # type: ignore[attr-defined]
        return default if value is None else value

    def __getitem__(self, key: str) -> Any:
        value = self.get(key)
        if value is None and key not in type(self).model_fields:  # type: ignore[attr-defined]
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def keys(self) -> set[str]:
        """The keys that are set (not None), as a dict's keys would be."""
        extra = self.model_extra or {}  # type: ignore[attr-defined]
        return {key for key in [*type(self).model_fields, *extra] if self.get(key) is not None}  # type: ignore[attr-defined]


class BaseEvent(Readable, BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    time: float = 0.0
    v: int = 1


class StartedEvent(BaseEvent):
    """The training process has loaded model and data and begins (or resumes) training."""

    type: Literal["started"] = "started"
    device: str | None = None
    precision: str | None = None
    model: str | None = None
    model_source: str | None = None
    architecture: str | None = None
    method: str | None = None
    params_total: int | None = None
    params_trainable: int | None = None
    train_size: int | None = None
    validation_size: int | None = None
    test_size: int | None = None
    validation_from_train: bool | None = None
    labels: list[str] = Field(default_factory=list)
    label_counts: dict[str, int] | None = None
    columns: dict[str, Any] | None = None
    total_steps: int | None = None
    effective_batch_size: int | None = None
    batch_size: int | None = None
    gradient_accumulation_steps: int | None = None
    save_steps: int | None = None
    resumed: bool = False
    resumed_from_step: int | None = None
    auto_batch: list[dict[str, Any]] = Field(default_factory=list)
    memory_estimate_bytes: int | None = None
    device_memory_bytes: int | None = None
    # What ranks the run, written by the task (older runs: see RunHistory's fallback).
    task: str | None = None
    main_metric: str | None = None
    greater_is_better: bool | None = None
    data_format: str | None = None
    token_lengths: dict[str, float] | None = None
    truncated_rows: int | None = None
    packing: bool | None = None
    chat_template: str | None = None
    runtime: dict[str, Any] | None = None  # device defaults in effect (tf32, sdpa, …)


class StepEvent(BaseEvent):
    type: Literal["step"] = "step"
    step: int = 0
    total_steps: int | None = None
    epoch: float | None = None
    loss: float | None = None
    learning_rate: float | None = None
    grad_norm: float | None = None
    samples_per_s: float | None = None
    tokens_per_s: float | None = None
    eta_s: float | None = None
    elapsed_s: float | None = None
    memory_bytes: int | None = None
    memory_kind: str | None = None


class EvalEvent(BaseEvent):
    """One evaluation of one split; text generation has no per-class scores or confusion."""

    type: Literal["eval"] = "eval"
    split: str = "validation"
    step: int | None = None
    epoch: float | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    per_class: dict[str, dict[str, Any]] | None = None
    confusion_matrix: list[list[int]] | None = None
    labels: list[str] | None = None


class SamplesEvent(BaseEvent):
    """Predictions of the latest evaluation; each item is task-defined (see the task modules)."""

    type: Literal["samples"] = "samples"
    split: str = "validation"
    step: int | None = None
    items: list[dict[str, Any]] = Field(default_factory=list)


class CheckpointEvent(BaseEvent):
    type: Literal["checkpoint"] = "checkpoint"
    step: int | None = None
    path: str | None = None


class LogEvent(BaseEvent):
    type: Literal["log"] = "log"
    level: str = "info"
    message: str = ""
    auto_batch: dict[str, Any] | None = None


class BestMetric(Readable, BaseModel):
    """The best validation value of the run's ranking metric, and the step it came at."""

    model_config = ConfigDict(extra="ignore")

    name: str
    value: float
    step: int | None = None


class FinishedEvent(BaseEvent):
    type: Literal["finished"] = "finished"
    metrics: dict[str, Any] = Field(default_factory=dict)
    best_metric: BestMetric | None = None
    output: str | None = None
    duration_s: float | None = None
    step: int | None = None
    train_runtime_s: float | None = None
    train_samples_per_s: float | None = None
    #: Training rows the model confidently contradicts (label_errors.csv), of `label_rows_checked`.
    label_errors: int | None = None
    label_rows_checked: int | None = None


class FailedEvent(BaseEvent):
    type: Literal["failed"] = "failed"
    kind: str = "crash"
    message: str = ""
    hint: str = ""
    synthesized: bool = False  # made up by a reader for a run that ended without one


class CancelledEvent(BaseEvent):
    type: Literal["cancelled"] = "cancelled"
    step: int | None = None
    checkpoint: str | None = None
    synthesized: bool = False


Event = Annotated[
    Union[StartedEvent, StepEvent, EvalEvent, SamplesEvent, CheckpointEvent, LogEvent, FinishedEvent, FailedEvent, CancelledEvent],
    Field(discriminator="type"),
]
EVENT_CLASSES: dict[str, type[BaseEvent]] = {
    cls.model_fields["type"].default: cls
    for cls in (StartedEvent, StepEvent, EvalEvent, SamplesEvent, CheckpointEvent, LogEvent, FinishedEvent, FailedEvent, CancelledEvent)
}
EVENT_TYPES = frozenset(EVENT_CLASSES)
TERMINAL_TYPES = frozenset({"finished", "failed", "cancelled"})
_ADAPTER: TypeAdapter[Any] = TypeAdapter(Event)


def make_event(type: str, **fields: Any) -> BaseEvent:
    """A validated event of kind `type`; ValueError names what is wrong (unknown kind or field,
    a value of the wrong type): the producer has a bug."""
    cls = EVENT_CLASSES.get(type)
    if cls is None:
        raise ValueError(f"unknown event type {type!r} (known: {', '.join(sorted(EVENT_TYPES))})")
    unknown = set(fields) - set(cls.model_fields)
    if unknown:
        raise ValueError(f"event {type!r} has no field {', '.join(sorted(unknown))} (declare it in workbench/events.py)")
    plain = json.loads(json.dumps(fields, default=_jsonable))  # numpy scalars, Paths … as JSON has them
    plain.setdefault("time", round(time.time(), 3))
    plain["v"] = SCHEMA_VERSION
    try:
        return cls.model_validate({**plain, "type": type})
    except ValidationError as err:
        raise ValueError(f"invalid {type!r} event: {err}") from None


class EventWriter:
    """Appends events to a run's `events.jsonl`, one validated, flushed line each."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._handle: TextIO | None = None

    def emit(self, type: str, **fields: Any) -> BaseEvent:
        """Validate and write one event (see `make_event`); returns it."""
        return self.write(make_event(type, **fields))

    def write(self, event: BaseEvent) -> BaseEvent:
        if not isinstance(event, BaseEvent) or event.type not in EVENT_TYPES:
            raise ValueError(f"not an event: {event!r}")
        event = type(event).model_validate(event.model_dump())  # a model changed after creation is checked again
        if self._handle is not None and self._file_replaced():
            self.close()  # events.jsonl was deleted or replaced: write where readers look
        if self._handle is None:
            self._repair_torn_tail()
            self._handle = self.path.open("a", encoding="utf-8")
        self._handle.write(json.dumps(to_json(event), ensure_ascii=False) + "\n")
        self._handle.flush()
        return event

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _file_replaced(self) -> bool:
        """Whether `path` no longer names the file we hold open (deleted, or a new one there)."""
        import os

        try:
            return os.stat(self.path).st_ino != os.fstat(self._handle.fileno()).st_ino  # type: ignore[union-attr]
        except OSError:
            return True

    def _repair_torn_tail(self) -> None:
        """A killed writer may leave half a line; start ours on a fresh one."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as handle:
            handle.seek(-1, 2)
            if handle.read(1) != b"\n":
                handle.write(b"\n")


def to_json(event: BaseEvent) -> dict[str, Any]:
    """The line's object: `type` and `time` first, then the fields that are set."""
    data = event.model_dump(mode="json", exclude_none=True)
    return {"type": data.pop("type"), "time": data.pop("time"), **data}


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def parse_event(data: Any) -> BaseEvent | None:
    """One decoded line as a typed event; None for a kind this version doesn't know or a line
    that doesn't fit its kind."""
    if not isinstance(data, dict) or data.get("type") not in EVENT_TYPES:
        return None
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError:
        return None


def parse_lines(chunk: str) -> list[BaseEvent]:
    """Parse complete JSON lines; malformed ones (a torn write) and unknown kinds are skipped."""
    events = []
    for line in chunk.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        event = parse_event(data)
        if event is not None:
            events.append(event)
    return events


def read_events(path: Path) -> list[BaseEvent]:
    try:
        text = Path(path).read_text("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return parse_lines(text)


class EventTail:
    """Incrementally reads new, complete lines from an events file (for attach and the TUI)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self._pending = b""

    def poll(self) -> list[BaseEvent]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        if not data:
            return []
        self.offset += len(data)
        data = self._pending + data
        complete, _, self._pending = data.rpartition(b"\n")
        if not complete:
            return []
        return parse_lines(complete.decode("utf-8", errors="replace"))
