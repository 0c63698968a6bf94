"""Results and the playground of a text-generation run: the generations browser (filter to
mismatches, enter shows the whole text), no confusion tab, loss/perplexity/exact match, a chat."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, TabbedContent

from screens.app import WorkbenchApp
from screens.results import ResultsScreen
from screens.widgets.chat_playground import ChatPlayground
from screens.widgets.example_detail import ExampleDetail
from screens.widgets.generations_table import GenerationsTable
from screens.widgets.metrics_tables import EvalHistory
from tests.tui.generation_fakes import FakeChatModel, GenerationRun, fake_chat
from tests.tui.harness import fast_watchers, wait_for  # noqa: F401 (fixture)
from tests.tui.test_results import open_results
from tests.tui.test_setup import rendered, shown

pytestmark = pytest.mark.usefixtures("fast_watchers")


def finished_generation_run(runs_dir: Path) -> GenerationRun:
    fake = GenerationRun(runs_dir)
    fake.started()
    fake.step(50, loss=1.4)
    fake.generation_eval(50, loss=1.2, exact_match=0.4)
    fake.generation_eval(100, loss=0.9, exact_match=0.5)
    fake.finish()
    return fake


def shown_rows(table: GenerationsTable) -> list[int]:
    return [int(row.value) for row in table.rows]


async def test_generations_browser_filters_mismatches_and_opens_the_whole_text(runs_dir: Path) -> None:
    fake = finished_generation_run(runs_dir)
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot, fake)
        tabs = screen.query_one(TabbedContent)
        assert tabs.get_tab("confusion").display is False  # no confusion matrix for generation
        assert str(tabs.get_tab("predictions").label) == "Generations"
        await pilot.press("3")
        table = screen.query_one(GenerationsTable)
        await wait_for(pilot, lambda: screen.focused is table, what="the generations table focused")
        assert shown_rows(table) == [0, 1, 2, 3]
        assert [str(table.get_row_at(i)[0]) for i in range(4)] == ["✓", "✗", "✓", "✗"]
        assert "2 ✗" in shown(screen.query_one("#predictions-bar"))

        await pilot.press("f")  # all → mismatches
        assert table.filter_name == "mismatches" and shown_rows(table) == [1, 3]
        assert "2/4 shown" in shown(screen.query_one("#predictions-bar"))

        await pilot.press("down", "enter")  # the second mismatch: its long answer in full
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ExampleDetail), what="the detail view")
        body = rendered(pilot.app.screen.query_one("#example-body").content, width=100)
        assert "✗ no exact match" in body and "it 's a bit long" in body
        assert "because the reviewer liked the acting a lot." in body
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is screen)
        await pilot.press("f")
        assert shown_rows(table) == [0, 1, 2, 3]
        await pilot.press("2")  # the confusion tab's key does nothing here
        assert tabs.active == "predictions"


async def test_metrics_show_loss_perplexity_and_exact_match_without_per_class_scores(runs_dir: Path) -> None:
    fake = finished_generation_run(runs_dir)
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot, fake)
        history = screen.query_one(EvalHistory)
        columns = [str(column.label).strip() for column in history.columns.values()]
        assert columns[4:] == ["exact match", "loss", "perplexity"]
        assert [str(c) for c in history.get_row_at(1)[4:]] == ["0.5000", "0.9000", "2.4596"]
        assert str(history.get_row_at(1)[0]) == "★"  # lowest loss is best
        assert not screen.query_one("#per-class").display
        assert "loss 0.900" in shown(screen.query_one("#results-summary"))


async def test_without_exact_match_there_is_nothing_to_filter(runs_dir: Path) -> None:
    fake = GenerationRun(runs_dir)
    fake.started()
    items = [dict(item, match=None) for item in fake_items()]
    fake.generation_eval(100, loss=0.9, exact_match=None, items=items)
    fake.finish()
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot, fake)
        await pilot.press("3")
        table = screen.query_one(GenerationsTable)
        assert [str(table.get_row_at(i)[0]).strip() for i in range(table.row_count)] == ["", "", "", ""]
        await pilot.press("e")
        assert table.filter_name == "all" and table.row_count == 4
        assert "exact match does not apply" in shown(screen.query_one("#predictions-bar"))


def fake_items() -> list[dict]:
    from tests.tui.generation_fakes import GENERATIONS

    return GENERATIONS


async def test_chat_streams_replies_over_several_turns_and_clears(runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = finished_generation_run(runs_dir)
    model = fake_chat(monkeypatch)
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot, fake)
        await pilot.press("4")
        chat = screen.query_one(ChatPlayground)
        await wait_for(pilot, lambda: chat.loaded is model, what="the model loaded")
        assert "temperature 0 (greedy) · max new tokens 64" in shown(chat.query_one("#chat-settings"))
        box = chat.query_one("#chat-input", Input)
        assert screen.focused is box

        await pilot.press(*"Capital of France?", "enter")
        await wait_for(pilot, lambda: chat.pending is None and len(chat.turns) == 2, what="the first reply")
        assert chat.turns[1] == {"role": "assistant", "content": "You asked: Capital of France."}
        await pilot.press(*"And Spain?", "enter")
        await wait_for(pilot, lambda: len(chat.turns) == 4 and chat.pending is None, what="the second reply")
        assert [turn["role"] for turn in model.prompts[1]] == ["user", "assistant", "user"]  # multi-turn
        transcript = shown(chat.query_one("#chat-transcript"))
        assert "you   Capital of France?" in transcript and "model You asked: And Spain." in transcript

        await pilot.press("ctrl+l")  # works while the input has focus
        assert chat.turns == [] and shown(chat.query_one("#chat-transcript")) == ""
        await pilot.press(*"Again?", "enter")
        await wait_for(pilot, lambda: len(chat.turns) == 2 and chat.pending is None, what="a reply after clearing")
        assert model.prompts[-1] == [{"role": "user", "content": "Again?"}]


async def test_clearing_while_a_reply_streams_drops_it(runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    fake = finished_generation_run(runs_dir)
    model = FakeChatModel()
    model.gate = threading.Event()
    fake_chat(monkeypatch, model)
    async with WorkbenchApp(runs_dir).run_test(size=(80, 24)) as pilot:
        screen = await open_results(pilot, fake)
        await pilot.press("4")
        chat = screen.query_one(ChatPlayground)
        await wait_for(pilot, lambda: chat.loaded is model, what="the model loaded")
        await pilot.press(*"Slow?", "enter")
        await wait_for(pilot, lambda: chat.pending == "" and model.prompts, what="the reply begun")
        assert "▍" in shown(chat.query_one("#chat-transcript"))
        await pilot.press("ctrl+l")
        model.gate.set()
        await pilot.pause(0.2)
        assert chat.turns == [] and chat.pending is None
