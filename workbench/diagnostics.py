"""Diagnose a run: say what went wrong with it, not only show its numbers.

Each check is a pure function over plain numbers (predictions, losses, label counts, texts) and
returns `Diagnostic`s: one line saying what is wrong and one with a concrete suggestion. The kinds
are a contract (`tlwb show RUN --json` lists them as `{kind, message, hint}`):

- ``collapse``     one class predicted for nearly every row, or a score at the majority baseline
- ``divergence``   the training loss is NaN/inf or rising far above where it started
- ``no_progress``  the training loss is not falling
- ``overfitting``  train loss falling while eval loss rises over consecutive evaluations
- ``calibration``  confidences that do not match accuracy (expected calibration error)
- ``label_errors`` training rows the model most confidently contradicts (confident learning)
- ``duplicates``   the same text more than once in the training data
- ``leakage``      texts that appear in both train and validation
- ``imbalance``    a class far rarer than the others, or label names differing only by case
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

KINDS = (
    "collapse", "divergence", "no_progress", "overfitting", "calibration",
    "label_errors", "duplicates", "leakage", "imbalance",
)

#: Share of rows predicted as one class above which a classifier has collapsed.
COLLAPSE_SHARE = 0.95
#: A macro-F1 within this of the majority-class baseline's counts as "at the baseline".
BASELINE_MARGIN = 0.02
#: Expected calibration error above which calibration is reported.
ECE_WARNING = 0.15
#: A class with fewer than this share of the majority class's rows is "extremely" rare.
IMBALANCE_RATIO = 0.05


@dataclass(frozen=True)
class Diagnostic:
    kind: str
    message: str
    hint: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown diagnostic kind {self.kind!r}")

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


# -- predictions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Baseline:
    """What always answering the most common gold class scores."""

    label: str
    accuracy: float
    macro_f1: float


def majority_baseline(gold_counts: dict[str, int]) -> Baseline | None:
    """The majority-class baseline from gold counts: its accuracy, and its macro-F1 (F1 of the
    majority class averaged with zeros for the others)."""
    total = sum(gold_counts.values())
    if not total:
        return None
    label, count = max(gold_counts.items(), key=lambda item: item[1])
    share = count / total
    f1_majority = 2 * share / (1 + share)
    return Baseline(label, share, f1_majority / max(1, len(gold_counts)))


def counts_from_confusion(matrix: Sequence[Sequence[int]], labels: Sequence[str]) -> tuple[dict[str, int], dict[str, int]]:
    """(gold counts, predicted counts) from a confusion matrix whose rows are gold."""
    gold = {label: int(sum(row)) for label, row in zip(labels, matrix)}
    predicted = {label: int(sum(row[j] for row in matrix)) for j, label in enumerate(labels)}
    return gold, predicted


def check_collapse(gold_counts: dict[str, int], predicted_counts: dict[str, int], macro_f1: float | None = None,
                   *, still_learning: bool = False) -> list[Diagnostic]:
    """One class predicted for ≥ 95 % of rows, or a macro-F1 at the majority baseline.
    `still_learning` (the validation loss was still falling): the model hasn't moved past the
    class prior yet, so the hint is to train more, not to lower the learning rate."""
    total = sum(predicted_counts.values())
    baseline = majority_baseline(gold_counts)
    if not total or baseline is None or len(gold_counts) < 2:
        return []
    label, count = max(predicted_counts.items(), key=lambda item: item[1])
    share = count / total
    gold_share = gold_counts.get(label, 0) / max(1, sum(gold_counts.values()))
    collapsed = share >= COLLAPSE_SHARE and gold_share < COLLAPSE_SHARE
    at_baseline = macro_f1 is not None and macro_f1 <= baseline.macro_f1 + BASELINE_MARGIN
    if not (collapsed or at_baseline):
        return []
    what = f"the model predicts '{label}' for {share:.0%} of rows" if collapsed else f"macro-F1 {macro_f1:.3f} is at the majority baseline"
    hint = (STILL_LEARNING_HINT if still_learning else
            "lower training.learning_rate (e.g. ÷10), train longer (training.epochs) or on more rows; with LoRA try method.r = 16")
    return [Diagnostic("collapse", f"{what} (majority baseline: accuracy {baseline.accuracy:.3f}, macro-F1 {baseline.macro_f1:.3f})", hint)]


#: A collapse while the validation loss still falls: too little training, not too much.
STILL_LEARNING_HINT = ("the validation loss is still falling: train longer (training.epochs) or on more rows, "
                       "or raise training.learning_rate (e.g. ×3)")
#: The validation loss "still falls" when its last value is this much below its first.
STILL_FALLING = 0.02


def still_learning(eval_losses: Sequence[float]) -> bool:
    """Two evaluations or more, and the last loss clearly below the first."""
    return len(eval_losses) >= 2 and eval_losses[-1] < eval_losses[0] * (1 - STILL_FALLING)


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> tuple[float, list[dict[str, float]]]:
    """ECE and the reliability table: per confidence bin, its rows, mean confidence and accuracy."""
    table = []
    total = len(confidences)
    ece = 0.0
    for index in range(bins):
        low, high = index / bins, (index + 1) / bins
        members = [i for i, c in enumerate(confidences) if low < c <= high or (index == 0 and c == 0)]
        if not members:
            continue
        confidence = sum(confidences[i] for i in members) / len(members)
        accuracy = sum(1 for i in members if correct[i]) / len(members)
        ece += len(members) / total * abs(confidence - accuracy)
        table.append({"low": low, "high": high, "n": len(members), "confidence": confidence, "accuracy": accuracy})
    return ece, table


def check_calibration(confidences: Sequence[float], correct: Sequence[bool], minimum_rows: int = 50) -> list[Diagnostic]:
    if len(confidences) < minimum_rows:
        return []
    ece, _ = expected_calibration_error(confidences, correct)
    if ece <= ECE_WARNING:
        return []
    mean_confidence = sum(confidences) / len(confidences)
    accuracy = sum(map(bool, correct)) / len(correct)
    over = mean_confidence > accuracy
    # Over-confidence is what overfitting looks like; under-confidence, a model not yet sharpened.
    remedy = "more training data or fewer epochs usually help" if over else "more epochs or a higher learning rate usually help"
    return [Diagnostic(
        "calibration",
        f"confidences are {'over' if over else 'under'}-confident: expected calibration error {ece:.3f}"
        f" (mean confidence {mean_confidence:.2f}, accuracy {accuracy:.2f})",
        f"don't read confidences as probabilities; {remedy}, or calibrate the exported model (temperature scaling)",
    )]


def label_issues(labels: Sequence[int], probs: Sequence[Sequence[float]], limit: int | None = 50) -> list[dict[str, Any]]:
    """Training rows whose given label the model most confidently contradicts (cleanlab's
    confident learning), most suspicious first: index, given, suggested, and their probabilities."""
    import numpy as np
    from cleanlab.filter import find_label_issues

    given = np.asarray(labels, dtype=int)
    pred_probs = np.asarray(probs, dtype=float)
    if len(given) < 2 or pred_probs.ndim != 2 or len(set(given.tolist())) < 2:
        return []
    # n_jobs=1: cleanlab would fork worker processes, which deadlock beside torch's threads.
    ranked = find_label_issues(given, pred_probs, return_indices_ranked_by="self_confidence", n_jobs=1)
    issues = []
    for index in ranked[:limit]:
        suggested = int(pred_probs[index].argmax())
        issues.append({
            "index": int(index),
            "given": int(given[index]),
            "suggested": suggested,
            "given_prob": round(float(pred_probs[index, given[index]]), 4),
            "suggested_prob": round(float(pred_probs[index, suggested]), 4),
        })
    return issues


def check_label_errors(issues: Sequence[dict[str, Any]] | int, train_size: int) -> list[Diagnostic]:
    """`issues`: the suspect rows (or their count) among `train_size` checked."""
    count = issues if isinstance(issues, int) else len(issues)
    if not count:
        return []
    return [Diagnostic(
        "label_errors",
        f"{count} of {train_size} training rows look mislabelled (the model confidently predicts another label)",
        "review them, most suspicious first (Results' Label errors tab, tlwb show RUN --label-errors, "
        "or label_errors.csv in the run directory), and fix the data",
    )]


# -- losses ---------------------------------------------------------------------------------------
def check_losses(train: Sequence[tuple[int, float]], evals: Sequence[tuple[int, float]] = (), *, min_points: int = 6) -> list[Diagnostic]:
    """Divergence (NaN, or the loss climbing well above its start), no progress (the last third
    no lower than the first third) and overfitting (eval loss rising for two consecutive
    evaluations while the training loss falls)."""
    found: list[Diagnostic] = []
    losses = [loss for _, loss in train]
    bad = next(((step, loss) for step, loss in train if not math.isfinite(loss)), None)
    if bad is not None:
        return [Diagnostic(
            "divergence",
            f"the training loss became {bad[1]} at step {bad[0]}",
            "lower training.learning_rate (e.g. ÷10); with training.precision = \"fp16\" try \"bf16\" or \"fp32\"",
        )]
    if len(losses) >= min_points:
        third = max(1, len(losses) // 3)
        first, last = _mean(losses[:third]), _mean(losses[-third:])
        if last > 1.5 * first and last - first > 0.1:
            found.append(Diagnostic(
                "divergence",
                f"the training loss rose from {first:.3f} to {last:.3f}",
                "lower training.learning_rate (e.g. ÷10) or add warm-up (training.warmup_ratio = 0.1)",
            ))
        elif last >= first * 0.98:
            found.append(Diagnostic(
                "no_progress",
                f"the training loss is not falling ({first:.3f} at the start, {last:.3f} at the end)",
                "raise training.learning_rate (×3), check that labels match the texts, or train longer",
            ))
    eval_losses = [loss for _, loss in evals if loss is not None and math.isfinite(loss)]
    if len(eval_losses) >= 3 and eval_losses[-1] > eval_losses[-2] > eval_losses[-3]:
        steps = [step for step, _ in evals]
        train_at = [_loss_near(train, step) for step in steps[-3:]]
        if all(value is not None for value in train_at) and train_at[-1] < train_at[0]:
            found.append(Diagnostic(
                "overfitting",
                f"eval loss rose for two evaluations in a row ({eval_losses[-3]:.3f} → {eval_losses[-1]:.3f}) while the training loss fell",
                "use fewer epochs, set training.early_stopping_patience = 2, or add data",
            ))
    return found


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _loss_near(train: Sequence[tuple[int, float]], step: int) -> float | None:
    before = [loss for at, loss in train if at <= step]
    return before[-1] if before else None


# -- data ----------------------------------------------------------------------------------------
def normalise_text(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def check_data(train_texts: Sequence[str], train_labels: Sequence[Any], validation_texts: Iterable[str] = ()) -> list[Diagnostic]:
    """Problems found before training: duplicates, leakage, empty texts, imbalance, label names
    that differ only by case or whitespace."""
    found: list[Diagnostic] = []
    normalised = [normalise_text(text) for text in train_texts]
    empty = sum(1 for text in normalised if not text)
    if empty:
        found.append(Diagnostic("duplicates", f"{empty} training rows have an empty text", "remove them from the data file"))
    counts = Counter(text for text in normalised if text)
    repeated = {text: n for text, n in counts.items() if n > 1}
    if repeated:
        extra = sum(n - 1 for n in repeated.values())
        example = next(iter(repeated))
        found.append(Diagnostic(
            "duplicates",
            f"{extra} training rows repeat another row's text ({len(repeated)} texts, e.g. \"{example[:40]}\")",
            "de-duplicate the training file; duplicates overweight those rows",
        ))
    seen = set(counts)
    leaked = {text for text in (normalise_text(t) for t in validation_texts) if text and text in seen}
    if leaked:
        found.append(Diagnostic(
            "leakage",
            f"{len(leaked)} validation texts also appear in the training data, so validation scores are too optimistic",
            "remove them from one of the splits (or let tlwb hold out the validation split: drop data.validation)",
        ))
    label_counts = Counter(str(label) for label in train_labels)
    by_name: dict[str, set[str]] = {}
    for name in label_counts:
        by_name.setdefault(normalise_text(name), set()).add(name)
    clashes = [sorted(names) for names in by_name.values() if len(names) > 1]
    if clashes:
        found.append(Diagnostic(
            "imbalance",
            f"label names differ only by case or spaces: {', '.join(' / '.join(repr(n) for n in c) for c in clashes[:3])}",
            "make the labels consistent in the data file, or map them with data.label_names",
        ))
    if len(label_counts) >= 2:
        (common, most), (rare, least) = label_counts.most_common(1)[0], label_counts.most_common()[-1]
        if least < IMBALANCE_RATIO * most:
            found.append(Diagnostic(
                "imbalance",
                f"class '{rare}' has {least} rows against {most} for '{common}'",
                "collect more rows of the rare class, or judge the run by macro-F1, not accuracy",
            ))
    return found


# -- a whole run -----------------------------------------------------------------------------------
def diagnose(history: Any) -> list[Diagnostic]:
    """The checks that a run's events can answer (a `workbench.history.RunHistory`): collapse of
    the latest validation evaluation, the loss curves, calibration of the kept samples, and the
    class balance the training process recorded. Pre-flight runs `check_data` on the rows."""
    found: list[Diagnostic] = []
    train = [(s.step, s.loss) for s in history.steps if s.step is not None and s.loss is not None]
    evals = [(e.step or 0, loss) for e in history.evaluations("validation") if isinstance(loss := e.metrics.get("loss"), (int, float))]
    found += check_losses(train, evals)
    latest = history.latest_eval("validation")
    if latest is not None:
        found += _collapse_of(history.task, latest, still_learning([loss for _, loss in evals]))
    samples = history.samples.get("validation")
    if samples is not None:
        pairs = [(item["confidence"], item.get("gold") == item.get("pred")) for item in samples.items
                 if isinstance(item.get("confidence"), (int, float)) and "gold" in item]
        found += check_calibration([c for c, _ in pairs], [ok for _, ok in pairs])
    ended = history.ended
    collapsed = any(d.kind == "collapse" for d in found)  # then what it contradicts says nothing of the labels
    if not collapsed and getattr(ended, "label_errors", None) and getattr(ended, "label_rows_checked", None):
        found += check_label_errors(ended.label_errors, ended.label_rows_checked)
    started = history.started
    counts = getattr(started, "label_counts", None) if started is not None else None
    if counts and len(counts) >= 2:
        (common, most), (rare, least) = max(counts.items(), key=lambda i: i[1]), min(counts.items(), key=lambda i: i[1])
        if least < IMBALANCE_RATIO * most:
            found.append(Diagnostic(
                "imbalance", f"class '{rare}' has {least} training rows against {most} for '{common}'",
                "collect more rows of the rare class, or judge the run by macro-F1, not accuracy",
            ))
    return found


def diagnostics_of(history: Any) -> list[dict[str, str]]:
    """What went wrong with the run, as `[{kind, message, hint}]`. A run is checked after each
    evaluation and at its end: before its first evaluation a few noisy steps would make a false
    alarm."""
    if history.ended is None and not history.evals:
        return []
    return [diagnostic.as_dict() for diagnostic in diagnose(history)]


def _collapse_of(task: str | None, evaluation: Any, learning: bool = False) -> list[Diagnostic]:
    metrics = evaluation.metrics
    if task == "token-classification":
        f1 = metrics.get("f1")
        if isinstance(f1, (int, float)) and f1 < 0.05:
            return [Diagnostic(
                "collapse", f"the model finds almost no entities: entity F1 {f1:.3f} (the all-O baseline scores 0.000)",
                "train longer (training.epochs) or raise training.learning_rate; check data.tags_column and the tag scheme",
            )]
        return []
    if not evaluation.confusion_matrix or not evaluation.labels:
        return []
    gold, predicted = counts_from_confusion(evaluation.confusion_matrix, evaluation.labels)
    macro = metrics.get("macro_f1")
    return check_collapse(gold, predicted, macro if isinstance(macro, (int, float)) else None, still_learning=learning)
