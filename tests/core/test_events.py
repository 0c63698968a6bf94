"""The events.jsonl contract: flushed lines, torn tails tolerated, incremental tailing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.events import EventTail, EventWriter, read_events


def test_each_event_is_one_flushed_line_with_type_and_time(tmp_path: Path) -> None:
    writer = EventWriter(tmp_path / "events.jsonl")
    writer.emit("step", step=1, loss=0.5)
    lines = (tmp_path / "events.jsonl").read_text().splitlines()  # readable before close: flushed
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["type"] == "step" and event["step"] == 1 and isinstance(event["time"], float)


def test_unknown_event_types_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        EventWriter(tmp_path / "e.jsonl").emit("progress")


def test_readers_skip_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "step", "time": 1, "step": 1}\n{"type": "step", "ti')
    assert [e["step"] for e in read_events(path)] == [1]


def test_a_new_writer_starts_after_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"type": "step", "time": 1, "step": 1}\n{"type": "st')
    EventWriter(path).emit("step", step=2)
    assert [e["step"] for e in read_events(path)] == [1, 2]


def test_tail_returns_only_new_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    tail = EventTail(path)
    assert tail.poll() == []  # no file yet
    writer = EventWriter(path)
    writer.emit("step", step=1)
    writer.emit("step", step=2)
    assert [e["step"] for e in tail.poll()] == [1, 2]
    assert tail.poll() == []
    with path.open("a") as handle:
        handle.write('{"type": "step", "time": 1, "st')
        handle.flush()
        assert tail.poll() == []  # half a line waits
        handle.write('ep": 3}\n')
    assert [e["step"] for e in tail.poll()] == [3]


# -- the typed contract ---------------------------------------------------------------------------

from workbench.events import (  # noqa: E402
    EVENT_CLASSES,
    SCHEMA_VERSION,
    CancelledEvent,
    EvalEvent,
    FailedEvent,
    FinishedEvent,
    StartedEvent,
    StepEvent,
    parse_lines,
)

#: One event of every kind, with the fields today's producers write (and the new optional ones).
EVERY_KIND = {
    "started": dict(device="cpu", precision="fp32", model="m", method="lora", params_total=100, params_trainable=10,
                    train_size=72, validation_size=8, labels=["neg", "pos"], label_counts={"neg": 36, "pos": 36},
                    total_steps=18, resumed=False, task="text-classification", main_metric="accuracy",
                    greater_is_better=True, token_lengths={"p50": 12.0}, runtime={"tf32": True}),
    "step": dict(step=2, total_steps=18, epoch=0.22, loss=0.69, learning_rate=2.5e-3, samples_per_s=472.3,
                 eta_s=0.3, elapsed_s=0.1, memory_bytes=531308544, memory_kind="rss", tokens_per_s=1200.0),
    "eval": dict(split="validation", step=9, epoch=1.0, metrics={"accuracy": 0.5, "n": 8, "loss": 0.69},
                 per_class={"neg": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 4}},
                 confusion_matrix=[[0, 4], [0, 4]], labels=["neg", "pos"]),
    "samples": dict(split="validation", step=9, items=[{"text": "good", "gold": "pos", "pred": "pos", "confidence": 0.9}]),
    "checkpoint": dict(step=4, path="/runs/r/checkpoints/checkpoint-4"),
    "log": dict(level="warning", message="out of memory at batch 8: retrying", auto_batch={"attempt": 1}),
    "finished": dict(metrics={"accuracy": 0.5}, best_metric={"name": "accuracy", "value": 0.5, "step": 9},
                     output="/runs/r/model", duration_s=1.8, step=18),
    "failed": dict(kind="oom", message="out of memory", hint="lower training.batch_size"),
    "cancelled": dict(step=12, checkpoint="/runs/r/checkpoints/checkpoint-12"),
}


def test_every_kind_round_trips_typed_and_versioned(tmp_path: Path) -> None:
    assert set(EVERY_KIND) == set(EVENT_CLASSES)
    writer = EventWriter(tmp_path / "events.jsonl")
    for kind, fields in EVERY_KIND.items():
        writer.emit(kind, **fields)
    raw = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert all(line["v"] == SCHEMA_VERSION for line in raw)
    events = read_events(tmp_path / "events.jsonl")
    assert [type(e) for e in events] == list(EVENT_CLASSES.values())
    for event, (kind, fields) in zip(events, EVERY_KIND.items()):
        assert event.type == kind
        for name, value in fields.items():
            got = getattr(event, name)
            assert (got.model_dump() if hasattr(got, "model_dump") else got) == value, (kind, name)
    finished = events[6]
    assert isinstance(finished, FinishedEvent) and finished.best_metric.value == 0.5
    assert finished["metrics"] == {"accuracy": 0.5} and finished.get("output") == "/runs/r/model"  # dict-style reads


def test_a_model_instance_can_be_written(tmp_path: Path) -> None:
    writer = EventWriter(tmp_path / "events.jsonl")
    writer.write(FailedEvent(time=5.0, kind="disk", message="the disk is full", hint="free space"))
    [event] = read_events(tmp_path / "events.jsonl")
    assert isinstance(event, FailedEvent) and (event.time, event.kind) == (5.0, "disk")


@pytest.mark.parametrize(
    "kind, fields, complaint",
    [
        ("step", {"step": "many"}, "invalid 'step' event"),
        ("step", {"steps": 3}, "has no field steps"),  # a typo in the producer
        ("eval", {"metrics": [0.5]}, "invalid 'eval' event"),
        ("samples", {"items": "none"}, "invalid 'samples' event"),
        ("failed", {"kind": None, "message": "x"}, "invalid 'failed' event"),
    ],
)
def test_an_invalid_event_is_refused_and_nothing_is_written(tmp_path: Path, kind: str, fields: dict, complaint: str) -> None:
    path = tmp_path / "events.jsonl"
    with pytest.raises(ValueError, match=complaint):
        EventWriter(path).emit(kind, **fields)
    assert not path.exists() or path.read_text() == ""


def test_numpy_values_are_written_as_plain_numbers(tmp_path: Path) -> None:
    import numpy as np

    EventWriter(tmp_path / "e.jsonl").emit("step", step=np.int64(3), loss=np.float32(0.5), memory_bytes=np.int64(7))
    [event] = read_events(tmp_path / "e.jsonl")
    assert (event.step, event.loss, event.memory_bytes) == (3, 0.5, 7)


def test_readers_skip_unknown_kinds_and_ignore_unknown_fields() -> None:
    chunk = "\n".join([
        '{"type": "step", "time": 1, "step": 1, "loss": 0.7, "from_the_future": [1, 2]}',
        '{"type": "profile", "time": 2, "v": 2, "flops": 10}',  # a kind a newer version writes
        '{"type": "step", "time": 3, "step": "not a number"}',  # doesn't fit its kind
        '["not", "an", "object"]',
        '{"type": "started", "time": 4, "device": "cpu"}',  # an old line: no `v`, few fields
        '{"type": "step", "time": 5, "st',  # torn
    ])
    events = parse_lines(chunk)
    assert [(type(e), e.time) for e in events] == [(StepEvent, 1.0), (StartedEvent, 4.0)]
    assert events[0].step == 1 and not hasattr(events[0], "from_the_future")
    assert events[1].v == 1 and events[1].labels == [] and events[1].main_metric is None


def test_tail_returns_typed_events(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    tail = EventTail(path)
    writer = EventWriter(path)
    writer.emit("eval", split="test", metrics={"f1": 0.8})
    writer.emit("cancelled", step=3)
    events = tail.poll()
    assert isinstance(events[0], EvalEvent) and events[0].split == "test"
    assert isinstance(events[1], CancelledEvent) and events[1].checkpoint is None
