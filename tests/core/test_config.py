"""Presets, overrides and validation: the `--set` key names are a public contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.config import DEFAULT_LEARNING_RATES, RunConfig
from workbench.errors import ConfigError
from workbench.presets import (
    SHIPPED_PRESETS_DIR,
    apply_overrides,
    config_to_toml,
    list_presets,
    load_config,
    parse_override,
    read_toml,
    save_preset,
    validate_config,
)

BASE = {"model": {"name": "some/model"}, "data": {"train": "some/dataset"}}

CONTRACT_KEYS = {
    "model.name": "other/model",
    "data.train": "x/y",
    "data.validation": "x/y:validation",
    "data.test": "x/y:test",
    "data.text_column": "sentence",
    "data.text_pair_column": "sentence2",
    "data.label_column": "label",
    "data.max_train_samples": 4000,
    "data.validation_split": 0.2,
    "method.kind": "head",
    "method.r": 16,
    "method.alpha": 32,
    "method.dropout": 0.05,
    "method.target_modules": ["query", "key"],
    "training.epochs": 2,
    "training.batch_size": 8,
    "training.learning_rate": 1e-4,
    "training.max_length": 64,
    "training.seed": 7,
    "training.eval_strategy": "steps",
}


@pytest.mark.parametrize("key,value", CONTRACT_KEYS.items())
def test_every_contract_key_can_be_overridden(key: str, value: object) -> None:
    raw = value if isinstance(value, str) else repr(value).replace("'", '"')
    config = load_config(None, [f"{key}={raw}"], base=BASE)
    section, field = key.split(".")
    assert getattr(getattr(config, section), field) == value


def test_override_values_are_toml_literals_with_string_fallback() -> None:
    assert parse_override("training.epochs=2") == ("training.epochs", 2)
    assert parse_override("training.learning_rate=5e-4") == ("training.learning_rate", 5e-4)
    assert parse_override("model.name=org/name") == ("model.name", "org/name")
    assert parse_override('method.target_modules=["q_lin","v_lin"]') == ("method.target_modules", ["q_lin", "v_lin"])


def test_comma_lists_are_accepted_for_list_keys() -> None:
    config = load_config(None, ["method.target_modules=q_lin,v_lin"], base=BASE)
    assert config.method.target_modules == ["q_lin", "v_lin"]


@pytest.mark.parametrize(
    "override,fragment",
    [
        ("training.epohcs=2", "did you mean 'training.epochs'"),
        ("trainig.epochs=2", "did you mean 'training'"),
        ("training.learning_rate=-1", "training.learning_rate"),
        ("training.epochs=0", "training.epochs"),
        ("method.kind=lorra", "'full', 'lora' or 'head'"),
        ("training.batch_size=many", "training.batch_size"),
        ("nonsense", "KEY=VALUE"),
    ],
)
def test_bad_overrides_are_one_line_errors(override: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(None, [override], base=BASE)
    text = caught.value.one_line()
    assert fragment in text
    assert "\n" not in text


def test_learning_rate_defaults_follow_the_method() -> None:
    for kind, rate in DEFAULT_LEARNING_RATES.items():
        assert load_config(None, [f"method.kind={kind}"], base=BASE).training.learning_rate == rate
    assert load_config(None, ["method.kind=full", "training.learning_rate=1e-3"], base=BASE).training.learning_rate == 1e-3


def test_missing_model_is_reported_by_key() -> None:
    with pytest.raises(ConfigError, match="model is required"):
        validate_config({"data": {"train": "x"}})


def test_preset_paths_are_relative_to_the_preset_and_overrides_to_the_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "presets"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "train.csv").write_text("text,label\na,0\n")
    (folder / "mine.toml").write_text('[model]\nname = "org/model"\n[data]\ntrain = "data/train.csv"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "valid.csv").write_text("text,label\na,0\n")
    monkeypatch.chdir(elsewhere)
    config = load_config(folder / "mine.toml", ["data.validation=valid.csv"])
    assert config.data.train == str((folder / "data" / "train.csv").resolve())
    assert config.data.validation == str((elsewhere / "valid.csv").resolve())
    assert config.model.name == "org/model"  # a hub id stays a hub id
    assert config.name == "mine"


def test_every_shipped_preset_validates_and_describes_itself() -> None:
    presets = [p for p in list_presets() if p.origin == "shipped"]
    assert {"quickstart", "sst2-minilm-lora", "imdb-distilbert-lora", "agnews-bert-full"} <= {p.name for p in presets}
    for info in presets:
        assert info.description, f"{info.name} has no description"
        config = load_config(info.path)
        assert isinstance(config, RunConfig)


def test_quickstart_uses_shipped_data_and_the_packaged_model() -> None:
    config = load_config("quickstart")
    assert Path(config.data.train).is_file()
    assert Path(config.data.train).is_relative_to(SHIPPED_PRESETS_DIR)
    assert config.model.name == "sentence-transformers/all-MiniLM-L6-v2"


def test_unknown_preset_name_suggests_a_close_one() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config("quikstart")
    assert "did you mean 'quickstart'" in caught.value.hint


def test_saved_preset_round_trips_and_never_overwrites_silently(tmp_path: Path) -> None:
    config = load_config(None, ["method.kind=full", "training.epochs=5"], base=BASE)
    path = save_preset(config, "mine", folder=tmp_path)
    assert load_config(path) == config.model_copy(update={"name": "mine"})
    before = path.read_text()
    with pytest.raises(ConfigError, match="already exists"):
        save_preset(config.model_copy(update={"description": "changed"}), "mine", folder=tmp_path)
    assert path.read_text() == before
    save_preset(config.model_copy(update={"description": "changed"}), "mine", folder=tmp_path, overwrite=True)
    assert read_toml(path)["description"] == "changed"
    assert [p.name for p in tmp_path.iterdir()] == ["mine.toml"]  # no temp files left behind


def test_config_toml_round_trips_exactly() -> None:
    config = load_config("quickstart", ["training.seed=3"])
    assert validate_config(__import__("tomllib").loads(config_to_toml(config))) == config


def test_apply_overrides_leaves_the_input_untouched() -> None:
    original = {"training": {"epochs": 1}}
    apply_overrides(original, ["training.epochs=3"])
    assert original == {"training": {"epochs": 1}}
