"""WorkbenchFooter: Textual's Footer, rebuilt only when the keys it shows actually change.

Textual recomposes the footer on every bindings refresh (each screen switch and focus change,
often several per key press). Rebuilding a dozen key widgets is tens of milliseconds of CSS
work, which showed up as key-press latency while a run was training; so compare first.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class WorkbenchFooter(Footer):
    def __init__(self) -> None:
        super().__init__(compact=True)
        self._shown: tuple | None = None

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
        )
        if shown != self._shown:
            self._shown = shown
            await self.recompose()
