"""The command palette's workbench actions (ctrl+p): a Textual `Provider` the app registers.

What people look for in a palette, from any screen: start training, open or save a preset
(Setup's), cancel a run that is going, export or resume a run, compare two runs. Each command
asks the app (or the screen that owns the action) to do it, exactly as the keys do; commands
that can't apply now (no run going, nothing to resume) are not offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol

from textual.command import DiscoveryHit, Hit, Hits, Provider

from workbench.runstore import RunDir, RunSummary

#: Runs offered for resume or compare (the newest first).
MAX_RUNS = 20


class WorkbenchActions(Protocol):
    """What the palette asks of the app (`WorkbenchApp` provides it; this module never imports
    the app, which registers this provider)."""

    current_run: RunDir | None
    known_runs: list[RunSummary]

    @property
    def going_runs(self) -> list[RunDir]: ...
    def on_setup(self, action: str) -> None: ...
    def cancel_run(self, run: RunDir) -> Any: ...
    def resume_run(self, run: RunDir) -> Any: ...
    def export_run(self, run: RunDir) -> None: ...
    def compare_runs(self, run_a: RunDir, run_b: RunDir) -> None: ...


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable[[], object]
    #: Shown when the palette opens with nothing typed (the others appear when searched for).
    discover: bool = True


def workbench_commands(app: WorkbenchActions) -> Iterator[Command]:
    """Every workbench command that applies now, in the order the palette lists them."""
    yield Command("Start training", "Train what Setup describes (ctrl+t on Setup)", lambda: app.on_setup("action_train"))
    yield Command("Open preset…", "Fill Setup from a shipped or saved preset (ctrl+o on Setup)", lambda: app.on_setup("action_open_preset"))
    yield Command("Save preset…", "Save Setup's settings as a preset (ctrl+s on Setup)", lambda: app.on_setup("action_save_preset"))
    for run in app.going_runs:
        yield Command(f"Cancel run {run.id}", "Stop it; it saves a checkpoint first (`tlwb resume` continues it)",
                      lambda run=run: app.cancel_run(run))
    current = app.current_run
    if current is not None:
        yield Command(f"Export {current.id}", "Save the trained model or adapter to a folder (ctrl+s on Results)",
                      lambda: app.export_run(current))
    summaries = app.known_runs[:MAX_RUNS]
    for summary in summaries:
        if summary.state in ("cancelled", "failed"):
            run = RunDir(summary.path)
            yield Command(f"Resume {summary.id}", f"{summary.state}: continue from its last checkpoint",
                          lambda run=run: app.resume_run(run), discover=len(summaries) <= 5)
    base = current or (RunDir(summaries[0].path) if summaries else None)
    others = [summary for summary in summaries if base is not None and summary.id != base.id]
    for index, summary in enumerate(others):
        other = RunDir(summary.path)
        yield Command(f"Compare {base.id} with {summary.id}", "Config differences, final metrics and losses side by side",
                      lambda other=other: app.compare_runs(base, other), discover=index == 0)


class WorkbenchCommands(Provider):
    """Start training, presets, cancel, export, resume, compare."""

    def _commands(self) -> list[Command]:
        return list(workbench_commands(self.app))  # type: ignore[arg-type]

    async def discover(self) -> Hits:
        for command in self._commands():
            if command.discover:
                yield DiscoveryHit(command.name, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(score, matcher.highlight(command.name), command.run, help=command.help)
