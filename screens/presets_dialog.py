"""Preset dialogs: pick one to load, name one to save (replacing one asks via `ConfirmDialog`)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from workbench.presets import PresetInfo, list_presets


class PresetPicker(ModalScreen[Path | None]):
    """Shipped and user presets with their descriptions; enter loads, escape cancels."""

    DEFAULT_CSS = """
    PresetPicker { align: center middle; }
    PresetPicker > Vertical {
        width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    PresetPicker OptionList, PresetPicker OptionList:focus {
        height: auto; max-height: 16; border: none; padding: 0;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    PresetPicker .dialog-help { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, presets: list[PresetInfo] | None = None) -> None:
        super().__init__()
        self.presets = presets if presets is not None else list_presets()

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Open preset"
            if not self.presets:
                yield Label("no presets found")
            yield OptionList(*(self._option(info, i) for i, info in enumerate(self.presets)), id="preset-list")
            yield Static("enter: load · esc: cancel", classes="dialog-help")

    @staticmethod
    def _option(info: PresetInfo, index: int) -> Option:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(info.name, style="bold")
        text.append(f"  {info.origin}", style="dim")
        if info.description:
            text.append(f"\n  {info.description}", style="dim")
        return Option(text, id=str(index))

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.presets[int(event.option.id or 0)].path)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class PresetNamePrompt(ModalScreen[str | None]):
    """Ask for a name to save the current setup under."""

    DEFAULT_CSS = """
    PresetNamePrompt { align: center middle; }
    PresetNamePrompt > Vertical {
        width: 60; height: auto; border: round $accent; background: $surface; padding: 0 1;
    }
    PresetNamePrompt .dialog-help { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, suggested: str = "") -> None:
        super().__init__()
        self.suggested = suggested

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Save preset as"
            yield Input(self.suggested, placeholder="preset name (letters, digits, - and _)", id="preset-name")
            yield Static("enter: save · esc: cancel", classes="dialog-help")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        if name:
            self.dismiss(name)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
