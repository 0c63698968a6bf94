"""Runs: what have I run? Every run in the runs directory, live, with open/compare/re-run/delete.

A worker rescans the directory every couple of seconds while the screen is shown (status files
only, plus an incremental tail of each running run's events for its progress), so a run started
by `tlwb train` in another terminal appears, and running rows move on their own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Static

from workbench import humanize
from workbench.config import RunConfig
from workbench.errors import RunError
from workbench.run_summary import summarize
from workbench.runstore import ACTIVE_STATES, RunDir, RunSummary, list_runs

from .base import WorkbenchScreen
from .dialogs import ConfirmDialog
from .messages import RunsChanged
from .widgets.footer import WorkbenchFooter
from .widgets.header import WorkbenchHeader
from .widgets.run_table import WARNING, RunTable, model_name

RESCAN_S = 2.0


class RunScanner:
    """Reads summaries of every run (`summarize`: status with liveness by lock, and each run's
    RunHistory, read incrementally, which also gives a running run's last step)."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir

    def scan(self) -> list[RunSummary]:
        return [summarize(run) for run in list_runs(self.runs_dir)]


def describe_run(summary: RunSummary) -> Text:
    """The lines under the table for the highlighted run: how it's doing (or why it failed),
    what it is, and the first thing its diagnosis found (`⚠`)."""
    text = Text(summary.id, style="bold")
    text.append(" · ")
    if summary.state == "failed":
        text.append(f"✗ failed: {summary.message or 'no reason recorded'}", style="bold red")
        if summary.hint:
            text.append(f"\n  hint: {summary.hint}", style="red")
        return text
    step = summary.extra.get("step")
    if summary.state in ACTIVE_STATES and step:
        eta = f" · ETA {humanize.duration(step['eta_s'])}" if step.get("eta_s") is not None else ""
        text.append(f"step {step['step']:,}/{step.get('total_steps') or '?'}{eta}")
    else:
        text.append(summary.state)
    best = f"best {summary.best_metric} {humanize.number(summary.best_value)} · " if summary.best_metric else ""
    text.append(f"\n  {best}{summary.task} · {model_name(summary)} · {summary.method} · {summary.data}",
                style="dim")
    if summary.diagnostics:
        first = summary.diagnostics[0]
        more = f" (+{len(summary.diagnostics) - 1} more in Results)" if len(summary.diagnostics) > 1 else ""
        text.append(f"\n  {WARNING} {first['message']}{more}", style="yellow")
    return text


class RunsScreen(WorkbenchScreen):
    """Every run in `runs_dir`; asks the app to open, re-run or delete one with the messages below."""

    TITLE = "Runs"
    CSS_PATH = "runs.tcss"
    BINDINGS = [
        Binding("space", "mark", "Mark"),
        Binding("c", "compare", "Compare"),
        Binding("r", "rerun", "Re-run"),
        Binding("d,delete", "delete", "Delete"),
    ]

    class OpenRun(Message):
        """Show `run`: Train while it is going, Results once it has ended."""

        def __init__(self, run: RunDir) -> None:
            super().__init__()
            self.run = run

    class Rerun(Message):
        """Open Setup filled with `config`, the config of the run to do again."""

        def __init__(self, config: RunConfig) -> None:
            super().__init__()
            self.config = config

    class DeleteRun(Message):
        """Delete `run` (ended, and confirmed by the user): stop watching it, then remove its folder."""

        def __init__(self, run: RunDir) -> None:
            super().__init__()
            self.run = run

    def __init__(self, runs_dir: Path, clock: Callable[[], float]) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.clock = clock
        self.summaries: dict[str, RunSummary] = {}
        self.marked: list[str] = []
        self._scanner: RunScanner | None = None
        self._scanning = False

    def compose(self) -> ComposeResult:
        yield WorkbenchHeader()
        yield RunTable(id="runs-table")
        yield Static(id="run-detail")
        yield WorkbenchFooter()

    def on_mount(self) -> None:
        self._scanner = RunScanner(self.runs_dir)
        self.set_interval(RESCAN_S, self._rescan_if_shown)

    def on_screen_resume(self) -> None:
        self.rescan()

    def _rescan_if_shown(self) -> None:
        if self.is_current:
            self.rescan()

    # -- scanning -----------------------------------------------------------------------------
    @work(exit_on_error=False, group="scan")
    async def rescan(self) -> None:
        if self._scanning or self._scanner is None:
            return
        self._scanning = True
        try:
            summaries = await asyncio.to_thread(self._scanner.scan)
        finally:
            self._scanning = False
        self.show(summaries)
        self.post_message(RunsChanged(summaries))

    def show(self, summaries: list[RunSummary]) -> None:
        self.summaries = {s.id: s for s in summaries}
        self.marked = [run_id for run_id in self.marked if run_id in self.summaries]
        table = self.query_one(RunTable)
        table.show(summaries, lambda run_id: run_id in self.marked, self.clock())
        table.border_title = f"{self.runs_dir} · {len(summaries)} run{'s' if len(summaries) != 1 else ''}"
        self._describe_current()

    @on(DataTable.RowHighlighted)
    def _describe_current(self) -> None:
        detail = self.query_one("#run-detail", Static)
        current = self.current
        if current is not None:
            detail.update(describe_run(current))
        elif not self.summaries:
            detail.update(Text(f"no runs in {self.runs_dir} yet — ctrl+n sets one up, "
                               "or run `tlwb train presets/quickstart.toml` in another terminal", style="dim"))
        else:
            detail.update("")

    @property
    def current(self) -> RunSummary | None:
        run_id = self.query_one(RunTable).current_id
        return self.summaries.get(run_id) if run_id else None

    # -- actions ------------------------------------------------------------------------------
    @on(DataTable.RowSelected)
    def action_open(self) -> None:
        if self.current is not None:
            self.post_message(self.OpenRun(RunDir(self.current.path)))

    def action_mark(self) -> None:
        current = self.current
        if current is None:
            return
        if current.id in self.marked:
            self.marked.remove(current.id)
        else:
            self.marked = (self.marked + [current.id])[-2:]
        self.show(list(self.summaries.values()))
        if len(self.marked) == 2:
            self.notify("two runs marked: press c to compare them", timeout=3)

    def action_compare(self) -> None:
        from .compare import CompareScreen

        chosen = list(self.marked)
        if len(chosen) == 1 and self.current is not None and self.current.id not in chosen:
            chosen.append(self.current.id)
        if len(chosen) != 2:
            self.notify("mark two runs with space, then press c", severity="warning")
            return
        self.app.push_screen(CompareScreen(*(RunDir(self.summaries[run_id].path) for run_id in chosen)))

    @work(exit_on_error=False, group="rerun")
    async def action_rerun(self) -> None:
        if self.current is None:
            return
        config = await asyncio.to_thread(RunDir(self.current.path).config)
        self.post_message(self.Rerun(config))

    @work(exit_on_error=False, group="delete")
    async def action_delete(self) -> None:
        current = self.current
        if current is None:
            return
        if current.state in ACTIVE_STATES or await asyncio.to_thread(RunDir(current.path).is_alive):
            raise RunError(f"{current.id} is {current.state if current.state in ACTIVE_STATES else 'running'}",
                           "open it and cancel it (ctrl+x) before deleting")
        confirmed = await self.app.push_screen_wait(
            ConfirmDialog("Delete run?", f"Delete {current.id} and everything in it (model, checkpoints, logs)?",
                          confirm="Delete", keep="Keep it")
        )
        if not confirmed:
            return
        self.post_message(self.DeleteRun(RunDir(current.path)))  # the app rescans this screen once it's gone
