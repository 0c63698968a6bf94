"""Fast previews for the Setup screen: what a dataset holds and what a model costs, before training.

Both run in a worker thread (they import `datasets` / `torch`), and both reuse the code the
training process runs (`data.load_splits`, the task's column detection, `models.inspect_model`),
so what Setup shows is what training will do: same columns, same label names, same split sizes.
Errors are the core's `WorkbenchError`s, one line plus a hint.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .config import MethodKind, RunConfig
from .data import load_splits
from .errors import ModelError
from .models import ModelInfo, ParamCounts, default_lora_targets, estimate_memory_bytes, inspect_model
from .tasks import get_task

#: Characters of a cell shown in the preview table.
CELL_CHARS = 200

METHOD_KINDS: tuple[MethodKind, ...] = ("full", "lora", "head")

#: One preview at a time: `datasets` peeks at `transformers` when it is in `sys.modules`, and a
#: model preview importing it in another thread at that moment hands it a half-made module.
_ONE_AT_A_TIME = threading.Lock()


@dataclass
class DataPreview:
    """The first rows, detected columns, label distribution and split sizes of a run's data."""

    source: str
    columns: list[str]
    rows: list[dict[str, str]]
    text_column: str | None
    label_column: str | None
    text_pair_column: str | None = None
    #: Human label name (or entity type, for token classification) -> count in the rows that will
    #: really train (after `max_train_samples` and the held-out split).
    label_counts: dict[str, int] = field(default_factory=dict)
    #: The tag set, for token classification (`O`, `B-PER`, …); empty for text classification.
    tags: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    validation_from_train: bool = False
    total_rows: int = 0
    #: Text generation: the detected data format (`messages`, `alpaca`, …) and the columns it reads.
    chat_format: str | None = None
    chat_columns: dict[str, str] = field(default_factory=dict)

    @property
    def num_labels(self) -> int:
        """Output classes the model head will have (tags for token classification)."""
        return len(self.tags) if self.tags else len(self.label_counts)


def preview_data(config: RunConfig, max_rows: int = 8) -> DataPreview:
    """Load the run's data as training would and describe it; raises `DataError` on bad input."""
    with _ONE_AT_A_TIME:
        return _preview_data(config, max_rows)


#: The column the preview adds to classification splits: label ids, for the stratified split.
LABEL_IDS = "__tlwb_label__"


def _preview_data(config: RunConfig, max_rows: int) -> DataPreview:
    captured: dict[str, Any] = {}
    classify = config.task == "text-classification"

    def prepare(dataset: Any, role: str) -> Any:
        if role == "train":
            captured["raw"] = dataset
        return _with_label_ids(dataset, role, config, captured) if classify else dataset

    # The same subsampling and (stratified) held-out split as training, so the counts below are
    # those of the rows that will really train.
    splits = load_splits(config.data, config.task, config.training.seed, prepare, stratify_column=LABEL_IDS if classify else None)
    raw = captured["raw"]
    sizes = {"train": len(splits.train), "validation": len(splits.validation)}
    if splits.test is not None:
        sizes["test"] = len(splits.test)
    preview = DataPreview(
        source=config.data.train,
        columns=list(raw.column_names),
        rows=[_cells(raw[i]) for i in range(min(max_rows, len(raw)))],
        text_column=None,
        label_column=None,
        sizes=sizes,
        validation_from_train=splits.validation_from_train,
        total_rows=len(raw),
    )
    if config.task == "token-classification":
        _describe_tokens(preview, raw, splits.train, config)
    elif config.task == "text-generation":
        _describe_chat(preview, raw, config)
    else:
        _describe_labels(preview, splits.train, captured)
    return preview


