"""A run's likely label errors: the rows of `label_errors.csv`, read back and exported.

The training process writes the file after a text classifier trains (`workbench.trainer.label_check`):
the training rows the model most confidently contradicts, most suspicious first, one line each:
`row, text[, text_pair], given, suggested, given_prob, suggested_prob`. This module is the one
place that names the file and reads it, for the Results screen and the CLI; an export writes the
same columns, so an exported file reads back the same way.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from .diagnostics import diagnose
from .errors import RunError
from .fsutil import atomic_write_text

LABEL_ERRORS_FILE = "label_errors.csv"
#: The columns every label_errors.csv has (`text_pair` only for a text-pair task), in order.
COLUMNS = ("row", "text", "given", "suggested", "given_prob", "suggested_prob")


@dataclass(frozen=True)
class LabelErrorRow:
    """One training row the model contradicts: its index in the training data, its text, the label
    it was given and the one the model suggests, with the model's probability for each."""

    row: int
    text: str
    given: str
    suggested: str
    given_prob: float
    suggested_prob: float
    text_pair: str | None = None

    @property
    def full_text(self) -> str:
        """The text, and the pair's second text on its own line."""
        return self.text if self.text_pair is None else f"{self.text}\n{self.text_pair}"


class LabelErrorsUnreadable(RunError):
    """label_errors.csv exists but is not what the label check writes."""


def label_errors_path(run_dir: Path) -> Path:
    return Path(run_dir) / LABEL_ERRORS_FILE


def read_label_errors(run_dir: Path) -> list[LabelErrorRow] | None:
    """The rows of the run's label_errors.csv in file order (most suspicious first); None when the
    run has none (no check for its task, or not run yet). A malformed file raises
    `LabelErrorsUnreadable`, naming the line and what is wrong with it."""
    path = label_errors_path(run_dir)
    try:
        content = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise _unreadable(path, f"can't be read ({error})") from None
    return parse_label_errors(content, path)


def parse_label_errors(content: str, path: Path = Path(LABEL_ERRORS_FILE)) -> list[LabelErrorRow]:
    """The rows of a label_errors.csv's `content` (`path` only names it in errors)."""
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise _unreadable(path, "is empty (not even a header line)")
        missing = [column for column in COLUMNS if column not in header]
        if missing:
            raise _unreadable(path, f"has no {', '.join(missing)} column{'s' if len(missing) > 1 else ''}")
        return [_row(dict(zip(header, fields)), len(header), len(fields), reader.line_num, path)
                for fields in reader if fields]
    except csv.Error as error:
        raise _unreadable(path, f"line {reader.line_num}: {error}") from None


def _row(cells: dict[str, str], width: int, found: int, line: int, path: Path) -> LabelErrorRow:
    if found != width:
        raise _unreadable(path, f"line {line} has {found} fields where the header has {width}")
    return LabelErrorRow(
        row=_number(cells, "row", int, line, path),
        text=cells["text"],
        given=cells["given"],
        suggested=cells["suggested"],
        given_prob=_number(cells, "given_prob", float, line, path),
        suggested_prob=_number(cells, "suggested_prob", float, line, path),
        text_pair=cells.get("text_pair"),
    )


def _number(cells: dict[str, str], column: str, kind: type, line: int, path: Path):
    try:
        return kind(cells[column])
    except ValueError:
        raise _unreadable(path, f"line {line}: {column} {cells[column]!r} is not a number") from None


def _unreadable(path: Path, what: str) -> LabelErrorsUnreadable:
    return LabelErrorsUnreadable(f"{path} {what}",
                                 "it is written by the label check at the end of training: train the run again, or delete the file")


def label_errors_csv(rows: Iterable[LabelErrorRow], *, pair: bool | None = None) -> str:
    """`rows` as CSV in label_errors.csv's own columns; `text_pair` when `pair` (by default, when a
    row has one). The label check and the export both write through this."""
    rows = list(rows)
    pair = any(row.text_pair is not None for row in rows) if pair is None else pair
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([COLUMNS[0], COLUMNS[1], *(["text_pair"] if pair else []), *COLUMNS[2:]])
    for row in rows:
        writer.writerow([row.row, row.text, *([row.text_pair or ""] if pair else []),
                         row.given, row.suggested, row.given_prob, row.suggested_prob])
    return out.getvalue()


