"""The generations of a text-generation run's latest evaluation: prompt, reference, generated.

Each sample (a `samples` item of the generation task) has `prompt`, `reference`, `generated`
and `match`: True/False when exact match applies to the run's references (short answers), None
when it doesn't. A mismatch is marked ✗ (and red), a match ✓; with no exact match, no mark.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable

GENERATION_FILTERS = ("all", "mismatches")
#: The share of the text columns (after the mark) that prompt and reference get; generated takes the rest.
PROMPT_SHARE, REFERENCE_SHARE = 0.38, 0.24


def is_generation_sample(sample: dict[str, Any]) -> bool:
    return "generated" in sample


def is_mismatch(sample: dict[str, Any]) -> bool:
    return sample.get("match") is False


def match_mark(sample: dict[str, Any]) -> Text:
    match = sample.get("match")
    if match is None:
        return Text(" ")
    return Text("✓", style="green") if match else Text("✗", style="bold red")


def one_line(value: Any) -> str:
    """A prompt (text or chat turns) or an answer as one line: turns joined by ` ⏎ `."""
    if isinstance(value, list):
        value = " ⏎ ".join(str(turn.get("content", "")) if isinstance(turn, dict) else str(turn) for turn in value)
    return " ".join(str(value or "").split())


class GenerationsTable(DataTable):
    """Rows keyed by the sample's position in `samples`; `filter_name` is `all` or `mismatches`."""

    filter_name: reactive[str] = reactive("all", init=False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.samples: list[dict[str, Any]] = []
        self._width = 0

    @property
    def has_exact_match(self) -> bool:
        return any(sample.get("match") is not None for sample in self.samples)

    @property
    def mismatches(self) -> int:
        return sum(1 for sample in self.samples if is_mismatch(sample))

    def show_samples(self, samples: list[dict[str, Any]]) -> None:
        self.samples = list(samples)
        self.populate()

    def visible(self) -> list[int]:
        return [i for i, s in enumerate(self.samples) if self.filter_name != "mismatches" or is_mismatch(s)]

    def selected_sample(self) -> dict[str, Any] | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return self.samples[int(key)] if key is not None else None

    def watch_filter_name(self) -> None:
        self.populate()

    def on_resize(self) -> None:
        if self.size.width != self._width and self.samples:
            self.populate()

    def populate(self) -> None:
        self._width = self.size.width
        self.clear(columns=True)
        text_width = max(30, (self.size.width or 80) - 1 - 4 * 2 - 2)
        prompt_width = int(text_width * PROMPT_SHARE)
        reference_width = int(text_width * REFERENCE_SHARE)
        self.add_column(" ", key="mark", width=1)
        self.add_column("prompt", key="prompt", width=prompt_width)
        self.add_column("reference", key="reference", width=reference_width)
        self.add_column("generated", key="generated", width=text_width - prompt_width - reference_width)
        for position in self.visible():
            sample = self.samples[position]
            generated = Text(one_line(sample.get("generated")), style="red" if is_mismatch(sample) else "")
            self.add_row(match_mark(sample), one_line(sample.get("prompt")), one_line(sample.get("reference")),
                         generated, key=str(position))
