"""Each run check on crafted numbers: it fires on the problem and stays quiet on a healthy run."""

from __future__ import annotations

import math
import random

import pytest

from workbench.diagnostics import (
    KINDS,
    Diagnostic,
    check_calibration,
    check_collapse,
    check_data,
    check_label_errors,
    check_losses,
    counts_from_confusion,
    expected_calibration_error,
    label_issues,
    majority_baseline,
)


def kinds(found: list[Diagnostic]) -> list[str]:
    return [d.kind for d in found]


def test_kinds_are_the_contract() -> None:
    assert KINDS == ("collapse", "divergence", "no_progress", "overfitting", "calibration", "label_errors", "duplicates", "leakage", "imbalance")
    with pytest.raises(ValueError):
        Diagnostic("oops", "m", "h")


def test_majority_baseline() -> None:
    baseline = majority_baseline({"negative": 444, "positive": 556})
    assert baseline.label == "positive" and baseline.accuracy == pytest.approx(0.556)
    assert baseline.macro_f1 == pytest.approx((2 * 0.556 / 1.556) / 2)


def test_collapse_when_one_class_is_predicted_for_everything() -> None:
    # The new user's SST-2 run: accuracy 0.555, recall 1.0 for one class.
    gold, predicted = counts_from_confusion([[0, 89], [0, 111]], ["negative", "positive"])
    assert gold == {"negative": 89, "positive": 111} and predicted == {"negative": 0, "positive": 200}
    found = check_collapse(gold, predicted)
    assert kinds(found) == ["collapse"]
    assert "'positive' for 100% of rows" in found[0].message and "majority baseline" in found[0].message
    assert "learning_rate" in found[0].hint


def test_a_collapse_while_the_loss_still_falls_asks_for_more_training_not_a_lower_rate() -> None:
    from workbench.diagnostics import still_learning

    gold, predicted = {"a": 47, "b": 33}, {"a": 80}
    [settled] = check_collapse(gold, predicted)
    [learning] = check_collapse(gold, predicted, still_learning=True)
    assert "lower training.learning_rate" in settled.hint
    assert "still falling" in learning.hint and "lower" not in learning.hint
    assert still_learning([0.676, 0.660, 0.640])  # the walkthrough's LoRA run: 3 epochs, loss falling
    assert not still_learning([0.69, 0.69, 0.691]) and not still_learning([0.64])


def test_collapse_by_macro_f1_at_the_baseline_and_quiet_on_a_healthy_model() -> None:
    gold = {"a": 60, "b": 40}
    assert kinds(check_collapse(gold, {"a": 90, "b": 10}, macro_f1=0.38)) == ["collapse"]
    assert check_collapse(gold, {"a": 58, "b": 42}, macro_f1=0.81) == []
    # A test set where one class really is 97 % of rows is not a collapse.
    assert check_collapse({"a": 97, "b": 3}, {"a": 98, "b": 2}, macro_f1=0.9) == []


def test_divergence_on_nan_and_on_a_rising_loss() -> None:
    assert kinds(check_losses([(1, 0.7), (2, float("nan"))])) == ["divergence"]
    rising = [(step, 0.7 + 0.2 * step) for step in range(1, 10)]
    assert kinds(check_losses(rising)) == ["divergence"]


def test_no_progress_and_a_healthy_loss() -> None:
    flat = [(step, 0.693 + 0.001 * (step % 2)) for step in range(1, 13)]
    assert kinds(check_losses(flat)) == ["no_progress"]
    falling = [(step, 0.7 * math.exp(-step / 5)) for step in range(1, 13)]
    assert check_losses(falling) == []


def test_overfitting_needs_eval_rising_twice_while_train_falls() -> None:
    train = [(step, 1.0 - 0.05 * step) for step in range(1, 16)]
    rising_eval = [(5, 0.60), (10, 0.65), (15, 0.72)]
    assert kinds(check_losses(train, rising_eval)) == ["overfitting"]
    assert check_losses(train, [(5, 0.60), (10, 0.65), (15, 0.64)]) == []


