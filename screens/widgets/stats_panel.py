"""The Train screen's side panel: throughput, learning rate, time, memory, device, best metric."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from workbench import humanize

MEMORY_LABELS = {"rss": "RSS", "cuda": "GPU mem"}


def run_stats(step: Any, started: Any, best: Any, ended: Any = None, *, elapsed_s: float | None = None,
              latest_eval: Any = None) -> list[tuple[str, str]]:
    """(label, value) rows, humanised; unknown values show as an em dash. `elapsed_s` is the run's
    training time (`RunHistory.elapsed_seconds`); without it, what the events themselves say.
    A text-generation run adds tokens/s (its steps say it) and the latest eval perplexity."""
    step = step or {}
    started = started or {}
    elapsed = elapsed_s
    if elapsed is None:
        elapsed = ended.get("duration_s") if ended and ended.get("duration_s") is not None else step.get("elapsed_s")
    speed = step.get("samples_per_s")
    rows = [
        ("samples/s", f"{speed:.1f}" if speed else "—"),
        *([("tokens/s", f"{step.get('tokens_per_s'):,.0f}")] if step.get("tokens_per_s") else []),
        ("lr", humanize.learning_rate(step.get("learning_rate"))),
        ("elapsed", humanize.duration(elapsed)),
        (MEMORY_LABELS.get(step.get("memory_kind", ""), "memory"), humanize.bytes_(step.get("memory_bytes"))),
        ("device", started.get("device") or "—"),
    ]
    if started.get("params_trainable") is not None:
        rows.append(("trainable", humanize.count(started["params_trainable"])))
    if best:
        rows.append((f"best {_short_metric(best.get('name', 'metric'))}", humanize.number(best.get("value"))))
    perplexity = ((latest_eval or {}).get("metrics") or {}).get("perplexity")
    if isinstance(perplexity, (int, float)):
        rows.append(("eval ppl", humanize.number(perplexity)))
    return rows


def _short_metric(name: str) -> str:
    return {"accuracy": "acc", "macro_f1": "F1"}.get(name, name)


class StatsPanel(Static):
    """Right-aligned figures beside the curves (plain text: cheap to redraw several times a second)."""

    rows: list[tuple[str, str]] = []

    def on_mount(self) -> None:
        self.border_title = "run"

    def show(self, rows: list[tuple[str, str]]) -> None:
        if rows == self.rows:
            return
        self.rows = rows
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        width = max(self.content_region.width, 12)
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, (label, value) in enumerate(self.rows):
            if index:
                text.append("\n")
            text.append(label, style="dim")
            text.append(value.rjust(max(width - len(label), len(value) + 1)))
        self.update(text)
