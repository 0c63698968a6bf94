"""The model card (README.md) of an exported run, in the form the Hugging Face Hub reads.

YAML front matter from `huggingface_hub.ModelCardData` (library_name, base_model, tags, datasets,
metrics, pipeline_tag and a `model-index` with the final metric values), then a body stating the
base model, the data, the method, the hyperparameters, the results and how to load the export.
Local paths never appear: a local model or data file is named by its file or folder name.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from . import __version__, humanize
from .data import is_local, split_hub_source

#: Keys of a metrics dict that are not quality metrics.
NOT_METRICS = frozenset({"n", "loss", "runtime", "samples_per_second", "steps_per_second", "epoch"})
#: Hub metric ids for our metric names.
METRIC_TYPES = {"macro_f1": "f1", "micro_f1": "f1", "weighted_f1": "f1"}
METHOD_NAMES = {"full": "full fine-tuning", "lora": "LoRA (peft)", "head": "head-only training (frozen encoder)"}

#: How an export is laid out: a plain transformers model, or a peft adapter beside its base.
EXPORT_KINDS = ("model", "merged", "adapter")


def hub_model_id(name: str) -> str | None:
    """`org/name` when `model.name` is a hub id; None for a local directory."""
    return None if is_local(name) or Path(name).expanduser().is_dir() else name


def hub_dataset_id(source: str) -> str | None:
    return None if is_local(source) else split_hub_source(source, "train")[0]


def public_name(source: str) -> str:
    """A hub id as is; a local path by its last part (no home directories on the Hub)."""
    return source if not is_local(source) else Path(source.split("::")[0]).name


def quality_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Numeric quality metrics by name (`test_`-prefixed ones included), without counts, losses, speeds."""
    found = {}
    for key, value in metrics.items():
        bare = key.removeprefix("test_")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and bare not in NOT_METRICS:
            found[key] = float(value)
    return found


def front_matter(details: dict[str, Any], kind: str) -> Any:
    from huggingface_hub import EvalResult, ModelCardData

    config = details["config"]
    task = config["task"]
    base = hub_model_id(config["model"]["name"])
    dataset = hub_dataset_id(config["data"]["train"])
    metrics = quality_metrics(details["metrics"])
    results = []
    for key, value in metrics.items():
        split = "test" if key.startswith("test_") else "validation"
        bare = key.removeprefix("test_")
        results.append(
            EvalResult(
                task_type=task,
                dataset_type=dataset or "local",
                dataset_name=dataset or public_name(config["data"]["train"]),
                dataset_split=split,
                metric_type=METRIC_TYPES.get(bare, bare),
                metric_name=bare,
                metric_value=round(value, 4),
            )
        )
    return ModelCardData(
        library_name="peft" if kind == "adapter" else "transformers",
        base_model=base,
        tags=["tlwb", task, config["method"]["kind"]] + (["merged"] if kind == "merged" else []),
        datasets=[dataset] if dataset else None,
        metrics=sorted({METRIC_TYPES.get(k.removeprefix("test_"), k.removeprefix("test_")) for k in metrics}) or None,
        pipeline_tag=task,
        model_name=details["id"],
        eval_results=results or None,
    )


def render(details: dict[str, Any], kind: str, model_ref: str) -> str:
    """README.md for an export of kind `kind` (see EXPORT_KINDS) loadable as `model_ref`."""
    body = "\n\n".join(
        [
            _overview(details, kind),
            _data(details),
            _method(details, kind),
            _hyperparameters(details),
            _results(details),
            _usage(details, kind, model_ref),
            _provenance(details),
        ]
    )
    return f"---\n{front_matter(details, kind).to_yaml()}\n---\n\n{body}\n"


