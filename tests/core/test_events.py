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
