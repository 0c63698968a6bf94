"""Launching, following and cancelling training processes.

Each run is its own OS process in its own session (`start_new_session=True`): it survives the UI
or the SSH link going away, and an OOM or CUDA crash can't take the UI down. Cancel is SIGTERM
to the process group; the EventCallback saves a checkpoint and writes `cancelled`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from .config import RunConfig
from .errors import RunError
from .events import BaseEvent, CancelledEvent, EventTail, FailedEvent, FinishedEvent, LogEvent
from .fsutil import atomic_write_text
from .history import RunHistory
from .presets import config_to_toml
from .runstore import ACTIVE_STATES, RunDir, new_run_dir, process_start_time


#: How long `resume` waits for the process of a run that has just ended to exit.
EXIT_WAIT_S = 20.0


def training_command(run: RunDir, *, resume: bool = False) -> list[str]:
    """One training process (`workbench.trainer`), or with `training.nproc > 1` the torchrun
    launcher (`workbench.trainer.launcher`). Named, not imported: the core never imports the
    training process."""
    nproc = run.config().training.nproc
    if nproc > 1:
        command = [sys.executable, "-m", "workbench.trainer.launcher", str(run.path), "--nproc", str(nproc)]
    else:
        command = [sys.executable, "-m", "workbench.trainer", str(run.path)]
    return command + (["--resume"] if resume else [])


def create_run(config: RunConfig, runs_dir: Path) -> RunDir:
    """A new run directory holding the resolved config; nothing is launched yet."""
    run = new_run_dir(runs_dir, config.short_name())
    atomic_write_text(run.config_path, config_to_toml(config))
    run.write_status(state="starting", created_at=time.time())
    return run


def spawn(run: RunDir, *, resume: bool = False, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start the training process for `run`, detached into its own session."""
    from .devices import oom_kill_counter

    run.check_writable()  # a read-only run directory is one line, not a traceback from train.log
    environment = dict(os.environ if env is None else env)
    environment.setdefault("TOKENIZERS_PARALLELISM", "false")
    environment.setdefault("PYTHONUNBUFFERED", "1")
    log = run.log_path.open("ab")
    try:
        process = subprocess.Popen(
            training_command(run, resume=resume),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=environment,
            cwd=str(run.path),
        )
    finally:
        log.close()
    # A resumed run sheds its last failure; and a child that already says `running` stays so.
    state = {} if run.read_status().state == "running" else {"state": "starting"}
    run.write_status(**state, pid=process.pid, pid_start=process_start_time(process.pid), kind=None, message=None, hint=None, ended_at=None,
                     oom_counter=oom_kill_counter(process.pid))  # a vanished run after this count rose: the OOM killer
    return process


def launch(config: RunConfig, runs_dir: Path, *, env: dict[str, str] | None = None) -> tuple[RunDir, subprocess.Popen]:
    run = create_run(config, runs_dir)
    return run, spawn(run, env=env)


def resume(run: RunDir, *, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Continue a failed or cancelled run from its last checkpoint, in the same run directory.

    The new process appends to the same events.jsonl (a `started` event with `resumed=true`) and
    status.json goes back to running with its pid. Refused while a training process holds the
    run's lock (it is alive, whatever status.json says). A lock on the run directory (on the
    folder itself, so nothing is written) makes two resumes at once start one process, not two.
    """
    import fcntl

    folder = os.open(run.path, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        status = run.status()
        state = status.state
        if state not in ACTIVE_STATES:
            _wait_for_exit(run)  # it has just ended: its process may still be on its way out
        if run.is_alive() or state in ACTIVE_STATES:
            pid = status.pid or run.lock_owner().get("pid")
            raise RunError(f"run {run.id} is still {state if state in ACTIVE_STATES else 'running'}" + (f" (pid {pid})" if pid else ""),
                           f"follow it with `tlwb attach {run.id}`")
        if state == "finished":
            raise RunError(f"run {run.id} already finished; there is nothing to resume", f"start a new run from its config: tlwb train {run.config_path}")
        if run.latest_checkpoint() is None:
            raise RunError(
                f"run {run.id} has no checkpoint to resume from (it {state or 'stopped'} before the first one was saved)",
                f"start it again from its config: tlwb train {run.config_path}",
            )
        return spawn(run, resume=True, env=env)
    finally:
        os.close(folder)  # releases the lock


def _wait_for_exit(run: RunDir, timeout_s: float = EXIT_WAIT_S) -> None:
    """Give an ended run's process a moment to release its lock (it writes its end, then exits)."""
    deadline = time.monotonic() + timeout_s
    while run.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)


def cancel(run: RunDir) -> bool:
    """Ask a running run to stop (checkpoint, then `cancelled`). False when it isn't running.

    The process to signal is the one holding the run's lock (its pid is in `.lock`), so a garbled
    status.json doesn't stop a cancel; status.json's pid serves runs from before the lock."""
    status = run.status()
    if status.state not in ACTIVE_STATES:
        return False
    pid = (run.lock_owner().get("pid") if run.is_alive() else None) or status.pid
    if not pid:
        return False
    try:
        os.killpg(os.getpgid(pid), signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def follow(
    run: RunDir,
    *,
    poll_s: float = 0.25,
    timeout_s: float | None = None,
    process: subprocess.Popen | None = None,
    start_offset: int = 0,
) -> Iterator[BaseEvent]:
    """Yield every event of `run` from byte `start_offset` (0: the whole history) until it ends.

    A terminal event ends the stream only if the run is not going again: a resumed run has a
    `cancelled` or `failed` event in its history, followed by a new `started`. A run whose process
    vanished without a terminal event ends with a synthesized `failed` (kind `vanished`).
    """
    tail = EventTail(run.events_path)
    tail.offset = start_offset
    history = RunHistory()  # what the events read so far say: ended, or going (again)
    deadline = time.monotonic() + timeout_s if timeout_s else None
    while True:
        for event in tail.poll():
            history.add(event)
            yield event
        ended = history.ended is not None
        if process is not None:
            process.poll()
        status = run.status()
        if ended and status.state not in ACTIVE_STATES:
            return
        if status.state not in ACTIVE_STATES:
            for event in tail.poll():
                history.add(event)
                yield event
            if history.ended is None:
                yield from _ending_from_status(run, status)
            return
        if deadline and time.monotonic() > deadline:
            raise RunError(f"run {run.id} did not finish within {timeout_s:.0f}s", "check train.log")
        time.sleep(poll_s)


def _ending_from_status(run: RunDir, status: Any) -> Iterator[BaseEvent]:
    """A run that ended with no terminal event to read (its process vanished, or events.jsonl
    was deleted): the end status.json records, with a word on what is missing."""
    if not run.events_path.exists():
        yield LogEvent(time=time.time(), level="warning",
                       message=f"{run.events_path.name} is missing; the run's end is read from {run.status_path.name}")
    when = status.ended_at or time.time()
    if status.state == "failed":
        yield FailedEvent(time=when, kind=status.kind or "vanished", message=status.message or "", hint=status.hint or "", synthesized=True)
    elif status.state == "finished":
        output = run.trained_model_dir()
        yield FinishedEvent(time=when, best_metric=status.best, output=str(output) if output else None)
    elif status.state == "cancelled":
        yield CancelledEvent(time=when, synthesized=True)


def wait(run: RunDir, on_event: Callable[[BaseEvent], None] | None = None, **kwargs) -> BaseEvent | None:
    """Follow a run to its end; returns the terminal event (or a synthesized failure)."""
    last: BaseEvent | None = None
    for event in follow(run, **kwargs):
        if on_event:
            on_event(event)
        last = event
    return last
