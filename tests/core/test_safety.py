"""Safety: presets never execute code, trust_remote_code is off unless set (and then named
loudly), and weights come from safetensors or a `weights_only` unpickler, never a free pickle."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.core.tiny_runs import tlwb
from workbench.config import ModelConfig
from workbench.errors import ModelError
from workbench.models import load_base_model, load_model_config
from workbench.preflight import check_pickled_weights, preflight
from workbench.presets import config_to_toml, load_config


def _payload(marker: Path) -> list[str]:
    """Strings that would run `touch marker` if anything evaluated, templated or shelled them."""
    return [
        f"__import__('os').system('touch {marker}')",
        f"$(touch {marker})",
        f"`touch {marker}`",
        "{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}",
        f"!!python/object/apply:os.system ['touch {marker}']",
    ]


def test_a_preset_with_code_in_it_stays_text(tmp_path: Path) -> None:
    marker = tmp_path / "EXECUTED"
    name, description, model, train, column = (json.dumps(text) for text in _payload(marker))
    preset = tmp_path / "odd.toml"
    preset.write_text(
        f"name = {name}\ndescription = {description}\n[model]\nname = {model}\n"
        f"[data]\ntrain = {train}\ntext_column = {column}\n"
    )
    config = load_config(preset)
    assert config.description == _payload(marker)[1] and config.data.text_column == _payload(marker)[4]
    assert json.dumps(_payload(marker)[4]) in config_to_toml(config)  # written back verbatim, as data
    done = tlwb("train", str(preset), "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert not marker.exists() and not (tmp_path / "runs").exists()


def test_remote_code_is_off_unless_the_preset_says_so() -> None:
    assert ModelConfig(name="org/model").trust_remote_code is False
    assert load_config("quickstart").model.trust_remote_code is False


def test_trust_remote_code_is_named_by_the_cli_and_in_preflight(tiny_model_dir: Path, tmp_path: Path) -> None:
    preset = tmp_path / "remote.toml"
    preset.write_text(f'[model]\nname = "{tiny_model_dir}"\ntrust_remote_code = true\n[data]\ntrain = "{tmp_path / "none.csv"}"\n')
    done = tlwb("train", str(preset), "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 2  # the missing data file
    assert f"warning: trust_remote_code is on: code from {tiny_model_dir} will run on this machine" in done.stderr
    assert done.stderr.count("trust_remote_code is on") == 1  # once, not again from pre-flight
    report = preflight(load_config(preset), tmp_path / "runs")
    assert [w.message for w in report.warnings if w.kind == "remote_code"] == [
        f"trust_remote_code is on: code from {tiny_model_dir} will run on this machine"
    ]


def _pickled_model(tiny_model_dir: Path, folder: Path, marker: Path, keep_safetensors: bool) -> Path:
    import shutil

    import torch

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    shutil.copytree(tiny_model_dir, folder)
    if not keep_safetensors:
        (folder / "model.safetensors").unlink()
    torch.save({"bert.embeddings.word_embeddings.weight": Payload()}, folder / "pytorch_model.bin")
    return folder


def test_pickled_weights_with_code_are_refused_not_run(tiny_model_dir: Path, tmp_path: Path) -> None:
    import transformers

    marker = tmp_path / "EXECUTED"
    folder = _pickled_model(tiny_model_dir, tmp_path / "pickled", marker, keep_safetensors=False)
    model = ModelConfig(name=str(folder))
    with pytest.raises(ModelError, match="the pickled checkpoint holds more than tensors"):
        load_base_model(transformers.AutoModelForSequenceClassification, str(folder), model, load_model_config(str(folder), model))
    with pytest.raises(ModelError, match="holds code, not just tensors"):
        check_pickled_weights(str(folder))
    assert not marker.exists()


def test_safetensors_are_preferred_over_a_pickle_beside_them(tiny_model_dir: Path, tmp_path: Path) -> None:
    import transformers

    marker = tmp_path / "EXECUTED"
    folder = _pickled_model(tiny_model_dir, tmp_path / "both", marker, keep_safetensors=True)
    model = ModelConfig(name=str(folder))
    loaded = load_base_model(transformers.AutoModelForSequenceClassification, str(folder), model, load_model_config(str(folder), model))
    assert loaded.config.hidden_size == 32
    check_pickled_weights(str(folder))  # safetensors present: the pickle is never read
    assert not marker.exists()
