"""Classification metrics from scikit-learn: accuracy, macro-F1, per-class scores, confusion."""

from __future__ import annotations

from typing import Any, Sequence


def classification_report(gold: Sequence[int], pred: Sequence[int], label_names: list[str]) -> dict[str, Any]:
    """Scalars under `metrics`, plus `per_class` and `confusion_matrix` (rows = gold)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    ids = list(range(len(label_names)))
    precision, recall, f1, support = precision_recall_fscore_support(gold, pred, labels=ids, zero_division=0)
    return {
        "metrics": {
            "accuracy": float(accuracy_score(gold, pred)),
            "macro_f1": float(f1_score(gold, pred, labels=ids, average="macro", zero_division=0)),
            "n": len(gold),
        },
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(label_names)
        },
        "confusion_matrix": confusion_matrix(gold, pred, labels=ids).tolist(),
        "labels": list(label_names),
    }
