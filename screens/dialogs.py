"""Modal questions: confirm a destructive action, and what to do with runs when quitting.

Each dialog focuses its safe answer, so a reflexive Enter never destroys anything; Escape is
always "back". Answers come back through `dismiss` (use `push_screen(dialog, callback)` or
`push_screen_wait`).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class _Dialog(ModalScreen):
    """A titled box with a message and a row of buttons; button ids are the answers."""

    BINDINGS = [
        Binding("escape", "dismiss_with(None)", "Back"),
        Binding("left", "app.focus_previous", show=False),
        Binding("right", "app.focus_next", show=False),
    ]

    def __init__(self, title: str, message: str, answers: list[tuple[str, str, str]], default: str) -> None:
        """`answers` are (answer, label, button variant); `default` is the answer focused first."""
        super().__init__(classes="dialog")
        self._title = title
        self._message = message
        self._answers = answers
        self._default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog-box") as box:
            box.border_title = self._title
            yield Static(self._message, id="dialog-message")
            with Horizontal(id="dialog-buttons"):
                for answer, label, variant in self._answers:
                    yield Button(label, id=f"answer-{answer}", variant=variant)  # type: ignore[arg-type]

    def on_mount(self) -> None:
        self.query_one(f"#answer-{self._default}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(self._answer_of(event.button))

    def action_dismiss_with(self, answer: str | None) -> None:
        self.dismiss(answer)

    @staticmethod
    def _answer_of(button: Button) -> str:
        return (button.id or "").removeprefix("answer-")


class ConfirmDialog(_Dialog):
    """Yes/no for a destructive action; answers True only for an explicit yes."""

    def __init__(self, title: str, message: str, *, confirm: str, keep: str = "Keep it") -> None:
        super().__init__(title, message, [("keep", keep, "primary"), ("confirm", confirm, "error")], default="keep")

    def dismiss(self, result: object = None):  # type: ignore[override]
        return super().dismiss(result == "confirm")


class QuitDialog(_Dialog):
    """Quitting while runs are going: answers "leave" (the default), "cancel", or None (stay)."""

    def __init__(self, run_ids: list[str]) -> None:
        names = ", ".join(run_ids[:3]) + (f" and {len(run_ids) - 3} more" if len(run_ids) > 3 else "")
        noun = "run is" if len(run_ids) == 1 else "runs are"
        message = (
            f"{len(run_ids)} {noun} still going: {names}.\n"
            "Left running, training goes on after you quit; reopen tlwb to re-attach."
        )
        super().__init__(
            "Quit tlwb?",
            message,
            [("leave", "Quit, leave running", "primary"), ("cancel", "Cancel run & quit", "error"), ("stay", "Stay", "default")],
            default="leave",
        )

    def dismiss(self, result: object = None):  # type: ignore[override]
        return super().dismiss(None if result == "stay" else result)
