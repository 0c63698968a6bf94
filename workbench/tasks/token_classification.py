"""Token classification (named-entity recognition): tag columns, sub-word labels, entity metrics.

Data is a list of words and a list of tags per sentence: CoNLL files (`conll.py`), or hub/JSON
datasets with a words column and a tags column (strings, or ints named by a `ClassLabel`
feature or `data.label_names`). The label set is read from the training split. Each word's tag
goes on its first sub-token; the other sub-tokens get -100 (ignored by the loss).

Evaluation is per word, against the gold tags as read (not as truncated): a word cut off by
`training.max_length` counts as predicted `O`. Tags in other splits that the training split
lacks are left out of the loss but still scored.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Sequence

from ..config import DataConfig, RunConfig
from ..data import load_source, load_splits
from ..errors import DataError, ModelError
from ..ner import Span, check_tags, detect_scheme, entity_report, entity_spans, lenient_spans, order_tags, split_words
from .base import EvalResult, Prepared
from .classification import PREDICT_BATCH, length_order

TOKEN_NAMES = ("tokens", "words", "token", "word", "sentence")
TAG_NAMES = ("ner_tags", "tags", "ner", "labels", "label", "tag", "ner_labels", "entities")

#: Longest sentence (in words) kept whole in a sample event; longer ones are cut there.
SAMPLE_WORDS = 200
IGNORE = -100


@dataclass
class TagSet:
    """The label list read from the training split, and its tag scheme."""

    names: list[str]
    scheme: str


@dataclass
class TaggedSentences:
    """What evaluation compares against: words, gold tags, where each word's first sub-token
    is in the model input (-1 when truncated away), and the tag scheme."""

    tokens: list[list[str]]
    tags: list[list[str]]
    word_starts: list[list[int]]
    scheme: str

    def __len__(self) -> int:
        return len(self.tags)


def _inner_feature(feature: Any) -> Any:
    return getattr(feature, "feature", None)


def _is_sequence(dataset: Any, column: str) -> bool:
    return _inner_feature(dataset.features[column]) is not None


def _holds_strings(dataset: Any, column: str) -> bool:
    return getattr(_inner_feature(dataset.features[column]), "dtype", None) in {"string", "large_string"}


def detect_columns(dataset: Any, data: DataConfig) -> tuple[str, str]:
    """(words column, tags column), from the config or guessed from names and feature types."""
    columns = list(dataset.column_names)
    for name, key in ((data.tokens_column, "tokens_column"), (data.tags_column, "tags_column")):
        if name is not None and name not in columns:
            raise DataError(
                f"column '{name}' (data.{key}) is not in the data; columns are: {', '.join(columns)}",
                f"set data.{key} to one of those",
            )
    sequences = [c for c in columns if _is_sequence(dataset, c)]
    tokens = data.tokens_column or next((c for c in sequences if c.lower() in TOKEN_NAMES), None)
    tokens = tokens or next((c for c in sequences if _holds_strings(dataset, c)), None)
    if tokens is None:
        raise DataError(
            f"no column of word lists found among: {', '.join(columns)}",
            "token classification needs a list of words per row; set data.tokens_column",
        )
    candidates = [c for c in sequences if c != tokens]
    tags = data.tags_column or next((c for c in candidates if c.lower() in TAG_NAMES), None)
    tags = tags or (candidates[-1] if candidates else None)
    if tags is None:
        raise DataError(
            f"no column of tag lists found among: {', '.join(columns)}",
            "token classification needs a list of tags per row (one per word); set data.tags_column",
        )
    return tokens, tags


def _tag_names(dataset: Any, column: str, data: DataConfig) -> list[str] | None:
    """Names for integer tags: data.label_names, else the column's ClassLabel names."""
    if data.label_names:
        return list(data.label_names)
    inner = _inner_feature(dataset.features[column])
    return list(inner.names) if hasattr(inner, "names") else None


def read_tagged(dataset: Any, data: DataConfig, source: str) -> tuple[list[list[str]], list[list[str]], list[str] | None, tuple[str, str]]:
    """(words, tags as strings, the names integer tags were given by or None, columns)."""
    tokens_column, tags_column = detect_columns(dataset, data)
    names = _tag_names(dataset, tags_column, data)
    words_rows, tag_rows = dataset[tokens_column][:], dataset[tags_column][:]
    words_out: list[list[str]] = []
    tags_out: list[list[str]] = []
    for row, (words, tags) in enumerate(zip(words_rows, tag_rows), start=1):
        if words is None or tags is None:
            raise DataError(f"row {row} of {source} has no words or no tags", "drop or fix that row")
        if len(words) != len(tags):
            raise DataError(
                f"row {row} of {source} has {len(words)} words but {len(tags)} tags",
                "give exactly one tag per word, or check data.tokens_column and data.tags_column",
            )
        if not words:
            continue
        words_out.append([str(word) for word in words])
        tags_out.append([_tag_string(tag, names, source, row) for tag in tags])
    if not words_out:
        raise DataError(f"{source} has no tagged sentences", "check the file and data.tokens_column")
    return words_out, tags_out, names, (tokens_column, tags_column)