def _overview(details: dict[str, Any], kind: str) -> str:
    config = details["config"]
    name = config["model"]["name"]
    base = f"[{name}](https://huggingface.co/{name})" if hub_model_id(name) else f"a local model (`{public_name(name)}`)"
    layout = {
        "model": "a complete transformers model",
        "merged": "a complete transformers model (the LoRA adapter merged into the base weights)",
        "adapter": "a peft LoRA adapter: load it on top of the base model",
    }[kind]
    note = _weights_note(details)
    caveat = f"\n\nBase weights: {note}; expect small differences from the hub model's." if note else ""
    return (
        f"# {details['id']}\n\n{config['task'].capitalize()} model fine-tuned from {base} with "
        f"{METHOD_NAMES[config['method']['kind']]}, trained with [tlwb](https://pypi.org/project/tlwb/). "
        f"This folder holds {layout}.{caveat}"
    )


def _data(details: dict[str, Any]) -> str:
    config, started = details["config"], details.get("started") or {}
    data = config["data"]
    lines = ["## Training data", "", f"- train: `{public_name(data['train'])}`"]
    for split in ("validation", "test"):
        if data.get(split):
            lines.append(f"- {split}: `{public_name(data[split])}`")
    if started.get("validation_from_train"):
        lines.append(f"- validation: {data['validation_split']:.0%} held out of the training data")
    sizes = [f"{started[f'{s}_size']:,} {s}" for s in ("train", "validation", "test") if started.get(f"{s}_size")]
    if sizes:
        lines.append(f"- examples: {', '.join(sizes)}")
    labels = details.get("labels") or started.get("labels") or []
    if labels:
        counts = started.get("label_counts") or {}
        lines.append("- labels: " + ", ".join(f"`{label}`" + (f" ({counts[label]:,})" if label in counts else "") for label in labels))
    return "\n".join(lines)


def _method(details: dict[str, Any], kind: str) -> str:
    method, started = details["config"]["method"], details.get("started") or {}
    lines = ["## Method", "", f"- {METHOD_NAMES[method['kind']]}"]
    if method["kind"] == "lora":
        targets = ", ".join(method.get("target_modules") or []) or "chosen for the architecture"
        lines.append(f"- LoRA rank {method['r']}, alpha {method['alpha']:g}, dropout {method['dropout']:g}, target modules: {targets}")
        if kind == "merged":
            lines.append("- the adapter was merged into the base weights for this export (`merge_and_unload`)")
    if started.get("params_trainable") is not None and started.get("params_total"):
        share = started["params_trainable"] / started["params_total"]
        lines.append(f"- trainable parameters: {started['params_trainable']:,} of {started['params_total']:,} ({share:.2%})")
    return "\n".join(lines)


def _hyperparameters(details: dict[str, Any]) -> str:
    training, started = details["config"]["training"], details.get("started") or {}
    rows = [
        ("epochs", training["epochs"]),
        ("max steps", training.get("max_steps")),
        ("batch size per process", training["batch_size"]),
        ("processes", training.get("nproc", 1)),
        ("gradient accumulation steps", training["gradient_accumulation_steps"]),
        ("effective batch size", started.get("effective_batch_size")),
        ("learning rate", training["learning_rate"]),
        ("weight decay", training["weight_decay"]),
        ("warmup ratio", training["warmup_ratio"]),
        ("max length (tokens)", training["max_length"]),
        ("seed", training["seed"]),
        ("precision", started.get("precision") or training["precision"]),
        ("device", started.get("device")),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows if value is not None)
    return f"## Hyperparameters\n\n| setting | value |\n|---|---|\n{table}"


def _results(details: dict[str, Any]) -> str:
    metrics = quality_metrics(details["metrics"])
    if not metrics:
        return "## Results\n\nNo final metrics were recorded."
    table = "\n".join(
        f"| {'test' if k.startswith('test_') else 'validation'} | {k.removeprefix('test_')} | {v:.4f} |" for k, v in metrics.items()
    )
    return f"## Results\n\n| split | metric | value |\n|---|---|---|\n{table}"


