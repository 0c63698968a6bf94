"""The training process: `python -m workbench.trainer RUN_DIR [--resume]`.

Started by `workbench.runner` in its own session. Whatever happens, it ends with exactly one
terminal event (`finished`, `failed` or `cancelled`) and a matching `status.json`; the full
traceback of an unexpected crash goes to stderr (`train.log`), never to the UI.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import WorkbenchError
from ..runstore import RunDir, RunLock
from . import cancellation, ranks
from .failures import (
    disk_full_error,
    disk_full_failure,
    fail,
    is_out_of_memory,
    oom_hint,
    oom_message,
    print_traceback,
    release_memory,
    shrink_batch_after_oom,
)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    resume = "--resume" in argv
    paths = [a for a in argv if not a.startswith("--")]
    if len(paths) != 1:
        print("usage: python -m workbench.trainer RUN_DIR [--resume]", file=sys.stderr)
        return 2
    cancellation.install()
    run = ranks.rank_view(RunDir(Path(paths[0])))
    lock = hold_run_lock(run)  # kept for the whole life of the process: "alive" is "the lock is held"
    if lock is None:
        return 2
    run.reserve_space()  # given up to write the run's end when the disk is full (see failures.fail)
    try:
        while True:
            outcome = attempt(run, resume=resume)
            if outcome is not None:
                run.release_reserve()  # the run has written its end
                return outcome
            # Out of memory with auto_batch: the failed attempt's frames are gone once `attempt`
            # returned, so its tensors can be freed before the next one.
            release_memory()
            resume = run.latest_checkpoint() is not None
    finally:
        ranks.shut_down()


def hold_run_lock(run: RunDir) -> RunLock | bool | None:
    """Take the run's lock (see `workbench.runstore`); None, with a message and nothing written,
    when another process trains this run. Ranks under the launcher leave it to the launcher."""
    if ranks.launched_by_workbench() or not ranks.is_main_process():
        return True
    try:
        return run.hold_lock()
    except WorkbenchError as err:
        print(f"error: {err.message}\nhint: {err.hint}", file=sys.stderr)
        return None


def attempt(run: RunDir, *, resume: bool) -> int | None:
    """One training attempt: its exit code, or None to retry with a smaller batch."""
    try:
        from .session import train_run

        train_run(run, resume=resume)
    except WorkbenchError as err:
        fail(run, err.kind, err.message, err.hint)
        return err.exit_code
    except Exception as err:  # MemoryError is an Exception too
        outcome = report_failure(run, err)
        print_traceback()  # after the report: on a full disk even train.log may refuse it
        return outcome
    return 0


def report_failure(run: RunDir, err: Exception) -> int | None:
    """Turn an unexpected error into the run's end: `oom` (or None: retry with a smaller batch),
    `disk`, else `crash`. Returns the exit code."""
    if is_out_of_memory(err):
        if shrink_batch_after_oom(run):
            return None
        fail(run, "oom", oom_message(err), oom_hint(run))
        return 1
    full = disk_full_error(err)
    if full is not None:
        fail(run, "disk", *disk_full_failure(run, full))
        return 1
    first = (str(err).splitlines() or [""])[0][:200]
    fail(run, "crash", f"{type(err).__name__}: {first}", f"the full traceback is in {run.log_path}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