def _tag_string(tag: Any, names: list[str] | None, source: str, row: int) -> str:
    if isinstance(tag, str):
        return tag
    if names is None:
        raise DataError(
            f"the tags in {source} are integers with no names (row {row})",
            'set data.label_names to the tag of each id in order, e.g. ["O", "B-PER", "I-PER"]',
        )
    if not 0 <= int(tag) < len(names):
        raise DataError(f"tag id {tag} in {source} (row {row}) is outside data.label_names ({len(names)} names)", "give one name per tag id")
    return names[int(tag)]


def resolve_scheme(configured: str, sequences: list[list[str]]) -> str:
    return detect_scheme(sequences) if configured == "auto" else configured


class TokenClassification:
    name = "token-classification"
    auto_model = "AutoModelForTokenClassification"
    peft_task_type = "TOKEN_CLS"
    main_metric = "f1"
    greater_is_better = True
    generates = False

    def load(self, config: RunConfig) -> tuple[Any, TagSet, dict[str, str | None]]:
        """Raw splits with `tokens` and `tags` (string) columns, the tag set and the columns used."""
        import datasets

        state: dict[str, Any] = {}

        def prepare(dataset: Any, role: str) -> Any:
            source = getattr(config.data, role) or config.data.train
            words, tags, names, columns = read_tagged(dataset, config.data, source)
            if role == "train":
                state["columns"] = columns
                state["scheme"] = resolve_scheme(config.data.tag_scheme, tags)
                check_tags((tag for row in tags for tag in row), state["scheme"], source)  # before order_tags splits them
                state["labels"] = names or order_tags(tag for row in tags for tag in row)
                check_tags(state["labels"], state["scheme"], source)
                unknown = sorted({tag for row in tags for tag in row} - set(state["labels"]))
                if unknown:
                    raise DataError(
                        f"tags in {source} missing from data.label_names: {', '.join(unknown[:5])}",
                        "list every training tag in data.label_names, or leave it unset to read them from the data",
                    )
            check_tags((tag for row in tags for tag in row), state["scheme"], source)
            return datasets.Dataset.from_dict({"tokens": words, "tags": tags})

        splits = load_splits(config.data, self.name, config.training.seed, prepare)
        tokens_column, tags_column = state["columns"]
        columns = {"tokens": tokens_column, "tags": tags_column, "tag_scheme": state["scheme"]}
        return splits, TagSet(state["labels"], state["scheme"]), columns

    def prepare(self, config: RunConfig, tokenizer: Any) -> Prepared:
        splits, tag_set, columns = self.load(config)
        labels, scheme = tag_set.names, tag_set.scheme
        max_length = config.training.max_length

        def encode(dataset: Any) -> tuple[Any, TaggedSentences]:
            return encode_split(dataset, tokenizer, labels, max_length, scheme)

        train, _ = encode(splits.train)
        validation, raw_validation = encode(splits.validation)
        test, raw_test = encode(splits.test) if splits.test is not None else (None, None)
        counts = {label: 0 for label in labels}
        for row in splits.train["tags"][:]:
            for tag in row:
                counts[tag] = counts.get(tag, 0) + 1
        return Prepared(
            train=train,
            validation=validation,
            test=test,
            raw_validation=raw_validation,
            raw_test=raw_test,
            label_names=labels,
            columns=columns,
            validation_from_train=splits.validation_from_train,
            label_counts=counts,
        )

    def collator(self, tokenizer: Any) -> Any:
        from transformers import DataCollatorForTokenClassification

        return DataCollatorForTokenClassification(tokenizer)

    def evaluate(self, logits: Any, labels: Any, raw: Any, label_names: list[str], num_samples: int) -> EvalResult:
        """Word-level tags from sub-token logits, then entity metrics against `raw`'s gold tags.

        Without `raw` (a `TaggedSentences`), words are the positions whose label is not -100 and
        the gold tags are those labels, read with the scheme the label names imply.
        """
        import numpy as np

        reference = raw if isinstance(raw, TaggedSentences) else _reference_from_labels(np.asarray(labels), label_names)
        best, probability = best_labels(logits)
        pred, confidence = [], []
        for i, starts in enumerate(reference.word_starts):
            tags, scores = word_predictions(best[i], probability[i], starts, label_names)
            pred.append(tags)
            confidence.append(scores)
        report = entity_report(reference.tags, pred, reference.scheme)
        samples = _samples(reference, pred, confidence, num_samples)
        every = _samples(reference, pred, confidence, len(reference))  # every sentence, in order
        return EvalResult(report["metrics"], report["per_class"], report["confusion_matrix"], report["labels"], samples, predictions=every)

    def predict(self, model: Any, tokenizer: Any, texts: list[str], max_length: int) -> list[dict[str, Any]]:
        """Entities in free text, with character offsets; long texts are tagged in windows."""
        import torch

        names = _id2label(model)
        words_per_text = [split_words(text) for text in texts]
        windows = [(t, chunk) for t, words in enumerate(words_per_text) for chunk in _windows([w for w, _, _ in words], tokenizer, max_length)]
        tags: list[list[str]] = [[] for _ in texts]
        scores: list[list[float | None]] = [[] for _ in texts]
        device = next(model.parameters()).device
        model.eval()
        for start in range(0, len(windows), PREDICT_BATCH):
            batch = windows[start : start + PREDICT_BATCH]
            encoded = _tokenize_words(tokenizer, [chunk for _, chunk in batch], max_length, padding=True, return_tensors="pt")
            with torch.no_grad():
                best, probability = best_labels(model(**{k: v.to(device) for k, v in encoded.items()}).logits.float().cpu().numpy())
            for row, (text_index, chunk) in enumerate(batch):
                starts = first_subtokens(encoded.word_ids(row), len(chunk))
                window_tags, window_scores = word_predictions(best[row], probability[row], starts, names)
                tags[text_index].extend(window_tags)
                scores[text_index].extend(window_scores)
        results = []
        for text, words, text_tags, text_scores in zip(texts, words_per_text, tags, scores):
            entities = []
            for span in lenient_spans(text_tags):
                begin, end = words[span.start][1], words[span.end - 1][2]
                entities.append(
                    {"text": text[begin:end], "type": span.type, "start": begin, "end": end, "confidence": _mean(text_scores[span.start : span.end])}
                )
            results.append({"text": text, "entities": entities})
        return results

    def score(self, model: Any, tokenizer: Any, config: RunConfig, source: str, label_values: list[str], batch_size: int) -> EvalResult:
        """Evaluate a trained model on any tagged file (CoNLL, JSON, hub split) with the run's labels."""
        import datasets
        import numpy as np
        import torch

        names = _id2label(model)
        dataset = load_source(source, config.data, self.name, "test")
        words, tags, _, _ = read_tagged(dataset, config.data, source)
        scheme = "BIOES" if any(n[:2] in ("E-", "S-") for n in names) else resolve_scheme(config.data.tag_scheme, tags)
        check_tags((tag for row in tags for tag in row), scheme, source)
        encoded, reference = encode_split(datasets.Dataset.from_dict({"tokens": words, "tags": tags}), tokenizer, names, config.training.max_length, scheme)
        collate = self.collator(tokenizer)
        device = next(model.parameters()).device
        model.eval()
        lengths = [len(ids) for ids in encoded["input_ids"]]
        logits = np.zeros((len(encoded), max(lengths, default=1), len(names)), dtype=np.float32)
        order = length_order(lengths)  # sentences of similar lengths share a batch; rows go back in place
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            batch = collate([encoded[i] for i in indices])
            batch.pop("labels", None)
            with torch.no_grad():
                out = model(**{k: v.to(device) for k, v in batch.items()}).logits.float().cpu().numpy()
            logits[indices, : out.shape[1]] = out
        return self.evaluate(logits, encoded["labels"], reference, names, 20)


