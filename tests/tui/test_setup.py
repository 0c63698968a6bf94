"""The Setup screen at 80×24: previews, inline validation, presets, and launching a run."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import tomli_w
from rich.console import Console
from rich.text import Text
from textual.message import Message
from textual.widgets import Static

from screens.app import WorkbenchApp
from screens.dialogs import ConfirmDialog
from screens.presets_dialog import PresetNamePrompt
from screens.widgets.pick_list import PickList
from screens.setup import SetupScreen
from screens.widgets.config_fields import ConfigChoice, ConfigInput, ConfigSelect
from screens.widgets.data_preview import LabelDistribution, PreviewTable
from screens.widgets.model_info import ModelInfo
from tests.tui.harness import wait_for
from workbench.config import RunConfig


@pytest.fixture
def user_presets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user-presets"
    monkeypatch.setenv("TLWB_PRESETS_DIR", str(folder))
    return folder


@pytest.fixture
def tiny_preset(tmp_path: Path, tiny_model_dir: Path, tiny_csv: Path, user_presets: Path) -> Path:
    """A preset naming the tiny model and the tiny CSV (absolute paths)."""
    path = tmp_path / "tiny.toml"
    path.write_text(tomli_w.dumps({
        "description": "tiny test preset",
        "model": {"name": str(tiny_model_dir)},
        "data": {"train": str(tiny_csv)},
        "method": {"kind": "lora", "r": 4},
        "training": {"epochs": 1, "batch_size": 8, "max_length": 32},
    }))
    return path


@pytest.fixture(autouse=True)
def quick_debounce(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests type fast and wait on results: a short debounce keeps them quick."""
    monkeypatch.setattr("screens.setup.DEBOUNCE_S", 0.05)


class Launches:
    """A `message_hook` (`app.run_test(message_hook=launches)`) that records each config Setup asks
    to train with `SetupScreen.StartRun`, and stops the message on the screen, before it bubbles
    to the app: nothing is launched."""

    def __init__(self) -> None:
        self.configs: list[RunConfig] = []

    def __call__(self, message: Message) -> None:
        if isinstance(message, SetupScreen.StartRun):
            message.stop()
            self.configs.append(message.config)


def shown(widget: Static, width: int = 100) -> str:
    """The plain text a Static shows, whatever it was given (str, Text, or a Rich renderable)."""
    return rendered(widget.content, width)


def rendered(content: object, width: int = 100) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Text):
        return content.plain
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(content)
    return console.export_text()


async def open_setup(pilot) -> SetupScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SetupScreen), what="the Setup screen")
    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.is_mounted and field(screen, "model.name").value, what="the filled form")
    return screen


async def previews_done(pilot, screen: SetupScreen) -> None:
    await wait_for(pilot, lambda: (screen.model_preview or screen.model_error) and (screen.data_preview or screen.data_error),
                   timeout=60, what="model and data previews")
    await pilot.pause()


def field(screen: SetupScreen, key: str) -> ConfigInput:
    return screen.query_one(f"#{key.replace('.', '-')}", ConfigInput)


async def retype(pilot, widget: ConfigInput, text: str) -> None:
    """Type `text` into a field as a person would (short values only: each key is a press)."""
    widget.focus()
    await pilot.press("ctrl+u", *text)


async def paste(pilot, widget: ConfigInput, text: str) -> None:
    """Replace a field's text in one go, as a paste does."""
    widget.focus()
    widget.value = text
    await pilot.pause()


async def test_previews_describe_the_model_and_the_data(runs_dir: Path, tiny_preset: Path) -> None:
    app = WorkbenchApp(runs_dir, preset=str(tiny_preset))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        await previews_done(pilot, screen)
        assert screen.model_error is None and screen.data_error is None
        info = shown(screen.query_one(ModelInfo))
        assert "BertForSequenceClassification · 2 layers · 32 dim" in info
        assert "trainable (LoRA r=4)" in info and "est. memory" in info
        preview = screen.data_preview
        assert preview.label_counts == {"negative": 36, "positive": 36}  # the rows that train
        assert preview.sizes == {"train": 72, "validation": 8}
        assert "train 72 · val 8 (held out) · 80 rows" in shown(screen.query_one("#data-sizes", Static))
        assert screen.query_one("#data-text_column", ConfigSelect).raw == "text"
        assert screen.query_one("#data-label_column", ConfigSelect).raw == "label"
        distribution = shown(screen.query_one(LabelDistribution))
        assert "negative" in distribution and "36 · 50%" in distribution
        assert screen.query_one(PreviewTable).row_count == 20


