"""The Train screen's progress line: epoch, bar with percentage, steps and ETA.

Every figure comes from the run's own step events (`eta_s`, `elapsed_s`), never from a clock
here, so the line is the same however late you attach and snapshots stay deterministic.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from workbench import humanize

from .state import state_text


class TrainProgress(Horizontal):
    """`epoch 1.64/3 ━━━━━━━━━╸━━━━━ 63%  72/113 steps · ETA 41s`"""

    def compose(self) -> ComposeResult:
        yield Static("", id="progress-epoch")
        yield ProgressBar(total=None, show_eta=False, id="progress-bar")
        yield Static("", id="progress-steps")

    @property
    def bar(self) -> ProgressBar:
        return self.query_one(ProgressBar)

    def show_waiting(self, what: str) -> None:
        """What the run is doing while no step moves it on (loading, cancelling)."""
        self.query_one("#progress-epoch", Static).update(Text(what, style="italic"))
        if self.bar.total is None:
            self.query_one("#progress-steps", Static).update("")

    def show_step(self, step: dict[str, Any], epochs: float | None) -> None:
        total = step.get("total_steps") or None
        self.bar.update(total=total, progress=step.get("step", 0))
        epoch = f"epoch {step.get('epoch', 0):.2f}" + (f"/{epochs:g}" if epochs else "")
        self.query_one("#progress-epoch", Static).update(epoch)
        steps = f"{step.get('step', 0):,}/{total:,} steps" if total else f"step {step.get('step', 0):,}"
        eta = step.get("eta_s")
        self.query_one("#progress-steps", Static).update(f"{steps} · ETA {humanize.duration(eta)}" if eta is not None else steps)

    def show_end(self, state: str, event: Any, last_step: Any, duration_s: float | None = None) -> None:
        """The final line: how the run ended (in `duration_s` of training), and how far it got."""
        if state == "finished":
            self.bar.update(total=self.bar.total or 1, progress=self.bar.total or 1)
            duration = duration_s if duration_s is not None else event.get("duration_s")
            detail = f"in {humanize.duration(duration)}" if duration is not None else ""
        else:
            step = event.get("step") or (last_step or {}).get("step")
            detail = f"at step {step:,}" if step else ""
        if self.bar.total is None:
            self.bar.update(total=1, progress=0)
        self.query_one("#progress-steps", Static).update(state_text(state, detail))
