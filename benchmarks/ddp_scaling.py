"""DDP scaling: the same run on 1 and on 2 processes (torchrun, gloo on CPU, nccl on CUDA).

Full fine-tuning of the packaged all-MiniLM-L6-v2 on the same SST-2 rows, scored on the same
disjoint held-out rows. The effective batch is the same for both (32 on one process, 16 per
process on two), so both take the same optimizer steps: the accuracies should agree within noise
(the binomial standard error of the held-out accuracy is printed beside them). Reports samples/s
overall (the Trainer's train_samples_per_second) and per process, and wall time with start-up.

On a 2-core CPU expect little or no speed-up: the point is correctness and the launch path a
multi-GPU machine uses (`training.nproc`, `tlwb train --nproc N`).

    python benchmarks/ddp_scaling.py            # 2,000 rows, 1 epoch, learning rate 1e-4
    python benchmarks/ddp_scaling.py --quick    # a smoke run of the launch path (too short to learn)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import MINILM, sst2_slices  # noqa: E402


def train(nproc: int, train_file: Path, heldout: Path, work: Path, args: argparse.Namespace) -> dict:
    from workbench.presets import load_config
    from workbench.runner import launch, wait

    config = load_config(None, [
        f"model.name={MINILM}", f"data.train={train_file}", f"data.validation={heldout}",
        "method.kind=full", f"training.epochs={args.epochs}", f"training.batch_size={args.batch_size // nproc}",
        f"training.nproc={nproc}", f"training.learning_rate={args.learning_rate}", f"training.max_length={args.max_length}",
        "training.seed=42", "training.eval_strategy=no", "training.logging_steps=10",
    ], base={"name": f"ddp-{nproc}"})
    started = time.perf_counter()
    run, process = launch(config, work / "runs")
    last = wait(run, process=process)
    wall = time.perf_counter() - started
    if last.get("type") != "finished":
        raise SystemExit(f"the {nproc}-process run failed: {last.get('message')} (see {run.log_path})")
    overall = last["train_samples_per_s"]
    return {
        "nproc": nproc,
        "batch_per_process": args.batch_size // nproc,
        "steps": last["step"],
        "train_runtime_s": last["train_runtime_s"],
        "samples_per_s": overall,
        "samples_per_s_per_process": round(overall / nproc, 2),
        "wall_s": round(wall, 1),
        "accuracy": last["metrics"]["accuracy"],
        "macro_f1": last["metrics"]["macro_f1"],
        "run": str(run.path),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="training rows")
    parser.add_argument("--test-rows", type=int, default=872, help="held-out rows")
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--batch-size", type=int, default=32, help="effective batch, split between the processes")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--only", type=int, choices=(1, 2), help="run one process count only")
    parser.add_argument("--quick", action="store_true", help="200 rows, 100 held out, max_length 64")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.test_rows, args.max_length = 200, 100, 64

    work = Path(tempfile.mkdtemp(prefix="tlwb-ddp-bench-"))
    train_file, heldout = sst2_slices(work / "data", args.rows, args.test_rows)
    results = [train(nproc, train_file, heldout, work, args) for nproc in ((args.only,) if args.only else (1, 2))]

    print(f"\nDDP scaling · MiniLM full fine-tuning · {args.rows} SST-2 rows × {args.epochs:g} epoch · "
          f"effective batch {args.batch_size} · {args.test_rows} held out")
    print(f"{'processes':>9} {'batch/proc':>10} {'steps':>5} {'samples/s':>10} {'per proc':>9} {'train s':>8} {'wall s':>7} {'accuracy':>9} {'macro F1':>9}")
    for r in results:
        print(f"{r['nproc']:>9} {r['batch_per_process']:>10} {r['steps']:>5} {r['samples_per_s']:>10.1f} {r['samples_per_s_per_process']:>9.1f} "
              f"{r['train_runtime_s']:>8.1f} {r['wall_s']:>7.1f} {r['accuracy']:>9.4f} {r['macro_f1']:>9.4f}")
    if len(results) < 2:
        print(f"runs kept in {work}")
        return
    one, two = results
    p = one["accuracy"]
    standard_error = math.sqrt(p * (1 - p) / args.test_rows)
    print(f"accuracy difference {two['accuracy'] - one['accuracy']:+.4f} "
          f"(standard error of one accuracy on {args.test_rows} rows: {standard_error:.4f}); "
          f"speed-up {two['samples_per_s'] / one['samples_per_s']:.2f}×")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results}, indent=2))
    print(f"runs kept in {work}")


if __name__ == "__main__":
    main()
