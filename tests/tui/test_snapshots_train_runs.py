"""Snapshots of Train, Runs and Compare at 80×24 and 120×40.

Deterministic by construction: fake runs with fixed ids, times and events; the runs directory
given as a relative path; the clock frozen; UTC. Update after an intended change with
`pytest tests/tui/test_snapshots_train_runs.py --snapshot-update` and look at the SVGs.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from screens.app import WorkbenchApp
from screens.compare import CompareScreen
from screens.runs import RunsScreen
from screens.train import TrainScreen
from screens.widgets.curves import RunCurve
from screens.widgets.run_table import RunTable
from tests.fakes import FakeRun, fake_config
from tests.tui.harness import fast_watchers, settled, wait_for  # noqa: F401 (fixtures)

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
T0 = 1_796_000_000.0  # 2026-11-30 00:53 UTC
CLOCK = lambda: T0 + 3_600  # noqa: E731 (a frozen "now", an hour after the first run)

pytestmark = pytest.mark.usefixtures("fast_watchers")


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeRun]:
    """Four runs in ./runs: finished, failed, cancelled and one still going (mid-training)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    runs_dir = Path("runs")
    finished = FakeRun(runs_dir, "2026-11-30_081300_sst2-full", config=fake_config(method={"kind": "full"}), started_at=T0)
    finished.started()
    for step in range(10, 101, 10):
        finished.step(step, loss=0.7 - step / 250)
    finished.eval(50, accuracy=0.79)
    finished.eval(100, accuracy=0.83)
    finished.finish()
    failed = FakeRun(runs_dir, "2026-11-30_083000_sst2-lora", started_at=T0 + 1_020)
    failed.started()
    failed.step(10, loss=0.69)
    failed.fail(message="CUDA out of memory (tried to allocate 1.2 GiB)", hint="lower training.batch_size or use LoRA")
    cancelled = FakeRun(runs_dir, "2026-11-30_084500_imdb-lora", started_at=T0 + 1_920)
    cancelled.started()
    cancelled.step(10, loss=0.66)
    cancelled.writer.emit("cancelled", time=T0 + 2_000, step=12, checkpoint="checkpoints/checkpoint-12")
    cancelled.run.write_status(state="cancelled", ended_at=T0 + 2_000)
    going = FakeRun(runs_dir, "2026-11-30_090000_sst2-lora", started_at=T0 + 2_880)
    going.started(total_steps=113)
    for step in range(1, 73):
        going.step(step, loss=round(0.69 * 0.99 ** step + 0.02 * (step % 5), 4), total_steps=113,
                   eta_s=41.0, elapsed_s=69.0 + step)
        if step in (36, 72):
            going.eval(step, accuracy=0.70 + step / 1000)
    return {"finished": finished, "failed": failed, "cancelled": cancelled, "going": going}


def _app() -> WorkbenchApp:
    return WorkbenchApp(Path("runs"), clock=CLOCK)


async def _runs_listed(pilot) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunsScreen) and pilot.app.screen.is_mounted
                   and pilot.app.screen.query_one(RunTable).row_count == 4)


@pytest.mark.parametrize("size", SIZES)
def test_train_screen_mid_run(snap_compare, runs, size) -> None:
    async def attach(pilot) -> None:
        await _runs_listed(pilot)
        pilot.app.open_run(runs["going"].run)
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TrainScreen) and pilot.app.screen.is_mounted
                       and pilot.app.screen.query_one("#metric-curve", RunCurve).points == 2)
        await settled(pilot)

    assert snap_compare(_app(), terminal_size=size, run_before=attach)


def test_train_screen_of_a_failed_run(snap_compare, runs) -> None:
    async def attach(pilot) -> None:
        await _runs_listed(pilot)
        pilot.app.show_train(runs["failed"].run)
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TrainScreen) and pilot.app.screen.is_mounted
                       and pilot.app.run_badge is not None and pilot.app.run_badge.state == "failed")
        await settled(pilot)

    assert snap_compare(_app(), terminal_size=(80, 24), run_before=attach)


@pytest.mark.parametrize("size", SIZES)
def test_runs_screen(snap_compare, runs, size) -> None:
    async def select_failed(pilot) -> None:
        await _runs_listed(pilot)
        await pilot.press("down", "down")  # to the failed run: its reason shows under the table
        await settled(pilot)

    assert snap_compare(_app(), terminal_size=size, run_before=select_failed)


@pytest.mark.parametrize("size", SIZES)
def test_compare_screen(snap_compare, runs, size) -> None:
    async def compare(pilot) -> None:
        await _runs_listed(pilot)
        pilot.app.push_screen(CompareScreen(runs["finished"].run, runs["going"].run))
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CompareScreen) and pilot.app.screen.digests is not None)
        await settled(pilot)

    assert snap_compare(_app(), terminal_size=size, run_before=compare)
