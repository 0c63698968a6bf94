"""Results' Label errors tab at 80×24: the training rows the model contradicts, most suspicious
first, filtered by given label, opened whole, exported as CSV; and why there are none when there
are none. The runs are fakes; label_errors.csv is written the way the label check writes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Footer, Input, TabbedContent, Tabs
from textual.widgets._footer import FooterKey

from screens.app import WorkbenchApp
from screens.results import ResultsScreen
from screens.widgets.example_detail import ExampleDetail
from screens.widgets.label_errors_export import LabelErrorsExportDialog
from screens.widgets.label_errors_table import LabelErrorsTable
from tests.fakes import FakeRun, ner_config
from tests.tui.harness import press_until, wait_for, wait_for_screen
from tests.tui.test_snapshots_setup_results import _results_read, quiet_world  # noqa: F401 (fixture)
from tests.tui.test_setup import shown
from workbench.label_errors import LABEL_ERRORS_FILE, default_export_path, parse_label_errors
from workbench.trainer.label_check import _csv as label_check_csv

NAMES = ["negative", "positive"]
TEXTS = {
    3: "a gorgeous , witty , seductive movie .",
    11: "the plot is nothing but boilerplate clichés , and the acting is wooden from start to finish",
    20: "an utterly charming and hilarious film",
    42: "it 's a bit long",
}
#: What the label check's ranking gives, most suspicious first (lowest probability of the given label).
ISSUES = [
    {"index": 3, "given": 0, "suggested": 1, "given_prob": 0.02, "suggested_prob": 0.98},
    {"index": 11, "given": 1, "suggested": 0, "given_prob": 0.05, "suggested_prob": 0.95},
    {"index": 20, "given": 0, "suggested": 1, "given_prob": 0.09, "suggested_prob": 0.91},
    {"index": 42, "given": 1, "suggested": 0, "given_prob": 0.2, "suggested_prob": 0.8},
]


class TrainingRows:
    """The raw training rows as the label check reads them (a `datasets.Dataset`'s two lookups)."""

    column_names = ["text", "label"]

    def __getitem__(self, index: int) -> dict[str, str]:
        return {"text": TEXTS.get(index, f"row {index}"), "label": "?"}


def write_label_errors(fake: FakeRun, issues: list[dict]) -> None:
    (fake.run.path / LABEL_ERRORS_FILE).write_text(label_check_csv(issues, TrainingRows(), NAMES), encoding="utf-8")


def finish_with_label_check(fake: FakeRun, found: int | None, checked: int | None) -> None:
    """`FakeRun.finish`, with the label check's counts in the `finished` event."""
    end = fake.started_at + 112.0
    fake.writer.emit("finished", time=end, metrics={"accuracy": 0.812}, best_metric=fake.run.read_status().get("best"),
                     output=str(fake.run.adapter_dir), duration_s=112.0, step=100, label_errors=found, label_rows_checked=checked)
    fake.run.write_status(state="finished", ended_at=end)


def checked_run(runs_dir: Path, issues: list[dict] | None = ISSUES, checked: int | None = 3600) -> FakeRun:
    fake = FakeRun(runs_dir)
    fake.started()
    fake.eval(100, accuracy=0.812)
    if issues is not None:
        write_label_errors(fake, issues)
    finish_with_label_check(fake, len(issues) if issues is not None else None, checked)
    return fake


async def open_label_errors(pilot, fake: FakeRun) -> ResultsScreen:
    await wait_for(pilot, lambda: pilot.app.current_slot() is not None, what="the app's first screen")
    pilot.app.open_results(fake.run)
    screen = await wait_for_screen(pilot, ResultsScreen)
    await wait_for(pilot, lambda: screen.results is not None, what="the run read")
    await press_until(pilot, "5", lambda: screen.query_one(TabbedContent).active == "label-errors", what="the Label errors tab")
    await pilot.pause()
    return screen


def listed(table: LabelErrorsTable) -> list[int]:
    return [table.all_rows[int(key.value)].row for key in table.rows]


def footer_keys(screen: ResultsScreen) -> dict[str, str]:
    return {key.key_display: key.description for key in screen.query_one(Footer).query(FooterKey)}


async def test_suspects_are_listed_most_suspicious_first_filtered_and_exported(runs_dir: Path) -> None:
    fake = checked_run(runs_dir)
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_label_errors(pilot, fake)
        table = screen.query_one(LabelErrorsTable)
        await wait_for(pilot, lambda: screen.focused is table, what="the focus on the rows")
        assert table.display
        assert listed(table) == [3, 11, 20, 42]
        first = [str(cell) for cell in table.get_row_at(0)]
        assert first[:5] == ["⚑", "3", "negative", "positive", "0.98"]
        assert first[5] == TEXTS[3]
        assert table.region.right <= 80 and table.region.bottom <= 23  # fits above the footer
        bar = shown(screen.query_one("#label-errors-bar"))
        assert bar.startswith("⚑ 4 of 3,600 training rows look mislabelled · given [all] · 4 listed")
        await wait_for(pilot, lambda: "x" in footer_keys(screen), what="the export key in the footer")
        assert footer_keys(screen)["x"] == "Export CSV" and footer_keys(screen)["f"] == "Filter"

        await pilot.press("f")  # given negative: the labels in order of the most suspect first
        assert table.given_filter == "negative" and listed(table) == [3, 20]
        assert "given [negative] · 2 listed" in shown(screen.query_one("#label-errors-bar"))

        target = runs_dir.parent / "mine" / "suspects.csv"
        await pilot.press("x")
        dialog = await wait_for_screen(pilot, LabelErrorsExportDialog)
        field = dialog.query_one("#label-errors-file", Input)
        assert field.value == str(default_export_path(fake.run.path))
        assert "the 2 rows listed (given negative)" in shown(dialog.query_one("#dialog-message"))
        field.value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, target.exists, what="the exported CSV")
        exported = parse_label_errors(target.read_text(encoding="utf-8"))
        assert [(row.row, row.text, row.given, row.suggested, row.suggested_prob) for row in exported] == [
            (3, TEXTS[3], "negative", "positive", 0.98), (20, TEXTS[20], "negative", "positive", 0.91)]
        assert [p.name for p in target.parent.iterdir()] == ["suspects.csv"]  # no temp file left behind

        await wait_for_screen(pilot, ResultsScreen)
        await pilot.press("f", "down", "enter")  # given positive, its second row: 42
        detail = await wait_for_screen(pilot, ExampleDetail)
        body = shown(detail.query_one("#example-body"), width=70)
        assert TEXTS[42] in body and "gold positive   predicted negative" in body and "80%" in body and "20%" in body


