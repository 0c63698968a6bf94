"""The run store: run directories under RUNS_DIR, their status, and resolving `RUN` arguments.

A run directory is the only contract between the training process, the CLI and the TUI
(see DESIGN.md). Status is truthful: a run whose process has vanished is reported as `failed`,
checked by pid *and* process start time so a recycled pid can't keep a dead run "running".
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RunError
from .events import parse_lines, read_events
from .fsutil import atomic_write_json

STATES = ("starting", "running", "finished", "failed", "cancelled")
ACTIVE_STATES = frozenset({"starting", "running"})
#: How long a run may sit in `starting` with no process recorded before it counts as vanished.
LAUNCH_GRACE_S = 30


def default_runs_dir() -> Path:
    return Path(os.environ.get("TLWB_RUNS_DIR") or "runs")


def tensorboard_dir(run_path: Path) -> Path:
    """Where `training.report_to = ["tensorboard"]` writes (see `trainer.tracking`)."""
    return Path(run_path) / "tensorboard"


def process_start_time(pid: int) -> float | None:
    """The OS start time of `pid`, or None when no such process is alive."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
        return None


def process_alive(pid: int | None, started: float | None) -> bool:
    if not pid:
        return False
    actual = process_start_time(pid)
    if actual is None:
        return False
    return started is None or abs(actual - started) < 1.0


class RunDir:
    """One run's folder and the files the contract names."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunDir) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def id(self) -> str:
        return self.path.name

    config_path = property(lambda self: self.path / "config.toml")
    events_path = property(lambda self: self.path / "events.jsonl")
    status_path = property(lambda self: self.path / "status.json")
    log_path = property(lambda self: self.path / "train.log")
    model_dir = property(lambda self: self.path / "model")
    adapter_dir = property(lambda self: self.path / "adapter")
    checkpoints_dir = property(lambda self: self.path / "checkpoints")

    def exists(self) -> bool:
        return self.config_path.is_file()

    def config(self):
        from .presets import read_toml, validate_config

        return validate_config(read_toml(self.config_path))

    def events(self) -> list[dict[str, Any]]:
        return read_events(self.events_path)

    def read_status(self) -> dict[str, Any]:
        import json

        try:
            return json.loads(self.status_path.read_text("utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {"state": "starting" if self.exists() else "missing"}

    def write_status(self, **changes: Any) -> dict[str, Any]:
        """Merge `changes` into status.json (atomically); a change to None removes the key."""
        status = self.read_status()
        if status.get("state") == "missing":
            status = {}
        status.update(changes)
        status = {key: value for key, value in status.items() if value is not None}
        status["updated_at"] = time.time()
        atomic_write_json(self.status_path, status)
        return status

    def status(self) -> dict[str, Any]:
        """The status with liveness checked: a vanished process means `failed`."""
        status = self.read_status()
        if status.get("state") in ACTIVE_STATES and not process_alive(status.get("pid"), status.get("pid_start")):
            # `starting` without a pid: the launcher is between creating the run and spawning its
            # process; give it a moment. Once a pid is recorded, a dead pid means a dead run.
            if status.get("state") == "starting" and not status.get("pid") and time.time() - status.get("updated_at", 0) < LAUNCH_GRACE_S:
                return status
            last = self.last_event_time() or status.get("updated_at")
            when = dt.datetime.fromtimestamp(last).strftime("%Y-%m-%d %H:%M:%S") if last else "unknown"
            status = {
                **status,
                "state": "failed",
                "kind": "vanished",
                "last_event_at": last,
                "message": f"the training process is gone (last event {when}); it was killed or the machine restarted",
                "hint": f"run `tlwb resume {self.id}` to continue from the last checkpoint",
            }
        return status

    def last_event_time(self) -> float | None:
        """The time of the last complete event, read from the file's tail only."""
        try:
            with self.events_path.open("rb") as handle:
                handle.seek(max(0, handle.seek(0, 2) - 64 * 1024))
                tail = handle.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return None
        events = parse_lines(tail)
        return events[-1].get("time") if events else None

    def checkpoints(self) -> list[Path]:
        """Complete Trainer checkpoints, oldest first.

        The Trainer writes trainer_state.json last, so a checkpoint whose trainer_state.json
        parses was written whole; a kill during a save leaves one that is skipped.
        """
        import json

        if not self.checkpoints_dir.is_dir():
            return []
        complete = []
        for path in self.checkpoints_dir.glob("checkpoint-*"):
            try:
                json.loads((path / "trainer_state.json").read_text("utf-8"))
                step = int(path.name.rsplit("-", 1)[-1])
            except (OSError, ValueError):
                continue
            complete.append((step, path))
        return [path for _, path in sorted(complete)]

    def latest_checkpoint(self) -> Path | None:
        """The newest complete Trainer checkpoint (see `checkpoints`)."""
        found = self.checkpoints()
        return found[-1] if found else None

    def trained_model_dir(self) -> Path | None:
        """The saved model or adapter, only when completely written (marked by `.complete`)."""
        for candidate in (self.adapter_dir, self.model_dir):
            if (candidate / ".complete").is_file():
                return candidate
        return None


