"""Evaluation in length order (`workbench.trainer.ordered_eval`): less padding, the same results,
every result at its own row, for the classifier trainer tlwb builds."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from workbench.trainer.ordered_eval import evaluation_order, in_row_order, trainer_with_length_ordered_evaluation


def test_results_of_an_ordered_pass_go_back_to_their_rows() -> None:
    rng = random.Random(3)
    order = list(range(50))
    rng.shuffle(order)
    rows = np.arange(50 * 3).reshape(50, 3)
    computed_in_order = rows[order]  # what a pass over the rows in `order` returns
    restored = in_row_order((computed_in_order, [computed_in_order[:, 0]]), order)
    assert isinstance(restored, tuple) and isinstance(restored[1], list)
    assert np.array_equal(restored[0], rows) and np.array_equal(restored[1][0], rows[:, 0])
    assert in_row_order(None, order) is None
    assert np.array_equal(in_row_order(np.float32(1.5), order), np.float32(1.5))  # a scalar belongs to no row


def test_rows_already_in_length_order_or_without_tokens_are_left_alone() -> None:
    import datasets

    assert evaluation_order(datasets.Dataset.from_dict({"input_ids": [[1], [1, 2], [1, 2]]})) is None
    assert evaluation_order(datasets.Dataset.from_dict({"text": ["b", "a"]})) is None
    assert evaluation_order(datasets.Dataset.from_dict({"input_ids": [[1, 2, 3], [1], [1, 2], [1]]})) == [1, 3, 2, 0]


def tiny_rows(count: int = 90) -> Any:
    """Tokenised rows of 3 to 40 tokens in no length order, labels from the words."""
    import datasets

    rng = random.Random(7)
    ids, labels = [], []
    for _ in range(count):
        positive = rng.random() < 0.5
        word = 31 if positive else 32  # "good" / "bad" in the tiny vocabulary
        ids.append([2] + [word] * rng.randint(1, 38) + [3])
        labels.append(int(positive))
    return datasets.Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(r) for r in ids], "labels": labels})


def build(trainer_class: type, model_dir: Path, tmp_path: Path, widths: list[int], seen: list[np.ndarray]) -> Any:
    import torch
    from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, PreTrainedTokenizerFast, TrainingArguments

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(model_dir)
    pad = DataCollatorWithPadding(tokenizer)

    def collate(features: list[dict]) -> dict:
        batch = pad(features)
        widths.append(int(batch["input_ids"].shape[0] * batch["input_ids"].shape[1]))
        return batch

    def metrics(prediction: Any) -> dict[str, float]:
        seen.append(np.asarray(prediction.label_ids))
        return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}

    args = TrainingArguments(output_dir=str(tmp_path / trainer_class.__name__), per_device_eval_batch_size=16,
                             use_cpu=True, report_to=[], disable_tqdm=True)
    return trainer_class(model=model, args=args, eval_dataset=tiny_rows(), data_collator=collate, compute_metrics=metrics)


def test_an_ordered_trainer_pads_less_and_returns_what_the_plain_one_does(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import Trainer

    plain_widths: list[int] = []
    ordered_widths: list[int] = []
    plain_seen: list[np.ndarray] = []
    ordered_seen: list[np.ndarray] = []
    plain = build(Trainer, tiny_model_dir, tmp_path, plain_widths, plain_seen)
    ordered = build(trainer_with_length_ordered_evaluation(Trainer), tiny_model_dir, tmp_path, ordered_widths, ordered_seen)
    rows = tiny_rows()

    expected, got = plain.predict(rows), ordered.predict(rows)
    assert np.array_equal(got.label_ids, rows["labels"])  # row order, not length order
    np.testing.assert_allclose(got.predictions, expected.predictions, atol=1e-5)
    assert got.metrics["test_accuracy"] == expected.metrics["test_accuracy"]
    assert np.array_equal(ordered_seen[-1], rows["labels"])  # compute_metrics saw the rows in their order too
    assert sum(ordered_widths) < 0.75 * sum(plain_widths)  # far fewer padded tokens

    plain_eval, ordered_eval = plain.evaluate(), ordered.evaluate()
    assert ordered_eval["eval_accuracy"] == plain_eval["eval_accuracy"]
    assert ordered_eval["eval_loss"] == pytest.approx(plain_eval["eval_loss"], abs=1e-5)
    assert np.array_equal(ordered_seen[-1], rows["labels"])
    assert ordered.compute_metrics.__name__ == "metrics"  # put back after each pass


def test_classifiers_evaluate_in_length_order_and_generation_keeps_its_own() -> None:
    from transformers import Trainer

    from workbench.config import RunConfig
    from workbench.trainer.session import _trainer_class

    def config(batching: str) -> RunConfig:
        return RunConfig.model_validate({"model": {"name": "m"}, "data": {"train": "t.csv"}, "training": {"batching": batching}})

    assert _trainer_class(Trainer, config("random"), generates=False).__name__ == "LengthOrderedTrainer"
    assert _trainer_class(Trainer, config("length_buckets"), generates=False).__name__ == "LengthBucketLengthOrderedTrainer"
    assert _trainer_class(Trainer, config("random"), generates=True) is Trainer
