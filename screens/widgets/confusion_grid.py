"""The confusion matrix as a coloured grid: rows are gold labels, columns predictions.

Each cell shows its count; its shade is the share of its gold row. The diagonal (correct) is
shaded toward the theme's success colour and bold, the rest toward its error colour, so the
grid reads by colour, by weight and by number alike. Colours come from the current theme and
are blended into its surface, so they work on light and dark themes and in 256 colours.
Per-class precision, recall and F1 sit at the end of each row.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.color import Color
from textual.widgets import Static

LABEL_CHARS = 12
SCORE_HEADINGS = {"precision": "prec", "recall": "rec", "f1": "F1"}


class ConfusionGrid(Static):
    """`show(matrix, labels, per_class)`; re-colours itself when the theme changes."""

    DEFAULT_CSS = "ConfusionGrid { width: auto; height: auto; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.matrix: list[list[int]] = []
        self.labels: list[str] = []
        self.per_class: dict[str, dict[str, float]] = {}

    def on_mount(self) -> None:
        self.watch(self.app, "theme", lambda _: self._draw(), init=False)

    def show(self, matrix: list[list[int]], labels: list[str], per_class: dict[str, dict[str, float]] | None = None) -> None:
        self.matrix, self.labels, self.per_class = matrix, labels, per_class or {}
        self._draw()

    def _draw(self) -> None:
        if not self.matrix:
            self.update(Text("no confusion matrix in this evaluation", style="dim"))
            return
        self.update(self.table())

    def table(self) -> Table:
        colours = self.app.get_css_variables()
        surface = Color.parse(colours.get("surface", "#1e1e1e"))
        good = Color.parse(colours.get("success", "#4caf50"))
        bad = Color.parse(colours.get("error", "#f44336"))
        table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold", pad_edge=False)
        table.add_column(Text("gold ╲ predicted", style="dim"), justify="left", no_wrap=True)
        for label in self.labels:
            table.add_column(_short(label), justify="right", no_wrap=True)
        scores = [name for name in ("precision", "recall", "f1") if self.per_class]
        for name in scores:
            table.add_column(Text(SCORE_HEADINGS[name], style="dim"), justify="right", no_wrap=True)
        for row_index, (label, row) in enumerate(zip(self.labels, self.matrix)):
            total = sum(row) or 1
            cells: list[Text] = [Text(_short(label), style="bold")]
            for column_index, count in enumerate(row):
                diagonal = row_index == column_index
                cells.append(_cell(count, count / total, diagonal, surface, good if diagonal else bad))
            per_class = self.per_class.get(label, {})
            for name in scores:
                value = per_class.get(name)
                cells.append(Text("—" if value is None else f"{value:.2f}"))
            table.add_row(*cells)
        return table


def _cell(count: int, share: float, diagonal: bool, surface: Color, tint: Color) -> Text:
    text = f" {count:,} "
    if count == 0:
        return Text(text, style="dim")
    background = surface.blend(tint, 0.25 + 0.75 * share)
    foreground = background.get_contrast_text(1.0)
    style = f"{'bold ' if diagonal else ''}{foreground.hex} on {background.hex}"
    return Text(text, style=style)


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
