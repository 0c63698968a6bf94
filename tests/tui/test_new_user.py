"""What a new user tripped on at 80×24 (issue 12): each test failed before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.geometry import Region
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from screens.app import WorkbenchApp
from screens.runs import RunsScreen
from screens.setup import SetupScreen
from screens.train import TrainScreen
from tests.fakes import FakeRun
from tests.tui.harness import cancels, fast_watchers, wait_for, wait_for_screen  # noqa: F401 (fixtures)
from tests.tui.test_setup import (  # noqa: F401 (fixtures)
    Launches, field, open_setup, paste, previews_done, retype, shown, tiny_preset, user_presets,
)

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


QUIT_WHILE_INSPECTING = r'''
import sys, threading, time, warnings
from pathlib import Path

import screens.setup
from screens.app import run_app
from screens.setup import SetupScreen

inspecting = threading.Event()

def slow_inspection(*args, **kwargs):
    inspecting.set()
    time.sleep(30)  # a model inspection that takes its time
    warnings.warn("printed by a worker after quit", FutureWarning)
    print("printed by a worker after quit", file=sys.stderr)

screens.setup.preview_model = slow_inspection

async def quit_while_inspecting(pilot):
    while not (isinstance(pilot.app.screen, SetupScreen) and inspecting.is_set()):
        await pilot.pause(0.05)
    print(f"QUIT {time.monotonic()}", flush=True)
    await pilot.press("ctrl+q")

run_app(Path(sys.argv[1]), headless=True, auto_pilot=quit_while_inspecting)
'''


def test_quit_returns_at_once_and_nothing_prints_after_it(runs_dir: Path, tmp_path: Path) -> None:
    """ctrl+q during a 30 s model inspection: the process ends within seconds, silently."""
    import os
    import subprocess
    import sys
    import time

    script = tmp_path / "quit_while_inspecting.py"
    script.write_text(QUIT_WHILE_INSPECTING)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run([sys.executable, str(script), str(runs_dir)], capture_output=True, text=True, timeout=120, env=env)
    ended = time.monotonic()
    quit_at = next(float(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("QUIT "))
    assert done.returncode == 0, done.stderr
    assert ended - quit_at < 5, f"quit took {ended - quit_at:.1f}s"
    assert "after quit" not in done.stderr + done.stdout


# -- Setup -----------------------------------------------------------------------------------------
async def test_lora_settings_hide_for_full_and_head_and_a_typed_learning_rate_stays(runs_dir: Path, tiny_preset: Path) -> None:
    from screens.widgets.config_fields import ConfigChoice

    app = WorkbenchApp(runs_dir, preset=str(tiny_preset))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        lora_rows = list(screen.query(".lora-row"))
        assert lora_rows and all(row.display for row in lora_rows)
        await retype(pilot, field(screen, "training.learning_rate"), "3e-5")  # typed: full's default, by chance
        screen.query_one("#method-kind-head").value = True
        await wait_for(pilot, lambda: screen.query_one(ConfigChoice).raw == "head", what="head chosen")
        await pilot.pause()
        assert not any(row.display for row in lora_rows) and not field(screen, "method.r").region.height
        assert "only the new head trains" in shown(screen.query_one("#method-note"))
        assert field(screen, "training.learning_rate").value == "3e-5"  # the user's, kept
        screen.query_one("#method-kind-lora").value = True
        await wait_for(pilot, lambda: all(row.display for row in lora_rows), what="the LoRA rows shown again")
        assert field(screen, "training.learning_rate").value == "3e-5"
        assert screen.build_config().training.learning_rate == pytest.approx(3e-5)


async def test_a_row_limit_and_advanced_settings_reach_the_run(runs_dir: Path, tiny_preset: Path) -> None:
    from textual.widgets import Collapsible

    launches = Launches()
    app = WorkbenchApp(runs_dir, preset=str(tiny_preset))
    async with app.run_test(size=(80, 24), message_hook=launches) as pilot:
        screen = await open_setup(pilot)
        await previews_done(pilot, screen)
        assert screen.data_preview.label_counts == {"negative": 36, "positive": 36}  # the 72 rows that train
        await retype(pilot, field(screen, "data.max_train_samples"), "40")
        await wait_for(pilot, lambda: screen.data_preview is not None and screen.data_preview.sizes["train"] == 40,
                       timeout=90, what="the preview of 40 training rows")
        assert sum(screen.data_preview.label_counts.values()) == 40  # counts follow the row limit
        assert "train 40 · val" in shown(screen.query_one("#data-sizes"))
        advanced = screen.query_one("#advanced", Collapsible)
        advanced.collapsed = False
        await pilot.pause()
        for key, value in (("training.gradient_accumulation_steps", "2"), ("training.warmup_ratio", "0.1"),
                           ("training.weight_decay", "0"), ("training.eval_steps", "5"), ("training.num_samples", "10")):
            await retype(pilot, field(screen, key), value)
        screen.query_one("#training-eval_strategy").value = "steps"
        assert screen.query_one("#training-batching").value == "length_buckets"  # text classification's default
        screen.query_one("#training-batching").value = "random"
        await previews_done(pilot, screen)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: launches.configs, what="Setup's StartRun")
        config = launches.configs[-1]
        assert config.data.max_train_samples == 40
        assert config.training.gradient_accumulation_steps == 2 and config.training.warmup_ratio == pytest.approx(0.1)
        assert config.training.weight_decay == 0 and config.training.num_samples == 10
        assert (config.training.eval_strategy, config.training.eval_steps) == ("steps", 5)
        assert config.training.batching == "random"


async def test_a_long_run_asks_before_it_starts_with_a_rough_estimate(runs_dir: Path, tiny_preset: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from screens.dialogs import ConfirmDialog
    from screens.widgets.model_info import ModelInfo

    monkeypatch.setattr("screens.setup.estimate_training_seconds", lambda *args: 3 * 3600.0)
    launches = Launches()
    app = WorkbenchApp(runs_dir, preset=str(tiny_preset))
    async with app.run_test(size=(80, 24), message_hook=launches) as pilot:
        screen = await open_setup(pilot)
        await previews_done(pilot, screen)
        await wait_for(pilot, lambda: "est. time ~3h 00m on cpu (rough)" in shown(screen.query_one(ModelInfo)), what="the estimate")
        await pilot.press("ctrl+t")
        dialog = await wait_for_screen(pilot, ConfirmDialog)
        assert "about 3h 00m" in shown(dialog.query_one("#dialog-message")) and "rough" in shown(dialog.query_one("#dialog-message"))
        await pilot.press("enter")  # the focused answer: back to Setup
        await wait_for(pilot, lambda: app.screen is screen, what="back on Setup")
        assert launches.configs == []
        await pilot.press("ctrl+t")
        await wait_for_screen(pilot, ConfirmDialog)
        await pilot.press("right", "enter")
        await wait_for(pilot, lambda: launches.configs, what="Setup's StartRun")


async def test_clearing_the_model_clears_its_info_and_its_lora_targets(runs_dir: Path, tiny_preset: Path) -> None:
    from screens.widgets.model_info import ModelInfo

    app = WorkbenchApp(runs_dir, preset=str(tiny_preset))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        await previews_done(pilot, screen)
        targets = field(screen, "method.target_modules")
        defaults = ",".join(screen.model_preview.lora_targets)
        assert targets.placeholder == defaults
        await paste(pilot, targets, defaults)  # the old model's own targets, written out
        await paste(pilot, field(screen, "model.name"), "")
        info = shown(screen.query_one(ModelInfo))
        assert "BertForSequenceClassification" not in info and "params" not in info
        assert targets.value == "" and targets.placeholder == "per architecture"


async def test_an_error_in_the_model_panel_wraps_instead_of_being_cut(runs_dir: Path, tiny_preset: Path, tmp_path: Path) -> None:
    from screens.widgets.model_info import ModelInfo

    app = WorkbenchApp(runs_dir, preset=str(tiny_preset))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        await paste(pilot, field(screen, "model.name"), str(tmp_path / "no-such-model-folder"))
        await wait_for(pilot, lambda: screen.model_error is not None, timeout=30, what="the model error")
        await pilot.pause()
        info = screen.query_one(ModelInfo)
        message = screen.model_error.message
        assert len(message) > info.size.width  # the case this test is about: a long message
        lines = [strip.text for strip in info.render_lines(Region(0, 0, info.size.width, info.size.height))]
        on_screen = " ".join(" ".join(lines).split())
        assert "…" not in on_screen
        assert " ".join(message.split()[-2:]) in on_screen  # the end of the message, not cut off


async def test_a_saved_preset_works_from_any_folder_with_its_own_description(
        runs_dir: Path, tiny_preset: Path, user_presets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tomllib

    from screens.presets_dialog import PresetNamePrompt
    from textual.widgets import Input
    from workbench.presets import load_config

    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "mine.csv").write_text((tiny_preset.parent / "reviews.csv").read_text())
    monkeypatch.chdir(tmp_path / "work")
    app = WorkbenchApp(runs_dir, preset=str(tiny_preset))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        await paste(pilot, field(screen, "data.train"), "mine.csv")  # typed relative to the working folder
        screen.query_one("#method-kind-full").value = True
        await pilot.pause()
        await pilot.press("ctrl+s")
        prompt = await wait_for_screen(pilot, PresetNamePrompt)
        description = prompt.query_one("#preset-description", Input)
        assert description.value == f"{Path(field(screen, 'model.name').value).name} · mine.csv · full fine-tune"
        await pilot.press("ctrl+u", *"rel", "enter")
        saved = user_presets / "rel.toml"
        await wait_for(pilot, saved.exists, what="the saved preset")
    data = tomllib.loads(saved.read_text())
    assert data["data"]["train"] == str(tmp_path / "work" / "mine.csv")
    assert data["description"] != "tiny test preset"
    monkeypatch.chdir(tmp_path)
    assert load_config("rel").data.train == str(tmp_path / "work" / "mine.csv")


# -- following a run resumed elsewhere, one duration everywhere -------------------------------------
async def test_train_and_runs_follow_a_resume_started_from_the_cli(runs_dir: Path, cancels: list,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from screens.run_watcher import RunWatcher
    from screens.widgets.progress_panel import TrainProgress
    from screens.widgets.run_table import RunTable
    from screens import runs as runs_module

    monkeypatch.setattr(RunWatcher, "ended_poll_s", 0.05)
    monkeypatch.setattr(runs_module, "RESCAN_S", 0.1)
    fake = FakeRun(runs_dir)
    fake.started()
    fake.step(20, 0.6)
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, RunsScreen)
        app.open_run(fake.run)
        train = await wait_for_screen(pilot, TrainScreen)
        await pilot.press("ctrl+x")
        await pilot.pause()
        await pilot.press("right", "enter")  # cancel it from here
        await wait_for(pilot, lambda: cancels, what="the cancel request")
        fake.writer.emit("cancelled", time=fake.started_at + 60, step=20, checkpoint="checkpoints/checkpoint-20")
        fake.run.write_status(state="cancelled", ended_at=fake.started_at + 60)
        steps = train.query_one(TrainProgress).query_one("#progress-steps")
        await wait_for(pilot, lambda: "cancelled" in str(steps.content), what="Train saying cancelled")

        # `tlwb resume RUN` in another terminal
        fake.run.write_status(state="starting")
        fake.started()
        fake.run.write_status(state="running")  # as the resumed trainer does once it has loaded
        fake.step(40, 0.4)
        await wait_for(pilot, lambda: "40/100 steps" in str(steps.content), what="Train following the resumed steps")
        epoch = train.query_one(TrainProgress).query_one("#progress-epoch")
        assert "cancelling" not in str(epoch.content)
        assert app.run_badge.state == "running"
        await pilot.press("ctrl+r")
        runs = await wait_for_screen(pilot, RunsScreen)
        table = runs.query_one(RunTable)
        await wait_for(pilot, lambda: table.row_count and "running" in str(table.get_cell(fake.run.id, "state")),
                       what=f"the Runs table saying running ({table.row_count and table.get_row(fake.run.id)})")
        assert "running" in str(runs.query_one("#header-run").content)
        fake.finish(duration_s=100)
        await wait_for(pilot, lambda: "finished" in str(table.get_cell(fake.run.id, "state")), what="the Runs table saying finished")
        await wait_for(pilot, lambda: app.run_badge.state == "finished", what="the header saying finished")
        await pilot.press("ctrl+g")
        await wait_for_screen(pilot, TrainScreen)
        await wait_for(pilot, lambda: "finished" in str(app.screen.query_one("#progress-steps").content), what="Train saying finished")


async def test_a_resumed_runs_duration_is_the_same_on_every_screen(runs_dir: Path) -> None:
    """60 s until a cancel, then a resume that trains 40 s more: 1m 40s on Runs, Train and Results."""
    from screens.results import ResultsScreen
    from screens.widgets.log_tail import RunLog
    from screens.widgets.run_table import RunTable
    from screens.widgets.stats_panel import StatsPanel

    fake = FakeRun(runs_dir)
    fake.started()
    fake.step(20, 0.6, elapsed_s=59.0)
    fake.writer.emit("cancelled", time=fake.started_at + 60, step=20, checkpoint="checkpoints/checkpoint-20")
    fake.started_at += 1000  # resumed much later (the pause is not training time)
    fake.started()
    fake.step(100, 0.3, elapsed_s=39.0)
    fake.eval(100, accuracy=0.81)
    fake.finish(duration_s=40)  # the trainer's own figure: this segment only
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        runs = await wait_for_screen(pilot, RunsScreen)
        table = runs.query_one(RunTable)
        await wait_for(pilot, lambda: table.row_count, what="the runs table")
        assert str(table.get_cell(fake.run.id, "time")).strip() == "1m 40s"
        app.open_run(fake.run)
        results = await wait_for_screen(pilot, ResultsScreen)
        await wait_for(pilot, lambda: "1m 40s" in str(results.query_one("#results-summary").content), what="Results' header")
        await pilot.press("ctrl+g")
        train = await wait_for_screen(pilot, TrainScreen)
        await wait_for(pilot, lambda: "1m 40s" in str(train.query_one("#progress-steps").content), what="Train's progress")
        assert any("finished in 1m 40s" in line for line in train.query_one(RunLog).lines_written)
        assert "1m 40s" in str(train.query_one(StatsPanel).render())


async def test_compare_shows_both_runs_values_side_by_side_at_80_columns(runs_dir: Path) -> None:
    from textual.widgets import DataTable

    from screens.compare import CompareScreen
    from tests.fakes import fake_config

    long_a = "/work/shared/data/sst2-with-a-long-folder-name/train-first-version.tsv"
    long_b = "/work/shared/data/sst2-with-a-long-folder-name/train-second-version.tsv"
    a = FakeRun(runs_dir, "2026-11-28_094000_a", config=fake_config(data={"train": long_a}, method={"kind": "full"}))
    b = FakeRun(runs_dir, "2026-11-28_101200_b", config=fake_config(data={"train": long_b}, training={"epochs": 3, "batch_size": 32}))
    for fake in (a, b):
        fake.started()
        fake.finish()
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, RunsScreen)
        app.push_screen(CompareScreen(a.run, b.run))
        compare = await wait_for_screen(pilot, CompareScreen)
        await wait_for(pilot, lambda: compare.digests is not None, what="both runs read")
        await pilot.pause()
        diff = compare.query_one("#config-diff", DataTable)
        assert diff.max_scroll_x == 0, "the differences need sideways scrolling"
        rows = {str(diff.get_row_at(i)[0]): [str(v) for v in diff.get_row_at(i)[1:]] for i in range(diff.row_count)}
        left, right = rows["data.train"]
        assert left.endswith("first-version.tsv") and right.endswith("second-version.tsv")
        assert rows["method.kind"] == ["full", "lora"] and rows["training.epochs"] == ["1", "3"]
        assert sum(column.get_render_width(diff) for column in diff.columns.values()) <= diff.scrollable_content_region.width


async def test_results_header_keeps_the_data_name_and_toasts_wrap_at_words(runs_dir: Path) -> None:
    from textual.widgets._toast import Toast

    from screens.results import ResultsScreen
    from tests.fakes import fake_config

    fake = FakeRun(runs_dir, config=fake_config(model={"name": "sentence-transformers/all-MiniLM-L6-v2"},
                                                data={"train": "/work/shared/data/imdb-reviews/train.csv"}))
    fake.started()
    fake.step(50, 0.5)
    fake.eval(50, accuracy=0.83)
    fake.eval(100, accuracy=0.812)
    fake.finish()
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for_screen(pilot, RunsScreen)
        app.open_run(fake.run)
        results = await wait_for_screen(pilot, ResultsScreen)
        summary = results.query_one("#results-summary")
        await wait_for(pilot, lambda: "accuracy" in str(summary.content), what="the summary")
        await pilot.pause()
        line = summary.render_lines(Region(0, 0, summary.size.width, 1))[0].text
        assert line.rstrip().endswith("imdb-reviews"), line  # what was trained, not cut
        assert "finished in 1m 52s" in line and "accuracy 0.812" in line

        message = "check the path or give a hub id like sentence-transformers/all-MiniLM-L6-v2"
        app.notify(message, title="can't start: model folder /work/shared/models/minilm does not exist", severity="error")
        await wait_for(pilot, lambda: app.screen.query(Toast), what="the toast")
        await pilot.pause()
        toast = app.screen.query(Toast).last()
        lines = [strip.text.strip(" ▌") for strip in toast.render_lines(Region(0, 0, toast.outer_size.width, toast.outer_size.height))]
        words = " ".join(lines).split()
        for word in ("sentence-transformers/all-MiniLM-L6-v2", "/work/shared/models/minilm"):
            assert word in words, lines  # never broken across lines


# -- the command palette ---------------------------------------------------------------------------
async def _run_command(pilot, words: str) -> None:
    """Open the palette, type `words`, run the best match."""
    from textual.command import CommandPalette

    await pilot.press("ctrl+p")
    palette = await wait_for_screen(pilot, CommandPalette)
    await pilot.press(*words)
    await wait_for(pilot, lambda: palette.query("CommandList") and palette.query_one("CommandList").option_count,
                   what=f"a command matching {words!r}")
    await pilot.pause(0.2)
    await pilot.press("enter")


async def test_the_palette_cancels_resumes_compares_and_saves_from_any_screen(
        runs_dir: Path, cancels: list, monkeypatch: pytest.MonkeyPatch, tiny_preset: Path, user_presets: Path) -> None:
    from workbench import runner
    from screens.compare import CompareScreen
    from screens.dialogs import ConfirmDialog
    from screens.presets_dialog import PresetNamePrompt
    from screens.results import ResultsScreen

    going = FakeRun(runs_dir, "2026-11-28_101200_going")
    going.started()
    stopped = FakeRun(runs_dir, "2026-11-28_094000_stopped")
    stopped.started()
    stopped.writer.emit("cancelled", step=20, checkpoint="checkpoints/checkpoint-20")
    stopped.run.write_status(state="cancelled")
    resumed: list = []

    def fake_resume(run):
        resumed.append(run)
        run.write_status(state="running")
        return None

    monkeypatch.setattr(runner, "resume", fake_resume)
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.known_runs, what="the first scan")
        app.open_run(going.run)
        await wait_for_screen(pilot, TrainScreen)
        await pilot.press("ctrl+r")
        await wait_for_screen(pilot, RunsScreen)

        await _run_command(pilot, "cancel run")  # from Runs, not Train
        await wait_for_screen(pilot, ConfirmDialog)
        await pilot.press("right", "enter")
        await wait_for(pilot, lambda: cancels == [going.run], what="the cancel")

        await _run_command(pilot, "compare")
        compare = await wait_for_screen(pilot, CompareScreen)
        assert {run.id for run in compare.runs} == {going.run.id, stopped.run.id}
        await pilot.press("escape")

        await _run_command(pilot, "resume")
        await wait_for(pilot, lambda: resumed == [stopped.run], what="the resume")
        await wait_for_screen(pilot, TrainScreen)
        assert app.screen.run == stopped.run

        await _run_command(pilot, "export")
        await wait_for_screen(pilot, ResultsScreen)
        await wait_for(pilot, lambda: any("nothing to export yet" in (n.title or "") for n in app._notifications),
                       what="the export's answer")

        await _run_command(pilot, "save preset")
        await wait_for_screen(pilot, PresetNamePrompt)
