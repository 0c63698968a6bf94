"""WorkbenchApp: the screens, the keys that switch between them, and one watcher per run.

`run_app` (what `tlwb` calls) and the tests build the app the same way:
`WorkbenchApp(runs_dir, preset=None, run=None)`. Screens never call it: they post messages that
bubble up to it, and it handles them here —

- `SetupScreen.StartRun(config)` → pre-flight, launch, Train (`start_run`);
- `RunsScreen.OpenRun(run)` → Train or Results (`open_run`); `RunsScreen.Rerun(config)` → Setup;
  `RunsScreen.DeleteRun(run)` → stop watching, delete the folder, rescan Runs;
- `RunsChanged(summaries)` → the runs the command palette offers;
- `WorkbenchScreen.WorkerFailed(worker)` → a one-line notification.

What a screen reads from the app it gets in its constructor: the runs directory and clock (Runs,
Setup) or the app's one `RunWatcher` for its run (Train, Results; see `screens/run_watcher.py`).
Slow work (launching, reading status, deleting) happens in workers.

Each kind of screen lives in a slot (setup, train, results, runs); switching keeps the slot's
screen alive, so a half-filled Setup form or a Train screen's curves survive a visit to Runs.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import var
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from workbench import preflight, runner
from workbench.errors import RunError, WorkbenchError
from workbench.runstore import RunDir, RunSummary, list_runs, resolve_run

from . import hangup
from .commands import WorkbenchCommands
from .dialogs import ConfirmDialog, QuitDialog
from .base import WorkbenchScreen
from .messages import RunEnded, RunsChanged, RunStarted, RunStateChanged
from .run_watcher import RunWatcher
from .widgets.header import RunBadge

if TYPE_CHECKING:
    import subprocess

    from workbench.config import RunConfig

    from .runs import RunsScreen
    from .setup import SetupScreen

#: Which slot each screen-switching action shows (used to hide the key for the current one).
SLOT_OF_ACTION = {"show_setup": "setup", "show_train": "train", "show_results": "results", "show_runs": "runs"}


class NonBlockingExecutor(ThreadPoolExecutor):
    """The app loop's default executor (what `asyncio.to_thread` and thread workers run on).

    `asyncio.run` shuts the default executor down when the app ends and, by default, joins its
    threads: quitting would wait for a model inspection to finish. This one never waits.
    """

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=True)


class WorkbenchApp(App[None]):
    """The transfer-learning workbench."""

    TITLE = "tlwb"
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {WorkbenchCommands}
    BINDINGS = [
        Binding("ctrl+n,f2", "show_setup", "Setup", priority=True),
        Binding("ctrl+g,f3", "show_train", "Train", priority=True),
        Binding("ctrl+e,f4", "show_results", "Results", priority=True),
        Binding("ctrl+r,f5", "show_runs", "Runs", priority=True),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    #: Set by `run_app` in a real terminal: quitting gives the terminal back and ends the process
    #: at once, instead of Textual's orderly teardown of every screen's widgets (seconds on a busy
    #: machine) and a join of busy worker threads. Nothing is lost: runs are separate processes
    #: and everything the app writes (presets, exports) is written atomically before it returns.
    fast_exit = False

    run_badge: var[RunBadge | None] = var(None)
    """The current run and its state, as the header shows it."""

    def __init__(self, runs_dir: Path, preset: str | None = None, run: str | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.runs_dir = Path(runs_dir)
        self.clock = clock
        self.current_run: RunDir | None = None
        self.known_runs: list[RunSummary] = []  # the Runs screen's latest scan, for the palette
        self._initial_preset = preset
        self._initial_run = run
        self._watchers: dict[RunDir, RunWatcher] = {}
        self._started_here: set[RunDir] = set()
        self._slots: dict[str, tuple[str, Screen]] = {}  # slot -> (its mode, its screen)
        self._modes_made = 0

    # -- start-up ---------------------------------------------------------------------------
    def on_load(self) -> None:
        asyncio.get_running_loop().set_default_executor(NonBlockingExecutor(thread_name_prefix="tlwb-worker"))

    def on_mount(self) -> None:
        self._open_first_screen()
        terminal = None if self.is_headless else hangup.terminal_fd()
        if terminal is not None:  # SIGHUP may be ignored (nohup): notice a closed terminal anyway
            hangup.watch(terminal)

    @work(exit_on_error=False, group="startup")
    async def _open_first_screen(self) -> None:
        if self._initial_run:
            try:
                run = await asyncio.to_thread(resolve_run, self._initial_run, self.runs_dir)
            except WorkbenchError:
                self.open_runs()
                raise
            self.open_run(run)
        elif self._initial_preset:
            from workbench.presets import load_config

            try:
                config = await asyncio.to_thread(load_config, self._initial_preset, [])
            except WorkbenchError:
                self.open_setup()
                raise
            self.open_setup(config)
        elif await asyncio.to_thread(list_runs, self.runs_dir):
            self.open_runs()
        elif not self.open_setup():  # a first visit with no runs starts at Setup
            self.open_runs()

    # -- navigation (what other screens call) ------------------------------------------------
    def open_setup(self, config: RunConfig | None = None) -> bool:
        """Show Setup, pre-filled with `config` when given; False if Setup isn't available."""
        try:
            from .setup import SetupScreen
        except ImportError:
            self.notify("the Setup screen is not available in this build", severity="warning")
            return False
        kept = self.kept_screen("setup")
        self._show("setup", kept if kept is not None and config is None else SetupScreen(config, runs_dir=self.runs_dir))
        return True

    def start_run(self, config: RunConfig) -> Worker[None]:
        """Pre-flight `config`, then launch a training process and show its Train screen (in a worker).

        Pre-flight errors are each notified (message and hint) and nothing is launched, so no
        run directory is made for a run that would fail; warnings are notified, then it starts.
        """
        return self._launch(config)

    @work(exit_on_error=False, group="launch")
    async def _launch(self, config: RunConfig) -> None:
        self.notify(f"checking {config.model.name} and the data…", timeout=3)
        report = await asyncio.to_thread(preflight.preflight, config, self.runs_dir)
        for error in report.errors:
            self.notify(error.hint or " ", title=f"can't start: {error.message}", severity="error", timeout=12)
        if report.errors:
            return
        for warning in report.warnings:
            self.notify(warning.hint or " ", title=warning.message, severity="warning", timeout=8)
        self.notify(f"starting a run of {config.model.name}…", timeout=3)
        run, process = await asyncio.to_thread(runner.launch, config, self.runs_dir)
        self._started_here.add(run)
        self.watch_run(run, process=process)
        self.show_train(run)

    def open_run(self, run: RunDir) -> Worker[None]:
        """Train screen for a starting or running run (re-attach), Results for any other."""
        return self._open_run(run)

    @work(exit_on_error=False, group="open")
    async def _open_run(self, run: RunDir) -> None:
        status = await asyncio.to_thread(run.status)
        watcher = self._watchers.get(run)
        if watcher is not None and not watcher.active and status.get("state") in ("starting", "running"):
            del self._watchers[run]  # resumed since we last watched it: follow it afresh
        self.watch_run(run, status=status)
        if status.get("state") in ("starting", "running"):
            self.show_train(run)
        else:
            self.open_results(run)

    def show_train(self, run: RunDir) -> None:
        from .train import TrainScreen

        kept = self.kept_screen("train")
        watcher = self._make_current(run)
        same = isinstance(kept, TrainScreen) and kept.run == run and kept.watcher is watcher
        self._show("train", kept if same else TrainScreen(run, watcher))

    def open_results(self, run: RunDir) -> None:
        try:
            from .results import ResultsScreen
        except ImportError:
            self.notify("the Results screen is not available in this build; showing the run's log", severity="warning")
            self.show_train(run)
            return
        kept = self.kept_screen("results")
        watcher = self._make_current(run)
        same = isinstance(kept, ResultsScreen) and kept.run == run and kept.watcher is watcher
        self._show("results", kept if same else ResultsScreen(run, watcher))

    def open_runs(self) -> None:
        from .runs import RunsScreen

        self._show("runs", self.kept_screen("runs") or RunsScreen(self.runs_dir, self.clock))

    def _show(self, slot: str, screen: Screen) -> None:
        """Make `screen` current as the screen of `slot`.

        Each slot's screen is the base of its own Textual mode, so the screen of a slot you leave
        stays alive with whatever was pushed over it (a compare view, a dialog) and is closed
        properly on exit. A new screen for a slot gets a fresh mode; the old one is removed.
        """
        kept = self._slots.get(slot)
        if kept is not None and kept[1] is screen:
            self.switch_mode(kept[0])
        else:
            self._modes_made += 1
            mode = f"{slot}-{self._modes_made}"
            self.add_mode(mode, lambda: screen)
            self._slots[slot] = (mode, screen)
            self.switch_mode(mode)
            if kept is not None:
                self.remove_mode(kept[0])

    def kept_screen(self, slot: str) -> Screen | None:
        """The screen a slot (setup, train, results, runs) keeps, if it has been shown."""
        kept = self._slots.get(slot)
        return kept[1] if kept else None

    def current_slot(self) -> str | None:
        return next((slot for slot, (mode, _) in self._slots.items() if mode == self.current_mode), None)

    # -- what screens ask for (their messages bubble up to the app) ----------------------------
    def on_setup_screen_start_run(self, message: SetupScreen.StartRun) -> None:
        self.start_run(message.config)

    def on_runs_screen_open_run(self, message: RunsScreen.OpenRun) -> None:
        self.open_run(message.run)

    def on_runs_screen_rerun(self, message: RunsScreen.Rerun) -> None:
        self.open_setup(message.config)

    def on_runs_screen_delete_run(self, message: RunsScreen.DeleteRun) -> None:
        self.forget_run(message.run)
        self._delete(message.run)

    @work(exit_on_error=False, group="delete")
    async def _delete(self, run: RunDir) -> None:
        if await asyncio.to_thread(run.is_alive):  # the lock, not a status that may be stale
            raise RunError(f"{run.id} is still training", "open it and cancel it (ctrl+x) before deleting")
        await asyncio.to_thread(run.delete)
        self.notify(f"deleted {run.id}")
        from .runs import RunsScreen

        runs = self.kept_screen("runs")
        if isinstance(runs, RunsScreen):
            runs.rescan()

    def on_runs_changed(self, message: RunsChanged) -> None:
        self.known_runs = message.summaries

    def on_workbench_screen_worker_failed(self, message: WorkbenchScreen.WorkerFailed) -> None:
        self.report_worker_failure(message.worker)

    # -- key actions --------------------------------------------------------------------------
    def action_show_setup(self) -> None:
        self.open_setup()

    def action_show_runs(self) -> None:
        self.open_runs()

    def action_show_train(self) -> None:
        if self.current_run is None:
            self.notify("no run yet: start one from Setup or open one from Runs", severity="warning")
            return
        self.show_train(self.current_run)

    def action_show_results(self) -> None:
        if self.current_run is None:
            self.notify("no run yet: open one from Runs", severity="warning")
            return
        self.open_results(self.current_run)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        slot = SLOT_OF_ACTION.get(action)
        if slot is None:
            return True
        if slot == self.current_slot():
            return False  # hide the key for the screen you're on: the footer has little room
        if slot in ("train", "results") and self.current_run is None:
            return False
        return True

    async def action_quit(self) -> None:
        going = [watcher.run for watcher in self._watchers.values() if watcher.active]
        if not going:
            self.exit()
            return
        self._ask_about_going_runs(going)

    @work(exit_on_error=False, group="quit")
    async def _ask_about_going_runs(self, going: list[RunDir]) -> None:
        answer = await self.push_screen_wait(QuitDialog([run.id for run in going]))
        if answer == "cancel":
            for run in going:
                await asyncio.to_thread(runner.cancel, run)
            self.exit(message=f"asked {len(going)} run(s) to stop; each saves a checkpoint first")
        elif answer == "leave":
            ids = " ".join(run.id for run in going)
            self.exit(message=f"left running: {ids}\nre-attach with `tlwb` (Runs) or `tlwb attach RUN`")

    # -- command palette ----------------------------------------------------------------------
    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Setup", "Set up a new run (ctrl+n)", self.action_show_setup)
        yield SystemCommand("Runs", "All runs in the runs directory (ctrl+r)", self.action_show_runs)
        if self.current_run is not None:
            yield SystemCommand("Train", f"Live progress of {self.current_run.id} (ctrl+g)", self.action_show_train)
            yield SystemCommand("Results", f"Metrics and predictions of {self.current_run.id} (ctrl+e)", self.action_show_results)
        for summary in self.known_runs[:50]:
            run = RunDir(summary.path)
            yield SystemCommand(f"Open run {summary.id}", f"{summary.state} · {summary.model} · {summary.method}",
                                lambda run=run: self.open_run(run), discover=False)
        yield from super().get_system_commands(screen)

    def exit(self, result: None = None, return_code: int = 0, message: object = None) -> None:  # type: ignore[override]
        if self.fast_exit and self._driver is not None and not self.is_headless:
            self._leave_now(return_code, message)
        super().exit(result, return_code, message)  # type: ignore[arg-type]

    def _leave_now(self, return_code: int, message: object) -> None:
        """Restore the terminal, say `message`, end the process (see `fast_exit`)."""
        try:
            self._driver.stop_application_mode()  # type: ignore[union-attr]
            self._driver.close()  # type: ignore[union-attr]  # its writer thread has written all
            if message is not None:
                from rich.console import Console

                Console(file=sys.__stderr__).print(message)  # sys.stderr is still Textual's capture here
            for stream in (sys.__stdout__, sys.__stderr__):
                if stream is not None:
                    stream.flush()
        except Exception:  # the orderly way still works
            return
        os._exit(return_code)

    # -- what the palette's commands ask for (screens/commands.py) ------------------------------
    def on_setup(self, action: str) -> None:
        """Show Setup, then run one of its actions (train, open or save a preset)."""
        if not self.open_setup():
            return
        setup = self.kept_screen("setup")
        self.call_after_refresh(getattr(setup, action))

    @work(exit_on_error=False, group="cancel")
    async def cancel_run(self, run: RunDir) -> None:
        """Ask, then stop a run that is going (what ctrl+x does on Train), from any screen."""
        confirmed = await self.push_screen_wait(ConfirmDialog(
            "Cancel run?", f"Stop {run.id}? It saves a checkpoint first; `tlwb resume` continues it later.",
            confirm="Cancel run", keep="Keep running"))
        if not confirmed:
            return
        if await asyncio.to_thread(runner.cancel, run):
            self.notify(f"stopping {run.id}: saving a checkpoint…")
        else:
            self.notify(f"{run.id} is not running", severity="warning")

    @work(exit_on_error=False, group="resume")
    async def resume_run(self, run: RunDir) -> None:
        """Continue a cancelled or failed run from its last checkpoint and follow it on Train."""
        process = await asyncio.to_thread(runner.resume, run)
        watcher = self._watchers.get(run)
        if watcher is not None and not watcher.active:
            self.forget_run(run)  # follow the new segment afresh
        self._started_here.add(run)
        self.watch_run(run, process=process)
        self.notify(f"resuming {run.id}…", timeout=3)
        self.show_train(run)

    def export_run(self, run: RunDir) -> None:
        """Results for `run`, then its export dialog (ctrl+s there)."""
        self.open_results(run)
        results = self.kept_screen("results")
        self.call_after_refresh(results.action_export)  # type: ignore[union-attr]

    def compare_runs(self, run_a: RunDir, run_b: RunDir) -> None:
        from .compare import CompareScreen

        self.push_screen(CompareScreen(run_a, run_b))

    # -- runs and their watchers --------------------------------------------------------------
    def watch_run(self, run: RunDir, *, process: subprocess.Popen | None = None,
                  status: dict | None = None) -> RunWatcher:
        """The one watcher for `run`, started on first use; the app stays subscribed to it.

        `status`, when the caller has just read it, gives the watcher its state at once.
        """
        watcher = self._watchers.get(run)
        if watcher is None:
            watcher = self._watchers[run] = RunWatcher(run, process=process, status=status).subscribe(self)
            self.run_worker(watcher.follow(), name=f"watch {run.id}", group="watch", exit_on_error=False)
        elif process is not None and watcher.process is None:
            watcher.process = process
        return watcher

    def forget_run(self, run: RunDir) -> None:
        """Stop watching a run (it was deleted); the header drops it if it was current."""
        watcher = self._watchers.pop(run, None)
        if watcher is not None:
            for worker in self.workers:
                if worker.name == f"watch {run.id}":
                    worker.cancel()
        if self.current_run == run:
            self.current_run = None
            self.run_badge = None
            self.refresh_bindings()

    @property
    def going_runs(self) -> list[RunDir]:
        return [watcher.run for watcher in self._watchers.values() if watcher.active]

    def _make_current(self, run: RunDir) -> RunWatcher:
        self.current_run = run
        watcher = self.watch_run(run)
        self._update_badge(watcher)
        return watcher

    def _update_badge(self, watcher: RunWatcher) -> None:
        if watcher.run == self.current_run:
            device = (watcher.started or {}).get("device", "")
            self.run_badge = RunBadge(watcher.run.id, watcher.state, device)

    def on_run_state_changed(self, message: RunStateChanged) -> None:
        self._badge_for(message.run)

    def on_run_started(self, message: RunStarted) -> None:
        self._badge_for(message.run)

    def on_run_ended(self, message: RunEnded) -> None:
        if not self.is_running:
            return  # shutting down: there are no screens left to update
        self._badge_for(message.run)
        run = message.run
        showing_it = getattr(self.screen, "run", None) == run
        if message.state == "finished" and run in self._started_here and self.current_slot() == "train" and showing_it:
            self._land_on_results(run)
        elif not showing_it and message.run in self._started_here:
            severity = "information" if message.state == "finished" else "warning"
            self.notify(f"{run.id} {message.state}", severity=severity)

    def _land_on_results(self, run: RunDir) -> None:
        try:
            from .results import ResultsScreen  # noqa: F401
        except ImportError:
            return  # stay on Train, which shows the final metrics
        self.open_results(run)

    def _badge_for(self, run: RunDir) -> None:
        watcher = self._watchers.get(run)
        if watcher is not None:
            self._update_badge(watcher)

    # -- errors -------------------------------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.report_worker_failure(event.worker)

    def report_worker_failure(self, worker: Worker) -> None:
        """Every worker's failure ends here (screens send theirs as `WorkerFailed`): a one-line
        notification, never a traceback."""
        error = worker.error
        if isinstance(error, WorkbenchError):
            self.notify(error.hint or " ", title=error.message, severity="error", timeout=8)
        else:
            self.log.error(f"worker {worker.name} failed: {error!r}")
            self.notify(f"{type(error).__name__}: {error}", title="unexpected error", severity="error", timeout=8)


def run_app(runs_dir: Path, preset: str | None = None, run: str | None = None, **run_options: Any) -> None:
    """Run the workbench in this terminal (what `tlwb` with no subcommand does).

    Quitting returns the terminal at once, whatever a worker thread is doing (inspecting a
    model can take many seconds): once Textual has restored the terminal and printed its exit
    message, a process with threads still going ends there (`os._exit`) instead of joining them,
    so nothing they would print (a library's warning) reaches the shell.
    """
    quiet_libraries()
    app = WorkbenchApp(runs_dir, preset=preset, run=run)
    app.fast_exit = True
    app.run(**run_options)
    if lingering_threads():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(app.return_code or 0)


def quiet_libraries() -> None:
    """Libraries' warnings and progress bars would scribble over the screen (and onto the shell
    after quitting): the app shows what matters itself."""
    warnings.simplefilter("ignore")
    for name, value in (("TRANSFORMERS_VERBOSITY", "error"), ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1"),
                        ("HF_DATASETS_DISABLE_PROGRESS_BARS", "1"), ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
                        ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(name, value)


def lingering_threads() -> list[threading.Thread]:
    """Threads that would keep the interpreter from exiting (workers still busy)."""
    return [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive() and not t.daemon]