def _tokenize_words(tokenizer: Any, words: list[list[str]], max_length: int, **kwargs: Any) -> Any:
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(
            f"{type(tokenizer).__name__} is a slow tokenizer; token classification needs a fast one (word ids)",
            "choose a model that ships tokenizer.json, or convert its tokenizer with transformers",
        )
    return tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length, **kwargs)


def first_subtokens(word_ids: Sequence[int | None], num_words: int) -> list[int]:
    """Position of each word's first sub-token in the model input; -1 for words that have none
    (truncated away, or words the tokenizer turns into nothing)."""
    starts = [-1] * num_words
    previous = None
    for position, word in enumerate(word_ids):
        if word is not None and word != previous and starts[word] == -1:
            starts[word] = position
        previous = word
    return starts


def encode_split(dataset: Any, tokenizer: Any, labels: list[str], max_length: int, scheme: str) -> tuple[Any, TaggedSentences]:
    """Model inputs with labels on first sub-tokens (-100 elsewhere), and the evaluation reference."""
    index = {label: i for i, label in enumerate(labels)}

    def encode(batch: dict[str, list]) -> dict[str, list]:
        encoded = _tokenize_words(tokenizer, batch["tokens"], max_length)
        encoded["labels"], encoded["word_starts"] = [], []
        for row, tags in enumerate(batch["tags"]):
            starts = first_subtokens(encoded.word_ids(row), len(tags))
            ids = [IGNORE] * len(encoded["input_ids"][row])
            for position, tag in zip(starts, tags):
                if position >= 0:
                    ids[position] = index.get(tag, IGNORE)
            encoded["labels"].append(ids)
            encoded["word_starts"].append(starts)
        return dict(encoded)

    encoded = dataset.map(encode, batched=True, remove_columns=dataset.column_names, desc="tokenising")
    reference = TaggedSentences(dataset["tokens"][:], dataset["tags"][:], encoded["word_starts"][:], scheme)
    return encoded.remove_columns("word_starts"), reference