def _with_label_ids(dataset: Any, role: str, config: RunConfig, state: dict[str, Any]) -> Any:
    """`dataset` with its labels encoded as training encodes them, in a `LABEL_IDS` column."""
    import datasets

    from .tasks.classification import LabelEncoder, detect_columns

    if "columns" not in state:
        state["columns"] = detect_columns(dataset, config.data)
    label = state["columns"][2]
    if label not in dataset.column_names:
        return dataset  # training says which split lacks it; the preview has nothing to count
    source = getattr(config.data, role) or config.data.train
    if role == "train":
        state["encoder"] = LabelEncoder.learn(dataset[label][:], config.data.label_names, source)
    encoder = state["encoder"]
    ids = encoder.encode(dataset[label][:], source)
    return dataset.add_column(LABEL_IDS, ids).cast_column(LABEL_IDS, datasets.ClassLabel(names=encoder.names))


def _describe_labels(preview: DataPreview, train: Any, state: dict[str, Any]) -> None:
    text, pair, label = state["columns"]
    names = state["encoder"].names
    counts = Counter(train[LABEL_IDS][:])
    preview.text_column, preview.text_pair_column, preview.label_column = text, pair, label
    preview.label_counts = {name: counts.get(i, 0) for i, name in enumerate(names)}


def _describe_tokens(preview: DataPreview, raw: Any, train: Any, config: RunConfig) -> None:
    """Word and tag columns, the tag set, and entity counts per type in the rows that train."""
    from .ner import lenient_spans, order_tags
    from .tasks.token_classification import read_tagged

    words, tags, _, (tokens_column, tags_column) = read_tagged(raw, config.data, config.data.train)
    preview.text_column, preview.label_column = tokens_column, tags_column
    preview.rows = [{tokens_column: " ".join(w), tags_column: " ".join(t)} for w, t in zip(words, tags[: len(preview.rows)])]
    preview.tags = order_tags({tag for sentence in tags for tag in sentence})
    _, train_tags, _, _ = read_tagged(train, config.data, config.data.train)
    entities = Counter(span.type for sentence in train_tags for span in lenient_spans(sentence))
    preview.label_counts = dict(entities.most_common())


def _describe_chat(preview: DataPreview, raw: Any, config: RunConfig) -> None:
    from .chat import detect_layout

    layout = detect_layout(raw, config.data)
    preview.chat_format, preview.chat_columns = layout.format, dict(layout.columns)
    first = next(iter(layout.columns.values()))
    preview.text_column = layout.columns.get("prompt") or layout.columns.get("instruction") or layout.columns.get("messages") or first
    preview.label_column = layout.columns.get("completion") or layout.columns.get("output")


@dataclass
class ChatPreview:
    """What Setup shows for text-generation data: the format, one example as training sees it
    (pieces of text, each trained or masked) and token lengths against `training.max_length`."""

    format: str
    columns: dict[str, str]
    template: str  # where the chat template comes from: tokenizer, chatml, override (none for plain text)
    example: list[tuple[str, bool]]
    stats: Any  # chat.LengthStats
    sizes: dict[str, int] = field(default_factory=dict)


def preview_chat(config: RunConfig, example_index: int = 0, max_rows: int = 5000) -> ChatPreview:
    """Tokenise the training rows (up to `max_rows`) with the model's tokenizer and chat template;
    one example rendered with its trained tokens. Loads only the tokenizer, never the weights."""
    with _ONE_AT_A_TIME:
        return _preview_chat(config, example_index, max_rows)


def _preview_chat(config: RunConfig, example_index: int, max_rows: int) -> ChatPreview:
    from . import chat
    from .models import load_tokenizer, resolve_model_source
    from .tasks.generation import TASK

    splits, layout, rows = TASK.examples(config)
    tokenizer = load_tokenizer(resolve_model_source(config.model), config.model)
    template = chat.ensure_chat_template(tokenizer, config.data) if layout.format != "text" else "none"
    training = config.training
    train_rows = rows["train"]
    stats = chat.length_stats(tokenizer, train_rows[:max_rows], max_length=training.max_length, train_on_prompt=training.train_on_prompt)
    example = chat.render_example(tokenizer, train_rows[min(example_index, len(train_rows) - 1)], max_length=training.max_length,
                                  train_on_prompt=training.train_on_prompt) if train_rows else []
    sizes = {split: len(items) for split, items in rows.items()}
    return ChatPreview(layout.format, dict(layout.columns), template, example, stats, sizes)


