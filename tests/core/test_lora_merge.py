"""A LoRA adapter folded into the base without peft (`workbench.lora_merge`) predicts exactly what
peft's PeftModel predicts; adapters it can't apply exactly are left to peft (None)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.lora_merge import merge_lora_adapter


def _base(model_dir: Path):
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config = AutoConfig.from_pretrained(model_dir, num_labels=3)
    return AutoModelForSequenceClassification.from_pretrained(model_dir, config=config, ignore_mismatched_sizes=True).eval()


@pytest.fixture(scope="module")
def adapter(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained-looking adapter: LoRA on query/value with non-zero B, and a trained head."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    peft_model = get_peft_model(_base(tiny_model_dir), LoraConfig(task_type="SEQ_CLS", r=4, lora_alpha=8, lora_dropout=0.1,
                                                                  target_modules=["query", "value"]))
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name or "modules_to_save" in name:
                parameter.normal_(std=0.5)
    folder = tmp_path_factory.mktemp("adapter")
    peft_model.save_pretrained(folder)
    return folder


def _logits(model, tiny_model_dir: Path):
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    batch = tokenizer(["this movie was good", "the film is not great , it was awful"], padding=True, return_tensors="pt")
    with torch.no_grad():
        return model(**batch).logits


def test_merged_adapter_predicts_what_peft_predicts(tiny_model_dir: Path, adapter: Path) -> None:
    import torch
    from peft import PeftModel

    expected = _logits(PeftModel.from_pretrained(_base(tiny_model_dir), str(adapter)).eval(), tiny_model_dir)
    base = _base(tiny_model_dir)
    untouched = _logits(base, tiny_model_dir)
    merged = merge_lora_adapter(base, adapter)
    assert merged is not None and not hasattr(merged, "peft_config")
    got = _logits(merged, tiny_model_dir)
    assert not torch.allclose(untouched, expected, atol=1e-3)  # the adapter really changes the model
    assert torch.allclose(got, expected, atol=1e-5), (got, expected)


@pytest.mark.parametrize("change", [{"use_dora": True}, {"peft_type": "IA3"}, {"rank_pattern": {"query": 8}}, {"fan_in_fan_out": True}])
def test_adapters_it_cannot_apply_exactly_are_left_to_peft(tiny_model_dir: Path, adapter: Path, tmp_path: Path, change: dict) -> None:
    import shutil

    folder = tmp_path / "adapter"
    shutil.copytree(adapter, folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    (folder / "adapter_config.json").write_text(json.dumps({**config, **change}))
    assert merge_lora_adapter(_base(tiny_model_dir), folder) is None


def test_unknown_weights_are_left_to_peft(tiny_model_dir: Path, adapter: Path, tmp_path: Path) -> None:
    import shutil

    from safetensors.torch import load_file, save_file

    folder = tmp_path / "adapter"
    shutil.copytree(adapter, folder)
    weights = load_file(str(folder / "adapter_model.safetensors"))
    first = next(key for key in weights if key.endswith("lora_A.weight"))
    weights[first.replace("lora_A", "lora_embedding_A")] = weights[first].clone()
    save_file(weights, str(folder / "adapter_model.safetensors"))
    base = _base(tiny_model_dir)
    before = {name: tensor.clone() for name, tensor in base.state_dict().items()}
    assert merge_lora_adapter(base, folder) is None
    assert all((before[name] == tensor).all() for name, tensor in base.state_dict().items())  # nothing half-applied
