"""Shared bits of the benchmarks: data slices from ../shared/data, timing, tables."""

from __future__ import annotations

import csv
import json
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def sst2_slices(folder: Path, train_rows: int, test_rows: int, seed: int = 0) -> tuple[Path, Path]:
    """Disjoint seeded slices of SST-2 as GLUE-style TSVs: (train.tsv, heldout.tsv)."""
    lines = (SHARED_DATA / "sst2" / "train.tsv").read_text("utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    random.Random(seed).shuffle(rows)
    folder.mkdir(parents=True, exist_ok=True)
    train, test = folder / "train.tsv", folder / "heldout.tsv"
    train.write_text("\n".join([header, *rows[:train_rows]]) + "\n", "utf-8")
    test.write_text("\n".join([header, *rows[train_rows : train_rows + test_rows]]) + "\n", "utf-8")
    return train, test


#: The labelled datasets the accuracy benchmarks slice: file, label names (in label-id order),
#: and a `max_length` that cuts few rows.
CLASSIFICATION_DATA: dict[str, dict[str, Any]] = {
    "sst2": {"file": "sst2/train.tsv", "labels": ["negative", "positive"], "max_length": 64},
    "ag_news": {"file": "ag_news/train.csv", "labels": ["World", "Sports", "Business", "Sci/Tech"], "max_length": 128},
}


def three_slices(dataset: str, folder: Path, train_rows: int, heldout_rows: int, validation_rows: int, seed: int = 0) -> dict[str, Path]:
    """Disjoint seeded slices of a labelled dataset in its own format (SST-2 TSV, AG News CSV):
    train, validation (for tlwb's `data.validation`, never scored) and heldout (what every side
    is scored on). For SST-2 the same `seed` gives the same train and heldout rows as `sst2_slices`."""
    source = SHARED_DATA / CLASSIFICATION_DATA[dataset]["file"]
    with source.open(newline="", encoding="utf-8") as handle:
        header, *rows = handle.read().splitlines() if source.suffix == ".tsv" else _csv_records(handle)
    if train_rows + heldout_rows + validation_rows > len(rows):
        raise SystemExit(f"{dataset} has {len(rows)} rows: fewer than {train_rows} + {heldout_rows} + {validation_rows}")
    random.Random(seed).shuffle(rows)
    folder.mkdir(parents=True, exist_ok=True)
    cuts = {"train": (0, train_rows), "heldout": (train_rows, train_rows + heldout_rows),
            "validation": (train_rows + heldout_rows, train_rows + heldout_rows + validation_rows)}
    paths = {}
    for name, (start, end) in cuts.items():
        paths[name] = folder / f"{name}{source.suffix}"
        paths[name].write_text("\n".join([header, *rows[start:end]]) + "\n", "utf-8")
    return paths


def _csv_records(handle: Any) -> list[str]:
    """A CSV's records as lines of CSV (a quoted field may span lines in the file)."""
    import io

    records = []
    for record in csv.reader(handle):
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(record)
        records.append(out.getvalue())
    return records


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def train_to_end(config: Any, runs_dir: Path) -> tuple[Any, Any, float]:
    """A tlwb run of `config` from launch to its end: (run, its finished event, wall seconds from
    launch to end). A run that does not finish stops the benchmark, naming its log."""
    from workbench.runner import launch, wait

    started = time.perf_counter()
    run, process = launch(config, runs_dir)
    last = wait(run, process=process)
    wall = time.perf_counter() - started
    if last is None or last.type != "finished":
        raise SystemExit(f"tlwb run failed: {last}; see {run.log_path}")
    return run, last, wall


#: The question after each review in `sst2_chat_rows`.
SST2_QUESTION = "Is this review positive or negative? Answer with one word."


def sst2_chat_rows(start: int, count: int) -> list[dict[str, str]]:
    """Short SST-2 reviews (20–90 characters, so max_length stays small) from row `start` on, as
    prompt → `positive`/`negative` pairs."""
    rows = []
    with (SHARED_DATA / "sst2" / "train.tsv").open(newline="", encoding="utf-8") as handle:
        for i, row in enumerate(csv.DictReader(handle, delimiter="\t")):
            text = row["sentence"].strip()
            if i >= start and 20 <= len(text) <= 90:
                rows.append({"prompt": f"Review: {text}\n{SST2_QUESTION}", "completion": "positive" if row["label"] == "1" else "negative"})
                if len(rows) == count:
                    break
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
