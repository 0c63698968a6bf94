"""Compare two runs side by side: what differs in their configs, their final metrics, their loss.

Pushed over Runs (escape goes back). Both runs are read in a worker; nothing here follows a
run live: compare is a look at what was written so far.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from workbench import humanize
from workbench.runstore import RunDir

from .base import WorkbenchScreen
from .widgets.curves import SERIES_COLORS, RunCurve, loss_series
from .widgets.footer import WorkbenchFooter
from .widgets.header import WorkbenchHeader

#: Metrics where smaller is better; everything else is better when larger.
LOWER_IS_BETTER = {"loss", "n"}


@dataclass
class RunDigest:
    """What the compare view needs from one run."""

    run: RunDir
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    state: str = "?"


def digest(run: RunDir) -> RunDigest:
    """Read a run's config, final metrics and steps (blocking: call it in a thread)."""
    result = RunDigest(run, state=run.status().get("state", "?"))
    try:
        result.config = flatten(run.config().model_dump(mode="json"))
    except Exception:  # an unreadable config still lets us compare metrics and curves
        result.config = {}
    events = run.events()
    result.steps = [e for e in events if e.get("type") == "step"]
    evals = [e for e in events if e.get("type") == "eval" and e.get("split", "validation") == "validation"]
    finished = next((e for e in reversed(events) if e.get("type") == "finished"), None)
    metrics = (finished or {}).get("metrics") or (evals[-1]["metrics"] if evals else {})
    result.metrics = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
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


def _better(metric: str, a: float | None, b: float | None) -> tuple[str, str]:
    """Bold for the better side of a metric, nothing when even or one side is missing."""
    if a is None or b is None or a == b or metric == "n":
        return "", ""
    a_wins = (a < b) if metric in LOWER_IS_BETTER or metric.endswith("loss") else (a > b)
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
        with Horizontal(id="compare-tables"):
            yield DataTable(id="config-diff", cursor_type="none", zebra_stripes=True)
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
        table.add_columns("setting", "A", "B")
        differences = config_diff(a.config, b.config)
        for key, left, right in differences:
            table.add_row(key, _cell(left), _cell(right))
        if not differences:
            table.add_row(Text("same config", style="dim"), "", "")

    def _show_metrics(self, a: RunDigest, b: RunDigest) -> None:
        table = self.query_one("#metrics", DataTable)
        table.add_columns("metric", "A", "B")
        table.add_row("state", a.state, b.state)
        for metric in [m for m in a.metrics if m in b.metrics] + [m for m in b.metrics if m not in a.metrics] + \
                [m for m in a.metrics if m not in b.metrics]:
            left, right = a.metrics.get(metric), b.metrics.get(metric)
            style_a, style_b = _better(metric, left, right)
            table.add_row(metric, Text(humanize.number(left), style=style_a, justify="right"),
                          Text(humanize.number(right), style=style_b, justify="right"))
