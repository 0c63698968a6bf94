"""Exporting from Results (ctrl+s): the dialog, the export itself, and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Checkbox, Input

from screens.app import WorkbenchApp
from screens.export_dialog import ExportDialog
from screens.results import ResultsScreen
from tests.tui.harness import wait_for, wait_for_screen
from tests.tui.test_results import finished_fake, open_results, tiny_finished_run  # noqa: F401 (fixture)
from workbench.runstore import RunDir


def titles(app: WorkbenchApp, severity: str) -> list[str]:
    return [n.title for n in app._notifications if n.severity == severity]


async def export_to(pilot, folder: Path, *, force: bool = False) -> ExportDialog:
    await pilot.press("ctrl+s")
    dialog = await wait_for_screen(pilot, ExportDialog)
    dialog.query_one("#export-folder", Input).value = str(folder)
    await pilot.pause()
    if force:
        assert dialog.query_one("#export-force", Checkbox).display
        dialog.query_one("#export-force", Checkbox).value = True
    dialog.query_one("#export-folder", Input).focus()
    await pilot.press("enter")
    return dialog


@pytest.mark.slow
async def test_export_writes_a_loadable_folder_and_asks_before_replacing(tiny_finished_run: RunDir, runs_dir: Path,
                                                                         tmp_path: Path) -> None:
    out = tmp_path / "exported"
    app = WorkbenchApp(runs_dir, run=tiny_finished_run.id)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, ResultsScreen)
        await pilot.press("ctrl+s")
        dialog = await wait_for_screen(pilot, ExportDialog)
        assert dialog.query_one("#export-folder", Input).value == str(runs_dir.parent / "exports" / tiny_finished_run.id)
        assert not dialog.query_one("#export-merge", Checkbox).display  # a full fine-tune: nothing to merge
        assert not dialog.query_one("#export-force", Checkbox).display
        await pilot.press("escape")
        await wait_for_screen(pilot, ResultsScreen)

        await export_to(pilot, out)
        await wait_for(pilot, lambda: "exported the model" in titles(app, "information"), timeout=60, what="the export")
        assert (out / "config.json").is_file() and (out / "README.md").is_file()

        await export_to(pilot, out)  # not empty now: refused without the replace switch
        await wait_for(pilot, lambda: any("is not empty" in t for t in titles(app, "error")), what="the refusal")
        (out / "README.md").unlink()
        await export_to(pilot, out, force=True)
        await wait_for(pilot, lambda: (out / "README.md").is_file(), timeout=60, what="the replacing export")
        assert isinstance(app.screen, ResultsScreen)


async def test_a_run_without_a_saved_model_is_refused_politely(runs_dir: Path) -> None:
    fake = finished_fake(runs_dir)
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_results(pilot, fake)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: titles(app, "warning"), what="the refusal")
        assert titles(app, "warning")[-1] == "nothing to export yet"
        assert not isinstance(app.screen, ExportDialog)
