"""Pickers for presets and suggestions, and the name prompt for saving a preset (replacing one asks
via `ConfirmDialog`)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from workbench.presets import PresetInfo, list_presets
from workbench.suggestions import Suggestion

from .widgets.pick_list import PickList


def preset_picker(presets: list[PresetInfo] | None = None) -> PickList[Path]:
    """Shipped and user presets with their descriptions; picking one gives its path."""
    items = []
    for info in presets if presets is not None else list_presets():
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(info.name, style="bold")
        text.append(f"  {info.origin}", style="dim")
        if info.description:
            text.append(f"\n  {info.description}", style="dim")
        items.append((text, info.path))
    return PickList("Open preset", items, empty="no presets found", help="enter: load · esc: cancel")


def suggestion_picker(title: str, suggestions: list[Suggestion]) -> PickList[str]:
    """Values seen before (recent runs, presets, packages, the HF cache), each with its origin."""
    items = []
    for suggestion in suggestions:
        text = Text(suggestion.value, style="bold")
        text.append(f"  {suggestion.origin}", style="dim")
        items.append((text, suggestion.value))
    return PickList(title, items, empty="nothing to suggest yet: no preset, recent run or cached model names one",
                    help="enter: use it · esc: cancel")


class PresetNamePrompt(ModalScreen["tuple[str, str] | None"]):
    """Ask for a name and a one-line description to save the current setup under; answers
    `(name, description)` or None. The description starts as one derived from the setup."""

    DEFAULT_CSS = """
    PresetNamePrompt { align: center middle; }
    PresetNamePrompt > Vertical {
        width: 64; max-width: 100%; height: auto; border: round $accent; background: $surface; padding: 0 1;
    }
    PresetNamePrompt .dialog-help { color: $text-muted; }
    PresetNamePrompt .field-label { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, suggested: str = "", description: str = "") -> None:
        super().__init__()
        self.suggested = suggested
        self.description = description

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Save preset as"
            yield Input(self.suggested, placeholder="preset name (letters, digits, - and _)", id="preset-name")
            yield Static("description", classes="field-label")
            yield Input(self.description, placeholder="one line: what this preset trains", id="preset-description")
            yield Static("enter: save · tab: next field · esc: cancel", classes="dialog-help")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        name = self.query_one("#preset-name", Input).value.strip()
        if name:
            self.dismiss((name, self.query_one("#preset-description", Input).value.strip()))
        else:
            self.query_one("#preset-name", Input).focus()

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
