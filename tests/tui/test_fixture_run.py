"""A run directory written by the version before the typed event contract (tests/fixtures/run_v1)
still opens in the TUI: Runs lists it, Results shows its metrics, confusion and predictions."""

from __future__ import annotations

import shutil
from pathlib import Path

from screens.app import WorkbenchApp
from screens.results import ResultsScreen
from screens.widgets.confusion_grid import ConfusionGrid
from screens.widgets.metrics_tables import EvalHistory
from screens.widgets.predictions_table import PredictionsTable
from tests.core.test_history import FIXTURE, FIXTURE_RUN
from tests.tui.harness import fast_watchers, wait_for  # noqa: F401 (fixture)
from tests.tui.test_setup import shown
from workbench.runstore import RunDir


async def test_results_open_a_run_of_todays_format(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    shutil.copytree(FIXTURE, runs_dir)
    run = RunDir(runs_dir / FIXTURE_RUN)
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: pilot.app.current_slot() is not None, what="the app's first screen")
        pilot.app.open_run(run)  # ended: Results
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ResultsScreen) and pilot.app.screen.results is not None,
                       what="the Results screen with the run read")
        screen = pilot.app.screen
        await pilot.pause()
        assert screen.query_one(EvalHistory).row_count == 2
        assert screen.query_one(PredictionsTable).row_count == 3
        assert screen.query_one(ConfusionGrid) is not None
        summary = shown(screen.query_one("#results-summary"))
        assert summary.startswith("finished in 1s") and summary.endswith("· tiny-bert · full · reviews")
        # the fixture's model is at its majority baseline (a collapse): the baseline takes the best's place at 80 columns
        assert "accuracy 0.500 ⚠ baseline 0.500" in summary
