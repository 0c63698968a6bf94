"""Safety: presets never execute code, trust_remote_code is off unless set (and then named
loudly), and weights come from safetensors or a `weights_only` unpickler, never a free pickle."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.core.tiny_runs import tlwb
from tests.fakes import cached_hub_config
from workbench.config import ModelConfig
from workbench.errors import ModelError
from workbench.models import load_base_model, load_model_config
from workbench.model_checks import check_pickled_weights
from workbench.preflight import preflight
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
        check_pickled_weights(folder)
    assert not marker.exists()


def test_safetensors_are_preferred_over_a_pickle_beside_them(tiny_model_dir: Path, tmp_path: Path) -> None:
    import transformers

    marker = tmp_path / "EXECUTED"
    folder = _pickled_model(tiny_model_dir, tmp_path / "both", marker, keep_safetensors=True)
    model = ModelConfig(name=str(folder))
    loaded = load_base_model(transformers.AutoModelForSequenceClassification, str(folder), model, load_model_config(str(folder), model))
    assert loaded.config.hidden_size == 32
    check_pickled_weights(folder)  # safetensors present: the pickle is never read
    assert not marker.exists()


def _safetensors_copy(tiny_model_dir: Path, folder: Path) -> Path:
    import shutil

    shutil.copytree(tiny_model_dir, folder)
    return folder / "model.safetensors"


def test_a_whole_model_folder_passes_the_weight_checks(tiny_model_dir: Path) -> None:
    from workbench.model_checks import check_model_folder

    check_model_folder(tiny_model_dir)


@pytest.mark.parametrize("damage, fragment", [
    (lambda raw: raw[:-1], "is truncated"),
    (lambda raw: raw[:5], "is truncated: 5 bytes where its header needs 8"),
    (lambda raw: raw[:8] + b"\xff" * (len(raw) - 8), "not a safetensors file"),
    (lambda raw: (2**40).to_bytes(8, "little") + raw[8:], "not a safetensors file"),
])
def test_a_damaged_safetensors_file_is_found_from_its_header(tiny_model_dir: Path, tmp_path: Path, damage, fragment: str) -> None:
    from workbench.model_checks import check_model_folder

    weights = _safetensors_copy(tiny_model_dir, tmp_path / "model")
    weights.write_bytes(damage(weights.read_bytes()))
    with pytest.raises(ModelError) as caught:
        check_model_folder(weights.parent)
    assert str(weights) in caught.value.message and fragment in caught.value.message
    assert "copy or download the model again" in caught.value.hint


def test_a_folder_without_weights_or_with_a_missing_shard_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    from workbench.model_checks import check_model_folder

    weights = _safetensors_copy(tiny_model_dir, tmp_path / "model")
    weights.unlink()
    with pytest.raises(ModelError, match="has a config.json but no weights"):
        check_model_folder(weights.parent)
    index = {"metadata": {}, "weight_map": {"bert.pooler.dense.weight": "model-00001-of-00002.safetensors"}}
    (weights.parent / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(ModelError, match="lacks model-00001-of-00002.safetensors, a weights shard that model.safetensors.index.json names"):
        check_model_folder(weights.parent)


def test_custom_code_is_detected_from_auto_map_and_names_trust_remote_code(tiny_model_dir: Path, tmp_path: Path) -> None:
    from workbench.model_checks import check_custom_code, custom_code_classes

    folder = tmp_path / "custom"
    folder.mkdir()
    config = json.loads((tiny_model_dir / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoModel": "modeling_x.XModel",
                                                                           "AutoTokenizer": ["tokenization_x.XTokenizer", None]}}))
    assert custom_code_classes(str(folder)) == ["modeling_x.XModel", "tokenization_x.XTokenizer"]
    with pytest.raises(ModelError) as caught:
        check_custom_code(str(folder), "org/custom", trust_remote_code=False)
    assert "org/custom ships its own code (modeling_x.XModel" in caught.value.message
    assert "model.trust_remote_code = true" in caught.value.hint and "will run on this machine" in caught.value.hint
    check_custom_code(str(folder), "org/custom", trust_remote_code=True)  # allowed: the CLI warns instead
    assert custom_code_classes(str(tiny_model_dir)) == [] and custom_code_classes("nobody/not-cached") == []


def test_an_unexpected_preflight_failure_never_says_to_skip_preflight(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.tasks.classification import TextClassification

    def broken(self, config):
        raise TypeError("unhashable type: 'list'")

    monkeypatch.setattr(TextClassification, "load", broken)
    preset = tmp_path / "p.toml"
    preset.write_text(f'[model]\nname = "{tiny_model_dir}"\n[data]\ntrain = "{tmp_path / "x.csv"}"\n[method]\nkind = "full"\n')
    report = preflight(load_config(preset), tmp_path / "runs")
    (error,) = report.errors
    assert error.message == "pre-flight could not check the data: TypeError: unhashable type: 'list'"
    assert "data.label_column" in error.hint and "pre-flight" not in error.hint


def test_custom_code_is_detected_from_a_cached_hub_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hub id offline: its config.json is read from the Hugging Face cache, nothing is run."""
    from huggingface_hub import constants

    from workbench.model_checks import check_custom_code

    cached_hub_config(tmp_path / "hub", "someone/custom-model",
                      {"model_type": "custom", "auto_map": {"AutoConfig": "configuration_custom.CustomConfig"}})
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match=r"someone/custom-model ships its own code \(configuration_custom.CustomConfig\)"):
        check_custom_code("someone/custom-model", "someone/custom-model", trust_remote_code=False)
