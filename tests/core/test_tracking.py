"""Tracking: `training.report_to` reaches the Trainer, TensorBoard logs land in the run, and the
JSON that `tlwb runs --json` / `tlwb show RUN --json` give scripts."""

from __future__ import annotations

import json
import os
import struct
import sys
from pathlib import Path

import pytest

from tests.core.tiny_training import tiny_config, train_to_end
from tests.fakes import FakeRun
from workbench import cli
from workbench.errors import ConfigError
from workbench.runstore import tensorboard_dir
from workbench.trainer.tracking import trainer_report_to


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Scalar series from TensorBoard event files (TFRecord framing around `Event` protos)."""
    from tensorboardX.proto.event_pb2 import Event

    series: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(folder.rglob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack_from("<Q", data, offset)
            event = Event.FromString(data[offset + 12 : offset + 12 + length])
            offset += 12 + length + 4
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    series.setdefault(value.tag, []).append((event.step, value.simple_value))
    return series


# -- report_to ---------------------------------------------------------------------------------------
def test_no_trackers_means_none(tmp_path: Path) -> None:
    assert trainer_report_to([], tmp_path) == "none"
    assert trainer_report_to(["none"], tmp_path) == "none"


def test_tensorboard_is_pointed_into_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    assert trainer_report_to(["tensorboard"], tmp_path) == ["tensorboard"]
    assert os.environ["TENSORBOARD_LOGGING_DIR"] == str(tmp_path / "tensorboard")


def test_an_unknown_tracker_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown tracker 'tensorbored'") as error:
        trainer_report_to(["tensorbored"], tmp_path)
    assert "tensorboard" in error.value.hint and "wandb" in error.value.hint


def test_a_tracker_that_is_not_installed_names_its_package(tmp_path: Path) -> None:
    from transformers.integrations.integration_utils import is_comet_available

    assert not is_comet_available(), "this test needs an environment without comet_ml"
    with pytest.raises(ConfigError, match="comet_ml, but its package is not installed") as error:
        trainer_report_to(["comet_ml"], tmp_path)
    assert error.value.hint.startswith("pip install comet-ml")


# -- a real run with TensorBoard ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def tracked_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    from tests.conftest import write_tiny_csv

    folder = tmp_path_factory.mktemp("tracked")
    config = tiny_config(tiny_model_dir, write_tiny_csv(folder / "reviews.csv"), max_steps=4, logging_steps=1, report_to=["tensorboard"])
    return train_to_end(config, folder / "runs")


def test_tensorboard_logs_land_inside_the_run(tracked_run) -> None:
    assert tracked_run.status()["state"] == "finished", tracked_run.log_path.read_text()[-3000:]
    logged = scalars(tensorboard_dir(tracked_run.path))
    losses = {e["step"]: e["loss"] for e in tracked_run.events() if e["type"] == "step"}
    assert [step for step, _ in logged["train/loss"]] == sorted(losses) == [1, 2, 3, 4]
    for step, value in logged["train/loss"]:
        assert value == pytest.approx(losses[step], abs=1e-4)
    assert "train/learning_rate" in logged
    assert not (tracked_run.checkpoints_dir / "runs").exists()  # not the Trainer's default place


# -- JSON for scripts ----------------------------------------------------------------------------------
def tlwb_json(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str):
    monkeypatch.setattr(sys, "argv", ["tlwb", *args, "--json"])
    cli.main()
    return json.loads(capsys.readouterr().out)


def test_show_json_holds_everything_in_a_run(runs_dir: Path, monkeypatch, capsys) -> None:
    fake = FakeRun(runs_dir)
    fake.started(total_steps=100)
    for step in (10, 20):
        fake.step(step, loss=0.9 - step / 100)
    fake.eval(step=20, accuracy=0.81)
    fake.finish()
    shown = tlwb_json(monkeypatch, capsys, "show", fake.run.id, "--runs-dir", str(runs_dir))
    assert {"id", "path", "status", "config", "started", "labels", "history", "evals", "samples", "final", "metrics",
            "model_dir", "model_kind", "files"} <= shown.keys()
    assert shown["id"] == fake.run.id and shown["status"]["state"] == "finished"
    assert shown["config"]["method"]["kind"] == "lora" and shown["started"]["total_steps"] == 100
    assert [(h["step"], h["loss"]) for h in shown["history"]] == [(10, 0.8), (20, 0.7)]
    evaluation = shown["evals"][0]
    assert evaluation["metrics"]["accuracy"] == 0.81 and evaluation["confusion_matrix"] == [[341, 87], [77, 367]]
    assert evaluation["per_class"]["positive"]["f1"] == 0.82 and evaluation["split"] == "validation"
    assert len(shown["samples"]) == 6 and shown["final"]["type"] == "finished"
    assert shown["metrics"] == {"accuracy": 0.812, "macro_f1": 0.808}
    assert shown["model_dir"] is None and shown["model_kind"] is None  # the fake saved no model
    assert shown["files"]["events"] == str(fake.run.events_path) and shown["files"]["checkpoints"] == []


def test_runs_json_lists_each_run_with_its_model(tracked_run, monkeypatch, capsys) -> None:
    listed = tlwb_json(monkeypatch, capsys, "runs", "--runs-dir", str(tracked_run.path.parent))
    assert [entry["id"] for entry in listed] == [tracked_run.id]
    entry = listed[0]
    assert entry["state"] == "finished" and entry["method"] == "full" and entry["model_dir"] == str(tracked_run.model_dir)
    shown = tlwb_json(monkeypatch, capsys, "show", str(tracked_run.path))
    assert shown["model_kind"] == "model" and shown["files"]["tensorboard"] == str(tensorboard_dir(tracked_run.path))
    assert shown["config"]["training"]["report_to"] == ["tensorboard"]
