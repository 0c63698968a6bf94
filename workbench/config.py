"""The run configuration: one pydantic model shared by presets, overrides and `config.toml`.

Key names are a public contract (`tlwb train PRESET --set training.epochs=2`), so renaming a
field breaks users' scripts. Every model forbids unknown keys; `presets.py` turns those errors
into one line with a did-you-mean.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TaskName = Literal["text-classification", "token-classification"]
MethodKind = Literal["full", "lora", "head"]

#: Learning rates that work out of the box for each method (LoRA and probes want larger steps).
DEFAULT_LEARNING_RATES: dict[str, float] = {"full": 3e-5, "lora": 5e-4, "head": 1e-3}


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
    group_by_length: bool = Field(
        default=False, description="length-grouped batches: faster, but can hurt accuracy"
    )
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    nproc: int = Field(default=1, ge=1, le=64)
    auto_batch: bool = False
    report_to: list[str] = Field(default_factory=list)
    num_samples: int = Field(default=64, ge=0, le=2000, description="predictions kept per eval")

    @field_validator("report_to", mode="before")
    @classmethod
    def _split_report_to(cls, value: object) -> object:
        return _split_commas(value)


class RunConfig(_Section):
    """Everything a run needs; `config.toml` in a run directory is exactly this, resolved."""

    task: TaskName = "text-classification"
    name: str | None = Field(default=None, description="short name used in run ids")
    description: str = ""
    model: ModelConfig
    data: DataConfig
    method: MethodConfig = Field(default_factory=MethodConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)

    @model_validator(mode="after")
    def _fill_defaults(self) -> "RunConfig":
        if self.training.learning_rate is None:
            self.training.learning_rate = DEFAULT_LEARNING_RATES[self.method.kind]
        if self.training.eval_strategy == "steps" and self.training.eval_steps is None:
            self.training.eval_steps = 50
        return self

    def short_name(self) -> str:
        """A filesystem-safe label for run ids: the preset name or data + method."""
        import re

        base = self.name or f"{_stem(self.data.train)}-{self.method.kind}"
        return re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-")[:40] or "run"


def _stem(source: str) -> str:
    from pathlib import PurePath

    path = PurePath(source.split(":")[0])
    if path.parent.name and path.stem in {"train", "data", "dataset"}:
        return path.parent.name
    return path.stem or path.name
