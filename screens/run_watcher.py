"""RunWatcher: one per attached run; tails `events.jsonl` and posts typed messages to subscribers.

How a screen follows a run (the Train screen does this; so can Results for a running run)::

    def on_mount(self) -> None:
        self.watcher = self.app.watch_run(self.run)   # the app's one watcher for this run
        self.watcher.subscribe(self)                  # from now on: messages for new events
        self.show_history(self.watcher.events)        # what arrived before, already in memory

    def on_unmount(self) -> None:
        self.watcher.unsubscribe(self)

    def on_eval_event(self, message: EvalEvent) -> None: ...     # see screens/messages.py
    def on_run_ended(self, message: RunEnded) -> None: ...

Everything a watcher knows is one `RunHistory` (`watcher.history`, fed event by event as lines
arrive; `events`, `steps`, `evals`, `started`, `ended`, `best` and `main_metric` read it) plus
the run's `status` and `config`. It is read and written on the event loop only: the file reads
and status checks run in a thread (`asyncio.to_thread`) and the results are applied back on the
loop, so subscribers may read them at any time without locks. Re-attaching replays the whole
file (the tail starts at offset 0), so a screen opened late still sees the full history. After
the run ends the watcher keeps an eye on it (slowly): a `tlwb resume` started elsewhere appends a
new `started`, and every screen following the run follows it again.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from textual.message_pump import MessagePump

from workbench.events import (
    TERMINAL_TYPES, BaseEvent, BestMetric, CancelledEvent, EvalEvent, EventTail, FailedEvent, FinishedEvent, StartedEvent, StepEvent,
)
from workbench.history import RunHistory
from workbench.runstore import ACTIVE_STATES, RunDir, RunStatus

from .messages import RunStateChanged, message_for

if TYPE_CHECKING:
    import subprocess

    from workbench.config import RunConfig


class RunWatcher:
    """Follows one run directory until its terminal event, keeping everything it read."""

    poll_s = 0.2
    status_every_s = 1.0
    #: Once the run has ended: how often to look for a resume started elsewhere.
    ended_poll_s = 2.0

    def __init__(self, run: RunDir, *, process: subprocess.Popen | None = None,
                 status: RunStatus | None = None) -> None:
        self.run = run
        self.process = process
        self.history = RunHistory(task=run.config_task())
        self.config: RunConfig | None = None
        self.status: RunStatus = RunStatus()
        self.state = "starting"
        self.loaded = False
        self._subscribers: list[MessagePump] = []
        self._tail = EventTail(run.events_path)
        if status is not None:
            self._apply_status(status)

    # -- subscribers --------------------------------------------------------------------------
    def subscribe(self, target: MessagePump) -> RunWatcher:
        if target not in self._subscribers:
            self._subscribers.append(target)
        return self

    def unsubscribe(self, target: MessagePump) -> None:
        if target in self._subscribers:
            self._subscribers.remove(target)

    # -- what subscribers read (all of it from the history) -----------------------------------
    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def events(self) -> list[BaseEvent]:
        return self.history.events

    @property
    def steps(self) -> list[StepEvent]:
        return self.history.steps

    @property
    def evals(self) -> list[EvalEvent]:
        return self.history.evals

    @property
    def started(self) -> StartedEvent | None:
        return self.history.started

    @property
    def ended(self) -> BaseEvent | None:
        """How the run ended; None while it is going (again, after a resume started elsewhere)."""
        return None if self.active else self.history.ended

    @property
    def latest_step(self) -> StepEvent | None:
        return self.history.last_step

    @property
    def validation_evals(self) -> list[EvalEvent]:
        return self.history.evaluations("validation")

    @property
    def main_metric(self) -> str | None:
        return self.history.main_metric

    @property
    def best(self) -> BestMetric | None:
        """The best validation value of the run's ranking metric so far (`RunHistory.best`);
        status.json's word only before any evaluation was read."""
        return self.history.best or self.status.best

    def training_seconds(self, now: float | None = None) -> float | None:
        return self.history.training_seconds(now if self.active else None)

    # -- the worker body ----------------------------------------------------------------------
    async def follow(self) -> None:
        """Tail the run; run it as a worker (`app.watch_run` does). It never returns by itself:
        after the end it polls slowly for a resume (cancel the worker to stop watching)."""
        self.config = await asyncio.to_thread(self._read_config)
        self._apply_status(await asyncio.to_thread(self._read_status))
        next_status = time.monotonic() + self.status_every_s
        while True:
            self.absorb(await asyncio.to_thread(self._tail.poll))
            self.loaded = True
            if self.ended is not None:  # over, unless someone resumes it (or is resuming it now)
                status = await asyncio.to_thread(self._read_status)
                if status.state in ACTIVE_STATES:  # resumed elsewhere: follow it again
                    self.status = status
                    self._set_state(status.state)
                    continue
                await asyncio.sleep(self.ended_poll_s)
                continue
            if time.monotonic() >= next_status:
                next_status = time.monotonic() + self.status_every_s
                status = await asyncio.to_thread(self._read_status)
                if status.state not in ACTIVE_STATES:
                    # The process has stopped: read what it wrote last, then end truthfully.
                    self.absorb(await asyncio.to_thread(self._tail.poll))
                    if self.history.ended is None:  # it ended without a word: say what status.json says
                        self.absorb([_terminal_from_status(status)])
                    self._apply_status(status)
                    continue
                self._apply_status(status)
            await asyncio.sleep(self.poll_s)

    def absorb(self, events: list[BaseEvent]) -> None:
        """Feed new events to the history and tell subscribers; a batch of steps is posted as its
        last one."""
        pending_step: BaseEvent | None = None
        for event in events:
            self.history.add(event)
            if event.type == "step":
                pending_step = event
                continue
            if pending_step is not None:
                self._post(pending_step)
                pending_step = None
            self._post(event)
            if event.type == "started" or event.type in TERMINAL_TYPES:
                self._set_state(self.history.state)
        if pending_step is not None:
            self._post(pending_step)

    def _post(self, event: BaseEvent) -> None:
        for target in list(self._subscribers):
            target.post_message(message_for(self.run, event))

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            for target in list(self._subscribers):
                target.post_message(RunStateChanged(self.run, self.status, state))

    # -- I/O (runs in a thread) ----------------------------------------------------------------
    def _read_config(self) -> RunConfig | None:
        try:
            return self.run.config()
        except Exception:  # a broken config.toml must not stop us showing the run's events
            return None

    def _read_status(self) -> RunStatus:
        if self.process is not None:
            self.process.poll()  # reap our own child, so a finished run is not a zombie
        return self.run.status()

    def _apply_status(self, status: RunStatus) -> None:
        self.status = status
        if self.history.ended is None and status.state in ACTIVE_STATES and self.started is None:
            self._set_state(status.state)


def _terminal_from_status(status: RunStatus) -> BaseEvent:
    """The terminal event a run that ended without writing one should have written."""
    when = status.updated_at or time.time()
    if status.state == "cancelled":
        return CancelledEvent(time=when, synthesized=True)
    if status.state == "finished":
        return FinishedEvent(time=when)
    return FailedEvent(time=when, synthesized=True, kind=status.kind or "vanished",
                       message=status.message or "the training process ended without saying why",
                       hint=status.hint or "read train.log in the run directory")
