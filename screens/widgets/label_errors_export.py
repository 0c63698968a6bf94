"""The dialog that asks where to write a run's likely label errors as CSV.

It only asks; the Results screen writes the file (`workbench.label_errors.export_label_errors`) in
a worker. The replace switch shows only while the chosen file exists, since the export refuses an
existing file otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static


@dataclass(frozen=True)
class LabelErrorsExportRequest:
    """What the person chose: `export_label_errors(rows, path, force=force)`."""

    path: Path
    force: bool = False


class LabelErrorsExportDialog(ModalScreen[LabelErrorsExportRequest | None]):
    """File, replace (existing file only); enter exports, escape cancels."""

    DEFAULT_CSS = """
    LabelErrorsExportDialog #dialog-box { width: 72; }
    LabelErrorsExportDialog Checkbox { border: none; padding: 0; background: $surface; }
    LabelErrorsExportDialog #dialog-message { color: $text-muted; margin: 1 0; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, run_id: str, default_path: Path, what: str) -> None:
        """`what` says which rows go out, e.g. `the 12 rows shown (given negative)`."""
        super().__init__(classes="dialog")
        self.run_id = run_id
        self.default_path = default_path
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog-box") as box:
            box.border_title = f"Export label errors of {self.run_id}"
            yield Label("to CSV file")
            yield Input(str(self.default_path), placeholder="file (its folder is created if missing)", id="label-errors-file")
            yield Checkbox("replace the existing file", id="label-errors-force")
            yield Static(f"{self.what}, most suspicious first, in label_errors.csv's columns", id="dialog-message")
            with Horizontal(id="dialog-buttons"):
                yield Button("Cancel", id="label-errors-cancel")
                yield Button("Export", id="label-errors-go", variant="primary")

    def on_mount(self) -> None:
        self._show_force_if_needed()
        self.query_one("#label-errors-file", Input).focus()

    @on(Input.Changed, "#label-errors-file")
    def _file_changed(self) -> None:
        self._show_force_if_needed()

    def _show_force_if_needed(self) -> None:
        force = self.query_one("#label-errors-force", Checkbox)
        force.display = self.chosen_path().is_file()
        if not force.display:
            force.value = False

    def chosen_path(self) -> Path:
        value = self.query_one("#label-errors-file", Input).value.strip()
        return Path(value).expanduser() if value else self.default_path

    @on(Input.Submitted, "#label-errors-file")
    @on(Button.Pressed, "#label-errors-go")
    def _export(self, event: Input.Submitted | Button.Pressed) -> None:
        event.stop()
        self.dismiss(LabelErrorsExportRequest(self.chosen_path(), force=self.query_one("#label-errors-force", Checkbox).value))

    @on(Button.Pressed, "#label-errors-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
