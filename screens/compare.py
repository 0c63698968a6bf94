"""Compare two runs side by side: what differs in their configs, their final metrics, their loss.

The config differences take the full width (setting | A | B), their columns sized to the table so
that both runs' values show at 80 columns without scrolling sideways: a long value is cut with an
ellipsis (a path keeps its end, the part that tells two files apart). Metrics and the overlaid
loss curves sit side by side below.

Pushed over Runs (escape goes back). Both runs are read in a worker; nothing here follows a
run live: compare is a look at what was written so far.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from workbench import humanize
from workbench.events import StepEvent
from workbench.history import lower_is_better
from workbench.runstore import ACTIVE_STATES, RunDir

from .base import WorkbenchScreen
from .widgets.curves import SERIES_COLORS, RunCurve, loss_series
from .widgets.footer import WorkbenchFooter
from .widgets.header import WorkbenchHeader

@dataclass
class RunDigest:
    """What the compare view needs from one run (read through its `RunHistory`)."""

    run: RunDir
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    steps: list[StepEvent] = field(default_factory=list)
    state: str = "?"
    main_metric: str | None = None
    greater_is_better: bool = True
    training_seconds: float | None = None


def digest(run: RunDir) -> RunDigest:
    """Read a run's config, final metrics and steps (blocking: call it in a thread)."""
    status = run.status()
    history = run.history()
    result = RunDigest(run, state=status.state, main_metric=history.main_metric, greater_is_better=history.greater_is_better,
                       training_seconds=history.training_seconds(time.time() if status.state in ACTIVE_STATES else None))
    try:
        result.config = flatten(run.config().model_dump(mode="json"))
    except Exception:  # an unreadable config still lets us compare metrics and curves
        result.config = {}
    result.steps = history.steps
    result.metrics = history.final_metrics
    return result


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"training": {"epochs": 3}}` -> `{"training.epochs": 3}`."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def config_diff(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Keys whose values differ (or exist on one side only), in a stable order."""
    keys = sorted(set(a) | set(b))
    return [(key, a.get(key), b.get(key)) for key in keys if a.get(key) != b.get(key)]


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return humanize.learning_rate(value) if 0 < abs(value) < 1e-2 else f"{value:g}"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


#: Cells of padding DataTable puts around each of the three columns.
CELL_PADDING = 2


def column_widths(available: int, longest_key: int, longest_value: int) -> tuple[int, int]:
    """(setting, value) column widths that fit three columns into `available` cells."""
    room = max(available - 3 * CELL_PADDING, 18)
    key = min(longest_key, max(10, room // 3))
    value = max(4, min(longest_value, (room - key) // 2))
    return key, value


def fit(text: str, width: int) -> str:
    """`text` cut to `width` cells with an ellipsis; a path keeps its end (`…/sst2/train.tsv`)."""
    if len(text) <= width:
        return text
    if "/" in text:
        tail = text[-(width - 1):]
        cut = tail.find("/")
        return "…" + (tail[cut:] if 0 < cut < len(tail) - 1 else tail)
    return text[: width - 1] + "…"


def _better(metric: str, a: float | None, b: float | None, greater_is_better: bool | None = None) -> tuple[str, str]:
    """Bold for the better side of a metric, nothing when even or one side is missing. The
    direction is the run's own for its ranking metric (`greater_is_better`), else by name."""
    if a is None or b is None or a == b or metric == "n":
        return "", ""
    greater = (not lower_is_better(metric)) if greater_is_better is None else greater_is_better
    a_wins = (a > b) if greater else (a < b)
    return ("bold green", "") if a_wins else ("", "bold green")


class CompareScreen(WorkbenchScreen):
    TITLE = "Compare"
    CSS_PATH = "compare.tcss"
    BINDINGS = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, run_a: RunDir, run_b: RunDir) -> None:
        super().__init__()
        self.runs = (run_a, run_b)
        self.digests: tuple[RunDigest, RunDigest] | None = None

    def compose(self) -> ComposeResult:
        yield WorkbenchHeader()
        yield Static(self._legend(), id="compare-legend")
        yield DataTable(id="config-diff", cursor_type="none", zebra_stripes=True)
        with Horizontal(id="compare-bottom"):
            yield DataTable(id="metrics", cursor_type="none", zebra_stripes=True)
            yield RunCurve("loss", id="compare-loss")
        yield WorkbenchFooter()

    def on_mount(self) -> None:
        self.query_one("#config-diff", DataTable).border_title = "config differences"
        self.query_one("#metrics", DataTable).border_title = "final metrics"
        self.load()

    def _legend(self) -> Text:
        text = Text()
        for label, run, color in zip("AB", self.runs, SERIES_COLORS):
            text.append(f"{label} ", style=f"bold {color}")
            text.append(f"{run.id}\n")
        text.rstrip()
        return text

    @work(exit_on_error=False, group="compare")
    async def load(self) -> None:
        a, b = await asyncio.gather(*(asyncio.to_thread(digest, run) for run in self.runs))
        self.digests = (a, b)
        self._show_config(a, b)
        self._show_metrics(a, b)
        self.query_one(RunCurve).show(loss_series(a.steps, "A"), loss_series(b.steps, "B"))

    def _show_config(self, a: RunDigest, b: RunDigest) -> None:
        table = self.query_one("#config-diff", DataTable)
        table.clear(columns=True)
        differences = [(key, _cell(left), _cell(right)) for key, left, right in config_diff(a.config, b.config)]
        longest_key = max([len(key) for key, _, _ in differences] + [len("setting")])
        longest_value = max([len(value) for _, *values in differences for value in values] + [1])
        key_width, value_width = column_widths(table.scrollable_content_region.width - 1, longest_key, longest_value)
        table.add_column("setting", width=key_width)
        table.add_column("A", width=value_width)
        table.add_column("B", width=value_width)
        for key, left, right in differences:
            table.add_row(fit(key, key_width), fit(left, value_width), fit(right, value_width))
        if not differences:
            table.add_row(Text("same config", style="dim"), "", "")

    def on_resize(self) -> None:
        if self.digests is not None:
            self.call_after_refresh(self._show_config, *self.digests)

    def _show_metrics(self, a: RunDigest, b: RunDigest) -> None:
        table = self.query_one("#metrics", DataTable)
        table.add_columns("metric", "A", "B")
        table.add_row("state", a.state, b.state)
        for metric in [m for m in a.metrics if m in b.metrics] + [m for m in b.metrics if m not in a.metrics] + \
                [m for m in a.metrics if m not in b.metrics]:
            left, right = a.metrics.get(metric), b.metrics.get(metric)
            ranking = a.greater_is_better if metric == a.main_metric and a.main_metric == b.main_metric else None
            style_a, style_b = _better(metric, left, right, ranking)
            table.add_row(metric, Text(humanize.number(left), style=style_a, justify="right"),
                          Text(humanize.number(right), style=style_b, justify="right"))
