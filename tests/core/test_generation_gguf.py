"""A GGUF file (`model.gguf_file`) loads through transformers' GGUF support into the same model:
a tiny Llama written with the `gguf` package, tensors laid out as llama.cpp's converter does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.tiny_decoders import build_tiny_llama
from workbench.config import ModelConfig
from workbench.models import load_base_model, load_model_config, load_tokenizer, resolve_model_source

GGUF_NAMES = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
    "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
}


def llama_cpp_permute(weight, heads: int):
    """llama.cpp stores q/k rows interleaved for its rope; transformers undoes this on load."""
    return weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def write_gguf(model, tokenizer, path: Path) -> Path:
    import gguf
    import numpy as np

    config = model.config
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_dimension_count(config.hidden_size // config.num_attention_heads)
    writer.add_rope_freq_base(float(config.rope_parameters["rope_theta"]) if getattr(config, "rope_parameters", None) else 10000.0)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    specials = set(tokenizer.all_special_tokens)
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([token for token, _ in vocab])
    writer.add_token_types([3 if token in specials else 1 for token, _ in vocab])
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    writer.add_chat_template(tokenizer.chat_template)
    for name, tensor in model.state_dict().items():
        array = tensor.float().numpy()
        if name == "model.embed_tokens.weight":
            target = "token_embd.weight"
        elif name == "model.norm.weight":
            target = "output_norm.weight"
        elif name == "lm_head.weight":
            target = "output.weight"
        else:
            layer, rest = name.removeprefix("model.layers.").split(".", 1)
            module = rest.removesuffix(".weight")
            target = f"blk.{layer}.{GGUF_NAMES[module]}.weight"
            if module in ("self_attn.q_proj", "self_attn.k_proj"):
                array = llama_cpp_permute(array, config.num_attention_heads)
        writer.add_tensor(target, np.ascontiguousarray(array, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_a_gguf_file_loads_into_the_model_it_was_written_from(tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    original_dir = build_tiny_llama(tmp_path / "llama")
    original = AutoModelForCausalLM.from_pretrained(original_dir).eval()
    original_tokenizer = AutoTokenizer.from_pretrained(original_dir)
    gguf_dir = tmp_path / "gguf"
    gguf_dir.mkdir()
    write_gguf(original, original_tokenizer, gguf_dir / "tiny.gguf")

    for settings in ({"name": str(gguf_dir), "gguf_file": "tiny.gguf"}, {"name": "ignored/hub-id", "gguf_file": str(gguf_dir / "tiny.gguf")}):
        model = ModelConfig(**settings)
        source = resolve_model_source(model)
        assert source == str(gguf_dir.resolve())
        tokenizer = load_tokenizer(source, model)
        ids = original_tokenizer("the movie was good", add_special_tokens=False)["input_ids"]
        assert tokenizer("the movie was good", add_special_tokens=False)["input_ids"] == ids
        assert tokenizer.chat_template == original_tokenizer.chat_template
        loaded = load_base_model(AutoModelForCausalLM, source, model, load_model_config(source, model)).eval()
        with torch.no_grad():
            expected = original(torch.tensor([ids])).logits
            assert torch.allclose(loaded(torch.tensor([ids])).logits, expected, atol=1e-4)
    loaded.save_pretrained(tmp_path / "saved")  # the GGUF quantizer is detached: a normal folder
    assert (tmp_path / "saved" / "model.safetensors").is_file()


def test_a_missing_gguf_file_is_a_one_line_error(tmp_path: Path) -> None:
    from workbench.errors import ModelError

    with pytest.raises(ModelError, match="GGUF file nope.gguf not found"):
        resolve_model_source(ModelConfig(name=str(tmp_path), gguf_file="nope.gguf"))
