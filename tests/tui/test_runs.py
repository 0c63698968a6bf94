"""The Runs screen: lists runs live, explains failures, opens, compares, re-runs and deletes."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.message import Message
from textual.widgets import DataTable, Static

from screens import runs as runs_module
from screens.app import WorkbenchApp
from screens.compare import CompareScreen, config_diff, flatten
from screens.dialogs import ConfirmDialog
from screens.results import ResultsScreen
from screens.runs import RunsScreen
from screens.setup import SetupScreen
from screens.widgets.config_fields import ConfigChoice
from screens.train import TrainScreen
from screens.widgets.curves import RunCurve
from screens.widgets.run_table import RunTable
from tests.fakes import FakeRun, fake_config
from tests.tui.harness import cancels, fast_watchers, sent, wait_for, wait_for_screen  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("fast_watchers", "fast_rescan")


@pytest.fixture
def fast_rescan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs_module, "RESCAN_S", 0.1)


def three_runs(runs_dir: Path) -> tuple[FakeRun, FakeRun, FakeRun]:
    """A finished full fine-tune, a failed run, and a LoRA run still going (newest)."""
    done = FakeRun(runs_dir, "2026-11-28_094000_sst2-full", config=fake_config(method={"kind": "full"}))
    done.started()
    done.step(50, loss=0.6)
    done.eval(100, accuracy=0.83)
    done.finish()
    failed = FakeRun(runs_dir, "2026-11-28_093100_sst2-lora")
    failed.started()
    failed.fail(message="out of memory", hint="lower training.batch_size")
    going = FakeRun(runs_dir, "2026-11-28_101200_sst2-lora")
    going.started()
    going.step(20, loss=0.5)
    going.eval(20, accuracy=0.78)
    return done, failed, going


def cell(table: DataTable, run_id: str, column: str) -> str:
    value = table.get_cell(run_id, column)
    return getattr(value, "plain", str(value))


async def _runs_screen(pilot) -> RunsScreen:
    def shown() -> bool:
        tables = pilot.app.screen.query(RunTable) if isinstance(pilot.app.screen, RunsScreen) else []
        return bool(tables and tables.first().row_count)

    await wait_for(pilot, shown, what="the Runs screen with rows")
    return pilot.app.screen


async def _move_to(pilot, screen: RunsScreen, run_id: str) -> None:
    table = screen.query_one(RunTable)
    table.move_cursor(row=table.get_row_index(run_id))
    await pilot.pause()


async def test_lists_every_run_with_its_state_and_best_metric(runs_dir: Path) -> None:
    done, failed, going = three_runs(runs_dir)
    app = WorkbenchApp(runs_dir, clock=lambda: going.started_at + 69)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _runs_screen(pilot)
        table = screen.query_one(RunTable)
        assert table.row_count == 3
        assert [str(key.value) for key in table.rows] == [going.run.id, done.run.id, failed.run.id]  # newest first
        assert cell(table, done.run.id, "state") == "finished"
        assert cell(table, done.run.id, "best") == "0.830"
        assert " · full · " in runs_module.describe_run(screen.summaries[done.run.id]).plain  # method: under the table at 80 columns
        assert cell(table, done.run.id, "time") == "1m 52s"
        assert cell(table, failed.run.id, "state") == "failed"
        assert cell(table, going.run.id, "state") == "running 20%"
        assert cell(table, going.run.id, "time") == "1m 09s"  # from the app's clock


async def test_running_rows_move_on_and_new_runs_appear(runs_dir: Path) -> None:
    done, failed, going = three_runs(runs_dir)
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _runs_screen(pilot)
        table = screen.query_one(RunTable)
        going.step(60, loss=0.4)
        await wait_for(pilot, lambda: cell(table, going.run.id, "state") == "running 60%", what="the live row")
        going.finish()
        await wait_for(pilot, lambda: cell(table, going.run.id, "state") == "finished")

        other = FakeRun(runs_dir, "2026-11-28_110000_from-the-cli")  # e.g. `tlwb train` in another terminal
        other.started()
        await wait_for(pilot, lambda: table.row_count == 4, what="the new run")
        assert str(next(iter(table.rows)).value) == other.run.id


async def test_selecting_a_failed_run_shows_its_reason_and_hint(runs_dir: Path) -> None:
    done, failed, going = three_runs(runs_dir)
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _runs_screen(pilot)
        await _move_to(pilot, screen, failed.run.id)
        detail = screen.query_one("#run-detail", Static).content
        assert "✗ failed: out of memory" in detail.plain
        assert "hint: lower training.batch_size" in detail.plain
        assert any("red" in str(span.style) for span in detail.spans)


async def test_enter_attaches_to_a_running_run(runs_dir: Path) -> None:
    done, failed, going = three_runs(runs_dir)
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _runs_screen(pilot)
        await _move_to(pilot, screen, going.run.id)
        await pilot.press("enter")
        await wait_for_screen(pilot, TrainScreen)
        assert app.screen.run == going.run
        assert app.current_run == going.run


async def test_enter_on_a_finished_run_shows_its_results(runs_dir: Path) -> None:
    done, failed, going = three_runs(runs_dir)
    messages: list[Message] = []
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await _runs_screen(pilot)
        await _move_to(pilot, screen, done.run.id)
        await pilot.press("enter")
        results = await wait_for_screen(pilot, ResultsScreen)
        assert results.run == done.run == app.current_run
        assert [m.run for m in sent(messages, RunsScreen.OpenRun)] == [done.run]


async def test_two_marked_runs_compare_side_by_side(runs_dir: Path) -> None:
    done, failed, going = three_runs(runs_dir)
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _runs_screen(pilot)
        await pilot.press("c")
        assert not isinstance(app.screen, CompareScreen)  # nothing marked yet
        await _move_to(pilot, screen, done.run.id)
        await pilot.press("space")
        await _move_to(pilot, screen, going.run.id)
        await pilot.press("space")
        table = screen.query_one(RunTable)
        assert cell(table, done.run.id, "started").startswith("●")
        assert screen.marked == [done.run.id, going.run.id]
        await pilot.press("c")
        await wait_for_screen(pilot, CompareScreen)
        compare = app.screen
        await wait_for(pilot, lambda: compare.digests is not None)
        diff = compare.query_one("#config-diff", DataTable)
        rows = {str(diff.get_row_at(i)[0]): diff.get_row_at(i)[1:] for i in range(diff.row_count)}
        assert rows["method.kind"] == ["full", "lora"]
        assert rows["training.learning_rate"] == ["3.0e-5", "5.0e-4"]
        metrics = compare.query_one("#metrics", DataTable)
        accuracy = next(metrics.get_row_at(i) for i in range(metrics.row_count) if metrics.get_row_at(i)[0] == "accuracy")
        assert [accuracy[1].plain, accuracy[2].plain] == ["0.812", "0.780"]
        assert "green" in str(accuracy[1].style)  # the better one stands out
        assert compare.query_one(RunCurve).points == 2
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


async def test_rerun_loads_the_runs_config_into_setup(runs_dir: Path) -> None:
    done, failed, going = three_runs(runs_dir)
    messages: list[Message] = []
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await _runs_screen(pilot)
        await _move_to(pilot, screen, done.run.id)
        await pilot.press("r")
        setup = await wait_for_screen(pilot, SetupScreen)
        configs = [m.config for m in sent(messages, RunsScreen.Rerun)]
        assert configs == [done.run.config()] and configs[0].method.kind == "full"
        assert setup.initial == configs[0]
        await wait_for(pilot, lambda: setup.query_one(ConfigChoice).raw == "full", what="the form filled with the run's config")


async def test_delete_asks_then_removes_and_refuses_running_runs(runs_dir: Path) -> None:
    done, failed, going = three_runs(runs_dir)
    messages: list[Message] = []
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await _runs_screen(pilot)
        table = screen.query_one(RunTable)

        await _move_to(pilot, screen, going.run.id)
        await pilot.press("d")
        await wait_for(pilot, lambda: any(n.severity == "error" for n in app._notifications), what="the refusal")
        assert going.run.path.is_dir() and not isinstance(app.screen, ConfirmDialog)

        await _move_to(pilot, screen, failed.run.id)
        await pilot.press("d")
        await wait_for_screen(pilot, ConfirmDialog)
        await pilot.press("enter")  # "Keep it" is the default
        await wait_for(pilot, lambda: app.screen is screen)
        assert failed.run.path.is_dir()

        await pilot.press("d")
        await wait_for_screen(pilot, ConfirmDialog)
        await pilot.press("right", "enter")
        await wait_for(pilot, lambda: not failed.run.path.exists(), what="the deletion")
        await wait_for(pilot, lambda: table.row_count == 2)
        assert [m.run for m in sent(messages, RunsScreen.DeleteRun)] == [failed.run]
        await wait_for(pilot, lambda: [s.id for s in app.known_runs] == [going.run.id, done.run.id],
                       what="the palette's runs (RunsChanged) without the deleted one")


def test_config_diff_lists_only_what_differs() -> None:
    a = flatten(fake_config().model_dump(mode="json"))
    b = flatten(fake_config(training={"epochs": 2, "batch_size": 32}).model_dump(mode="json"))
    assert config_diff(a, b) == [("training.epochs", 1.0, 2.0)]
    assert config_diff(a, a) == []


def collapsed_eval(fake: FakeRun, step: int) -> None:
    """An evaluation where the model answers `positive` for every row (a collapsed classifier)."""
    fake.writer.emit("eval", split="validation", step=step, epoch=1.0,
                     metrics={"accuracy": 0.509, "macro_f1": 0.337, "n": 872, "loss": 0.69},
                     per_class={}, confusion_matrix=[[0, 428], [0, 444]], labels=["negative", "positive"])


async def test_rows_name_the_run_its_model_by_origin_and_mark_diagnosed_runs(runs_dir: Path, tmp_path: Path) -> None:
    local_model = tmp_path / "exports" / "model"
    local_model.mkdir(parents=True)
    (local_model / "config.json").write_text('{"_name_or_path": "google-bert/bert-base-uncased"}')
    collapsed = FakeRun(runs_dir, "2026-11-28_094000_collapse", config=fake_config(name="collapse", model={"name": str(local_model)}))
    collapsed.started()
    collapsed.step(10, loss=0.69)
    collapsed_eval(collapsed, 10)
    collapsed.finish()
    healthy = FakeRun(runs_dir, "2026-11-28_101200_healthy", config=fake_config(name="healthy"))
    healthy.started()
    healthy.step(15, loss=0.6)
    app = WorkbenchApp(runs_dir, clock=lambda: healthy.started_at + 69)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _runs_screen(pilot)
        table = screen.query_one(RunTable)
        assert cell(table, collapsed.run.id, "name") == "collapse"
        assert cell(table, collapsed.run.id, "model") == "bert-base-uncas…"  # its origin, not the folder "model"
        assert cell(table, healthy.run.id, "model") == "all-MiniLM-L6-v2"
        assert cell(table, collapsed.run.id, "started").startswith(" ⚠ ")
        assert "⚠" not in cell(table, healthy.run.id, "started")
        assert cell(table, healthy.run.id, "state") == "running 15%"
        widths = {column.key.value: column.get_render_width(table) for column in table.columns.values()}
        assert sum(widths.values()) <= 78  # every column on screen at 80 columns, beside the scrollbar
        assert table.columns["state"].width >= len("running 100%")
        await _move_to(pilot, screen, collapsed.run.id)
        detail = str(screen.query_one("#run-detail", Static).render())
        assert "⚠ the model predicts 'positive' for 100% of rows" in detail
        assert "bert-base-uncased" in detail
