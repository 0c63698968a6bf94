"""Likely label errors of a run's training data, most suspicious first, filterable by given label.

Rows are `workbench.label_errors.LabelErrorRow`s in the file's order (the label check ranks them,
most suspicious first): the training row's index, the label it was given, the one the model
suggests with its probability, and the text. A suspect is marked ⚑ as well as coloured.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable

from workbench.label_errors import LabelErrorRow

#: The given-label filter that keeps every row.
ALL_LABELS = "all"
#: Labels are cut to this many characters.
LABEL_CHARS = 12


class LabelErrorsTable(DataTable):
    """Rows keyed by their position in `rows`; enter posts `RowSelected` as usual."""

    given_filter: reactive[str] = reactive(ALL_LABELS, init=False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.rows_shown: list[LabelErrorRow] = []
        self.all_rows: list[LabelErrorRow] = []
        self._width = 0

    def show_rows(self, rows: list[LabelErrorRow]) -> None:
        self.all_rows = list(rows)
        if self.given_filter not in self.filters():
            self.given_filter = ALL_LABELS  # the watcher repopulates
        self.populate()

    def filters(self) -> list[str]:
        """`all`, then each given label in the order it first appears (the most suspect first)."""
        return [ALL_LABELS, *dict.fromkeys(row.given for row in self.all_rows)]

    def next_filter(self) -> None:
        names = self.filters()
        self.given_filter = names[(names.index(self.given_filter) + 1) % len(names)] if self.given_filter in names else ALL_LABELS

    def visible(self) -> list[LabelErrorRow]:
        """The rows the filter keeps, in rank order."""
        return [row for row in self.all_rows if self.given_filter in (ALL_LABELS, row.given)]

    def selected(self) -> LabelErrorRow | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.all_rows[int(key)] if key is not None else None

    def watch_given_filter(self) -> None:
        self.populate()

    def on_resize(self) -> None:
        if self.size.width != self._width and self.all_rows:
            self.populate()

    def populate(self) -> None:
        self._width = self.size.width
        self.clear(columns=True)
        row_width = max([len("row")] + [len(f"{row.row:,}") for row in self.all_rows])
        names = [name for row in self.all_rows for name in (row.given, row.suggested)]
        label_width = min(LABEL_CHARS, max([len("model says")] + [len(name) for name in names]))
        self.add_column(" ", key="mark", width=1)
        self.add_column(Text("row", justify="right"), key="row", width=row_width)
        self.add_column("given", key="given", width=label_width)
        self.add_column("model says", key="suggested", width=label_width)
        self.add_column(Text("conf", justify="right"), key="confidence", width=4)
        fixed = 1 + row_width + 2 * label_width + 4 + 5 * 2
        self.add_column("text", key="text", width=max(20, (self.size.width or 80) - fixed - 2))
        positions = {id(row): position for position, row in enumerate(self.all_rows)}
        self.rows_shown = self.visible()
        for row in self.rows_shown:
            self.add_row(
                Text("⚑", style="bold yellow"),
                Text(f"{row.row:,}", justify="right"),
                _cut(row.given, label_width),
                Text(_cut(row.suggested, label_width), style="bold"),
                Text(f"{row.suggested_prob:.2f}", justify="right"),
                Text(" ".join(row.full_text.split())),
                key=str(positions[id(row)]),
            )


def as_example(row: LabelErrorRow) -> dict[str, Any]:
    """The row as a prediction sample, for the example view: the given label in gold's place."""
    return {"index": row.row, "text": row.full_text, "gold": row.given, "pred": row.suggested,
            "confidence": row.suggested_prob, "probs": {row.suggested: row.suggested_prob, row.given: row.given_prob}}


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
