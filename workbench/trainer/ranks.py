"""Rank helpers: torchrun's environment, read without importing torch, and what each rank may write.

Every rank is the ordinary training process; only rank 0 writes the run directory (the others
get a read-only view and a silent event writer). Ranks agree on stopping with `any_rank`.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ..events import EventWriter
from ..runstore import RunDir, process_start_time

#: Set by the launcher for its ranks: failures are then reported by the launcher, not rank 0.
LAUNCHER_ENV = "TLWB_LAUNCHER_PID"


def rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def is_main_process() -> bool:
    return rank() == 0


def launched_by_workbench() -> bool:
    return bool(os.environ.get(LAUNCHER_ENV))


def process_record() -> dict[str, Any]:
    """The pid for `status.json`: this process's, unless the launcher's is there (it outlives the
    ranks and reports their failure, and cancel must reach it)."""
    if launched_by_workbench():
        return {}
    return {"pid": os.getpid(), "pid_start": process_start_time(os.getpid())}


class FollowerRunDir(RunDir):
    """The run directory as ranks other than 0 see it: read, never written."""

    def write_status(self, **changes: Any) -> dict[str, Any]:
        return self.read_status()

    def reserve_space(self, size: int = 0) -> bool:
        return False  # rank 0 keeps the run's reserve

    def release_reserve(self) -> bool:
        return False


def rank_view(run: RunDir) -> RunDir:
    return run if is_main_process() else FollowerRunDir(run.path)


def check_devices(device: str) -> None:
    """Refuse a process count the device can't serve, before torch fails obscurely."""
    if world_size() == 1:
        return
    from ..errors import ConfigError

    if device == "mps":
        raise ConfigError("training.nproc > 1 is not supported on Apple MPS", "set training.nproc = 1")
    if device == "cuda":
        import torch

        local = int(os.environ.get("LOCAL_WORLD_SIZE", world_size()))
        if local > torch.cuda.device_count():
            raise ConfigError(
                f"training.nproc = {local} but only {torch.cuda.device_count()} GPUs are visible",
                f"set training.nproc to {torch.cuda.device_count()} or fewer (check CUDA_VISIBLE_DEVICES)",
            )


def ddp_backend(device: str) -> str | None:
    """gloo for CPU ranks; on CUDA the Trainer's default (nccl)."""
    return "gloo" if device == "cpu" and world_size() > 1 else None


class SilentEventWriter(EventWriter):
    """The event writer of ranks other than 0: builds events, writes nothing."""

    def emit(self, type: str, **fields: Any) -> dict[str, Any]:
        return {"type": type, "time": round(time.time(), 3), **fields}


def event_writer(run: RunDir) -> EventWriter:
    return EventWriter(run.events_path) if is_main_process() else SilentEventWriter(run.events_path)


def shut_down() -> None:
    """Destroy the process group, if this rank joined one, before the interpreter exits.

    Left to interpreter shutdown, gloo's worker threads may still hold tensors whose release needs
    the GIL that is being torn down: the rank aborts after its run has finished, and torchrun
    reports the whole launch as failed (exit code 1)."""
    import sys

    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return
    try:
        dist.destroy_process_group()
    except Exception as err:  # a peer already gone: nothing is left to tidy
        print(f"tlwb: process group shut down with an error: {err}", file=sys.stderr)


def any_rank(flag: bool) -> bool:
    """True on every rank when `flag` is true on any rank (a collective: all ranks must call it)."""
    return any_ranks(flag)[0]


def any_ranks(*flags: bool) -> tuple[bool, ...]:
    """`any_rank` for several flags in one collective (the step end asks two questions each step)."""
    import torch
    import torch.distributed as dist

    if world_size() == 1 or not dist.is_initialized():
        return tuple(flags)
    device = f"cuda:{torch.cuda.current_device()}" if dist.get_backend() == "nccl" else "cpu"
    values = torch.tensor([1 if flag else 0 for flag in flags], device=device)
    dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return tuple(bool(v) for v in values.tolist())


