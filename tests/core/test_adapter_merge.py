"""One-off inference folds a run's LoRA adapter into its base (peft's merge_and_unload): a plain
transformers model that predicts what the adapter on its base predicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.inference import _apply_adapter


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


def test_the_merged_adapter_is_a_plain_model_predicting_what_the_adapter_predicts(tiny_model_dir: Path, adapter: Path) -> None:
    import torch

    untouched = _logits(_base(tiny_model_dir), tiny_model_dir)
    expected = _logits(_apply_adapter(_base(tiny_model_dir), adapter, merge=False).eval(), tiny_model_dir)
    merged = _apply_adapter(_base(tiny_model_dir), adapter, merge=True).eval()
    assert not hasattr(merged, "peft_config")
    assert not torch.allclose(untouched, expected, atol=1e-3)  # the adapter really changes the model
    assert torch.allclose(_logits(merged, tiny_model_dir), expected, atol=1e-5)
