"""Length buckets: training batches of rows of similar length, without the order that hurts.

Padding to the longest row of a batch wastes most of a step when a batch mixes a 5-token row
with a 60-token one. The Trainer's `group_by_length` fixes that, but in a way that has collapsed
small LoRA runs to the majority class: it sorts each mega-batch longest first and serves its
batches in that order, so the model sees a run of long batches, then a run of short ones. Where
length says something about the label, that is also a run of one-sided batches.

`length_bucketed_indices` keeps the speed and drops the order:
1. the rows are shuffled and cut into mega-batches (`BATCHES_PER_BUCKET` batches each);
2. inside a mega-batch, rows are ordered by their length *within their own label* (a row's rank
   among its label's rows, as a fraction), so each batch takes the same slice of every label's
   lengths: rows of similar length, with the labels mixed as in the data;
3. the batches of all mega-batches are shuffled, so nothing about length (or label) runs in order.

The order depends only on the seed and the epoch, so a resumed run skips exactly the batches it
trained before, and every process of a multi-process run draws the same order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from torch.utils.data import Sampler

#: Batches per mega-batch: the pool each batch's similar-length rows are drawn from.
BATCHES_PER_BUCKET = 50


def length_bucketed_indices(
    lengths: Sequence[int], batch_size: int, seed: int, labels: Sequence[Any] | None = None,
) -> list[int]:
    """Every row index once, in batches of `batch_size` consecutive indices (see the module)."""
    import random

    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    bucket_size = batch_size * max(1, min(BATCHES_PER_BUCKET, len(order) // (batch_size * 4) or 1))
    batches: list[list[int]] = []
    for start in range(0, len(order), bucket_size):
        bucket = _by_length_within_label(order[start : start + bucket_size], lengths, labels)
        batches.extend(bucket[i : i + batch_size] for i in range(0, len(bucket), batch_size))
    rng.shuffle(batches)
    return [index for batch in batches for index in batch]


def _by_length_within_label(bucket: list[int], lengths: Sequence[int], labels: Sequence[Any] | None) -> list[int]:
    """The bucket's rows by the fraction of their label's rows that are shorter (ties: shuffled
    order), so consecutive rows are of similar length and every label is spread evenly."""
    if labels is None:
        return sorted(bucket, key=lambda i: lengths[i])
    by_label: dict[Any, list[int]] = {}
    for index in bucket:
        by_label.setdefault(_hashable(labels[index]), []).append(index)
    position: dict[int, float] = {}
    for rows in by_label.values():
        rows.sort(key=lambda i: lengths[i])
        for rank, index in enumerate(rows):
            position[index] = (rank + 0.5) / len(rows)
    return sorted(bucket, key=lambda i: position[i])


def _hashable(label: Any) -> Any:
    return tuple(label) if isinstance(label, list) else label


class LengthBucketSampler(Sampler[int]):
    """The rows in `length_bucketed_indices` order, drawn afresh each epoch (the Trainer calls
    `set_epoch` before each)."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, labels: Sequence[Any] | None = None) -> None:
        self.lengths = list(lengths)
        self.labels = list(labels) if labels is not None else None
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        return iter(length_bucketed_indices(self.lengths, self.batch_size, self.seed + self.epoch, self.labels))


def train_sampler(dataset: Any, batch_size: int, seed: int) -> LengthBucketSampler:
    """The sampler for a tokenised training set: lengths from `input_ids`, labels from a
    single-label `labels` column (token and causal-LM labels are per token: length only)."""
    lengths = [len(ids) for ids in dataset["input_ids"]]
    labels = None
    if "labels" in dataset.column_names:
        column = dataset["labels"]
        first = column[0] if len(column) else None
        labels = None if isinstance(first, list) else list(column)
    return LengthBucketSampler(lengths, batch_size, seed, labels)


def trainer_with_length_buckets(trainer_class: type) -> type:
    """`trainer_class` (Trainer or SFTTrainer) drawing its training batches from length buckets."""

    class LengthBucketTrainer(trainer_class):  # type: ignore[valid-type,misc]
        def _get_train_sampler(self, train_dataset: Any = None) -> Any:
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
            return train_sampler(dataset, batch, self.args.seed)

    LengthBucketTrainer.__name__ = LengthBucketTrainer.__qualname__ = f"LengthBucket{trainer_class.__name__}"
    return LengthBucketTrainer
