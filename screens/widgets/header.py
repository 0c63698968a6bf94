"""The one-line header every screen shows: which screen, and the current run with its state.

Screens compose `WorkbenchHeader()`; it reads the screen's `TITLE` and follows the app's
`run_badge` reactive (set by `WorkbenchApp` whenever the current run or its state changes).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from .state import state_text


@dataclass(frozen=True)
class RunBadge:
    """What the header says about the current run."""

    run_id: str
    state: str
    device: str = ""

    def render(self) -> Text:
        text = Text("run ", style="dim")
        text.append(self.run_id, style="bold")
        text.append(" · ")
        text.append_text(state_text(self.state))
        if self.device:
            text.append(f" · {self.device}")
        return text


class WorkbenchHeader(Horizontal):
    """`tlwb ─ Train ........ run 2026-… · running · cpu`"""

    def compose(self) -> ComposeResult:
        yield Static(id="header-title")
        yield Static(id="header-run")

    def on_mount(self) -> None:
        title = Text("tlwb", style="bold")
        title.append(f" ─ {self.screen.TITLE or ''}")
        self.query_one("#header-title", Static).update(title)
        self.watch(self.app, "run_badge", self._show_badge)

    def _show_badge(self, badge: RunBadge | None) -> None:
        self.query_one("#header-run", Static).update(badge.render() if badge else Text("no run", style="dim"))
