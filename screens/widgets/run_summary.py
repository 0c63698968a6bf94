"""A one-line summary that fits itself to its own width.

What the line drops to fit (the best's step, the best, the model's name) depends on the width it
is given. The widget asks for the line again whenever its width changes, so the result is the
same whether the run was read before or after the first layout.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widgets import Static

FitLine = Callable[[int | None], Text]
"""Builds the line for a width in cells (None: the width isn't known yet)."""


class RunSummary(Static):
    """Shows `fit(width)`, rebuilt on every resize."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._fit: FitLine | None = None

    def show(self, fit: FitLine) -> None:
        self._fit = fit
        self._refit()

    def on_resize(self) -> None:
        self._refit()

    def _refit(self) -> None:
        if self._fit is not None:
            self.update(self._fit(self.content_region.width or None))
