"""The export dialog of Results: where to write the run's model, and how.

It only asks; the Results screen does the export (`workbench.export.export_run`) in a worker.
The merge switch is offered only for a LoRA run (one that saved an adapter); the replace
switch only while the chosen folder exists and is not empty, since export refuses it otherwise.
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
class ExportRequest:
    """What the person chose: `export_run(run, out_dir, merge=merge, force=force)`."""

    out_dir: Path
    merge: bool = False
    force: bool = False


def default_export_dir(run_path: Path) -> Path:
    """`exports/<run-id>` beside the runs directory the run lives in."""
    return run_path.parent.parent / "exports" / run_path.name


def is_non_empty_dir(path: Path) -> bool:
    try:
        return path.is_dir() and any(path.iterdir())
    except OSError:
        return False


class ExportDialog(ModalScreen[ExportRequest | None]):
    """Folder, merge (LoRA only), replace (non-empty folder only); enter exports, escape cancels."""

    CSS_PATH = "export_dialog.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, run_id: str, default_dir: Path, *, adapter: bool) -> None:
        super().__init__(classes="dialog")
        self.run_id = run_id
        self.default_dir = default_dir
        self.adapter = adapter

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog-box") as box:
            box.border_title = f"Export {self.run_id}"
            yield Label("to folder")
            yield Input(str(self.default_dir), placeholder="folder (created if missing)", id="export-folder")
            merge = Checkbox("merge the LoRA adapter into the base model", id="export-merge")
            merge.display = self.adapter
            yield merge
            yield Checkbox("replace what the folder holds", id="export-force")
            yield Static("a model folder that transformers.pipeline loads, with a model card", id="dialog-message")
            with Horizontal(id="dialog-buttons"):
                yield Button("Cancel", id="export-cancel")
                yield Button("Export", id="export-go", variant="primary")

    def on_mount(self) -> None:
        self._show_force_if_needed()
        self.query_one("#export-folder", Input).focus()

    @on(Input.Changed, "#export-folder")
    def _folder_changed(self) -> None:
        self._show_force_if_needed()

    def _show_force_if_needed(self) -> None:
        force = self.query_one("#export-force", Checkbox)
        force.display = is_non_empty_dir(self.chosen_dir())
        if not force.display:
            force.value = False

    def chosen_dir(self) -> Path:
        value = self.query_one("#export-folder", Input).value.strip()
        return Path(value).expanduser() if value else self.default_dir

    @on(Input.Submitted, "#export-folder")
    @on(Button.Pressed, "#export-go")
    def _export(self, event: Input.Submitted | Button.Pressed) -> None:
        event.stop()
        self.dismiss(ExportRequest(
            self.chosen_dir(),
            merge=self.adapter and self.query_one("#export-merge", Checkbox).value,
            force=self.query_one("#export-force", Checkbox).value,
        ))

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
