"""What a task (text classification, token classification, text generation) provides to the trainer and tools."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..config import RunConfig


@dataclass
class Prepared:
    """A run's data, tokenised for the Trainer, with what the UI needs to explain it."""

    train: Any
    validation: Any
    test: Any | None
    raw_validation: Any
    raw_test: Any | None
    label_names: list[str]
    columns: dict[str, str | None]
    validation_from_train: bool
    label_counts: dict[str, int] = field(default_factory=dict)
    #: Task-specific facts for the `started` event (text generation: data_format, token_lengths, …).
    facts: dict[str, Any] = field(default_factory=dict)
    #: The training rows before tokenising (`text`, optional `text_pair`, `label`), for the
    #: label check after training; None for tasks without one.
    raw_train: Any | None = None


@dataclass
class EvalResult:
    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]]
    confusion_matrix: list[list[int]]
    labels: list[str]
    samples: list[dict[str, Any]]
    #: Every evaluated row, shaped like `samples` (kept in the run's predictions.jsonl); None
    #: for tasks that evaluate only a sample (text generation).
    predictions: list[dict[str, Any]] | None = None


class Task(Protocol):
    name: str
    auto_model: str  # the transformers Auto class, e.g. "AutoModelForSequenceClassification"
    peft_task_type: str  # peft TaskType value, e.g. "SEQ_CLS"
    main_metric: str  # the metric that ranks runs
    greater_is_better: bool  # False for a loss
    generates: bool  # evaluates by generating text (no logits are gathered; see tasks/generation.py)

    def load(self, config: RunConfig) -> tuple[Any, Any, dict[str, str | None]]:
        """(raw splits, the label/tag set with `.names`, the columns used), untokenised."""
        ...

    def prepare(self, config: RunConfig, tokenizer: Any) -> Prepared: ...

    def collator(self, tokenizer: Any) -> Any: ...

    def evaluate(self, logits: Any, labels: Any, raw: Any, label_names: list[str], num_samples: int) -> EvalResult: ...

    def predict(self, model: Any, tokenizer: Any, texts: list[str], max_length: int) -> list[dict[str, Any]]: ...

    def score(self, model: Any, tokenizer: Any, config: RunConfig, source: str, label_names: list[str], batch_size: int) -> EvalResult: ...
