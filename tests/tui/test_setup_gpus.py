"""Setup's `training.nproc` field: offered only when more than one GPU is visible."""

from __future__ import annotations

from pathlib import Path

import pytest

from screens.app import WorkbenchApp
from tests.tui.harness import wait_for
from tests.tui.test_setup import Launches, field, open_setup, previews_done, retype, tiny_preset, user_presets  # noqa: F401


def fake_gpus(monkeypatch: pytest.MonkeyPatch, count: int) -> list[int]:
    """`visible_gpus` answers `count`; the returned list records each time it was asked."""
    asked: list[int] = []

    def visible_gpus() -> int:
        asked.append(count)
        return count

    monkeypatch.setattr("workbench.preview.visible_gpus", visible_gpus)
    return asked


async def test_with_two_gpus_the_process_count_is_offered_and_sent_to_the_run(runs_dir: Path, tiny_preset: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    fake_gpus(monkeypatch, 2)
    launches = Launches()
    async with WorkbenchApp(runs_dir, preset=str(tiny_preset)).run_test(size=(80, 24), message_hook=launches) as pilot:
        screen = await open_setup(pilot)
        nproc = field(screen, "training.nproc")
        await wait_for(pilot, lambda: nproc.display, what="the gpus field")
        assert nproc.region.width > 0 and nproc.placeholder == "1-2"
        await retype(pilot, nproc, "2")
        await previews_done(pilot, screen)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: launches.configs, what="Setup's StartRun")
        assert [config.training.nproc for config in launches.configs] == [2]


async def test_without_several_gpus_the_process_count_stays_hidden(runs_dir: Path, tiny_preset: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    asked = fake_gpus(monkeypatch, 0)
    launches = Launches()
    async with WorkbenchApp(runs_dir, preset=str(tiny_preset)).run_test(size=(80, 24), message_hook=launches) as pilot:
        screen = await open_setup(pilot)
        await wait_for(pilot, lambda: asked, what="the GPU count")
        await previews_done(pilot, screen)
        assert not field(screen, "training.nproc").display
        assert not any(label.display for label in screen.query(".nproc-field"))
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: launches.configs, what="Setup's StartRun")
        assert [config.training.nproc for config in launches.configs] == [1]
