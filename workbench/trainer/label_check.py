"""After a text classifier trains: the training rows the model most confidently contradicts.

cleanlab's confident learning (`workbench.diagnostics.label_issues`) ranks the rows from the
trained model's own probabilities; the most suspicious are written to `label_errors.csv` in the
run directory (for many users, finding their own mislabelled rows is the most useful output of a
first run) and their count goes into the `finished` event, where the diagnosis reads it.
"""

from __future__ import annotations

from typing import Any

from ..diagnostics import label_issues
from ..fsutil import atomic_write_text
from ..label_errors import LABEL_ERRORS_FILE, LabelErrorRow, label_errors_csv
from ..runstore import RunDir
from . import ranks

#: Training rows checked at most (a forward pass over them, a fraction of one epoch's cost).
MAX_ROWS_CHECKED = 20_000
#: Suspect rows written to the CSV, most suspicious first.
MAX_ROWS_WRITTEN = 500


def check_training_labels(trainer: Any, prepared: Any, run: RunDir) -> tuple[int, int] | None:
    """(suspect rows, rows checked), with label_errors.csv written; None when the task has no
    such check, or under several processes (each rank holds only part of the predictions)."""
    import numpy as np

    if prepared.raw_train is None or ranks.world_size() > 1 or len(prepared.train) < 2:
        return None
    rows = min(len(prepared.train), MAX_ROWS_CHECKED)
    metrics, trainer.compute_metrics = trainer.compute_metrics, None  # raw logits, no eval event
    try:
        output = trainer.predict(prepared.train.select(range(rows)), metric_key_prefix="label_check")
    finally:
        trainer.compute_metrics = metrics
    logits = np.asarray(output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions, dtype=float)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    issues = label_issues(np.asarray(output.label_ids).tolist(), probs, limit=None)
    atomic_write_text(run.path / LABEL_ERRORS_FILE, _csv(issues[:MAX_ROWS_WRITTEN], prepared.raw_train, prepared.label_names))
    return len(issues), rows


def _csv(issues: list[dict[str, Any]], raw: Any, names: list[str]) -> str:
    pair = "text_pair" in raw.column_names
    rows = []
    for issue in issues:
        row = raw[issue["index"]]
        rows.append(LabelErrorRow(row=issue["index"], text=row["text"], given=names[issue["given"]],
                                  suggested=names[issue["suggested"]], given_prob=issue["given_prob"],
                                  suggested_prob=issue["suggested_prob"], text_pair=row["text_pair"] if pair else None))
    return label_errors_csv(rows, pair=pair)
