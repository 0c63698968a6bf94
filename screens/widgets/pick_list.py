"""A modal list to pick one value from: presets to load, models or data seen before."""

from __future__ import annotations

from typing import Generic, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

Value = TypeVar("Value")


class PickList(ModalScreen[Value | None], Generic[Value]):
    """`items` are (what to show, value); enter dismisses with the value, escape with None."""

    DEFAULT_CSS = """
    PickList { align: center middle; }
    PickList > Vertical {
        width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    PickList OptionList, PickList OptionList:focus {
        height: auto; max-height: 16; border: none; padding: 0;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    PickList .dialog-help { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, title: str, items: list[tuple[Text, Value]], *, empty: str = "nothing to pick from", help: str = "enter: pick · esc: cancel") -> None:
        super().__init__()
        self.title_text = title
        self.items = items
        self.empty = empty
        self.help = help

    @property
    def values(self) -> list[Value]:
        return [value for _, value in self.items]

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            if not self.items:
                yield Label(self.empty)
            yield OptionList(*(Option(shown, id=str(index)) for index, (shown, _) in enumerate(self.items)))
            yield Static(self.help, classes="dialog-help")

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.items[int(event.option.id or 0)][1])

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
