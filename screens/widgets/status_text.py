"""A text area that is either loading (with a spinner and what it is doing), showing, or failed.

Panels fed by a worker (model info, data summary, the playground) use it so that nothing waits
silently and a core error reads the same everywhere: `✗ message` and a dim hint line.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from workbench.errors import WorkbenchError

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def error_text(error: WorkbenchError | str) -> Text:
    """`✗ message` in the error colour, then the hint dimmed on its own line."""
    message, hint = (error.message, error.hint) if isinstance(error, WorkbenchError) else (str(error), "")
    text = Text("✗ ", style="bold red")
    text.append(message, style="red")
    if hint:
        text.append(f"\n  {hint}", style="dim")
    return text


class StatusText(Static):
    """Static text with three states: `show_loading(what)`, `show(content)`, `show_error(err)`."""

    DEFAULT_CSS = """
    StatusText { height: auto; }
    StatusText.-error { color: $text-error; }
    """

    def __init__(self, content: RenderableType = "", **kwargs) -> None:
        super().__init__(content, **kwargs)
        self._spinner: Timer | None = None
        self._frame = 0
        self._doing = ""

    def show_loading(self, doing: str) -> None:
        """Spin while a worker runs; `doing` says what ("inspecting model…")."""
        self._doing = doing
        self.remove_class("-error")
        self.add_class("-loading")
        self._tick()
        if self._spinner is None:
            self._spinner = self.set_interval(0.1, self._tick)

    def show(self, content: RenderableType) -> None:
        self._stop()
        self.remove_class("-error")
        self.update(content)

    def show_error(self, error: WorkbenchError | str) -> None:
        self._stop()
        self.add_class("-error")
        self.update(error_text(error))

    @property
    def is_loading(self) -> bool:
        return self._spinner is not None

    def _tick(self) -> None:
        self._frame = (self._frame + 1) % len(SPINNER)
        self.update(Text(f"{SPINNER[self._frame]} {self._doing}", style="dim"))

    def _stop(self) -> None:
        self.remove_class("-loading")
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None

    def on_unmount(self) -> None:
        self._stop()
