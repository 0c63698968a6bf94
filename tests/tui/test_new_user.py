"""What a new user tripped on at 80×24 (issue 12): each test failed before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from screens.app import WorkbenchApp
from screens.runs import RunsScreen
from screens.setup import SetupScreen
from screens.train import TrainScreen
from tests.fakes import FakeRun
from tests.tui.harness import cancels, fast_watchers, wait_for, wait_for_screen  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("fast_watchers")


@pytest.fixture(autouse=True)
def quick_debounce(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("screens.setup.DEBOUNCE_S", 0.05)


async def test_a_long_footer_fits_80_columns_without_a_stray_character(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, RunsScreen)
        app.open_run(fake.run)
        await wait_for_screen(pilot, TrainScreen)
        await pilot.press("ctrl+n")  # Setup's keys plus Train, Results, Runs: more than 80 columns
        setup = await wait_for_screen(pilot, SetupScreen)
        footer = setup.query_one(Footer)
        await wait_for(pilot, lambda: footer.query(FooterKey), what="the footer's keys")
        await pilot.pause()
        assert footer.max_scroll_x == 0, "the footer's keys overflow 80 columns"
        keys = [key.key_display for key in footer.query(FooterKey)]
        assert "^q" in keys and keys[-1] == "^p"
        assert sum(key.region.width for key in footer.query(FooterKey)) <= 80
