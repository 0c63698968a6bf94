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
from typing import Callable, Iterator

from .config import RunConfig
from .errors import RunError
from .events import TERMINAL_TYPES, EventTail
from .fsutil import atomic_write_text
from .presets import config_to_toml
from .runstore import ACTIVE_STATES, RunDir, new_run_dir, process_start_time


def training_command(run: RunDir, *, resume: bool = False) -> list[str]:
    """One training process, or with `training.nproc > 1` the torchrun launcher (see distributed.py)."""
    nproc = run.config().training.nproc
    if nproc > 1:
        from .distributed import launcher_command

        return launcher_command(run.path, nproc, resume=resume)
    command = [sys.executable, "-m", "workbench.train", str(run.path)]
    return command + (["--resume"] if resume else [])


def create_run(config: RunConfig, runs_dir: Path) -> RunDir:
    """A new run directory holding the resolved config; nothing is launched yet."""
    run = new_run_dir(runs_dir, config.short_name())
    atomic_write_text(run.config_path, config_to_toml(config))
    run.write_status(state="starting", created_at=time.time())
    return run


def spawn(run: RunDir, *, resume: bool = False, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start the training process for `run`, detached into its own session."""
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
    run.write_status(state="starting", pid=process.pid, pid_start=process_start_time(process.pid))
    return process


def launch(config: RunConfig, runs_dir: Path, *, env: dict[str, str] | None = None) -> tuple[RunDir, subprocess.Popen]:
    run = create_run(config, runs_dir)
    return run, spawn(run, env=env)


def cancel(run: RunDir) -> bool:
    """Ask a running run to stop (checkpoint, then `cancelled`). False when it isn't running."""
    status = run.status()
    pid = status.get("pid")
    if status.get("state") not in ACTIVE_STATES or not pid:
        return False
    try:
        os.killpg(os.getpgid(pid), signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def follow(run: RunDir, *, poll_s: float = 0.25, timeout_s: float | None = None, process: subprocess.Popen | None = None) -> Iterator[dict]:
    """Yield every event of `run`, history first, until a terminal event or the process is gone."""
    tail = EventTail(run.events_path)
    deadline = time.monotonic() + timeout_s if timeout_s else None
    while True:
        for event in tail.poll():
            yield event
            if event["type"] in TERMINAL_TYPES:
                return
        if process is not None:
            process.poll()
        status = run.status()
        if status.get("state") not in ACTIVE_STATES:
            for event in tail.poll():
                yield event
            if status.get("state") == "failed" and status.get("kind") == "vanished":
                yield {"type": "failed", "time": time.time(), "kind": "vanished", "message": status["message"], "hint": status["hint"]}
            return
        if deadline and time.monotonic() > deadline:
            raise RunError(f"run {run.id} did not finish within {timeout_s:.0f}s", "check train.log")
        time.sleep(poll_s)


def wait(run: RunDir, on_event: Callable[[dict], None] | None = None, **kwargs) -> dict:
    """Follow a run to its end; returns the terminal event (or a synthesized failure)."""
    last: dict = {}
    for event in follow(run, **kwargs):
        if on_event:
            on_event(event)
        last = event
    return last
