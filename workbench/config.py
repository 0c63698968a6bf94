"""The run configuration: one pydantic model shared by presets, overrides and `config.toml`.

Key names are a public contract (`tlwb train PRESET --set training.epochs=2`), so renaming a
field breaks users' scripts. Every model forbids unknown keys; `presets.py` turns those errors
into one line with a did-you-mean.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TaskName = Literal["text-classification", "token-classification", "text-generation"]
MethodKind = Literal["full", "lora", "head"]
ChatFormat = Literal["auto", "text", "prompt_completion", "alpaca", "sharegpt", "messages"]

#: Learning rates that work out of the box for each method (LoRA and probes want larger steps).
DEFAULT_LEARNING_RATES: dict[str, float] = {"full": 3e-5, "lora": 5e-4, "head": 1e-3}
#: Supervised fine-tuning of decoders wants smaller steps (the usual SFT recipes: 2e-5 / 2e-4).
GENERATION_LEARNING_RATES: dict[str, float] = {"full": 2e-5, "lora": 2e-4}
#: `training.max_length` when a text-generation config leaves it unset (prompt + answer fit).
GENERATION_MAX_LENGTH = 512


#: How training rows are put into batches (`training.batching`; see workbench/trainer/batching.py).
Batching = Literal["random", "length_buckets", "group_by_length"]
#: `training.batching` when a config leaves it unset, per task. Length buckets were measured to keep
#: text classification's accuracy (4 seeds × full/LoRA × SST-2/AG News, README); the other tasks
#: keep the Trainer's order until they are measured too.
DEFAULT_BATCHING: dict[str, Batching] = {"text-classification": "length_buckets"}
#: Said before a run with `training.batching = "group_by_length"` (CLI, Setup and the run's log).
GROUP_BY_LENGTH_WARNING = ("training.batching = \"group_by_length\" is on: faster, but it has collapsed small runs"
                           " to the majority class; \"length_buckets\" also batches similar lengths, with the labels mixed")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _split_commas(value: object) -> object:
    """Accept `a,b` as well as `["a", "b"]` for list fields set from the command line."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class ModelConfig(_Section):
    name: str = Field(description="hub id (org/name) or a local model directory")
    revision: str | None = Field(default=None, description="hub branch, tag or commit")
    trust_remote_code: bool = Field(
        default=False, description="run the model repository's own Python code (off unless set)"
    )
    gguf_file: str | None = Field(
        default=None,
        description="a GGUF weights file: its name inside the model.name folder, or a path to the file",
    )

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a hub id or a local model directory")
        return value.strip()


class DataConfig(_Section):
    train: str = Field(description="hub dataset id (optionally id:split) or a local file")
    validation: str | None = Field(default=None, description="held-out file or hub split")
    test: str | None = Field(default=None, description="test file or hub split, scored at the end")
    subset: str | None = Field(default=None, description="hub dataset configuration name")
    format: Literal["auto", "csv", "tsv", "json", "jsonl", "parquet", "conll", "lines"] = "auto"
    delimiter: str | None = Field(default=None, description="column separator for csv/tsv text")
    header: bool = Field(default=True, description="false when a csv/tsv file has no header row")
    encoding: str | None = Field(default=None, description="file encoding, e.g. cp1252")
    text_column: str | None = None
    text_pair_column: str | None = None
    label_column: str | None = None
    label_names: list[str] | None = Field(
        default=None, description="human names for integer labels 0..K-1, e.g. [\"negative\", \"positive\"]"
    )
    tokens_column: str | None = Field(default=None, description="token-classification: the list-of-words column")
    tags_column: str | None = Field(default=None, description="token-classification: the list-of-tags column")
    tag_scheme: Literal["auto", "IOB1", "IOB2", "BIOES"] = Field(
        default="auto", description="token-classification tag scheme; auto-detected from the training tags"
    )
    max_train_samples: int | None = Field(default=None, gt=0)
    max_eval_samples: int | None = Field(default=None, gt=0)
    validation_split: float = Field(
        default=0.1, gt=0, lt=0.9, description="fraction held out when there is no validation set"
    )
    chat_format: ChatFormat = Field(
        default="auto", description="text-generation data layout; detected from the columns when auto"
    )
    prompt_column: str | None = Field(default=None, description="prompt_completion: the prompt column")
    completion_column: str | None = Field(default=None, description="prompt_completion: the answer column")
    messages_column: str | None = Field(
        default=None, description="messages/sharegpt: the column holding the list of turns"
    )
    instruction_column: str | None = Field(default=None, description="alpaca: the instruction column")
    input_column: str | None = Field(default=None, description="alpaca: the optional input column")
    output_column: str | None = Field(default=None, description="alpaca: the answer column")
    system_column: str | None = Field(default=None, description="an optional system-prompt column")
    chat_template: str | None = Field(
        default=None, description="a Jinja chat template (file path or inline); data, never executed as Python"
    )

    @field_validator("label_names", mode="before")
    @classmethod
    def _split_label_names(cls, value: object) -> object:
        return _split_commas(value)


