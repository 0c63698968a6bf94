"""Detach and re-attach: a run lives in its own session, so closing the terminal (SIGHUP) of
`tlwb train`, `tlwb attach` or the TUI leaves it training; `attach` shows the history and
follows it live to the end.

The terminals are real pseudo-terminals (`PtyCommand`): closing our side makes the kernel send
SIGHUP, exactly as when a terminal window closes or an SSH link drops.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.core.tiny_runs import (
    TINY_STEPS,
    TLWB,
    Hold,
    PtyCommand,
    events_of,
    hooks_env,
    start_detached,
    tlwb,
    wait_for,
    wait_until_ended,
    write_tiny_preset,
)
from workbench.runstore import RunDir, process_alive

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_terminal_left_behind():
    """A test that fails half-way would leave its terminal's command running (spinning, even)."""
    yield
    while PtyCommand.opened:
        PtyCommand.opened.pop().kill()


@pytest.fixture
def preset(tiny_model_dir: Path, tiny_csv: Path, tmp_path: Path) -> Path:
    return write_tiny_preset(tmp_path, tiny_model_dir, tiny_csv)


#: The step runs are held at (`tiny_runs.Hold`): after the first checkpoint (step 4), before the end (18).
HELD_AT = 5


def last_step(run: RunDir) -> int:
    return max((e["step"] for e in events_of(run, "step")), default=0)


def _process(run: RunDir) -> tuple[int, float]:
    status = run.read_status()
    return status["pid"], status["pid_start"]


def test_detach_attach_hangup_cancel_resume_attach(preset: Path, tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    held = Hold(tmp_path, at_step=12, step_delay_s=0.3)  # steps go on after the hang-up, but the run can't end before the cancel

    # `train --detach` returns at once, with the run id, while the run is still going.
    run = start_detached(preset, runs_dir, held.env)
    assert run.status()["state"] in {"starting", "running"}

    # `attach` in a terminal shows the history and follows; closing the terminal kills only attach.
    attached = PtyCommand([*TLWB, "attach", run.id, "--runs-dir", str(runs_dir)], hooks_env())
    screen = attached.read_until("checkpoint saved at step 4")
    assert "BertForSequenceClassification" in screen  # the `started` event, from the history
    pid, pid_start = _process(run)
    assert attached.hang_up() == -signal.SIGHUP
    steps_at_hangup = last_step(run)
    wait_for(lambda: last_step(run) > steps_at_hangup or last_step(run) == 12, 120, what="more steps after SIGHUP")
    assert process_alive(pid, pid_start)

    # Cancel: a checkpoint, then `cancelled`.
    assert tlwb("cancel", run.id, "--runs-dir", str(runs_dir)).returncode == 0
    assert wait_until_ended(run)["state"] == "cancelled"
    cancelled = events_of(run, "cancelled")[0]
    assert cancelled["checkpoint"] and Path(cancelled["checkpoint"]).is_dir()

    # Resume in the background; a plain `attach` shows both segments and follows to the end.
    resumed = tlwb("resume", run.id, "--runs-dir", str(runs_dir), "--detach", env={**hooks_env(), "COLUMNS": "60"})
    assert resumed.returncode == 0 and "resumed" in resumed.stdout, resumed.stderr
    said, follow_hint = resumed.stdout.splitlines()  # each a whole line however narrow the terminal
    assert said.endswith(f"in the background (pid {_process(run)[0]})") and follow_hint == f"follow it with: tlwb attach {run.id}"
    follow = tlwb("attach", run.id, "--runs-dir", str(runs_dir), timeout=300)
    assert follow.returncode == 0, follow.stdout + follow.stderr
    assert "cancelled at step" in follow.stdout and "(resumed)" in follow.stdout and "finished" in follow.stdout
    assert follow.stdout.index("cancelled at step") < follow.stdout.index("(resumed)") < follow.stdout.index("finished")
    assert events_of(run, "finished")[0]["step"] == TINY_STEPS
    assert _process(run)[0] != pid


def test_a_run_survives_its_foreground_terminal_and_a_tui_watching_it_closing(preset: Path, tmp_path: Path) -> None:
    """`tlwb train` in a terminal, and the TUI watching the same run in another: closing either
    kills only the watcher; the run trains on to its end."""
    if not (REPO_ROOT / "screens" / "app.py").is_file():
        pytest.fail("screens/app.py is missing: the TUI is part of the workbench")
    runs_dir = tmp_path / "runs"
    held = Hold(tmp_path, at_step=HELD_AT)
    terminal = PtyCommand([*TLWB, "train", str(preset), "--runs-dir", str(runs_dir), "--no-preflight"], held.env)
    terminal.read_until("checkpoint saved at step 4")
    (run_path,) = runs_dir.iterdir()
    run = RunDir(run_path)
    pid, pid_start = _process(run)
    tui = PtyCommand([*TLWB, "--runs-dir", str(runs_dir), "--run", run.id], hooks_env(), size=(120, 40))
    tui.read_until(run.id, timeout=120)  # the app drew the run's screen
    tui.hang_up()  # returns once the TUI process is gone
    assert process_alive(pid, pid_start)
    assert terminal.hang_up() == -signal.SIGHUP  # the CLI died with its terminal ...
    assert process_alive(pid, pid_start)
    held.release()
    status = wait_until_ended(run)
    assert status["state"] == "finished", run.log_path.read_text()[-3000:]  # ... the run did not
    assert events_of(run, "finished")[0]["step"] == TINY_STEPS


def test_ctrl_c_in_the_foreground_cancels_with_a_checkpoint(preset: Path, tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    terminal = PtyCommand([*TLWB, "train", str(preset), "--runs-dir", str(runs_dir), "--no-preflight"], Hold(tmp_path, HELD_AT).env)
    terminal.read_until("checkpoint saved at step 4")  # held at step 5 until the cancel
    os.write(terminal.master, b"\x03")  # Ctrl-C: SIGINT to the terminal's foreground group, the CLI only
    screen = terminal.read_until("cancelled at step")
    assert terminal.process.wait(timeout=120) == 1
    assert screen.count("BertForSequenceClassification") == 1  # the history is not printed again
    (run_path,) = runs_dir.iterdir()
    cancelled = events_of(RunDir(run_path), "cancelled")[0]
    assert cancelled["checkpoint"] and Path(cancelled["checkpoint"]).is_dir()


def test_the_tui_leaves_a_closed_terminal_even_with_sighup_ignored(tmp_path: Path) -> None:
    """Under nohup the hang-up signal never comes; the app must still notice its terminal is gone
    and end, not spin on an endless end-of-file. Nobody reads the terminal while keys make the
    app redraw, so its output is stuck when the terminal closes: the failed write then ends
    Textual's output thread and leaves the event loop blocked, and only a watch of its own sees
    the hang-up."""
    tui = PtyCommand([*TLWB, "--runs-dir", str(tmp_path / "runs")], hooks_env(), nohup=True)
    tui.read_until("Setup", timeout=120)  # the app is up and drawing
    for _ in range(40):  # Tab moves the focus: a redraw each (keys apart), into a terminal nobody reads
        os.write(tui.master, b"\t")
        time.sleep(0.05)
    time.sleep(2)  # a state we can't observe from outside: give the app time to fill its output
    status = tui.hang_up()  # waits (up to 120 s) for the process to end
    assert status == 128 + signal.SIGHUP
