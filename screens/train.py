"""Train: how is it going? Live progress, curves, figures and the log of one run.

The screen subscribes to the app's `RunWatcher` for its run and treats every message as "the
run moved on": it logs the events it hasn't shown yet and redraws from the watcher's complete
lists, so collapsed step messages lose nothing and re-attaching shows the whole history.

It costs the training process as little CPU as it can (they share the machine): nothing is
drawn while the screen is hidden (it catches up when shown again), and the curves, the only
expensive widgets, are redrawn at most once a second for new steps.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from textual import on, work
from textual.worker import get_current_worker
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal


from workbench import runner
from workbench.diagnostics import diagnostics_of
from workbench.runstore import RunDir

from .base import WorkbenchScreen
from .dialogs import ConfirmDialog
from .messages import RunEvent
from .widgets.curves import FRACTION_METRICS, RunCurve, loss_series, metric_series
from .widgets.diagnostics import DiagnosticsPanel
from .widgets.footer import WorkbenchFooter
from .widgets.header import WorkbenchHeader
from .widgets.log_tail import RunLog
from .widgets.progress_panel import TrainProgress
from .widgets.stats_panel import StatsPanel, run_stats

if TYPE_CHECKING:
    from .run_watcher import RunWatcher

class TrainScreen(WorkbenchScreen):
    TITLE = "Train"
    CSS_PATH = "train.tcss"
    BINDINGS = [Binding("ctrl+x", "cancel_run", "Cancel run")]
    #: Seconds between curve redraws for new steps (an evaluation or the end redraws at once).
    curves_every_s = 1.0
    #: A long history is shown as its last events: the log keeps 500 lines anyway.
    log_backlog = 600

    def __init__(self, run: RunDir, watcher: RunWatcher) -> None:
        """`watcher` is the app's one `RunWatcher` for `run`; the screen subscribes while mounted."""
        super().__init__()
        self.run = run
        self.watcher = watcher
        self._shown_events = 0
        self._plotted = (-1, -1)
        self._plotted_at = 0.0
        self._cancel_requested = False
        self._was_active = True
        self._diagnosed: tuple[int, bool] | None = None

    def compose(self) -> ComposeResult:
        yield WorkbenchHeader()
        yield TrainProgress(id="progress")
        with Horizontal(id="charts"):
            yield RunCurve("loss", empty="waiting for the first step", id="loss-curve")
            yield RunCurve("eval", empty="no evaluation yet", marker="hd", id="metric-curve")
            yield StatsPanel(id="stats")
        yield DiagnosticsPanel(clip=True, limit=3, id="diagnostics")
        yield RunLog(id="log")
        yield WorkbenchFooter()

    def on_mount(self) -> None:
        self.watcher.subscribe(self)
        self.set_interval(self.curves_every_s, self._draw_pending_curves)
        self._catch_up()

    def on_screen_resume(self) -> None:
        self._catch_up()

    def on_unmount(self) -> None:
        self.watcher.unsubscribe(self)

    @on(RunEvent)
    def _on_run_event(self, message: RunEvent) -> None:
        if message.run == self.run:
            self._catch_up()

    def _catch_up(self) -> None:
        """Show everything the watcher has that this screen hasn't shown yet."""
        watcher = self.watcher
        if not self.is_current:
            return  # hidden: on_screen_resume catches up
        with self.app.batch_update():
            log = self.query_one(RunLog)
            for event in watcher.events[max(self._shown_events, len(watcher.events) - self.log_backlog):]:
                log.add(event, watcher.history.training_seconds() if event.type == "finished" else None)
            self._shown_events = len(watcher.events)
            self._show_progress(watcher)
            self._show_curves(watcher)
            evals = watcher.validation_evals
            self.query_one(StatsPanel).show(run_stats(watcher.latest_step, watcher.started, watcher.best, watcher.ended,
                                                      elapsed_s=watcher.history.elapsed_seconds(),
                                                      latest_eval=evals[-1] if evals else None))
            self._show_diagnostics(watcher)
        if watcher.active != self._was_active:
            self._was_active = watcher.active
            if self.is_current:
                self.refresh_bindings()  # the cancel key goes once the run is over

    def _show_diagnostics(self, watcher: RunWatcher) -> None:
        """Check the run after each evaluation and at its end, not for every step."""
        moment = (len(watcher.evals), watcher.ended is not None)
        if moment != self._diagnosed:
            self._diagnosed = moment
            self._diagnose(watcher)

    @work(thread=True, exclusive=True, group="diagnose", exit_on_error=False)
    def _diagnose(self, watcher: RunWatcher) -> None:
        """`diagnostics_of` folds every step (18 ms for 10,000 steps): off the event loop. The
        watcher only appends to its history meanwhile, and a later evaluation diagnoses again."""
        try:
            found = diagnostics_of(watcher.history)
        except RuntimeError:  # the history changed under the fold: the next evaluation checks again
            return
        if get_current_worker().is_cancelled:
            return  # a newer evaluation's diagnosis replaces this one
        self.app.call_from_thread(self.query_one(DiagnosticsPanel).show, found)

    def _draw_pending_curves(self) -> None:
        if self.is_current:
            self._show_curves(self.watcher)

    def _show_progress(self, watcher: RunWatcher) -> None:
        progress = self.query_one(TrainProgress)
        epochs = watcher.config.training.epochs if watcher.config and not watcher.config.training.max_steps else None
        if watcher.latest_step is not None:
            progress.show_step(watcher.latest_step, epochs)
        elif watcher.started is not None:  # training begins: nothing logged yet
            progress.show_step({"step": 0, "epoch": 0.0, "total_steps": watcher.started.get("total_steps")}, epochs)
        if watcher.ended is not None:
            self._cancel_requested = False  # done with; a resume started elsewhere is a new segment
            progress.show_end(watcher.state, watcher.ended, watcher.latest_step, duration_s=watcher.history.training_seconds())
        elif self._cancel_requested:
            progress.show_waiting("cancelling: saving a checkpoint…")
        elif watcher.state == "starting" and watcher.history.ended is not None:  # resumed elsewhere, loading
            progress.show_waiting("resuming: loading model and data…")
        elif watcher.started is None:
            progress.show_waiting("starting: loading model and data…" if watcher.loaded else "reading the run…")

    def _show_curves(self, watcher: RunWatcher) -> None:
        counts = (len(watcher.steps), len(watcher.evals))
        if counts == self._plotted:
            return
        urgent = counts[1] != self._plotted[1] or watcher.ended is not None or self._plotted[0] <= 0
        if not urgent and time.monotonic() - self._plotted_at < self.curves_every_s:
            return  # the interval timer draws these steps shortly
        self._plotted, self._plotted_at = counts, time.monotonic()
        loss = loss_series(watcher.steps)
        self.query_one("#loss-curve", RunCurve).show(loss)
        evals = watcher.validation_evals
        metric = watcher.main_metric  # the task's own, as the run wrote it (RunHistory)
        if metric:
            xlim = (loss.xs[0], loss.xs[-1]) if loss.xs else None
            ybounds = (0.0, 1.0) if metric in FRACTION_METRICS else None
            self.query_one("#metric-curve", RunCurve).show(metric_series(evals, metric), title=f"eval {metric}", xlim=xlim,
                                                           ybounds=ybounds)

    # -- cancel -------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_run":
            return self.watcher.active  # over: nothing to cancel, no key
        return True

    @work(exit_on_error=False, group="cancel")
    async def action_cancel_run(self) -> None:
        confirmed = await self.app.push_screen_wait(
            ConfirmDialog(
                "Cancel run?",
                f"Stop {self.run.id}? It saves a checkpoint first; `tlwb resume` continues it later.",
                confirm="Cancel run",
                keep="Keep running",
            )
        )
        if not confirmed:
            return
        if await asyncio.to_thread(runner.cancel, self.run):
            self._cancel_requested = True
            self.notify(f"stopping {self.run.id}: saving a checkpoint…")
            self._catch_up()
        else:
            self.notify(f"{self.run.id} is not running", severity="warning")