def _cells(row: dict[str, Any]) -> dict[str, str]:
    cells = {}
    for key, value in row.items():
        text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
        cells[key] = text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"
    return cells


@dataclass
class ModelPreview:
    """A model's shape and, per fine-tuning method, how much of it trains."""

    info: ModelInfo
    trainable: dict[str, ParamCounts]
    #: Why a method can't be used with this model (e.g. no LoRA targets known), per method.
    problems: dict[str, str] = field(default_factory=dict)
    lora_targets: list[str] | None = None

    def memory_bytes(self, method: str, batch_size: int, max_length: int) -> int | None:
        """Rough training memory for `method`; None when that method can't be used."""
        params = self.trainable.get(method)
        if params is None:
            return None
        return estimate_memory_bytes(params, batch_size, max_length, self.info.hidden_size, self.info.layers, method=method)


#: Rough training throughput, in FLOP/s, per kind of device: a few CPU cores, one mid-range GPU.
ROUGH_FLOPS = {"cpu": 1.5e11, "gpu": 1.5e13}
#: FLOPs per parameter and token: forward (2) plus backward (4 for full; LoRA and head skip most
#: weight gradients, so about 2).
FLOPS_PER_PARAM_TOKEN = {"full": 6, "lora": 4, "head": 2.5}


def estimate_training_seconds(train_rows: int, config: RunConfig, params_total: int, gpus: int = 0) -> float:
    """A rough training time from the data size, epochs (or max_steps), model size and device.

    Counts every row as `max_length` tokens (the upper bound) and assumes a typical throughput
    for the device kind; good to tell minutes from hours, no better. Evaluation is not counted.
    """
    training = config.training
    if training.max_steps:
        samples = training.max_steps * training.batch_size * training.gradient_accumulation_steps * max(1, training.nproc)
    else:
        samples = train_rows * training.epochs
    device = "cpu" if training.device == "cpu" or (gpus == 0 and training.device != "cuda") else "gpu"
    flops = FLOPS_PER_PARAM_TOKEN.get(config.method.kind, 6) * params_total * training.max_length * samples
    return flops / (ROUGH_FLOPS[device] * (max(1, min(gpus, training.nproc)) if device == "gpu" else 1))


def visible_gpus() -> int:
    """How many CUDA GPUs a run could train on (`training.nproc`); imports torch, so off the UI thread."""
    with _ONE_AT_A_TIME:  # a first `import torch` here must not overlap a preview's imports
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0


def preview_model(config: RunConfig, num_labels: int = 2) -> ModelPreview:
    """Inspect `config.model` on the meta device for every method (no weights are read).

    Raises `ModelError` when the model itself can't be resolved; a method that doesn't fit the
    model (LoRA targets that don't match) is reported in `problems` instead.
    """
    with _ONE_AT_A_TIME:
        return _preview_model(config, num_labels)


def _preview_model(config: RunConfig, num_labels: int) -> ModelPreview:
    task = get_task(config.task)
    trainable: dict[str, ParamCounts] = {}
    problems: dict[str, str] = {}
    info: ModelInfo | None = None
    # Full first: if the model can't be resolved at all, that error is raised as is.
    for kind in sorted(METHOD_KINDS, key=lambda k: k != "full"):
        if kind == "head" and task.generates:
            problems[kind] = "head does not apply to text generation (a decoder's head is its tied embedding)"
            continue
        method = config.method.model_copy(update={"kind": kind})
        try:
            inspected = inspect_model(config.model, method, task.auto_model, task.peft_task_type, max(2, num_labels))
        except ModelError as err:
            if info is None:
                raise
            problems[kind] = err.one_line()
            continue
        info = info or inspected
        trainable[kind] = inspected.params
    assert info is not None
    try:
        targets: list[str] | None = default_lora_targets(info.model_type)
    except ModelError:
        targets = None
    return ModelPreview(info=info, trainable=trainable, problems=problems, lora_targets=targets)
