"""Text classification (single sentences or pairs): columns, labels, tokenising, metrics."""

from __future__ import annotations

import math
import random
from typing import Any

from ..config import DataConfig, RunConfig
from ..data import check_label_cells, load_source, load_splits
from ..errors import DataError
from ..metrics import classification_report
from .base import EvalResult, Prepared

#: Texts per forward pass in `predict` (the pipeline's batch in benchmarks/predict_throughput.py).
PREDICT_BATCH = 32

TEXT_NAMES = ("text", "sentence", "sentence1", "review", "content", "question", "question1", "premise", "document", "tweet", "comment", "body", "title")
PAIR_NAMES = ("sentence2", "text_pair", "question2", "hypothesis", "text2")
LABEL_NAMES = ("label", "labels", "label_name", "class", "category", "target", "sentiment", "y", "coarse_label")

#: Longest text kept in a sample event (the detail view shows it whole up to this).
SAMPLE_TEXT_CHARS = 600


def _is_texty(dataset: Any, column: str) -> bool:
    feature = dataset.features[column]
    return getattr(feature, "dtype", None) in {"string", "large_string"}


def detect_columns(dataset: Any, data: DataConfig) -> tuple[str, str | None, str]:
    """(text, text pair or None, label), from the config or guessed from names and types."""
    columns = list(dataset.column_names)

    def check(name: str | None, key: str) -> str | None:
        if name is not None and name not in columns:
            raise DataError(
                f"column '{name}' (data.{key}) is not in the data; columns are: {', '.join(columns)}",
                f"set data.{key} to one of those",
            )
        return name

    label = check(data.label_column, "label_column")
    text = check(data.text_column, "text_column")
    pair = check(data.text_pair_column, "text_pair_column")
    if label is None:
        label = next((c for c in columns if c.lower() in LABEL_NAMES), None)
        if label is None:
            label = _guess_label(dataset, columns)
    if text is None:
        candidates = [c for c in columns if c != label and _is_texty(dataset, c)]
        named = [c for c in candidates if c.lower() in TEXT_NAMES]
        if named:
            text = named[0]
        elif candidates:
            sample = dataset.select(range(min(200, len(dataset))))
            text = max(candidates, key=lambda c: sum(len(str(v or "")) for v in sample[c]))
        else:
            raise DataError(f"no text column found among: {', '.join(columns)}", "set data.text_column")
    if pair is None and data.text_column is None:
        pair = next((c for c in columns if c.lower() in PAIR_NAMES and c not in (text, label)), None)
    return text, pair, label


