"""The app shell: first screen, keys that switch screens (even from a text field), the header,
the command palette, errors as notifications, and quitting while a run is going."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Input

from screens.app import WorkbenchApp
from screens.dialogs import QuitDialog
from screens.runs import RunsScreen
from screens.setup import SetupScreen
from screens.train import TrainScreen
from tests.fakes import FakeRun, fake_config
from workbench.preflight import PreflightReport
from tests.tui.harness import cancels, fast_watchers, wait_for, wait_for_first_screen, wait_for_screen  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("fast_watchers")


class TypingScreen(Screen):
    """A screen whose focused widget is a text field, like Setup's."""

    def compose(self) -> ComposeResult:
        yield Input(id="field")


async def test_with_runs_the_app_opens_on_runs_and_the_header_says_no_run(runs_dir: Path) -> None:
    FakeRun(runs_dir).finish()
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.query("#header-run"))
        assert app.run_badge is None
        await wait_for(pilot, lambda: "no run" in str(app.screen.query_one("#header-run").content), what="the header")
        assert app.runs_dir == runs_dir


async def test_screen_keys_work_from_a_text_field_and_keep_each_screen(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, RunsScreen)
        runs = app.screen
        await pilot.press("ctrl+g")  # no run attached yet: Train has nothing to show
        assert app.screen is runs

        app.open_run(fake.run)
        train = await wait_for_screen(pilot, TrainScreen)
        assert app.run_badge.run_id == fake.run.id and app.run_badge.state == "running"
        await wait_for(pilot, lambda: "running" in str(app.screen.query_one("#header-run").content), what="the header")

        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.screen is runs)
        typing = TypingScreen()
        app.push_screen(typing)
        await wait_for(pilot, lambda: isinstance(app.focused, Input))
        await pilot.press("h", "i", "ctrl+g")
        await wait_for(pilot, lambda: app.screen is train, what="ctrl+g from inside an Input: the same Train screen")
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.screen is typing, what="Runs as it was left, the text field on top")
        assert typing.query_one(Input).value == "hi"


async def test_the_key_for_the_current_screen_is_hidden(runs_dir: Path) -> None:
    FakeRun(runs_dir).finish()
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, RunsScreen)
        assert app.check_action("show_runs", ()) is False
        assert app.check_action("show_train", ()) is False  # no run yet
        assert app.check_action("show_setup", ()) is True


async def test_command_palette_offers_every_screen_and_each_run(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.known_runs, what="the first scan")
        app.show_train(fake.run)
        await wait_for_screen(pilot, TrainScreen)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in ("Setup", "Runs", "Train", "Results", f"Open run {fake.run.id}", "Quit"):
            assert title in titles
        from screens.commands import workbench_commands

        assert f"Cancel run {fake.run.id}" in [command.name for command in workbench_commands(app)]
        fake.finish()
        await wait_for(pilot, lambda: app.run_badge.state == "finished")
        assert not [command for command in workbench_commands(app) if command.name.startswith("Cancel run")]


async def test_a_core_error_in_a_worker_becomes_a_one_line_notification(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_a_dir = tmp_path / "runs"
    not_a_dir.write_text("a file where the runs directory should be")
    app = WorkbenchApp(not_a_dir, run="none")  # --run keeps the first screen on Runs (no Setup to load)
    monkeypatch.setattr("workbench.preflight.preflight", lambda config, runs_dir: PreflightReport())  # reach the launch
    async with app.run_test(size=(80, 24)) as pilot:
        app.start_run(fake_config())
        # Two errors come, in either order: the first screen can't open run 'none', and the launch
        # can't create the runs directory. This test is about the second.
        launch_errors = lambda: [n for n in app._notifications  # noqa: E731
                                 if n.severity == "error" and n.title.startswith("can't create runs directory")]
        await wait_for(pilot, launch_errors, what="the launch's error notification")
        assert "--runs-dir" in launch_errors()[-1].message


async def test_a_run_that_fails_pre_flight_is_refused_before_any_run_directory(runs_dir: Path, tmp_path: Path,
                                                                               tiny_model_dir: Path) -> None:
    one_class = tmp_path / "one_class.csv"
    one_class.write_text("text,label\n" + "".join(f"a fine film {i},positive\n" for i in range(20)))
    config = fake_config(model={"name": str(tiny_model_dir)}, data={"train": str(one_class)}, method={"kind": "full"})
    app = WorkbenchApp(runs_dir, run="none")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_first_screen(pilot)
        app.screen.post_message(SetupScreen.StartRun(config))  # what Setup's ctrl+t sends; it bubbles to the app
        refusals = lambda: [n for n in app._notifications if n.severity == "error" and n.title.startswith("can't start")]  # noqa: E731
        launching = lambda: [w for w in app.workers if w.group == "launch" and not w.is_finished]  # noqa: E731
        await wait_for(pilot, lambda: refusals() and not launching(), timeout=60, what="pre-flight refusal")
        errors = refusals()
        assert len(errors) == 1 and "class" in errors[0].title
        assert errors[0].message.strip()  # the hint
        assert list(runs_dir.iterdir()) == []
        assert app.current_slot() != "train"


async def test_an_unknown_run_argument_is_reported_and_runs_shown(runs_dir: Path) -> None:
    app = WorkbenchApp(runs_dir, run="nope")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, RunsScreen)
        await wait_for(pilot, lambda: app._notifications)
        assert "no run 'nope'" in list(app._notifications)[-1].title


async def test_the_run_argument_opens_a_running_run_on_train(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    app = WorkbenchApp(runs_dir, run=fake.run.id[:10])
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, TrainScreen)
        assert app.screen.run == fake.run


async def test_quit_with_nothing_running_exits_at_once(runs_dir: Path) -> None:
    FakeRun(runs_dir).finish()
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_screen(pilot, RunsScreen)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")


@pytest.mark.parametrize(("keys", "expect_cancel"), [(["enter"], False), (["right", "enter"], True)])
async def test_quit_while_a_run_is_going_asks_and_leaving_it_is_the_default(
    runs_dir: Path, cancels: list, keys: list[str], expect_cancel: bool
) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_first_screen(pilot)
        app.open_run(fake.run)
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen) and app.going_runs)
        await pilot.press("ctrl+q")
        await wait_for_screen(pilot, QuitDialog)
        await pilot.press(*keys)
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
    assert cancels == ([fake.run] if expect_cancel else [])


async def test_escape_in_the_quit_question_stays(runs_dir: Path, cancels: list) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    app = WorkbenchApp(runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_first_screen(pilot)
        app.open_run(fake.run)
        await wait_for(pilot, lambda: app.going_runs)
        await pilot.press("ctrl+q")
        await wait_for_screen(pilot, QuitDialog)
        await pilot.press("escape")
        await wait_for_screen(pilot, TrainScreen)
        assert app.is_running and cancels == []
