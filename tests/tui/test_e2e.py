"""End to end through the app: Setup → a real training process → live Train screen → Results."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import ProgressBar, Static

from screens.app import WorkbenchApp
from screens.results import ResultsScreen
from screens.setup import SetupScreen
from screens.train import TrainScreen
from screens.widgets.curves import RunCurve
from tests.tui.harness import wait_for, wait_for_screen
from workbench.presets import load_config


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_train_a_tiny_model_from_setup_and_land_on_results(tiny_model_dir: Path, tiny_csv: Path, runs_dir: Path) -> None:
    config = load_config(None, [f"model.name={tiny_model_dir}", f"data.train={tiny_csv}", "method.kind=full",
                                "training.epochs=2", "training.learning_rate=5e-3", "training.batch_size=8",
                                "training.logging_steps=2", "training.max_length=32"], base={"name": "tiny-e2e"})
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        first = await wait_for_screen(pilot, SetupScreen)  # no runs yet: a first visit starts at Setup
        app.open_setup(config)
        await wait_for(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen is not first and app.screen.is_mounted)
        await pilot.press("ctrl+t")

        train = await wait_for_screen(pilot, TrainScreen, timeout=60)
        bar = train.query_one(ProgressBar)
        await wait_for(pilot, lambda: (bar.progress or 0) > 0, timeout=240, what="the first logged steps")

        results = await wait_for_screen(pilot, ResultsScreen, timeout=300)
        assert results.run == train.run == app.current_run
        assert app.run_badge.state == "finished"
        await wait_for(pilot, lambda: results.results is not None and results.results.evals, what="the results")
        summary = results.query_one("#results-summary", Static).content
        assert "accuracy" in getattr(summary, "plain", str(summary))

        await pilot.press("ctrl+g")  # back to Train: it catches up with what happened while hidden
        await wait_for(pilot, lambda: app.screen is train)
        watcher = app.watch_run(train.run)
        await wait_for(pilot, lambda: train.query_one("#metric-curve", RunCurve).points == 2)  # one eval per epoch
        assert bar.progress == bar.total == watcher.started["total_steps"]
        assert train.query_one("#loss-curve", RunCurve).points == len(watcher.steps) > 0
        assert "finished" in str(train.query_one("#progress-steps", Static).content)
