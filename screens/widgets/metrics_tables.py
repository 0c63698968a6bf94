"""Metrics as tables: one row per evaluation, and precision/recall/F1 per class (or entity type)."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

#: Metrics shown first, in this order; any others follow alphabetically. `n` is left out.
LEADING_METRICS = ("accuracy", "macro_f1", "f1", "precision", "recall", "exact_match", "loss", "perplexity")
HIDDEN_METRICS = {"n", "runtime", "samples_per_second", "steps_per_second"}


def metric_names(evals: list[dict[str, Any]]) -> list[str]:
    names: set[str] = set()
    for event in evals:
        names.update(k for k, v in (event.get("metrics") or {}).items() if isinstance(v, (int, float)) and k not in HIDDEN_METRICS)
    leading = [name for name in LEADING_METRICS if name in names]
    return leading + sorted(names - set(leading))


class EvalHistory(DataTable):
    """Every evaluation of the run: split, step, epoch and its metrics; the best row is marked ★."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def show(self, evals: list[dict[str, Any]], best_step: int | None = None) -> None:
        self.clear(columns=True)
        names = metric_names(evals)
        self.add_column(" ", key="best", width=1)
        for column in ("split", "step", "epoch"):
            self.add_column(column, key=column)
        for name in names:
            self.add_column(Text(name.replace("_", " "), justify="right"), key=name)
        for index, event in enumerate(evals):
            metrics = event.get("metrics") or {}
            best = event.get("split", "validation") == "validation" and event.get("step") == best_step
            self.add_row(
                Text("★", style="bold yellow") if best else "",
                str(event.get("split", "validation")),
                Text(f"{event.get('step', '—')}", justify="right"),
                Text(f"{float(event.get('epoch') or 0):.2f}", justify="right"),
                *(Text(_number(metrics.get(name)), justify="right") for name in names),
                key=str(index),
            )


class PerClassScores(DataTable):
    """Precision, recall, F1 and support per class; the weakest F1 (if any is weaker) is marked ▼."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def show(self, per_class: dict[str, dict[str, float]], what: str = "class") -> None:
        self.clear(columns=True)
        self.add_column(what, key="name")
        for column in ("precision", "recall", "F1", "support"):
            self.add_column(Text(column, justify="right"), key=column)
        self.add_column(" ", key="weakest", width=1)
        scores_f1 = {name: scores.get("f1", 0.0) for name, scores in per_class.items()}
        weakest = min(scores_f1, key=scores_f1.__getitem__) if len(set(scores_f1.values())) > 1 else None
        for name, scores in per_class.items():
            self.add_row(
                name,
                *(Text(_number(scores.get(key)), justify="right") for key in ("precision", "recall", "f1")),
                Text(f"{int(scores.get('support') or 0):,}", justify="right"),
                Text("▼", style="bold red") if name == weakest else "",
                key=name,
            )


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{float(value):.4f}" if abs(float(value)) < 10 else f"{float(value):.1f}"
