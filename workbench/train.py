"""The training process: `python -m workbench.train RUN_DIR [--resume]`.

Started by `workbench.runner` in its own session. Whatever happens, it ends with exactly one
terminal event (`finished`, `failed` or `cancelled`) and a matching `status.json`; the full
traceback of an unexpected crash goes to stderr (`train.log`), never to the UI.
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path

from . import distributed
from .errors import WorkbenchError
from .events import EventWriter
from .runstore import RunDir


def oom_hint(run: RunDir) -> str:
    """Concrete numbers for the user: what was asked, and a smaller set-up with the same effective batch."""
    try:
        training = run.config().training
    except WorkbenchError:
        return "lower training.batch_size or training.max_length, or use method.kind = lora"
    batch, length, accumulation = training.batch_size, training.max_length, training.gradient_accumulation_steps
    smaller = max(1, batch // 4)
    factor = max(1, batch // smaller) * accumulation
    return (
        f"batch {batch} × length {length} did not fit; try --set training.batch_size={smaller} "
        f"--set training.gradient_accumulation_steps={factor} (same effective batch), a shorter "
        f"training.max_length, or method.kind = lora"
    )


def fail(run: RunDir, kind: str, message: str, hint: str) -> None:
    """End the run as failed; in a multi-process run each rank records its failure instead and the
    launcher reports the first one (see `workbench.distributed`)."""
    if distributed.world_size() > 1:
        distributed.record_rank_failure(run, kind, message, hint)
        if distributed.launched_by_workbench() or not distributed.is_main_process():
            return
    writer = EventWriter(run.events_path)
    writer.emit("failed", kind=kind, message=message, hint=hint)
    writer.close()
    run.write_status(state="failed", kind=kind, message=message, hint=hint, ended_at=time.time())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    resume = "--resume" in argv
    paths = [a for a in argv if not a.startswith("--")]
    if len(paths) != 1:
        print("usage: python -m workbench.train RUN_DIR [--resume]", file=sys.stderr)
        return 2
    run = distributed.rank_view(RunDir(Path(paths[0])))
    try:
        import torch

        oom_errors: tuple[type[BaseException], ...] = (torch.OutOfMemoryError, MemoryError)
    except ImportError:
        oom_errors = (MemoryError,)
    try:
        from .training import train_run

        train_run(run, resume=resume)
    except WorkbenchError as err:
        fail(run, err.kind, err.message, err.hint)
        return err.exit_code
    except oom_errors as err:
        traceback.print_exc()
        fail(run, "oom", f"out of memory: {str(err).splitlines()[0][:160]}", oom_hint(run))
        return 1
    except Exception as err:
        traceback.print_exc()
        first = (str(err).splitlines() or [""])[0][:200]
        fail(run, "crash", f"{type(err).__name__}: {first}", f"the full traceback is in {run.log_path}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