def why_none(rows: list[LabelErrorRow] | None, *, state: str, task: str | None,
             found: int | None, checked: int | None, collapsed: bool = False) -> tuple[str, str] | None:
    """Why a run lists no label errors, as `(kind, message)`: `found_none` (the check ran and
    agreed with every label), `missing` (the check found rows but the file is gone), `collapsed`
    (the model predicts one class for nearly everything: what it "contradicts" says nothing about
    the labels, so its rows are not listed) or `no_check` (the task has none, the run hasn't
    reached it, or it never ran). None when there are `rows` to list.
    `found`/`checked` are the `finished` event's `label_errors`/`label_rows_checked`."""
    if task == "token-classification" or task == "text-generation":
        return "no_check", f"no label check for {task.replace('-', ' ')}: it looks for mislabelled rows of text classifiers"
    if collapsed:
        return "collapsed", ("not listed: the model predicts one class for nearly every row, so the rows it contradicts say "
                             "nothing about their labels; fix the collapse first (the run's diagnosis says how), then train again")
    if rows:
        return None
    if rows is not None:
        of = f"{checked:,} training rows" if checked else "training rows"
        return "found_none", f"none found: the model agrees with the given label of the {of} it checked"
    if state in ("starting", "running"):
        return "no_check", "the label check runs when training ends: this run is still going"
    if state in ("failed", "cancelled"):
        return "no_check", f"the run {state} before its label check (it runs when training ends); resume it to finish"
    if found:
        return "missing", f"{LABEL_ERRORS_FILE} is missing from the run directory ({found:,} suspect rows were found when training ended)"
    return "no_check", ("this run has no label check: it runs after a text classifier trains in one process "
                        "(not with several GPUs), and runs from before it have none")


def label_errors_report(run: Any) -> dict[str, Any]:
    """A run's label errors for `tlwb show RUN --label-errors` (`run`: a `runstore.RunDir`): the
    file, how many suspects the check found of how many rows, every row kept, most suspicious
    first, and `none` (`{kind, message}` from `why_none`) when there are no rows. A malformed file
    raises `LabelErrorsUnreadable`."""
    rows = read_label_errors(run.path)
    history = run.history()
    ended = history.ended
    found, checked = getattr(ended, "label_errors", None), getattr(ended, "label_rows_checked", None)
    task = history.task or run.config_task()
    collapsed = any(d.kind == "collapse" for d in diagnose(history))
    reason = why_none(rows, state=run.status().state, task=task, found=found, checked=checked, collapsed=collapsed)
    listed = [] if reason is not None else rows or []
    return {
        "run": run.id,
        "path": str(label_errors_path(run.path)),
        "found": max(found or 0, len(rows or [])),
        "checked": checked,
        "rows": [asdict(row) for row in listed],
        "none": None if reason is None else {"kind": reason[0], "message": reason[1]},
    }


def default_export_path(run_dir: Path) -> Path:
    """`exports/<run-id>-label-errors.csv` beside the runs directory the run lives in (where an
    exported model goes too)."""
    run_dir = Path(run_dir)
    return run_dir.parent.parent / "exports" / f"{run_dir.name}-label-errors.csv"


def export_label_errors(rows: Iterable[LabelErrorRow], path: Path, *, force: bool = False) -> Path:
    """Write `rows` to the CSV file `path` at once (temp file + rename: never half-written);
    an existing file is replaced only with `force`, a folder never."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise RunError(f"{path} is a folder", "name a file to write, e.g. label-errors.csv")
    if path.exists() and not force:
        raise RunError(f"{path} already exists", "choose another name, or replace it")
    atomic_write_text(path, label_errors_csv(rows), make_parents=True)
    return path
