"""Snapshots of Setup and Results at 80×24 and 120×40.

Deterministic by construction: Setup reads a copy of the quickstart CSV by a relative path
and inspects the packaged MiniLM (so no machine-specific path shows); suggestions come from
the shipped presets only (empty HF cache, no user presets, no runs); Results reads fake runs
with fixed ids, times and events. Screens are captured only once every worker has reported.
Update after an intended change with `pytest tests/tui/test_snapshots_setup_results.py
--snapshot-update` and look at the SVGs.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from screens.app import WorkbenchApp
from screens.results import ResultsScreen
from screens.setup import SetupScreen
from screens.widgets.model_info import ModelInfo
from screens.widgets.data_preview import LabelDistribution
from screens.widgets.playground import Playground
from tests.fakes import FakeRun, ner_config
from tests.tui.harness import settled, wait_for
from workbench.config import RunConfig
from workbench.presets import SHIPPED_PRESETS_DIR

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
T0 = 1_796_000_000.0


@pytest.fixture
def quiet_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with no runs, no user presets and an empty HF cache; UTC."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setenv("TLWB_PRESETS_DIR", str(tmp_path / "user-presets"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return tmp_path


@pytest.fixture
def setup_config(quiet_world: Path, monkeypatch: pytest.MonkeyPatch) -> RunConfig:
    shutil.copy(SHIPPED_PRESETS_DIR / "data" / "quickstart_reviews.csv", quiet_world / "reviews.csv")
    config = RunConfig.model_validate({
        "name": "snapshot",
        "model": {"name": "sentence-transformers/all-MiniLM-L6-v2"},
        "data": {"train": "reviews.csv", "validation_split": 0.2},
        "method": {"kind": "lora", "r": 8, "alpha": 16},
        "training": {"epochs": 3, "batch_size": 16, "learning_rate": 1e-3, "max_length": 64},
    })
    monkeypatch.setattr("screens.setup.default_config", lambda: config)  # what Setup opens with
    monkeypatch.setattr("screens.setup.DEBOUNCE_S", 0.0)
    return config


@pytest.mark.parametrize("size", SIZES)
def test_setup_screen(snap_compare, setup_config, size) -> None:
    async def previews_shown(pilot) -> None:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, SetupScreen) and pilot.app.screen.is_mounted)
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.model_preview is not None and screen.data_preview is not None, timeout=120)
        await wait_for(pilot, lambda: not screen.query_one(ModelInfo).is_loading and not screen.query_one(LabelDistribution).is_loading)
        await wait_for(pilot, lambda: screen.query_one("#model-suggestions").option_count > 0)
        model_field = screen.query_one("#model-name")
        model_field.cursor_blink = False  # a blinking cursor would make the capture depend on timing
        model_field.cursor_position = 0
        await settled(pilot)

    assert snap_compare(WorkbenchApp(Path("runs")), terminal_size=size, run_before=previews_shown)


def _finished_run() -> FakeRun:
    fake = FakeRun(Path("runs"), "2026-11-30_081300_sst2-lora", started_at=T0)
    fake.started()
    fake.eval(50, accuracy=0.79)
    fake.eval(100, accuracy=0.812)
    fake.finish()
    return fake


async def _results_read(pilot) -> ResultsScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ResultsScreen) and pilot.app.screen.results is not None)
    badge = lambda: pilot.app.run_badge  # noqa: E731 - the header's run state, from the app's watcher
    await wait_for(pilot, lambda: badge() is not None and badge().state == "finished" and badge().device)
    await settled(pilot)
    return pilot.app.screen


@pytest.mark.parametrize("size", SIZES)
def test_results_metrics(snap_compare, quiet_world, size) -> None:
    fake = _finished_run()
    assert snap_compare(WorkbenchApp(Path("runs"), run=fake.run.id), terminal_size=size, run_before=_results_read)


@pytest.mark.parametrize("size", SIZES)
def test_results_confusion(snap_compare, quiet_world, size) -> None:
    fake = _finished_run()

    async def confusion(pilot) -> None:
        await _results_read(pilot)
        await pilot.press("2")
        await settled(pilot)

    assert snap_compare(WorkbenchApp(Path("runs"), run=fake.run.id), terminal_size=size, run_before=confusion)


@pytest.mark.parametrize("size", SIZES)
def test_results_prediction_errors(snap_compare, quiet_world, size) -> None:
    fake = _finished_run()

    async def errors(pilot) -> None:
        await _results_read(pilot)
        await pilot.press("3", "e")
        await settled(pilot)

    assert snap_compare(WorkbenchApp(Path("runs"), run=fake.run.id), terminal_size=size, run_before=errors)


def test_results_entities_and_detail(snap_compare, quiet_world) -> None:
    fake = FakeRun(Path("runs"), "2026-11-30_090000_conll-lora", config=ner_config(), started_at=T0)
    fake.started(labels=["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"])
    fake.ner_eval(100, f1=0.81)
    fake.finish()

    async def detail(pilot) -> None:
        await _results_read(pilot)
        await pilot.press("3", "down", "enter")
        await settled(pilot)

    assert snap_compare(WorkbenchApp(Path("runs"), run=fake.run.id), terminal_size=(80, 24), run_before=detail)


def test_results_playground_without_a_model(snap_compare, quiet_world) -> None:
    fake = _finished_run()

    async def playground(pilot) -> None:
        screen = await _results_read(pilot)
        await pilot.press("4")
        await wait_for(pilot, lambda: screen.query_one(Playground).is_mounted)
        await settled(pilot)

    assert snap_compare(WorkbenchApp(Path("runs"), run=fake.run.id), terminal_size=(80, 24), run_before=playground)


def test_results_metrics_of_a_collapsed_run(snap_compare, quiet_world) -> None:
    """The diagnosis at 80×24: the baseline beside the score, each warning whole above the tables."""
    fake = FakeRun(Path("runs"), "2026-11-30_090000_sst2-lora", started_at=T0)
    fake.started()
    for step in range(10, 101, 10):
        fake.step(step, loss=0.69 + 0.01 * (step % 3))
    fake.writer.emit("eval", split="validation", step=100, epoch=1.0,
                     metrics={"accuracy": 0.509, "macro_f1": 0.337, "n": 872, "loss": 0.69},
                     per_class={"negative": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 428},
                                "positive": {"precision": 0.509, "recall": 1.0, "f1": 0.675, "support": 444}},
                     confusion_matrix=[[0, 428], [0, 444]], labels=["negative", "positive"])
    fake.run.write_status(best={"name": "accuracy", "value": 0.509, "step": 100})
    fake.finish()
    assert snap_compare(WorkbenchApp(Path("runs"), run=fake.run.id), terminal_size=(80, 24), run_before=_results_read)
