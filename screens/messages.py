"""Typed messages that carry a run's events from its `RunWatcher` to the screens.

One watcher per attached run posts them (see `screens/run_watcher.py`); they never bubble, so a
screen and the app each get their own copy. Step messages collapse (`can_replace`): a burst of
steps arrives as the latest one, and a screen that needs every point (a loss curve, the log)
reads `watcher.steps`, the complete list the watcher keeps.

`RunsChanged` is the one app-level message that is not a run's event: the Runs screen posts it
(it bubbles to the app) with each scan of the runs directory. Messages a screen sends to ask the
app for something live in the screen that sends them (`SetupScreen.StartRun`, `RunsScreen.OpenRun`…).
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from workbench.runstore import RunDir, RunSummary


class RunEvent(Message):
    """One event from a run's `events.jsonl` (the base class; handle it with `@on(RunEvent)`)."""

    bubble = False

    def __init__(self, run: RunDir, event: dict[str, Any]) -> None:
        super().__init__()
        self.run = run
        self.event = event


class StepEvent(RunEvent):
    """A training step was logged (loss, learning rate, throughput, ETA)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StepEvent) and message.run == self.run


class EvalEvent(RunEvent):
    """An evaluation finished (metrics, per-class scores, confusion matrix)."""


class SamplesEvent(RunEvent):
    """A bounded list of predictions from the latest evaluation."""


class LogEvent(RunEvent):
    """A line worth showing a person: a `log` event or a saved checkpoint."""


class RunStarted(RunEvent):
    """The training process has loaded model and data and begins to train."""


class RunEnded(RunEvent):
    """The run is over; `state` is `finished`, `failed` or `cancelled`.

    A run whose process vanished without a word ends `failed` with `event["kind"] == "vanished"`.
    """

    def __init__(self, run: RunDir, event: dict[str, Any], state: str) -> None:
        super().__init__(run, event)
        self.state = state


class RunStateChanged(RunEvent):
    """The run's state changed (`starting` → `running` → an end); `event` is its status.json."""

    def __init__(self, run: RunDir, event: dict[str, Any], state: str) -> None:
        super().__init__(run, event)
        self.state = state


class RunsChanged(Message):
    """A scan of the runs directory found `summaries` (newest first); the app keeps them for its
    command palette."""

    def __init__(self, summaries: list[RunSummary]) -> None:
        super().__init__()
        self.summaries = summaries


MESSAGE_TYPES: dict[str, type[RunEvent]] = {
    "step": StepEvent,
    "eval": EvalEvent,
    "samples": SamplesEvent,
    "log": LogEvent,
    "checkpoint": LogEvent,
    "started": RunStarted,
}


def message_for(run: RunDir, event: dict[str, Any]) -> RunEvent:
    """The typed message for one event."""
    kind = event.get("type", "")
    if kind in ("finished", "failed", "cancelled"):
        return RunEnded(run, event, kind)
    return MESSAGE_TYPES.get(kind, RunEvent)(run, event)
