"""The event log: `events.jsonl` in each run directory, the contract between trainer and UI.

One JSON object per line, each with `type` and `time` (unix seconds). The writer flushes every
line; readers skip a torn last line (a killed process can leave one) and never fail on it.

Event types and their fields:
- ``started``   device, precision, model, method, params_total, params_trainable, dataset sizes,
  labels, total_steps, resumed (bool)
- ``step``      step, total_steps, epoch, loss, learning_rate, samples_per_s, eta_s, elapsed_s,
  memory_bytes, memory_kind ("rss" | "cuda")
- ``eval``      step, epoch, metrics (flat dict), per_class, confusion_matrix, labels
- ``samples``   step, items: [{text, gold, pred, confidence, probs}]
- ``checkpoint`` step, path
- ``log``       level, message (warnings worth showing a person)
- ``finished``  metrics, best_metric, output (model or adapter dir), duration_s
- ``failed``    kind, message, hint
- ``cancelled`` step, checkpoint
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, TextIO

EVENT_TYPES = frozenset(
    {"started", "step", "eval", "samples", "checkpoint", "log", "finished", "failed", "cancelled"}
)
TERMINAL_TYPES = frozenset({"finished", "failed", "cancelled"})


class EventWriter:
    """Appends events to a run's `events.jsonl`, one flushed line each."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._handle: TextIO | None = None

    def emit(self, type: str, **fields: Any) -> dict[str, Any]:
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type!r}")
        event = {"type": type, "time": round(time.time(), 3), **fields}
        if self._handle is None:
            self._repair_torn_tail()
            self._handle = self.path.open("a", encoding="utf-8")
        self._handle.write(json.dumps(event, default=_jsonable, ensure_ascii=False) + "\n")
        self._handle.flush()
        return event

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _repair_torn_tail(self) -> None:
        """A killed writer may leave half a line; start ours on a fresh one."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as handle:
            handle.seek(-1, 2)
            if handle.read(1) != b"\n":
                handle.write(b"\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def parse_lines(chunk: str) -> list[dict[str, Any]]:
    """Parse complete JSON lines; malformed ones (a torn write) are skipped."""
    events = []
    for line in chunk.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and "type" in event:
            events.append(event)
    return events


def read_events(path: Path) -> list[dict[str, Any]]:
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

    def poll(self) -> list[dict[str, Any]]:
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
