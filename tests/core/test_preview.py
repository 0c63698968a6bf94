"""Setup's previews (data and model) and its suggestions, without the TUI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes import FakeRun, fake_config
from workbench.config import RunConfig
from workbench.errors import DataError, ModelError
from workbench.preview import preview_data, preview_model
from workbench.suggestions import cached_models, data_suggestions, model_suggestions


def config_for(train: Path | str, model: Path | str = "sentence-transformers/all-MiniLM-L6-v2", data: dict | None = None, **sections) -> RunConfig:
    raw = {"model": {"name": str(model)}, "data": {"train": str(train), **(data or {})}, **sections}
    return RunConfig.model_validate(raw)


def test_data_preview_detects_columns_labels_and_split_sizes(tiny_csv: Path) -> None:
    preview = preview_data(config_for(tiny_csv), max_rows=3)
    assert preview.columns == ["text", "label"]
    assert (preview.text_column, preview.label_column) == ("text", "label")
    assert preview.rows[0] == {"text": "this movie was good and great 0", "label": "positive"}
    assert len(preview.rows) == 3
    assert preview.label_counts == {"negative": 36, "positive": 36}  # the 72 rows that train
    assert preview.sizes == {"train": 72, "validation": 8} and preview.validation_from_train
    assert preview.total_rows == 80 and preview.num_labels == 2


def test_data_preview_follows_max_train_samples_and_label_names(tmp_path: Path) -> None:
    data = tmp_path / "ids.tsv"
    data.write_text("sentence\tlabel\n" + "".join(f"text number {i}\t{i % 3}\n" for i in range(300)))
    config = config_for(data, data={"label_names": ["neg", "neu", "pos"], "max_train_samples": 100})
    preview = preview_data(config)
    assert preview.label_counts == {"neg": 32, "neu": 34, "pos": 34}  # the 100 rows that train, as training draws them
    assert preview.sizes == {"train": 100, "validation": 10}  # 100 train, 10% more held out beside them, as training does


def test_data_preview_of_a_conll_file_gives_the_tag_set_and_entities(tmp_path: Path) -> None:
    conll = tmp_path / "tiny.conll"
    conll.write_text("Angela B-PER\nMerkel I-PER\nvisited O\nParis B-LOC\n. O\n\n" * 5 + "UN B-ORG\nmet O\n\n" * 3)
    preview = preview_data(config_for(conll, task="token-classification"))
    assert (preview.text_column, preview.label_column) == ("tokens", "ner_tags")
    assert preview.tags == ["O", "B-LOC", "B-ORG", "B-PER", "I-PER"]
    assert preview.label_counts == {"PER": 4, "LOC": 4, "ORG": 3}  # in the 7 sentences that train
    assert preview.rows[0] == {"tokens": "Angela Merkel visited Paris .", "ner_tags": "B-PER I-PER O B-LOC O"}
    assert preview.num_labels == 5


def test_data_preview_errors_are_one_line_with_a_hint(tmp_path: Path, tiny_csv: Path) -> None:
    with pytest.raises(DataError) as missing:
        preview_data(config_for(tmp_path / "nope.csv"))
    assert "does not exist" in missing.value.message and missing.value.hint
    with pytest.raises(DataError) as column:
        preview_data(config_for(tiny_csv, data={"text_column": "review"}))
    assert "column 'review'" in column.value.message and "text_column" in column.value.hint


def test_model_preview_counts_trainable_parameters_per_method(tiny_model_dir: Path, tiny_csv: Path) -> None:
    preview = preview_model(config_for(tiny_csv, tiny_model_dir, method={"kind": "lora", "r": 4}), num_labels=2)
    info = preview.info
    assert (info.architecture, info.layers, info.hidden_size, info.max_positions) == ("BertForSequenceClassification", 2, 32, 128)
    full, lora, head = (preview.trainable[kind] for kind in ("full", "lora", "head"))
    assert full.trainable == full.total
    classifier = 32 * 2 + 2
    assert head.trainable == classifier
    # LoRA r=4 on query and value of 2 layers: 2 layers × 2 modules × 4 × (32 + 32), plus the head.
    assert lora.trainable == 2 * 2 * 4 * 64 + classifier
    assert preview.lora_targets == ["query", "value"]
    assert preview.memory_bytes("full", 32, 128) > preview.memory_bytes("full", 8, 128) > preview.memory_bytes("lora", 8, 128)


def test_model_preview_reports_a_lora_misfit_per_method_and_a_missing_model_as_an_error(tiny_model_dir: Path, tiny_csv: Path, tmp_path: Path) -> None:
    preview = preview_model(config_for(tiny_csv, tiny_model_dir, method={"kind": "lora", "target_modules": ["nope"]}))
    assert "lora" not in preview.trainable and "nope" in preview.problems["lora"]
    assert preview.memory_bytes("lora", 8, 32) is None and preview.memory_bytes("full", 8, 32)
    with pytest.raises(ModelError) as missing:
        preview_model(config_for(tiny_csv, tmp_path / "no-model"))
    assert "does not exist" in missing.value.message


def test_suggestions_come_from_recent_runs_presets_packages_and_the_hub_cache(runs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "hub"
    repo = cache / "models--acme--tiny-bert"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    (repo / "blobs").mkdir()
    (repo / "blobs" / "deadbeef").write_text("{}")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    os.symlink("../../blobs/deadbeef", repo / "snapshots" / "abc123" / "config.json")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("TLWB_PRESETS_DIR", str(tmp_path / "no-user-presets"))
    FakeRun(runs_dir, config=fake_config(model={"name": "acme/recent-model"}, data={"train": "/data/recent.csv"}))

    models = model_suggestions(runs_dir)
    origins = {s.value: s.origin for s in models}
    assert models[0].value == "acme/recent-model" and origins["acme/recent-model"] == "recent"
    assert origins["distilbert/distilbert-base-uncased"] == "preset"
    assert origins["sentence-transformers/all-MiniLM-L6-v2"] == "preset"  # named by a preset before "packaged"
    assert origins["acme/tiny-bert"] == "cache"
    assert len(models) == len(origins)  # no duplicates
    assert cached_models() == ["acme/tiny-bert"]
    data = [s.value for s in data_suggestions(runs_dir)]
    assert data[0] == "/data/recent.csv" and any(value.endswith("quickstart_reviews.csv") for value in data)


def test_previews_never_import_textual() -> None:
    code = "import sys, workbench.preview, workbench.suggestions; print('textual' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.strip() == "False", done.stderr


def test_generation_previews_show_format_example_masking_lengths_and_decoder_methods(tmp_path: Path) -> None:
    import json

    from tests.core.tiny_decoders import build_tiny_gpt2
    from workbench.preview import preview_chat

    model = build_tiny_gpt2(tmp_path / "gpt2")
    data = tmp_path / "alpaca.jsonl"
    data.write_text("".join(json.dumps({"instruction": f"say hello {i}", "input": "", "output": "hello there"}) + "\n" for i in range(20)))
    config = config_for(data, model, task="text-generation", training={"max_length": 128})
    preview = preview_data(config)
    assert preview.chat_format == "alpaca" and preview.chat_columns == {"instruction": "instruction", "output": "output", "input": "input"}
    assert preview.sizes == {"train": 18, "validation": 2}
    shown = preview_chat(config)
    assert (shown.format, shown.template) == ("alpaca", "chatml")
    assert [text for text, trained in shown.example if trained] == ["hello there<|im_end|>\n"]
    text, trained = shown.example[0]  # the first training row (after the seeded split)
    assert not trained and text.startswith("<|im_start|>user\nsay hello ") and text.endswith("<|im_start|>assistant\n")
    assert shown.stats.rows == 18 and shown.stats.truncated_rows == 0 and shown.stats.max <= 128
    models = preview_model(config)
    assert models.info.architecture == "GPT2LMHeadModel" and models.lora_targets == ["c_attn", "c_proj"]
    assert set(models.trainable) == {"full", "lora"} and "does not apply" in models.problems["head"]