def _usage(details: dict[str, Any], kind: str, model_ref: str) -> str:
    task = details["config"]["task"]
    if task == "text-generation":
        return _generation_usage(details, kind, model_ref)
    if kind != "adapter":
        extra = ', aggregation_strategy="simple"' if task == "token-classification" else ""
        code = f'from transformers import pipeline\n\nclassifier = pipeline("{task}", model="{model_ref}"{extra})\nprint(classifier("{_example(task)}"))'
        return f"## How to use\n\n```python\n{code}\n```"
    from .tasks import get_task

    labels = details.get("labels") or []
    peft_class = get_task(task).auto_model.replace("AutoModel", "AutoPeftModel")
    id2label = "{" + ", ".join(f"{i}: {label!r}" for i, label in enumerate(labels)) + "}"
    label2id = "{" + ", ".join(f"{label!r}: {i}" for i, label in enumerate(labels)) + "}"
    code = (
        f"from peft import {peft_class}\nfrom transformers import AutoTokenizer, pipeline\n\n"
        f'model = {peft_class}.from_pretrained(\n    "{model_ref}",\n    num_labels={len(labels)},\n'
        f"    id2label={id2label},\n    label2id={label2id},\n)\n"
        f'tokenizer = AutoTokenizer.from_pretrained("{model_ref}")\n'
        f'classifier = pipeline("{task}", model=model.merge_and_unload(), tokenizer=tokenizer)\n'
        f'print(classifier("{_example(task)}"))'
    )
    base = details["config"]["model"]["name"]
    return (
        f"## How to use\n\nThis is an adapter: peft downloads the base model named in `adapter_config.json` "
        f"(`{public_name(base)}`) and applies it. The label names are not stored in the adapter, so pass them:\n\n"
        f"```python\n{code}\n```"
    )


def _generation_usage(details: dict[str, Any], kind: str, model_ref: str) -> str:
    """A causal LM answers a chat turn through the chat template its tokenizer carries."""
    prompt = 'messages = [{"role": "user", "content": "What is the capital of France?"}]'
    if kind != "adapter":
        code = (
            f'from transformers import pipeline\n\ngenerator = pipeline("text-generation", model="{model_ref}")\n'
            f"{prompt}\nprint(generator(messages, max_new_tokens=64, do_sample=False)[0][\"generated_text\"][-1][\"content\"])"
        )
        return f"## How to use\n\nThe tokenizer carries the chat template the model was trained with.\n\n```python\n{code}\n```"
    code = (
        f"from peft import AutoPeftModelForCausalLM\nfrom transformers import AutoTokenizer, pipeline\n\n"
        f'model = AutoPeftModelForCausalLM.from_pretrained("{model_ref}")\n'
        f'tokenizer = AutoTokenizer.from_pretrained("{model_ref}")\n'
        f'generator = pipeline("text-generation", model=model.merge_and_unload(), tokenizer=tokenizer)\n'
        f"{prompt}\nprint(generator(messages, max_new_tokens=64, do_sample=False)[0][\"generated_text\"][-1][\"content\"])"
    )
    base = details["config"]["model"]["name"]
    return (
        f"## How to use\n\nThis is an adapter: peft loads the base model named in `adapter_config.json` "
        f"(`{public_name(base)}`) and applies it; the tokenizer here carries the chat template it was trained with.\n\n"
        f"```python\n{code}\n```"
    )


def _weights_note(details: dict[str, Any]) -> str | None:
    """For a base model a package ships as GGUF (SmolLM2): the weights are its dequantised ones."""
    from .packaged_models import lookup

    entry = lookup(details["config"]["model"]["name"])
    return entry.weights_note if entry is not None else None


def _example(task: str) -> str:
    return "Angela Merkel visited Paris." if task == "token-classification" else "a gripping, beautifully made film"


def _provenance(details: dict[str, Any]) -> str:
    final = details.get("final") or {}
    when = dt.datetime.fromtimestamp(final["time"]).strftime("%Y-%m-%d") if final.get("time") else "unknown"
    seconds = details.get("training_seconds")  # RunHistory's one definition (all training segments)
    duration = humanize.duration(seconds if seconds is not None else final.get("duration_s"))
    return f"## Provenance\n\ntlwb {__version__} run `{details['id']}`, finished {when}, training took {duration}."
