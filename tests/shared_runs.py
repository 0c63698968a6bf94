"""Finished tiny runs trained once per test session, for the tests that only need one to exist.

Training even the tiny BERT costs a process start-up of torch and transformers (about ten CPU
seconds on these machines), and several test files need the same finished run only to read,
predict with, export or damage it. The first test that asks trains it, under an exclusive lock,
in a folder that every xdist worker of the session sees; each test then gets its own copy, so it
may change or damage that copy freely.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import build_tiny_model, write_tiny_csv
from tests.core.tiny_training import tiny_config, train_to_end
from workbench.runstore import RunDir


def shared_folder(factory: pytest.TempPathFactory) -> Path:
    """`shared-runs` in the session's base temp folder: the controller's, under xdist (each worker's
    base temp is a folder inside it), so every worker finds what another one trained."""
    base = factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared-runs"


def finished_tiny_run(factory: pytest.TempPathFactory, into: Path, *, method: str = "full", epochs: int = 1) -> RunDir:
    """A copy, in `into`, of the tiny BERT trained with `method` for `epochs` on the tiny CSV
    (`tiny_training.tiny_config`), finished; trained by the first caller of the session."""
    root = shared_folder(factory)
    root.mkdir(parents=True, exist_ok=True)
    key = f"{method}-{epochs}-epochs"
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if training fails
        marker = root / key / "finished-run"
        if not marker.is_file():
            folder = root / key
            shutil.rmtree(folder, ignore_errors=True)  # what a failed first try left
            model = build_tiny_model(folder / "model")
            data = write_tiny_csv(folder / "reviews.csv")
            run = train_to_end(tiny_config(model, data, method=method, epochs=epochs), folder / "runs")
            assert run.status()["state"] == "finished", run.log_path.read_text()[-3000:]
            marker.write_text(str(run.path))
        source = Path(marker.read_text())
    into.mkdir(parents=True, exist_ok=True)
    copy = shutil.copytree(source, into / source.name)
    return RunDir(copy)
