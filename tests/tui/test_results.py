"""The Results screen at 80×24: metrics, confusion, filtered predictions, details, playground."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, TabbedContent

from screens.app import WorkbenchApp
from screens.results import ResultsScreen
from screens.widgets.confusion_grid import ConfusionGrid
from screens.widgets.example_detail import ExampleDetail
from screens.widgets.metrics_tables import EvalHistory, PerClassScores
from screens.widgets.playground import Playground
from screens.widgets.predictions_table import PredictionsTable
from screens.widgets.status_text import StatusText
from tests.fakes import FakeRun, ner_config
from workbench.runstore import RunDir
from tests.tui.harness import fast_watchers, wait_for  # noqa: F401 (fixture)
from tests.tui.test_setup import rendered, shown


def finished_fake(runs_dir: Path) -> FakeRun:
    fake = FakeRun(runs_dir)
    fake.started()
    fake.eval(50, accuracy=0.79)
    fake.eval(100, accuracy=0.812)
    fake.finish()
    return fake


async def open_results(pilot, fake: FakeRun) -> ResultsScreen:
    await wait_for(pilot, lambda: pilot.app.current_slot() is not None, what="the app's first screen")
    pilot.app.open_results(fake.run)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ResultsScreen), what="the Results screen")
    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.results is not None, what="the run read")
    await pilot.pause()
    return screen


def rows(table: PredictionsTable) -> list[dict]:
    return [table.samples[int(row.value)] for row in table.rows]


async def test_metrics_tab_lists_every_evaluation_and_per_class_scores(runs_dir: Path) -> None:
    fake = finished_fake(runs_dir)
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot, fake)
        history = screen.query_one(EvalHistory)
        assert history.row_count == 2
        assert [str(c) for c in history.get_row_at(1)[1:5]] == ["validation", "100", "1.00", "0.8120"]
        assert str(history.get_row_at(1)[0]) == "★"  # the best evaluation
        per_class = screen.query_one(PerClassScores)
        assert per_class.row_count == 2 and str(per_class.get_row_at(0)[3]) == "0.8100"
        summary = shown(screen.query_one("#results-summary"))
        assert "finished in 1m 52s" in summary and "accuracy 0.812" in summary


async def test_confusion_grid_shows_counts_with_label_names(runs_dir: Path) -> None:
    fake = finished_fake(runs_dir)
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot, fake)
        await pilot.press("2")
        assert screen.query_one(TabbedContent).active == "confusion"
        grid = shown(screen.query_one(ConfusionGrid))
        lines = [line.split() for line in grid.splitlines() if line.strip()]
        assert lines[0][-5:] == ["negative", "positive", "prec", "rec", "F1"]
        assert lines[1] == ["negative", "341", "87", "0.83", "0.80", "0.81"]
        assert lines[2] == ["positive", "77", "367", "0.81", "0.83", "0.82"]
        diagonal = screen.query_one(ConfusionGrid).table().columns[1]._cells[0]
        off_diagonal = screen.query_one(ConfusionGrid).table().columns[2]._cells[0]
        assert "bold" in str(diagonal.style) and "bold" not in str(off_diagonal.style)
        assert diagonal.style != off_diagonal.style


async def test_predictions_filter_errors_low_confidence_and_sort(runs_dir: Path) -> None:
    fake = finished_fake(runs_dir)
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot, fake)
        await pilot.press("3")
        table = screen.query_one(PredictionsTable)
        assert table.row_count == 6
        await pilot.press("e")
        assert [s["text"] for s in rows(table)] == ["the movie is a disaster , but a fun one", "not quite as good as its predecessor"]
        assert all(s["gold"] != s["pred"] for s in rows(table))
        assert all(str(table.get_row_at(i)[0]) == "✗" for i in range(table.row_count))
        assert "2/6 shown · 2 ✗" in shown(screen.query_one("#predictions-bar"))
        await pilot.press("l")
        assert sorted(s["confidence"] for s in rows(table)) == [0.51, 0.55, 0.62]
        await pilot.press("a", "s")
        confidences = [s["confidence"] for s in rows(table)]
        assert confidences == sorted(confidences) and len(confidences) == 6
        await pilot.press("s")
        assert [s["confidence"] for s in rows(table)] == sorted(confidences, reverse=True)
        await pilot.press("f")  # cycles all -> errors
        assert table.filter_name == "errors" and table.row_count == 2


async def test_enter_opens_the_example_with_its_probabilities(runs_dir: Path) -> None:
    fake = finished_fake(runs_dir)
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        await open_results(pilot, fake)
        await pilot.press("3", "e", "down", "enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ExampleDetail), what="the example view")
        body = shown(pilot.app.screen.query_one("#example-body"), width=70)
        assert "✗ wrong" in body and "not quite as good as its predecessor" in body
        assert "gold negative   predicted positive" in body
        assert "positive" in body and "55%" in body and "45%" in body
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, ResultsScreen)


async def test_token_classification_results_highlight_entities_and_differences(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir, run_id="2026-11-28_110000_fake-conll", config=ner_config())
    fake.started(labels=["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"])
    fake.ner_eval(100, f1=0.81)
    fake.finish()
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot, fake)
        assert "f1 0.810" in shown(screen.query_one("#results-summary"))
        per_type = screen.query_one(PerClassScores)
        assert [str(per_type.get_row_at(i)[0]) for i in range(3)] == ["LOC", "ORG", "PER"]
        assert str(per_type.get_row_at(1)[-1]) == "▼"  # ORG is the weakest
        await pilot.press("2")
        grid = shown(screen.query_one(ConfusionGrid), width=100)
        assert grid.splitlines()[0].split()[-7:] == ["LOC", "ORG", "PER", "O", "prec", "rec", "F1"]
        await pilot.press("3")
        table = screen.query_one(PredictionsTable)
        assert table.row_count == 3
        sentences = [str(table.get_row_at(i)[-1]) for i in range(3)]
        assert sentences[0] == "Angela Merkel/PER visited Paris/LOC ."
        assert sentences[1] == "Peter/PER flew to ✗Paris/ORG ."  # a wrong entity is marked
        await pilot.press("e")
        assert table.row_count == 2
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ExampleDetail), what="the example view")
        body = shown(pilot.app.screen.query_one("#example-body"), width=90)
        assert "Peter/PER flew to Paris/LOC ." in body  # gold
        assert "Paris  gold LOC → predicted Paris ORG" in body
        assert "✓ Peter  PER" in body


async def test_a_running_run_fills_in_as_evaluations_arrive(runs_dir: Path, fast_watchers: None) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    fake.step(10, loss=0.6)
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot, fake)
        assert screen.query_one(EvalHistory).row_count == 0
        assert "no evaluation yet" in shown(screen.query_one("#per-class-caption"))
        fake.eval(50, accuracy=0.7)
        await wait_for(pilot, lambda: screen.query_one(EvalHistory).row_count == 1, what="the first evaluation")
        await wait_for(pilot, lambda: screen.query_one(PredictionsTable).row_count == 6, what="the samples")
        fake.eval(100, accuracy=0.8, samples=[{"index": 0, "text": "fine", "gold": "positive", "pred": "negative", "confidence": 0.6}])
        await wait_for(pilot, lambda: screen.query_one(EvalHistory).row_count == 2, what="the second evaluation")
        await wait_for(pilot, lambda: screen.query_one(PredictionsTable).row_count == 1, what="the new samples")


async def test_playground_refuses_politely_without_a_saved_model(runs_dir: Path) -> None:
    fake = finished_fake(runs_dir)
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot, fake)
        await pilot.press("4")
        assert isinstance(pilot.app.focused, Input)
        message = shown(screen.query_one(Playground).query_one(StatusText))
        assert "model folder is missing" in message
        await pilot.press(*"great", "enter")  # typing does nothing harmful
        assert screen.query_one(Playground).loaded is None


@pytest.fixture
def tiny_finished_run(runs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """The tiny BERT fully fine-tuned through the runner (`shared_runs`): a real finished run with a saved model."""
    from tests import shared_runs

    return shared_runs.finished_tiny_run(tmp_path_factory, runs_dir, method="full")


@pytest.mark.slow
async def test_playground_predicts_with_a_real_tiny_run(runs_dir: Path, tiny_finished_run: RunDir,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    import workbench.inference

    run = tiny_finished_run
    release = threading.Event()
    real_load = workbench.inference.load_run_model

    def held_load(*args, **kwargs):  # the tiny model loads too fast to see the UI while it loads
        release.wait(30)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(workbench.inference, "load_run_model", held_load)
    async with WorkbenchApp(runs_dir, run=run.id).run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ResultsScreen), what="the Results screen")
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.results is not None and screen.results.evals, what="the run read")
        await pilot.press("4")
        playground = screen.query_one(Playground)
        result = playground.query_one(StatusText)
        assert result.is_loading and "loading model" in shown(result)
        await pilot.press(*"good movie")  # typed while the model loads: the UI stays live
        assert playground.query_one(Input).value == "good movie" and result.is_loading
        release.set()
        await wait_for(pilot, lambda: playground.loaded is not None, timeout=120, what="the model")
        await wait_for(pilot, lambda: "→" in shown(result), timeout=30, what="a prediction")
        text = shown(result)
        assert ("positive" in text) and ("negative" in text) and "%" in text


def test_playground_shows_entities_by_character_offsets() -> None:
    from screens.widgets.playground import describe_prediction

    text = "Angela Merkel visited Paris."
    result = {"text": text, "entities": [
        {"text": "Angela Merkel", "type": "PER", "start": 0, "end": 13, "confidence": 0.97},
        {"text": "Paris", "type": "LOC", "start": 22, "end": 27, "confidence": 0.91},
    ]}
    shown_text = rendered(describe_prediction(result))
    assert "Angela Merkel/PER visited Paris/LOC." in shown_text
    assert "PER    Angela Merkel  0.97" in shown_text and "LOC    Paris  0.91" in shown_text
    assert "no entities found" in rendered(describe_prediction({"text": "nothing here", "entities": []}))


async def test_a_test_split_evaluation_can_be_shown_instead(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    fake.eval(100, accuracy=0.812)
    test_samples = [{"index": 0, "text": "held-out text", "gold": "negative", "pred": "negative", "confidence": 0.9}]
    fake.eval(100, accuracy=0.8, samples=test_samples, split="test")
    fake.finish()
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot, fake)
        assert screen.query_one(EvalHistory).row_count == 2
        assert "validation · step 100" in shown(screen.query_one("#per-class-caption"))
        await pilot.press("t")
        assert screen.split == "test"
        assert "test · step 100" in shown(screen.query_one("#per-class-caption"))
        assert screen.query_one(PredictionsTable).samples == test_samples



async def test_a_failed_run_says_why_and_that_it_has_no_evaluation(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    fake.fail(message="CUDA out of memory", hint="lower training.batch_size")
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot, fake)
        assert shown(screen.query_one("#results-summary")).startswith("failed: CUDA out of memory")
        assert "the run failed before its first evaluation" in shown(screen.query_one("#per-class-caption"))
        assert not screen.query_one(EvalHistory).display
        await pilot.press("4")
        assert "ended failed before saving a model" in shown(screen.query_one(Playground).query_one(StatusText))


def collapsed_fake(runs_dir: Path) -> FakeRun:
    """A finished run whose model answers `positive` for every validation row."""
    fake = FakeRun(runs_dir)
    fake.started()
    fake.step(10, loss=0.69)
    fake.writer.emit("eval", split="validation", step=100, epoch=1.0,
                     metrics={"accuracy": 0.509, "macro_f1": 0.337, "n": 872, "loss": 0.69},
                     per_class={}, confusion_matrix=[[0, 428], [0, 444]], labels=["negative", "positive"])
    fake.finish()
    return fake


async def test_a_collapsed_run_says_so_with_its_baseline_on_the_metrics_tab(runs_dir: Path) -> None:
    from screens.widgets.diagnostics import DiagnosticsPanel

    fake = collapsed_fake(runs_dir)
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot, fake)
        summary = shown(screen.query_one("#results-summary"))
        assert "accuracy 0.509 ⚠ baseline 0.509" in summary and summary.endswith("· lora · sst2")  # the data's name still fits
        panel = screen.query_one("#results-diagnostics", DiagnosticsPanel)
        assert panel.display and len(panel.lines) == 1
        assert panel.lines[0].startswith("⚠ the model predicts 'positive' for 100% of rows (majority baseline: accuracy 0.509")
        assert "— lower training.learning_rate" in panel.lines[0]
        assert 1 <= panel.region.height <= 4 and panel.region.right <= 80  # whole text, wrapped, on screen
        assert screen.query_one(EvalHistory).region.bottom <= 23  # the evaluations still show below it


async def test_a_healthy_run_shows_no_warning(runs_dir: Path) -> None:
    from screens.widgets.diagnostics import DiagnosticsPanel

    fake = finished_fake(runs_dir)
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot, fake)
        assert screen.query_one("#results-diagnostics", DiagnosticsPanel).display is False
        assert "baseline" not in shown(screen.query_one("#results-summary"))


async def test_predictions_cover_every_validation_row_of_predictions_jsonl(runs_dir: Path) -> None:
    from workbench.runinfo import write_predictions

    fake = finished_fake(runs_dir)  # its samples event keeps 6 rows
    rows_written = [{"index": i, "text": f"review number {i}", "gold": "positive", "pred": "negative" if i % 4 == 0 else "positive",
                     "confidence": 0.6 + (i % 40) / 100, "probs": {}} for i in range(200)]
    write_predictions(fake.run, rows_written)
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot, fake)
        await pilot.press("3")
        table = screen.query_one(PredictionsTable)
        assert len(table.samples) == 200 and table.row_count == 200
        assert "200/200 shown · 50 ✗" in shown(screen.query_one("#predictions-bar"))
        await pilot.press("e")
        assert table.row_count == 50 and "50/200 shown · 50 ✗" in shown(screen.query_one("#predictions-bar"))


async def test_a_large_prediction_set_lists_its_first_rows_and_counts_them_all(runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from screens.widgets import predictions_table
    from workbench.runinfo import write_predictions

    monkeypatch.setattr(predictions_table, "MAX_ROWS", 100)  # the table's cap, scaled down with the set
    fake = finished_fake(runs_dir)
    write_predictions(fake.run, [{"index": i, "text": f"review {i}", "gold": "positive", "pred": "negative" if i % 4 == 0 else "positive",
                                  "confidence": round(0.99 - i / 1000, 3), "probs": {}} for i in range(200)])
    async with WorkbenchApp(runs_dir).run_test(size=(120, 40)) as pilot:
        screen = await open_results(pilot, fake)
        await pilot.press("3")
        table = screen.query_one(PredictionsTable)
        assert table.row_count == 100 and "200/200 shown · 50 ✗ · first 100 listed" in shown(screen.query_one("#predictions-bar"))
        await pilot.press("s")  # confidence ↑: the least confident of all 200 come first
        assert [s["index"] for s in rows(table)][:2] == [199, 198]
        await pilot.press("e")
        assert table.row_count == 50 and "50/200 shown · 50 ✗" in shown(screen.query_one("#predictions-bar"))
        assert "listed" not in shown(screen.query_one("#predictions-bar"))
