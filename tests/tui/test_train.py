"""The Train screen, driven by a fake run directory whose events.jsonl the test appends to."""

from __future__ import annotations

import os
from pathlib import Path

from rich.text import Text
from textual.widgets import ProgressBar, Static

from screens.app import WorkbenchApp
from screens.messages import StepEvent
from screens.train import TrainScreen
from screens.widgets.curves import RunCurve, Series, y_range
from screens.widgets.log_tail import RunLog
from screens.widgets.stats_panel import StatsPanel
from tests.fakes import FakeRun
from tests.tui.harness import cancels, fast_watchers, wait_for, wait_for_first_screen, wait_for_screen  # noqa: F401 (fixtures)

import pytest

pytestmark = pytest.mark.usefixtures("fast_watchers")


def _text(widget: Static) -> str:
    content = widget.content
    return content.plain if isinstance(content, Text) else str(content)


async def _open_train(pilot, run) -> TrainScreen:
    await wait_for_first_screen(pilot)
    pilot.app.open_run(run)
    await wait_for_screen(pilot, TrainScreen)
    return pilot.app.screen


async def test_progress_curves_and_final_state_follow_the_events(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started(total_steps=100)
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_train(pilot, fake.run)
        bar = screen.query_one(ProgressBar)
        await wait_for(pilot, lambda: bar.total == 100, what="the total from the started event")
        assert bar.progress == 0

        fake.step(10, loss=0.69)
        fake.step(20, loss=0.61)
        await wait_for(pilot, lambda: bar.progress == 20, what="step 20")
        loss = screen.query_one("#loss-curve", RunCurve)
        assert loss.points == 2
        assert "20/100 steps" in _text(screen.query_one("#progress-steps", Static))
        assert "ETA 41s" in _text(screen.query_one("#progress-steps", Static))

        fake.eval(20, accuracy=0.7)
        metric = screen.query_one("#metric-curve", RunCurve)
        await wait_for(pilot, lambda: metric.points == 1, what="the eval point")
        assert metric.border_title == "eval accuracy"
        stats = dict(screen.query_one(StatsPanel).rows)
        assert stats["samples/s"] == "48.2" and stats["RSS"] == "1.4 GiB" and stats["best acc"] == "0.700"
        assert any(line.startswith("eval validation step 20") for line in screen.query_one(RunLog).lines_written)

        fake.step(100, loss=0.40)
        fake.finish()
        await wait_for(pilot, lambda: "finished" in _text(screen.query_one("#progress-steps", Static)), what="finished")
        assert bar.progress == 100
        assert loss.points == 3
        assert app.run_badge is not None and app.run_badge.state == "finished"
        assert "finished in 1m 52s" in screen.query_one(RunLog).lines_written[-1]
        assert screen.check_action("cancel_run", ()) is False  # nothing left to cancel: the key is gone


async def test_failed_run_shows_its_reason_and_hint_in_red(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    fake.step(10, loss=0.7)
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_train(pilot, fake.run)
        fake.fail(message="CUDA out of memory", hint="lower training.batch_size")
        log = screen.query_one(RunLog)
        await wait_for(pilot, lambda: any("failed" in line for line in log.lines_written), what="the failure")
        assert "✗ failed (oom): CUDA out of memory" in log.lines_written
        assert "  hint: lower training.batch_size" in log.lines_written
        steps = screen.query_one("#progress-steps", Static).content
        assert "failed at step 10" in str(steps)
        assert "red" in str(steps.style)
        assert app.run_badge.state == "failed"


async def test_reattaching_shows_the_whole_history(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started(total_steps=300)
    for step in range(1, 121):
        fake.step(step, loss=1.0 / step, total_steps=300)
    fake.eval(60, accuracy=0.6)
    fake.eval(120, accuracy=0.8)
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_train(pilot, fake.run)
        loss = screen.query_one("#loss-curve", RunCurve)
        await wait_for(pilot, lambda: loss.points == 120, what="all 120 steps plotted")
        assert screen.query_one("#metric-curve", RunCurve).points == 2
        assert screen.query_one(ProgressBar).progress == 120
        log = screen.query_one(RunLog).lines_written
        assert sum(line.startswith("step ") for line in log) == 120

        # Leaving and coming back re-uses the same screen; nothing is drawn twice.
        await pilot.press("ctrl+r")
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: app.screen is screen)
        assert sum(line.startswith("step ") for line in screen.query_one(RunLog).lines_written) == 120


async def test_a_burst_of_steps_collapses_into_few_messages(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started(total_steps=500)
    delivered: list[StepEvent] = []
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24), message_hook=lambda m: isinstance(m, StepEvent) and delivered.append(m)) as pilot:
        screen = await _open_train(pilot, fake.run)
        await wait_for(pilot, lambda: screen.query_one(ProgressBar).total == 500)
        for step in range(1, 501):
            fake.step(step, loss=1.0, total_steps=500)
        await wait_for(pilot, lambda: screen.query_one(ProgressBar).progress == 500, what="the last step")
        assert screen.query_one("#loss-curve", RunCurve).points == 500
        assert len(delivered) < 50  # 500 steps, a handful of messages


async def test_cancel_asks_first_and_keeping_is_the_default(runs_dir: Path, cancels: list) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_train(pilot, fake.run)
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: app.screen is not screen, what="the confirmation")
        await pilot.press("enter")  # the focused answer is "Keep running"
        await wait_for(pilot, lambda: app.screen is screen)
        assert cancels == []

        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: app.screen is not screen)
        await pilot.press("right", "enter")
        await wait_for(pilot, lambda: cancels == [fake.run], what="the cancel request")
        await wait_for(pilot, lambda: "cancelling" in _text(screen.query_one("#progress-epoch", Static)))

        fake.writer.emit("cancelled", step=10, checkpoint="checkpoints/checkpoint-10")
        fake.run.write_status(state="cancelled", ended_at=fake.started_at + 30)
        await wait_for(pilot, lambda: "cancelled at step" in _text(screen.query_one("#progress-steps", Static)))


