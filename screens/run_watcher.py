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

Everything a watcher holds (`events`, `steps`, `evals`, `samples`, `state`, `config`) is read
and written on the event loop only: the file reads and status checks run in a thread
(`asyncio.to_thread`) and the results are applied back on the loop, so subscribers may read
them at any time without locks. Re-attaching replays the whole file (the tail starts at
offset 0), so a screen opened late still sees the full history.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from textual.message_pump import MessagePump

from workbench.events import EventTail, TERMINAL_TYPES
from workbench.runstore import ACTIVE_STATES, RunDir

from .messages import RunStateChanged, message_for

#: Metrics that rank runs, in the order the tasks use them (see `Task.main_metric`).
RANKING_METRICS = ("accuracy", "f1", "macro_f1")

if TYPE_CHECKING:
    import subprocess

    from workbench.config import RunConfig


class RunWatcher:
    """Follows one run directory until its terminal event, keeping everything it read."""

    poll_s = 0.2
    status_every_s = 1.0

    def __init__(self, run: RunDir, *, process: subprocess.Popen | None = None,
                 status: dict[str, Any] | None = None) -> None:
        self.run = run
        self.process = process
        self.events: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self.evals: list[dict[str, Any]] = []
        self.samples: dict[str, Any] | None = None
        self.started: dict[str, Any] | None = None
        self.ended: dict[str, Any] | None = None
        self.config: RunConfig | None = None
        self.status: dict[str, Any] = {}
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

    # -- what subscribers read ----------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def latest_step(self) -> dict[str, Any] | None:
        return self.steps[-1] if self.steps else None

    @property
    def validation_evals(self) -> list[dict[str, Any]]:
        return [e for e in self.evals if e.get("split", "validation") == "validation"]

    @property
    def best(self) -> dict[str, Any] | None:
        """The best validation metric so far: the run's own word once it has ended, else the best
        of the evaluations read (status.json lags behind them by up to a status check)."""
        if self.ended and self.ended.get("best_metric"):
            return self.ended["best_metric"]
        reported = self.status.get("best")
        evals = self.validation_evals
        name = (reported or {}).get("name") or next(
            (m for m in RANKING_METRICS if evals and m in evals[-1].get("metrics", {})), None)
        scored = [e for e in evals if isinstance(e.get("metrics", {}).get(name), (int, float))]
        if not scored:
            return reported
        top = max(scored, key=lambda e: e["metrics"][name])
        return {"name": name, "value": top["metrics"][name], "step": top.get("step")}

    # -- the worker body ----------------------------------------------------------------------
    async def follow(self) -> None:
        """Tail the run until it ends; run it as a worker (`app.watch_run` does)."""
        self.config = await asyncio.to_thread(self._read_config)
        self._apply_status(await asyncio.to_thread(self._read_status))
        next_status = time.monotonic() + self.status_every_s
        while True:
            self.absorb(await asyncio.to_thread(self._tail.poll))
            self.loaded = True
            if self.ended is not None:
                return
            if time.monotonic() >= next_status:
                next_status = time.monotonic() + self.status_every_s
                status = await asyncio.to_thread(self._read_status)
                if status.get("state") not in ACTIVE_STATES:
                    # The process has stopped: read what it wrote last, then end truthfully.
                    self.absorb(await asyncio.to_thread(self._tail.poll))
                    if self.ended is None:
                        self.absorb([_terminal_from_status(status)])
                    self._apply_status(status)
                    return
                self._apply_status(status)
            await asyncio.sleep(self.poll_s)

    def absorb(self, events: list[dict[str, Any]]) -> None:
        """Record new events and tell subscribers; a batch of steps is posted as its last one."""
        pending_step: dict[str, Any] | None = None
        for event in events:
            kind = event.get("type")
            self.events.append(event)
            if kind == "step":
                self.steps.append(event)
                pending_step = event
                continue
            if pending_step is not None:
                self._post(pending_step)
                pending_step = None
            if kind == "eval":
                self.evals.append(event)
            elif kind == "samples":
                self.samples = event
            elif kind == "started":
                self.started = event
                self.ended = None  # a resumed run: the earlier `cancelled`/`failed` is history
            elif kind in TERMINAL_TYPES:
                self.ended = event
            self._post(event)
            if kind == "started" or kind in TERMINAL_TYPES:
                self._set_state("running" if kind == "started" else kind)
        if pending_step is not None:
            self._post(pending_step)

    def _post(self, event: dict[str, Any]) -> None:
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

    def _read_status(self) -> dict[str, Any]:
        if self.process is not None:
            self.process.poll()  # reap our own child, so a finished run is not a zombie
        return self.run.status()

    def _apply_status(self, status: dict[str, Any]) -> None:
        self.status = status
        if self.ended is None and status.get("state") in ACTIVE_STATES and self.started is None:
            self._set_state(status["state"])


def _terminal_from_status(status: dict[str, Any]) -> dict[str, Any]:
    """The terminal event a run that ended without writing one should have written."""
    state = status.get("state")
    if state not in TERMINAL_TYPES:
        state = "failed"
    event: dict[str, Any] = {"type": state, "time": status.get("updated_at", time.time()), "synthesized": True}
    for key in ("kind", "message", "hint"):
        if status.get(key):
            event[key] = status[key]
    if state == "failed":
        event.setdefault("message", "the training process ended without saying why")
        event.setdefault("hint", "read train.log in the run directory")
    return event