async def test_a_bad_learning_rate_is_marked_and_refuses_to_train(runs_dir: Path, tiny_preset: Path) -> None:
    launches = Launches()
    app = WorkbenchApp(runs_dir, preset=str(tiny_preset))
    async with app.run_test(size=(80, 24), message_hook=launches) as pilot:
        screen = await open_setup(pilot)
        lr = field(screen, "training.learning_rate")
        await retype(pilot, lr, "5")
        assert lr.value == "5", lr.value
        assert lr.has_class("-invalid")
        status = shown(screen.query_one("#setup-status", Static))
        assert "training.learning_rate" in status and "less than 1" in status

        await pilot.press("ctrl+t")  # works while the Input has focus
        await pilot.pause()
        assert launches.configs == []
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and "training.learning_rate" in errors[-1].message
        assert "fix the marked field, then press ctrl+t again" in errors[-1].message
        assert pilot.app.focused is lr

        await retype(pilot, lr, "abc")
        assert lr.has_class("-invalid")
        await retype(pilot, lr, "2e-4")
        assert not lr.has_class("-invalid")
        await previews_done(pilot, screen)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: launches.configs, what="Setup's StartRun")
        assert len(launches.configs) == 1
        config = launches.configs[0]
        assert config.training.learning_rate == pytest.approx(2e-4)
        assert config.method.r == 4 and config.training.max_length == 32


async def test_switching_method_disables_lora_fields_and_follows_the_default_learning_rate(runs_dir: Path, tiny_preset: Path) -> None:
    launches = Launches()
    app = WorkbenchApp(runs_dir, preset=str(tiny_preset))
    async with app.run_test(size=(80, 24), message_hook=launches) as pilot:
        screen = await open_setup(pilot)
        assert field(screen, "training.learning_rate").value == "0.0005"  # LoRA's default
        screen.query_one("#method-kind-full").value = True
        await wait_for(pilot, lambda: field(screen, "training.learning_rate").value == "3e-05", what="full's learning rate")
        assert screen.query_one(ConfigChoice).raw == "full"
        assert field(screen, "method.r").disabled
        await previews_done(pilot, screen)
        await wait_for(pilot, lambda: "trainable (full)" in shown(screen.query_one(ModelInfo)), what="full-method info")
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: launches.configs, what="Setup's StartRun")
        assert launches.configs[-1].method.kind == "full"
        assert launches.configs[-1].training.learning_rate == pytest.approx(3e-5)


async def test_a_missing_data_file_is_shown_inline_and_refuses_to_train(runs_dir: Path, tiny_preset: Path, tmp_path: Path) -> None:
    launches = Launches()
    app = WorkbenchApp(runs_dir, preset=str(tiny_preset))
    async with app.run_test(size=(80, 24), message_hook=launches) as pilot:
        screen = await open_setup(pilot)
        await paste(pilot, field(screen, "data.train"), str(tmp_path / "nope.csv"))
        await wait_for(pilot, lambda: screen.data_error is not None, timeout=30, what="the data error")
        error = shown(screen.query_one(LabelDistribution))
        assert "nope.csv does not exist" in error and "check the path" in error
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert launches.configs == []


async def test_loading_a_preset_fills_the_form(runs_dir: Path, tiny_preset: Path) -> None:
    app = WorkbenchApp(runs_dir, preset=str(tiny_preset))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, PickList), what="the preset list")
        names = [path.stem for path in app.screen.values]
        await pilot.press(*["down"] * names.index("sst2-minilm-lora"), "enter")
        await wait_for(pilot, lambda: app.screen is screen, what="back on Setup")
        assert field(screen, "model.name").value == "sentence-transformers/all-MiniLM-L6-v2"
        assert field(screen, "data.train").value == "stanfordnlp/sst2:train"
        assert field(screen, "training.batch_size").value == "32"
        assert field(screen, "training.max_length").value == "128"
        assert field(screen, "training.learning_rate").value == "0.0005"
        assert field(screen, "method.r").value == "8"
        config = screen.build_config()
        assert (config.data.text_column, config.data.validation) == ("sentence", "stanfordnlp/sst2:validation")  # kept


