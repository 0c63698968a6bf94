"""Shared bits of the benchmarks: data slices from ../shared/data, timing, tables."""

from __future__ import annotations

import os
import random
import statistics
from pathlib import Path

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


def sst2_three_slices(folder: Path, train_rows: int, heldout_rows: int, validation_rows: int, seed: int = 0) -> dict[str, Path]:
    """Disjoint seeded slices of SST-2 as GLUE-style TSVs: train, validation (for tlwb's
    `data.validation`, never scored) and heldout (what every side is scored on). The same
    `seed` gives the same train and heldout rows as `sst2_slices`."""
    lines = (SHARED_DATA / "sst2" / "train.tsv").read_text("utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    random.Random(seed).shuffle(rows)
    folder.mkdir(parents=True, exist_ok=True)
    cuts = {"train": (0, train_rows), "heldout": (train_rows, train_rows + heldout_rows),
            "validation": (train_rows + heldout_rows, train_rows + heldout_rows + validation_rows)}
    paths = {}
    for name, (start, end) in cuts.items():
        paths[name] = folder / f"{name}.tsv"
        paths[name].write_text("\n".join([header, *rows[start:end]]) + "\n", "utf-8")
    return paths


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