def best_labels(logits: Any) -> tuple[Any, Any]:
    """(argmax label, its softmax probability) at every position of `logits` (..., labels)."""
    import numpy as np

    logits = np.asarray(logits, dtype=np.float32)
    best = logits.argmax(-1)
    # the winning probability is exp(0) / sum(exp(logit - max))
    probability = 1.0 / np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)
    return best, probability


def word_predictions(best: Any, probability: Any, starts: Sequence[int], names: list[str]) -> tuple[list[str], list[float | None]]:
    """(tag, probability) per word from one sequence's per-position best labels; `O`/None for
    words with no sub-token in the input."""
    length = len(best)
    tags = ["O"] * len(starts)
    scores: list[float | None] = [None] * len(starts)
    for word, position in enumerate(starts):
        if 0 <= position < length:
            tags[word] = names[int(best[position])]
            scores[word] = float(probability[position])
    return tags, scores


def _windows(words: list[str], tokenizer: Any, max_length: int) -> list[list[str]]:
    """Consecutive runs of words whose sub-tokens (plus special tokens) fit in `max_length`."""
    if not words:
        return []
    budget = max(1, max_length - tokenizer.num_special_tokens_to_add())
    sizes = [len(ids) for ids in tokenizer(words, add_special_tokens=False)["input_ids"]]
    windows, current, used = [], [], 0
    for word, size in zip(words, sizes):
        if current and used + size > budget:
            windows.append(current)
            current, used = [], 0
        current.append(word)
        used += size
    windows.append(current)
    return windows


def _reference_from_labels(labels: Any, label_names: list[str]) -> TaggedSentences:
    tags, starts = [], []
    for row in labels:
        positions = [int(p) for p in (row != IGNORE).nonzero()[0]]
        starts.append(positions)
        tags.append([label_names[int(row[p])] for p in positions])
    scheme = "BIOES" if any(n[:2] in ("E-", "S-") for n in label_names) else detect_scheme(tags)
    return TaggedSentences([[""] * len(t) for t in tags], tags, starts, scheme)


def _entity_dicts(spans: list[Span], words: list[str], scores: list[float | None] | None = None) -> list[dict[str, Any]]:
    entities = []
    for span in spans:
        entity: dict[str, Any] = {"start": span.start, "end": span.end, "type": span.type, "text": " ".join(words[span.start : span.end])}
        if scores is not None:
            entity["confidence"] = _mean(scores[span.start : span.end])
        entities.append(entity)
    return entities


def _samples(reference: TaggedSentences, pred: list[list[str]], confidence: list[list[float | None]], num_samples: int) -> list[dict[str, Any]]:
    """A seeded random selection of sentences with gold and predicted tags and entities.

    `confidence` is the lowest word probability in the sentence: one unsure word is enough to
    make a sentence worth a look.
    """
    rng = random.Random(0)
    indices = sorted(rng.sample(range(len(reference)), min(num_samples, len(reference))))
    samples = []
    for i in indices:
        words = reference.tokens[i][:SAMPLE_WORDS]
        gold_spans = entity_spans(reference.tags[i], reference.scheme)
        pred_spans = entity_spans(pred[i], reference.scheme)
        shown = len(words)
        known = [s for s in confidence[i] if s is not None]
        samples.append(
            {
                "index": i,
                "tokens": words,
                "gold": reference.tags[i][:shown],
                "pred": pred[i][:shown],
                "gold_entities": _entity_dicts([s for s in gold_spans if s.end <= shown], words),
                "pred_entities": _entity_dicts([s for s in pred_spans if s.end <= shown], words, confidence[i]),
                "correct": set(gold_spans) == set(pred_spans),
                "confidence": round(min(known), 4) if known else 0.0,
            }
        )
    return samples


def _mean(scores: Sequence[float | None]) -> float:
    known = [s for s in scores if s is not None]
    return round(sum(known) / len(known), 4) if known else 0.0


def _id2label(model: Any) -> list[str]:
    config = model.config
    return [config.id2label[i] for i in range(len(config.id2label))]


TASK = TokenClassification()
