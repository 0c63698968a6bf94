"""Snapshots at 80×24 of a text-generation run's Results: the generations browser and the chat
playground (a fake model streams canned pieces: no real generation). Fixed ids, times, events."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from screens.app import WorkbenchApp
from screens.widgets.chat_playground import ChatPlayground
from tests.tui.generation_fakes import GenerationRun, fake_chat
from tests.tui.harness import settled, wait_for
from tests.tui.test_snapshots_setup_results import T0, _results_read, quiet_world  # noqa: F401 (fixture)


def _generation_run() -> GenerationRun:
    fake = GenerationRun(Path("runs"), started_at=T0)
    fake.started()
    fake.step(50, loss=1.4)
    fake.generation_eval(50, loss=1.2, exact_match=0.4)
    fake.generation_eval(100, loss=0.9, exact_match=0.5)
    fake.finish()
    return fake


def test_results_generations_mismatches(snap_compare, quiet_world) -> None:
    fake = _generation_run()

    async def mismatches(pilot) -> None:
        await _results_read(pilot)
        await pilot.press("3", "f")
        await settled(pilot)

    assert snap_compare(WorkbenchApp(Path("runs"), run=fake.run.id), terminal_size=(80, 24), run_before=mismatches)


def test_results_chat_playground(snap_compare, quiet_world, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _generation_run()
    fake_chat(monkeypatch)

    async def chat(pilot) -> None:
        screen = await _results_read(pilot)
        await pilot.press("4")
        playground = screen.query_one(ChatPlayground)
        await wait_for(pilot, lambda: playground.loaded is not None, what="the fake model")
        box = playground.query_one("#chat-input", Input)
        box.cursor_blink = False
        await pilot.press(*"What is the capital of France?", "enter")
        await wait_for(pilot, lambda: len(playground.turns) == 2 and playground.pending is None, what="the reply")
        await pilot.press(*"And of Spain?", "enter")
        await wait_for(pilot, lambda: len(playground.turns) == 4 and playground.pending is None, what="the second reply")
        await settled(pilot)

    assert snap_compare(WorkbenchApp(Path("runs"), run=fake.run.id), terminal_size=(80, 24), run_before=chat)


def test_train_screen_of_a_generation_run(snap_compare, quiet_world) -> None:
    from screens.train import TrainScreen
    from screens.widgets.curves import RunCurve

    fake = GenerationRun(Path("runs"), started_at=T0)
    fake.started()
    for step in range(5, 65, 5):
        fake.step(step, loss=2.0 - step / 60)
        if step % 30 == 0:
            fake.generation_eval(step, loss=1.9 - step / 60)

    async def attach(pilot) -> None:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TrainScreen) and pilot.app.screen.is_mounted
                       and pilot.app.screen.query_one("#metric-curve", RunCurve).points == 2)
        await settled(pilot)

    assert snap_compare(WorkbenchApp(Path("runs"), run=fake.run.id, clock=lambda: T0 + 69), terminal_size=(80, 24),
                        run_before=attach)
