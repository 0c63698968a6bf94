"""The runs table: one row per run, updated in place as runs progress, appear and vanish."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from workbench import humanize
from workbench.runstore import RunSummary

from .state import state_text

#: The columns below and from `WIDE_FROM` columns. Below it the task, data and method go (the lines
#: under the table name them; a run's name usually says them too). The start time (the run's
#: identity in the table) and the state are never cut.
NARROW_COLUMNS = ("started", "name", "model", "state", "best", "time")
WIDE_COLUMNS = ("started", "task", "name", "model", "data", "method", "state", "best", "time")
WIDE_FROM = 100
#: Columns of a fixed width: `●⚠ 11-28 10:12`, `running 100%`, `0.830`, `12h 03m`.
FIXED = {"started": 14, "task": 4, "method": 6, "state": 12, "best": 5, "time": 7}
#: How the width left over is shared by the columns whose text can be clipped.
SHARES = {"name": 3, "model": 4, "data": 3}
#: At least this wide, whatever the terminal (a narrower table scrolls sideways).
MIN_FLEX = {"name": 8, "model": 9, "data": 6}
#: Cells DataTable adds to each column (its padding), and what the scrollbar and margins take.
COLUMN_PADDING = 2
CHROME = 2
TASK_SHORT = {"text-classification": "cls", "token-classification": "ner", "text-generation": "gen"}
MARK = "●"
WARNING = "⚠"


def column_widths(width: int) -> dict[str, int]:
    """Each column's width for a terminal `width` columns wide. Fixed, not measured: DataTable can
    paint rows before it measures them, and rows painted early would keep the narrower widths."""
    columns = WIDE_COLUMNS if width >= WIDE_FROM else NARROW_COLUMNS
    flexible = [column for column in columns if column in SHARES]
    fixed = sum(FIXED[column] for column in columns if column in FIXED)
    left = max(0, width - CHROME - COLUMN_PADDING * len(columns) - fixed)
    total_share = sum(SHARES[column] for column in flexible)
    widths = {column: FIXED.get(column, 0) for column in columns}
    for column in flexible:
        widths[column] = max(MIN_FLEX[column], left * SHARES[column] // total_share)
    return widths


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


def model_name(summary: RunSummary) -> str:
    """The model as a person recognises it (`run_summary.model_label`: a local folder's origin)."""
    return humanize.short_model(summary.model_label or summary.model)


def row_cells(summary: RunSummary, marked: bool, now: float, widths: dict[str, int] | None = None) -> list[Any]:
    """The cells of `summary`'s row, for the columns of `widths` (80 columns' by default)."""
    widths = widths if widths is not None else column_widths(80)
    warned = bool(summary.diagnostics)
    cells = {
        "started": Text.assemble((MARK if marked else " ", "bold magenta"), (WARNING if warned else " ", "bold yellow"),
                                 " ", humanize.timestamp(summary.started_at)),
        "task": TASK_SHORT.get(summary.task, summary.task),
        "name": _clip(summary.name or "—", widths.get("name", 0)),
        "model": _clip(model_name(summary), widths.get("model", 0)),
        "data": _clip(humanize.short_data(summary.data), widths.get("data", 0)) if summary.data != "?" else "?",
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

    The first cell carries the compare mark (`●`) and a `⚠` for a run whose diagnosis found
    something (the line under the table says what) before the start time. Below 100 columns the
    task, data and method columns go (the lines under the table name them); the name, model and
    data columns share the width left.
    """

    BINDINGS = [Binding("enter", "select_cursor", "Open")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id)
        self._shown: dict[str, list[Any]] = {}
        self._widths: dict[str, int] = {}
        self._last: tuple[Sequence[RunSummary], Callable[[str], bool], float] | None = None

    @property
    def columns_shown(self) -> tuple[str, ...]:
        return tuple(self._widths)

    def on_mount(self) -> None:
        self._add_columns(column_widths(self.app.size.width))

    def on_resize(self) -> None:
        widths = column_widths(self.app.size.width)
        if widths != self._widths:
            self.clear(columns=True)
            self._shown = {}
            self._add_columns(widths)
            if self._last is not None:
                self.show(*self._last)

    def _add_columns(self, widths: dict[str, int]) -> None:
        self._widths = widths
        for column, width in widths.items():
            self.add_column(column, key=column, width=width)

    @property
    def current_id(self) -> str | None:
        if not self.row_count:
            return None
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)

    def show(self, summaries: Sequence[RunSummary], marked: Callable[[str], bool], now: float) -> None:
        self._last = (summaries, marked, now)
        rows = {s.id: row_cells(s, marked(s.id), now, self._widths) for s in summaries}
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
