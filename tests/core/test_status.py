"""Truthful status: a run whose process died is `failed` (vanished), never `running` forever.

Liveness is the lock the training process holds on `RUN/.lock` for its whole life; run
directories without a `.lock` (older versions) fall back to pid *and* process start time, so a
pid the OS handed to another process doesn't keep a dead run alive. A process gone while status
says running is reconciled with the events; a garbled status.json is rebuilt from them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.core.tiny_runs import Hold, hooks_env, start_detached, tlwb, wait_for, wait_for_event, wait_until_ended, write_tiny_preset
from workbench.presets import load_config
from workbench.runner import create_run
from tests.fakes import FakeRun
from workbench import runstore
from workbench.errors import RunError
from workbench.runstore import LAUNCH_GRACE_S, RunDir, process_alive, process_start_time


def test_process_alive_needs_the_same_start_time() -> None:
    me = os.getpid()
    started = psutil.Process(me).create_time()
    assert process_alive(me, started)
    assert process_alive(me, None)  # no start time recorded: the pid alone decides
    assert not process_alive(me, started - 3600)  # same pid, another process: a recycled pid
    assert not process_alive(me, started + 5)
    assert not process_alive(None, started)


def test_a_zombie_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = process_start_time(child.pid)
    deadline = time.monotonic() + 30
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.05)  # exited but not reaped yet: still in the process table
    assert not process_alive(child.pid, started)
    child.wait()


def _write_raw_status(run: RunDir, **status: object) -> None:
    run.status_path.write_text(json.dumps(status))  # bypasses write_status, which stamps updated_at now


def test_a_starting_run_whose_launcher_died_becomes_failed(runs_dir: Path, tiny_csv: Path) -> None:
    config = load_config(None, ["model.name=bert-tiny", f"data.train={tiny_csv}"])
    run = create_run(config, runs_dir)  # the launcher died right here: no process was ever spawned
    assert run.status()["state"] == "starting"  # within the grace period
    _write_raw_status(run, state="starting", created_at=time.time() - 120, updated_at=time.time() - LAUNCH_GRACE_S - 1)
    status = run.status()
    assert status["state"] == "failed" and status["kind"] == "vanished"
    assert "tlwb resume" in status["hint"]


def test_a_starting_run_with_a_dead_pid_fails_at_once(runs_dir: Path, tiny_csv: Path) -> None:
    config = load_config(None, ["model.name=bert-tiny", f"data.train={tiny_csv}"])
    run = create_run(config, runs_dir)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = process_start_time(child.pid)
    child.wait()
    run.write_status(state="starting", pid=child.pid, pid_start=started)
    assert run.status()["state"] == "failed"


def test_a_recycled_pid_does_not_keep_a_run_running(runs_dir: Path, tiny_csv: Path) -> None:
    config = load_config(None, ["model.name=bert-tiny", f"data.train={tiny_csv}"])
    run = create_run(config, runs_dir)
    me = psutil.Process(os.getpid())
    run.write_status(state="running", pid=me.pid, pid_start=me.create_time() - 600)
    assert run.status()["state"] == "failed"
    run.write_status(pid_start=me.create_time())
    assert run.status()["state"] == "running"


def test_kill_9_of_a_real_training_process_shows_failed_with_the_last_event_time(
    tiny_model_dir: Path, tiny_csv: Path, runs_dir: Path, tmp_path: Path
) -> None:
    preset = write_tiny_preset(tmp_path, tiny_model_dir, tiny_csv)
    run = start_detached(preset, runs_dir, Hold(tmp_path, at_step=3).env, "--no-preflight")  # held (after the step-2 event) until killed
    wait_for_event(run, "step")
    pid = run.read_status()["pid"]
    assert run.status()["state"] == "running"
    os.kill(pid, signal.SIGKILL)
    status = wait_until_ended(run, timeout=30)
    assert status["state"] == "failed" and status["kind"] == "vanished"
    last_event = run.events()[-1]["time"]
    assert status["last_event_at"] == pytest.approx(last_event)
    assert time.strftime("%H:%M:%S", time.localtime(last_event)) in status["message"]
    listed = json.loads(tlwb("runs", "--runs-dir", str(runs_dir), "--json").stdout)
    assert [(r["id"], r["state"]) for r in listed] == [(run.id, "failed")]
    attached = tlwb("attach", run.id, "--runs-dir", str(runs_dir), timeout=120)  # history, then the verdict; no hang
    assert attached.returncode == 1
    assert "failed (vanished)" in attached.stdout and "tlwb resume" in attached.stdout


# -- liveness by lock ------------------------------------------------------------------------------

def test_the_lock_says_whether_a_run_is_alive(runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runstore, "LOCK_WAIT_S", 0.2)
    run = FakeRun(runs_dir).run
    assert run.is_alive() is None  # no .lock: a run directory from before the lock
    lock = run.hold_lock()
    assert run.is_alive() is True and run.lock_owner()["pid"] == os.getpid()
    with pytest.raises(RunError, match="already being trained by another process"):
        run.hold_lock()  # a second trainer into the same run directory
    lock.release()
    wait_for(lambda: run.is_alive() is False, 60, what="the training process to exit and free its lock")


def test_a_held_lock_keeps_a_run_with_a_garbled_status_running(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    fake.step(10, 0.6)
    lock = fake.run.hold_lock()
    try:
        fake.run.status_path.write_text("{\"state\": \"runn")  # torn
        status = fake.run.status()
        assert status.state == "running" and status.pid == os.getpid()
        assert json.loads(fake.run.status_path.read_text())["state"] == "running"  # rebuilt from the events
    finally:
        lock.release()
    fake.run.status_path.write_text("garbage")
    status = fake.run.status()  # the lock is free now: the process is gone and no terminal event says why
    assert status.state == "failed" and status.kind == "vanished"


@pytest.mark.parametrize("ending, expected", [
    (lambda fake: fake.writer.emit("finished", metrics={"accuracy": 0.8}), ("finished", None)),
    (lambda fake: fake.writer.emit("failed", kind="disk", message="the disk is full", hint="free space"), ("failed", "disk")),
    (lambda fake: None, ("failed", "vanished")),
])
def test_a_process_gone_while_status_says_running_is_reconciled_with_the_events(runs_dir: Path, ending, expected) -> None:
    """A kill between the last event and the status update (or a status write that hit a full
    disk) leaves status.json saying running: the events tell how the run really ended."""
    fake = FakeRun(runs_dir)
    fake.started()
    ending(fake)
    fake.run.hold_lock().release()  # a process took the lock once and is gone
    fake.run.write_status(state="running", pid=None, pid_start=None)
    status = fake.run.status()
    assert (status.state, status.kind) == expected


def test_a_live_run_with_a_garbled_status_is_running_refuses_resume_and_a_second_trainer_and_cancels(
    tiny_model_dir: Path, tiny_csv: Path, runs_dir: Path, tmp_path: Path
) -> None:
    preset = write_tiny_preset(tmp_path, tiny_model_dir, tiny_csv)
    run = start_detached(preset, runs_dir, Hold(tmp_path, at_step=5).env, "--no-preflight")  # held until the cancel
    wait_for_event(run, "checkpoint")  # training, with a checkpoint a resume could start from
    run.status_path.write_text('{"state": "fail')  # garbled mid-write
    listed = json.loads(tlwb("runs", "--runs-dir", str(runs_dir), "--json").stdout)
    assert [(r["id"], r["state"]) for r in listed] == [(run.id, "running")]
    run.status_path.write_text('{"state": "cancelled"}')  # even a status that lies: the lock is held
    resumed = tlwb("resume", run.id, "--runs-dir", str(runs_dir), "--detach")
    assert resumed.returncode == 2 and "is still running" in resumed.stderr, resumed.stderr
    events_before = run.events_path.read_bytes()
    second = subprocess.run([sys.executable, "-m", "workbench.trainer", str(run.path)], capture_output=True, text=True, timeout=120)
    assert second.returncode == 2 and "already being trained by another process" in second.stderr, second.stderr
    assert run.events_path.read_bytes()[: len(events_before)] == events_before  # it wrote nothing of its own
    assert not any(e.type == "failed" for e in run.events())
    cancelled = tlwb("cancel", run.id, "--runs-dir", str(runs_dir))
    assert cancelled.returncode == 0, cancelled.stderr
    status = wait_until_ended(run, timeout=120)
    assert status["state"] == "cancelled", run.log_path.read_text()[-3000:]
    wait_for(lambda: run.is_alive() is False, 60, what="the training process to exit and free its lock")
