"""Model resolution and the three methods, on tiny random models saved like hub models."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.config import MethodConfig, ModelConfig
from workbench.errors import ModelError
from workbench.models import (
    apply_method,
    count_parameters,
    default_lora_targets,
    inspect_model,
    load_base_model,
    load_model_config,
    resolve_model_source,
)


def load(folder: Path, num_labels: int = 2):
    import transformers

    model = ModelConfig(name=str(folder))
    source = resolve_model_source(model)
    return load_base_model(transformers.AutoModelForSequenceClassification, source, model, load_model_config(source, model, num_labels=num_labels))


def test_local_directory_resolves(tiny_model_dir: Path) -> None:
    assert resolve_model_source(ModelConfig(name=str(tiny_model_dir))) == str(tiny_model_dir.resolve())


def test_a_directory_without_config_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a model"):
        resolve_model_source(ModelConfig(name=str(tmp_path)))


def test_missing_local_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model_source(ModelConfig(name=str(tmp_path / "nope")))


def test_packaged_minilm_resolves_from_its_hub_id(minilm_dir: Path) -> None:
    assert Path(resolve_model_source(ModelConfig(name="sentence-transformers/all-MiniLM-L6-v2"))) == minilm_dir


def test_hub_id_offline_names_hf_hub_offline_and_local_paths() -> None:
    source = resolve_model_source(ModelConfig(name="nobody-here/not-cached-model"))
    assert source == "nobody-here/not-cached-model"
    with pytest.raises(ModelError) as caught:
        load_model_config(source, ModelConfig(name=source))
    assert "HF_HUB_OFFLINE" in caught.value.message
    assert "local model directory" in caught.value.hint


def test_full_trains_everything_and_head_only_the_classifier(tiny_model_dir: Path) -> None:
    full = apply_method(load(tiny_model_dir), MethodConfig(kind="full"), "SEQ_CLS")
    counts = count_parameters(full)
    assert counts.trainable == counts.total
    head = apply_method(load(tiny_model_dir), MethodConfig(kind="head"), "SEQ_CLS")
    counts = count_parameters(head)
    classifier = sum(p.numel() for p in head.classifier.parameters())
    assert counts.trainable == classifier == 32 * 2 + 2


def test_lora_counts_match_what_peft_reports(tiny_model_dir: Path) -> None:
    model = apply_method(load(tiny_model_dir), MethodConfig(kind="lora", r=4), "SEQ_CLS")
    trainable, total = model.get_nb_trainable_parameters()
    counts = count_parameters(model)
    assert (counts.trainable, counts.total) == (trainable, total)
    # query + value adapters in 2 layers (r=4, 32 dim) plus the classifier head (modules_to_save)
    assert trainable == 2 * 2 * (4 * 32 + 32 * 4) + (32 * 2 + 2)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("query" in n and "lora_A" in n for n in names) and any("value" in n for n in names)
    assert any("classifier" in n for n in names)


@pytest.mark.parametrize(
    "model_type,targets",
    [("bert", ["query", "value"]), ("distilbert", ["q_lin", "v_lin"]), ("roberta", ["query", "value"]), ("deberta-v2", ["query_proj", "value_proj"])],
)
def test_lora_targets_are_chosen_per_architecture(model_type: str, targets: list[str]) -> None:
    assert default_lora_targets(model_type) == targets


def test_distilbert_lora_uses_its_own_projection_names(tmp_path: Path) -> None:
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    DistilBertForSequenceClassification(DistilBertConfig(vocab_size=50, dim=32, n_layers=1, n_heads=2, hidden_dim=64)).save_pretrained(tmp_path)
    model = apply_method(load(tmp_path), MethodConfig(kind="lora"), "SEQ_CLS")
    assert any("q_lin.lora_A" in n for n, _ in model.named_parameters())


def test_wrong_target_modules_are_a_clear_error(tiny_model_dir: Path) -> None:
    with pytest.raises(ModelError, match="target modules"):
        apply_method(load(tiny_model_dir), MethodConfig(kind="lora", target_modules=["q_lin"]), "SEQ_CLS")


def test_inspect_counts_on_the_meta_device_agree_with_a_real_load(tiny_model_dir: Path) -> None:
    info = inspect_model(ModelConfig(name=str(tiny_model_dir)), MethodConfig(kind="lora", r=4), "AutoModelForSequenceClassification", "SEQ_CLS")
    real = count_parameters(apply_method(load(tiny_model_dir), MethodConfig(kind="lora", r=4), "SEQ_CLS"))
    assert (info.params.total, info.params.trainable) == (real.total, real.trainable)
    assert info.layers == 2 and info.hidden_size == 32 and info.max_positions == 128
    assert info.model_type == "bert"


@pytest.mark.parametrize("model_type", ["llama", "qwen2", "mistral"])
def test_decoders_get_every_attention_projection(model_type: str) -> None:
    assert default_lora_targets(model_type) == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert default_lora_targets("gpt2") == ["c_attn", "c_proj"]


def test_causal_lm_lora_all_linear_and_dora(tmp_path: Path) -> None:
    import transformers

    from tests.core.tiny_decoders import build_tiny_llama

    folder = build_tiny_llama(tmp_path / "llama")
    model = ModelConfig(name=str(folder))
    source = resolve_model_source(model)

    def lora(**method):
        base = load_base_model(transformers.AutoModelForCausalLM, source, model, load_model_config(source, model))
        return apply_method(base, MethodConfig(kind="lora", **method), "CAUSAL_LM")

    def adapted(peft_model) -> set[str]:
        return {n.split(".lora_")[0].rsplit(".", 1)[-1] for n, p in peft_model.named_parameters() if p.requires_grad}

    assert adapted(lora()) == {"q_proj", "k_proj", "v_proj", "o_proj"}
    every = adapted(lora(target_modules=["all-linear"]))
    assert {"gate_proj", "up_proj", "down_proj", "q_proj"} <= every and "lm_head" not in every
    assert any("lora_magnitude_vector" in n for n, _ in lora(use_dora=True).named_parameters())
