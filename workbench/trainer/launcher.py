"""Multi-process training: the torchrun launch, rank helpers, and one failure per run.

`training.nproc = N > 1` starts `python -m workbench.trainer.launcher RUN_DIR --nproc N`, a small
launcher that runs torchrun (`python -m torch.distributed.run --standalone --nproc-per-node N
-m workbench.trainer RUN_DIR`) and waits for it. Every rank is the ordinary training process; the
Trainer reads torchrun's environment and trains with DDP (gloo on CPU, nccl on CUDA). Multi-node
is the same launch with torchrun's rendezvous options (`--nnodes`, `--rdzv-endpoint` …) given
after `--` or in `TLWB_TORCHRUN_ARGS`; nothing here distributes anything itself.

Only rank 0 writes the run directory. A rank that fails records its error in `ranks/rank-K.json`;
once torchrun is done, the launcher turns the first recorded failure into the run's single
`failed` event (later ones are usually peers losing their connection to the rank that died).
Cancel reaches the launcher (the pid in `status.json`); it forwards SIGTERM to the ranks, which
agree on stopping at the same step (`any_rank`).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError
from ..events import EventWriter
from ..runstore import RunDir
from .failures import fail, first_failure, ranks_dir
from .ranks import LAUNCHER_ENV

#: Extra torchrun options, e.g. "--nnodes 2 --rdzv-backend c10d --rdzv-endpoint host:29500".
TORCHRUN_ARGS_ENV = "TLWB_TORCHRUN_ARGS"
#: torchrun options that replace `--standalone` (a rendezvous of their own).
RENDEZVOUS_OPTIONS = ("--nnodes", "--rdzv-endpoint", "--rdzv_endpoint", "--master-addr", "--master_addr")


def report_run_end(run: RunDir, exit_code: int, *, cancelled: bool = False) -> bool:
    """After torchrun exits: make sure the run ends with exactly one terminal event. True if written.

    Rank 0 writes `finished` or `cancelled` itself; this covers ranks that died first. A launch the
    user cancelled ends `cancelled` (ranks still starting die of the signal rather than stop)."""
    history = run.history()
    if history.ended is not None:
        return False
    if cancelled:
        run.release_reserve()
        checkpoint = run.latest_checkpoint()
        step = history.last_step.step if history.last_step else None
        EventWriter(run.events_path).emit("cancelled", step=step, checkpoint=str(checkpoint) if checkpoint else None)
        hint = f"`tlwb resume {run.id}` continues from {checkpoint.name}" if checkpoint else "no checkpoint was saved; start the run again"
        run.write_status(state="cancelled", ended_at=time.time(), message="cancelled by the user", hint=hint)
        return True
    failure = first_failure(run)
    if failure is None:
        kind = "crash"
        message = f"the training processes stopped (torchrun exit code {exit_code}) without reporting an error"
        hint = f"torchrun's summary at the end of {run.log_path} names the rank that failed"
    else:
        kind, message, hint = failure["kind"], failure["message"], failure["hint"]
        if failure["rank"] != 0:
            message = f"rank {failure['rank']}: {message}"
    fail(run, kind, message, hint)  # the launcher is no rank: this writes the event and status
    return True


def torchrun_command(run_path: Path, nproc: int, *, resume: bool = False, extra: list[str] | None = None) -> list[str]:
    """torchrun running the ordinary training process on `nproc` ranks of this node."""
    extra = list(extra or [])
    own_rendezvous = any(option.split("=")[0] in RENDEZVOUS_OPTIONS for option in extra)
    command = [sys.executable, "-m", "torch.distributed.run", *([] if own_rendezvous else ["--standalone"]), *extra]
    command += ["--nproc-per-node", str(nproc), "-m", "workbench.trainer", str(run_path)]
    return command + (["--resume"] if resume else [])


def rank_environment(nproc: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """The launcher's environment for torchrun: CPU threads split between the ranks."""
    environment = dict(os.environ if base is None else base)
    environment.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    environment.setdefault("TOKENIZERS_PARALLELISM", "false")
    environment[LAUNCHER_ENV] = str(os.getpid())
    return environment


def forward_cancel(torchrun: subprocess.Popen) -> None:
    """SIGTERM to every rank (torchrun's children); torchrun itself is left to see them finish."""
    import psutil

    try:
        ranks = psutil.Process(torchrun.pid).children()
    except psutil.NoSuchProcess:
        return
    if not ranks:  # not started yet: stopping torchrun stops the launch
        torchrun.terminate()
    for process in ranks:
        try:
            process.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass


def launch(run: RunDir, nproc: int, *, resume: bool = False, extra: list[str] | None = None) -> int:
    """Run torchrun for `run` to its end; returns torchrun's exit code."""
    import shutil

    shutil.rmtree(ranks_dir(run), ignore_errors=True)  # failures of an earlier attempt
    torchrun = subprocess.Popen(
        torchrun_command(run.path, nproc, resume=resume, extra=extra),
        env=rank_environment(nproc),
        start_new_session=True,  # cancel signals this launcher only; it forwards to the ranks
    )
    cancelled: list[int] = []

    def cancel(signum: int, frame: Any) -> None:
        cancelled.append(signum)
        forward_cancel(torchrun)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, cancel)
    exit_code = torchrun.wait()
    report_run_end(run, exit_code, cancelled=bool(cancelled))
    return exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workbench.trainer.launcher",
        description="Train a run on several processes with torchrun; options after -- go to torchrun.",
        usage="python -m workbench.trainer.launcher RUN_DIR --nproc N [--resume] [-- TORCHRUN_OPTIONS]",
    )
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--nproc", type=int, required=True, help="processes (GPUs) on this node")
    parser.add_argument("--resume", action="store_true")
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:cut])
    extra = shlex.split(os.environ.get(TORCHRUN_ARGS_ENV, "")) + argv[cut + 1 :]
    run = RunDir(args.run_dir)
    try:
        lock = run.hold_lock()  # held until the launcher exits; its ranks don't take it
    except WorkbenchError as err:
        print(f"error: {err.message}\nhint: {err.hint}", file=sys.stderr)
        return 2
    run.reserve_space()  # given up to write the run's end on a full disk (see failures.fail)
    try:
        return launch(run, args.nproc, resume=args.resume, extra=extra)
    finally:
        run.release_reserve()
        lock.release()


if __name__ == "__main__":
    sys.exit(main())
