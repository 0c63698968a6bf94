"""Tiny runs trained to the end through the runner, for the distributed, export and tracking tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.config import RunConfig
from workbench.runner import launch, wait
from workbench.runstore import RunDir


def tiny_config(model_dir: Path, data: Path, *, method: str = "full", **training: Any) -> RunConfig:
    """The tiny BERT on the tiny CSV: 72 training rows, 8 held out, a learning rate that learns."""
    settings: dict[str, Any] = {"epochs": 2, "batch_size": 8, "max_length": 32, "logging_steps": 2, "learning_rate": 5e-3, "seed": 7}
    settings.update(training)
    return RunConfig.model_validate(
        {"name": f"tiny-{method}", "model": {"name": str(model_dir)}, "data": {"train": str(data)}, "method": {"kind": method}, "training": settings}
    )


def train_to_end(config: RunConfig, runs_dir: Path, env: dict[str, str] | None = None, timeout_s: float = 400) -> RunDir:
    run, process = launch(config, runs_dir, env=env)
    wait(run, process=process, timeout_s=timeout_s)
    process.wait(timeout=60)
    return run
