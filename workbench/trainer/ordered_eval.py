"""Evaluation and prediction in length order: the same results, with less padding.

The Trainer evaluates rows in file order, so a batch pads every short row to its longest one. The
order of evaluation rows changes no prediction, so the trainer class built here hands the Trainer
the rows sorted by length (batches of similar lengths pad little) and puts every result back in
row order before anyone reads it: `compute_metrics` (and with it the eval event's samples and
per-class figures) and `predict`'s output see the rows exactly as the file has them.

Used for the validation passes during training, the final and test evaluations, and the label
check's pass over the training rows. Text generation evaluates by generating (`EvalDetails.take`)
and keeps the Trainer's own order.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from ..tasks.classification import length_order


def evaluation_order(dataset: Any) -> list[int] | None:
    """The dataset's rows from the shortest to the longest (`length_order`), or None when they are
    already in that order or have no `input_ids` to measure."""
    if dataset is None or not hasattr(dataset, "column_names") or "input_ids" not in dataset.column_names:
        return None
    order = length_order([len(ids) for ids in dataset["input_ids"]])
    return None if order == list(range(len(order))) else order


def in_row_order(value: Any, order: list[int]) -> Any:
    """`value` (an array, a tuple or list of them, or None) computed on the rows in `order`, put
    back in row order: the result at position i of the ordered pass belongs to row order[i]."""
    import numpy as np

    if isinstance(value, (tuple, list)):
        return type(value)(in_row_order(item, order) for item in value)
    if isinstance(value, np.ndarray) and value.ndim and value.shape[0] == len(order):
        restored = np.empty_like(value)
        restored[order] = value
        return restored
    return value


@contextmanager
def metrics_in_row_order(trainer: Any, order: list[int]) -> Iterator[None]:
    """While an ordered pass runs, `trainer.compute_metrics` receives its predictions, labels,
    inputs and losses in row order."""
    from transformers import EvalPrediction

    compute = trainer.compute_metrics
    if compute is not None:
        def compute_in_row_order(prediction: Any, **options: Any) -> Any:
            return compute(EvalPrediction(
                predictions=in_row_order(prediction.predictions, order),
                label_ids=in_row_order(prediction.label_ids, order),
                inputs=in_row_order(prediction.inputs, order),
                losses=in_row_order(prediction.losses, order),
            ), **options)

        trainer.compute_metrics = compute_in_row_order
    try:
        yield
    finally:
        trainer.compute_metrics = compute


def trainer_with_length_ordered_evaluation(trainer_class: type) -> type:
    """`trainer_class` evaluating and predicting in length order, results in row order."""

    class LengthOrderedEvaluation(trainer_class):  # type: ignore[valid-type,misc]
        def evaluation_order(self, dataset: Any) -> list[int] | None:
            """`evaluation_order(dataset)`, measured once per dataset (validation runs many times)."""
            known = self.__dict__.setdefault("_tlwb_evaluation_orders", {})
            if id(dataset) not in known:
                known[id(dataset)] = (dataset, evaluation_order(dataset))  # the dataset kept, so its id stays its own
            return known[id(dataset)][1]

        def evaluate(self, eval_dataset: Any = None, ignore_keys: list[str] | None = None,
                     metric_key_prefix: str = "eval") -> dict[str, float]:
            dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
            order = self.evaluation_order(dataset)
            if order is None:
                return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
            with metrics_in_row_order(self, order):
                return super().evaluate(dataset.select(order), ignore_keys, metric_key_prefix)

        def predict(self, test_dataset: Any, ignore_keys: list[str] | None = None, metric_key_prefix: str = "test") -> Any:
            from transformers.trainer_utils import PredictionOutput

            order = self.evaluation_order(test_dataset)
            if order is None:
                return super().predict(test_dataset, ignore_keys, metric_key_prefix)
            with metrics_in_row_order(self, order):
                output = super().predict(test_dataset.select(order), ignore_keys, metric_key_prefix)
            return PredictionOutput(predictions=in_row_order(output.predictions, order),
                                    label_ids=in_row_order(output.label_ids, order), metrics=output.metrics)

    LengthOrderedEvaluation.__name__ = LengthOrderedEvaluation.__qualname__ = f"LengthOrdered{trainer_class.__name__}"
    return LengthOrderedEvaluation
