"""Multi-process training: the torchrun launch, rank-0-only writing, and one failure per run."""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from workbench.trainer import failures, launcher, ranks
from workbench.events import EventWriter
from workbench.fsutil import atomic_write_text
from workbench.presets import config_to_toml
from workbench.runner import cancel, launch, training_command, wait
from workbench.runstore import RunDir

from tests.core.tiny_training import tiny_config, train_to_end


def make_run(tmp_path: Path, **training) -> RunDir:
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    atomic_write_text(run.config_path, config_to_toml(tiny_config(tmp_path / "model", tmp_path / "data.csv", **training)))
    return run


def types_of(run: RunDir) -> Counter:
    return Counter(event["type"] for event in run.events())


# -- the launch command ---------------------------------------------------------------------------
def test_one_process_runs_the_training_module_directly(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    assert training_command(run) == [sys.executable, "-m", "workbench.trainer", str(run.path)]


def test_several_processes_go_through_the_launcher(tmp_path: Path) -> None:
    run = make_run(tmp_path, nproc=4)
    assert training_command(run, resume=True) == [
        sys.executable, "-m", "workbench.trainer.launcher", str(run.path), "--nproc", "4", "--resume",
    ]


def test_the_cli_nproc_option_sets_training_nproc(tmp_path: Path, tiny_model_dir: Path, tiny_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import workbench.runner
    from workbench.cli import app

    class Launched(Exception):
        pass

    def launch_nothing(config, runs_dir, **kwargs):
        raise Launched(config)

    monkeypatch.setattr(workbench.runner, "launch", launch_nothing)
    preset = tmp_path / "tiny.toml"
    preset.write_text(config_to_toml(tiny_config(tiny_model_dir, tiny_csv)))
    with pytest.raises(Launched) as launched:
        app(["train", str(preset), "--nproc", "3", "--runs-dir", str(tmp_path / "runs")], standalone_mode=False)
    assert launched.value.args[0].training.nproc == 3


def test_torchrun_is_standalone_unless_given_a_rendezvous(tmp_path: Path) -> None:
    single_node = launcher.torchrun_command(tmp_path, 2)
    assert single_node[:4] == [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    assert single_node[-3:] == ["-m", "workbench.trainer", str(tmp_path)]
    assert single_node[single_node.index("--nproc-per-node") + 1] == "2"
    multi_node = launcher.torchrun_command(tmp_path, 8, resume=True, extra=["--nnodes", "2", "--rdzv-endpoint=head:29500"])
    assert "--standalone" not in multi_node
    assert multi_node[3:7] == ["--nnodes", "2", "--rdzv-endpoint=head:29500", "--nproc-per-node"]
    assert multi_node[-1] == "--resume"


def test_launcher_takes_torchrun_options_after_a_double_dash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}
    monkeypatch.setattr(launcher, "launch", lambda run, nproc, resume, extra: seen.update(run=run, nproc=nproc, resume=resume, extra=extra) or 0)
    monkeypatch.setenv(launcher.TORCHRUN_ARGS_ENV, "--nnodes 2")
    assert launcher.main([str(tmp_path), "--nproc", "3", "--resume", "--", "--rdzv-endpoint", "head:29500"]) == 0
    assert seen == {"run": RunDir(tmp_path), "nproc": 3, "resume": True, "extra": ["--nnodes", "2", "--rdzv-endpoint", "head:29500"]}


def test_ranks_share_the_cpu_threads_and_know_their_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    environment = launcher.rank_environment(4, base={"PATH": "/bin"})
    assert environment["OMP_NUM_THREADS"] == "4"
    assert environment[ranks.LAUNCHER_ENV] == str(os.getpid())
    assert launcher.rank_environment(4, base={"OMP_NUM_THREADS": "2"})["OMP_NUM_THREADS"] == "2"


# -- rank 0 writes, the others only read -----------------------------------------------------------
def test_only_rank_zero_writes_events_and_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = make_run(tmp_path)
    run.write_status(state="running")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    follower = ranks.rank_view(run)
    follower.write_status(state="finished")
    event = ranks.event_writer(follower).emit("step", step=1)
    assert event["step"] == 1 and not run.events_path.exists()
    assert run.read_status()["state"] == "running"
    monkeypatch.setenv("RANK", "0")
    assert ranks.rank_view(run) is run
    ranks.event_writer(run).emit("step", step=1)
    assert types_of(run) == {"step": 1}


def test_the_launchers_pid_stays_in_the_status(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ranks.LAUNCHER_ENV, raising=False)
    assert ranks.process_record()["pid"] == os.getpid()
    monkeypatch.setenv(ranks.LAUNCHER_ENV, "12345")
    assert ranks.process_record() == {}


# -- failures: every rank's, reported once ---------------------------------------------------------
def test_the_first_rank_failure_is_the_runs_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = make_run(tmp_path)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    failures.record_rank_failure(run, "crash", "RuntimeError: CUDA error: illegal memory access", "see train.log")
    time.sleep(0.01)
    monkeypatch.setenv("RANK", "0")
    failures.record_rank_failure(run, "crash", "RuntimeError: Connection closed by peer", "see train.log")
    assert launcher.report_run_end(run, exit_code=1) is True
    failed = [e for e in run.events() if e["type"] == "failed"]
    assert [f["message"] for f in failed] == ["rank 1: RuntimeError: CUDA error: illegal memory access"]
    assert run.read_status()["state"] == "failed"
    assert launcher.report_run_end(run, exit_code=1) is False  # never a second terminal event
    assert types_of(run)["failed"] == 1


def test_a_silent_death_still_fails_the_run(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    assert launcher.report_run_end(run, exit_code=-9)
    status = run.read_status()
    assert status["state"] == "failed" and "exit code -9" in status["message"] and "train.log" in status["hint"]


def test_a_launch_cancelled_before_training_ends_cancelled(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    assert launcher.report_run_end(run, exit_code=1, cancelled=True)
    assert [e["type"] for e in run.events()] == ["cancelled"]
    status = run.read_status()
    assert status["state"] == "cancelled" and "start the run again" in status["hint"]


def test_a_finished_run_is_left_alone_by_the_launcher(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    EventWriter(run.events_path).emit("finished", metrics={})
    assert launcher.report_run_end(run, exit_code=1) is False
    assert types_of(run) == {"finished": 1}


# -- real 2-process gloo runs of the tiny model ----------------------------------------------------
@pytest.fixture
def two_process_config(tiny_model_dir: Path, tiny_csv: Path):
    return tiny_config(tiny_model_dir, tiny_csv, nproc=2, save_steps=5, report_to=["tensorboard"])


def test_two_processes_write_one_coherent_run(two_process_config, runs_dir: Path, tiny_model_dir: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    from workbench.inference import load_run_model

    run, launcher = launch(two_process_config, runs_dir)
    assert wait(run, process=launcher, timeout_s=400)["type"] == "finished", run.log_path.read_text()[-3000:]
    assert launcher.wait(timeout=60) == 0, run.log_path.read_text()[-3000:]
    events = run.events()
    counts = types_of(run)
    assert counts["started"] == 1 and counts["finished"] == 1 and counts["failed"] == 0
    steps = [e["step"] for e in events if e["type"] == "step"]
    assert steps == sorted(set(steps)) and steps
    evals = [(e["split"], e["step"]) for e in events if e["type"] == "eval"]
    assert len(evals) == len(set(evals)) == 2  # one per epoch
    started = next(e for e in events if e["type"] == "started")
    # 72 training rows, 8 per process and step, 2 processes: 5 steps an epoch (one process takes 9)
    assert started["effective_batch_size"] == 16 and started["total_steps"] == 10
    assert events[-1]["type"] == "finished" and events[-1]["step"] == 10
    status = run.status()
    assert status["state"] == "finished" and status["pid"] == launcher.pid
    assert not list(failures.ranks_dir(run).glob("*.json"))
    assert len(list((run.path / "tensorboard").glob("events.out.tfevents.*"))) == 1  # rank 0's only
    initial = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    trained = load_run_model(run)  # the saved model loads, and the averaged updates reached it
    assert not torch.equal(initial.classifier.weight, trained.model.classifier.weight)
    assert trained.predict(["this movie was good and great"])[0]["label"] in {"positive", "negative"}


def test_a_crash_on_rank_one_is_the_runs_failure(two_process_config, runs_dir: Path) -> None:
    env = dict(os.environ, TLWB_FAULTS="crash_rank=1")
    run = train_to_end(two_process_config, runs_dir, env=env)
    status = run.status()
    assert status["state"] == "failed" and status["kind"] == "crash"
    assert status["message"] == "rank 1: RuntimeError: simulated crash on rank 1 (TLWB_FAULTS)"
    counts = types_of(run)
    assert counts["failed"] == 1 and counts["finished"] == 0 and counts["started"] == 1


def test_cancel_stops_every_rank_at_the_same_step(two_process_config, runs_dir: Path) -> None:
    env = dict(os.environ, TLWB_FAULTS="hold_at_step=3")  # every rank held after the step-2 event, until the cancel
    run, launcher = launch(two_process_config, runs_dir, env=env)
    deadline = time.monotonic() + 300
    while not any(e["type"] == "step" for e in run.events()):
        assert time.monotonic() < deadline and launcher.poll() is None, run.log_path.read_text()[-3000:]
        time.sleep(0.3)
    assert cancel(run)
    last = wait(run, process=launcher, timeout_s=300)
    assert last["type"] == "cancelled" and last["checkpoint"], run.log_path.read_text()[-3000:]
    assert launcher.wait(timeout=60) == 0
    assert run.status()["state"] == "cancelled"
    assert types_of(run)["cancelled"] == 1 and types_of(run)["failed"] == 0
