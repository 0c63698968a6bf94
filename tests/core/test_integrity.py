"""Integrity: atomic status/config/preset writes, torn event tails, runs side by side, a full
disk while saving, and a model directory that is only usable once completely written."""

from __future__ import annotations

import json
import shutil
import threading
import tomllib
from pathlib import Path
from typing import Callable

import pytest

from tests.core.tiny_runs import events_of, hooks_env, tlwb, wait_until_ended, write_tiny_preset
from tests.fakes import FakeRun, fake_config
from workbench.fsutil import atomic_write_text
from workbench.presets import config_to_toml, load_config, save_preset
from workbench.runner import follow, launch


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "status.json"
    target.write_text('{"state": "running"}')

    def crash(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", crash)
    with pytest.raises(OSError):
        atomic_write_text(target, '{"state": "finished"}')
    assert target.read_text() == '{"state": "running"}'
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def _writers(tmp_path: Path) -> dict[str, tuple[Path, Callable[[int], None], Callable[[str], object]]]:
    """name -> (file, write version i, parse): the three files a reader may catch mid-write."""
    run = FakeRun(tmp_path / "runs").run
    small, large = fake_config(), fake_config(description="x" * 200_000)
    presets = tmp_path / "presets"
    return {
        "status.json": (run.status_path, lambda i: run.write_status(step=i, padding="y" * (i % 2) * 200_000), json.loads),
        "config.toml": (run.config_path, lambda i: atomic_write_text(run.config_path, config_to_toml((small, large)[i % 2])), tomllib.loads),
        "preset": (presets / "mine.toml", lambda i: save_preset((small, large)[i % 2], "mine", folder=presets, overwrite=True), tomllib.loads),
    }


@pytest.mark.parametrize("name", ["status.json", "config.toml", "preset"])
def test_readers_never_see_a_half_written_file(tmp_path: Path, name: str) -> None:
    path, write, parse = _writers(tmp_path)[name]
    write(0)
    done = threading.Event()

    def keep_writing() -> None:
        for i in range(60):
            write(i)
        done.set()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    reads = 0
    while not done.is_set():
        parse(path.read_text("utf-8"))  # a torn file would raise here
        reads += 1
    writer.join()
    assert reads > 0


def test_a_torn_last_event_line_breaks_no_reader(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    fake.step(1, 0.69)
    fake.fail(kind="vanished", message="killed", hint="resume it")
    with fake.run.events_path.open("a") as handle:
        handle.write('{"type": "step", "time": 1796000099.0, "step": 2, "lo')  # the kill cut this line
    shown = tlwb("show", fake.run.id, "--runs-dir", str(runs_dir), "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["final"]["type"] == "failed"
    assert tlwb("runs", "--runs-dir", str(runs_dir)).returncode == 0
    attached = tlwb("attach", fake.run.id, "--runs-dir", str(runs_dir))
    assert attached.returncode == 1 and "failed" in attached.stdout and "Traceback" not in attached.stderr
    assert [e["type"] for e in follow(fake.run)] == ["started", "step", "failed"]


def test_a_model_dir_without_its_completion_mark_is_never_used(runs_dir: Path, tiny_model_dir: Path, tiny_csv: Path) -> None:
    run = FakeRun(runs_dir).run
    run.write_status(state="failed", kind="disk", message="disk full", hint="free space")
    shutil.copytree(tiny_model_dir, run.model_dir)  # every file there, but the save never finished
    assert run.trained_model_dir() is None
    for args in (["eval", run.id, "--data", str(tiny_csv)], ["predict", run.id, "good movie"]):
        done = tlwb(*args, "--runs-dir", str(runs_dir))
        assert done.returncode == 2 and "has no saved model (state: failed)" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def side_by_side(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two runs launched at once into one runs directory; the second finds the disk full at its
    final save, after its last checkpoint (step 18). What the failed run showed is kept, then
    space is freed and `tlwb resume --json` finishes it from that final checkpoint."""
    folder = tmp_path_factory.mktemp("side-by-side")
    data = folder / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"good great movie {i},positive\nbad awful film {i},negative\n" for i in range(40)))
    config = load_config(write_tiny_preset(folder, tiny_model_dir, data))
    runs_dir = folder / "runs"
    healthy, _ = launch(config, runs_dir, env=hooks_env())
    full, _ = launch(config, runs_dir, env=hooks_env(disk_full_on_save=1))
    wait_until_ended(healthy)
    wait_until_ended(full)
    failed = {"status": full.status(), "events": events_of(full, "failed"), "checkpoint": full.latest_checkpoint(),
              "model_left": full.model_dir.exists() or (full.path / ".model.partial").exists(),
              "eval": tlwb("eval", full.id, "--data", "x.csv", "--runs-dir", str(runs_dir)), "log": full.log_path.read_text()}
    resumed = tlwb("resume", full.id, "--runs-dir", str(runs_dir), "--json")  # space freed: the hook is gone
    return {"healthy": healthy, "full": full, "runs_dir": runs_dir, "failed": failed, "resumed": resumed}


def test_two_runs_at_once_keep_to_their_own_directories(side_by_side: dict) -> None:
    healthy, full, runs_dir = side_by_side["healthy"], side_by_side["full"], side_by_side["runs_dir"]
    assert healthy.id != full.id and sorted(p.name for p in runs_dir.iterdir()) == sorted([healthy.id, full.id])
    assert healthy.status()["state"] == "finished", healthy.log_path.read_text()[-3000:]
    assert len(events_of(healthy, "started")) == 1
    for run in (healthy, full):
        assert all(str(run.path) in e["path"] for e in events_of(run, "checkpoint"))
    assert healthy.read_status()["pid"] != full.read_status()["pid"]
    assert healthy.trained_model_dir() == healthy.model_dir


def test_disk_full_while_saving_fails_cleanly_and_resume_recovers(side_by_side: dict) -> None:
    full, failed = side_by_side["full"], side_by_side["failed"]
    assert failed["status"]["state"] == "failed" and failed["status"]["kind"] == "disk", failed["log"][-3000:]
    (event,) = failed["events"]
    assert event["message"].startswith("the disk is full: could not write") and "\n" not in event["message"]
    assert f"tlwb resume {full.id}" in event["hint"] and "free now" in event["hint"]
    assert not failed["model_left"]  # no half model left behind
    assert failed["eval"].returncode == 2 and "has no saved model" in failed["eval"].stderr

    resumed = side_by_side["resumed"]
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert full.status()["state"] == "finished" and full.trained_model_dir() == full.model_dir
    assert [s["resumed"] for s in events_of(full, "started")] == [False, True]


def test_metrics_after_resuming_from_the_final_checkpoint_are_rounded_like_every_event(side_by_side: dict) -> None:
    """The resume starts from the final checkpoint, trains nothing and evaluates: its `finished`
    metrics are the eval event's, rounded alike, with no timings among them."""
    full, resumed = side_by_side["full"], side_by_side["resumed"]
    assert side_by_side["failed"]["checkpoint"].name == "checkpoint-18"
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    metrics = json.loads(resumed.stdout.strip().splitlines()[-1])["metrics"]
    last_eval = events_of(full, "eval")[-1]["metrics"]
    assert metrics == last_eval and "accuracy" in metrics and "loss" in metrics
    assert not {"runtime", "samples_per_second", "steps_per_second", "epoch"} & set(metrics)
    assert all(round(value, 6) == value for value in metrics.values() if isinstance(value, float)), metrics
