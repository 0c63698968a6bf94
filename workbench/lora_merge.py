"""Fold a saved LoRA adapter into its base model's weights without peft, for one-off inference.

`tlwb predict` and `tlwb eval` load a run's model once and use it once: importing peft costs
seconds (more than the model itself for small encoders), and a peft-wrapped model runs the
adapter beside every target layer. A plain LoRA adapter is only `W += (alpha / r) · B @ A` for
each target Linear plus the trained head (`modules_to_save`), so it is applied here directly to
the base the caller loaded: one load, no peft, the same predictions (a test compares the logits).

Anything this doesn't know how to apply exactly (DoRA, rsLoRA patterns, LoRA on embeddings or
biases, pickled weights, conv layers …) gives None, and the caller loads the adapter with peft.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

PREFIX = "base_model.model."
WEIGHTS_FILE = "adapter_model.safetensors"


def merge_lora_adapter(model: Any, adapter_dir: Path) -> Any | None:
    """`model` (the base, already loaded, with the run's labels) with the adapter in
    `adapter_dir` folded into its weights; None when the adapter needs peft to load."""
    adapter_dir = Path(adapter_dir)
    config = _plain_lora_config(adapter_dir)
    if config is None or not (adapter_dir / WEIGHTS_FILE).is_file():
        return None
    from safetensors.torch import load_file

    weights = load_file(str(adapter_dir / WEIGHTS_FILE))
    plan = _plan(model, weights, config)
    if plan is None:
        return None
    _apply(model, plan)
    return model


def _plain_lora_config(adapter_dir: Path) -> dict[str, Any] | None:
    """The adapter's config when it is a LoRA this module applies exactly, else None."""
    try:
        config = json.loads((adapter_dir / "adapter_config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    plain = (
        config.get("peft_type") == "LORA"
        and not config.get("use_dora")
        and not config.get("fan_in_fan_out")
        and config.get("bias", "none") == "none"
        and not config.get("lora_bias")
        and not config.get("rank_pattern")
        and not config.get("alpha_pattern")
        and not config.get("layer_replication")
        and not config.get("trainable_token_indices")
        and not config.get("target_parameters")
        and isinstance(config.get("r"), int) and config["r"] > 0
        and isinstance(config.get("lora_alpha"), (int, float))
    )
    return config if plain else None


def _plan(model: Any, weights: dict[str, Any], config: dict[str, Any]) -> dict[str, Any] | None:
    """{"deltas": {module: (A, B)}, "params": {name: tensor}} or None when a key is unknown."""
    import torch

    scale = config["lora_alpha"] / (math.sqrt(config["r"]) if config.get("use_rslora") else config["r"])
    state = model.state_dict()
    pairs: dict[str, dict[str, Any]] = {}
    params: dict[str, Any] = {}
    for key, tensor in weights.items():
        if not key.startswith(PREFIX):
            return None
        name = key[len(PREFIX):]
        for part in ("lora_A", "lora_B"):
            if name.endswith(f".{part}.weight"):
                pairs.setdefault(name[: -len(f".{part}.weight")], {})[part] = tensor
                break
        else:
            if "lora_" in name or name not in state or state[name].shape != tensor.shape:
                return None
            params[name] = tensor
    deltas = {}
    for module_name, pair in pairs.items():
        try:
            module = model.get_submodule(module_name)
        except AttributeError:
            return None
        if not isinstance(module, torch.nn.Linear) or set(pair) != {"lora_A", "lora_B"}:
            return None
        delta = (pair["lora_B"].float() @ pair["lora_A"].float()) * scale
        if delta.shape != module.weight.shape:
            return None
        deltas[module_name] = delta
    return {"deltas": deltas, "params": params}


def _apply(model: Any, plan: dict[str, Any]) -> None:
    import torch

    with torch.no_grad():
        for module_name, delta in plan["deltas"].items():
            weight = model.get_submodule(module_name).weight
            weight.copy_((weight.float() + delta.to(weight.device)).to(weight.dtype))
        state = model.state_dict()
        for name, tensor in plan["params"].items():
            state[name].copy_(tensor.to(state[name].dtype))
