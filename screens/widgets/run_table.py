"""The runs table: one row per run, updated in place as runs progress, appear and vanish."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from workbench import humanize
from workbench.runstore import RunSummary

from .state import state_text

#: Column widths for a narrow (80-column) and a wide table. Fixed, not measured: DataTable can
#: paint rows before it measures them, and rows painted early would keep the narrower widths.
NARROW = {"started": 13, "model": 14, "data": 9, "method": 6, "state": 11, "best": 5, "time": 7}
WIDE = {"started": 13, "task": 4, "model": 28, "data": 24, "method": 6, "state": 14, "best": 6, "time": 8}
WIDE_FROM = 100
TASK_SHORT = {"text-classification": "cls", "token-classification": "ner"}
MARK = "●"


def progress_of(summary: RunSummary) -> str:
    """`63%` for a running run whose last step event the scan found."""
    step = summary.extra.get("step")
    if not step or not step.get("total_steps"):
        return ""
    return f"{100 * step['step'] / step['total_steps']:.0f}%"


def duration_of(summary: RunSummary, now: float) -> float | None:
    """The run's training time (`RunHistory.training_seconds`); a live run's open segment counts
    up to `now` (the app's clock), so tests can freeze it."""
    return summary.duration_at(now)


def row_cells(summary: RunSummary, marked: bool, now: float, wide: bool = False) -> list[Any]:
    widths = WIDE if wide else NARROW
    model_width, data_width = widths["model"], widths["data"]
    cells = {
        "started": Text.assemble((f"{MARK if marked else ' '} ", "bold magenta"), humanize.timestamp(summary.started_at)),
        "task": TASK_SHORT.get(summary.task, summary.task),
        "model": _clip(humanize.short_model(summary.model), model_width),
        "data": _clip(humanize.short_data(summary.data), data_width) if summary.data != "?" else "?",
        "method": summary.method,
        "state": state_text(summary.state, progress_of(summary)),
        "best": Text(humanize.number(summary.best_value), justify="right"),
        "time": Text(humanize.duration(duration_of(summary, now)), justify="right"),
    }
    return [cells[column] for column in widths]


def _clip(value: str, width: int) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


class RunTable(DataTable):
    """Row keys are run ids; `show` diffs against what is on screen and keeps the cursor's run.

    The first cell carries the compare mark (`●`) before the start time. Below 100 columns the
    task column goes (the line under the table names it) and names are clipped shorter.
    """

    BINDINGS = [Binding("enter", "select_cursor", "Open")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id)
        self._shown: dict[str, list[Any]] = {}
        self._wide: bool | None = None
        self._last: tuple[Sequence[RunSummary], Callable[[str], bool], float] | None = None

    @property
    def columns_shown(self) -> tuple[str, ...]:
        return tuple(WIDE if self._wide else NARROW)

    def on_mount(self) -> None:
        self._add_columns(self.app.size.width >= WIDE_FROM)

    def on_resize(self) -> None:
        if self._last is not None and (self.app.size.width >= WIDE_FROM) != self._wide:
            self.clear(columns=True)
            self._shown = {}
            self._add_columns(not self._wide)
            self.show(*self._last)

    def _add_columns(self, wide: bool) -> None:
        self._wide = wide
        for column, width in (WIDE if wide else NARROW).items():
            self.add_column(column, key=column, width=width)

    @property
    def current_id(self) -> str | None:
        if not self.row_count:
            return None
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)

    def show(self, summaries: Sequence[RunSummary], marked: Callable[[str], bool], now: float) -> None:
        self._last = (summaries, marked, now)
        rows = {s.id: row_cells(s, marked(s.id), now, bool(self._wide)) for s in summaries}
        if list(rows) != list(self._shown):
            self._rebuild(rows)
            return
        for run_id, cells in rows.items():
            for column, old, new in zip(self.columns_shown, self._shown[run_id], cells):
                if _plain(old) != _plain(new) or _style(old) != _style(new):
                    self.update_cell(run_id, column, new)
        self._shown = rows

    def _rebuild(self, rows: dict[str, list[Any]]) -> None:
        keep = self.current_id
        self.clear()
        for run_id, cells in rows.items():
            self.add_row(*cells, key=run_id)
        self._shown = rows
        if keep in rows:
            self.move_cursor(row=list(rows).index(keep))


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _style(cell: Any) -> str:
    return str(cell.spans) + str(cell.style) if isinstance(cell, Text) else ""
