"""WorkbenchFooter: Textual's Footer, fitted to the width and rebuilt only when its keys change.

Textual recomposes the footer on every bindings refresh (each screen switch and focus change,
often several per key press). Rebuilding a dozen key widgets is tens of milliseconds of CSS
work, which showed up as key-press latency while a run was training; so compare first.

Textual's footer scrolls sideways when its keys are wider than the terminal, and the docked
palette key then lets one character of the key under it show through ("^p palettel"). This
footer shows only the keys that fit beside the palette key: the screen's own keys first, then
Quit, then the screen switches, as room allows. The palette lists every action anyway.
"""

from __future__ import annotations

from typing import Iterable

from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, KeyGroup

#: Cells the palette key takes in the compact footer: "▏^p palette" (docked right, no margin).
PALETTE_CELLS = 11


def key_cells(widget: Widget) -> int:
    """Cells a widget of the compact footer takes: a key (key, space, description, margin), a
    group of keys (their keys, padding, margin) or a group's label."""
    if isinstance(widget, FooterKey):
        return len(widget.key_display) + (1 + len(widget.description) if widget.description else 0) + 1
    keys = [w for w in getattr(widget, "_pending_children", []) if isinstance(w, FooterKey)] if isinstance(widget, KeyGroup) else []
    if keys:
        return sum(len(key.key_display) for key in keys) + 2
    return len(str(getattr(widget, "content", "")))


def fitting(widgets: list[Widget], width: int) -> list[Widget]:
    """The widgets to show in `width` cells: the palette key always, Quit before the others."""
    palette = [w for w in widgets if w.has_class("-command-palette")]
    keys = [w for w in widgets if not w.has_class("-command-palette")]
    room = width - (PALETTE_CELLS if palette else 0)
    if sum(map(key_cells, keys)) <= room:
        return widgets
    quit_keys = [k for k in keys if isinstance(k, FooterKey) and k.action.endswith("quit")]
    room -= sum(key_cells(k) for k in quit_keys)
    kept: list[Widget] = []
    for key in keys:
        if key in quit_keys:
            continue
        cells = key_cells(key)
        if cells > room:
            break
        room -= cells
        kept.append(key)
    shown = set(map(id, kept + quit_keys))
    return [w for w in keys if id(w) in shown] + palette


class WorkbenchFooter(Footer):
    def __init__(self) -> None:
        super().__init__(compact=True)
        self._shown: tuple | None = None

    def compose(self) -> Iterable[Widget]:
        widgets = list(super().compose())
        width = self.size.width or self.app.size.width
        return fitting(widgets, width)

    def on_resize(self) -> None:
        if self._shown is not None:
            self._shown = None
            self.call_after_refresh(self._recompose_if_changed)

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        if not self.is_attached or not self.screen.is_current:
            return  # a hidden screen's keys are refreshed when it is shown again
        shown = tuple(
            (key, binding.description, binding.show, enabled, tooltip)
            for key, (_node, binding, enabled, tooltip) in self.screen.active_bindings.items()
        ) + (self.size.width,)
        if shown != self._shown:
            self._shown = shown
            await self.recompose()
