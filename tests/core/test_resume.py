"""Resume: a run SIGKILLed mid-epoch and resumed ends exactly where the uninterrupted run ends.

Two real tiny runs of the same preset and seed: one ran through (`shared_runs`), the other kills
itself (SIGKILL, no chance to write anything) at step 10, between the checkpoints at 8 and 12. `tlwb
resume` continues it from checkpoint-8 in the same directory. Same optimizer, scheduler, RNG and
data order means the same weights, not just similar metrics.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.core.tiny_runs import (
    TINY_STEPS,
    events_of,
    hooks_env,
    start_detached,
    step_losses,
    tlwb,
    wait_until_ended,
)
from tests import shared_runs
from tests.fakes import FakeRun
from workbench.runstore import RunDir

KILL_AT_STEP = 10


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunDir]:
    """The uninterrupted run (the session's shared one) and the killed-then-resumed run of the same
    preset (each checked to have ended as expected)."""
    runs_dir = tmp_path_factory.mktemp("resume") / "runs"
    preset, whole = shared_runs.checkpointed_tiny_run(tmp_path_factory, runs_dir)
    killed = start_detached(preset, runs_dir, hooks_env(kill_at_step=KILL_AT_STEP), "--no-preflight")
    vanished = wait_until_ended(killed)
    assert vanished["state"] == "failed" and vanished["kind"] == "vanished", killed.log_path.read_text()[-3000:]
    killed_pid = json.loads(killed.status_path.read_text())["pid"]

    resumed = tlwb("resume", killed.id, "--runs-dir", str(runs_dir))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    return {"whole": whole, "resumed": killed, "killed_pid": killed_pid, "resume_output": resumed.stdout, "runs_dir": runs_dir}


def test_the_killed_run_left_a_mid_epoch_checkpoint_and_no_terminal_event(runs: dict) -> None:
    run = runs["resumed"]
    events = run.events()
    first_start = next(i for i, e in enumerate(events) if e["type"] == "started")
    second_start = next(i for i, e in enumerate(events) if e["type"] == "started" and i > first_start)
    before = events[:second_start]
    assert not [e for e in before if e["type"] in {"finished", "failed", "cancelled"}]  # SIGKILL: nothing was written
    assert [e["step"] for e in before if e["type"] == "checkpoint"] == [4, 8]
    # Killed at the end of step 10, before it was logged: steps 9-10 (and the epoch's eval at 9) are redone.
    assert max(e["step"] for e in before if e["type"] == "step") == 8
    assert [e["step"] for e in before if e["type"] == "eval"] == [9]


def test_events_continue_in_the_same_file_marked_as_resumed(runs: dict) -> None:
    run = runs["resumed"]
    started = events_of(run, "started")
    assert [s["resumed"] for s in started] == [False, True]
    assert started[1]["resumed_from_step"] == 8
    assert "resuming from checkpoint-8" in [e["message"] for e in events_of(run, "log")]
    assert run.events()[-1]["type"] == "finished"
    assert "resuming" in runs["resume_output"] and "finished" in runs["resume_output"]
    status = json.loads(run.status_path.read_text())
    assert status["state"] == "finished" and status["pid"] != runs["killed_pid"]
    assert "kind" not in status and "message" not in status  # the vanished verdict doesn't stick


def test_resumed_run_ends_with_the_uninterrupted_runs_weights_and_metrics(runs: dict) -> None:
    from safetensors.torch import load_file

    whole, resumed = runs["whole"], runs["resumed"]
    a = load_file(str(whole.model_dir / "model.safetensors"))
    b = load_file(str(resumed.model_dir / "model.safetensors"))
    assert a.keys() == b.keys()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-6
    assert step_losses(resumed) == pytest.approx(step_losses(whole), abs=1e-6)
    final_a, final_b = events_of(whole, "finished")[0]["metrics"], events_of(resumed, "finished")[0]["metrics"]
    assert final_a["loss"] == pytest.approx(final_b["loss"], abs=1e-6)
    assert final_a["accuracy"] == final_b["accuracy"]


def test_old_checkpoints_are_pruned_to_the_limit(runs: dict) -> None:
    for run in (runs["whole"], runs["resumed"]):
        kept = sorted(p.name for p in run.checkpoints_dir.iterdir())
        assert kept == ["checkpoint-16", f"checkpoint-{TINY_STEPS}"]  # save_total_limit = 2; the last step is saved too


def test_resume_refuses_a_finished_run(runs: dict) -> None:
    done = tlwb("resume", runs["whole"].id, "--runs-dir", str(runs["runs_dir"]))
    assert done.returncode == 2
    assert "already finished" in done.stderr and "hint:" in done.stderr and "Traceback" not in done.stderr


def test_resume_refuses_a_run_without_a_checkpoint(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)
    fake.started()
    fake.fail(kind="crash", message="boom", hint="")
    done = tlwb("resume", fake.run.id, "--runs-dir", str(runs_dir))
    assert done.returncode == 2, done.stderr
    assert "no checkpoint to resume from" in done.stderr and "tlwb train" in done.stderr
    assert fake.run.read_status()["state"] == "failed"  # nothing was launched


def test_resume_refuses_a_run_that_is_still_going(runs_dir: Path) -> None:
    fake = FakeRun(runs_dir)  # its pid is this (live) test process
    (fake.run.checkpoints_dir / "checkpoint-4").mkdir(parents=True)
    (fake.run.checkpoints_dir / "checkpoint-4" / "trainer_state.json").write_text("{}")
    done = tlwb("resume", fake.run.id, "--runs-dir", str(runs_dir))
    assert done.returncode == 2 and "still running" in done.stderr and f"pid {os.getpid()}" in done.stderr


def test_a_checkpoint_torn_by_a_kill_is_not_resumed_from(runs_dir: Path) -> None:
    run = FakeRun(runs_dir).run
    for step, state in ((4, "{}"), (8, '{"global_st'), (12, None)):
        folder = run.checkpoints_dir / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        if state is not None:
            (folder / "trainer_state.json").write_text(state)
    assert run.latest_checkpoint() == run.checkpoints_dir / "checkpoint-4"
