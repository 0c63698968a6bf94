"""The run store: run directories under RUNS_DIR, their status, and resolving `RUN` arguments.

A run directory is the only contract between the training process, the CLI and the TUI
(see DESIGN.md). Status is truthful. Whether a run is alive is decided by a lock, never by a file
that may be torn or stale: the training process holds an exclusive `flock` on `RUN/.lock` for
its whole life (`RunDir.hold_lock`), so "alive" is "the lock is held" (`RunDir.is_alive`). Run
directories written before the lock existed have no `.lock`; for them pid *and* process start
time decide, so a recycled pid can't keep a dead run "running". A run whose process is gone while
status.json still says running is reconciled from its events (`RunHistory`): finished if they say
finished, failed with their kind if they say failed, else failed as `vanished`. An unreadable
status.json is rebuilt from the events too.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import RunError
from .events import BaseEvent, BestMetric, Readable, parse_lines, read_events
from .fsutil import atomic_write_json
from .history import RunHistory

STATES = ("starting", "running", "finished", "failed", "cancelled")
ACTIVE_STATES = frozenset({"starting", "running"})
#: How long a run may sit in `starting` with no process recorded before it counts as vanished.
LAUNCH_GRACE_S = 30
#: How long a training process waits for a reader's momentary probe of the lock to pass.
LOCK_WAIT_S = 3.0
#: Space a training process sets aside to write its end on a full disk (`RunDir.reserve_space`).
RESERVE_BYTES = 256 * 1024


class RunStatus(Readable, BaseModel):
    """`status.json`. Keys this version doesn't know are kept as they are (a newer writer's)."""

    model_config = ConfigDict(extra="allow")

    state: str = "starting"
    pid: int | None = None
    pid_start: float | None = None
    created_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    updated_at: float | None = None
    kind: str | None = None
    message: str | None = None
    hint: str | None = None
    best: BestMetric | None = None
    auto_batch: list[dict[str, Any]] = Field(default_factory=list)
    last_event_at: float | None = None
    rebuilt: bool = False  # status.json was unreadable: this was read from the events

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude_none=True)
        if not self.rebuilt:
            data.pop("rebuilt", None)
        if not self.auto_batch:
            data.pop("auto_batch", None)
        return data


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


class RunLock:
    """The training process's hold on `RUN/.lock` (see the module docstring); released when the
    process ends, however it ends. The file records who holds it (pid and start time)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = -1


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

    def delete(self) -> None:
        """Remove the run directory and everything in it.

        It is first renamed aside (one atomic step), then removed. Removed in place, a reader
        looking at the run meanwhile (a Runs rescan, a watcher) could find status.json gone and
        events.jsonl still there, rebuild status.json into the half-removed folder and leave it
        behind. Renamed, the run is simply gone for every reader."""
        aside = self.path.with_name(f".deleting-{self.path.name}-{secrets.token_hex(4)}")
        try:
            self.path.rename(aside)
        except FileNotFoundError:
            return  # already gone
        except OSError as error:
            raise RunError(f"could not delete {self.id}: {error.strerror or error}", f"check the permissions of {self.path.parent}") from None
        shutil.rmtree(aside, ignore_errors=True)
        if aside.exists():
            raise RunError(f"{self.id} is gone from the runs, but {aside} could not be removed whole", f"remove {aside} by hand")

    def config(self):
        from .presets import read_toml, validate_config

        return validate_config(read_toml(self.config_path))

    lock_path = property(lambda self: self.path / ".lock")

    def events(self) -> list[BaseEvent]:
        return read_events(self.events_path)

    def history(self) -> RunHistory:
        """The run's events folded (`RunHistory`), with the config's task as the fallback for
        runs whose `started` predates `main_metric`."""
        return _HISTORIES.get(self)

    def config_task(self) -> str | None:
        """The task named in config.toml (read without validating the whole config)."""
        from .presets import read_toml

        try:
            return str(read_toml(self.config_path).get("task") or "text-classification")
        except Exception:  # a broken config.toml: the events alone must do
            return None

    # -- status.json --------------------------------------------------------------------------
    def read_status(self) -> RunStatus:
        """status.json as written; an unreadable one is rebuilt from the events (and rewritten),
        never taken for a failure."""
        try:
            raw = self.status_path.read_text("utf-8")
        except FileNotFoundError:
            if not self.exists():
                return RunStatus(state="missing")
            raw = None
        except OSError:
            raw = ""
        if raw is not None:
            try:
                data = json.loads(raw)
                if isinstance(data, dict):
                    return RunStatus.model_validate(data)
            except (json.JSONDecodeError, ValidationError):
                pass
        elif not self.events_path.exists():
            return RunStatus(state="starting")
        return self._rebuild_status()

    def _rebuild_status(self) -> RunStatus:
        history = self.history()
        owner = self.lock_owner()
        status = status_from_history(history, pid=owner.get("pid"), pid_start=owner.get("pid_start"))
        status.rebuilt = True
        try:
            atomic_write_json(self.status_path, status.to_json())
        except OSError:  # a read-only or full disk: the rebuilt status is still the answer
            pass
        return status

    def write_status(self, **changes: Any) -> RunStatus:
        """Merge `changes` into status.json (atomically); a change to None removes the key."""
        status = self.read_status()
        data = {} if status.state == "missing" else status.to_json()
        data.pop("rebuilt", None)
        data.update(changes)
        data = {key: value for key, value in data.items() if value is not None}
        data["updated_at"] = time.time()
        status = RunStatus.model_validate(json.loads(json.dumps(data, default=_plain)))
        try:
            atomic_write_json(self.status_path, status.to_json())
        except OSError as err:
            if err.errno not in (errno.ENOSPC, errno.EDQUOT) or not self.release_reserve():
                raise
            atomic_write_json(self.status_path, status.to_json())  # the reserve's space is free now
        return status

    # -- space for the run's last words -------------------------------------------------------
    reserve_path = property(lambda self: self.path / ".reserve")

    def reserve_space(self, size: int = RESERVE_BYTES) -> bool:
        """Set aside `size` bytes in the run directory (a pre-allocated file) so that the run's
        end (an event and status.json) can be written when the disk fills up mid-run; the
        training process releases it just before writing its terminal state. False when the
        space isn't there to take (the run goes on without it)."""
        try:
            fd = os.open(self.reserve_path, os.O_WRONLY | os.O_CREAT, 0o644)
        except OSError:
            return False
        try:
            try:
                os.posix_fallocate(fd, 0, size)
            except OSError as err:
                if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                os.pwrite(fd, b"\0" * size, 0)  # a filesystem without fallocate: real blocks
            os.fsync(fd)
            return True
        except OSError:
            os.close(fd)
            fd = -1
            self.reserve_path.unlink(missing_ok=True)
            return False
        finally:
            if fd >= 0:
                os.close(fd)

    def release_reserve(self) -> bool:
        """Give the reserved space back (see `reserve_space`); True if there was some."""
        try:
            self.reserve_path.unlink()
            return True
        except OSError:
            return False

    def check_writable(self) -> None:
        """RunError (one line) unless files can really be created in the run directory: the
        permission bits say yes to root even on a read-only mount, so this tries."""
        import tempfile

        try:
            with tempfile.TemporaryFile(dir=self.path, prefix=".probe."):
                pass
        except OSError as err:
            raise RunError(f"can't write to run directory {self.path}: {err.strerror or err}",
                           "make it writable (or copy the run somewhere writable and give that path) and try again") from None
        if not os.access(self.path, os.W_OK):
            raise RunError(f"can't write to run directory {self.path}: permission denied",
                           "make it writable (or copy the run somewhere writable and give that path) and try again")

    # -- liveness -----------------------------------------------------------------------------
    def hold_lock(self) -> RunLock:
        """Take the run's lock for this process's life (the training process does, first thing).
        RunError when another process holds it: a second trainer must not share a run directory."""
        import fcntl

        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise RunError(f"can't write to run directory {self.path}: {err.strerror}",
                           "make it writable (or move the run somewhere writable) and try again") from None
        deadline = time.monotonic() + LOCK_WAIT_S  # a reader's probe holds it for microseconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    owner = self.lock_owner().get("pid")
                    raise RunError(
                        f"run {self.id} is already being trained by another process" + (f" (pid {owner})" if owner else ""),
                        f"follow it with `tlwb attach {self.id}`, or cancel it with `tlwb cancel {self.id}`",
                    ) from None
                time.sleep(0.05)
        record = json.dumps({"pid": os.getpid(), "pid_start": process_start_time(os.getpid())}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, record, 0)
        return RunLock(fd)

    def is_alive(self) -> bool | None:
        """Whether a training process holds the run's lock; None for a run directory without a
        `.lock` (written before the lock existed, or not started yet)."""
        import fcntl

        try:
            fd = os.open(self.lock_path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # also releases the probe
        return False

    def lock_owner(self) -> dict[str, Any]:
        """{pid, pid_start} of the process that last took the lock ({} when unknown)."""
        try:
            data = json.loads(self.lock_path.read_text("utf-8") or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _process_alive(self, status: RunStatus) -> bool:
        """Liveness: the lock when there is one. Before the process recorded in status.json has
        taken it (just spawned: `.lock` names an earlier process, or none), and for runs from
        before the lock, the recorded pid and its start time decide."""
        held = self.is_alive()
        if held:
            return True
        if status.state == "starting" and not status.pid:
            # The launcher is between creating the run and spawning its process; or torchrun /
            # Slurm will start it (`tlwb launch-script` marks those: they wait as long as it takes).
            if (status.model_extra or {}).get("external_launch"):
                return True
            return time.time() - (status.updated_at or 0) < LAUNCH_GRACE_S
        if held is None or (status.pid and status.pid != self.lock_owner().get("pid")):
            return process_alive(status.pid, status.pid_start)
        return False

    def status(self) -> RunStatus:
        """The status with liveness checked by the lock, reconciled with the events when the
        process is gone (see the module docstring)."""
        status = self.read_status()
        if status.state == "missing":
            return status
        alive = self._process_alive(status)
        if alive:
            if status.state not in ACTIVE_STATES and self.is_alive():
                # Only the lock proves that a trainer took the run up again after it ended.
                history = self.history()
                if history.state in ACTIVE_STATES or status.rebuilt:
                    # Resumed (or status unreadable) while the lock says a trainer is at work.
                    owner = self.lock_owner()
                    status = status.model_copy(update={"state": "running", "ended_at": None, "kind": None, "message": None,
                                                       "hint": None, "pid": status.pid or owner.get("pid")})
            elif status.pid is None and self.lock_owner().get("pid"):
                status = status.model_copy(update={"pid": self.lock_owner().get("pid")})
            return status
        if status.state not in ACTIVE_STATES:
            return status
        return reconcile(self, status)

    def last_event_time(self) -> float | None:
        """The time of the last complete event, read from the file's tail only."""
        try:
            tail = read_tail(self.events_path)
        except FileNotFoundError:
            return None
        events = parse_lines(tail)
        return events[-1].time if events else None

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


def status_from_history(history: RunHistory, **fields: Any) -> RunStatus:
    """The status.json the events imply (for a rebuild; liveness is added by `RunDir.status`)."""
    started = history.first_started
    status = RunStatus(state=history.state, started_at=started.time if started else None, best=history.best,
                       last_event_at=history.last_event_time, **fields)
    if history.ended is not None:
        status.ended_at = history.ended.time
    failure = history.failure
    if failure is not None:
        status.kind, status.message, status.hint = failure.kind, failure.message, failure.hint
    return status


def reconcile(run: RunDir, status: RunStatus) -> RunStatus:
    """A run whose process is gone while status.json says it is going: what its events say
    (finished → finished, failed → failed with that kind, cancelled → cancelled), else `vanished`.
    A terminal event older than the process last spawned belongs to an earlier segment."""
    history = run.history()
    ended = history.ended
    if ended is not None and ended.time >= (status.pid_start or 0) - 1.0:
        implied = status_from_history(history)
        return status.model_copy(update={"state": implied.state, "ended_at": implied.ended_at, "kind": implied.kind,
                                         "message": implied.message, "hint": implied.hint, "best": implied.best or status.best,
                                         "last_event_at": implied.last_event_at})
    last = history.last_event_time or status.updated_at
    when = dt.datetime.fromtimestamp(last).strftime("%Y-%m-%d %H:%M:%S") if last else "unknown"
    cause = vanished_cause(run, status, history)
    if cause is not None:
        kind, message, hint = cause
        return status.model_copy(update={"state": "failed", "kind": kind, "last_event_at": last, "message": message, "hint": hint})
    return status.model_copy(update={
        "state": "failed",
        "kind": "vanished",
        "last_event_at": last,
        "message": f"the training process is gone (last event {when}); it was killed or the machine restarted",
        "hint": f"run `tlwb resume {run.id}` to continue from the last checkpoint",
    })


#: What train.log says when the process died of a full disk before it could report it.
DISK_FULL_MARKERS = ("No space left on device", "Disk quota exceeded", "unexpected pos", "file write failed",
                     "PytorchStreamWriter failed")
#: A vanished run on a disk with less free than this died of the full disk (even if its log,
#: on the same disk, could not say so).
DISK_FULL_BYTES = 1024 * 1024
_CAUSES: dict[tuple[Path, int | None, float | None], tuple[str, str, str] | None] = {}


def vanished_cause(run: RunDir, status: RunStatus, history: RunHistory) -> tuple[str, str, str] | None:
    """Why a run's process is gone without a word, when the machine can tell: the kernel's OOM
    killer (kind `oom`), or a full disk its log reports (kind `disk`). Remembered per process:
    the Runs screen asks every few seconds."""
    key = (run.path, status.pid, status.pid_start)
    if key not in _CAUSES:
        _CAUSES[key] = _oom_killed(run, status, history) or _disk_full(run)
    return _CAUSES[key]


def _oom_killed(run: RunDir, status: RunStatus, history: RunHistory) -> tuple[str, str, str] | None:
    from .devices import kernel_says_oom_killed, oom_hint_for, read_oom_kills

    recorded = status.get("oom_counter") or {}
    count = read_oom_kills(recorded["path"]) if recorded.get("path") else None
    by_log = bool(status.pid) and kernel_says_oom_killed(status.pid, status.pid_start)
    if not by_log and not (count is not None and count > recorded.get("kills", count)):
        return None
    step = history.last_step
    seen = step.memory_bytes if step is not None else None
    try:
        hint = oom_hint_for(run.config().training, seen=seen)
    except Exception:  # a broken config.toml: the generic advice
        hint = "lower training.batch_size or training.max_length, or use method.kind = lora"
    evidence = "the kernel log records it" if by_log else "the container's oom_kill count rose while it ran"
    return ("oom", f"out of memory: the kernel's OOM killer ended the training process ({evidence})", hint)


def _disk_full(run: RunDir) -> tuple[str, str, str] | None:
    import shutil

    from .humanize import bytes_

    try:
        tail = read_tail(run.log_path)
    except OSError:
        tail = ""
    try:
        free_bytes: int | None = shutil.disk_usage(run.path).free
    except OSError:
        free_bytes = None
    says_so = any(marker in tail for marker in DISK_FULL_MARKERS)
    if not says_so and not (free_bytes is not None and free_bytes < DISK_FULL_BYTES):
        return None
    free = f" ({bytes_(free_bytes)} free now)" if free_bytes is not None else ""
    seen = f"see {run.log_path.name}" if says_so else "the disk is full now"
    return ("disk", f"the disk filled up: the training process stopped while writing to {run.path} ({seen})",
            f"free space on the disk holding {run.path.parent}{free}, then `tlwb resume {run.id}`")


def read_tail(path: Path, size: int = 64 * 1024) -> str:
    """The last `size` bytes of a file as text (a torn first line is the caller's to skip)."""
    with Path(path).open("rb") as handle:
        handle.seek(max(0, handle.seek(0, 2) - size))
        return handle.read().decode("utf-8", errors="replace")


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class _HistoryCache:
    """Histories by run, read incrementally: a rescan reads only what was appended since the last
    one (the Runs screen rescans every couple of seconds). A file that shrank is read afresh."""

    limit = 512

    def __init__(self) -> None:
        self._entries: dict[Path, tuple[int, int, bytes, RunHistory]] = {}  # path -> (inode, offset, pending, history)
        self._lock = threading.Lock()  # the TUI reads runs from several worker threads

    def get(self, run: RunDir) -> RunHistory:
        """A copy the caller may keep and feed: later reads never change it under them."""
        with self._lock:
            return self._read(run).copy()

    def _read(self, run: RunDir) -> RunHistory:
        try:
            stat = run.events_path.stat()
        except OSError:
            self._entries.pop(run.path, None)
            return RunHistory(task=run.config_task())
        entry = self._entries.get(run.path)
        if entry is None or entry[0] != stat.st_ino or stat.st_size < entry[1]:
            entry = (stat.st_ino, 0, b"", RunHistory(task=run.config_task()))
        inode, offset, pending, history = entry
        if stat.st_size > offset:
            with run.events_path.open("rb") as handle:
                handle.seek(offset)
                data = handle.read()
            offset += len(data)
            complete, _, pending = (pending + data).rpartition(b"\n")
            history.extend(parse_lines(complete.decode("utf-8", errors="replace")))
        self._entries.pop(run.path, None)
        self._entries[run.path] = (inode, offset, pending, history)
        while len(self._entries) > self.limit:
            self._entries.pop(next(iter(self._entries)))
        return history


_HISTORIES = _HistoryCache()


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
    duration_s: float | None = None  # training time (`RunHistory.training_seconds`) at the scan
    best_metric: str | None = None
    best_value: float | None = None
    message: str = ""
    hint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    closed_s: float = 0.0  # training time of the segments that ended
    open_since: float | None = None  # start of the segment still training (a live run)
    name: str = ""  # the run's name (config `name`)
    model_label: str = ""  # a recognisable model name (`run_summary.model_label`), for display
    diagnostics: list[dict[str, str]] = field(default_factory=list)  # [{kind, message, hint}]

    def duration_at(self, now: float) -> float | None:
        """Training time as of `now` (a live run's clock keeps going)."""
        if self.state in ACTIVE_STATES and self.open_since is not None:
            return self.closed_s + max(0.0, now - self.open_since)
        return self.duration_s


def list_runs(runs_dir: Path) -> list[RunDir]:
    """Runs in a runs directory, newest first (a hidden folder is none: e.g. a run being deleted)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    runs = [RunDir(p) for p in runs_dir.iterdir() if not p.name.startswith(".") and p.is_dir() and (p / "config.toml").is_file()]
    return sorted(runs, key=lambda r: r.id, reverse=True)


def resolve_run(arg: str | Path, runs_dir: Path | None = None) -> RunDir:
    """A run from a directory path, a run id under `runs_dir`, or any unique part of a run id
    (a prefix, a suffix or a middle part such as the time `224303`)."""
    runs_dir = Path(runs_dir or default_runs_dir())
    path = Path(arg).expanduser()
    for candidate in (path, runs_dir / str(arg)):
        if (candidate / "config.toml").is_file():
            return RunDir(candidate)
    matches = [run for run in list_runs(runs_dir) if str(arg) in run.id] if str(arg) else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        shown = ", ".join(run.id for run in matches[:3]) + (", …" if len(matches) > 3 else "")
        raise RunError(f"'{arg}' matches {len(matches)} runs: {shown}", "give more of the run id (see `tlwb runs`)")
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