class MethodConfig(_Section):
    kind: MethodKind = "lora"
    r: int = Field(default=8, ge=1, le=1024)
    alpha: float = Field(default=16, gt=0)
    dropout: float = Field(default=0.1, ge=0, lt=1)
    target_modules: list[str] | None = Field(
        default=None, description="LoRA target modules; chosen per architecture when unset"
    )

    @field_validator("target_modules", mode="before")
    @classmethod
    def _split_targets(cls, value: object) -> object:
        return _split_commas(value)

    use_dora: bool = Field(default=False, description="LoRA: weight-decomposed adapters (DoRA)")
    quantize: Literal["none", "4bit"] = Field(
        default="none", description="4bit: QLoRA (bitsandbytes, CUDA only)"
    )


class GenerationConfig(_Section):
    """How text is generated at evaluation, by `tlwb predict` and in the playground."""

    max_new_tokens: int = Field(default=64, ge=1, le=8192)
    temperature: float = Field(default=0.0, ge=0, le=5, description="0 is greedy decoding")
    top_p: float = Field(default=1.0, gt=0, le=1)


class TrainingConfig(_Section):
    epochs: float = Field(default=3, gt=0, le=1000)
    max_steps: int | None = Field(default=None, gt=0, description="stop after this many steps")
    batch_size: int = Field(default=16, ge=1, le=65536)
    eval_batch_size: int | None = Field(default=None, ge=1)
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    learning_rate: float | None = Field(default=None, gt=0, lt=1)
    weight_decay: float = Field(default=0.01, ge=0)
    warmup_ratio: float = Field(default=0.06, ge=0, lt=1)
    max_length: int = Field(default=128, ge=8, le=131072)
    seed: int = Field(default=42, ge=0)
    eval_strategy: Literal["epoch", "steps", "no"] = "epoch"
    eval_steps: int | None = Field(default=None, gt=0)
    logging_steps: int | None = Field(default=None, ge=1, description="steps per progress event; auto when unset")
    save_steps: int | None = Field(default=None, gt=0, description="checkpoint interval in steps")
    save_minutes: float = Field(
        default=10, gt=0, description="without save_steps: checkpoint when this much training time has passed"
    )
    save_total_limit: int = Field(default=2, ge=1)
    batching: Batching = Field(
        default="random",
        description="length_buckets (text-classification's default): rows of similar length per batch, labels mixed,"
        " batches shuffled (fewer padded tokens); random (the other tasks' default); group_by_length: the Trainer's"
        " own grouping (can hurt accuracy)",
    )
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    gradient_checkpointing: bool = Field(
        default=False, description="recompute activations in the backward pass: less memory (MiniLM batch 32: 2.18 → 1.56 GiB), slower steps"
    )
    fsdp: str = Field(
        default="", description="FSDP sharding as TrainingArguments takes it, e.g. \"full_shard auto_wrap\" (multi-process runs)"
    )
    fsdp_config: dict[str, Any] | None = Field(
        default=None, description="FSDP options passed to TrainingArguments.fsdp_config, e.g. {min_num_params = 1000000}"
    )
    deepspeed: str | None = Field(default=None, description="a DeepSpeed JSON config file (multi-process runs; needs deepspeed)")
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    nproc: int = Field(default=1, ge=1, le=64)
    auto_batch: bool = False
    report_to: list[str] = Field(default_factory=list)
    num_samples: int = Field(default=64, ge=0, le=2000, description="predictions kept per eval")
    train_on_prompt: bool = Field(
        default=False, description="text-generation: loss on every token, not only the answers"
    )
    packing: bool = Field(
        default=False, description="text-generation: several rows per sequence, without padding"
    )

    @field_validator("report_to", mode="before")
    @classmethod
    def _split_report_to(cls, value: object) -> object:
        return _split_commas(value)

    @model_validator(mode="before")
    @classmethod
    def _group_by_length_is_a_batching(cls, values: object) -> object:
        """Presets and runs from before `batching` say `group_by_length = true/false`."""
        if isinstance(values, dict) and "group_by_length" in values:
            values = dict(values)
            # Explicit either way, so a run of that format resumes in the order it trained in.
            values.setdefault("batching", "group_by_length" if values.pop("group_by_length") is True else "random")
        return values


