"""What went wrong with a run (`workbench.diagnostics.diagnostics_of`), one warning per diagnosis.

Train shows them clipped to one line each (the figures above need the room); Results gives each
its whole message and hint. The `⚠` says "warning" without colour; the colour is the theme's.
"""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.widgets import Static

WARNING = "⚠"


def diagnostics_text(diagnostics: Sequence[dict[str, str]], *, clip: bool, limit: int | None = None) -> Text:
    """`⚠ message — hint`, a line each; with `clip`, each line ends in `…` where it is too long.
    Past `limit` lines, the last one says how many more there are."""
    shown = list(diagnostics)
    hidden = 0
    if limit is not None and len(shown) > limit:
        shown, hidden = shown[: limit - 1], len(shown) - (limit - 1)
    lines = []
    for diagnostic in shown:
        line = Text(no_wrap=clip, overflow="ellipsis" if clip else "fold", end="")
        line.append(f"{WARNING} ", style="bold")
        line.append(diagnostic.get("message", ""))
        hint = diagnostic.get("hint")
        if hint:
            line.append(" — ", style="dim")
            line.append(hint, style="italic")
        lines.append(line)
    if hidden:
        lines.append(Text(f"{WARNING} {hidden} more: see Results (ctrl+e)", style="bold", no_wrap=clip, end=""))
    return Text("\n", no_wrap=clip, overflow="ellipsis" if clip else "fold").join(lines)


class DiagnosticsPanel(Static):
    """Hidden while the diagnosis finds nothing; otherwise one warning line per diagnosis (the
    whole text is its tooltip when lines are clipped)."""

    DEFAULT_CSS = """
    DiagnosticsPanel {
        height: auto;
        padding: 0 1;
        color: $text-warning;
        display: none;
    }
    DiagnosticsPanel.-clip {
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, *, clip: bool, limit: int | None = None, id: str | None = None) -> None:
        super().__init__(id=id, classes="-clip" if clip else "")
        self.clip = clip
        self.limit = limit
        self.diagnostics: list[dict[str, str]] = []

    def show(self, diagnostics: Sequence[dict[str, str]]) -> None:
        self.diagnostics = list(diagnostics)
        self.display = bool(self.diagnostics)
        self.update(diagnostics_text(self.diagnostics, clip=self.clip, limit=self.limit))
        if self.clip:
            self.tooltip = "\n".join(f"{WARNING} {d.get('message', '')}\n  {d.get('hint', '')}" for d in self.diagnostics) or None

    @property
    def lines(self) -> list[str]:
        """The warnings as plain lines (before clipping), for tests and the log."""
        return diagnostics_text(self.diagnostics, clip=False, limit=self.limit).plain.split("\n") if self.diagnostics else []
