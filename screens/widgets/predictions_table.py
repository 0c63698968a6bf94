"""Sample predictions from the latest evaluation, filterable and sortable by confidence.

Rows are text-classification samples (`text`, `gold`, `pred`, `confidence`, `probs`) or
token-classification ones (`tokens`, `gold_entities`, `pred_entities`, `correct`, `confidence`).
An error is marked ✗ (and red), a correct one ✓, so the mark survives a monochrome terminal.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable

from .entities import EntityStyles, tokens_text, wrong_entities

#: Below this confidence a prediction counts as "low confidence".
LOW_CONFIDENCE = 0.7
FILTERS = ("all", "errors", "low")
FILTER_NAMES = {"all": "all", "errors": "errors", "low": f"conf<{LOW_CONFIDENCE:.2f}"}
SORTS = ("none", "asc", "desc")
SORT_NAMES = {"none": "eval order", "asc": "confidence ↑", "desc": "confidence ↓"}
#: Columns before the text: mark, confidence, gold, predicted (labels cut to this width).
LABEL_CHARS = 12
#: At most this many rows go into the table (DataTable takes ~0.3 ms a row to add and as much
#: again to measure: 10,000 rows froze the screen for seconds). Filters and sorting apply to the
#: whole set first, so the rows listed are the first of the whole set's matches.
MAX_ROWS = 1000


def is_error(sample: dict[str, Any]) -> bool:
    if "correct" in sample:
        return not sample["correct"]
    return sample.get("gold") != sample.get("pred")


def is_token_sample(sample: dict[str, Any]) -> bool:
    return "tokens" in sample


def keep(sample: dict[str, Any], filter_name: str) -> bool:
    if filter_name == "errors":
        return is_error(sample)
    if filter_name == "low":
        return float(sample.get("confidence") or 0.0) < LOW_CONFIDENCE
    return True


def mark(sample: dict[str, Any]) -> Text:
    return Text("✗", style="bold red") if is_error(sample) else Text("✓", style="green")


class PredictionsTable(DataTable):
    """Rows keyed by the sample's position in `samples`; enter posts `RowSelected` as usual."""

    filter_name: reactive[str] = reactive("all", init=False)
    confidence_order: reactive[str] = reactive("none", init=False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.samples: list[dict[str, Any]] = []
        #: How many samples match the filter (the table lists at most `MAX_ROWS` of them).
        self.matching = 0
        self.styles_for_entities = EntityStyles()
        self._width = 0

    def show_samples(self, samples: list[dict[str, Any]], entity_types: list[str] | None = None) -> None:
        self.samples = list(samples)
        self.styles_for_entities = EntityStyles(entity_types or [])
        self.populate()

    def visible(self) -> list[int]:
        """Positions in `samples` of the rows shown, in display order."""
        shown = [i for i, sample in enumerate(self.samples) if keep(sample, self.filter_name)]
        if self.confidence_order != "none":
            shown.sort(key=lambda i: float(self.samples[i].get("confidence") or 0.0), reverse=self.confidence_order == "desc")
        return shown

    def selected_sample(self) -> dict[str, Any] | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.samples[int(key)] if key is not None else None

    def watch_filter_name(self) -> None:
        self.populate()

    def watch_confidence_order(self) -> None:
        self.populate()

    def on_resize(self) -> None:
        if self.size.width != self._width and self.samples:
            self.populate()

    def populate(self) -> None:
        self._width = self.size.width
        self.clear(columns=True)
        token_task = any(is_token_sample(s) for s in self.samples)
        self.add_column(" ", key="mark", width=1)
        self.add_column(Text("conf", justify="right"), key="confidence", width=5)
        fixed = 1 + 5 + 3 * 2
        if not token_task:
            names = [str(s.get(key, "")) for s in self.samples for key in ("gold", "pred")]
            label_width = min(LABEL_CHARS, max([len("predicted")] + [len(name) for name in names]))
            self.add_column("gold", key="gold", width=label_width)
            self.add_column("predicted", key="pred", width=label_width)
            fixed += 2 * (label_width + 2)
        text_width = max(20, (self.size.width or 80) - fixed - 2)
        self.add_column("sentence (predicted entities)" if token_task else "text", key="text", width=text_width)
        shown = self.visible()
        self.matching = len(shown)
        for position in shown[:MAX_ROWS]:
            sample = self.samples[position]
            confidence = Text(f"{float(sample.get('confidence') or 0.0):.2f}", justify="right")
            if token_task:
                text = tokens_text(sample.get("tokens", []), sample.get("pred_entities", []), self.styles_for_entities,
                                   wrong_entities(sample.get("gold_entities", []), sample.get("pred_entities", [])))
                cells = [mark(sample), confidence, text]
            else:
                cells = [mark(sample), confidence, _cut(str(sample.get("gold", "")), label_width),
                         _cut(str(sample.get("pred", "")), label_width), Text(" ".join(str(sample.get("text", "")).split()))]
            self.add_row(*cells, key=str(position))


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