async def test_saving_a_preset_never_overwrites_silently(runs_dir: Path, tiny_preset: Path, user_presets: Path) -> None:
    app = WorkbenchApp(runs_dir, preset=str(tiny_preset))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, PresetNamePrompt), what="the name prompt")
        await pilot.press("ctrl+u", *"my-tiny", "enter")
        saved = user_presets / "my-tiny.toml"
        await wait_for(pilot, saved.exists, what="the saved preset")
        first = saved.read_text()
        assert "r = 4" in first

        await retype(pilot, field(screen, "method.r"), "16")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, PresetNamePrompt), what="the name prompt")
        await pilot.press("ctrl+u", *"my-tiny", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the overwrite question")
        await pilot.press("enter")  # the focused answer is "keep it"
        await wait_for(pilot, lambda: app.screen is screen, what="back on Setup")
        assert saved.read_text() == first

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, PresetNamePrompt), what="the name prompt")
        await pilot.press("ctrl+u", *"my-tiny", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the overwrite question")
        await pilot.press("right", "enter")
        await wait_for(pilot, lambda: "r = 16" in saved.read_text(), what="the replaced preset")


async def test_token_classification_shows_the_tag_set(runs_dir: Path, tiny_preset: Path, tmp_path: Path) -> None:
    conll = tmp_path / "tiny.conll"
    conll.write_text("Angela B-PER\nMerkel I-PER\nvisited O\nParis B-LOC\n. O\n\n" * 6 + "the O\nfilm O\n\n" * 4)
    app = WorkbenchApp(runs_dir, preset=str(tiny_preset))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        screen.query_one("#task", ConfigSelect).value = "token-classification"
        await paste(pilot, field(screen, "data.train"), str(conll))
        await wait_for(pilot, lambda: screen.data_preview is not None and screen.data_preview.tags, timeout=30, what="the tag preview")
        preview = screen.data_preview
        assert preview.tags == ["O", "B-LOC", "B-PER", "I-PER"]
        assert preview.label_counts == {"PER": 5, "LOC": 5}  # one sentence of each is held out
        distribution = shown(screen.query_one(LabelDistribution))
        assert "entities · 4 tags: O B-LOC B-PER I-PER" in distribution
        assert "PER" in distribution and "5 · 50%" in distribution
        assert screen.query_one("#data-text_column", ConfigSelect).disabled
        assert screen.query_one("#data-tokens_column", ConfigSelect).raw == "tokens"
        assert screen.query_one("#data-tags_column", ConfigSelect).raw == "ner_tags"
        config = screen.build_config()
        assert config.task == "token-classification" and config.data.text_column is None
        assert config.data.tokens_column == "tokens"


async def test_risky_settings_warn_when_loaded_and_when_training(runs_dir: Path, tmp_path: Path, tiny_model_dir: Path, tiny_csv: Path,
                                                                user_presets: Path) -> None:
    preset = tmp_path / "risky.toml"
    preset.write_text(tomli_w.dumps({
        "model": {"name": str(tiny_model_dir), "trust_remote_code": True},
        "data": {"train": str(tiny_csv)},
        "training": {"group_by_length": True, "max_length": 32},
    }))
    launches = Launches()
    app = WorkbenchApp(runs_dir, preset=str(preset))
    async with app.run_test(size=(80, 24), message_hook=launches) as pilot:
        screen = await open_setup(pilot)
        warnings = lambda: [n.message for n in app._notifications if n.severity == "warning"]  # noqa: E731
        assert any("trust_remote_code" in w and str(tiny_model_dir) in w for w in warnings())
        assert any("group_by_length" in w for w in warnings())
        app.clear_notifications()
        await previews_done(pilot, screen)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: launches.configs, what="Setup's StartRun")
        assert len(launches.configs) == 1  # a warning, not a refusal
        assert len(warnings()) == 2


