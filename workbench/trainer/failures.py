"""Failure reporting: a run ends with one `failed` event whose kind (oom, disk, crash, …), message
and hint a person can act on; in a multi-process run each rank records its failure and the
launcher reports the first one."""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Iterator

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
        make_parents=True,
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
    the same effective batch (see `devices.oom_hint_for`)."""
    from ..devices import oom_hint_for

    try:
        training = run.config().training
    except WorkbenchError:
        return "lower training.batch_size or training.max_length, or use method.kind = lora"
    started = run.history().started
    needed, available = (started.memory_estimate_bytes, started.device_memory_bytes) if started else (None, None)
    return oom_hint_for(training, needed, available)


#: How allocators and runtimes word an out-of-memory (lower case): torch's CPU allocator
#: ("DefaultCPUAllocator: can't allocate memory"), CUDA ("CUDA out of memory", "CUDA error: out of
#: memory"), MPS ("MPS backend out of memory"), XPU/NPU, and the C library's ENOMEM text.
OOM_MARKERS = (
    "out of memory",
    "can't allocate memory",
    "cannot allocate memory",
    "defaultcpuallocator",
    "failed to allocate memory",
)
#: How torch's serializer reports a write that failed (a full disk, mostly): the stream writer
#: checks the position it reached after each record.
SERIALIZER_WRITE_MARKERS = ("unexpected pos", "file write failed", "pytorchstreamwriter failed")
#: Below this much free space a failed write is taken for a full disk.
NEARLY_FULL_BYTES = 64 * 2**20


def _chain(err: BaseException) -> Iterator[BaseException]:
    """`err`, then the errors behind it (its cause, or the error it was raised while handling)."""
    seen: BaseException | None = err
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def is_out_of_memory(err: BaseException) -> bool:
    """CPU, CUDA or MPS out-of-memory: torch.OutOfMemoryError, MemoryError, an OSError with ENOMEM,
    or a RuntimeError carrying an allocator's message (see OOM_MARKERS), also when it is the cause
    of the error that reached us."""
    import errno

    for seen in _chain(err):
        if isinstance(seen, MemoryError) or type(seen).__name__ == "OutOfMemoryError":
            return True
        if isinstance(seen, OSError) and seen.errno == errno.ENOMEM:
            return True
        if isinstance(seen, RuntimeError) and any(marker in str(seen).lower() for marker in OOM_MARKERS):
            return True
    return False


def disk_full_error(err: BaseException) -> BaseException | None:
    """The ENOSPC/EDQUOT error behind `err`, however it surfaces: an OSError, safetensors'
    `code: 28`, or torch's serializer (`[enforce fail at inline_container.cc…] unexpected pos`,
    `file write failed`, `PytorchStreamWriter failed`), which names no errno."""
    import errno

    for seen in _chain(err):
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return seen
        text = str(seen)
        if "No space left on device" in text or "StorageFull" in text or "Disk quota exceeded" in text:
            return seen
        if any(marker in text.lower() for marker in SERIALIZER_WRITE_MARKERS):
            return seen
    return None


def disk_full_failure(run: RunDir, err: BaseException) -> tuple[str, str]:
    """Message and hint for a failed write; says "full" only when the disk is (nearly) full."""
    import shutil

    from ..humanize import bytes_

    where = getattr(err, "filename", None) or _serializer_target(err) or run.path
    try:
        free_bytes = shutil.disk_usage(run.path).free
    except OSError:
        free_bytes = None
    free = f" ({bytes_(free_bytes)} free now)" if free_bytes is not None else ""
    if free_bytes is not None and free_bytes > NEARLY_FULL_BYTES and not _names_full_disk(err):
        first = (str(err).splitlines() or [""])[0][:160]
        return (f"writing {where} failed: {first}",
                f"check the disk holding {run.path.parent}{free}, then `tlwb resume {run.id}`")
    return (
        f"the disk is full: could not write {where}",
        f"free space on the disk holding {run.path.parent}{free}, then `tlwb resume {run.id}`",
    )


def _names_full_disk(err: BaseException) -> bool:
    import errno

    return (isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)) or "No space left" in str(err)


def _serializer_target(err: BaseException) -> str | None:
    """torch.save names no file; the Trainer's checkpoint being written is the likely one."""
    if not any(marker in str(err).lower() for marker in SERIALIZER_WRITE_MARKERS):
        return None
    return "a checkpoint (torch.save)"


def remove_partial_checkpoints(run: RunDir) -> None:
    """Checkpoints cut short by the failure (no trainer_state.json, which the Trainer writes
    last): never resumed from, and on a full disk their space is what the user needs back."""
    import shutil

    complete = set(run.checkpoints())
    if not run.checkpoints_dir.is_dir():
        return
    for folder in run.checkpoints_dir.glob("checkpoint-*"):
        if folder.is_dir() and folder not in complete:
            shutil.rmtree(folder, ignore_errors=True)


def oom_message(err: BaseException) -> str:
    """'out of memory: could not allocate 512.0 MiB (peak RSS …)': the allocator's words without
    its source location, with the request in human units when it names one."""
    import re

    from ..humanize import bytes_

    text = " ".join(str(err).split())
    text = re.sub(r"^\[enforce fail at [^\]]*\]\s*(err == 0\.\s*)?", "", text)
    requested = re.search(r"tried to allocate (\d+) bytes", text)
    if requested:
        text = f"{text.split(':')[0]} could not allocate {bytes_(int(requested.group(1)))} more"
    elif not text:
        text = type(err).__name__
    text = text if len(text) <= 160 else text[:159] + "…"
    on_gpu = any(name in text.lower() for name in ("cuda", "mps", "xpu", "npu", "hip"))
    return f"out of memory: {text}{'' if on_gpu else peak_memory_note()}"


def peak_memory_note() -> str:
    """' (peak RSS 1.9 GiB of a 2.5 GiB address-space limit)': what this process reached, and
    the cap it ran under, for an OOM message; '' when unknown."""
    import resource

    from ..humanize import bytes_

    try:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
        limit, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (OSError, ValueError):
        return ""
    note = f"peak RSS {bytes_(peak)}"
    if limit not in (resource.RLIM_INFINITY, -1):
        note += f", address-space limit {bytes_(limit)} (ulimit -v)"
    return f" ({note})"


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
    launcher reports the first one (see `launcher.report_run_end`).

    On a full disk the run's reserve (`RunDir.reserve_space`) is given up first, so the event and
    status.json still fit; either write failing leaves the other, which readers reconcile."""
    run.release_reserve()
    if kind == "disk":
        remove_partial_checkpoints(run)
    if ranks.world_size() > 1:
        record_rank_failure(run, kind, message, hint)
        if ranks.launched_by_workbench() or not ranks.is_main_process():
            return
    try:
        writer = EventWriter(run.events_path)
        writer.emit("failed", kind=kind, message=message, hint=hint)
        writer.close()
    except OSError:  # a full disk may refuse the event; status.json is tiny and still says why
        print_traceback()
    run.write_status(state="failed", kind=kind, message=message, hint=hint, ended_at=time.time())


def print_traceback() -> None:
    """The current exception's traceback to stderr (train.log), unless stderr can't be written
    (a full disk): reporting must never be what kills the failure report."""
    try:
        traceback.print_exc()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