async def test_an_existing_file_is_never_replaced_without_asking(runs_dir: Path) -> None:
    fake = checked_run(runs_dir)
    target = default_export_path(fake.run.path)
    target.parent.mkdir(parents=True)
    target.write_text("mine\n")
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        await open_label_errors(pilot, fake)
        await pilot.press("x")
        dialog = await wait_for_screen(pilot, LabelErrorsExportDialog)
        assert dialog.query_one("#label-errors-force").display  # the file exists: replace is offered
        await pilot.press("enter")  # ... but not chosen
        await wait_for(pilot, lambda: any("already exists" in str(n.title) for n in pilot.app._notifications),
                       what="the refusal")
        assert target.read_text() == "mine\n"
        await pilot.press("x")
        dialog = await wait_for_screen(pilot, LabelErrorsExportDialog)
        dialog.query_one("#label-errors-force").value = True
        await pilot.press("enter")
        await wait_for(pilot, lambda: target.read_text() != "mine\n", what="the replaced file")
        assert [row.row for row in parse_label_errors(target.read_text())] == [3, 11, 20, 42]


def no_check_run(runs_dir: Path) -> FakeRun:
    return checked_run(runs_dir, issues=None, checked=None)


def none_found_run(runs_dir: Path) -> FakeRun:
    return checked_run(runs_dir, issues=[], checked=80)


def running_run(runs_dir: Path) -> FakeRun:
    fake = FakeRun(runs_dir)
    fake.started()
    fake.step(10, 0.6)
    return fake


def malformed_run(runs_dir: Path) -> FakeRun:
    fake = checked_run(runs_dir)
    (fake.run.path / LABEL_ERRORS_FILE).write_text("row,text,given,suggested,given_prob,suggested_prob\n3,a,x,y,low,0.9\n")
    return fake


def token_run(runs_dir: Path) -> FakeRun:
    fake = FakeRun(runs_dir, run_id="2026-11-28_110000_fake-conll", config=ner_config())
    fake.started(labels=["O", "B-LOC", "I-LOC"])
    fake.ner_eval(100, f1=0.81)
    fake.finish()
    return fake


def collapsed_run(runs_dir: Path) -> FakeRun:
    """Suspects found, by a model that predicted one class for every row."""
    fake = FakeRun(runs_dir)
    fake.started()
    fake.writer.emit("eval", split="validation", step=100, epoch=1.0, metrics={"accuracy": 0.5, "macro_f1": 0.333, "n": 20},
                     confusion_matrix=[[0, 10], [0, 10]], labels=NAMES)
    write_label_errors(fake, ISSUES)
    finish_with_label_check(fake, len(ISSUES), 3600)
    return fake


@pytest.mark.parametrize(("make_run", "says"), [
    (no_check_run, "this run has no label check"),
    (collapsed_run, "not listed: the model predicts one class for nearly every row"),
    (none_found_run, "✓ none found: the model agrees with the given label of the 80 training rows it checked"),
    (running_run, "the label check runs when training ends: this run is still going"),
    (malformed_run, "line 2: given_prob 'low' is not a number"),
    (token_run, "no label check for token classification"),
])
async def test_an_empty_tab_says_why(runs_dir: Path, make_run, says: str) -> None:
    fake = make_run(runs_dir)
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_label_errors(pilot, fake)
        empty = screen.query_one("#label-errors-empty")
        assert empty.display and not screen.query_one(LabelErrorsTable).display
        assert says in shown(empty)
        assert empty.region.right <= 80
        # nothing to focus in the pane: the tabs take it, and the keys still work
        await wait_for(pilot, lambda: isinstance(screen.focused, Tabs), what="the focus on the tabs")
        assert "x" not in footer_keys(screen)
        await pilot.press("x")
        assert screen.app.screen is screen  # no dialog for nothing
        await pilot.press("1")
        await wait_for(pilot, lambda: screen.query_one(TabbedContent).active == "metrics", what="the Metrics tab")


@pytest.mark.parametrize("size", [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")])
def test_snapshot_of_the_label_errors_tab(snap_compare, quiet_world: Path, size) -> None:
    """The tab filtered to one given label, at the smallest and a roomy terminal."""
    fake = checked_run(Path("runs"))

    async def filtered(pilot) -> None:
        await _results_read(pilot)
        await pilot.press("5", "f")
        await wait_for(pilot, lambda: pilot.app.screen.query_one(LabelErrorsTable).given_filter == "negative")
        await pilot.pause()

    assert snap_compare(WorkbenchApp(Path("runs"), run=fake.run.id), terminal_size=size, run_before=filtered)
