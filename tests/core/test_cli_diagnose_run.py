"""A run that really collapses, trained through the real CLI: `tlwb train` ends by saying so (one
line with its hint), `tlwb show --json` lists a `collapse` diagnostic, the run's summary.json was
left current by the training process, and predictions.jsonl holds every validation row."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.core.tiny_runs import hooks_env, tlwb
from workbench.config import RunConfig
from workbench.presets import config_to_toml
from workbench.run_summary import read_summary
from workbench.runinfo import load_predictions
from workbench.runstore import RunDir, resolve_run

pytestmark = pytest.mark.slow

WORDS = ["this", "movie", "film", "was", "the", "a", "it", "is"]


def _unlearnable_rows(count: int, positive_share: float, seed: int) -> str:
    """Texts that say nothing about their labels, most labels `positive`: the best a model can
    learn is to answer `positive` for everything — a collapse."""
    rng = random.Random(seed)
    lines = ["text,label"]
    for index in range(count):
        text = " ".join(rng.choice(WORDS) for _ in range(5)) + f" {index % 7}"
        lines.append(f"{text},{'positive' if rng.random() < positive_share else 'negative'}")
    return "\n".join(lines) + "\n"


def test_a_collapsed_run_is_diagnosed_at_the_end_of_train_and_in_show(tiny_model_dir: Path, tmp_path: Path, runs_dir: Path) -> None:
    train, validation = tmp_path / "train.csv", tmp_path / "validation.csv"
    train.write_text(_unlearnable_rows(160, 0.9, seed=1))
    validation.write_text(_unlearnable_rows(40, 0.75, seed=2))
    config = RunConfig.model_validate({
        "name": "collapse", "model": {"name": str(tiny_model_dir)},
        "data": {"train": str(train), "validation": str(validation)}, "method": {"kind": "full"},
        "training": {"epochs": 2, "batch_size": 16, "max_length": 16, "logging_steps": 2, "learning_rate": 5e-3, "seed": 7,
                     "num_samples": 8},
    })
    preset = tmp_path / "collapse.toml"
    preset.write_text(config_to_toml(config))

    done = tlwb("train", str(preset), "--runs-dir", str(runs_dir), env={**hooks_env(), "COLUMNS": "200"})
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    collapse = next((i for i, line in enumerate(lines) if "collapse:" in line), None)
    assert collapse is not None, done.stdout
    assert "for 100% of rows" in lines[collapse] or "majority baseline" in lines[collapse]
    assert lines[collapse + 1].strip().startswith("hint:")

    run = resolve_run("collapse", runs_dir)
    shown = json.loads(tlwb("show", run.id, "--runs-dir", str(runs_dir), "--json").stdout)
    kinds = [d["kind"] for d in shown["diagnostics"]]
    assert "collapse" in kinds
    assert shown["predictions"] == 40  # every validation row, not num_samples (8)

    predictions = load_predictions(RunDir(run.path))
    assert len(predictions) == 40 and sorted(p["index"] for p in predictions) == list(range(40))
    assert {"text", "gold", "pred", "confidence"} <= set(predictions[0])
    assert len(shown["samples"]) == 8

    summary = read_summary(run)  # written by the training process at its end, still current
    assert summary is not None and summary["state"] == "finished"
    assert "collapse" in [d["kind"] for d in summary["diagnostics"]]
