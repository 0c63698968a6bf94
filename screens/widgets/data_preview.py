"""The Setup screen's data panel: sizes, label distribution (or tag set), and a table of first rows."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Group
from rich.text import Text
from textual.widgets import DataTable

from workbench import humanize
from workbench.preview import DataPreview

from .bars import BarChart
from .status_text import StatusText

SPLIT_NAMES = {"validation": "val"}
#: Characters of a cell in the preview table before it is cut with an ellipsis.
TABLE_CELL_CHARS = 70


def describe_sizes(preview: DataPreview, width: int | None = None) -> Text:
    """`train 320 · val 80 (held out) · 400 rows`: the splits first, as they matter most. Where
    exact counts don't fit in `width` cells, large ones are rounded (`train 53.9K · val 13.5K`)
    so that both splits stay visible."""
    exact = _sizes_text(preview, lambda size: f"{size:,}")
    if width is None or exact.cell_len <= width:
        return exact
    return _sizes_text(preview, lambda size: f"{size:,}" if size < 10_000 else humanize.count(size))


def _sizes_text(preview: DataPreview, number: Callable[[int], str]) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(" · ".join(f"{SPLIT_NAMES.get(name, name)} {number(size)}" for name, size in preview.sizes.items()))
    if preview.validation_from_train:
        text.append(" (held out)", style="dim")
    text.append(f" · {number(preview.total_rows)} rows", style="dim")
    return text


class LabelDistribution(StatusText):
    """Counts per label with a bar each; for token classification, entities per type and the tags.

    As many bars as the widget's height allows; the rest are summed up as "… N more".
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.preview: DataPreview | None = None

    def show_preview(self, preview: DataPreview) -> None:
        self.preview = preview
        heading = 1 if preview.tags else 0
        limit = max(2, self.size.height - heading) if self.size.height else None
        chart = BarChart(dict(preview.label_counts), counts=True, limit=limit)
        if not preview.tags:
            self.show(chart)
            return
        tags = Text(f"entities · {len(preview.tags)} tags: " + " ".join(preview.tags), style="dim", no_wrap=True, overflow="ellipsis")
        self.show(Group(tags, chart))

    def on_resize(self) -> None:
        if self.preview is not None and not self.is_loading and not self.has_class("-error"):
            self.show_preview(self.preview)

    def show_loading(self, doing: str) -> None:
        self.preview = None
        super().show_loading(doing)


class PreviewTable(DataTable):
    """The first rows of the training file; the detected text and label columns are marked."""

    DEFAULT_CSS = "PreviewTable { height: 1fr; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def show_preview(self, preview: DataPreview) -> None:
        self.clear(columns=True)
        token_task = bool(preview.tags)
        roles = {preview.text_column: "words" if token_task else "text", preview.text_pair_column: "pair",
                 preview.label_column: "tags" if token_task else "label"}
        shown = list(preview.rows[0]) if preview.rows else preview.columns
        cells = [[_cut(row.get(column, "")) for column in shown] for row in preview.rows]
        labels = []
        for column in shown:
            label = Text(column, style="bold")
            if roles.get(column):
                label.append(f" ({roles[column]})", style="dim")
            labels.append(label)
        widths = [max([len(label)] + [len(row[i]) for row in cells]) for i, label in enumerate(labels)]
        for column, label, width in zip(shown, labels, fit_widths(widths, self.size.width - 2 * len(shown) - 2)):
            self.add_column(label, key=column, width=width)
        for row in cells:
            self.add_row(*row)


def fit_widths(widths: list[int], available: int, floor: int = 8) -> list[int]:
    """Narrow the widest columns until all fit in `available` cells (none below `floor`)."""
    widths = list(widths)
    while sum(widths) > available > 0:
        widest = max(range(len(widths)), key=widths.__getitem__)
        if widths[widest] <= floor:
            break
        widths[widest] -= 1
    return widths


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TABLE_CELL_CHARS else text[: TABLE_CELL_CHARS - 1] + "…"
