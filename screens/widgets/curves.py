"""Line charts of a run's loss and eval metric (textual-plotext), one or several series each.

A curve redraws from the complete series it is given (thinned to what its width can show), so
collapsed step messages never lose points: callers pass `watcher.steps`, not the messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from textual_plotext import PlotextPlot

#: Colours for overlaid series, distinguishable in 256-colour terminals (labels name them too).
SERIES_COLORS = ("cyan", "magenta", "green", "yellow")


@dataclass
class Series:
    label: str
    xs: list[float]
    ys: list[float]


def loss_series(steps: Sequence[dict[str, Any]], label: str = "loss") -> Series:
    points = [(s["step"], s["loss"]) for s in steps if s.get("loss") is not None]
    return Series(label, [p[0] for p in points], [p[1] for p in points])


def metric_series(evals: Sequence[dict[str, Any]], metric: str, label: str | None = None) -> Series:
    points = [(e["step"], e["metrics"][metric]) for e in evals if isinstance(e.get("metrics", {}).get(metric), (int, float))]
    return Series(label or metric, [p[0] for p in points], [p[1] for p in points])


def thin(series: Series, limit: int) -> Series:
    """At most `limit` points, evenly spaced, always keeping the last one."""
    count = len(series.xs)
    if count <= limit or limit < 2:
        return series
    stride = (count - 1) / (limit - 1)
    picks = sorted({round(i * stride) for i in range(limit)})
    return Series(series.label, [series.xs[i] for i in picks], [series.ys[i] for i in picks])


#: Metrics that are fractions: a chart of one never shows a value outside 0–1 on its axis.
FRACTION_METRICS = frozenset({"accuracy", "macro_f1", "f1", "precision", "recall", "exact_match"})


def y_range(series: Sequence[Series], bounds: tuple[float, float] | None) -> tuple[float, float] | None:
    """The y axis for series that are flat (one evaluation so far, or the same value each time):
    a little either side of the value, kept inside `bounds`. None (plotext's own range) otherwise.

    plotext centres a flat line in ±0.5 of its value, so a first accuracy of 0.988 drew an axis
    from 0.49 to 1.48."""
    values = {y for s in series for y in s.ys}
    if len(values) != 1:
        return None
    value = values.pop()
    pad = max(abs(value) * 0.05, 0.01)
    low, high = value - pad, value + pad
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return (low, high) if high > low else None


class RunCurve(PlotextPlot):
    """A braille line chart; the title lives in the border so the plot keeps every row."""

    def __init__(self, title: str, *, empty: str = "no data yet", marker: str = "braille",
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = title
        self.empty_text = empty
        self.marker = marker
        self._series: list[Series] = []
        self._xlim: tuple[float, float] | None = None
        self._ybounds: tuple[float, float] | None = None

    def on_mount(self) -> None:
        super().on_mount()
        self._draw()

    def on_resize(self) -> None:
        # How many points are kept depends on the width: redraw for the real one, so what is
        # plotted never depends on whether data arrived before or after the first layout.
        if self._series:
            self._draw()

    @property
    def points(self) -> int:
        """How many points are plotted in total (tests read this)."""
        return sum(len(s.xs) for s in self._series)

    def show(self, *series: Series, title: str | None = None, xlim: tuple[float, float] | None = None,
             ybounds: tuple[float, float] | None = None) -> None:
        """Plot `series`; `xlim` lines this chart's steps up with another's; `ybounds` are the
        values the series can take (0–1 for a fraction), which the y axis never leaves."""
        self._series = [s for s in series if s.xs]
        self._xlim = xlim
        self._ybounds = ybounds
        if title is not None:
            self.border_title = title
        self._draw()

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.yfrequency(3)
        if not self._series:
            plt.title(self.empty_text)
            plt.frame(False)
            plt.xaxes(False, False)
            plt.yaxes(False, False)
            plt.xticks([])
            plt.yticks([])
        limit = max(2 * (self.size.width or 40), 20)
        labelled = len(self._series) > 1
        for index, series in enumerate(self._series):
            shown = thin(series, limit)
            plt.plot(shown.xs, shown.ys, marker=self.marker, color=SERIES_COLORS[index % len(SERIES_COLORS)],
                     label=series.label if labelled else None)
        if self._series:
            first = min(min(s.xs) for s in self._series)
            last = max(max(s.xs) for s in self._series)
            if self._xlim is not None:
                first, last = min(first, self._xlim[0]), max(last, self._xlim[1])
            last = max(last, first + 1)  # plotext divides by the range
            plt.xlim(first, last)
            steps = step_ticks(first, last)
            plt.xticks(steps, [f"{step:,}" for step in steps])
            ylim = y_range(self._series, self._ybounds)
            if ylim is not None:
                plt.ylim(*ylim)
        self.refresh()


def step_ticks(first: float, last: float) -> list[int]:
    """Up to three whole-step ticks: first, middle, last."""
    first, last = int(first), int(last)
    return sorted({first, (first + last) // 2, last})
