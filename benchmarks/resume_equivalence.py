"""Resume equivalence: a run SIGKILLed half-way and resumed ends where the uninterrupted run ends.

Two runs of the packaged all-MiniLM-L6-v2 on the same SST-2 rows with the same seed: (a) runs
through; (b) is killed with SIGKILL (by this script, watching its events) once it logs a step
at or past 50 % of the run, then continued with `workbench.runner.resume` from its last
checkpoint in the same run directory. Prints the final validation metrics of both, their
differences and the largest difference between the saved weights.

Target: every metric equal to within 1e-4 (CPU training is deterministic, so usually exactly).

    python benchmarks/resume_equivalence.py                 # 2,000 rows, LoRA, 1 epoch
    python benchmarks/resume_equivalence.py --method full   # the whole model
    python benchmarks/resume_equivalence.py --quick         # 256 rows: a smoke run
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import MINILM, sst2_slices  # noqa: E402

TOLERANCE = 1e-4


#: Checkpoints per run: the default is time-based (every training.save_minutes), which a short
#: benchmark run never reaches, so the interval is set in steps.
CHECKPOINTS_PER_RUN = 8


def save_interval(args: argparse.Namespace) -> int:
    import math

    return max(1, math.ceil(args.rows / args.batch_size) // CHECKPOINTS_PER_RUN)


def make_config(train: Path, validation: Path, args: argparse.Namespace):
    from workbench.presets import load_config

    return load_config(None, [
        f"model.name={MINILM}", f"data.train={train}", f"data.validation={validation}",
        f"method.kind={args.method}", "training.epochs=1", f"training.batch_size={args.batch_size}",
        "training.max_length=64", "training.seed=1234", "training.logging_steps=1", "training.eval_strategy=no",
        f"training.save_steps={save_interval(args)}",
    ], base={"name": f"resume-{args.method}"})


def kill_half_way(run, process, save_steps: int) -> int:
    """SIGKILL the training process at the first step past half the run that is not a checkpoint
    step (so the resumed run must redo steps it had done); returns that step."""
    from workbench.runner import follow

    for event in follow(run, process=process):
        step = event.get("step", 0)
        if event["type"] == "step" and step >= event["total_steps"] / 2 and (step % save_steps or save_steps == 1):
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return step
        if event["type"] in {"finished", "failed", "cancelled"}:
            raise SystemExit(f"the run ended before half-way: {event}")
    raise SystemExit("the run vanished before half-way")


def finish(run, process) -> dict:
    from workbench.runner import wait

    last = wait(run, process=process)
    if last.get("type") != "finished":
        raise SystemExit(f"{run.id} did not finish: {last} (see {run.log_path})")
    return last


def weights_difference(a, b) -> float:
    from safetensors.torch import load_file

    def tensors(run) -> dict:
        folder = run.trained_model_dir()
        (weights,) = sorted(folder.glob("*.safetensors"))
        return load_file(str(weights))

    left, right = tensors(a), tensors(b)
    assert left.keys() == right.keys(), "the two runs saved different tensors"
    return max(float((left[k].float() - right[k].float()).abs().max()) for k in left)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 training rows: checks that it works")
    parser.add_argument("--method", choices=["lora", "full", "head"], default="lora")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    if args.quick:
        args.rows, args.batch_size = 256, 16

    from workbench.runner import launch, resume

    with tempfile.TemporaryDirectory(prefix="tlwb-resume-") as folder:
        work = Path(folder)
        train, validation = sst2_slices(work / "data", args.rows, max(100, args.rows // 4))
        config = make_config(train, validation, args)
        runs_dir = work / "runs"

        started = time.monotonic()
        whole, process = launch(config, runs_dir)
        whole_end = finish(whole, process)
        whole_s = time.monotonic() - started

        started = time.monotonic()
        broken, process = launch(config, runs_dir)
        killed_at = kill_half_way(broken, process, save_interval(args))
        checkpoint = broken.latest_checkpoint()
        resumed_end = finish(broken, resume(broken))
        broken_s = time.monotonic() - started

        print(f"MiniLM · {args.method} · {args.rows} rows · {whole_end['step']} steps · seed 1234")
        print(f"killed with SIGKILL after step {killed_at}; resumed from {checkpoint.name if checkpoint else 'nothing'}")
        print(f"{'metric':<12}{'uninterrupted':>16}{'killed+resumed':>16}{'difference':>14}")
        worst = 0.0
        for name, value in whole_end["metrics"].items():
            other = resumed_end["metrics"].get(name)
            if not isinstance(value, float) or not isinstance(other, float) or name == "epoch" or name.endswith(("runtime", "per_second")):
                continue
            worst = max(worst, abs(value - other))
            print(f"{name:<12}{value:>16.6f}{other:>16.6f}{other - value:>+14.2e}")
        weights = weights_difference(whole, broken)
        print(f"{'max |Δw|':<12}{'':>16}{'':>16}{weights:>14.2e}")
        print(f"wall time: uninterrupted {whole_s:.0f}s, killed + resumed {broken_s:.0f}s")
        verdict = "PASS" if worst <= TOLERANCE and weights <= TOLERANCE else "FAIL"
        print(f"{verdict}: largest metric difference {worst:.2e} (tolerance {TOLERANCE:.0e})")
        if verdict == "FAIL":
            raise SystemExit(1)


if __name__ == "__main__":
    main()
