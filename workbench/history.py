"""RunHistory: the one fold over a run's events (part of the event contract, `workbench.events`).

Every reader of a run — the CLI, the TUI's screens and watcher, compare, the runner, the launcher,
the status rebuild — asks a `RunHistory` what the events say instead of folding them by hand:
its state, the task's ranking metric and the best value of it, progress, evaluations and samples
per split, the failure, checkpoints, and the one definition of a run's duration,
`training_seconds`: the wall time of its training segments (each `started` to the segment's end).

A history is built from a list of events, or fed one at a time with `add` (the TUI's watcher does
this as lines arrive). It never touches the file system and never decides liveness: whether the
process is still there is the run store's question (`RunDir.status`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .events import (
    TERMINAL_TYPES,
    BaseEvent,
    BestMetric,
    CancelledEvent,
    CheckpointEvent,
    EvalEvent,
    FailedEvent,
    FinishedEvent,
    LogEvent,
    SamplesEvent,
    StartedEvent,
    StepEvent,
)

#: Metrics where smaller is better, for runs whose `started` doesn't say (older versions).
LOWER_IS_BETTER = ("loss", "perplexity")


def lower_is_better(metric: str) -> bool:
    return any(metric == name or metric.endswith(f"_{name}") for name in LOWER_IS_BETTER)


@dataclass
class Segment:
    """One training segment: a `started` and what ended it (None while it is open)."""

    started: StartedEvent
    ended: BaseEvent | None = None
    last_time: float = 0.0  # the last event seen in the segment
    cut: bool = False  # ended without a terminal event: an auto_batch retry started the next one

    @property
    def open(self) -> bool:
        return self.ended is None and not self.cut

    def seconds(self, now: float | None = None) -> float:
        if self.ended is not None:
            end = self.ended.time
        elif self.cut or now is None:
            end = self.last_time
        else:
            end = now
        return max(0.0, end - self.started.time)


class RunHistory:
    """What a run's events say, folded once (see the module docstring)."""

    def __init__(self, events: Iterable[BaseEvent] = (), *, task: str | None = None) -> None:
        """`task`: the run's task from its config, the fallback for runs whose `started` events
        predate `task`/`main_metric`."""
        self.config_task = task
        self.events: list[BaseEvent] = []
        self.steps: list[StepEvent] = []
        self.evals: list[EvalEvent] = []
        self.samples: dict[str, SamplesEvent] = {}
        self.checkpoints: list[CheckpointEvent] = []
        self.logs: list[LogEvent] = []
        self.segments: list[Segment] = []
        self.ended: BaseEvent | None = None
        self.extend(events)

    def copy(self) -> RunHistory:
        """An independent history with the same events (the lists are new; events are shared)."""
        twin = RunHistory(task=self.config_task)
        twin.events, twin.steps, twin.evals = list(self.events), list(self.steps), list(self.evals)
        twin.samples, twin.checkpoints, twin.logs = dict(self.samples), list(self.checkpoints), list(self.logs)
        twin.segments = [Segment(s.started, s.ended, s.last_time, s.cut) for s in self.segments]
        twin.ended = self.ended
        return twin

    # -- feeding ------------------------------------------------------------------------------
    def extend(self, events: Iterable[BaseEvent]) -> None:
        for event in events:
            self.add(event)

    def add(self, event: BaseEvent) -> None:
        self.events.append(event)
        if isinstance(event, StartedEvent):
            if self.segments and self.segments[-1].open:  # an auto_batch retry: no terminal event between
                self.segments[-1].cut = True
            self.segments.append(Segment(event, last_time=event.time))
            self.ended = None  # a resumed run: the earlier `cancelled`/`failed` is history
            return
        if self.segments and self.segments[-1].open:
            self.segments[-1].last_time = max(self.segments[-1].last_time, event.time)
        if isinstance(event, StepEvent):
            self.steps.append(event)
        elif isinstance(event, EvalEvent):
            self.evals.append(event)
        elif isinstance(event, SamplesEvent):
            self.samples[event.split] = event
        elif isinstance(event, CheckpointEvent):
            self.checkpoints.append(event)
        elif isinstance(event, LogEvent):
            self.logs.append(event)
        elif event.type in TERMINAL_TYPES:
            self.ended = event
            if self.segments and self.segments[-1].open:
                self.segments[-1].ended = event

    # -- state --------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """`starting` (nothing trained yet), `running`, or how the latest segment ended."""
        if self.ended is not None:
            return self.ended.type
        return "running" if self.segments else "starting"

    @property
    def started(self) -> StartedEvent | None:
        """The latest `started` (a resumed run has several)."""
        return self.segments[-1].started if self.segments else None

    @property
    def first_started(self) -> StartedEvent | None:
        return self.segments[0].started if self.segments else None

    @property
    def resumes(self) -> list[Segment]:
        """The training segments, oldest first (one per `started`)."""
        return self.segments

    @property
    def resumed(self) -> bool:
        return len(self.segments) > 1 or bool(self.started and self.started.resumed)

    @property
    def finished(self) -> FinishedEvent | None:
        return self.ended if isinstance(self.ended, FinishedEvent) else None

    @property
    def failure(self) -> FailedEvent | None:
        return self.ended if isinstance(self.ended, FailedEvent) else None

    @property
    def cancelled(self) -> CancelledEvent | None:
        return self.ended if isinstance(self.ended, CancelledEvent) else None

    @property
    def last_event_time(self) -> float | None:
        return self.events[-1].time if self.events else None

    # -- what ranks the run -------------------------------------------------------------------
    @property
    def task(self) -> str | None:
        started = self.started
        return (started.task if started else None) or self.config_task

    @property
    def main_metric(self) -> str | None:
        """The task's ranking metric, as the run wrote it in `started` (else the task's own)."""
        started = self.started
        if started is not None and started.main_metric:
            return started.main_metric
        task = _task_object(self.task)
        if task is not None:
            return task.main_metric
        final = self.finished
        if final is not None and final.best_metric is not None:
            return final.best_metric.name
        return None

    @property
    def greater_is_better(self) -> bool:
        started = self.started
        if started is not None and started.greater_is_better is not None:
            return started.greater_is_better
        task = _task_object(self.task)
        declared = getattr(task, "greater_is_better", None) if task is not None else None
        if declared is not None:
            return bool(declared)
        return not lower_is_better(self.main_metric or "")

    @property
    def best(self) -> BestMetric | None:
        """The best validation value of `main_metric` (by its direction) and its step."""
        name = self.main_metric
        scored = [e for e in self.evaluations("validation") if name and isinstance(e.metrics.get(name), (int, float))]
        if not scored:
            final = self.finished
            return final.best_metric if final is not None else None
        sign = 1 if self.greater_is_better else -1
        top = max(scored, key=lambda e: sign * e.metrics[name])  # the first of equals: the earliest step
        return BestMetric(name=name, value=round(float(top.metrics[name]), 6), step=top.step)

    # -- progress and evaluations -------------------------------------------------------------
    @property
    def last_step(self) -> StepEvent | None:
        return self.steps[-1] if self.steps else None

    @property
    def progress(self) -> float | None:
        """Steps done / total steps, from the last `step` (or 0 once started)."""
        step = self.last_step
        total = (step.total_steps if step else None) or (self.started.total_steps if self.started else None)
        if not total:
            return None
        return min(1.0, (step.step if step else 0) / total)

    def evaluations(self, split: str) -> list[EvalEvent]:
        return [e for e in self.evals if e.split == split]

    def latest_eval(self, split: str = "validation") -> EvalEvent | None:
        return next((e for e in reversed(self.evals) if e.split == split), None)

    @property
    def splits(self) -> list[str]:
        """The evaluated splits, in the order they first appear (validation, then test)."""
        return list(dict.fromkeys(e.split for e in self.evals))

    @property
    def final_metrics(self) -> dict[str, float]:
        """The `finished` metrics, else the latest validation evaluation's (numbers only)."""
        final = self.finished
        metrics = final.metrics if final is not None and final.metrics else None
        if metrics is None:
            latest = self.latest_eval("validation")
            metrics = latest.metrics if latest is not None else {}
        return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

    # -- time ---------------------------------------------------------------------------------
    def training_seconds(self, now: float | None = None) -> float | None:
        """Wall time of the training segments: each `started` to its terminal event (an open
        segment ends at `now` when the run is alive, else at its last event). None before any
        `started`. The one duration Runs, Results, Train and the CLI show."""
        if not self.segments:
            return None
        return sum(segment.seconds(now if segment is self.segments[-1] else None) for segment in self.segments)

    def elapsed_seconds(self) -> float | None:
        """`training_seconds` without a clock (for screens that must not read one): a live
        segment counts as far as its last step says (`elapsed_s`, the trainer's own timer)."""
        if not self.segments or not self.segments[-1].open:
            return self.training_seconds()
        last = self.segments[-1]
        closed = sum(segment.seconds() for segment in self.segments[:-1])
        step = self.last_step
        if step is not None and step.elapsed_s is not None and step.time >= last.started.time:
            return closed + step.elapsed_s
        return closed + last.seconds()


def _task_object(name: str | None):
    if not name:
        return None
    from .errors import WorkbenchError
    from .tasks import get_task

    try:
        return get_task(name)
    except WorkbenchError:
        return None