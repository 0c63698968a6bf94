"""Finished tiny runs trained once per test session, for the tests that only need one to exist.

Training even the tiny BERT costs a process start-up of torch and transformers (about ten CPU
seconds on these machines), and several test files need the same finished run only to read,
predict with, export or damage it, or as the uninterrupted reference a resumed run must match.
The first test that asks trains it, under an exclusive lock, in a folder that every xdist worker
of the session sees; each test then gets its own copy, so it may change or damage that copy freely.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.conftest import build_tiny_model, write_tiny_csv
from tests.core.tiny_runs import write_tiny_preset
from tests.core.tiny_training import tiny_config, train_to_end
from workbench.presets import load_config
from workbench.runstore import RunDir

#: The one training of each method every test shares (`tiny_training.tiny_config` otherwise): 3
#: epochs, so that both learn the tiny data with a margin (2 epochs of full fine-tuning once didn't,
#: from an unseeded tiny model) and their predictions tell the two labels apart.
SETTINGS: dict[str, dict[str, Any]] = {"full": {"epochs": 3}, "lora": {"epochs": 3, "learning_rate": 3e-2}}


def shared_folder(factory: pytest.TempPathFactory) -> Path:
    """`shared-runs` in the session's base temp folder: the controller's, under xdist (each worker's
    base temp is a folder inside it), so every worker finds what another one trained."""
    base = factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared-runs"


def trained_once(factory: pytest.TempPathFactory, key: str, train: Callable[[Path], RunDir]) -> RunDir:
    """The finished run `train(folder)` trains in the shared folder `key`: trained by the first
    caller of the session, found by the others (read it, or copy it before changing anything)."""
    root = shared_folder(factory)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if training fails
        marker = root / key / "finished-run"
        if not marker.is_file():
            folder = root / key
            shutil.rmtree(folder, ignore_errors=True)  # what a failed first try left
            run = train(folder)
            assert run.status()["state"] == "finished", run.log_path.read_text()[-3000:]
            marker.write_text(str(run.path))
        return RunDir(Path(marker.read_text()))


def copied(run: RunDir, into: Path) -> RunDir:
    into.mkdir(parents=True, exist_ok=True)
    return RunDir(shutil.copytree(run.path, into / run.path.name))


def finished_tiny_run(factory: pytest.TempPathFactory, into: Path, *, method: str = "full") -> RunDir:
    """A copy, in `into`, of the tiny BERT trained with `method` (`SETTINGS`) on the tiny CSV."""

    def train(folder: Path) -> RunDir:
        model = build_tiny_model(folder / "model")
        data = write_tiny_csv(folder / "reviews.csv")
        return train_to_end(tiny_config(model, data, method=method, **SETTINGS[method]), folder / "runs")

    return copied(trained_once(factory, method, train), into)


def checkpointed_tiny_run(factory: pytest.TempPathFactory, into: Path) -> tuple[Path, RunDir]:
    """The tiny preset that checkpoints every 4 steps and keeps 2 (`tiny_runs.write_tiny_preset`),
    and a copy in `into` of its uninterrupted run: what a run of the same preset that was killed,
    failed or cancelled must end with once resumed. Runs started from the preset read its model
    and data in the shared folder; nothing may change those."""

    def train(folder: Path) -> RunDir:
        model = build_tiny_model(folder / "model")
        preset = write_tiny_preset(folder, model, write_tiny_csv(folder / "reviews.csv"), save_total_limit=2)
        return train_to_end(load_config(preset), folder / "runs")

    reference = trained_once(factory, "checkpointed", train)
    return reference.path.parent.parent / "tiny.toml", copied(reference, into)
