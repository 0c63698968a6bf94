"""Fault injection: a testing aid, off unless `TLWB_FAULTS` is set.

The test suite makes real training processes fail in the ways real ones do (out of memory, a
SIGKILL, a full disk, one rank crashing) without mocking them. Production code consults this
module at a few named points; with `TLWB_FAULTS` unset every call returns at once and does
nothing. The variable holds comma-separated `name=value` settings:

- ``oom_at_step=N``: from step N on, raise an out-of-memory error, but only while the
  per-device batch is above ``oom_above_batch`` (default 0: always), as a real OOM would stop
  once the batch is small enough.
- ``kill_at_step=N``: SIGKILL the training process at the end of step N.
- ``step_delay_s=S``: sleep S seconds after each step (a slow run).
- ``hold_at_step=N``: at the end of step N, wait until the file named by `TLWB_FAULTS_RELEASE`
  exists or the run is cancelled: a run held "mid-way" for exactly as long as a test needs it,
  however slow the machine (no sleep racing the run's end). A test that fails before releasing
  it doesn't leave it waiting forever: after `HOLD_CEILING_S` the run goes on by itself.
- ``crash_rank=K``: in a multi-process run, rank K raises at the end of its first step.
- ``disk_full_on_save=1``: saving the trained model fails with ENOSPC.
- ``kill_after_finished=1``: SIGKILL the training process right after it wrote its `finished`
  event, before status.json says so (readers must reconcile).

Points: ``step_end`` (step, batch_size, rank) in the training callback, ``save_model`` (path)
when the trained model is saved, ``finished_written`` after the `finished` event.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Callable

ENV = "TLWB_FAULTS"
#: The file whose existence releases a run held by ``hold_at_step``.
RELEASE_ENV = "TLWB_FAULTS_RELEASE"
#: The longest a held run waits for its release (longer than any test holds one).
HOLD_CEILING_S = 900.0
KNOWN = frozenset({
    "oom_at_step", "oom_above_batch", "kill_at_step", "step_delay_s", "hold_at_step", "crash_rank", "disk_full_on_save",
    "kill_after_finished",
})


def spec(**settings: object) -> str:
    """The `TLWB_FAULTS` value for these settings (for tests building an environment)."""
    unknown = set(settings) - KNOWN
    if unknown:
        raise ValueError(f"unknown fault settings: {sorted(unknown)}")
    return ",".join(f"{name}={value}" for name, value in settings.items())


@lru_cache(maxsize=1)
def _settings(raw: str) -> dict[str, float]:
    settings: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, _, value = item.partition("=")
        if name not in KNOWN:
            raise ValueError(f"{ENV}: unknown fault '{name}' (known: {', '.join(sorted(KNOWN))})")
        settings[name] = float(value or 1)
    return settings


def active() -> dict[str, float]:
    raw = os.environ.get(ENV, "")
    return _settings(raw) if raw else {}


def step_end(step: int, batch_size: int, rank: int = 0, cancelled: Callable[[], bool] = lambda: False) -> None:
    settings = active()
    if not settings:
        return
    oom_at = settings.get("oom_at_step", 0)
    if oom_at and step >= oom_at and batch_size > settings.get("oom_above_batch", 0):
        import torch

        raise torch.OutOfMemoryError(f"CUDA out of memory at batch {batch_size} (simulated by {ENV})")
    if "crash_rank" in settings and int(settings["crash_rank"]) == rank:
        raise RuntimeError(f"simulated crash on rank {rank} ({ENV})")
    kill_at = settings.get("kill_at_step", 0)
    if kill_at and step >= kill_at:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    if settings.get("step_delay_s"):
        import time

        time.sleep(settings["step_delay_s"])
    if settings.get("hold_at_step") and step == int(settings["hold_at_step"]):
        _hold(cancelled)


def _hold(cancelled: Callable[[], bool]) -> None:
    import time

    release = Path(os.environ.get(RELEASE_ENV, "") or "/nonexistent/tlwb-release")
    deadline = time.monotonic() + HOLD_CEILING_S
    while not release.exists() and not cancelled() and time.monotonic() < deadline:
        time.sleep(0.05)


def save_model(path: Path) -> None:
    if active().get("disk_full_on_save"):
        import errno

        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(Path(path) / "model.safetensors"))


def finished_written() -> None:
    if active().get("kill_after_finished"):
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