async def test_a_vanished_process_ends_the_run_as_failed(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    fake.step(10, loss=0.5)
    fake.run.write_status(pid=_dead_pid(), pid_start=None)
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_first_screen(pilot)
        app.show_train(fake.run)  # attach on purpose: open_run would see it failed and show Results
        await wait_for_screen(pilot, TrainScreen)
        log = app.screen.query_one(RunLog)
        await wait_for(pilot, lambda: any("failed (vanished)" in line for line in log.lines_written))
        assert app.run_badge.state == "failed"


def _dead_pid() -> int:
    """A pid no process has: a child we started and reaped."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


async def test_a_collapsed_evaluation_is_diagnosed_in_one_warning_line(runs_dir: Path) -> None:
    from screens.widgets.diagnostics import DiagnosticsPanel

    fake = FakeRun(runs_dir)
    fake.started(total_steps=100)
    fake.step(10, loss=0.69)
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open_train(pilot, fake.run)
        panel = screen.query_one(DiagnosticsPanel)
        await wait_for(pilot, lambda: screen.query_one("#loss-curve", RunCurve).points == 1, what="the first step")
        assert panel.display is False and panel.lines == []  # nothing to say before an evaluation
        fake.writer.emit("eval", split="validation", step=20, epoch=0.2,
                         metrics={"accuracy": 0.509, "macro_f1": 0.337, "n": 872, "loss": 0.69},
                         per_class={}, confusion_matrix=[[0, 428], [0, 444]], labels=["negative", "positive"])
        await wait_for(pilot, lambda: panel.display, what="the diagnosis after the evaluation")
        await pilot.pause()  # laid out
        assert len(panel.lines) == 1
        line = panel.lines[0]
        assert line.startswith("⚠ the model predicts 'positive' for 100% of rows (majority baseline: accuracy 0.509")
        assert "— lower training.learning_rate" in line
        assert panel.region.height == 1 and panel.region.width == 80  # one clipped line at 80×24
        assert screen.query_one(RunLog).region.height >= 5  # the log keeps its room
        fake.finish()
        await wait_for(pilot, lambda: "finished" in _text(screen.query_one("#progress-steps", Static)), what="finished")
        assert panel.lines == [line]  # checked again at the end: still collapsed


def test_a_flat_eval_curve_keeps_its_axis_near_the_value_and_inside_a_fractions_range() -> None:
    """One evaluation so far: plotext's own ±0.5 drew an accuracy axis up to 1.48."""
    low, high = y_range([Series("eval", [20], [0.988])], (0.0, 1.0))
    assert 0.9 < low < 0.988 and high == 1.0
    assert y_range([Series("eval", [20, 40], [0.5, 0.5])], None) == pytest.approx((0.475, 0.525))
    assert y_range([Series("eval", [20, 40], [0.5, 0.7])], (0.0, 1.0)) is None  # a real range: plotext's own
    assert y_range([Series("loss", [1], [0.0])], None) == pytest.approx((-0.01, 0.01))
