"""Failure reporting: a run ends with one `failed` event whose kind (oom, disk, crash, …), message
and hint a person can act on; in a multi-process run each rank records its failure and the
launcher reports the first one."""

from __future__ import annotations

import json
import os
import time
import traceback
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError
from ..events import EventWriter
from ..fsutil import atomic_write_json
from ..runstore import RunDir
from . import ranks
from .ranks import rank

#: How often `training.auto_batch` halves the batch before the run fails with `oom`.
MAX_AUTO_BATCH_RETRIES = 3


def ranks_dir(run: RunDir) -> Path:
    return run.path / "ranks"


def record_rank_failure(run: RunDir, kind: str, message: str, hint: str) -> None:
    """This rank's failure, for the launcher to report (see `first_failure`)."""
    atomic_write_json(
        ranks_dir(run) / f"rank-{rank()}.json",
        {"rank": rank(), "time": time.time(), "pid": os.getpid(), "kind": kind, "message": message, "hint": hint},
    )


def first_failure(run: RunDir) -> dict[str, Any] | None:
    """The earliest recorded rank failure: the root cause (peers fail after it, losing their link)."""
    recorded = []
    for path in sorted(ranks_dir(run).glob("rank-*.json")):
        try:
            recorded.append(json.loads(path.read_text("utf-8")))
        except (OSError, json.JSONDecodeError):
            continue
    return min(recorded, key=lambda failure: failure["time"], default=None)


def oom_hint(run: RunDir) -> str:
    """Concrete numbers for the user: what was asked, what it needed, and a smaller set-up with
    the same effective batch."""
    from ..humanize import bytes_

    try:
        training = run.config().training
    except WorkbenchError:
        return "lower training.batch_size or training.max_length, or use method.kind = lora"
    batch, length, accumulation = training.batch_size, training.max_length, training.gradient_accumulation_steps
    smaller = max(1, batch // 4)
    factor = max(1, batch // smaller) * accumulation
    started = run.history().started
    needed, available = (started.memory_estimate_bytes, started.device_memory_bytes) if started else (None, None)
    asked = f"batch {batch} × length {length}"
    if needed:
        asked += f" needed ~{bytes_(needed)}" + (f" of {bytes_(available)}" if available else "")
    else:
        asked += " did not fit"
    return (
        f"{asked}; try --set training.batch_size={smaller} --set training.gradient_accumulation_steps={factor} "
        f"(same effective batch), or training.auto_batch = true, a shorter training.max_length, or method.kind = lora"
    )


def is_out_of_memory(err: BaseException) -> bool:
    """CUDA/MPS out-of-memory (torch.OutOfMemoryError or its RuntimeError form) or a CPU MemoryError."""
    if isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError":
        return True
    return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()


def disk_full_error(err: BaseException) -> BaseException | None:
    """The ENOSPC/EDQUOT error behind `err` (savers wrap it: safetensors reports `code: 28`)."""
    import errno

    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return seen
        if "No space left on device" in str(seen) or "StorageFull" in str(seen):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def disk_full_failure(run: RunDir, err: BaseException) -> tuple[str, str]:
    import shutil

    from ..humanize import bytes_

    where = getattr(err, "filename", None) or run.path
    try:
        free = f" ({bytes_(shutil.disk_usage(run.path).free)} free now)"
    except OSError:
        free = ""
    return (
        f"the disk is full: could not write {where}",
        f"free space on the disk holding {run.path.parent}{free}, then `tlwb resume {run.id}`",
    )


def shrink_batch_after_oom(run: RunDir) -> bool:
    """With `training.auto_batch`: halve the batch and double gradient accumulation (same effective
    batch) in config.toml, record it in status.json and the events, and say whether to retry."""
    from ..fsutil import atomic_write_text
    from ..presets import config_to_toml

    config = run.config()
    training = config.training
    history = list(run.read_status().auto_batch)
    if not training.auto_batch or training.batch_size <= 1 or len(history) >= MAX_AUTO_BATCH_RETRIES or ranks.world_size() > 1:
        return False
    smaller = config.model_copy(deep=True)
    smaller.training.batch_size = training.batch_size // 2
    smaller.training.gradient_accumulation_steps = training.gradient_accumulation_steps * 2
    atomic_write_text(run.config_path, config_to_toml(smaller))
    entry = {
        "attempt": len(history) + 1,
        "from_batch_size": training.batch_size,
        "batch_size": smaller.training.batch_size,
        "gradient_accumulation_steps": smaller.training.gradient_accumulation_steps,
        "time": round(time.time(), 3),
    }
    run.write_status(auto_batch=history + [entry])
    effective = smaller.training.batch_size * smaller.training.gradient_accumulation_steps
    writer = EventWriter(run.events_path)
    writer.emit(
        "log",
        level="warning",
        message=f"out of memory at batch {training.batch_size}: retrying with batch {smaller.training.batch_size} × "
        f"gradient accumulation {smaller.training.gradient_accumulation_steps} (effective batch {effective}), "
        f"auto_batch attempt {entry['attempt']} of {MAX_AUTO_BATCH_RETRIES}",
        auto_batch=entry,
    )
    writer.close()
    return True


def release_memory() -> None:
    """After a failed attempt: drop its tensors and hand cached GPU memory back."""
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass


def fail(run: RunDir, kind: str, message: str, hint: str) -> None:
    """End the run as failed; in a multi-process run each rank records its failure instead and the
    launcher reports the first one (see `launcher.report_run_end`)."""
    if ranks.world_size() > 1:
        record_rank_failure(run, kind, message, hint)
        if ranks.launched_by_workbench() or not ranks.is_main_process():
            return
    try:
        writer = EventWriter(run.events_path)
        writer.emit("failed", kind=kind, message=message, hint=hint)
        writer.close()
    except OSError:  # a full disk may refuse the event; status.json is tiny and still says why
        traceback.print_exc()
    run.write_status(state="failed", kind=kind, message=message, hint=hint, ended_at=time.time())
