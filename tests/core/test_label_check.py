"""After training, the rows the model confidently contradicts are named: label_errors.csv (most
suspicious first), their count in the `finished` event, and a `label_errors` diagnosis."""

from __future__ import annotations

import csv
from pathlib import Path

from workbench.presets import load_config
from workbench.diagnostics import diagnostics_of
from workbench.runner import launch, wait

FLIPPED = {7, 19, 31}  # rows whose labels we flip: the model should contradict exactly these


def test_flipped_training_labels_are_found_and_diagnosed(tiny_model_dir: Path, tmp_path: Path) -> None:
    rows = []
    for i in range(40):
        for j, (text, label) in enumerate(((f"good great movie {i}", "positive"), (f"bad awful film {i}", "negative"))):
            index = 2 * i + j
            wrong = {"positive": "negative", "negative": "positive"}[label]
            rows.append((text, wrong if index in FLIPPED else label))
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in rows))
    validation = tmp_path / "validation.csv"
    validation.write_text("text,label\n" + "good great movie,positive\nbad awful film,negative\n" * 4)
    config = load_config(None, [f"model.name={tiny_model_dir}", f"data.train={data}", f"data.validation={validation}",
                                "method.kind=full", "training.epochs=4", "training.learning_rate=5e-3",
                                "training.batch_size=8", "training.max_length=32", "training.eval_strategy=no"],
                         base={"name": "flipped"})
    run, process = launch(config, tmp_path / "runs")
    last = wait(run, process=process, timeout_s=600)
    assert last["type"] == "finished", run.log_path.read_text()[-2000:]
    assert last["label_rows_checked"] == 80
    with (run.path / "label_errors.csv").open(newline="") as handle:
        suspects = list(csv.DictReader(handle))
    flipped_texts = {rows[i][0] for i in FLIPPED}
    assert flipped_texts <= {s["text"] for s in suspects[: len(FLIPPED) + 2]}, suspects[:6]
    first = suspects[0]
    assert first["given"] != first["suggested"] and float(first["suggested_prob"]) > float(first["given_prob"])
    assert last["label_errors"] == len(suspects) >= len(FLIPPED)
    diagnosis = [d for d in diagnostics_of(run.history()) if d["kind"] == "label_errors"]
    assert diagnosis and "of 80 training rows" in diagnosis[0]["message"] and "label_errors.csv" in diagnosis[0]["hint"]