@dataclass
class RunSummary:
    """What the runs table shows for one run."""

    id: str
    path: Path
    state: str
    task: str = "?"
    model: str = "?"
    data: str = "?"
    method: str = "?"
    started_at: float | None = None
    duration_s: float | None = None
    best_metric: str | None = None
    best_value: float | None = None
    message: str = ""
    hint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def summarize(run: RunDir) -> RunSummary:
    status = run.status()
    summary = RunSummary(id=run.id, path=run.path, state=status.get("state", "?"))
    try:
        config = run.config()
    except Exception:  # a broken config.toml must not hide the run from the list
        summary.message = "config.toml is unreadable"
    else:
        summary.task = config.task
        summary.model = config.model.name
        summary.data = config.data.train
        summary.method = config.method.kind
    summary.started_at = status.get("started_at")
    end = status.get("ended_at") or (time.time() if summary.state in ACTIVE_STATES else status.get("updated_at"))
    if summary.started_at and end:
        summary.duration_s = max(0.0, end - summary.started_at)
    best = status.get("best") or {}
    summary.best_metric = best.get("name")
    summary.best_value = best.get("value")
    summary.message = status.get("message", summary.message)
    summary.hint = status.get("hint", "")
    return summary


def list_runs(runs_dir: Path) -> list[RunDir]:
    """Runs in a runs directory, newest first."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    runs = [RunDir(p) for p in runs_dir.iterdir() if p.is_dir() and (p / "config.toml").is_file()]
    return sorted(runs, key=lambda r: r.id, reverse=True)


def resolve_run(arg: str | Path, runs_dir: Path | None = None) -> RunDir:
    """A run from a directory path, a run id under `runs_dir`, or a unique id prefix."""
    runs_dir = Path(runs_dir or default_runs_dir())
    path = Path(arg).expanduser()
    for candidate in (path, runs_dir / str(arg)):
        if (candidate / "config.toml").is_file():
            return RunDir(candidate)
    matches = [run for run in list_runs(runs_dir) if run.id.startswith(str(arg)) or run.id.endswith(str(arg))]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise RunError(f"'{arg}' matches {len(matches)} runs", "give more of the run id (see `tlwb runs`)")
    raise RunError(f"no run '{arg}' in {runs_dir}", "give a run directory or an id from `tlwb runs` (or set --runs-dir)")


def new_run_dir(runs_dir: Path, short_name: str) -> RunDir:
    """Create a fresh, uniquely named run directory (exclusive mkdir: two runs never share one)."""
    runs_dir = Path(runs_dir)
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunError(f"can't create runs directory {runs_dir}: {err.strerror}", "choose another with --runs-dir") from None
    if not os.access(runs_dir, os.W_OK):
        raise RunError(f"runs directory {runs_dir} is not writable", "fix its permissions or choose another with --runs-dir")
    stamp = dt.datetime.now().strftime("%Y-%m-%d_%H%M%S")
    for attempt in range(1, 1000):
        suffix = "" if attempt == 1 else f"-{attempt}"
        path = runs_dir / f"{stamp}_{short_name}{suffix}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return RunDir(path)
    raise RunError(f"could not allocate a run directory in {runs_dir}", "clean up old runs")