class RunConfig(_Section):
    """Everything a run needs; `config.toml` in a run directory is exactly this, resolved."""

    task: TaskName = "text-classification"
    name: str | None = Field(default=None, description="short name used in run ids")
    description: str = ""
    model: ModelConfig
    data: DataConfig
    method: MethodConfig = Field(default_factory=MethodConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)

    @model_validator(mode="after")
    def _fill_defaults(self) -> "RunConfig":
        generating = self.task == "text-generation"
        _check_method_fits_task(self)
        if generating and "max_length" not in self.training.model_fields_set:
            self.training.max_length = GENERATION_MAX_LENGTH
        if self.training.learning_rate is None:
            self.training.learning_rate = default_learning_rate(self.task, self.method.kind)
        if "batching" not in self.training.model_fields_set and self.task in DEFAULT_BATCHING:
            self.training.batching = DEFAULT_BATCHING[self.task]
        if self.training.eval_strategy == "steps" and self.training.eval_steps is None:
            self.training.eval_steps = 50
        return self

    def short_name(self) -> str:
        """A filesystem-safe label for run ids: the preset name or data + method."""
        import re

        base = self.name or f"{_stem(self.data.train)}-{self.method.kind}"
        return re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-")[:40] or "run"


def default_learning_rate(task: str, method: str) -> float | None:
    """The learning rate a run of `task` with `method` gets when none is set (None for a method
    the task doesn't train with)."""
    rates = GENERATION_LEARNING_RATES if task == "text-generation" else DEFAULT_LEARNING_RATES
    return rates.get(method)


def _check_method_fits_task(config: RunConfig) -> None:
    """Cross-field rules, raised as ConfigError (pydantic passes it through unwrapped, so the
    message and hint stay ours instead of a generic 'value error')."""
    from .errors import ConfigError

    method, generating = config.method, config.task == "text-generation"
    if generating and method.kind == "head":
        raise ConfigError(
            "method.kind 'head' does not apply to task text-generation (a decoder's head is its tied embedding)",
            "set method.kind = \"lora\" or \"full\"",
        )
    if method.quantize != "none" and method.kind != "lora":
        raise ConfigError("method.quantize = \"4bit\" is QLoRA: it needs method.kind = \"lora\"", "set method.kind = \"lora\" or method.quantize = \"none\"")
    if method.use_dora and method.kind != "lora":
        raise ConfigError("method.use_dora needs method.kind = \"lora\"", "set method.kind = \"lora\" or method.use_dora = false")
    if not generating:
        for key, value in (("training.packing", config.training.packing), ("training.train_on_prompt", config.training.train_on_prompt), ("data.chat_template", config.data.chat_template), ("model.gguf_file", config.model.gguf_file)):
            if value:
                raise ConfigError(f"{key} applies to task text-generation only", f"set task = \"text-generation\" or remove {key}")


def _stem(source: str) -> str:
    from pathlib import PurePath

    path = PurePath(source.split(":")[0])
    if path.parent.name and path.stem in {"train", "data", "dataset"}:
        return path.parent.name
    return path.stem or path.name
