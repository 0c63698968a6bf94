"""Length buckets (`training.batching = "length_buckets"`): batches of similar lengths, labels
mixed as in the data, batches in no length order, the same order for the same seed and epoch.
The Trainer's own `group_by_length` is the foil: same padding saving, none of the rest."""

from __future__ import annotations

import random
import statistics

import pytest

from workbench.config import RunConfig
from workbench.trainer.batching import LengthBucketSampler, length_bucketed_indices, trainer_with_length_buckets

BATCH = 16


def correlated_rows(count: int = 1600, seed: int = 0) -> tuple[list[int], list[int]]:
    """Lengths that give the label away: label 0 rows are short (4-30 tokens), label 1 long (20-60)."""
    rng = random.Random(seed)
    labels = [rng.randrange(2) for _ in range(count)]
    lengths = [rng.randint(4, 30) if label == 0 else rng.randint(20, 60) for label in labels]
    return lengths, labels


def batches(order: list[int], size: int = BATCH) -> list[list[int]]:
    return [order[i : i + size] for i in range(0, len(order), size)]


def padded_tokens(order: list[int], lengths: list[int]) -> int:
    return sum(len(batch) * max(lengths[i] for i in batch) for batch in batches(order))


def hf_group_by_length(lengths: list[int], seed: int) -> list[int]:
    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    return get_length_grouped_indices(lengths, BATCH, generator=torch.Generator().manual_seed(seed))


def test_every_row_once_with_far_less_padding_than_random() -> None:
    lengths, labels = correlated_rows()
    order = length_bucketed_indices(lengths, BATCH, seed=3, labels=labels)
    assert sorted(order) == list(range(len(lengths)))
    shuffled = list(range(len(lengths)))
    random.Random(3).shuffle(shuffled)
    assert padded_tokens(order, lengths) < 0.8 * padded_tokens(shuffled, lengths)


def test_each_batch_mixes_the_labels_where_the_trainers_grouping_does_not() -> None:
    lengths, labels = correlated_rows()
    share = lambda order: [statistics.fmean(labels[i] for i in batch) for batch in batches(order)]  # noqa: E731
    ours = share(length_bucketed_indices(lengths, BATCH, seed=3, labels=labels))
    theirs = share(hf_group_by_length(lengths, seed=3))
    data_share = statistics.fmean(labels)
    assert max(abs(s - data_share) for s in ours) <= 0.25  # every batch about as mixed as the data
    assert sum(s in (0.0, 1.0) for s in theirs) > len(theirs) / 3  # one-label batches, many of them
    assert not any(s in (0.0, 1.0) for s in ours)


def test_batches_come_in_no_length_order() -> None:
    """The Trainer's grouping serves each mega-batch longest first: a long run of ever shorter
    batches. Ours are shuffled: batch length and position are unrelated."""
    lengths, labels = correlated_rows()

    def descending_steps(order: list[int]) -> float:
        longest = [max(lengths[i] for i in batch) for batch in batches(order)]
        return statistics.fmean(a >= b for a, b in zip(longest, longest[1:]))

    assert descending_steps(hf_group_by_length(lengths, seed=3)) > 0.9
    assert 0.3 < descending_steps(length_bucketed_indices(lengths, BATCH, seed=3, labels=labels)) < 0.7


def test_the_order_is_the_seeds_and_the_epochs_only() -> None:
    """A resumed run skips the batches it trained: the order of an epoch must come back exactly,
    in a new process, and differ from one epoch to the next."""
    lengths, labels = correlated_rows()
    sampler = LengthBucketSampler(lengths, BATCH, seed=42, labels=labels)
    sampler.set_epoch(1)
    first = list(sampler)
    again = LengthBucketSampler(lengths, BATCH, seed=42, labels=labels)
    again.set_epoch(1)
    assert list(again) == first and len(sampler) == len(lengths)
    sampler.set_epoch(2)
    assert list(sampler) != first


def test_without_labels_and_with_fewer_rows_than_a_batch() -> None:
    assert sorted(length_bucketed_indices([5, 3, 9], BATCH, seed=0)) == [0, 1, 2]
    lengths = list(range(1, 401))
    order = length_bucketed_indices(lengths, 10, seed=0)
    assert sorted(order) == list(range(400))
    shuffled = random.Random(0).sample(range(400), 400)
    spread = lambda order: statistics.fmean(max(b) - min(b) for b in batches(order, 10))  # noqa: E731
    assert spread(order) < spread(shuffled) / 4


@pytest.mark.parametrize("label_column", [[0, 1, 0, 1, 1, 0], [[0, -100, 1], [1, 1], [0], [1, 0], [0], [1]]])
def test_the_trainer_draws_from_length_buckets(tmp_path, label_column) -> None:
    """The Trainer a length_buckets run builds trains from our sampler, with per-row labels for
    classification and lengths only when labels are per token."""
    import datasets
    import torch
    from transformers import Trainer, TrainingArguments

    rows = datasets.Dataset.from_dict({"input_ids": [[1] * n for n in (3, 9, 4, 8, 2, 7)], "labels": label_column})
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=2, seed=5, use_cpu=True, report_to=[])
    trainer = trainer_with_length_buckets(Trainer)(model=torch.nn.Linear(1, 1), args=args, train_dataset=rows)
    sampler = trainer._get_train_sampler()
    assert isinstance(sampler, LengthBucketSampler)
    assert sampler.batch_size == 2 and sampler.seed == 5 and sampler.lengths == [3, 9, 4, 8, 2, 7]
    assert sampler.labels == (label_column if not isinstance(label_column[0], list) else None)
    assert type(trainer).__name__ == "LengthBucketTrainer"


def test_old_presets_say_group_by_length() -> None:
    """Presets and run directories from before `batching` still load, through the key check too."""
    from workbench.presets import validate_config

    base = {"model": {"name": "m"}, "data": {"train": "t.csv"}}
    assert validate_config({**base, "training": {"group_by_length": True}}).training.batching == "group_by_length"
    assert validate_config({**base, "training": {"group_by_length": False}}).training.batching == "random"
    assert RunConfig.model_validate({**base, "training": {"batching": "length_buckets"}}).training.batching == "length_buckets"


def test_length_buckets_are_text_classifications_default_only() -> None:
    """The measured task gets length buckets when the config doesn't say; the others keep the
    Trainer's order; whatever a config says stays, and the resolved config says it explicitly."""
    from workbench.presets import config_to_toml

    def batching(task: str, **training: object) -> str:
        return RunConfig.model_validate({"task": task, "model": {"name": "m"}, "data": {"train": "t.jsonl"},
                                         "training": training}).training.batching

    assert batching("text-classification") == "length_buckets"
    assert batching("token-classification") == batching("text-generation") == "random"
    assert batching("text-classification", batching="random") == "random"
    assert batching("token-classification", batching="length_buckets") == "length_buckets"
    resolved = RunConfig.model_validate({"model": {"name": "m"}, "data": {"train": "t.csv"}})
    assert 'batching = "length_buckets"' in config_to_toml(resolved)