def _guess_label(dataset: Any, columns: list[str]) -> str:
    sample = dataset.select(range(min(2000, len(dataset))))
    best = None
    for column in columns:
        values = sample[column]
        distinct = len(set(map(str, values)))
        if 2 <= distinct <= max(2, min(100, len(values) // 5)):
            if best is None or distinct < best[1]:
                best = (column, distinct)
    if best is None:
        raise DataError(f"no label column found among: {', '.join(columns)}", "set data.label_column")
    return best[0]


class LabelEncoder:
    """Maps raw label values to ids; learned on the training split, applied to the others."""

    def __init__(self, values: list[Any], names: list[str]) -> None:
        self.values = values
        self.names = names
        self._index = {str(v): i for i, v in enumerate(values)}
        self._index.update({name: i for i, name in enumerate(names)})

    @classmethod
    def learn(cls, raw: list[Any], configured_names: list[str] | None, source: str) -> "LabelEncoder":
        _check_missing(raw, source)
        distinct = sorted(set(raw), key=lambda v: (not isinstance(v, (int, float)), v if isinstance(v, (int, float)) else str(v)))
        if len(distinct) < 2:
            raise DataError(
                f"the labels in {source} have a single class ({distinct[0]!r}); a classifier needs at least 2",
                "check data.label_column, or use a file with more than one class",
            )
        if configured_names:
            if all(isinstance(v, int) for v in distinct) and len(configured_names) > max(distinct) >= 0 and min(distinct) >= 0:
                distinct = list(range(len(configured_names)))
            if len(configured_names) != len(distinct):
                raise DataError(
                    f"data.label_names has {len(configured_names)} names but the data has {len(distinct)} classes",
                    "give one name per class, in id order",
                )
            return cls(distinct, list(configured_names))
        return cls(distinct, [str(v) for v in distinct])

    def encode(self, raw: list[Any], source: str) -> list[int]:
        _check_missing(raw, source)
        ids = []
        for row, value in enumerate(raw):
            try:
                ids.append(self._index[str(value)])
            except KeyError:
                raise DataError(
                    f"label {value!r} in {source} (row {row + 1}) is not one of the training labels: {', '.join(self.names)}",
                    "use the same label set as the training data",
                ) from None
        return ids


def _check_missing(raw: list[Any], source: str) -> None:
    bad = [i for i, v in enumerate(raw) if v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())]
    if bad:
        raise DataError(
            f"{len(bad)} rows of {source} have an empty or NaN label (first at row {bad[0] + 1})",
            "drop or fix those rows, or check data.label_column",
        )


class TextClassification:
    name = "text-classification"
    auto_model = "AutoModelForSequenceClassification"
    peft_task_type = "SEQ_CLS"
    main_metric = "accuracy"
    greater_is_better = True
    generates = False

    def load(self, config: RunConfig) -> tuple[Any, LabelEncoder, dict[str, str | None]]:
        """Raw splits with an integer `label` column and the text columns detected."""
        state: dict[str, Any] = {}

        def prepare(dataset: Any, role: str) -> Any:
            if "columns" not in state:
                state["columns"] = detect_columns(dataset, config.data)
            text, pair, label = state["columns"]
            missing = [c for c in (text, pair, label) if c and c not in dataset.column_names]
            if missing:
                raise DataError(f"the {role} data has no column '{missing[0]}'", "give every split the same columns")
            source = getattr(config.data, role) or config.data.train
            raw = dataset[label][:]  # a list: iterating a datasets Column decodes row by row (~30x slower)
            check_label_cells(raw, source, label)
            if role == "train":
                state["encoder"] = LabelEncoder.learn(raw, config.data.label_names, source)
            ids = state["encoder"].encode(raw, source)
            return _with_labels(dataset, text, pair, ids, state["encoder"].names)

        splits = load_splits(config.data, self.name, config.training.seed, prepare, stratify_column="label")
        text, pair, label = state["columns"]
        return splits, state["encoder"], {"text": text, "text_pair": pair, "label": label}

    def prepare(self, config: RunConfig, tokenizer: Any) -> Prepared:
        splits, encoder, columns = self.load(config)
        max_length = config.training.max_length

        def tokenize(dataset: Any) -> Any:
            return _tokenize(dataset, tokenizer, max_length)

        counts: dict[str, int] = {name: 0 for name in encoder.names}
        for label in splits.train["label"][:]:
            counts[encoder.names[label]] += 1
        return Prepared(
            train=tokenize(splits.train),
            validation=tokenize(splits.validation),
            test=tokenize(splits.test) if splits.test is not None else None,
            raw_validation=splits.validation,
            raw_test=splits.test,
            label_names=encoder.names,
            columns=columns | {"label_values": [str(v) for v in encoder.values]},  # type: ignore[dict-item]
            validation_from_train=splits.validation_from_train,
            label_counts=counts,
            raw_train=splits.train,
        )

    def collator(self, tokenizer: Any) -> Any:
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(tokenizer)

    def evaluate(self, logits: Any, labels: Any, raw: Any, label_names: list[str], num_samples: int) -> EvalResult:
        import numpy as np

        probs = _softmax(np.asarray(logits))
        pred = probs.argmax(-1)
        gold = np.asarray(labels)
        report = classification_report(gold.tolist(), pred.tolist(), label_names)
        rows = [
            {
                "index": i,
                "text": _sample_text(raw[i]),
                "gold": label_names[int(gold[i])],
                "pred": label_names[int(pred[i])],
                "confidence": round(float(probs[i, pred[i]]), 4),
                "probs": {name: round(float(p), 4) for name, p in zip(label_names, probs[i])},
            }
            for i in range(len(gold))
        ]
        rng = random.Random(0)
        indices = sorted(rng.sample(range(len(gold)), min(num_samples, len(gold))))
        samples = [rows[i] for i in indices]
        return EvalResult(report["metrics"], report["per_class"], report["confusion_matrix"], label_names, samples, predictions=rows)

    def predict(self, model: Any, tokenizer: Any, texts: list[str], max_length: int) -> list[dict[str, Any]]:
        """Labels and class probabilities, in the order of `texts`. The texts are tokenised in one
        call, then batched by token count: each batch pads only to its own longest row."""
        import torch

        if not texts:
            return []
        names = _id2label(model)
        results: list[dict[str, Any]] = [{} for _ in texts]
        model.eval()
        device = next(model.parameters()).device
        encoded = tokenizer(texts, truncation=True, max_length=max_length)
        columns = [key for key in ("input_ids", "attention_mask", "token_type_ids") if key in encoded]
        collate = self.collator(tokenizer)
        order = length_order([len(ids) for ids in encoded["input_ids"]])
        for start in range(0, len(order), PREDICT_BATCH):
            indices = order[start : start + PREDICT_BATCH]
            batch = collate([{key: encoded[key][i] for key in columns} for i in indices])
            with torch.inference_mode():
                probs = torch.softmax(model(**{k: v.to(device) for k, v in batch.items()}).logits.float(), dim=-1).cpu().tolist()
            for index, row in zip(indices, probs):
                best = max(range(len(row)), key=row.__getitem__)
                results[index] = {
                    "text": texts[index],
                    "label": names[best],
                    "confidence": round(row[best], 4),
                    "probs": {names[i]: round(p, 4) for i, p in enumerate(row)},
                }
        return results

    def score(self, model: Any, tokenizer: Any, config: RunConfig, source: str, label_values: list[str], batch_size: int) -> EvalResult:
        """Evaluate a trained model on any labelled file with the run's columns and label set."""
        import numpy as np
        import torch

        names = _id2label(model)
        dataset = load_source(source, config.data, self.name, "test")
        text, pair, label = detect_columns(dataset, config.data)
        encoder = LabelEncoder(label_values, names)
        dataset = _with_labels(dataset, text, pair, encoder.encode(dataset[label][:], source), names)
        encoded = _tokenize(dataset, tokenizer, config.training.max_length)
        collate = self.collator(tokenizer)
        device = next(model.parameters()).device
        model.eval()
        logits = np.zeros((len(encoded), len(names)), dtype=np.float32)
        order = length_order([len(ids) for ids in encoded["input_ids"]])  # results go back to file order
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            rows = [encoded[i] for i in indices]
            batch = collate([{k: r[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in r} for r in rows])
            with torch.no_grad():
                logits[indices] = model(**{k: v.to(device) for k, v in batch.items()}).logits.float().cpu().numpy()
        return self.evaluate(logits, encoded["labels"], dataset, names, 20)


def length_order(lengths: list[int]) -> list[int]:
    """Row indices from the shortest row to the longest (stable): batches of similar lengths pad
    little. Callers put each result back at its index, so the output order is the input's."""
    return sorted(range(len(lengths)), key=lengths.__getitem__)


def _with_labels(dataset: Any, text: str, pair: str | None, ids: list[int], names: list[str]) -> Any:
    import datasets

    keep = [text] + ([pair] if pair else [])
    dataset = dataset.remove_columns([c for c in dataset.column_names if c not in keep])
    dataset = dataset.rename_columns({text: "text"} | ({pair: "text_pair"} if pair else {}))
    dataset = dataset.add_column("label", ids)
    return dataset.cast_column("label", datasets.ClassLabel(names=names))


def _tokenize(dataset: Any, tokenizer: Any, max_length: int) -> Any:
    has_pair = "text_pair" in dataset.column_names

    def encode(batch: dict[str, list]) -> dict[str, list]:
        texts = [str(t) if t is not None else "" for t in batch["text"]]
        pairs = [str(t) if t is not None else "" for t in batch["text_pair"]] if has_pair else None
        encoded = tokenizer(texts, pairs, truncation=True, max_length=max_length)
        encoded["labels"] = batch["label"]
        return encoded

    return dataset.map(encode, batched=True, remove_columns=dataset.column_names, desc="tokenising")


def _sample_text(row: dict[str, Any]) -> str:
    text = str(row["text"])
    if row.get("text_pair"):
        text = f"{text} ‖ {row['text_pair']}"
    return text if len(text) <= SAMPLE_TEXT_CHARS else text[: SAMPLE_TEXT_CHARS - 1] + "…"


def _softmax(logits: Any) -> Any:
    import numpy as np

    shifted = logits - logits.max(-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(-1, keepdims=True)


def _id2label(model: Any) -> list[str]:
    config = model.config
    return [config.id2label[i] for i in range(len(config.id2label))]


TASK = TextClassification()
