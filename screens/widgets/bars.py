"""Horizontal bars for label distributions and class probabilities, sized to the space given.

`BarChart` is a Rich renderable, so a plain `Static` shows it and it redraws at any width:
name, a bar in eighth-blocks, then the number (`56%`, or `1,967 · 55%`). Given more values
than its `limit` of lines, it lists them compactly instead (`LOC 7,140 · 30% · PER …`).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

EIGHTHS = " ▏▎▍▌▋▊▉"
NAME_WIDTH = 14


def fraction_bar(fraction: float, width: int) -> str:
    """A bar `width` cells wide filled to `fraction` (0..1), with 1/8-cell resolution."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (EIGHTHS[part] if part else "")
    return bar.ljust(width)


@dataclass
class BarChart:
    """`values` are counts (shown with their share) or probabilities (shown as percentages)."""

    values: dict[str, float]
    counts: bool = False
    highlight: str | None = None
    bar_style: str = "cyan"
    limit: int | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        items = list(self.values.items())
        total = sum(self.values.values()) or 1
        if self.limit is not None and len(items) > self.limit:
            # Too many for a bar each: every value still shows, as a compact wrapped list.
            compact = Text()
            for index, (name, value) in enumerate(items):
                compact.append(" · " if index else "", style="dim")
                compact.append(name, style="bold" if name == self.highlight else "")
                compact.append(f" {self._number(value, total)}", style="dim")
            yield compact
            return
        name_width = min(NAME_WIDTH, max((len(name) for name, _ in items), default=1))
        numbers = [self._number(value, total) for _, value in items]
        number_width = max((len(n) for n in numbers), default=0)
        bar_width = max(4, options.max_width - name_width - number_width - 2)
        scale = total if self.counts else 1.0
        for (name, value), number in zip(items, numbers):
            line = Text(no_wrap=True, overflow="ellipsis")
            style = "bold" if name == self.highlight else ""
            line.append(_fit(name, name_width).ljust(name_width), style=style)
            line.append(" ")
            line.append(fraction_bar(value / scale, bar_width), style=self.bar_style if not style else f"{self.bar_style} bold")
            line.append(" " + number.rjust(number_width), style=style)
            yield line

    def _number(self, value: float, total: float) -> str:
        if self.counts:
            return f"{int(value):,} · {value / total:.0%}"
        return f"{value:.0%}" if value >= 0.01 or value == 0 else "<1%"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