def test_expected_calibration_error_and_the_reliability_table() -> None:
    confidences = [0.95] * 100
    correct = [i < 60 for i in range(100)]
    ece, table = expected_calibration_error(confidences, correct)
    assert ece == pytest.approx(0.35)
    assert table == [{"low": 0.9, "high": 1.0, "n": 100, "confidence": pytest.approx(0.95), "accuracy": 0.6}]
    found = check_calibration(confidences, correct)
    assert kinds(found) == ["calibration"] and "over-confident" in found[0].message
    assert "fewer epochs" in found[0].hint
    under = check_calibration([0.6] * 100, [True] * 100)  # right every time, never sure: not sharpened yet
    assert "under-confident" in under[0].message and "more epochs" in under[0].hint and "fewer" not in under[0].hint
    assert check_calibration([0.8] * 100, [i < 80 for i in range(100)]) == []
    assert check_calibration([0.95] * 10, [False] * 10) == []  # too few rows to judge


def test_label_issues_find_the_flipped_rows() -> None:
    rng = random.Random(0)
    labels, probs = [], []
    for i in range(200):
        label = i % 2
        confident = 0.9 + 0.09 * rng.random()
        probs.append([confident, 1 - confident] if label == 0 else [1 - confident, confident])
        labels.append(label)
    flipped = [3, 50, 121]
    for index in flipped:  # mislabelled rows the model is sure about
        probs[index] = [0.005, 0.995] if labels[index] == 1 else [0.995, 0.005]
        labels[index] = 1 - labels[index]
    issues = label_issues(labels, probs)
    assert sorted(issue["index"] for issue in issues) == flipped
    assert all(issue["suggested"] != issue["given"] and issue["suggested_prob"] > 0.9 for issue in issues)
    assert kinds(check_label_errors(issues, 200)) == ["label_errors"]
    assert check_label_errors([], 200) == []


def test_data_checks() -> None:
    train = ["Great film", "great  film", "dull", "fine", "ok", ""]
    labels = ["pos", "pos", "neg", "Pos", "neg", "neg"]
    found = check_data(train, labels, validation_texts=["DULL", "new text"])
    messages = {d.kind: d.message for d in found if d.kind != "duplicates"}
    assert "1 validation texts also appear" in messages["leakage"]
    assert any("differ only by case" in d.message for d in found if d.kind == "imbalance")
    duplicates = [d.message for d in found if d.kind == "duplicates"]
    assert any("1 training rows have an empty text" in m for m in duplicates)
    assert any("1 training rows repeat" in m for m in duplicates)
    rare = check_data([f"t{i}" for i in range(101)], ["a"] * 100 + ["b"])
    assert kinds(rare) == ["imbalance"] and "class 'b' has 1 rows" in rare[0].message
    assert check_data(["a", "b", "c", "d"], ["x", "y", "x", "y"], ["e"]) == []


def _history(confusion: list[list[int]], losses: list[float], task: str = "text-classification", **metrics: float):
    from workbench.events import make_event
    from workbench.history import RunHistory

    events = [make_event("started", task=task, main_metric="accuracy", greater_is_better=True,
                         labels=["negative", "positive"], label_counts={"negative": 400, "positive": 400})]
    events += [make_event("step", step=i + 1, loss=loss) for i, loss in enumerate(losses)]
    events.append(make_event("eval", split="validation", step=len(losses), metrics=dict(metrics),
                             confusion_matrix=confusion, labels=["negative", "positive"]))
    return RunHistory(events)


def test_diagnose_a_run_that_collapsed_and_one_that_learned() -> None:
    from workbench.diagnostics import diagnose

    flat = [0.69 + 0.002 * (i % 2) for i in range(12)]
    collapsed = diagnose(_history([[0, 89], [0, 111]], flat, accuracy=0.555, macro_f1=0.357))
    assert kinds(collapsed) == ["no_progress", "collapse"]
    healthy = diagnose(_history([[80, 9], [12, 99]], [0.7 * 0.85**i for i in range(12)], accuracy=0.895, macro_f1=0.89))
    assert healthy == []


def test_diagnose_ner_that_finds_no_entities() -> None:
    from workbench.diagnostics import diagnose

    found = diagnose(_history([[1, 0], [0, 1]], [1.0 * 0.8**i for i in range(12)], task="token-classification", f1=0.0))
    assert kinds(found) == ["collapse"] and "all-O baseline" in found[0].message