async def test_choosing_another_label_column_redoes_the_preview(runs_dir: Path, tiny_preset: Path, tmp_path: Path) -> None:
    data = tmp_path / "two-labels.csv"
    data.write_text("text,topic,sentiment\n" + "".join(
        f"this film was good {i},{'sport' if i % 3 else 'news'},{'positive' if i % 2 else 'negative'}\n" for i in range(60)))
    app = WorkbenchApp(runs_dir, preset=str(tiny_preset))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        await paste(pilot, field(screen, "data.train"), str(data))
        await wait_for(pilot, lambda: screen.data_preview is not None and screen.data_preview.source == str(data), timeout=30, what="the preview")
        label = screen.query_one("#data-label_column", ConfigSelect)
        assert label.raw == "sentiment" and screen.data_preview.label_counts == {"negative": 27, "positive": 27}
        label.value = "topic"
        await wait_for(pilot, lambda: screen.data_preview is not None and screen.data_preview.label_column == "topic", timeout=30, what="the new preview")
        assert screen.data_preview.label_counts == {"news": 18, "sport": 36}  # 54 training rows, stratified
        assert screen.build_config().data.label_column == "topic"


async def test_ctrl_l_lists_models_seen_before_and_fills_the_field(runs_dir: Path, tiny_preset: Path) -> None:
    app = WorkbenchApp(runs_dir, preset=str(tiny_preset))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        await wait_for(pilot, lambda: screen.suggestions["model.name"], what="the suggestions")
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, PickList), what="the model list")
        assert "distilbert/distilbert-base-uncased" in app.screen.values
        index = app.screen.values.index("distilbert/distilbert-base-uncased")
        await pilot.press(*["down"] * index, "enter")
        await wait_for(pilot, lambda: app.screen is screen, what="back on Setup")
        assert field(screen, "model.name").value == "distilbert/distilbert-base-uncased"


def test_path_completion_extends_to_files_and_folders(tmp_path: Path) -> None:
    from screens.widgets.suggesters import complete_path

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("text,label\n")
    (tmp_path / "data" / ".hidden.csv").write_text("")
    (tmp_path / "dataset.tsv").write_text("")
    assert complete_path(f"{tmp_path}/data/tr") == f"{tmp_path}/data/train.csv"
    assert complete_path(f"{tmp_path}/dat") == f"{tmp_path}/dataset.tsv"  # files before folders
    assert complete_path(f"{tmp_path}/data/") == f"{tmp_path}/data/train.csv"  # hidden files only when asked
    assert complete_path(f"{tmp_path}/data/.h") == f"{tmp_path}/data/.hidden.csv"
    assert complete_path(f"{tmp_path}/nothing") is None
    assert complete_path("sentence-transformers") is None  # a hub id, not a path


async def test_the_gpu_count_field_shows_only_with_several_gpus(runs_dir: Path, tiny_preset: Path) -> None:
    app = WorkbenchApp(runs_dir, preset=str(tiny_preset))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_setup(pilot)
        nproc = field(screen, "training.nproc")
        await wait_for(pilot, lambda: not any(w.is_running for w in screen.workers if w.group == "gpus"), what="the GPU count")
        from workbench.preview import visible_gpus

        assert nproc.display == (visible_gpus() > 1)  # hidden on a machine with one GPU or none
        screen.post_message(SetupScreen.GpusCounted(4))
        await wait_for(pilot, lambda: nproc.display, what="the nproc field")
        assert nproc.placeholder == "1-4"
        await retype(pilot, nproc, "2")
        assert screen.build_config().training.nproc == 2


def test_big_split_sizes_are_rounded_only_where_exact_ones_would_be_cut() -> None:
    """SST-2's 53,879 + 13,470 rows in the 80-column data panel: both splits stay visible."""
    from screens.widgets.data_preview import describe_sizes
    from workbench.preview import DataPreview

    preview = DataPreview(source="sst2.tsv", columns=["sentence", "label"], rows=[], text_column="sentence", label_column="label",
                          sizes={"train": 53_879, "validation": 13_470}, validation_from_train=True, total_rows=67_349)
    assert describe_sizes(preview).plain == "train 53,879 · val 13,470 (held out) · 67,349 rows"
    assert describe_sizes(preview, width=200).plain == describe_sizes(preview).plain
    narrow = describe_sizes(preview, width=21).plain
    assert narrow.startswith("train 53.9K · val 13.5K")
    small = DataPreview(source="a.csv", columns=["text", "label"], rows=[], text_column="text", label_column="label",
                        sizes={"train": 400, "validation": 80}, total_rows=480)
    assert describe_sizes(small, width=21).plain == "train 400 · val 80 · 480 rows"
